"""plot_timeline: what ran where and when, one rectangle per attempted action."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import tzinfo
from typing import Any, Final

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.colors import to_rgba as mpl_rgba
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, Locator

from .. import schema
from ..errors import bad_argument, check_one_of
from ..frames.access import (
    LANES,
    NAT,
    action_lanes,
    column_codes,
    effective_ends,
    utc_ns,
)
from ..text import short_labels
from .shared import (
    Hue,
    Palette,
    datenum,
    empty_axes,
    hue_groups,
    legend,
    new_axes,
    remember_jobs,
    rgba,
    time_axis,
    time_zone,
)

__all__ = ["plot_timeline"]

#: What a timeline can colour by (``hue=``), the default first.
_TIMELINE_HUES: Final = ("status", "actionType", "step")

#: Rectangle height of each action type in a timeline lane: task runs fill the lane, syncs and
#: environment actions are thinner, so that setup time reads apart from rendering at a glance.
_HEIGHTS: Final[Mapping[str, float]] = {
    "taskRun": 0.8,
    "syncInputJobAttachments": 0.5,
    "envEnter": 0.3,
    "envExit": 0.3,
    "unknown": 0.5,
}
_SESSION_BAND: Final = "0.93"  # a neutral backdrop, not a data colour: the session's span
# Above this many actions a timeline's rectangles are rasterized in SVG and PDF output: a vector
# file with a million paths is unusable, and at that density a bitmap loses nothing.
_RASTERIZE_ABOVE: Final = 20_000
# Up to this many actions, rectangles get a hairline outline (see _draw_timeline).
_OUTLINE_BELOW: Final = 2_000

#: What the strips under a timeline can show (``strips=``), each from the metrics frame.
_STRIPS: Final[Mapping[str, str]] = {"memory": "Memory used (%)", "cpu": "CPU (%)"}
_STRIP_INCHES: Final = 0.9  # each strip's height, about, whatever the timeline's
_STRIP_GAP: Final = 0.12  # inches between the lanes and a strip, and between strips
# Samples kept per worker across the time axis: two per bin (its lowest and its highest, in
# time order), 1,500 bins, about one per pixel of a strip on a 1920-pixel slide. A week of
# samples a minute is 10,000 per worker; drawing all of them costs seconds and shows nothing
# more, and a peak is never lost.
_STRIP_BINS: Final = 1_500
# A break in a worker's line where samples are further apart than this many of its usual
# intervals (or than 10 minutes): a worker that stopped is not drawn as if it idled at a level.
_GAP_INTERVALS: Final = 3.0
_GAP_FLOOR_NS: Final = 600 * 10**9
#: Memory used (%) from which a worker's line is drawn in the failed colour, on top.
_MEMORY_HIGH: Final = 95.0
_STRIP_COLOR: Final = "0.25"


class _LaneLocator(Locator):
    """Ticks on lanes, as many as fit: every lane when there is room, else every k-th.

    Decided at draw time from the Axes' height, so the same Axes reads well in a notebook, in a
    tall figure of 200 workers, and at slide size in :func:`save_figure`.
    """

    def __init__(self, count: int, fontsize: float) -> None:
        self.count = count
        self.fontsize = fontsize

    def __call__(self) -> Sequence[float]:
        assert self.axis is not None
        vmin, vmax = self.axis.get_view_interval()
        return self.tick_values(vmin, vmax)

    def tick_values(self, vmin: float, vmax: float) -> Sequence[float]:
        lo, hi = sorted((vmin, vmax))
        first, last = max(0, math.ceil(lo)), min(self.count - 1, math.floor(hi))
        if last < first:
            return []
        fit = len(range(first, last + 1))
        axes = getattr(self.axis, "axes", None)
        if isinstance(axes, Axes):
            points = axes.bbox.height * 72.0 / axes.figure.dpi
            fit = max(1, int(points // (self.fontsize * 1.3)))
        step = max(1, math.ceil((last - first + 1) / fit))
        return [float(i) for i in range(first, last + 1, step)]


def plot_timeline(
    df: pd.DataFrame,
    *,
    lanes: str = "worker",
    hue: str | None = None,
    color: Any = None,
    palette: Palette | None = None,
    tz: str | tzinfo = "UTC",
    metrics: pd.DataFrame | None = None,
    strips: str | Sequence[str] = "memory",
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Draw what ran where and when: one lane per worker, one rectangle per attempted action.

    Task runs fill their lane; attachment syncs and environment enter/exit are thinner. A failed
    attempt is marked with a cross at its end; an action still running is drawn up to the
    worker's last update and marked with an open-ended arrow. Each session's span is shaded
    behind its actions, so idle time inside a session reads apart from an idle worker.

    Parameters
    ----------
    df
        A session-action frame; ``workerId`` (from :func:`deadline_nb.load_job`) is needed for
        worker lanes, ``stepName`` gives step names.
    lanes
        ``"worker"``, ``"session"`` or ``"step"``. Without ``workerId``, worker lanes fall back to
        session lanes with one :class:`~deadline_nb.errors.DataWarning`.
    hue
        Colour rectangles by ``"status"`` (the default), ``"actionType"`` or ``"step"``.
    color
        One matplotlib colour. Without ``hue``, every rectangle is drawn in it; with ``hue``,
        the hue's groups are drawn in shades of it, light to full (as seaborn's categorical
        plots do). Failed and running marks keep their status colours.
    palette
        Colours of the hue's groups: a colormap name, a list of colours in the legend's order,
        or a mapping of hue values to colours (values it does not name keep their usual colour).
        Wins over ``color``.
    tz
        Time zone of the time axis: ``"UTC"``, ``"local"`` or an IANA name.
    metrics
        Worker host metrics (``job.metrics``, :data:`deadline_nb.schema.METRIC_COLUMNS`), or
        ``None``. Given, a strip under the lanes shares their time axis and draws one thin line
        per worker of the timeline: memory used (% of the worker's total) and/or CPU (%). Many
        lines overlap in a strip that stays a few rows high at 100 workers, and that is the
        point: the crowd shows what is usual, and a worker that reaches the ceiling stands out
        above it (memory lines from 95% are drawn in the failed colour, on top, and counted).
        Each line keeps every sample's peak at the slide's resolution and breaks where the
        worker logged nothing for a while.
    strips
        ``"memory"``, ``"cpu"``, or both in the order wanted (``["memory", "cpu"]``).
    ax
        The Axes to draw on; a new figure (taller with more lanes) when ``None``. Strips take
        the bottom of its place in the figure's grid.
    **kwargs
        Passed to the rectangles' :class:`~matplotlib.collections.PolyCollection` (``alpha``...).

    Returns
    -------
    matplotlib.axes.Axes
        The rectangles are the collection with gid ``"actions"``, one path per attempted action.
        Strips are Axes of the same figure under it, sharing its x axis, with gid ``"memory"``
        or ``"cpu"``; each holds a :class:`~matplotlib.collections.LineCollection` with gid
        ``"workers"``, one path per worker.

    Raises
    ------
    ValueError
        When ``metrics`` lacks the columns a strip reads, or ``strips`` names no strip.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm.model import JOBS, FarmModel
    >>> from deadline_nb.plots import plot_timeline
    >>> model = FarmModel(seed=0)
    >>> df = dnb.session_action_frame(
    ...     model.session_actions(model.job_by_name(JOBS["failing"]).job_id))
    >>> ax = plot_timeline(df, lanes="session", tz="Europe/London")
    >>> rectangles = next(c for c in ax.collections if c.get_gid() == "actions")
    >>> len(rectangles.get_paths()) == int(df["startedAt"].notna().sum())
    True
    >>> ax = plot_timeline(df, lanes="session", color="tab:gray")  # everything in one colour
    >>> plt.close("all")
    """
    check_one_of("lanes", lanes, LANES)
    coloring = hue_groups(df, hue, color, palette, _TIMELINE_HUES)
    zone, zone_name = time_zone(tz)
    chosen = _strip_names(strips, metrics)
    data = _timeline_data(df, lanes, coloring)
    height = min(max(2.0 + 0.16 * len(data.labels), 4.0), 40.0)
    ax = new_axes(ax, (11.0, height + (_STRIP_INCHES + _STRIP_GAP) * len(chosen)))
    remember_jobs(ax, df)
    _draw_timeline(ax, data, zone, zone_name, kwargs)
    if metrics is not None and chosen and len(data.lane):
        _draw_strips(ax, metrics, _timeline_workers(df), chosen, zone, zone_name)
    return ax


