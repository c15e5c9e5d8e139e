"""Benchmark: log_frame and grep_log_frame on a job's worth of session log lines; fetching them.

Run: ``.venv/bin/python benchmarks/bench_logs.py [--lines 1000000] [--repeat 3] [--no-frames]
[--no-fetch] [--size 2000] [--latency 0.02] [--quota 25] [--no-cli]``.

Builds a job's session logs the way the worker agent sends them to CloudWatch Logs (openjd's
banners, parameter values, the command and pid, render output with ``openjd_progress`` lines,
exit-code lines, a few failures; ``timestamp``/``ingestionTime`` in epoch milliseconds), with the
session-action frame of the same actions, then times in the same run:

* the baselines a user would write: ``pandas.DataFrame(events)`` (no session, no action, no
  section, object columns) and a per-line Python loop attributing each line to its action by the
  action windows (the ``deadline job logs --session-action-id`` rule, line by line);
* ``deadline_nb.log_frame(events_by_session, actions=actions)`` (typed columns, each line's action,
  section and phase), from the ``{session id: events}`` form and from FilterLogEvents-shaped
  events (``logStreamName`` and ``eventId`` on each, some repeated as pages can repeat them);
* ``grep_log_frame(frame, pattern)`` for a regular expression and for plain text, against
  ``Series.str.contains`` on the same column.

Targets (this project's, on a 2-core machine): log_frame of 1,000,000 lines in at most 3 s,
grep of 1,000,000 lines in at most 1 s. Prints medians of ``--repeat`` runs.

Then the fetch: the same million lines stored in a cache (one page per session, as
``fetch_session_logs`` stores them) and read back into a log frame, against the raw GetLogEvents
JSON bodies parsed into a frame; then the local farm in its own process (``--latency`` per
request, CloudWatch Logs quota ``--quota`` requests a second per operation) and its big job
(``--size`` session actions): ``fetch_session_logs`` cold with a cache, warm, with its calls per
operation and the GetLogEvents rate it achieved against the quota; and, in the same run, the
official CLI reading the same sessions one ``deadline job logs --session-id`` after another.
"""

from __future__ import annotations

import argparse
import bisect
import collections
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

import deadline_nb as dnb
from deadline_nb.frames.access import utc_ns

T0 = datetime(2026, 11, 26, 20, 0, tzinfo=timezone.utc)
RULE, DASH = "=" * 46, "-" * 46


def make_job(lines: int, seed: int = 0) -> tuple[dict[str, list[dict[str, Any]]], list[dict]]:
    """About ``lines`` log events by session, and the GetSessionAction items of their actions."""
    rng = random.Random(seed)
    step = "step-" + "d" * 32
    by_session: dict[str, list[dict[str, Any]]] = {}
    actions: list[dict[str, Any]] = []
    total = 0
    session = 0
    frame = 1
    while total < lines:
        session += 1
        hexid = f"{session:032x}"
        sid = f"session-{hexid}"
        clock = int(T0.timestamp() * 1000) + rng.randint(0, 36_000_000)
        events: list[dict[str, Any]] = []

        def log(text: str, at: int, events: list[dict[str, Any]] = events) -> None:
            events.append({"timestamp": at, "message": text, "ingestionTime": at + 900})

        def banner(title: str, at: int) -> None:
            for text in (" ", RULE, f"--------- {title}", RULE):
                log(text, at)

        def phase(title: str, at: int) -> None:
            for text in (DASH, title, DASH):
                log(text, at)

        def action(
            n: int,
            kind: str,
            start: int,
            end: int,
            status: str,
            hexid: str = hexid,
            sid: str = sid,
            **extra: Any,
        ) -> None:
            item: dict[str, Any] = {
                "sessionActionId": f"sessionaction-{hexid}-{n}",
                "sessionId": sid,
                "status": status,
                "startedAt": T0 + timedelta(milliseconds=start - T0.timestamp() * 1000),
                "endedAt": T0 + timedelta(milliseconds=end - T0.timestamp() * 1000),
                "definition": {kind: extra},
            }
            if kind == "taskRun":
                item["processExitCode"] = 0 if status == "SUCCEEDED" else 1
            actions.append(item)

        log("openjd.sessions Library Version: 0.10.1", clock)
        log(f"Initializing Open Job Description Session: {sid}", clock)
        start = clock + 5
        banner("Entering Environment: Render Env", start)
        phase("Phase: Setup", start + 1)
        log("Setting: RENDERER=arnold", start + 2)
        action(0, "envEnter", start, start + 40, "SUCCEEDED", environmentId="JOB:Render Env")
        clock = start + 60
        tasks = rng.randint(6, 12)
        for n in range(1, tasks + 1):
            start = clock
            failed = rng.random() < 0.03
            banner("Running Task", start)
            log("Parameter values:", start + 1)
            log(f"Frame(INT) = {frame}", start + 1)
            phase("Phase: Setup", start + 2)
            phase("Phase: Running action", start + 3)
            log(f"Running command /sessions/{sid}abc/tmpx.sh", start + 3)
            log("Command started as pid: 4242", start + 4)
            log("Output:", start + 4)
            at = start + 10
            for k in range(rng.randint(20, 60)):
                at += rng.randint(50, 900)
                if k % 5 == 0:
                    log(f"openjd_progress: {min(99.0, k * 2.0):.1f}", at)
                log(f"[arnold] rendering bucket {k} of frame {frame} sq010_sh0{frame % 40:02d}", at)
            if failed:
                log("Error: license server 10.0.0.12:27000 unreachable", at + 1)
                log("Process pid 4242 exited with code: 1 (unsigned) / 0x1 (hex)", at + 2)
            else:
                log("Process pid 4242 exited with code: 0 (unsigned) / 0x0 (hex)", at + 2)
            action(
                n,
                "taskRun",
                start,
                at + 3,
                "FAILED" if failed else "SUCCEEDED",
                stepId=step,
                taskId=f"task-{step[5:]}-{frame}",
                parameters={"Frame": {"int": str(frame)}},
            )
            frame += 1
            clock = at + 3 + rng.randint(5, 200)
        start = clock
        banner("Exiting Environment: Render Env", start)
        phase("Phase: Setup", start + 1)
        action(tasks + 1, "envExit", start, start + 30, "SUCCEEDED", environmentId="JOB:Render Env")
        banner("Session Cleanup", start + 50)
        log(f"Deleting working directory: /sessions/{sid}abc", start + 51)
        by_session[sid] = events
        total += len(events)
    return by_session, actions


