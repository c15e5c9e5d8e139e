"""plot_timeline: what ran where and when, one rectangle per attempted action."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import tzinfo
from typing import Any, Final

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, Locator

from .. import schema
from ..errors import check_one_of
from ..frames.access import (
    LANES,
    NAT,
    action_lanes,
    column_codes,
    effective_ends,
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
    ax
        The Axes to draw on; a new figure (taller with more lanes) when ``None``.
    **kwargs
        Passed to the rectangles' :class:`~matplotlib.collections.PolyCollection` (``alpha``...).

    Returns
    -------
    matplotlib.axes.Axes
        The rectangles are the collection with gid ``"actions"``, one path per attempted action.

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
    data = _timeline_data(df, lanes, coloring)
    ax = new_axes(ax, (11.0, min(max(2.0 + 0.16 * len(data.labels), 4.0), 40.0)))
    remember_jobs(ax, df)
    return _draw_timeline(ax, data, zone, zone_name, kwargs)


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