class _Timeline:
    """What a timeline draws, computed once (vectorised) from the frame."""

    def __init__(self) -> None:
        self.kind = "worker"
        self.labels: list[str] = []
        self.lane = np.zeros(0, dtype=np.int64)
        self.x0 = np.zeros(0)
        self.x1 = np.zeros(0)
        self.height = np.zeros(0)
        self.colors = np.zeros((0, 4))
        self.failed = np.zeros(0, dtype=bool)
        self.open = np.zeros(0, dtype=bool)
        self.legend: list[tuple[str, Any]] = []
        self.legend_title: str | None = None
        self.bands = np.zeros((0, 3))  # lane, x0, x1 of each session


def _timeline_data(df: pd.DataFrame, lanes: str, coloring: Hue) -> _Timeline:
    out = _Timeline()
    # user -> plot_timeline -> here -> lane_codes -> warn: the warning points at the user's line
    lane_codes, lane_names, out.kind = action_lanes(df, lanes, stacklevel=4)
    start, end, open_end = effective_ends(df)
    rows = np.flatnonzero(start != NAT)
    if not len(rows):
        return out
    lane_codes = lane_codes[rows]
    if (lane_codes < 0).any():
        # actions whose worker (or step) is unknown get a lane of their own rather than vanish
        lane_codes = np.where(lane_codes < 0, len(lane_names), lane_codes)
        lane_names = [*lane_names, "(unknown)"]
    # Lanes in order of their first action, like a task stream: the job's ramp-up reads top down;
    # ties by name. Vectorised: a frame with thousands of session lanes sorts in milliseconds.
    first = pd.Series(start[rows]).groupby(lane_codes).min()
    used = first.index.to_numpy()
    used_names = np.array([lane_names[u] for u in used], dtype=object)
    order = np.lexsort((np.argsort(np.argsort(used_names, kind="stable")), first.to_numpy()))
    position = np.full(len(lane_names), -1, dtype=np.int64)
    position[used[order]] = np.arange(len(order))
    out.lane = position[lane_codes]
    out.labels = short_labels(used_names[order].tolist())
    out.x0 = datenum(start[rows])
    out.x1 = datenum(end[rows])
    types, type_names = column_codes(df, "actionType", schema.ACTION_TYPES)
    heights = np.array([_HEIGHTS.get(t, 0.5) for t in type_names] + [0.5])
    out.height = heights[np.where(types[rows] < 0, len(type_names), types[rows])]
    out.colors = rgba(coloring.codes[rows], coloring.colors)
    if coloring.title is not None:
        present = np.unique(coloring.codes[rows])
        out.legend = [(coloring.names[c], coloring.colors[c]) for c in present if c >= 0]
        out.legend_title = coloring.title
    status_codes, status_names = column_codes(df, "status")
    failed_code = status_names.index("FAILED") if "FAILED" in status_names else -2
    out.failed = status_codes[rows] == failed_code
    out.open = open_end[rows]
    if out.kind != "step":
        sessions = column_codes(df, "sessionId")[0][rows]
        spans = pd.DataFrame({"s": sessions, "lane": out.lane, "a": out.x0, "b": out.x1})
        grouped = spans.groupby(["s", "lane"]).agg(a=("a", "min"), b=("b", "max")).reset_index()
        out.bands = grouped[["lane", "a", "b"]].to_numpy(dtype=np.float64)
    return out


