"""Benchmark: the frame-time trend over a 10,000,000-action history dataset, DuckDB vs pandas.

Run: ``.venv/bin/python benchmarks/bench_history.py [--actions 10000000] [--dest DIR]
[--actions-per-job 2000] [--repeats 3]``.

The dataset is generated (vectorised numpy and pyarrow, nothing simulated) in the layout
:func:`deadline_nb.sync_history` writes -- ``DEST/<table>/farmId=/queueId=/month=/<jobId>.parquet``,
one file per job per table, a ``jobs`` file for each job -- in a temporary folder unless
``--dest`` names one (it is not removed then). Three shows, three queues, five steps, 26 weeks,
eight users; the ``Render`` step of show ``aurora`` is 1.6 times slower for the last 8 weeks.
Only the ``jobs`` and ``actions`` tables are written (the trend reads nothing else).

Timed, median of ``--repeats``:

* DuckDB: a new :func:`deadline_nb.history` (listing the files, making the views) and
  ``trend()`` on it -- the task runs joined with their jobs, median and p90 per step and week;
* pandas: ``pd.read_parquet`` of the same actions (pyarrow, the columns the question needs),
  then the same filter and groupby (no join with the jobs: a little less work than DuckDB's).

The goal is DuckDB within 2 s on a 2-core machine. Prints both, the ratio, and the dataset's
bytes per action.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import deadline_nb as dnb
from deadline_nb.queue_history import PARQUET_OPTIONS

SHOWS = ("aurora", "borealis", "cirrus")
QUEUES = ("queue-" + "1" * 32, "queue-" + "2" * 32, "queue-" + "3" * 32)
STEPS = {"Render": 240.0, "Denoise": 40.0, "Simulate": 90.0, "Mesh": 45.0, "Comp": 50.0}
USERS = tuple(f"user-{i}" for i in range(8))
FARM = "farm-" + "0" * 32
WEEKS = 26
END = pd.Timestamp("2026-03-02T08:00:00Z").value  # ns
WEEK_NS = 7 * 86400 * 10**9


def generate(dest: Path, actions: int, per_job: int, seed: int = 0) -> int:
    """Write the dataset; return its size in bytes."""
    rng = np.random.default_rng(seed)
    jobs = max(1, actions // per_job)
    start = END - WEEKS * WEEK_NS
    created = np.sort(rng.integers(start, END, jobs))
    show = rng.integers(0, len(SHOWS), jobs)
    queue = rng.integers(0, len(QUEUES), jobs)
    user = rng.integers(0, len(USERS), jobs)
    regressed_from = END - 8 * WEEK_NS
    step_names = list(STEPS)
    step_type = pa.dictionary(pa.int32(), pa.string())
    for j in range(jobs):
        job_id = f"job-{j:032x}"
        n = per_job if j < jobs - 1 else actions - per_job * (jobs - 1)
        month = pd.Timestamp(int(created[j]), tz="UTC").strftime("%Y-%m")
        folder = Path(f"farmId={FARM}") / f"queueId={QUEUES[queue[j]]}" / f"month={month}"
        # A session every 20 actions: envEnter, 18 task runs, envExit.
        index = np.arange(n)
        position = index % 20
        kind = np.where(position == 0, "envEnter", np.where(position == 19, "envExit", "taskRun"))
        steps = rng.integers(0, len(step_names), n)
        median = np.array([STEPS[s] for s in step_names])[steps]
        slow = (
            (show[j] == 0)
            & (created[j] >= regressed_from)
            & (np.array(step_names)[steps] == "Render")
        )
        seconds = median * rng.lognormal(0.0, 0.25, n) * np.where(slow, 1.6, 1.0)
        seconds = np.where(kind == "taskRun", seconds, rng.uniform(2.0, 20.0, n))
        began = created[j] + 60 * 10**9 + np.cumsum(seconds * 1e9 / 4).astype(np.int64)
        ended = began + (seconds * 1e9).astype(np.int64)
        status = np.where(rng.random(n) < 0.01, "FAILED", "SUCCEEDED")
        session = index // 20
        table = pa.table(
            {
                "jobId": pa.array([job_id] * n).dictionary_encode(),
                "sessionId": pa.array(
                    np.char.add(f"session-{j:024x}", session.astype("U8"))
                ).dictionary_encode(),
                "sessionActionId": pa.array(
                    [
                        f"sessionaction-{j:024x}{s}-{p}"
                        for s, p in zip(session, position, strict=True)
                    ]
                ),
                "actionIndex": pa.array(position, pa.int64()),
                "actionType": pa.array(kind).dictionary_encode(),
                "stepId": pa.array(np.char.add("step-", steps.astype("U1"))).dictionary_encode(),
                "taskId": pa.array(np.char.add("task-", index.astype("U8"))),
                "status": pa.array(status).dictionary_encode(),
                "startedAt": pa.array(began, pa.timestamp("ns", "UTC")),
                "endedAt": pa.array(ended, pa.timestamp("ns", "UTC")),
                "duration": pa.array(ended - began, pa.duration("ns")),
                "processExitCode": pa.array(np.where(status == "FAILED", 1, 0), pa.int32()),
                "stepName": pa.array(np.array(step_names)[steps]).cast(step_type),
                "workerId": pa.array(
                    np.char.add("worker-", (session % 50).astype("U2"))
                ).dictionary_encode(),
                "param.Frame": pa.array(1001 + index % 200, pa.int64()),
            }
        )
        path = dest / "actions" / folder / f"{job_id}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path, **PARQUET_OPTIONS)
        params = (
            f'{{"Show": {{"string": "{SHOWS[show[j]]}"}}, "Version": {{"int": "{j % 40 + 1}"}}}}'
        )
        job = pa.table(
            {
                "jobId": [job_id],
                "name": [f"{SHOWS[show[j]]}_job_{j}"],
                "taskRunStatus": ["SUCCEEDED"],
                "createdBy": [USERS[user[j]]],
                "createdAt": pa.array([int(created[j])], pa.timestamp("ns", "UTC")),
                "parameters": [params],
                "finished": [True],
                "deleted": [False],
            }
        )
        path = dest / "jobs" / folder / f"{job_id}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(job, path, **PARQUET_OPTIONS)
    return sum(p.stat().st_size for p in dest.rglob("*.parquet"))


def duckdb_trend(dest: Path) -> pd.DataFrame:
    with dnb.history(dest) as h:
        return h.trend()


def pandas_trend(dest: Path) -> pd.DataFrame:
    actions = pd.read_parquet(
        dest / "actions",
        engine="pyarrow",
        columns=["actionType", "status", "stepName", "startedAt", "endedAt"],
    )
    runs = actions[
        (actions["actionType"] == "taskRun")
        & (actions["status"] == "SUCCEEDED")
        & actions["startedAt"].notna()
        & actions["endedAt"].notna()
    ]
    seconds = (runs["endedAt"] - runs["startedAt"]).dt.total_seconds()
    start = runs["startedAt"]
    week = start.dt.floor("D") - pd.to_timedelta(start.dt.day_of_week, unit="D")
    frame = pd.DataFrame({"stepName": runs["stepName"], "week": week, "seconds": seconds})
    grouped = frame.groupby(["week", "stepName"], observed=True)["seconds"]
    return pd.DataFrame(
        {"runs": grouped.size(), "median": grouped.median(), "p90": grouped.quantile(0.9)}
    ).reset_index()


def median_seconds(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=10_000_000)
    parser.add_argument("--actions-per-job", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dest", type=Path, default=None, help="keep the dataset there")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-history-") as tmp:
        dest = args.dest or Path(tmp)
        if args.dest is None or not (dest / "jobs").exists():
            began = time.perf_counter()
            size = generate(dest, args.actions, args.actions_per_job)
            print(f"generated {args.actions:,} actions in {time.perf_counter() - began:.1f} s")
        else:
            size = sum(p.stat().st_size for p in dest.rglob("*.parquet"))
        print(f"dataset: {size / 1e6:.1f} MB, {size / args.actions:.1f} bytes per action")
        print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        with dnb.history(dest) as h:
            began = time.perf_counter()
            h.refresh()
            opened = time.perf_counter() - began
            query, trend = median_seconds(h.trend, args.repeats)
        duck, _ = median_seconds(lambda: duckdb_trend(dest), args.repeats)
        pand, baseline = median_seconds(lambda: pandas_trend(dest), args.repeats)
        assert isinstance(trend, pd.DataFrame) and isinstance(baseline, pd.DataFrame)
        assert int(trend["runs"].sum()) == int(baseline["runs"].sum())
        print(f"DuckDB trend, new connection: {duck:.2f} s")
        print(f"  of which: the views {opened:.2f} s, the query {query:.2f} s")
        print(f"pandas read_parquet + groupby: {pand:.2f} s")
        print(f"ratio pandas / DuckDB: {pand / duck:.1f}x")


if __name__ == "__main__":
    main()
