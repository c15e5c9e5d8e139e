"""plot_progress: running actions with ETAs, tasks completed over time, or snapshots."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo
from typing import Any, Final

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D

from .. import schema
from ..errors import check_one_of
from ..frames.access import (
    NAT,
    column_strings,
    effective_ends,
    step_labels,
    utc_ns,
)
from ..summary import Completion
from ..text import format_seconds, short_id
from .shared import (
    MISSING_COLOR,
    datenum,
    empty_axes,
    legend,
    new_axes,
    remember_jobs,
    time_axis,
    time_zone,
)

__all__ = ["plot_progress"]

_PROGRESS_KINDS: Final = ("auto", "running", "completed", "snapshots")


def plot_progress(
    df: pd.DataFrame,
    *,
    kind: str = "auto",
    snapshots: pd.DataFrame | None = None,
    tasks: int | None = None,
    tz: str | tzinfo = "UTC",
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Draw how far along a job is: running actions with ETAs, completed tasks, or snapshots.

    ``kind="running"``: one bar per running action, its ``progressPercent`` as of the worker's
    last update, labelled with an ETA: the rate so far (percent over the time since the action
    started) carried on to 100%.

    ``kind="completed"``: the job's tasks completed over time (and failed attempts), against the
    number of tasks; while tasks remain, a dashed projection at the recent rate gives the job's ETA.

    ``kind="snapshots"``: each action's progress over time from the cache's progress snapshots
    (the worker reports progress only on its heartbeat, so a curve exists only where a fetch
    sampled it), from its start to its end.

    ``kind="auto"``: snapshots when given, else running actions when there are any, else completed.

    Parameters
    ----------
    df
        A session-action frame.
    kind
        ``"auto"``, ``"running"``, ``"completed"`` or ``"snapshots"``.
    snapshots
        Progress snapshots (the columns of :data:`deadline_nb.schema.SNAPSHOT_COLUMNS`).
    tasks
        The job's number of tasks, for ``kind="completed"`` (``len(job.tasks)``, or the sum of
        the job's ``taskRunStatusCounts``). A running job's frame holds only the tasks a worker
        has taken so far; without it, those are all that is counted and projected.
    tz
        Time zone of the time axis and of ETAs.
    ax
        The Axes to draw on, or ``None`` for a new figure.
    **kwargs
        Passed to the bars, the step line, or the line collection.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm.model import JOBS, FarmModel
    >>> from deadline_nb.plots import plot_progress
    >>> model = FarmModel(seed=0, start=1_800_000_000.0)
    >>> job = model.job_by_name(JOBS["running"])
    >>> df = dnb.session_action_frame(model.session_actions(job.job_id, at=1_800_000_000.0))
    >>> ax = plot_progress(df, kind="running")
    >>> sum("ETA" in t.get_text() for t in ax.texts) == int((df["status"] == "RUNNING").sum())
    True
    >>> plt.close("all")
    """
    check_one_of("kind", kind, _PROGRESS_KINDS)
    zone, zone_name = time_zone(tz)
    open_end = effective_ends(df)[2]
    if kind == "auto":
        if snapshots is not None and len(snapshots):
            kind = "snapshots"
        elif open_end.any():
            kind = "running"
        else:
            kind = "completed"
    ax = new_axes(ax)
    remember_jobs(ax, df)
    if kind == "running":
        return _draw_running(ax, df, zone, zone_name, kwargs)
    if kind == "completed":
        return _draw_completed(ax, df, zone, zone_name, kwargs, tasks)
    return _draw_snapshots(ax, df, snapshots, zone, zone_name, kwargs)


def _action_labels(df: pd.DataFrame) -> list[str]:
    """Short labels of actions: step, parameters and worker (or session)."""
    steps = step_labels(df).to_numpy()
    params = [c for c in df.columns if c.startswith(schema.PARAMETER_PREFIX)]
    types = column_strings(df, "actionType").to_numpy()
    where = column_strings(df, "workerId" if "workerId" in df.columns else "sessionId").to_numpy()
    out = []
    for i in range(len(df)):
        parts = [str(steps[i]) if steps[i] is not None else str(types[i])]
        values = [
            f"{c[len(schema.PARAMETER_PREFIX) :]}={df[c].iloc[i]}"
            for c in params
            if pd.notna(df[c].iloc[i])
        ]
        if values:
            parts.append(" ".join(values))
        elif types[i] != "taskRun":
            parts.append(str(types[i]))
        if where[i] is not None:
            parts.append(short_id(str(where[i])))
        out.append(" · ".join(parts))
    return out


