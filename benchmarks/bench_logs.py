"""Benchmark: log_frame and grep_log_frame on a job's worth of session log lines.

Run: ``.venv/bin/python benchmarks/bench_logs.py [--lines 1000000] [--repeat 3]``.

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
"""

from __future__ import annotations

import argparse
import bisect
import gc
import random
import statistics
import time
import warnings
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from functools import partial
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("error")  # realistic input must convert without a single warning

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


if __name__ == "__main__":
    main()