def filter_events(by_session: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The same lines as FilterLogEvents gives them: stream and id on each; 1% given twice."""
    out: list[dict[str, Any]] = []
    number = 0
    for sid, events in by_session.items():
        for event in events:
            number += 1
            out.append({**event, "logStreamName": sid, "eventId": f"{number:056d}"})
    out.extend(out[:: max(1, len(out) // (len(out) // 100 + 1))][: len(out) // 100])
    return out


def naive(by_session: dict[str, list[dict[str, Any]]], actions: pd.DataFrame) -> pd.DataFrame:
    """What one writes without vectorising: each line's action by the windows, one at a time."""
    starts = utc_ns(actions, "startedAt") // 1_000_000
    ends = utc_ns(actions, "endedAt") // 1_000_000
    windows: dict[str, list[tuple[int, int, str]]] = {}
    for session, start, end, action in zip(
        actions["sessionId"].astype(str),
        starts.tolist(),
        ends.tolist(),
        actions["sessionActionId"].astype(str),
        strict=True,
    ):
        if start >= 0:
            windows.setdefault(session, []).append((start, end if end >= 0 else 2**62, action))
    for spans in windows.values():
        spans.sort()
    rows = []
    for sid, events in by_session.items():
        spans = windows.get(sid, [])
        begins = [s[0] for s in spans]
        for event in events:
            t = event["timestamp"]
            i = bisect.bisect_right(begins, t) - 1
            owner = spans[i][2] if i >= 0 and t <= spans[i][1] else None
            rows.append((sid, owner, t, event["message"]))
    frame = pd.DataFrame(rows, columns=["sessionId", "sessionActionId", "timestamp", "message"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], unit="ms", utc=True)
    return frame


def str_contains(frame: pd.DataFrame, pattern: str, regex: bool) -> pd.DataFrame:
    """The pandas way, for comparison."""
    return frame[frame["message"].str.contains(pattern, regex=regex)]


def median_time(func: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times = []
    result = None
    for _ in range(repeat):
        result = None
        gc.collect()
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def frames_section(args: argparse.Namespace) -> None:
    by_session, items = make_job(args.lines)
    actions = dnb.session_action_frame(items)
    flat = [event for events in by_session.values() for event in events]
    filtered = filter_events(by_session)
    n = len(flat)
    print(
        f"pandas {pd.__version__}; {n:,} lines in {len(by_session):,} sessions, "
        f"{len(actions):,} actions; medians of {args.repeat} runs"
    )

    base, _ = median_time(lambda: pd.DataFrame(flat), args.repeat)
    loop, _ = median_time(lambda: naive(by_session, actions), 1)
    ours, frame = median_time(lambda: dnb.log_frame(by_session, actions=actions), args.repeat)
    fle, frame2 = median_time(lambda: dnb.log_frame(filtered, actions=actions), args.repeat)
    assert len(frame) == n and len(frame2) == n, (len(frame), len(frame2), n)
    attributed = frame["sessionActionId"].notna().mean()
    print(f"{'pandas.DataFrame(events)':<46} {base:7.3f}s  (no session, action or section)")
    print(f"{'per-line loop, action by window':<46} {loop:7.3f}s  (1 run)")
    print(
        f"{'log_frame({session: events}, actions=)':<46} {ours:7.3f}s  "
        f"{base / ours:4.1f}x DataFrame, {loop / ours:4.1f}x loop; {attributed:.0%} attributed"
    )
    print(f"{'log_frame(FilterLogEvents events + repeats)':<46} {fle:7.3f}s")
    per_row = frame.memory_usage(deep=True).sum() / n
    print(f"{'memory per line (deep)':<46} {per_row:7.0f} bytes")

    for label, pattern, regex in (
        ("regex", r"license server [0-9.]+:[0-9]+", True),
        ("text", "bucket 7 of frame", False),
    ):
        g, hits = median_time(partial(dnb.grep_log_frame, frame, pattern, regex=regex), args.repeat)
        s, _ = median_time(partial(str_contains, frame, pattern, regex), args.repeat)
        print(
            f"{'grep_log_frame, ' + label:<46} {g:7.3f}s  {len(hits):,} hits; "
            f"Series.str.contains {s:.3f}s"
        )
    failures, lines = median_time(lambda: dnb.failure_lines(frame, actions), args.repeat)
    top = lines["normalized"].value_counts().head(1)
    print(
        f"{'failure_lines':<46} {failures:7.3f}s  {len(lines):,} failed actions; "
        f"{int(top.iloc[0])} end with: {top.index[0]}"
    )


def cached_section(args: argparse.Namespace) -> None:
    """A million stored lines back into a log frame: columnar pages, against raw JSON bodies."""
    from deadline_nb.cache import Cache
    from deadline_nb.frames.logs import log_frame_from_arrays

    by_session, items = make_job(args.lines)
    actions = dnb.session_action_frame(items)
    n = sum(len(e) for e in by_session.values())
    with tempfile.TemporaryDirectory() as tmp, Cache(Path(tmp) / "c.sqlite3") as cache:
        ids = ("farm-1", "queue-1", "job-1")
        start = time.perf_counter()
        for sid, events in by_session.items():
            cache.put_log_page(*ids, sid, events, token="f/1/s", complete=True)
        stored = time.perf_counter() - start
        size = (Path(tmp) / "c.sqlite3").stat().st_size

        def columnar() -> Any:
            got = cache.log_columns(*ids)
            return log_frame_from_arrays(
                got.session_ids,
                got.counts,
                got.timestamps,
                got.ingestion_times,
                got.messages,
                actions=actions,
            )

        took, frame = median_time(columnar, args.repeat)
        assert len(frame) == n
        bodies = {
            sid: json.dumps({"events": events, "nextForwardToken": "f"}).encode()
            for sid, events in by_session.items()
        }

        def raw() -> Any:
            parsed = {sid: json.loads(body)["events"] for sid, body in bodies.items()}
            return dnb.log_frame(parsed, actions=actions)

        raw_took, _ = median_time(raw, args.repeat)
    print(f"# {n:,} lines stored as the fetch stores them, read back into a log frame")
    print(
        f"{'store (one page per session)':<46} {stored:7.3f}s  "
        f"{size / 1e6:.0f} MB, {size / n:.0f} bytes per line"
    )
    print(f"{'cached columns -> log frame (actions=)':<46} {took:7.3f}s  goal <= 3 s")
    print(f"{'raw JSON bodies -> log frame (parse only)':<46} {raw_took:7.3f}s  (the alternative)")


@contextmanager
def farm_process(size: int, latency: float, quota: float) -> Iterator[tuple[str, dict[str, str]]]:
    """``deadline-nb localfarm`` in a subprocess (its own interpreter lock, as AWS would have)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_fetch import farm_process as fetch_farm

    with fetch_farm(size, latency, "--logs-quota", str(quota)) as running:
        yield running


class Calls:
    """Calls per operation of some clients, and when each GetLogEvents went out and came back."""

    def __init__(self, *clients: Any) -> None:
        self.calls: collections.Counter[str] = collections.Counter()
        self.times: list[float] = []
        self._lock = threading.Lock()
        for c in clients:
            service = c.meta.service_model.endpoint_prefix
            c.meta.events.register(f"before-call.{service}", self._count)
            c.meta.events.register(f"before-send.{service}", self._sent)

    def _count(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.calls[model.name] += 1

    def _sent(self, event_name: str = "", **_: Any) -> None:
        if event_name.endswith(".GetLogEvents"):
            with self._lock:
                self.times.append(time.perf_counter())

    def take(self) -> tuple[dict[str, int], list[float]]:
        out, times = dict(self.calls), sorted(self.times)
        self.calls.clear()
        self.times.clear()
        return out, times


def cli_logs(endpoint: str, ids: dict[str, str], session: str, home: str) -> int:
    """``deadline job logs --session-id``: the events it printed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DEADLINE_"))}
    env.update(
        AWS_ENDPOINT_URL_DEADLINE=endpoint,
        AWS_ENDPOINT_URL_CLOUDWATCH_LOGS=endpoint,
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
    command = [str(Path(sys.executable).with_name("deadline")), "job", "logs"]
    command += ["--farm-id", ids["farm_id"], "--queue-id", ids["queue_id"]]
    command += ["--job-id", ids["job_id"], "--session-id", session]
    command += ["--limit", "10000", "--output", "json"]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    return int(json.loads(out)["count"])


def fetch_section(args: argparse.Namespace) -> None:
    from deadline_nb.aws import logs_client

    quota = args.quota
    print(
        f"# the local farm's big job (--size {args.size}) in its own process, "
        f"{args.latency * 1000:.0f} ms per request, logs quota {quota:g} requests/s"
    )
    farm = farm_process(args.size, args.latency, quota)
    with farm as (endpoint, ids), tempfile.TemporaryDirectory() as tmp:
        job = (ids["farm_id"], ids["queue_id"], ids["job_id"])
        c = dnb.client(endpoint_url=endpoint)
        lc = logs_client(endpoint_url=endpoint, quotas={"GetLogEvents": quota})
        calls = Calls(c, lc)
        sessions = [s["sessionId"] for s in dnb.fetch_sessions(*job, client=c)]
        calls.take()  # the farm builds the job on its first request: nobody's time
        time.sleep(1.5)  # the farm's quota bucket full again, as for a user arriving fresh
        cache = Path(tmp) / "cache.sqlite3"
        start = time.perf_counter()
        logs = dnb.fetch_session_logs(*job, client=c, logs_client=lc, cache=cache, progress=False)
        cold = time.perf_counter() - start
        cold_calls, sent = calls.take()
        gets = cold_calls.get("GetLogEvents", 0)
        span = sent[-1] - sent[0] if len(sent) > 1 else float("nan")
        rate = (gets - 1) / span if len(sent) > 1 else float("nan")
        per_op = ", ".join(f"{op} {n}" for op, n in sorted(cold_calls.items()))
        print(
            f"{'fetch_session_logs, cold (cache)':<40} {cold:7.2f} s  {len(logs):,} lines, "
            f"{len(sessions)} sessions; {per_op}"
        )
        print(
            f"{'  GetLogEvents rate':<40} {rate:7.2f}/s  {rate / quota:.0%} of the quota "
            f"({gets} calls for {len(sessions)} sessions: "
            f"{'one each' if gets == len(sessions) else 'more than one for some'}); "
            f"overall {gets / cold:.2f}/s"
        )
        start = time.perf_counter()
        again = dnb.fetch_session_logs(*job, client=c, logs_client=lc, cache=cache, progress=False)
        warm = time.perf_counter() - start
        warm_calls, _ = calls.take()
        assert len(again) == len(logs)
        per_op = ", ".join(f"{op} {n}" for op, n in sorted(warm_calls.items()))
        print(f"{'the same call again (warm)':<40} {warm:7.2f} s  {per_op}")
        if args.no_cli:
            return
        time.sleep(1.5)
        counts = logs.groupby("sessionId", observed=True).size()
        start = time.perf_counter()
        printed = 0
        for session in sessions:
            got = cli_logs(endpoint, ids, session, tmp)
            assert got == int(counts.get(session, 0)), (session, got)
            printed += got
        official = time.perf_counter() - start
        print(
            f"{'deadline job logs, one per session':<40} {official:7.2f} s  {printed:,} lines, "
            f"{len(sessions)} runs of the CLI (each GetJob, GetSession, GetLogEvents)"
        )
        print(f"{'cold fetch / official CLI':<40} {cold / official:7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-frames", action="store_true", help="skip log_frame and grep")
    parser.add_argument("--no-fetch", action="store_true", help="skip the cache and the fetch")
    parser.add_argument("--size", type=int, default=2000, help="the big job's session actions")
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--quota", type=float, default=25.0, help="logs requests per second")
    parser.add_argument("--no-cli", action="store_true", help="skip the official CLI")
    args = parser.parse_args()
    warnings.simplefilter("error")  # realistic input must convert without a single warning
    if not args.no_frames:
        frames_section(args)
    if not args.no_fetch:
        cached_section(args)
        fetch_section(args)


if __name__ == "__main__":
    main()
