"""plot_memory: each task run's peak memory per frame, against its worker's total."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from .. import schema
from ..errors import bad_argument
from ..frames.access import NAT, column_codes, column_strings, step_labels, utc_ns
from .shared import (
    Hue,
    Palette,
    empty_axes,
    hue_groups,
    legend,
    new_axes,
    parameter_values,
    remember_jobs,
    rgba,
)

__all__ = ["plot_memory"]

#: What a memory plot can colour by (``hue=``), the default first.
_MEMORY_HUES: Final = ("status", "step")
# The exit code of a process killed by SIGKILL (128 + 9), as a shell reports it: on a render node
# that is almost always the kernel's out-of-memory killer.
_KILLED: Final = 137
_GIB: Final = float(2**30)
_TOTAL_COLOR: Final = "0.25"
# Totals within this of each other are one line: the same instance type reports a few MiB more
# or less from one boot to the next, and 100 lines of one size would only thicken one line.
_SAME_TOTAL_GIB: Final = 0.5
# Up to this many markers, each gets a white rim (see _draw_memory).
_OUTLINE_BELOW: Final = 2_000


def plot_memory(
    df: pd.DataFrame,
    *,
    parameter: str = "Frame",
    step: str | None = None,
    hue: str | None = None,
    color: Any = None,
    palette: Palette | None = None,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Draw each task run's peak memory per frame, with the worker's total memory as a line.

    One marker per task run that started (first attempts round, retries triangles), coloured by
    its status. A run that ended with exit code 137 (SIGKILL, usually the out-of-memory killer)
    is a cross with a dark rim, listed as "killed (137)": an out-of-memory kill reads as a
    cross on the dashed line of its worker's total. A chunk (``"1-10"``) is placed at its first
    frame. Runs whose worker logged no sample while they ran (``metricSamples`` 0: shorter than
    the agent's sampling interval) are not drawn as zero: they are left out and counted in a
    note under the legend.

    Parameters
    ----------
    df
        A resources frame (``job.resources``, :func:`deadline_nb.resource_frame`): the actions
        frame with :data:`deadline_nb.schema.RESOURCE_COLUMNS` appended.
    parameter
        The task parameter on the x axis. Integer values are placed as numbers; other text is
        placed in order of first appearance.
    step
        Only this step's task runs, by name or id; ``None`` for every step.
    hue
        Colour markers by ``"status"`` (the default, the schema's colours) or ``"step"``. Failed
        runs keep a rim in the failed colour when coloured by step.
    color
        One matplotlib colour: every marker in it without ``hue``, shades of it with ``hue``.
    palette
        Colours of the hue's groups (a colormap name, a list, or a mapping); wins over ``color``.
    ax
        The Axes to draw on, or ``None`` for a new figure.
    **kwargs
        Passed to the markers' ``scatter`` (``alpha``, ``s``...).

    Returns
    -------
    matplotlib.axes.Axes
        Markers are the collections with gid ``"attempts"``, ``"retries"`` and ``"killed"``
        (y in GiB); totals are the lines with gid ``"total"``; the note of runs left out is
        the text with gid ``"unsampled"``.

    Raises
    ------
    ValueError
        When the frame has task runs but no resource columns or no ``param.<parameter>``
        column, or ``step`` names no step of the frame.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import pandas as pd
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm.model import JOBS, FarmModel
    >>> from deadline_nb.plots import plot_memory
    >>> model = FarmModel(seed=0)
    >>> df = dnb.session_action_frame(
    ...     model.session_actions(model.job_by_name(JOBS["failing"]).job_id))
    >>> # One sample every 3 minutes of each action; a peak of 20 GiB, 64 GiB when killed.
    >>> samples = (df["duration"].dt.total_seconds() // 180).astype("Int64").fillna(0)
    >>> killed = (df["processExitCode"] == 137).fillna(False)
    >>> df = df.assign(
    ...     metricSamples=samples,
    ...     memTotalBytes=pd.array([64 * 2**30] * len(df), dtype="Int64"),
    ...     memPeakBytes=pd.array(killed.map({True: 64, False: 20}) * 2**30, dtype="Int64"),
    ... )
    >>> ax = plot_memory(df)
    >>> [line.get_ydata()[0] for line in ax.lines if line.get_gid() == "total"]
    [64.0]
    >>> next(t.get_text() for t in ax.texts if t.get_gid() == "unsampled")
    '7 runs too short to sample'
    >>> plt.close("all")
    """
    column = f"{schema.PARAMETER_PREFIX}{parameter}"
    types = column_strings(df, "actionType").to_numpy()
    runs = np.flatnonzero((types == "taskRun") & (utc_ns(df, "startedAt") != NAT))
    if step is not None and len(df):
        runs = runs[_in_step(df, step)[runs]]
    if len(runs):
        missing = [c for c in ("metricSamples", "memPeakBytes") if c not in df.columns]
        if missing:
            raise ValueError(
                f"The frame has no `{missing[0]}` column: plot_memory reads a resources frame "
                "(job.resources, or deadline_nb.resource_frame(actions, metrics)), which adds "
                "each action's memory to the actions frame."
            )
        if column not in df.columns:
            names = sorted(
                c[len(schema.PARAMETER_PREFIX) :]
                for c in df.columns
                if c.startswith(schema.PARAMETER_PREFIX)
            )
            raise bad_argument(
                "parameter", f"be one of the frame's task parameters {names}", parameter
            )
    coloring = hue_groups(df.iloc[runs], hue, color, palette, _MEMORY_HUES)
    ax = new_axes(ax)
    remember_jobs(ax, df)
    return _draw_memory(ax, df.iloc[runs], coloring, column, parameter, hue, kwargs)


