"""Benchmark: the frame-time trend over a 10,000,000-action history dataset, DuckDB vs pandas.

Run: ``.venv/bin/python benchmarks/bench_history.py [--actions 10000000] [--dest DIR]
[--actions-per-job 2000] [--repeats 3]``.

The dataset is generated (vectorised numpy, nothing simulated) and written by the sync's own
writer, every column of the tables there, in the layout :func:`deadline_nb.sync_history` writes
-- ``DEST/<table>/farmId=/queueId=/month=/<jobId>.parquet``, one file per job per table, a
``jobs`` file for each job -- in a temporary folder unless ``--dest`` names one (it is not
removed then, and is left compacted). Three shows, three queues, five steps, 26 weeks, eight
users; the ``Render`` step of show ``aurora`` is 1.6 times slower for the last 8 weeks. Only the
``jobs`` and ``actions`` tables are written (the trend reads nothing else).

Measured twice, (a) as the sync wrote it and (b) after :func:`deadline_nb.compact_history`
(one file per table per farm, queue and month); each time, median of ``--repeats``:

* DuckDB: a new :func:`deadline_nb.history` (listing the files, making the views) and
  ``trend()`` on it -- the task runs joined with their jobs, median and p90 per step and week;
  and the query alone on an open one;
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
import pyarrow.fs as pafs

import deadline_nb as dnb

# The sync's own writer: the generated files are written as a sync writes them.
from deadline_nb.queue_history import PARTITIONS, TABLE_COLUMNS, _write_atomic, job_row_frame

SHOWS = ("aurora", "borealis", "cirrus")
QUEUES = ("queue-" + "1" * 32, "queue-" + "2" * 32, "queue-" + "3" * 32)
STEPS = {"Render": 240.0, "Denoise": 40.0, "Simulate": 90.0, "Mesh": 45.0, "Comp": 50.0}
USERS = tuple(f"user-{i}" for i in range(8))
FARM = "farm-" + "0" * 32
WEEKS = 26
END = pd.Timestamp("2026-03-02T08:00:00Z").value  # ns
WEEK_NS = 7 * 86400 * 10**9


def generate(dest: Path, actions: int, per_job: int, seed: int = 0) -> int:
    """Write the dataset through the sync's own writer; return its size in bytes.

    Every column of the ``actions`` and ``jobs`` tables is there (the ones the trend does not
    read filled as a sync fills them, or missing), written by the function a sync writes with:
    the footers and column chunks weigh what a synced dataset's do.
    """
    rng = np.random.default_rng(seed)
    fs = pafs.LocalFileSystem()
    jobs = max(1, actions // per_job)
    start = END - WEEKS * WEEK_NS
    created = np.sort(rng.integers(start, END, jobs))
    show = rng.integers(0, len(SHOWS), jobs)
    queue = rng.integers(0, len(QUEUES), jobs)
    user = rng.integers(0, len(USERS), jobs)
    regressed_from = END - 8 * WEEK_NS
    step_names = np.array(list(STEPS))
    step_median = np.array(list(STEPS.values()))
    columns = TABLE_COLUMNS["actions"]
    synced = pd.Timestamp(END, tz="UTC").to_pydatetime()
    for j in range(jobs):
        job_id = f"job-{j:032x}"
        n = per_job if j < jobs - 1 else actions - per_job * (jobs - 1)
        month = pd.Timestamp(int(created[j]), tz="UTC").strftime("%Y-%m")
        folder = f"farmId={FARM}/queueId={QUEUES[queue[j]]}/month={month}"
        # A session every 20 actions: envEnter, 18 task runs, envExit.
        index = np.arange(n)
        position = index % 20
        kind = np.where(position == 0, "envEnter", np.where(position == 19, "envExit", "taskRun"))
        steps = rng.integers(0, len(step_names), n)
        slow = (show[j] == 0) & (created[j] >= regressed_from) & (step_names[steps] == "Render")
        seconds = step_median[steps] * rng.lognormal(0.0, 0.25, n) * np.where(slow, 1.6, 1.0)
        seconds = np.where(kind == "taskRun", seconds, rng.uniform(2.0, 20.0, n))
        began = created[j] + 60 * 10**9 + np.cumsum(seconds * 1e9 / 4).astype(np.int64)
        ended = began + (seconds * 1e9).astype(np.int64)
        status = np.where(rng.random(n) < 0.01, "FAILED", "SUCCEEDED")
        session = index // 20
        run = kind == "taskRun"
        values = {
            "jobId": [job_id] * n,
            "sessionId": np.char.add(f"session-{j:024x}", session.astype("U8")),
            "sessionActionId": [
                f"sessionaction-{j:024x}{s}-{p}" for s, p in zip(session, position, strict=True)
            ],
            "actionIndex": position,
            "actionType": kind,
            "environmentId": pd.Series("STEP:step-0:Render", index).where(~run),
            "stepId": pd.Series(np.char.add(f"step-{j:024x}", steps.astype("U1"))).where(run),
            "taskId": pd.Series(np.char.add(f"task-{j:024x}-", index.astype("U8"))).where(run),
            "status": status,
            "startedAt": pd.to_datetime(began, utc=True),
            "endedAt": pd.to_datetime(ended, utc=True),
            "workerUpdatedAt": pd.to_datetime(ended, utc=True),
            "duration": pd.to_timedelta(ended - began),
            "progressPercent": np.full(n, 100.0),
            "progressMessage": None,
            "processExitCode": np.where(status == "FAILED", 1, 0),
            "stepName": pd.Series(step_names[steps]).where(run),
            "workerId": np.char.add("worker-", (session % 50).astype("U2")),
            "fleetId": "fleet-" + "f" * 32,
        }
        frame = pd.DataFrame(
            {
                name: pd.Series(values.get(name), index=index).astype(dtype)
                for name, dtype in columns.items()
                if name not in PARTITIONS
            }
        )
        frame["param.Frame"] = pd.array(1001 + index % 200, dtype="Int64")
        _write_atomic(fs, frame, f"{dest}/actions/{folder}/{job_id}.parquet")
        job = {
            "farmId": FARM,
            "queueId": QUEUES[queue[j]],
            "jobId": job_id,
            "name": f"{SHOWS[show[j]]}_job_{j}",
            "lifecycleStatus": "SUCCEEDED",
            "taskRunStatus": "SUCCEEDED",
            "taskRunStatusCounts": {"SUCCEEDED": n // 20 * 18},
            "priority": 50,
            "createdBy": USERS[user[j]],
            "createdAt": pd.Timestamp(int(created[j]), tz="UTC"),
            "startedAt": pd.Timestamp(int(began[0]), tz="UTC"),
            "endedAt": pd.Timestamp(int(ended.max()), tz="UTC"),
            "parameters": {"Show": {"string": SHOWS[show[j]]}, "Version": {"int": str(j % 40 + 1)}},
        }
        _write_atomic(
            fs,
            job_row_frame(job, synced_at=synced),
            f"{dest}/jobs/{folder}/{job_id}.parquet",
        )
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
        print("(a) as a sync writes it, one file per job per table:")
        measure(dest, args.repeats)
        began = time.perf_counter()
        result = dnb.compact_history(dest, progress=False)
        took = time.perf_counter() - began
        size = sum(p.stat().st_size for p in dest.rglob("*.parquet"))
        print(
            f"(b) compacted ({len(result.packs)} packs of {result.jobs:,} jobs, "
            f"{result.removed:,} files removed, in {took:.1f} s; "
            f"{size / args.actions:.1f} bytes per action):"
        )
        measure(dest, args.repeats)


def measure(dest: Path, repeats: int) -> None:
    """Print DuckDB's trend (a new connection, and the query alone) and pandas' on ``dest``."""
    with dnb.history(dest) as h:
        began = time.perf_counter()
        h.refresh()
        opened = time.perf_counter() - began
        query, trend = median_seconds(h.trend, repeats)
    duck, _ = median_seconds(lambda: duckdb_trend(dest), repeats)
    pand, baseline = median_seconds(lambda: pandas_trend(dest), repeats)
    assert isinstance(trend, pd.DataFrame) and isinstance(baseline, pd.DataFrame)
    assert int(trend["runs"].sum()) == int(baseline["runs"].sum())
    print(f"  DuckDB trend, new connection: {duck:.2f} s")
    print(f"    of which: the views {opened:.2f} s, the query {query:.2f} s")
    print(f"  pandas read_parquet + groupby: {pand:.2f} s")
    print(f"  ratio pandas / DuckDB: {pand / duck:.1f}x")


if __name__ == "__main__":
    main()