def _rectangles(lane: np.ndarray, x0: np.ndarray, x1: np.ndarray, height: np.ndarray) -> np.ndarray:
    """(N, 4, 2) vertices of rectangles centred on their lanes."""
    verts = np.empty((len(lane), 4, 2))
    y0, y1 = lane - height / 2.0, lane + height / 2.0
    verts[:, 0, 0] = verts[:, 1, 0] = x0
    verts[:, 2, 0] = verts[:, 3, 0] = x1
    verts[:, 0, 1] = verts[:, 3, 1] = y0
    verts[:, 1, 1] = verts[:, 2, 1] = y1
    return verts


def _verts(*args: np.ndarray) -> Any:
    # An (N, 4, 2) array, not the list of polygons the stubs name: PolyCollection builds its
    # paths several times faster from one array.
    return _rectangles(*args)


def _draw_timeline(
    ax: Axes, data: _Timeline, tz: tzinfo, tz_name: str, kwargs: Mapping[str, Any]
) -> Axes:
    ylabel = data.kind.capitalize()
    n = len(data.lane)
    if n == 0:
        return empty_axes(ax, "Timeline", f"Time ({tz_name})", ylabel, "No attempted actions")
    big = n > _RASTERIZE_ABOVE
    if len(data.bands):
        bands = PolyCollection(
            _verts(
                data.bands[:, 0], data.bands[:, 1], data.bands[:, 2], np.full(len(data.bands), 0.9)
            ),
            facecolors=_SESSION_BAND,
            edgecolors="none",
            linewidths=0,
            zorder=1,
            gid="sessions",
            rasterized=big,
        )
        ax.add_collection(bands, autolim=False)
    # A hairline of the background between neighbours keeps back-to-back frames apart while they
    # are wide enough to see; with many thousands it would only grey the picture.
    few = n <= _OUTLINE_BELOW
    rects = PolyCollection(
        _verts(data.lane.astype(np.float64), data.x0, data.x1, data.height),
        facecolors=data.colors,
        edgecolors="white" if few else "none",
        linewidths=0.5 if few else 0,
        # antialiasing a hundred thousand sub-pixel rectangles costs time and only blurs them
        antialiaseds=not big,
        zorder=2,
        gid="actions",
        rasterized=big,
        **kwargs,
    )
    ax.add_collection(rects, autolim=False)
    handles: list[Any] = [Patch(facecolor=c, label=name) for name, c in data.legend]
    if data.failed.any():
        ax.scatter(
            data.x1[data.failed],
            data.lane[data.failed],
            marker="X",
            s=50,
            linewidths=0.8,
            # white rim: the mark stays visible on the failed rectangle's own colour
            edgecolors="white",
            color=schema.STATUS_COLORS["FAILED"],
            zorder=4,
            gid="failed",
            rasterized=big,
        )
        handles.append(
            Line2D(
                [],
                [],
                marker="X",
                linestyle="",
                markeredgecolor="white",
                color=schema.STATUS_COLORS["FAILED"],
                label="failed attempt",
            )
        )
    if data.open.any():
        ax.scatter(
            data.x1[data.open],
            data.lane[data.open],
            marker=">",
            s=30,
            color=schema.STATUS_COLORS["RUNNING"],
            zorder=4,
            gid="open",
        )
        handles.append(
            Line2D(
                [],
                [],
                marker=">",
                linestyle="",
                color=schema.STATUS_COLORS["RUNNING"],
                label="running (last update)",
            )
        )
    handles.append(Patch(facecolor=_SESSION_BAND, label="session span"))
    legend(ax, handles, data.legend_title)
    lo, hi = float(np.nanmin(data.x0)), float(np.nanmax(data.x1))
    pad = (hi - lo) * 0.01 or 1.0 / 1440.0  # a lone zero-length action still gets a minute
    ax.set_xlim(lo - pad, hi + pad)
    count = len(data.labels)
    ax.set_ylim(count - 0.5, -0.5)  # first lane at the top
    fontsize = 8.0 if count <= 40 else 7.0
    labels = data.labels
    ax.yaxis.set_major_locator(_LaneLocator(count, fontsize))
    ax.yaxis.set_major_formatter(
        FuncFormatter(lambda v, _pos: labels[round(v)] if 0 <= round(v) < count else "")
    )
    ax.tick_params(axis="y", labelsize=fontsize, length=0)
    time_axis(ax, tz, tz_name)
    ax.set_ylabel(ylabel)
    kind = {"worker": "workers", "session": "sessions", "step": "steps"}[data.kind]
    ax.set_title(f"Timeline: {n:,} actions on {count:,} {kind}")
    return ax