def _clock(ns: int, tz: tzinfo) -> str:
    return pd.Timestamp(ns, unit="ns", tz="UTC").tz_convert(tz).strftime("%Y-%m-%d %H:%M:%S")


def _draw_running(
    ax: Axes, df: pd.DataFrame, tz: tzinfo, tz_name: str, kwargs: Mapping[str, Any]
) -> Axes:
    start, end, open_end = effective_ends(df)
    rows = np.flatnonzero(open_end)
    title = "Running actions"
    if not len(rows):
        return empty_axes(ax, title, "Progress (%)", "Action", "No running actions")
    sub = df.iloc[rows]
    percent = (
        sub["progressPercent"].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
        if "progressPercent" in sub.columns
        else np.full(len(rows), np.nan)
    )
    percent = np.clip(np.nan_to_num(percent, nan=0.0), 0.0, 100.0)
    started, updated = start[rows], end[rows]
    elapsed = (updated - started).astype(np.float64)
    y = np.arange(len(rows))
    ax.barh(y, 100.0, color=schema.STATUS_COLORS["NEVER_ATTEMPTED"], height=0.7, zorder=1)
    ax.barh(
        y,
        percent,
        color=schema.STATUS_COLORS["RUNNING"],
        height=0.7,
        zorder=2,
        gid="progress",
        **kwargs,
    )
    for i in range(len(rows)):
        if percent[i] > 0 and elapsed[i] > 0:
            remaining = elapsed[i] * (100.0 - percent[i]) / percent[i]
            eta = int(updated[i] + remaining)
            text = (
                f"{percent[i]:.0f}% · ETA {_clock(eta, tz)[11:]} "
                f"(in {format_seconds(remaining / 1e9)})"
            )
        else:
            text = f"{percent[i]:.0f}% · ETA unknown (no progress yet)"
        # inside the axes, over the bar's unfinished part: text outside would be cut off
        ax.text(
            99.0,
            y[i],
            text,
            ha="right",
            va="center",
            fontsize="small",
            bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "pad": 1.5},
            zorder=3,
        )
    ax.set_yticks(y, _action_labels(sub), fontsize="small")
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlim(0, 100)
    ax.set_xlabel("Progress (%)")
    ax.set_ylabel("Action")
    ax.set_title(f"{title}: {len(rows)} as of {_clock(int(updated.max()), tz)} ({tz_name})")
    return ax


def _draw_completed(
    ax: Axes,
    df: pd.DataFrame,
    tz: tzinfo,
    tz_name: str,
    kwargs: Mapping[str, Any],
    tasks_in_job: int | None = None,
) -> Axes:
    title = "Tasks completed"
    progress = Completion(df, tasks_in_job)
    done_at, failed_at, total = progress.done_at, progress.failed_at, progress.total
    if not len(done_at) and not len(failed_at):
        return empty_axes(ax, title, f"Time ({tz_name})", "Tasks", "No finished task runs")
    first, asof = progress.first, progress.asof
    x_done = datenum(np.concatenate([[first], done_at, [asof]]))
    y_done = np.concatenate([[0], np.arange(1, len(done_at) + 1), [len(done_at)]])
    ax.step(
        x_done,
        y_done,
        where="post",
        color=schema.STATUS_COLORS["SUCCEEDED"],
        label=f"succeeded ({len(done_at):,})",
        gid="completed",
        **kwargs,
    )
    if len(failed_at):
        x_failed = datenum(np.concatenate([[first], failed_at, [asof]]))
        y_failed = np.concatenate([[0], np.arange(1, len(failed_at) + 1), [len(failed_at)]])
        ax.step(
            x_failed,
            y_failed,
            where="post",
            color=schema.STATUS_COLORS["FAILED"],
            label=f"failed attempts ({len(failed_at):,})",
            gid="failed",
        )
    ax.axhline(total, color="0.5", linestyle=":", linewidth=1, label=f"{total:,} tasks")
    eta = progress.eta
    if eta is not None:
        ax.plot(
            datenum(np.array([asof, eta])),
            [len(done_at), total],
            color=schema.STATUS_COLORS["RUNNING"],
            linestyle="--",
            gid="projection",
            label=f"ETA {_clock(eta, tz)}",
        )
    ax.set_ylim(0, total * 1.08 or 1)
    ax.set_ylabel("Tasks")
    time_axis(ax, tz, tz_name)
    pct = len(done_at) / total if total else 0.0
    ax.set_title(f"{title}: {len(done_at):,} of {total:,} ({pct:.0%})")
    ax.legend(loc="upper left", fontsize="small", frameon=False)
    return ax


