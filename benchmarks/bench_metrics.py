"""Benchmark: a job's host metrics joined to its session actions (resource_frame).

Run: ``.venv/bin/python benchmarks/bench_metrics.py [--actions 10000] [--workers 64]
[--repeat 3] [--baseline 500]``.

Builds a job of ``--actions`` session actions on ``--workers`` workers (sessions of an env
enter, task runs of 20 s to 30 min and an env exit, one after another on each worker) and the
workers' host metrics every 60 s over the job's time, as the worker agent logs them; then times
in the same run:

* ``metrics_frame`` of the samples' log lines (the structured JSON lines CloudWatch holds);
* ``resource_frame(actions, metrics)``: sorted searches over all workers at once;
* the baseline a user would write: for each action, a boolean filter of the metrics frame on
  its worker and window, then max/mean (timed on ``--baseline`` actions and scaled to all).

Target (this project's, on a 2-core machine): the join of a 10,000-action job in at most 1 s.
Prints medians of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from typing import Any

import pandas as pd

import deadline_nb as dnb
from deadline_nb import schema

GIB = 1024**3
T0 = 1_795_730_400.0


def build(n_actions: int, n_workers: int, seed: int = 0) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Actions (as a frame) and the workers' log events, ``{worker: events}``."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    clock = {f"worker-{w:032x}": T0 + rng.uniform(0, 300) for w in range(n_workers)}
    index = 0
    while len(rows) < n_actions:
        worker = min(clock, key=clock.__getitem__)
        t = clock[worker]
        session = f"{index:032x}"
        index += 1
        kinds = ["envEnter"] + ["taskRun"] * rng.randint(1, 8) + ["envExit"]
        for n, kind in enumerate(kinds):
            span = rng.uniform(20, 1800) if kind == "taskRun" else rng.uniform(2, 30)
            rows.append(
                {
                    "sessionActionId": f"sessionaction-{session}-{n}",
                    "actionType": kind,
                    "workerId": worker,
                    "startedAt": t,
                    "endedAt": t + span,
                }
            )
            t += span + rng.uniform(0.5, 3)
        clock[worker] = t + rng.uniform(5, 60)
    rows = rows[:n_actions]
    actions = pd.DataFrame(rows)
    for column in ("startedAt", "endedAt"):
        actions[column] = pd.to_datetime(actions[column], unit="s", utc=True).astype(schema.TIME)
    actions["workerId"] = actions["workerId"].astype("category")
    end = float(max(r["endedAt"] for r in rows)) + 120
    events: dict[str, list[dict[str, Any]]] = {}
    for worker in clock:
        out = []
        t = T0 + rng.uniform(0, 60)
        while t < end:
            used = rng.randint(3, 60) * GIB
            record = {
                "level": "INFO",
                "ti": "📊",
                "type": "Metrics",
                "subtype": "System",
                "cpu-usage-percent": str(round(rng.uniform(0, 100), 1)),
                "memory-total-bytes": str(64 * GIB),
                "memory-used-bytes": str(used),
                "memory-used-percent": str(round(100 * used / (64 * GIB), 1)),
                "swap-used-bytes": "0",
            }
            out.append({"timestamp": int(t * 1000), "message": json.dumps(record)})
            t += 60
        events[worker] = out
    return actions, events


def naive(actions: pd.DataFrame, metrics: pd.DataFrame) -> list[tuple[int, Any, Any]]:
    """One boolean filter of the metrics frame per action."""
    out = []
    for worker, start, end in zip(
        actions["workerId"], actions["startedAt"], actions["endedAt"], strict=True
    ):
        inside = metrics[
            (metrics["workerId"] == worker)
            & (metrics["timestamp"] >= start)
            & (metrics["timestamp"] <= end)
        ]
        out.append((len(inside), inside["memUsedBytes"].max(), inside["cpuPercent"].mean()))
    return out


def timed(fn: Any, repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline", type=int, default=500)
    args = parser.parse_args()

    actions, events = build(args.actions, args.workers)
    lines = sum(len(e) for e in events.values())
    print(f"{len(actions):,} actions on {args.workers} workers, {lines:,} host-metrics lines")
    parse_s, metrics = timed(lambda: dnb.metrics_frame(events), args.repeat)
    print(f"metrics_frame of {lines:,} lines: {parse_s:.3f} s")
    join_s, joined = timed(lambda: dnb.resource_frame(actions, metrics), args.repeat)
    print(f"resource_frame of {len(actions):,} actions: {join_s:.3f} s (target: at most 1 s)")
    part = actions.head(args.baseline)
    naive_s, expected = timed(lambda: naive(part, metrics), 1)
    scaled = naive_s * len(actions) / max(1, len(part))
    print(
        f"baseline, a pandas filter per action: {naive_s:.3f} s for {len(part):,} actions, "
        f"about {scaled:.1f} s for {len(actions):,} ({scaled / max(join_s, 1e-9):.0f}x slower)"
    )
    got = list(zip(joined["metricSamples"].head(len(part)), strict=False))
    assert [g[0] for g in got] == [e[0] for e in expected], "the join and the baseline disagree"
    print("the join and the baseline agree on the samples of every action timed")


if __name__ == "__main__":
    main()