# ---------------------------------------------------------------------------------------------
# memory and CPU strips under the lanes


def _strip_names(strips: str | Sequence[str], metrics: pd.DataFrame | None) -> tuple[str, ...]:
    """The strips asked for, checked, and the metrics columns they read, checked."""
    names = (strips,) if isinstance(strips, str) else tuple(strips)
    if not names:
        raise bad_argument("strips", f"name strips among {list(_STRIPS)}", strips)
    for name in names:
        check_one_of("strips", name, tuple(_STRIPS))
    if metrics is None:
        return ()
    needed = {"workerId", "timestamp"}
    if "cpu" in names:
        needed.add("cpuPercent")
    if "memory" in names and "memUsedPercent" not in metrics.columns:
        needed |= {"memUsedBytes", "memTotalBytes"}
    missing = sorted(needed - set(metrics.columns))
    if missing:
        raise ValueError(
            f"The frame for `metrics` has no `{missing[0]}` column: pass a metrics frame "
            "(job.metrics, or deadline_nb.metrics_frame), one row per sample of a worker."
        )
    return tuple(dict.fromkeys(names))


def _timeline_workers(df: pd.DataFrame) -> set[str] | None:
    """The workers of the timeline's actions; ``None`` (every worker) when it has none."""
    if "workerId" not in df.columns:
        return None
    started = utc_ns(df, "startedAt") != NAT
    workers = {str(w) for w in df["workerId"][started].dropna().unique()}
    return workers or None


