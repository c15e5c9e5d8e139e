"""What a history sync costs: a first sync of a farm's finished jobs, then one with nothing new.

The local farm runs in its own process (as AWS would) with about ``--jobs`` finished jobs (weeks
of submissions, about 39 a week in three queues: ``LocalFarm(history=weeks)``), optionally one big
finished job of ``--big`` session actions (``LocalFarm(size=N)``), its fixed demo jobs (one of
them running), and ``--latency`` seconds added to every request. In one run this prints:

(a) the listing pass alone (ListQueues, then SearchJobs/ListJobs of every queue): the baseline a
    second sync is held to;
(b) the first sync into an empty folder through an empty cache: seconds, calls by operation,
    jobs/s, actions/s (the farm simulates each job when first read: that is in the time);
(c) a second sync with nothing new: its calls next to the bound "one listing pass plus one
    GetJob per job that was running";
(d) the dataset's bytes per session action next to the cache's (goal: at most a third);
(e) :func:`deadline_nb.compact_history` of it: files before and after, bytes per action, and a
    sync after it (nothing to write, the same calls as (c)).

    python benchmarks/bench_history_sync.py [--jobs 1000] [--big 0] [--latency 0.02]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Run as a script from benchmarks/: its sibling is on the path.
from bench_fetch import Counter

import deadline_nb as dnb

JOBS_PER_WEEK = 39  # plan_history's average, seed 0

# The farm's process: prints its endpoint and id as one JSON line, serves until stdin closes.
_FARM = """
import json, sys
from deadline_nb.localfarm import LocalFarm
from deadline_nb.localfarm.clock import ManualClock
# A clock that stands still: the running job does not move between the two syncs, so the
# second one has nothing new (what the bound is about).
with LocalFarm(history={weeks}, size={big}, latency={latency}, clock=ManualClock()) as farm:
    print(json.dumps({{"endpoint": farm.endpoint_url, "farm_id": farm.farm_id}}), flush=True)
    sys.stdin.read()
"""


@contextlib.contextmanager
def farm_process(weeks: int, big: int, latency: float) -> Iterator[dict[str, str]]:
    """Run the local farm in a subprocess; yield its endpoint and farm id."""
    code = _FARM.format(weeks=weeks, big=big, latency=latency)
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        yield json.loads(process.stdout.readline())
    finally:
        if process.stdin is not None:
            process.stdin.close()
        process.wait(timeout=60)
        if process.stdout is not None:
            process.stdout.close()


def listing_pass(c: Any, farm_id: str) -> None:
    """What a sync lists before it decides anything: the queues, then each queue's jobs."""
    for queue in dnb.list_queues(farm_id, client=c):
        dnb.list_jobs(farm_id, queue["queueId"], limit=None, client=c, progress=False)


def folder_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def calls_text(calls: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(calls.items(), key=lambda kv: -kv[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1000, help="about this many finished jobs")
    parser.add_argument("--big", type=int, default=0, help="plus one job of this many actions")
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--workers", type=int, default=dnb.aws.DEFAULT_WORKERS)
    args = parser.parse_args()
    weeks = max(1, round(args.jobs / JOBS_PER_WEEK))
    load = os.getloadavg()
    print(
        f"history sync: {weeks} weeks (~{args.jobs} jobs) + big job of {args.big:,} actions, "
        f"latency {args.latency * 1000:.0f} ms, {args.workers} workers, "
        f"{os.cpu_count()} cores, load {load[0]:.1f} at start"
    )
    with (
        farm_process(weeks, args.big, args.latency) as ids,
        tempfile.TemporaryDirectory() as tmp,
    ):
        c = dnb.client(endpoint_url=ids["endpoint"], read_timeout=1800)
        counter = Counter(c)
        farm = ids["farm_id"]
        dest = Path(tmp) / "history"
        cache = Path(tmp) / "cache.sqlite"

        start = time.perf_counter()
        listing_pass(c, farm)
        listed_s = time.perf_counter() - start
        one_pass = counter.take()
        print(
            f"(a) listing pass: {listed_s:.2f} s, {sum(one_pass.values())} calls "
            f"({calls_text(one_pass)})"
        )

        start = time.perf_counter()
        first = dnb.sync_history(
            dest, farm, cache=cache, progress=False, max_workers=args.workers, client=c
        )
        first_s = time.perf_counter() - start
        first_calls = counter.take()
        jobs = dnb.read_history(dest, "jobs")
        actions = len(dnb.read_history(dest, "actions"))
        print(
            f"(b) first sync: {first_s:.1f} s, {len(first.written)} jobs, {actions:,} actions: "
            f"{len(first.written) / first_s:.1f} jobs/s, {actions / first_s:,.0f} actions/s; "
            f"{sum(first_calls.values()):,} calls ({calls_text(first_calls)})"
        )

        running = int((~jobs["finished"].astype(bool)).sum())
        start = time.perf_counter()
        second = dnb.sync_history(
            dest, farm, cache=cache, progress=False, max_workers=args.workers, client=c
        )
        second_s = time.perf_counter() - start
        second_calls = counter.take()
        bound = sum(one_pass.values()) + running
        total = sum(second_calls.values())
        print(
            f"(c) second sync: {second_s:.2f} s, {len(second.written)} written, "
            f"{len(second.unchanged)} unchanged; {total} calls ({calls_text(second_calls)}) "
            f"vs bound {bound} = listing pass {sum(one_pass.values())} + GetJob x {running} "
            f"running: {'OK' if total <= bound else 'OVER'}"
        )

        dataset = folder_bytes(dest)
        cached = cache.stat().st_size
        print(
            f"(d) bytes per action: dataset {dataset / actions:,.0f} ({dataset / 1e6:.1f} MB), "
            f"cache {cached / actions:,.0f} ({cached / 1e6:.1f} MB): ratio "
            f"{dataset / cached:.2f} (goal <= 0.33)"
        )

        files = sum(1 for _ in dest.rglob("*.parquet"))
        start = time.perf_counter()
        packed = dnb.compact_history(dest, progress=False)
        compact_s = time.perf_counter() - start
        compacted = folder_bytes(dest)
        start = time.perf_counter()
        third = dnb.sync_history(
            dest, farm, cache=cache, progress=False, max_workers=args.workers, client=c
        )
        third_s = time.perf_counter() - start
        third_calls = sum(counter.take().values())
        print(
            f"(e) compacted in {compact_s:.1f} s: {files:,} files -> "
            f"{sum(1 for _ in dest.rglob('*.parquet')):,} ({len(packed.packs)} packs of "
            f"{packed.jobs:,} jobs); bytes per action {compacted / actions:,.0f} "
            f"({compacted / 1e6:.1f} MB): ratio to the cache {compacted / cached:.2f}; "
            f"a sync after it: {third_s:.2f} s, {len(third.written)} written, {third_calls} calls"
        )


if __name__ == "__main__":
    main()
