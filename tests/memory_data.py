"""Synthetic worker metrics for the memory plots, made from a local-farm job's actions.

The local farm writes no host metrics yet, so these helpers make plausible ones from the actions
themselves: ``resources(df)`` appends :data:`deadline_nb.schema.RESOURCE_COLUMNS` the way
``resource_frame`` would (a peak per action that climbs with the frame, the worker's total for
the runs killed with exit code 137, nothing for the runs shorter than the sampling interval), and
``metrics(df)`` gives each worker's samples (:data:`deadline_nb.schema.METRIC_COLUMNS`) over the
job's span. ``many_metrics`` makes a big metrics frame directly, for timing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from deadline_nb import schema

GIB = 2**30
#: The worker agent's default interval between host-metrics lines, in seconds.
INTERVAL = 60.0
KILLED = 137


def worker_totals(df: pd.DataFrame) -> dict[str, int]:
    """Each worker's total memory: 32 GiB and 64 GiB alternately, in the order of their ids."""
    workers = sorted(str(w) for w in df["workerId"].dropna().unique())
    return {w: (32 if i % 2 == 0 else 64) * GIB for i, w in enumerate(workers)}


def resources(df: pd.DataFrame, *, interval: float = INTERVAL) -> pd.DataFrame:
    """``df`` with the resource columns: one sample per ``interval`` seconds of each action.

    An action shorter than ``interval`` (or never started) has 0 samples and NA figures. A task
    run's peak is 30% of its worker's total plus up to 40% more as its frame climbs; a run that
    ended with exit code 137 peaked at the total. Other actions peak at 2 GiB.
    """
    out = df.copy()
    seconds = out["duration"].dt.total_seconds().to_numpy(dtype=np.float64, na_value=np.nan)
    samples = np.where(np.isfinite(seconds), np.floor(seconds / interval), 0).astype(np.int64)
    totals = worker_totals(out)
    total = np.array(
        [totals.get(str(w), 64 * GIB) for w in out["workerId"].astype(object)], dtype=np.float64
    )
    frame = pd.to_numeric(out.get("param.Frame"), errors="coerce")
    frame = np.asarray(
        pd.Series(frame, index=out.index).astype("Float64").to_numpy(na_value=np.nan)
    )
    top = np.nanmax(frame) if np.isfinite(frame).any() else 1.0
    share = 0.3 + 0.4 * np.nan_to_num(frame, nan=0.0) / top
    runs = (out["actionType"] == "taskRun").to_numpy()
    peak = np.where(runs, total * share, 2.0 * GIB)
    killed = (out["processExitCode"] == KILLED).fillna(False).to_numpy(dtype=bool)
    peak[killed] = total[killed]
    sampled = samples > 0
    out["metricSamples"] = pd.array(samples, dtype="Int64")
    out["memPeakBytes"] = pd.array(np.where(sampled, peak, np.nan), dtype="Float64").astype("Int64")
    out["memPeakPercent"] = pd.array(np.where(sampled, 100.0 * peak / total, np.nan)).astype(
        "Float64"
    )
    out["memTotalBytes"] = pd.array(np.where(sampled, total, np.nan), dtype="Float64").astype(
        "Int64"
    )
    out["cpuMeanPercent"] = pd.array(np.where(sampled & runs, 85.0, np.nan)).astype("Float64")
    out["cpuMaxPercent"] = pd.array(np.where(sampled & runs, 100.0, np.nan)).astype("Float64")
    return out


def metrics(df: pd.DataFrame, *, interval: float = INTERVAL) -> pd.DataFrame:
    """Each worker's samples every ``interval`` seconds from its first action to its last.

    Memory used is 10% of the total when idle, and while an action runs, its peak share (as in
    :func:`resources`; 100% for a run killed with 137). CPU is 90% during task runs, 5% otherwise.
    """
    with_peaks = resources(df, interval=1.0)  # every action's peak, however short
    totals = worker_totals(df)
    start = with_peaks["startedAt"]
    end = with_peaks["endedAt"].fillna(with_peaks["workerUpdatedAt"])
    parts = []
    for worker, total in totals.items():
        mine = with_peaks["workerId"].astype(object) == worker
        first, last = start[mine].min(), end[mine].max()
        if pd.isna(first) or pd.isna(last):
            continue
        times = pd.date_range(first, last, freq=pd.Timedelta(seconds=interval))
        used = np.full(len(times), 0.10 * total)
        cpu = np.full(len(times), 5.0)
        for row in np.flatnonzero(mine.to_numpy() & start.notna().to_numpy()):
            inside = (times >= start.iloc[row]) & (times <= end.iloc[row])
            value = with_peaks["memPeakBytes"].iloc[row]
            peak = 0.0 if pd.isna(value) else float(value)  # shorter than a second
            used[inside] = np.maximum(used[inside], peak)
            if with_peaks["actionType"].iloc[row] == "taskRun":
                cpu[inside] = 90.0
        parts.append(
            pd.DataFrame(
                {
                    "farmId": with_peaks["farmId"].iloc[0],
                    "fleetId": with_peaks.loc[mine, "fleetId"].iloc[0],
                    "workerId": worker,
                    "timestamp": times,
                    "cpuPercent": cpu,
                    "memTotalBytes": total,
                    "memUsedBytes": used.astype(np.int64),
                    "memUsedPercent": 100.0 * used / total,
                    "swapUsedBytes": 0,
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[])
    return typed(frame)


def typed(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with exactly the metrics frame's columns and dtypes."""
    if not len(frame):
        return schema.empty_frame(schema.METRIC_COLUMNS)
    # Figures this helper does not make (disk, network, GPU) are missing, as on a host whose
    # agent did not log them.
    out = pd.DataFrame(
        {
            name: (
                frame[name] if name in frame.columns else pd.Series(pd.NA, index=frame.index)
            ).astype(dtype)  # type: ignore[call-overload]
            for name, dtype in schema.METRIC_COLUMNS.items()
        }
    )
    return out.sort_values(["workerId", "timestamp"], kind="stable", ignore_index=True)


def many_metrics(
    workers: int, samples: int, *, start: pd.Timestamp, interval: float = INTERVAL, seed: int = 0
) -> pd.DataFrame:
    """``workers`` x ``samples`` random-walk samples from ``start``, built with NumPy."""
    rng = np.random.default_rng(seed)
    names = [f"worker-{i:032x}" for i in range(workers)]
    base = start.value + (np.arange(samples) * interval * 1e9).astype(np.int64)
    steps = rng.normal(0.0, 2.0, size=(workers, samples))
    percent = np.clip(40.0 + np.cumsum(steps, axis=1), 0.0, 100.0).ravel()
    total = 64 * GIB
    frame = pd.DataFrame(
        {
            "farmId": "farm-0",
            "fleetId": "fleet-0",
            "workerId": np.repeat(names, samples),
            "timestamp": pd.to_datetime(np.tile(base, workers), utc=True),
            "cpuPercent": np.clip(rng.normal(70.0, 20.0, workers * samples), 0.0, 100.0),
            "memTotalBytes": total,
            "memUsedBytes": (percent / 100.0 * total).astype(np.int64),
            "memUsedPercent": percent,
            "swapUsedBytes": 0,
        }
    )
    return typed(frame)