def _floats(values: object) -> np.ndarray:
    """A column as float64, NaN where missing or not a number."""
    out = pd.to_numeric(pd.Series(values), errors="coerce").astype("Float64")
    return np.asarray(out.to_numpy(dtype=np.float64, na_value=np.nan))


def _strip_values(metrics: pd.DataFrame, name: str) -> np.ndarray:
    """The strip's figure of each sample, float64 with NaN where the agent had none."""
    if name == "cpu":
        return _floats(metrics["cpuPercent"])
    if "memUsedPercent" in metrics.columns:
        percent = _floats(metrics["memUsedPercent"])
    else:
        percent = np.full(len(metrics), np.nan)
    missing = np.flatnonzero(~np.isfinite(percent))
    if len(missing) and {"memUsedBytes", "memTotalBytes"} <= set(metrics.columns):
        # The percentage from the bytes, where the agent gave those and not it.
        used = _floats(metrics["memUsedBytes"].iloc[missing])
        total = _floats(metrics["memTotalBytes"].iloc[missing])
        with np.errstate(divide="ignore", invalid="ignore"):
            percent[missing] = np.where(total > 0, 100.0 * used / total, np.nan)
    return percent


class _Lines:
    """One line per worker: vertices (NaN rows break a line), names, highest value of each."""

    def __init__(self, paths: list[np.ndarray], workers: list[str], highest: np.ndarray) -> None:
        self.paths = paths
        self.workers = workers
        self.highest = highest