def _in_step(df: pd.DataFrame, step: str) -> np.ndarray:
    """Whether each action is of ``step`` (a name or an id); the error names the steps known."""
    names = step_labels(df).to_numpy()
    ids = column_strings(df, "stepId").to_numpy()
    chosen = (names == step) | (ids == step)
    if not chosen.any():
        known = sorted({str(n) for n in names if n is not None})
        raise bad_argument("step", f"name one of the frame's steps {known}", step)
    return np.asarray(chosen, dtype=bool)


def _note(short: int, unmeasured: int, unplaced: int, parameter: str) -> str:
    """The sentence saying which runs are not drawn, and why."""
    parts = [
        f"{n:,} {'run' if n == 1 else 'runs'} {why}"
        for n, why in (
            (short, "too short to sample"),
            (unmeasured, "without memory figures"),
            (unplaced, f"without a {parameter}"),
        )
        if n
    ]
    return "; ".join(parts)


def _numbers(sub: pd.DataFrame, column: str) -> np.ndarray:
    """A numeric column as float64, NaN where missing or absent."""
    if column not in sub.columns:
        return np.full(len(sub), np.nan)
    values = sub[column]
    if not pd.api.types.is_numeric_dtype(values.dtype):
        values = pd.to_numeric(values, errors="coerce")
    return np.asarray(values.to_numpy(dtype=np.float64, na_value=np.nan))


def _attempts(sub: pd.DataFrame) -> np.ndarray:
    """Each run's attempt of its task, 0 for the first, in start order (vectorised)."""
    codes, _ = pd.factorize(sub["taskId"]) if "taskId" in sub.columns else (None, None)
    if codes is None:
        return np.zeros(len(sub), dtype=np.int64)
    codes = np.asarray(codes, dtype=np.int64)
    # a run without a task id is its own task
    codes = np.where(codes < 0, codes.max(initial=-1) + 1 + np.arange(len(sub)), codes)
    order = np.lexsort((utc_ns(sub, "startedAt"), codes))
    grouped = codes[order]
    starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
    position = np.arange(len(sub)) - np.repeat(starts, np.diff(np.r_[starts, len(sub)]))
    attempt = np.empty(len(sub), dtype=np.int64)
    attempt[order] = position
    return attempt


