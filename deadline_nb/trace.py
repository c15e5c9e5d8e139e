"""Chrome / Perfetto trace export: a job's timeline for the trace viewers, at any size.

A picture of 1,000,000 actions shows the shape of a job but not one action; a trace viewer
(https://ui.perfetto.dev, or ``chrome://tracing``) zooms from the whole job down to a 2-second
environment exit and shows every field on click. :func:`to_chrome_trace` writes the Trace Event
Format's JSON: one process per fleet (or one for the job), one thread (track) per worker (or per
session, without ``workerId``), one complete event (``"ph": "X"``) per attempted action.

Pure: pandas and the standard library, no matplotlib.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import schema
from .errors import check_one_of
from .frames.access import (
    LANES,
    NAT,
    action_lanes,
    column_codes,
    column_strings,
    effective_ends,
    step_labels,
)

__all__ = ["to_chrome_trace"]


# The viewers' reserved colour names (Chrome's tracing only; Perfetto colours by name).
_CNAME = {"FAILED": "terrible", "CANCELED": "bad", "INTERRUPTED": "bad", "RECLAIMED": "bad"}


def to_chrome_trace(
    df: pd.DataFrame, path: str | os.PathLike[str], *, lanes: str = "worker"
) -> Path:
    """Write a job's session actions as a Chrome/Perfetto trace (JSON, gzipped for ``.gz``).

    Open the file in https://ui.perfetto.dev (drag and drop) or ``chrome://tracing``. Each
    attempted action is one slice on its worker's track, named by its step and parameters (or
    its type), with the action's id, status, exit code, step and session in its arguments.
    A running action lasts up to the worker's last update; never-attempted actions, which have
    no times, are left out.

    Parameters
    ----------
    df
        A session-action frame; ``workerId`` and ``fleetId`` (from
        :func:`deadline_nb.load_job`) give tracks per worker grouped by fleet.
    path
        The file to write (``.json``; ``.json.gz`` is gzipped, which both viewers open).
    lanes
        ``"worker"`` (falls back to sessions, with a warning, without ``workerId``),
        ``"session"`` or ``"step"``.

    Returns
    -------
    pathlib.Path
        The path written.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm.model import JOBS, FarmModel
    >>> from deadline_nb.trace import to_chrome_trace
    >>> model = FarmModel(seed=0)
    >>> df = dnb.session_action_frame(
    ...     model.session_actions(model.job_by_name(JOBS["failing"]).job_id))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = to_chrome_trace(df, pathlib.Path(tmp) / "job.json", lanes="session")
    ...     events = json.loads(out.read_text())["traceEvents"]
    >>> sum(e["ph"] == "X" for e in events) == int(df["startedAt"].notna().sum())
    True
    """
    check_one_of("lanes", lanes, LANES)
    path = Path(path)
    events = _events(df, lanes)
    opener: Any = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8") as out:
        # Written event by event: a million events never exist as one JSON string in memory.
        out.write('{"displayTimeUnit": "ms", "traceEvents": [\n')
        for i, event in enumerate(events):
            if i:
                out.write(",\n")
            out.write(json.dumps(event, separators=(",", ":")))
        out.write("\n]}\n")
    return path


def _events(df: pd.DataFrame, lanes: str) -> Iterator[dict[str, Any]]:
    """Metadata events (process and thread names), then one complete event per action."""
    # user -> to_chrome_trace -> generator body -> lane_codes -> warn
    lane_codes, lane_names, kind = action_lanes(df, lanes, stacklevel=4)
    start, end, open_end = effective_ends(df)
    rows = np.flatnonzero(start != NAT)
    if lanes == "worker" and kind == "worker" and "fleetId" in df.columns:
        fleet_codes, fleet_names = column_codes(df, "fleetId")
    else:
        fleet_codes, fleet_names = np.full(len(df), -1, dtype=np.int64), []
    job = column_strings(df, "jobId").dropna()
    job_name = f"job {job.iloc[0]}" if len(job) else "job"
    pids = [*fleet_names, job_name if not fleet_names else "(no fleet)"]
    pid_of = np.where(fleet_codes < 0, len(fleet_names), fleet_codes)
    tid_of = np.where(lane_codes < 0, len(lane_names), lane_codes)
    names = [*lane_names, "(unknown)"]
    seen: set[tuple[int, int]] = set()
    for pid, tid in zip(pid_of[rows].tolist(), tid_of[rows].tolist(), strict=True):
        seen.add((pid, tid))
    for pid in sorted({p for p, _ in seen}):
        yield {"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "args": {"name": pids[pid]}}
    for pid, tid in sorted(seen):
        yield {
            "ph": "M",
            "name": "thread_name",
            "pid": pid,
            "tid": tid,
            "args": {"name": names[tid]},
        }
        yield {
            "ph": "M",
            "name": "thread_sort_index",
            "pid": pid,
            "tid": tid,
            "args": {"sort_index": tid},
        }
    if not len(rows):
        return
    columns = _event_columns(df, rows)
    ts = start[rows] // 1000  # the format counts microseconds
    dur = np.maximum((end[rows] - start[rows]) // 1000, 0)
    for i, row in enumerate(rows.tolist()):
        status = columns["status"][i]
        event: dict[str, Any] = {
            "ph": "X",
            "name": columns["name"][i],
            "cat": columns["type"][i] or "unknown",
            "ts": int(ts[i]),
            "dur": int(dur[i]),
            "pid": int(pid_of[row]),
            "tid": int(tid_of[row]),
            "args": {k: v[i] for k, v in columns["args"].items() if v[i] is not None},
        }
        if open_end[row]:
            event["args"]["open"] = "running; ends at the worker's last update"
        if status in _CNAME:
            event["cname"] = _CNAME[status]
        yield event


def _event_columns(df: pd.DataFrame, rows: np.ndarray) -> dict[str, Any]:
    """Per-event names and arguments, as Python lists, read column by column."""
    sub = df.iloc[rows]
    types = column_strings(sub, "actionType").tolist()
    steps = step_labels(sub).tolist()
    params = [c for c in sub.columns if c.startswith(schema.PARAMETER_PREFIX)]
    param_values = {
        c[len(schema.PARAMETER_PREFIX) :]: column_strings(sub, c).tolist() for c in params
    }
    names = []
    for i, action_type in enumerate(types):
        values = " ".join(f"{k}={v[i]}" for k, v in param_values.items() if v[i] is not None)
        if action_type == "taskRun":
            names.append(" ".join(p for p in (steps[i], values) if p) or "taskRun")
        else:
            names.append(str(action_type or "unknown"))
    codes = sub["processExitCode"] if "processExitCode" in sub.columns else None
    exit_codes = (
        [None if pd.isna(c) else int(c) for c in codes] if codes is not None else [None] * len(sub)
    )
    progress = (
        [None if pd.isna(p) else float(p) for p in sub["progressPercent"]]
        if "progressPercent" in sub.columns
        else [None] * len(sub)
    )
    args: dict[str, list[Any]] = {
        "sessionActionId": column_strings(sub, "sessionActionId").tolist(),
        "status": column_strings(sub, "status").tolist(),
        "processExitCode": exit_codes,
        "step": steps,
        "taskId": column_strings(sub, "taskId").tolist(),
        "sessionId": column_strings(sub, "sessionId").tolist(),
        "environmentId": column_strings(sub, "environmentId").tolist(),
        "progressPercent": progress,
        "progressMessage": column_strings(sub, "progressMessage").tolist(),
        **{f"param.{k}": v for k, v in param_values.items()},
    }
    return {"name": names, "type": types, "status": args["status"], "args": args}