def _worker_lines(
    codes: np.ndarray, names: list[str], ns: np.ndarray, values: np.ndarray, lo: float, hi: float
) -> _Lines:
    """Each worker's samples as a line of date numbers, decimated to the time axis' resolution.

    Vectorised over all workers at once, in passes over the arrays and no sort when the frame
    is in its contract's order (by worker, then time): 50 workers x 10,000 samples take tens
    of milliseconds.
    """
    x = datenum(ns)
    keep = (codes >= 0) & (ns != NAT) & (x >= lo) & (x <= hi)
    codes, ns, x, values = codes[keep], ns[keep], x[keep], values[keep]
    if not len(codes):
        return _Lines([], [], np.zeros(0))
    new_worker = np.r_[True, codes[1:] != codes[:-1]]
    step = np.r_[0, np.diff(ns)]
    if np.bincount(codes[new_worker]).max() > 1 or (step[~new_worker] < 0).any():
        order = np.lexsort((ns, codes))  # not grouped by worker, or not in time order
        codes, ns, x, values = codes[order], ns[order], x[order], values[order]
        new_worker = np.r_[True, codes[1:] != codes[:-1]]
        step = np.r_[0, np.diff(ns)]
    usual = float(np.median(step[~new_worker])) if (~new_worker).any() else 0.0
    gap = step > max(_GAP_INTERVALS * usual, _GAP_FLOOR_NS)
    valid = np.isfinite(values)
    # A line's pieces: a new one at each worker, after each gap, after each sample with no value.
    piece = np.cumsum(new_worker | gap | np.r_[False, ~valid[:-1]])
    codes, x, values, piece = codes[valid], x[valid], values[valid], piece[valid]
    if not len(codes):
        return _Lines([], [], np.zeros(0))
    # Per (piece, bin of the time axis), in time order: its lowest and its highest sample. The
    # samples of a group are consecutive (pieces and bins both follow time), so each pass is a
    # reduceat over the groups' runs.
    scale = _STRIP_BINS / max(hi - lo, 1e-12)
    bins = np.minimum(((x - lo) * scale).astype(np.int64), _STRIP_BINS)
    group = piece * (_STRIP_BINS + 1) + bins
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    if len(starts) < len(group):  # some group has more than one sample: keep two of each
        lengths = np.diff(np.r_[starts, len(group)])
        index = np.arange(len(group))
        beyond = len(group)
        lowest = np.minimum.reduceat(values, starts)
        highest = np.maximum.reduceat(values, starts)
        at_low = np.where(values == np.repeat(lowest, lengths), index, beyond)
        at_high = np.where(values == np.repeat(highest, lengths), index, beyond)
        first = np.minimum.reduceat(at_low, starts)
        second = np.minimum.reduceat(at_high, starts)
        pair = np.column_stack([np.minimum(first, second), np.maximum(first, second)]).ravel()
        chosen = pair[np.r_[True, pair[1:] != pair[:-1]]]  # one sample when lowest is highest
        codes, x, values, piece = codes[chosen], x[chosen], values[chosen], piece[chosen]
    # NaN rows between pieces of one worker break its line without another path.
    breaks = np.flatnonzero((piece[1:] != piece[:-1]) & (codes[1:] == codes[:-1])) + 1
    verts = np.column_stack([x, values])
    if len(breaks):
        verts = np.insert(verts, breaks, np.nan, axis=0)
        codes = np.insert(codes, breaks, codes[breaks])
    firsts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    paths = np.split(verts, firsts[1:])
    top = np.fmax.reduceat(verts[:, 1], firsts)
    return _Lines(paths, [names[c] for c in codes[firsts]], top)


def _draw_strips(
    ax: Axes,
    metrics: pd.DataFrame,
    workers: set[str] | None,
    names: tuple[str, ...],
    tz: tzinfo,
    tz_name: str,
) -> None:
    codes, worker_names = column_codes(metrics, "workerId")
    if workers is not None:
        # Only the timeline's workers: a fleet's metrics may hold many more.
        wanted = np.array([w in workers for w in worker_names] + [False])
        codes = np.where(wanted[np.where(codes < 0, len(worker_names), codes)], codes, -1)
    ns = utc_ns(metrics, "timestamp")
    lo, hi = ax.get_xlim()
    strip_axes = _strip_axes(ax, len(names))
    for strip, name in zip(strip_axes, names, strict=True):
        strip.set_gid(name)
        lines = _worker_lines(codes, worker_names, ns, _strip_values(metrics, name), lo, hi)
        _draw_strip(strip, name, lines)
    # The time axis moves under the last strip: the lanes and the upper strips share it.
    for upper in (ax, *strip_axes[:-1]):
        upper.tick_params(axis="x", labelbottom=False)
        upper.set_xlabel("")
    time_axis(strip_axes[-1], tz, tz_name)