def _draw_memory(
    ax: Axes,
    sub: pd.DataFrame,
    coloring: Hue,
    column: str,
    parameter: str,
    hue: str | None,
    kwargs: Mapping[str, Any],
) -> Axes:
    title = f"Peak memory per {parameter}"
    ylabel = "Peak memory (GiB)"
    if not len(sub):
        return empty_axes(ax, title, parameter, ylabel, "No task runs")
    samples = _numbers(sub, "metricSamples")
    peak = _numbers(sub, "memPeakBytes") / _GIB
    total = _numbers(sub, "memTotalBytes") / _GIB
    short = samples == 0
    measured = (samples > 0) & np.isfinite(peak)
    frames, labels = parameter_values(sub[column])
    x = np.array([f[0] if f else np.nan for f in frames], dtype=np.float64)
    placed = measured & np.isfinite(x)
    note = _note(
        int(short.sum()),
        int((~short & ~measured).sum()),
        int((measured & ~placed).sum()),
        parameter,
    )
    if not placed.any():
        message = "No task run was sampled" + (f": {note}" if note else "")
        return empty_axes(ax, title, parameter, ylabel, message)
    status_codes, status_names = column_codes(sub, "status", schema.STATUSES)
    failed = status_codes == (status_names.index("FAILED") if "FAILED" in status_names else -2)
    exit_codes = _numbers(sub, "processExitCode")
    killed = exit_codes == _KILLED
    # Attempt of each task in start order: a retry is a later attempt of the same task.
    attempt = _attempts(sub)
    colors = rgba(coloring.codes, coloring.colors)
    by_status = coloring.title == "Status"
    # A white rim keeps touching markers apart while they are few enough to see; with many
    # thousands it costs seconds to draw and only greys the picture. Coloured by step, a failure
    # keeps its status colour as a rim, so failures still read as failures.
    few = int(placed.sum()) <= _OUTLINE_BELOW
    rimmed = failed if not by_status else np.zeros(len(sub), dtype=bool)
    edges = rgba(np.where(rimmed, 1, 0), ["white", _failed_color()])
    widths = np.where(rimmed, 1.0, 0.5 if few else 0.0)
    for gid, chosen, marker, size in (
        ("attempts", placed & ~killed & (attempt == 0), "o", 26),
        ("retries", placed & ~killed & (attempt > 0), "^", 36),
        ("killed", placed & killed, "X", 80),
    ):
        if not chosen.any():
            continue
        width = widths[chosen]
        options: dict[str, Any] = {
            "c": colors[chosen],
            "marker": marker,
            "s": size,
            "zorder": 4 if gid == "killed" else 3,
            "gid": gid,
            "edgecolors": "0.1" if gid == "killed" else edges[chosen],
            # one width for all when it is one: matplotlib draws that many times faster
            "linewidths": 1.0
            if gid == "killed"
            else (float(width[0]) if (width == width[0]).all() else width),
        }
        ax.scatter(x[chosen], peak[chosen], **{**options, **kwargs})
    handles: list[Any] = [
        Line2D([], [], marker="o", linestyle="", color=coloring.colors[c], label=coloring.names[c])
        for c in sorted(set(coloring.codes[placed].tolist()))
        if c >= 0
    ]
    if (placed & ~killed & (attempt > 0)).any():
        handles.append(Line2D([], [], marker="^", linestyle="", color="0.4", label="retry"))
    if not by_status and (placed & failed).any():
        handles.append(
            Line2D(
                [],
                [],
                marker="o",
                linestyle="",
                markerfacecolor="white",
                markeredgecolor=_failed_color(),
                label="failed",
            )
        )
    if (placed & killed).any():
        handles.append(
            Line2D(
                [],
                [],
                marker="X",
                markersize=9,
                linestyle="",
                # the markers' own colour when by status; by step, they take their step's
                color=_failed_color() if by_status else "0.6",
                markeredgecolor="0.1",
                label=f"killed ({_KILLED})",
            )
        )
    top = float(np.nanmax(peak[placed]))
    lines = _totals(total[placed])
    for value in lines:
        ax.axhline(value, color=_TOTAL_COLOR, linestyle="--", linewidth=1.0, zorder=2, gid="total")
        ax.annotate(
            f"{value:,.3g} GiB",
            xy=(1.0, value),
            xycoords=("axes fraction", "data"),
            xytext=(-2, 2),
            textcoords="offset points",
            ha="right",
            va="bottom",
            fontsize="small",
            color=_TOTAL_COLOR,
        )
        top = max(top, value)
    if lines:
        handles.append(
            Line2D([], [], color=_TOTAL_COLOR, linestyle="--", label="worker's total memory")
        )
    legend(ax, handles, coloring.title)
    if note:
        # Under the legend, outside the data: the runs left out are not zeros on the plot.
        ax.text(
            1.01,
            0.0,
            note,
            transform=ax.transAxes,
            ha="left",
            va="bottom",
            fontsize="small",
            color="0.35",
            wrap=True,
            gid="unsampled",
        )
    if labels:
        ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize="small")
    ax.set_ylim(bottom=0, top=top * 1.1 or 1.0)
    ax.margins(x=0.02)
    ax.set_xlabel(parameter)
    ax.set_ylabel(ylabel)
    count = int(placed.sum())
    kills = int((placed & killed).sum())
    ax.set_title(
        f"{title}: {count:,} task runs"
        + (f", {kills:,} killed (exit code {_KILLED})" if kills else "")
    )
    return ax


def _failed_color() -> str:
    return schema.STATUS_COLORS["FAILED"]


def _totals(gib: np.ndarray) -> list[float]:
    """The distinct totals (GiB) of the workers drawn: one per group of near-equal totals."""
    values = np.sort(gib[np.isfinite(gib)])
    if not len(values):
        return []
    # A new group where the next total is clearly larger; each group's line at its largest.
    breaks = np.flatnonzero(np.diff(values) > _SAME_TOTAL_GIB)
    return [float(v) for v in values[np.append(breaks, len(values) - 1)]]