def _draw_snapshots(
    ax: Axes,
    df: pd.DataFrame,
    snapshots: pd.DataFrame | None,
    tz: tzinfo,
    tz_name: str,
    kwargs: Mapping[str, Any],
) -> Axes:
    title = "Progress of each action"
    if snapshots is None or not len(snapshots):
        return empty_axes(ax, title, f"Time ({tz_name})", "Progress (%)", "No progress snapshots")
    # The worker's own time of each report where the snapshot has it; else when it was seen.
    when = utc_ns(snapshots, "workerUpdatedAt")
    observed = utc_ns(snapshots, "observedAt")
    when = np.where(when == NAT, observed, when)
    percent = (
        snapshots["progressPercent"].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    )
    ids = column_strings(snapshots, "sessionActionId").to_numpy()
    points = pd.DataFrame({"id": ids, "t": when, "p": percent})
    points = points[(points["t"] != NAT) & points["p"].notna() & points["id"].notna()]
    status_of: dict[str, str] = dict(
        zip(ids, column_strings(snapshots, "status").to_numpy(), strict=True)
    )
    if len(df) and "sessionActionId" in df.columns:
        start = effective_ends(df)[0]
        frame_ids = column_strings(df, "sessionActionId").to_numpy()
        statuses = column_strings(df, "status").to_numpy()
        wanted = np.isin(frame_ids, points["id"].unique())
        ended = utc_ns(df, "endedAt")
        extra = [
            pd.DataFrame({"id": frame_ids[wanted], "t": start[wanted], "p": 0.0}),
            pd.DataFrame(
                {
                    "id": frame_ids[wanted],
                    "t": ended[wanted],
                    "p": np.where(statuses[wanted] == "SUCCEEDED", 100.0, np.nan),
                }
            ),
        ]
        status_of.update(zip(frame_ids[wanted], statuses[wanted], strict=True))
        points = pd.concat([points, *extra], ignore_index=True)
        # a failed action ends where it was last seen, not at 100%
        points = points[(points["t"] != NAT)]
        points["p"] = points.groupby("id")["p"].transform(lambda s: s.ffill())
        points = points.dropna()
    if not len(points):
        return empty_axes(ax, title, f"Time ({tz_name})", "Progress (%)", "No progress snapshots")
    points = points.sort_values(["id", "t"], kind="stable")
    lines, colors, seen = [], [], []
    for action_id, group in points.groupby("id", sort=False):
        xy = np.column_stack([datenum(group["t"].to_numpy()), group["p"].to_numpy()])
        lines.append(xy)
        status = status_of.get(str(action_id)) or "RUNNING"
        colors.append(schema.STATUS_COLORS.get(status, MISSING_COLOR))
        seen.append(status)
    collection = LineCollection(lines, colors=colors, linewidths=1.2, gid="snapshots", **kwargs)
    ax.add_collection(collection)
    ax.autoscale_view()
    ax.set_ylim(0, 105)
    time_axis(ax, tz, tz_name)
    ax.set_ylabel("Progress (%)")
    ax.set_title(f"{title}: {len(lines):,} actions, {len(snapshots):,} snapshots")
    legend(
        ax,
        [
            Line2D([], [], color=schema.STATUS_COLORS.get(s, MISSING_COLOR), label=s)
            for s in schema.STATUSES
            if s in seen
        ],
        "Status",
    )
    return ax