def _strip_axes(ax: Axes, count: int) -> list[Axes]:
    """``count`` Axes under ``ax``, sharing its time axis, each about ``_STRIP_INCHES`` high.

    A subplot (any Axes of ``plt.subplots``, ``fig.add_subplot``...) gives up the bottom of its
    grid cell: the strips are subplots of the same figure, so a constrained layout places their
    labels like any other. An Axes placed by hand (``fig.add_axes``) keeps its place and gets
    the strips as insets under it.
    """
    fig = ax.get_figure()
    assert fig is not None
    inches = max(ax.bbox.height / fig.dpi, 1.0)
    spec = ax.get_subplotspec()
    if spec is not None:
        grid = spec.subgridspec(
            count + 1,
            1,
            height_ratios=[inches, *([_STRIP_INCHES] * count)],
            # hspace is a fraction of the grid's mean height: a gap of _STRIP_GAP inches
            hspace=_STRIP_GAP * (count + 1) / (inches + _STRIP_INCHES * count),
        )
        ax.set_subplotspec(grid[0])
        return [fig.add_subplot(grid[k + 1], sharex=ax) for k in range(count)]
    height, gap = _STRIP_INCHES / inches, _STRIP_GAP / inches
    return [
        ax.inset_axes((0.0, -(k + 1) * (height + gap), 1.0, height), sharex=ax)
        for k in range(count)
    ]


def _draw_strip(strip: Axes, name: str, lines: _Lines) -> None:
    strip.set_ylim(0.0, max(100.0, float(np.nanmax(lines.highest)) if len(lines.paths) else 0.0))
    strip.set_yticks([0.0, 50.0, 100.0])
    strip.tick_params(axis="y", labelsize=7.0)
    strip.set_ylabel(_STRIPS[name].replace(" (", "\n("), fontsize=8.0)
    if not lines.paths:
        strip.text(
            0.5,
            0.5,
            "No samples of these workers",
            transform=strip.transAxes,
            ha="center",
            va="center",
            color="0.4",
            fontsize="small",
            gid="empty",
        )
        return
    count = len(lines.paths)
    # Thin and faint when many overlap: the crowd reads as a band, an outlier as a line.
    alpha = float(np.clip(6.0 / count, 0.2, 0.9))
    colors = np.tile(np.array(mpl_rgba(_STRIP_COLOR, alpha)), (count, 1))
    order = np.arange(count)
    high = np.zeros(count, dtype=bool)
    if name == "memory":
        high = lines.highest >= _MEMORY_HIGH
        colors[high] = mpl_rgba(schema.STATUS_COLORS["FAILED"], 0.9)
        order = np.r_[np.flatnonzero(~high), np.flatnonzero(high)]  # the high ones on top
    segments: Any = [lines.paths[i] for i in order]  # (N, 2) arrays; the stubs name a list
    collection = LineCollection(
        segments,
        colors=colors[order],
        linewidths=0.6 if count > 20 else 0.9,
        zorder=2,
        gid="workers",
    )
    strip.add_collection(collection, autolim=False)
    note = f"{count:,} {'worker' if count == 1 else 'workers'}"
    if high.any():
        note += f"; {int(high.sum()):,} reached {_MEMORY_HIGH:.0f}%"
    strip.text(
        1.01,
        0.5,
        note,
        transform=strip.transAxes,
        ha="left",
        va="center",
        fontsize="small",
        color=schema.STATUS_COLORS["FAILED"] if high.any() else "0.35",
        gid="note",
    )
