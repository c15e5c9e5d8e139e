"""How fast a whole job's session actions come back: the naive loop, a cold fetch, a warm one.

The local farm runs in its own process (as AWS would: its work does not share this process's
interpreter lock) with a fixed latency added to every request. In one run, this prints wall time
and API calls per operation for:

(a) the loop a TD writes first: ListSessions, ListSessionActions per session, GetSessionAction
    per action, one call after another;
(b) ``fetch_session_actions`` with an empty cache;
(c) the same call again (warm), and to a DataFrame;
(d) the official CLI's ``deadline job trace-schedule`` on the same job, pointed at the same farm
    (``AWS_ENDPOINT_URL_DEADLINE``), timed as a user runs it, next to (b): the goal is (b) at
    most 0.3 of (d). Its start-up alone (``deadline --version``) is printed too.

then, unless ``--no-million``, a 1,000,000-action job: fetched once into a cache (no latency),
then from the warm cache to a DataFrame, in a new process so that nothing is in memory.

``--big N`` (repeatable, e.g. ``--big 100000 --big 1000000``) measures a big job instead: the
local farm in its own process with N actions and no added latency, and, each in a new process,
``load_job`` cold with the cache, cold with ``cache=False``, warm (a new process reading the
cache the cold run left), and warm to a DataFrame (``fetch_session_action_frame``), with each
process's peak memory and the cache's size per action. ``--compare-with DIR`` runs the same
clients from another checkout of deadline_nb (``git worktree add DIR <rev>``) against the same
farm, printed next to this one's: today's figures in the same run; ``--runs`` of each, the
checkouts taking turns, give medians. ``--profile`` adds one cold
run with the cache under yappi (CPU time of every thread, not only the calling one) and prints
where the time goes.

    python benchmarks/bench_fetch.py [--actions 10000] [--latency 0.02] [--runs 3] [--no-loop]
                                     [--no-cli] [--no-million]
                                     [--big N ...] [--compare-with DIR] [--profile]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import deadline_nb as dnb


@contextmanager
def farm_process(size: int, latency: float, *extra: str) -> Iterator[tuple[str, dict[str, str]]]:
    """Run ``deadline-nb localfarm`` in a subprocess; yield its endpoint and the big job's ids.

    ``extra``: more options of ``deadline-nb localfarm`` (``--logs-quota 25``, say).
    """
    command = [sys.executable, "-m", "deadline_nb.cli", "localfarm", "--port", "0"]
    command += ["--size", str(size), "--latency", str(latency), *extra]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, bufsize=1)
    try:
        assert process.stdout is not None
        endpoint = ""
        ids: dict[str, str] = {"pid": str(process.pid)}
        for line in process.stdout:
            if line.startswith("Local Deadline Cloud farm listening on "):
                endpoint = line.split()[-1]
            elif line.startswith("farm "):
                ids["farm_id"] = line.split()[1]
            elif line.startswith("job ") and "sq900_big_render" in line:
                parts = line.split()
                ids["job_id"] = parts[1]
                ids["queue_id"] = parts[-1].rstrip(")")
            elif line.startswith("Press Ctrl-C"):
                break
        yield endpoint, ids
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # busy building a big job: it answers no signal soon
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


class Counter:
    """Count the API calls a client sends, per operation (botocore's event hook)."""

    def __init__(self, client: Any) -> None:
        self.calls: collections.Counter[str] = collections.Counter()
        client.meta.events.register("before-call.deadline", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    def take(self) -> dict[str, int]:
        out = dict(self.calls)
        self.calls.clear()
        return out


def connect(endpoint: str, ids: dict[str, str]) -> tuple[Any, Counter, tuple[str, str, str]]:
    """A client of the farm, its call counter, and the big job's ids, with the job built."""
    # A million actions take the farm minutes to build on a busy machine: wait for it.
    c = dnb.client(endpoint_url=endpoint, read_timeout=1800)
    counter = Counter(c)
    args = (ids["farm_id"], ids["queue_id"], ids["job_id"])
    # The farm builds the job on its first request: not part of anyone's time.
    dnb.fetch_job(*args, client=c)
    counter.take()
    return c, counter, args


def naive(c: Any, ids: dict[str, str]) -> list[dict[str, Any]]:
    """The first loop one writes: a round trip per session, then per action."""
    job = {"farmId": ids["farm_id"], "queueId": ids["queue_id"], "jobId": ids["job_id"]}
    actions = []
    for page in c.get_paginator("list_sessions").paginate(**job):
        for session in page["sessions"]:
            for listed in c.get_paginator("list_session_actions").paginate(
                **job, sessionId=session["sessionId"]
            ):
                for summary in listed["sessionActions"]:
                    action = c.get_session_action(**job, sessionActionId=summary["sessionActionId"])
                    action.pop("ResponseMetadata", None)
                    actions.append(action)
    return actions


def cli_environment(endpoint: str, home: str) -> dict[str, str]:
    """The ``deadline`` CLI's environment: the farm's endpoint, dummy credentials, no config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DEADLINE_"))}
    env.update(
        AWS_ENDPOINT_URL_DEADLINE=endpoint,
        # botocore puts "management." in front of every Deadline host; not on 127.0.0.1.
        AWS_DISABLE_HOST_PREFIX_INJECTION="true",
        AWS_ACCESS_KEY_ID="localfarm",
        AWS_SECRET_ACCESS_KEY="localfarm",
        AWS_DEFAULT_REGION="us-west-2",
        AWS_CONFIG_FILE=str(Path(home) / "aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(Path(home) / "aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        HOME=home,
        DEADLINE_CONFIG_FILE_PATH=str(Path(home) / "deadline-config"),
    )
    return env


def trace_schedule(endpoint: str, ids: dict[str, str], home: str) -> tuple[float, int]:
    """Run ``deadline job trace-schedule`` on the job; its wall time and the actions it counted."""
    executable = Path(sys.executable).with_name("deadline")
    command = [str(executable), "job", "trace-schedule"]
    command += ["--farm-id", ids["farm_id"], "--queue-id", ids["queue_id"]]
    command += ["--job-id", ids["job_id"]]
    start = time.perf_counter()
    result = subprocess.run(
        command, env=cli_environment(endpoint, home), capture_output=True, text=True, check=True
    )
    seconds = time.perf_counter() - start
    counted = re.search(r"^Session Action Count: (\d+)$", result.stdout, re.MULTILINE)
    assert counted is not None, result.stdout[-2000:]
    return seconds, int(counted.group(1))


def cli_startup(home: str) -> float:
    """Wall time of ``deadline --version``: the CLI's start-up, without any call."""
    executable = Path(sys.executable).with_name("deadline")
    start = time.perf_counter()
    subprocess.run(
        [str(executable), "--version"],
        env=cli_environment("http://127.0.0.1:9", home),
        capture_output=True,
        check=True,
    )
    return time.perf_counter() - start


def show(label: str, seconds: float, calls: dict[str, int], extra: str = "") -> None:
    total = sum(calls.values())
    per_op = ", ".join(f"{op} {n}" for op, n in sorted(calls.items()))
    print(f"{label:<34} {seconds:8.2f} s  {total:6d} calls  ({per_op}){extra}", flush=True)


def ten_thousand(size: int, latency: float, runs: int, *, cli: bool, loop: bool) -> None:
    print(f"# {size:,} session actions, {latency * 1000:.0f} ms latency per request")
    with farm_process(size, latency) as (endpoint, ids), tempfile.TemporaryDirectory() as tmp:
        c, counter, args = connect(endpoint, ids)

        # The loop takes a round trip per action (minutes at 20 ms): --no-loop skips it, and the
        # first cold fetch is then what the others are checked against.
        baseline: list[dict[str, Any]] | None = None
        naive_s = 0.0
        if loop:
            start = time.perf_counter()
            baseline = naive(c, ids)
            naive_s = time.perf_counter() - start
            show("(a) naive loop", naive_s, counter.take(), f"  {len(baseline):,} actions")

        colds, warms, frames = [], [], []
        for run in range(runs):
            cache = Path(tmp) / f"cache{run}.sqlite3"
            start = time.perf_counter()
            actions = dnb.fetch_session_actions(*args, client=c, cache=cache, progress=False)
            colds.append(time.perf_counter() - start)
            cold_calls = counter.take()
            if baseline is None:
                baseline = actions
            assert len(actions) == len(baseline), (len(actions), len(baseline))
            # Every field GetSessionAction gave is there, for every action.
            naive_keys = {a["sessionActionId"]: set(a) for a in baseline}
            assert all(naive_keys[a["sessionActionId"]] <= set(a) for a in actions)
            start = time.perf_counter()
            again = dnb.fetch_session_actions(*args, client=c, cache=cache, progress=False)
            warms.append(time.perf_counter() - start)
            warm_calls = counter.take()
            assert len(again) == len(actions)
            start = time.perf_counter()
            dnb.session_action_frame(
                dnb.fetch_session_actions(*args, client=c, cache=cache, progress=False)
            )
            frames.append(time.perf_counter() - start)
            counter.take()
        cold = statistics.median(colds)
        show(
            "(b) fetch_session_actions cold",
            cold,
            cold_calls,
            f"  median of {runs}" + (f"; {naive_s / cold:.0f}x faster than (a)" if loop else ""),
        )
        show("(c) the same call again (warm)", statistics.median(warms), warm_calls)
        show(
            "(c) warm, to a DataFrame",
            statistics.median(frames),
            warm_calls,
            "  fetch_session_actions + session_action_frame",
        )
        if not cli:
            return
        traces, startups = [], []
        for _ in range(runs):
            seconds, counted = trace_schedule(endpoint, ids, tmp)
            assert counted == len(actions), (counted, len(actions))
            traces.append(seconds)
            startups.append(cli_startup(tmp))
        trace = statistics.median(traces)
        startup = statistics.median(startups)
        print(
            f"{'(d) deadline job trace-schedule':<34} {trace:8.2f} s  "
            f"{counted:,} actions, median of {runs}; start-up alone {startup:.2f} s",
            flush=True,
        )
        print(
            f"{'(b) / (d)':<34} {cold / trace:8.2f}    "
            f"goal <= 0.30; without the CLI's start-up {cold / (trace - startup):.2f}",
            flush=True,
        )


def million(latency: float) -> None:
    size = 1_000_000
    print(f"# {size:,} session actions: a cold fetch into a cache, then warm to a DataFrame")
    with farm_process(size, latency) as (endpoint, ids), tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache.sqlite3"
        c, counter, args = connect(endpoint, ids)
        start = time.perf_counter()
        frame = dnb.fetch_session_action_frame(*args, client=c, cache=cache, progress=False)
        show(
            "cold fetch to a DataFrame",
            time.perf_counter() - start,
            counter.take(),
            f"  {len(frame):,} actions, cache {cache.stat().st_size / 1e6:.0f} MB",
        )
        del frame
        # A new process: what a notebook rerun tomorrow does.
        code = (
            "import time, deadline_nb as dnb; t = time.perf_counter(); "
            f"df = dnb.fetch_session_action_frame({args[0]!r}, {args[1]!r}, {args[2]!r}, "
            f"client=dnb.client(endpoint_url={endpoint!r}), cache={str(cache)!r}, "
            "progress=False); print(len(df), time.perf_counter() - t)"
        )
        times = []
        for _ in range(3):
            out = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout.split()
            times.append(float(out[1]))
        print(
            f"{'warm cache to a DataFrame':<34} {statistics.median(times):8.2f} s  "
            f"     1 calls  (GetJob 1)  {int(out[0]):,} actions, median of 3 new processes"
        )


# One measurement of the big-job section, run in a process of its own (peak memory is per
# process, and a warm run must find nothing in memory). Prints one JSON line.
_BIG_RUN = """
import json, resource, sys, time
import deadline_nb as dnb
endpoint, farm_id, queue_id, job_id, mode, cache = sys.argv[1:7]
c = dnb.client(endpoint_url=endpoint)
calls = [0]
c.meta.events.register("before-call.deadline", lambda **_: calls.__setitem__(0, calls[0] + 1))
use = resource.getrusage(resource.RUSAGE_SELF)
cpu0 = use.ru_utime + use.ru_stime
t = time.perf_counter()
if mode == "frame":
    n = len(dnb.fetch_session_action_frame(
        farm_id, queue_id, job_id, client=c, cache=cache, progress=False))
else:
    job = dnb.load_job(farm_id, queue_id, job_id, client=c,
                       cache=False if mode == "nocache" else cache, progress=False)
    n = len(job.actions)
seconds = time.perf_counter() - t
use = resource.getrusage(resource.RUSAGE_SELF)
cpu = use.ru_utime + use.ru_stime - cpu0
peak = use.ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "cpu": cpu, "actions": n, "peak": peak, "calls": calls[0]}))
"""

# The same, under yappi: CPU time of every thread, by thread and by where the code lives.
_PROFILE_RUN = """
import collections, sys, yappi
import deadline_nb as dnb
endpoint, farm_id, queue_id, job_id, cache = sys.argv[1:6]
c = dnb.client(endpoint_url=endpoint)
yappi.set_clock_type("cpu")
import threading
yappi.set_context_name_callback(lambda: threading.current_thread().name)
yappi.start(builtins=False)  # builtins count in their callers: less overhead
dnb.load_job(farm_id, queue_id, job_id, client=c, cache=cache, progress=False)
yappi.stop()
by_thread = collections.Counter()
for t in yappi.get_thread_stats():
    name = "calling thread" if t.name == "MainThread" else t.name.rstrip("0123456789_")
    by_thread[name] += t.ttot
AREAS = (("botocore/parsers", "botocore: parse responses"), ("deadline_nb/wire", "parse responses"),
         ("botocore/auth", "botocore: sign requests"), ("botocore", "botocore: other"),
         ("urllib3", "HTTP"), ("http/client", "HTTP"), ("socket", "HTTP"), ("ssl", "HTTP"),
         ("deadline_nb/cache", "cache"), ("sqlite3", "cache"), ("zlib", "cache"),
         ("deadline_nb/frames", "frames"), ("pandas", "frames"), ("pyarrow", "frames"),
         ("numpy", "frames"), ("deadline_nb/fetch", "fetch engine"), ("json", "json"))
areas = collections.Counter()
others = collections.Counter()
for f in yappi.get_func_stats():
    where = f.module.replace(chr(92), "/")
    area = next((a for key, a in AREAS if key in where or key in f.name), "other")
    areas[area] += f.tsub
    if area == "other":
        others[f"{where.rsplit('/', 2)[-1]}:{f.name}"] += f.tsub
print("  CPU by thread: " + ", ".join(f"{k} {v:.1f} s" for k, v in by_thread.most_common()))
print("  CPU by area:   " + ", ".join(f"{k} {v:.1f} s" for k, v in areas.most_common()))
print("  other, most:   " + ", ".join(f"{k} {v:.1f} s" for k, v in others.most_common(6)))
"""


def _run_big(
    code: str, checkout: str, endpoint: str, ids: dict[str, str], *extra: str
) -> subprocess.CompletedProcess[str]:
    # `python -c` puts the working directory first on the path: run in the checkout.
    env = {**os.environ, "PYTHONPATH": checkout}
    args = [endpoint, ids["farm_id"], ids["queue_id"], ids["job_id"], *extra]
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        cwd=checkout,
        capture_output=True,
        text=True,
        check=True,
    )


def cpu_seconds(pid: str) -> float:
    """CPU time (user and system) a running process has used so far, from ``/proc``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def big(size: int, checkouts: list[tuple[str, str]], profile: bool, runs: int = 1) -> None:
    print(f"# a {size:,}-action job from the local farm in its own process, no added latency")
    if runs > 1:
        print(f"# medians of {runs} runs, the checkouts taking turns (every run in brackets)")
    head = f"{'':<10}{'run':<26}{'seconds':>9}{'CPU s':>8}{'farm':>6}{'calls':>8}{'peak MB':>9}"
    head += "  notes"
    print(head, flush=True)
    modes = (
        ("cache", "cold, with the cache"),
        ("nocache", "cold, cache=False"),
        ("warm", "warm (load_job)"),
        ("frame", "warm to a DataFrame"),
    )
    with farm_process(size, 0.0) as (endpoint, ids), tempfile.TemporaryDirectory() as tmp:
        c, _, _ = connect(endpoint, ids)  # the farm builds the job before anyone's clock
        del c
        # One whole load first, untimed: the farm makes each answer once on first asking (its
        # own warm-up, as AWS has none), which would otherwise count against the first run.
        # In a process of its own: Linux keeps a parent's peak memory in its children's.
        _run_big(_BIG_RUN, checkouts[0][1], endpoint, ids, "nocache", "")
        seen: dict[str, dict[str, list[dict[str, Any]]]] = {
            label: {mode: [] for mode, _ in modes} for label, _ in checkouts
        }
        sizes: dict[str, float] = {}
        # Turns: run r of every checkout before run r + 1 of any, so that a busy moment of the
        # machine falls on all of them alike.
        for run in range(runs):
            for label, checkout in checkouts:
                cache = str(Path(tmp) / f"{label}-{run}.sqlite3")
                for mode, _ in modes:
                    farm_before = cpu_seconds(ids["pid"])
                    out = _run_big(_BIG_RUN, checkout, endpoint, ids, mode, cache)
                    got = json.loads(out.stdout.strip().splitlines()[-1])
                    got["farm"] = cpu_seconds(ids["pid"]) - farm_before
                    seen[label][mode].append(got)
                    if mode == "cache":
                        sizes[label] = Path(cache).stat().st_size / max(1, got["actions"])
                Path(cache).unlink()
        for label, _ in checkouts:
            median = {
                mode: statistics.median(g["seconds"] for g in seen[label][mode])
                for mode, _ in modes
            }
            cpu = {
                mode: statistics.median(g["cpu"] for g in seen[label][mode]) for mode, _ in modes
            }
            farm = {
                mode: statistics.median(g["farm"] for g in seen[label][mode]) for mode, _ in modes
            }
            for mode, title in modes:
                got = seen[label][mode][-1]
                every = seen[label][mode]
                note = ""
                if mode == "cache":
                    note = f"{got['actions']:,} actions, cache {sizes[label]:.0f} B/action"
                if mode == "nocache":
                    ratio = median["cache"] / median["nocache"]
                    note = f"cold with the cache / without: {ratio:.2f}x"
                if runs > 1:
                    note += " [" + ", ".join(f"{g['seconds']:.1f}" for g in every) + "]"
                peak = max(g["peak"] for g in every)
                print(
                    f"{label:<10}{title:<26}{median[mode]:9.2f}{cpu[mode]:8.1f}{farm[mode]:6.1f}"
                    f"{got['calls']:8d}"
                    f"{peak / 1e6:9.0f}  {note}",
                    flush=True,
                )
        if profile:
            for label, checkout in checkouts:
                print(f"{label:<10}where the time of a cold run with the cache goes (yappi):")
                cache = str(Path(tmp) / f"{label}-profile.sqlite3")
                print(_run_big(_PROFILE_RUN, checkout, endpoint, ids, cache).stdout, end="")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--actions", type=int, default=10_000)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-loop", action="store_true", help="skip (a), the naive loop")
    parser.add_argument("--no-cli", action="store_true", help="skip (d), the deadline CLI")
    parser.add_argument("--no-million", action="store_true")
    parser.add_argument("--big", type=int, action="append", help="a big job of N actions")
    parser.add_argument("--compare-with", help="another checkout of deadline_nb, for --big")
    parser.add_argument("--profile", action="store_true", help="where the time goes, for --big")
    args = parser.parse_args()
    print(f"deadline_nb {dnb.__version__}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    if args.big:
        here = str(Path(__file__).resolve().parent.parent)
        checkouts = [("this", here)]
        if args.compare_with:
            checkouts.append(("compared", str(Path(args.compare_with).resolve())))
        for size in args.big:
            big(size, checkouts, args.profile, args.runs)
        return
    ten_thousand(args.actions, args.latency, args.runs, cli=not args.no_cli, loop=not args.no_loop)
    if not args.no_million:
        million(0.0)


if __name__ == "__main__":
    main()
