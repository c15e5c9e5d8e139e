"""Benchmark: diagnose() on a 100,000-action job, next to summarize() on the same frame.

Run: ``.venv/bin/python benchmarks/bench_diagnose.py [--size 100000] [--repeats 5]``.

The job is the local farm's big render (``FarmModel(size=...)``), joined with its sessions'
workers as ``load_job`` joins them. A second frame is the same job with one task run in 25
failed (exit codes 1, 137 and -1073741819 in turn), so that every check has work to do. Both
are timed in the same run as ``summarize()`` (the per-step table every report computes), the
baseline: the goal is findings within a second on 100,000 actions.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial

import numpy as np
import pandas as pd

import deadline_nb as dnb
from deadline_nb.localfarm.model import BIG_JOB, FarmModel


def big_frame(size: int) -> pd.DataFrame:
    """The big job's session actions with their workers, as ``job.actions`` has them."""
    model = FarmModel(seed=0, size=size)
    view = model.view(model.job_by_name(BIG_JOB).job_id)
    df = dnb.session_action_frame(view.actions)
    workers = {s["sessionId"]: s["workerId"] for s in view.sessions}
    df["workerId"] = df["sessionId"].astype(str).map(workers).astype("category")
    return df


def with_failures(df: pd.DataFrame) -> pd.DataFrame:
    """One task run in 25 failed, with three exit codes in turn."""
    out = df.copy()
    runs = np.flatnonzero((out["actionType"] == "taskRun").to_numpy())
    failed = runs[::25]
    status = out["status"].copy()
    status.iloc[failed] = "FAILED"
    out["status"] = status
    codes = out["processExitCode"].copy()
    codes.iloc[failed] = np.resize(np.array([1, 137, -1073741819], dtype=np.int32), len(failed))
    out["processExitCode"] = codes
    return out


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000, help="session actions (about)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    healthy = big_frame(args.size)
    failing = with_failures(healthy)
    print(f"{len(healthy):,} session actions; medians of {args.repeats} runs")
    for label, df in (("healthy", healthy), ("1 run in 25 failed", failing)):
        dnb.diagnose(df)  # warm-up: imports and first-call costs
        base = median_seconds(partial(dnb.summarize, df), args.repeats)
        ours = median_seconds(partial(dnb.diagnose, df), args.repeats)
        found = dnb.diagnose(df)
        verdict = "within" if ours <= 1.0 else "OVER"
        print(
            f"{label:>20}: diagnose {ours:.3f} s ({len(found)} findings; {verdict} the 1 s goal)"
            f"   summarize (baseline) {base:.3f} s   ratio {ours / base:.2f}"
        )


if __name__ == "__main__":
    main()
