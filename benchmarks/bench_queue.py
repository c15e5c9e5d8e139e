"""How fast a studio-sized queue's job list comes back: the ListJobs walk against SearchJobs.

The local farm runs in its own process (as AWS would: its work does not share this process's
interpreter lock) with ``queue_jobs`` jobs in its Lighting queue and a fixed latency added to
every request. In one run, side by side, this prints wall time and API calls for:

(a) the job list as ``list_jobs`` made it before: every page of ListJobs, one after another,
    sorted here (what the picker waited for on every queue change);
(b) the picker's first job list (``JobPicker``, queue chosen): the goal is at most 0.3 s and
    at most 2 calls;
(c) ``list_jobs`` (the newest 100);
(d) a filter on a job parameter (``search_jobs`` with ``job_filter(parameters=...)``): one call;
(e) ``list_jobs(limit=None)``: every job, pages in parallel, past the 10,000-result window.

The first run of each is cold for the farm too (it simulates each job it shows for the first
time); the median of the runs is printed with the first.

    python benchmarks/bench_queue.py [--queue-jobs 20000] [--latency 0.02] [--runs 3]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

# Run as a script from benchmarks/: its sibling is on the path.
from bench_fetch import Counter

import deadline_nb as dnb
from deadline_nb.widgets import JobPicker

# The farm's process: prints its endpoint and ids as one JSON line, serves until stdin closes.
_FARM = """
import json, sys
from deadline_nb.localfarm import JOBS, LocalFarm
with LocalFarm(queue_jobs={queue_jobs}, latency={latency}) as farm:
    queue = farm.job_by_name(JOBS["render"]).queue_id
    print(json.dumps({{"endpoint": farm.endpoint_url, "farm_id": farm.farm_id,
                      "queue_id": queue}}), flush=True)
    sys.stdin.read()
"""


@contextlib.contextmanager
def farm_process(queue_jobs: int, latency: float) -> Iterator[dict[str, str]]:
    """Run a local farm with ``queue_jobs`` jobs in a subprocess; yield its endpoint and ids."""
    code = _FARM.format(queue_jobs=queue_jobs, latency=latency)
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        yield json.loads(process.stdout.readline())
    finally:
        if process.stdin is not None:
            process.stdin.close()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


def list_jobs_walk(client: Any, farm_id: str, queue_id: str) -> list[dict[str, Any]]:
    """The job list as it was made before SearchJobs: every ListJobs page, then a local sort."""
    jobs: list[dict[str, Any]] = []
    token = None
    while True:
        page = client.list_jobs(
            farmId=farm_id, queueId=queue_id, **({"nextToken": token} if token else {})
        )
        jobs.extend(page["jobs"])
        token = page.get("nextToken")
        if not token:
            break
    jobs.sort(key=lambda j: j["jobId"])
    jobs.sort(key=lambda j: j["createdAt"], reverse=True)
    return jobs


def timed(
    label: str, runs: int, counter: Counter, call: Callable[[], int]
) -> tuple[str, list[float], dict[str, int], int]:
    seconds: list[float] = []
    calls: dict[str, int] = {}
    items = 0
    for _ in range(runs):
        counter.take()
        started = time.perf_counter()
        items = call()
        seconds.append(time.perf_counter() - started)
        calls = counter.take()
    return label, seconds, calls, items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queue-jobs", type=int, default=20_000)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    started = time.perf_counter()
    with farm_process(args.queue_jobs, args.latency) as farm:
        print(
            f"farm: {args.queue_jobs:,} queue jobs, {args.latency * 1000:.0f} ms per request, "
            f"up in {time.perf_counter() - started:.1f} s"
        )
        client = dnb.client(endpoint_url=farm["endpoint"])
        counter = Counter(client)
        farm_id, queue_id = farm["farm_id"], farm["queue_id"]

        picker = JobPicker(client, farm_id=farm_id)

        def picker_first_list() -> int:
            picker.queue_id = None  # no call: the queue is chosen again
            picker.queue_id = queue_id
            return len(picker.job.options) - 2  # the head line and "more…"

        newest = dnb.list_jobs(farm_id, queue_id, limit=10, client=client)
        shot = next(
            j["jobParameters"]["Shot"]["string"] for j in newest if "Shot" in j["jobParameters"]
        )
        counter.take()
        rows = [
            timed("(b) picker, first job list", args.runs, counter, picker_first_list),
            timed(
                "(c) list_jobs (newest 100)",
                args.runs,
                counter,
                lambda: len(dnb.list_jobs(farm_id, queue_id, client=client)),
            ),
            timed(
                f"(d) search_jobs, parameter Shot={shot}",
                args.runs,
                counter,
                lambda: (
                    dnb.search_jobs(
                        farm_id,
                        queue_id,
                        filters=dnb.job_filter(parameters={"Shot": shot}),
                        client=client,
                    ).total
                ),
            ),
            timed(
                "(a) ListJobs walk + local sort (before)",
                args.runs,
                counter,
                lambda: len(list_jobs_walk(client, farm_id, queue_id)),
            ),
            timed(
                "(e) list_jobs(limit=None)",
                args.runs,
                counter,
                lambda: len(
                    dnb.list_jobs(farm_id, queue_id, limit=None, progress=False, client=client)
                ),
            ),
        ]
    print(f"{'':44} {'first':>8} {'median':>8}  {'items':>7}  calls")
    for label, seconds, calls, items in sorted(rows):
        print(
            f"{label:44} {seconds[0]:7.2f}s {statistics.median(seconds):7.2f}s  {items:7,}  "
            f"{sum(calls.values())} {calls}"
        )


if __name__ == "__main__":
    main()
