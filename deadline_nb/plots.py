"""Plots of a job's session actions for investigations and postmortems, with matplotlib.

Every plot keeps seaborn's contract: ``plot_x(df, *, ..., ax=None, **kwargs) -> Axes``. It draws
on ``ax`` (or on a new figure), returns the Axes, never calls ``plt.show()``, never fetches, and
draws an empty, labelled Axes for a frame with no rows (or nothing to show) instead of raising.
``**kwargs`` go to the main artist (the collection, the bars, the lines).

* Colour options keep seaborn's names and meanings: ``hue=`` colours by a column (``"status"``,
  ``"actionType"``, ``"step"``), ``color=`` is one matplotlib colour (everything in it without
  ``hue``; shades of it for the hue's groups with ``hue``), ``palette=`` gives the groups' colours
  (a colormap name, a list, or a mapping of hue values to colours) and wins over ``color``.
  ``lanes=`` picks a timeline's rows. A wrong value raises
  :func:`deadline_nb.errors.bad_argument`'s error, which names the argument.
* Default colours come from :mod:`deadline_nb.schema` (``STATUS_COLORS``, ``ACTION_TYPE_COLORS``),
  the same in every plot; steps take a qualitative colormap in the order they first appear.
* Times: ``tz="UTC"`` (the default), ``"local"`` (this machine's zone) or an IANA name such as
  ``"Europe/London"``; the frame's times may be in any zone (or naive, read as UTC).
* Big frames are drawn as collections (one ``PolyCollection`` of rectangles for a timeline, not
  one artist per action): a 100,000-action timeline draws and saves in about a second.
* Frames from :func:`deadline_nb.load_job` carry ``stepName``, ``workerId`` and ``fleetId``; a frame
  straight from :func:`deadline_nb.session_action_frame` has none, and a plot that needs them falls
  back (lanes by session instead of by worker; steps by id instead of name) with one
  :class:`~deadline_nb.errors.DataWarning`.
* No global ``rcParams`` are changed; :func:`save_figure` restores the figure's size after saving.
"""

from __future__ import annotations

import math
import weakref
import zoneinfo
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone, tzinfo
from pathlib import Path
from typing import Any, Final

import matplotlib as mpl
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure, SubFigure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, Locator

from . import schema
from .errors import bad_argument, check_one_of
from .frames.access import (
    NAT,
    action_lanes,
    column_codes,
    column_strings,
    effective_ends,
    session_time_ns,
    step_labels,
    utc_ns,
)
from .summary import Completion, exit_code_name
from .text import format_seconds, short_id, short_labels

__all__ = [
    "plot_concurrency",
    "plot_durations",
    "plot_exit_codes",
    "plot_frame_times",
    "plot_progress",
    "plot_status",
    "plot_timeline",
    "save_figure",
]

#: What each plot can colour by (``hue=``), its default first.
_LANES: Final = ("worker", "session", "step")
_TIMELINE_HUES: Final = ("status", "actionType", "step")
_DURATIONS_HUES: Final = ("step", "actionType")
_CONCURRENCY_HUES: Final = ("actionType", "status", "step")
_HUE_TITLES: Final[Mapping[str, str]] = {"status": "Status", "actionType": "Action", "step": "Step"}
_PROGRESS_KINDS: Final = ("auto", "running", "completed", "snapshots")

#: Rectangle height of each action type in a timeline lane: task runs fill the lane, syncs and
#: environment actions are thinner, so that setup time reads apart from rendering at a glance.
_HEIGHTS: Final[Mapping[str, float]] = {
    "taskRun": 0.8,
    "syncInputJobAttachments": 0.5,
    "envEnter": 0.3,
    "envExit": 0.3,
    "unknown": 0.5,
}
_MISSING_COLOR: Final = schema.ACTION_TYPE_COLORS["unknown"]
_SESSION_BAND: Final = "0.93"  # a neutral backdrop, not a data colour: the session's span
_NS_PER_DAY: Final = 86_400e9
# Above this many actions a timeline's rectangles are rasterized in SVG and PDF output: a vector
# file with a million paths is unusable, and at that density a bitmap loses nothing.
_RASTERIZE_ABOVE: Final = 20_000
# Up to this many actions, rectangles get a hairline outline (see _draw_timeline).
_OUTLINE_BELOW: Final = 2_000
# Above this many change points, concurrency is sampled on a regular grid of this many times.
_CONCURRENCY_POINTS: Final = 4_000
#: save_figure's default: 1920 x 1080 pixels, 16:9, text legible when projected.
SLIDE_SIZE: Final[tuple[float, float]] = (12.8, 7.2)
SLIDE_DPI: Final[int] = 150

# Job ids drawn on each Axes, for save_figure's metadata. Weak: a closed figure is forgotten.
_JOBS_ON: weakref.WeakKeyDictionary[Axes, tuple[str, ...]] = weakref.WeakKeyDictionary()


# ---------------------------------------------------------------------------------------------
# arguments, axes, times


def _tzinfo(tz: str | tzinfo) -> tuple[tzinfo, str]:
    """``tz`` -> (tzinfo, the name shown on the axis)."""
    if isinstance(tz, tzinfo):
        return tz, str(tz)
    if tz == "UTC":
        return timezone.utc, "UTC"
    if tz == "local":
        local = datetime.now().astimezone().tzinfo
        from dateutil import tz as dateutil_tz  # matplotlib's own dependency

        return dateutil_tz.tzlocal(), f"local, {local}"
    if isinstance(tz, str):
        try:
            return zoneinfo.ZoneInfo(tz), tz
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    raise bad_argument(
        "tz", "be 'UTC', 'local' or an IANA time zone name such as 'Europe/London'", tz
    )


def _axes(ax: Axes | None, size: tuple[float, float] = (10.0, 5.0)) -> Axes:
    if ax is not None:
        return ax
    fig = plt.figure(figsize=size, layout="constrained")
    return fig.add_subplot()


def _remember_jobs(ax: Axes, df: pd.DataFrame) -> None:
    if "jobId" in df.columns and len(df):
        jobs = tuple(sorted(str(j) for j in pd.unique(df["jobId"].dropna().astype(object))))
        if jobs:
            _JOBS_ON[ax] = tuple(sorted({*_JOBS_ON.get(ax, ()), *jobs}))


def _datenum(ns: np.ndarray) -> np.ndarray:
    """int64 ns since the Unix epoch -> matplotlib date numbers (days), NaN where missing.

    Vectorised: ``mdates.date2num`` on a million Python datetimes takes seconds.
    """
    epoch = np.datetime64(mdates.get_epoch(), "ns").astype(np.int64)
    out = (ns.astype(np.float64) - float(epoch)) / _NS_PER_DAY
    out[ns == NAT] = np.nan
    return out


def _time_axis(ax: Axes, tz: tzinfo, tz_name: str, axis: str = "x") -> None:
    locator = mdates.AutoDateLocator(tz=tz)
    formatter = mdates.ConciseDateFormatter(locator, tz=tz)
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(locator)
    target.set_major_formatter(formatter)
    target.set_label_text(f"Time ({tz_name})")


def _empty(ax: Axes, title: str, xlabel: str, ylabel: str, message: str) -> Axes:
    """The empty-but-labelled Axes every plot draws when it has nothing to show."""
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.text(
        0.5,
        0.5,
        message,
        transform=ax.transAxes,
        ha="center",
        va="center",
        color="0.4",
        gid="empty",
    )
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def _legend(ax: Axes, handles: Sequence[Any], title: str | None = None) -> None:
    if handles:
        ax.legend(
            handles=list(handles),
            title=title,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            fontsize="small",
            frameon=False,
        )


def _status_palette(names: Sequence[str]) -> list[str]:
    return [schema.STATUS_COLORS.get(n, _MISSING_COLOR) for n in names]


def _type_palette(names: Sequence[str]) -> list[str]:
    return [schema.ACTION_TYPE_COLORS.get(n, _MISSING_COLOR) for n in names]


def _step_palette(names: Sequence[str]) -> list[str]:
    """One colour per step, in the order given: tab10, or tab20 beyond ten steps (then cycled)."""
    cmap = mpl.colormaps["tab10" if len(names) <= 10 else "tab20"]
    count = cmap.N
    return [mpl.colors.to_hex(cmap(i % count)) for i in range(len(names))]


def _rgba(codes: np.ndarray, palette: Sequence[str]) -> np.ndarray:
    """Codes (-1 for missing) -> an (N, 4) RGBA array, through a lookup table."""
    table = np.array([mpl.colors.to_rgba(c) for c in [*palette, _MISSING_COLOR]])
    return table[np.where(codes < 0, len(palette), codes)]


#: A palette as seaborn takes it: a colormap name, colours in the hue's order, or value -> colour.
Palette = str | Sequence[Any] | Mapping[str, Any]


class _Hue:
    """Each action's colour group (``codes``, -1 for missing), the groups' names and colours."""

    def __init__(
        self, codes: np.ndarray, names: list[str], colors: list[Any], title: str | None
    ) -> None:
        self.codes = codes
        self.names = names
        self.colors = colors
        self.title = title  # None: one colour for everything, no hue legend


def _one_color(color: object) -> tuple[float, float, float, float]:
    try:
        return mpl.colors.to_rgba(color)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        raise bad_argument(
            "color",
            "be one matplotlib colour such as 'C0' or '#1f77b4' (`hue` colours by a column)",
            color,
        ) from None


def _shades(color: tuple[float, float, float, float], count: int) -> list[Any]:
    """``count`` shades of ``color``, light to full, as seaborn's categorical plots make them."""
    rgb = np.array(color[:3])
    weights = np.linspace(0.35, 1.0, count) if count > 1 else np.ones(1)
    return [(*(1.0 - w * (1.0 - rgb)), color[3]) for w in weights]


def _palette_colors(palette: Palette, names: Sequence[str], default: Sequence[Any]) -> list[Any]:
    """``palette`` applied to the hue's ``names``; a mapping keeps the default for what it lacks."""
    must = "be a colormap name, a list of colours, or a mapping of hue values to colours"
    if isinstance(palette, Mapping):
        colors = [palette.get(name, default[i]) for i, name in enumerate(names)]
    elif isinstance(palette, str):
        if palette not in mpl.colormaps:
            raise bad_argument("palette", must, palette)
        cmap = mpl.colormaps[palette]
        # a qualitative map (tab10...) by its entries; a continuous one spread over its range
        if cmap.N <= 32:
            colors = [cmap(i % cmap.N) for i in range(len(names))]
        else:
            colors = [cmap(v) for v in np.linspace(0.0, 1.0, max(len(names), 1))][: len(names)]
    elif isinstance(palette, Sequence) and len(palette):
        colors = [palette[i % len(palette)] for i in range(len(names))]
    else:
        raise bad_argument("palette", must, palette)
    for c in colors:
        if not mpl.colors.is_color_like(c):
            raise bad_argument("palette", f"{must}; {c!r} is not a colour, so", palette)
    return colors


def _hue(
    df: pd.DataFrame,
    hue: str | None,
    color: object,
    palette: Palette | None,
    options: Sequence[str],
) -> _Hue:
    """How a plot colours its actions: seaborn's ``hue``, ``color`` and ``palette``.

    ``hue`` unset: by ``options[0]``, unless ``color`` is given, which then colours everything.
    Both given: the hue's groups in shades of ``color``. ``palette`` beats ``color`` for the groups.
    """
    if hue is not None:
        check_one_of("hue", hue, options)
    one = _one_color(color) if color is not None else None
    if hue is None and one is not None:
        return _Hue(np.zeros(len(df), dtype=np.int64), ["actions"], [one], None)
    hue = hue or options[0]
    if hue == "status":
        codes, names = column_codes(df, "status", schema.STATUSES)
        default = _status_palette(names)
    elif hue == "actionType":
        codes, names = column_codes(df, "actionType", schema.ACTION_TYPES)
        default = _type_palette(names)
    else:
        step_codes, uniques = pd.factorize(step_labels(df), use_na_sentinel=True)
        codes, names = np.asarray(step_codes, dtype=np.int64), [str(u) for u in uniques]
        default = _step_palette(names)
    return _Hue(codes, names, _group_colors(names, default, one, palette), _HUE_TITLES[hue])


def _group_colors(
    names: Sequence[str],
    default: Sequence[Any],
    one: tuple[float, float, float, float] | None,
    palette: Palette | None,
) -> list[Any]:
    """Colours of a hue's groups: ``palette``, else shades of the one ``color``, else default."""
    if palette is not None:
        return _palette_colors(palette, names, default)
    if one is not None:
        return _shades(one, len(names))
    return list(default)


def _seconds_unit(seconds: np.ndarray) -> tuple[float, str]:
    """A unit that keeps the numbers readable: seconds, minutes or hours."""
    top = float(np.nanmax(seconds)) if len(seconds) and np.isfinite(seconds).any() else 0.0
    if top >= 3 * 3600:
        return 3600.0, "h"
    if top >= 180:
        return 60.0, "min"
    return 1.0, "s"


# ---------------------------------------------------------------------------------------------
# plot_timeline


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
    check_one_of("lanes", lanes, _LANES)
    coloring = _hue(df, hue, color, palette, _TIMELINE_HUES)
    zone, zone_name = _tzinfo(tz)
    data = _timeline_data(df, lanes, coloring)
    ax = _axes(ax, (11.0, min(max(2.0 + 0.16 * len(data.labels), 4.0), 40.0)))
    _remember_jobs(ax, df)
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


def _timeline_data(df: pd.DataFrame, lanes: str, coloring: _Hue) -> _Timeline:
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
    out.x0 = _datenum(start[rows])
    out.x1 = _datenum(end[rows])
    types, type_names = column_codes(df, "actionType", schema.ACTION_TYPES)
    heights = np.array([_HEIGHTS.get(t, 0.5) for t in type_names] + [0.5])
    out.height = heights[np.where(types[rows] < 0, len(type_names), types[rows])]
    out.colors = _rgba(coloring.codes[rows], coloring.colors)
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
        return _empty(ax, "Timeline", f"Time ({tz_name})", ylabel, "No attempted actions")
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
    _legend(ax, handles, data.legend_title)
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
    _time_axis(ax, tz, tz_name)
    ax.set_ylabel(ylabel)
    kind = {"worker": "workers", "session": "sessions", "step": "steps"}[data.kind]
    ax.set_title(f"Timeline: {n:,} actions on {count:,} {kind}")
    return ax


# ---------------------------------------------------------------------------------------------
# plot_frame_times


def plot_frame_times(
    df: pd.DataFrame,
    *,
    parameter: str = "Frame",
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Draw the time each frame took, every attempt, with the slowest and fastest annotated.

    A chunk (a ``chunkInt`` value such as ``"1-10"``, read with ``openjd.model.IntRangeExpr``)
    shares its duration equally among its frames. Each attempt is a point coloured by its status
    (first attempts round, retries triangles); a line per step joins each frame's last attempt.

    Parameters
    ----------
    df
        A session-action frame with a ``param.<parameter>`` column; finished task runs are drawn.
    parameter
        The task parameter on the x axis. Integer values are placed as numbers; other text is
        placed in order of first appearance.
    ax
        The Axes to draw on, or ``None`` for a new figure.
    **kwargs
        Passed to the attempts' ``scatter``.

    Returns
    -------
    matplotlib.axes.Axes
        Attempts are the collections with gid ``"attempts"`` and ``"retries"``.

    Raises
    ------
    ValueError
        When the frame has task runs but no ``param.<parameter>`` column.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm.model import JOBS, FarmModel
    >>> from deadline_nb.plots import plot_frame_times
    >>> model = FarmModel(seed=0)
    >>> df = dnb.session_action_frame(
    ...     model.session_actions(model.job_by_name(JOBS["simulation"]).job_id))
    >>> ax = plot_frame_times(df)
    >>> sorted(t.get_text().split(":")[0] for t in ax.texts)
    ['fastest', 'slowest']
    >>> plt.close("all")
    """
    column = f"{schema.PARAMETER_PREFIX}{parameter}"
    types = column_strings(df, "actionType").to_numpy()
    runs = np.flatnonzero((types == "taskRun") & (utc_ns(df, "endedAt") != NAT))
    if len(runs) and column not in df.columns:
        names = sorted(
            c[len(schema.PARAMETER_PREFIX) :]
            for c in df.columns
            if c.startswith(schema.PARAMETER_PREFIX)
        )
        raise bad_argument("parameter", f"be one of the frame's task parameters {names}", parameter)
    ax = _axes(ax)
    _remember_jobs(ax, df)
    return _draw_frame_times(ax, df, runs, column, parameter, kwargs)


def _parameter_values(values: pd.Series) -> tuple[list[list[float]], list[str] | None]:
    """Each action's parameter value -> the frames it covers; text labels if not numbers."""
    from openjd.model import IntRangeExpr

    if pd.api.types.is_numeric_dtype(values.dtype):
        numbers = values.astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
        return [[v] if np.isfinite(v) else [] for v in numbers], None
    cache: dict[object, list[float] | None] = {}
    text = values.astype(object).where(values.notna(), None)
    for value in pd.unique(text):
        if value is None:
            cache[value] = []
            continue
        try:
            cache[value] = [float(f) for f in IntRangeExpr.from_str(str(value))]
        except Exception:  # not a range: openjd raises its own types, and ValueError
            cache[value] = None
    if all(v is not None for v in cache.values()):
        return [cache[v] or [] for v in text], None
    # Text that is not integers (a path, a shot name): categories in order of first appearance.
    labels = [str(v) for v in pd.unique(text) if v is not None]
    position = {label: float(i) for i, label in enumerate(labels)}
    return [[position[str(v)]] if v is not None else [] for v in text], labels


def _draw_frame_times(
    ax: Axes,
    df: pd.DataFrame,
    runs: np.ndarray,
    column: str,
    parameter: str,
    kwargs: Mapping[str, Any],
) -> Axes:
    title = f"Time per {parameter}"
    if not len(runs):
        return _empty(ax, title, parameter, "Time", "No finished task runs")
    sub = df.iloc[runs]
    frames, labels = _parameter_values(sub[column])
    counts = np.array([len(f) for f in frames])
    keep = counts > 0
    if not keep.any():
        return _empty(ax, title, parameter, "Time", f"No task run has a {parameter}")
    start = utc_ns(sub, "startedAt")
    seconds = (utc_ns(sub, "endedAt") - start) / 1e9
    x = np.concatenate([f for f in frames if f])
    expanded = np.repeat(np.arange(len(sub)), counts)
    share = (seconds / np.maximum(counts, 1))[expanded]
    status_codes, status_names = column_codes(sub, "status", schema.STATUSES)
    steps = step_labels(sub).to_numpy()[expanded]
    tasks = column_strings(sub, "taskId").to_numpy()[expanded]
    # Attempt number of each (task, frame) in start order: retries are later attempts.
    points = pd.DataFrame(
        {"x": x, "y": share, "start": start[expanded], "task": tasks, "step": steps}
    )
    points["task"] = points["task"].fillna(pd.Series(expanded, index=points.index).astype(str))
    points["step"] = points["step"].fillna("(no step)")
    points = points.sort_values("start", kind="stable")
    points["attempt"] = points.groupby(["task", "x"], sort=False).cumcount()
    points["code"] = status_codes[expanded][points.index.to_numpy()]
    unit, unit_name = _seconds_unit(points["y"].to_numpy())
    points["y"] = points["y"] / unit
    colors = _status_palette(status_names)
    for gid, chosen, marker in (
        ("attempts", points["attempt"] == 0, "o"),
        ("retries", points["attempt"] > 0, "^"),
    ):
        part = points[chosen]
        if len(part):
            ax.scatter(
                part["x"],
                part["y"],
                c=_rgba(part["code"].to_numpy(), colors),
                marker=marker,
                s=22 if marker == "o" else 34,
                zorder=3,
                gid=gid,
                **kwargs,
            )
    last = points.groupby(["step", "x"], sort=False).tail(1)
    step_names = list(dict.fromkeys(points["step"]))
    palette = _step_palette(step_names)
    for name, color in zip(step_names, palette, strict=True):
        line = last[last["step"] == name].sort_values("x")
        ax.plot(
            line["x"],
            line["y"],
            color=color,
            linewidth=1.0,
            alpha=0.8,
            zorder=2,
            label=name,
            gid="last-attempt",
        )
    # Annotate among successful frames when there are any: a failed attempt cut short is not
    # "the fastest frame".
    done = (
        last[last["code"] == status_names.index("SUCCEEDED")]
        if "SUCCEEDED" in status_names
        else last
    )
    done = done if len(done) else last
    for word, row, dy in (
        ("slowest", done.loc[done["y"].idxmax()], 14),
        ("fastest", done.loc[done["y"].idxmin()], -18),
    ):
        where = labels[int(row["x"])] if labels else f"{row['x']:g}"
        ax.annotate(
            f"{word}: {parameter} {where} ({format_seconds(row['y'] * unit)})",
            xy=(row["x"], row["y"]),
            xytext=(0, dy),
            textcoords="offset points",
            ha="center",
            fontsize="small",
            arrowprops={"arrowstyle": "-", "color": "0.4", "linewidth": 0.8},
            zorder=5,
        )
    handles: list[Any] = [
        Line2D([], [], marker="o", linestyle="", color=colors[c], label=status_names[c])
        for c in sorted(points["code"].unique())
        if c >= 0
    ]
    if (points["attempt"] > 0).any():
        handles.append(Line2D([], [], marker="^", linestyle="", color="0.4", label="retry"))
    if len(step_names) > 1:
        handles += [
            Line2D([], [], color=c, label=f"step {n}")
            for n, c in zip(step_names, palette, strict=True)
        ]
    _legend(ax, handles)
    if labels:
        ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize="small")
    ax.set_ylim(bottom=0, top=float(points["y"].max()) * 1.15 or 1.0)
    ax.margins(x=0.02)
    ax.set_xlabel(parameter)
    ax.set_ylabel(f"Time per {parameter.lower()} ({unit_name})")
    chunked = " (chunks shared among their frames)" if (counts > 1).any() else ""
    attempts = len(points)
    ax.set_title(f"{title}: {points['x'].nunique():,} values, {attempts:,} attempts{chunked}")
    return ax


# ---------------------------------------------------------------------------------------------
# plot_durations


def plot_durations(
    df: pd.DataFrame,
    *,
    hue: str | None = None,
    color: Any = None,
    palette: Palette | None = None,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Draw the distribution of finished actions' durations, with medians and 95th percentiles.

    One horizontal box per group: the box spans the quartiles, the whiskers the 5th to 95th
    percentiles, points beyond them are drawn; a bar marks the 95th percentile, and each group's
    label gives its count, median and p95. The time axis turns logarithmic when durations span
    more than two orders of magnitude (a 2 s environment exit next to a 40 min render).

    Parameters
    ----------
    df
        A session-action frame.
    hue
        ``"step"`` (the default): task runs, one box per step; ``"actionType"``: every action,
        one box per type.
    color
        One matplotlib colour. Without ``hue``, every box (one per step) is drawn in it; with
        ``hue``, the boxes are drawn in shades of it, light to full.
    palette
        Colours of the boxes: a colormap name, a list of colours in the boxes' order, or a
        mapping of steps (or action types) to colours. Wins over ``color``.
    ax
        The Axes to draw on, or ``None`` for a new figure.
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.boxplot`.

    Returns
    -------
    matplotlib.axes.Axes
        The p95 marks are the collection with gid ``"p95"``.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm.model import JOBS, FarmModel
    >>> from deadline_nb.plots import plot_durations
    >>> model = FarmModel(seed=0)
    >>> df = dnb.session_action_frame(
    ...     model.session_actions(model.job_by_name(JOBS["render"]).job_id))
    >>> ax = plot_durations(df, hue="actionType")
    >>> [t.get_text().split("\\n")[0] for t in ax.get_yticklabels()]
    ['envEnter (n=70)', 'envExit (n=70)', 'taskRun (n=240)', 'syncInputJobAttachments (n=35)']
    >>> plt.close("all")
    """
    if hue is not None:
        check_one_of("hue", hue, _DURATIONS_HUES)
    one = _one_color(color) if color is not None else None
    if palette is not None:
        _palette_colors(palette, [], [])  # a wrong palette is named even with nothing to draw
    ax = _axes(ax)
    _remember_jobs(ax, df)
    by = hue or _DURATIONS_HUES[0]
    # colour by the groups unless only `color` was given: then every box is drawn in it
    grouped = hue is not None or one is None
    return _draw_durations(ax, df, by, one, palette, grouped, kwargs)


def _draw_durations(
    ax: Axes,
    df: pd.DataFrame,
    by: str,
    one: tuple[float, float, float, float] | None,
    palette: Palette | None,
    grouped: bool,
    kwargs: Mapping[str, Any],
) -> Axes:
    title = "Task-run durations by step" if by == "step" else "Durations by action type"
    start = utc_ns(df, "startedAt")
    end = utc_ns(df, "endedAt")
    finished = (start != NAT) & (end != NAT) & (end >= start)
    if by == "step":
        finished &= column_strings(df, "actionType").to_numpy() == "taskRun"
        keys = step_labels(df).to_numpy()
        names = [str(k) for k in pd.unique(keys[finished]) if k is not None]
        default = _step_palette(names)
    else:
        codes, all_names = column_codes(df, "actionType", schema.ACTION_TYPES)
        keys = np.array([*all_names, None], dtype=object)[codes]  # -1 (missing) -> None
        names = [n for n in all_names if (keys[finished] == n).any()]
        default = _type_palette(names)
    if not names:
        return _empty(
            ax, title, "Duration", "Step" if by == "step" else "Action type", "No finished actions"
        )
    colors = _group_colors(names, default, one, palette) if grouped else [one] * len(names)
    seconds = (end - start) / 1e9
    groups = [seconds[finished & (keys == name)] for name in names]
    every = np.concatenate(groups)
    positive = every[every > 0]
    # a 2 s environment exit next to a 40 min render: only a log axis shows both
    log = bool(len(positive)) and positive.max() / positive.min() > 100
    unit, unit_name = (1.0, "s") if log else _seconds_unit(every)
    scaled = [g / unit for g in groups]
    orientation: dict[str, Any] = (
        {"orientation": "horizontal"}
        if tuple(int(p) for p in mpl.__version__.split(".")[:2]) >= (3, 10)
        else {"vert": False}
    )
    boxes = ax.boxplot(
        scaled,
        positions=range(len(names)),
        whis=(5, 95),
        patch_artist=True,
        widths=0.6,
        manage_ticks=False,
        flierprops={"marker": ".", "markersize": 3, "alpha": 0.5},
        medianprops={"color": "black", "linewidth": 1.5},
        **orientation,
        **kwargs,
    )
    for line in boxes["medians"]:
        line.set_gid("median")
    for patch, color in zip(boxes["boxes"], colors, strict=True):
        patch.set_facecolor(color)
        patch.set_alpha(0.75)
    p95 = np.array([np.percentile(g, 95) for g in scaled])
    ax.scatter(
        p95,
        range(len(names)),
        marker="|",
        s=300,
        linewidths=2,
        color=schema.STATUS_COLORS["FAILED"],
        zorder=4,
        gid="p95",
        label="p95",
    )
    ax.set_yticks(
        range(len(names)),
        [
            f"{name} (n={len(g):,})\nmedian {format_seconds(np.median(g))}, "
            f"p95 {format_seconds(np.percentile(g, 95))}"
            for name, g in zip(names, groups, strict=True)
        ],
        fontsize="small",
    )
    ax.set_ylim(len(names) - 0.5, -0.5)
    if log:
        ax.set_xscale("log")
    ax.set_xlabel(f"Duration ({unit_name})")
    ax.set_ylabel("Step" if by == "step" else "Action type")
    ax.set_title(title)
    _legend(
        ax,
        [
            Line2D([], [], color="black", label="median"),
            Line2D(
                [],
                [],
                marker="|",
                linestyle="",
                markersize=12,
                markeredgewidth=2,
                color=schema.STATUS_COLORS["FAILED"],
                label="p95",
            ),
        ],
    )
    return ax


# ---------------------------------------------------------------------------------------------
# plot_progress


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
    zone, zone_name = _tzinfo(tz)
    open_end = effective_ends(df)[2]
    if kind == "auto":
        if snapshots is not None and len(snapshots):
            kind = "snapshots"
        elif open_end.any():
            kind = "running"
        else:
            kind = "completed"
    ax = _axes(ax)
    _remember_jobs(ax, df)
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
        return _empty(ax, title, "Progress (%)", "Action", "No running actions")
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
        return _empty(ax, title, f"Time ({tz_name})", "Tasks", "No finished task runs")
    first, asof = progress.first, progress.asof
    x_done = _datenum(np.concatenate([[first], done_at, [asof]]))
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
        x_failed = _datenum(np.concatenate([[first], failed_at, [asof]]))
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
            _datenum(np.array([asof, eta])),
            [len(done_at), total],
            color=schema.STATUS_COLORS["RUNNING"],
            linestyle="--",
            gid="projection",
            label=f"ETA {_clock(eta, tz)}",
        )
    ax.set_ylim(0, total * 1.08 or 1)
    ax.set_ylabel("Tasks")
    _time_axis(ax, tz, tz_name)
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
        return _empty(ax, title, f"Time ({tz_name})", "Progress (%)", "No progress snapshots")
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
        return _empty(ax, title, f"Time ({tz_name})", "Progress (%)", "No progress snapshots")
    points = points.sort_values(["id", "t"], kind="stable")
    lines, colors, seen = [], [], []
    for action_id, group in points.groupby("id", sort=False):
        xy = np.column_stack([_datenum(group["t"].to_numpy()), group["p"].to_numpy()])
        lines.append(xy)
        status = status_of.get(str(action_id)) or "RUNNING"
        colors.append(schema.STATUS_COLORS.get(status, _MISSING_COLOR))
        seen.append(status)
    collection = LineCollection(lines, colors=colors, linewidths=1.2, gid="snapshots", **kwargs)
    ax.add_collection(collection)
    ax.autoscale_view()
    ax.set_ylim(0, 105)
    _time_axis(ax, tz, tz_name)
    ax.set_ylabel("Progress (%)")
    ax.set_title(f"{title}: {len(lines):,} actions, {len(snapshots):,} snapshots")
    _legend(
        ax,
        [
            Line2D([], [], color=schema.STATUS_COLORS.get(s, _MISSING_COLOR), label=s)
            for s in schema.STATUSES
            if s in seen
        ],
        "Status",
    )
    return ax


# ---------------------------------------------------------------------------------------------
# plot_concurrency


def plot_concurrency(
    df: pd.DataFrame,
    *,
    hue: str | None = None,
    color: Any = None,
    palette: Palette | None = None,
    tz: str | tzinfo = "UTC",
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Draw how many actions ran at once over time, stacked, with worker utilisation in the title.

    Utilisation is busy time (the actions' summed durations) over session time (each session
    from its first action's start to its last action's end): the share of the time workers held
    for this job that they spent working, as ``deadline job trace-schedule`` reports it.

    Parameters
    ----------
    df
        A session-action frame.
    hue
        Stack by ``"actionType"`` (the default), ``"status"`` or ``"step"``.
    color
        One matplotlib colour. Without ``hue``, one area of all actions is drawn in it; with
        ``hue``, the stacked areas are drawn in shades of it, light to full.
    palette
        Colours of the stacked areas: a colormap name, a list of colours in the legend's order,
        or a mapping of hue values to colours (values it does not name keep their usual
        colour). Wins over ``color``.
    tz
        Time zone of the time axis.
    ax
        The Axes to draw on, or ``None`` for a new figure.
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.stackplot`.

    Returns
    -------
    matplotlib.axes.Axes
        The stacked areas are ``ax.collections``, one per group.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm.model import JOBS, FarmModel
    >>> from deadline_nb.plots import plot_concurrency
    >>> model = FarmModel(seed=0)
    >>> df = dnb.session_action_frame(
    ...     model.session_actions(model.job_by_name(JOBS["render"]).job_id))
    >>> ax = plot_concurrency(df)
    >>> "utilisation" in ax.get_title()
    True
    >>> ax = plot_concurrency(df, hue="status", palette={"SUCCEEDED": "tab:green"})
    >>> plt.close("all")
    """
    coloring = _hue(df, hue, color, palette, _CONCURRENCY_HUES)
    zone, zone_name = _tzinfo(tz)
    ax = _axes(ax)
    _remember_jobs(ax, df)
    return _draw_concurrency(ax, df, coloring, zone, zone_name, kwargs)


def _running_counts(
    start: np.ndarray, end: np.ndarray, groups: np.ndarray, count: int
) -> tuple[np.ndarray, np.ndarray]:
    """Times (ns) and, per group, how many actions were running from each time to the next."""
    times = np.unique(np.concatenate([start, end]))
    if len(times) > _CONCURRENCY_POINTS:
        times = np.linspace(times[0], times[-1], _CONCURRENCY_POINTS).astype(np.int64)
    counts = np.zeros((count, len(times)))
    for g in range(count):
        mine = groups == g
        begun = np.searchsorted(np.sort(start[mine]), times, side="right")
        ended = np.searchsorted(np.sort(end[mine]), times, side="right")
        counts[g] = begun - ended
    return times, counts


def _draw_concurrency(
    ax: Axes,
    df: pd.DataFrame,
    coloring: _Hue,
    tz: tzinfo,
    tz_name: str,
    kwargs: Mapping[str, Any],
) -> Axes:
    title = "Actions running at once"
    start, end, _ = effective_ends(df)
    rows = np.flatnonzero(start != NAT)
    if not len(rows):
        return _empty(ax, title, f"Time ({tz_name})", "Actions running", "No attempted actions")
    codes, names, palette = coloring.codes, coloring.names, coloring.colors
    codes = codes[rows]
    if (codes < 0).any():
        codes = np.where(codes < 0, len(names), codes)
        names, palette = [*names, "(unknown)"], [*palette, _MISSING_COLOR]
    present = [g for g in range(len(names)) if (codes == g).any()]
    remap = np.full(len(names), -1)
    remap[present] = np.arange(len(present))
    times, counts = _running_counts(start[rows], end[rows], remap[codes], len(present))
    ax.stackplot(
        _datenum(times),
        counts,
        labels=[names[g] for g in present],
        colors=[palette[g] for g in present],
        step="post",
        **kwargs,
    )
    busy = float((end[rows] - start[rows]).sum())
    session = float(session_time_ns(df))
    util = busy / session if session > 0 else float("nan")
    peak = int(counts.sum(axis=0).max()) if counts.size else 0
    _time_axis(ax, tz, tz_name)
    ax.set_ylabel("Actions running")
    ax.set_ylim(0, max(peak, 1) * 1.08)
    ax.set_title(
        f"{title} (peak {peak:,}) · worker utilisation {util:.1%} "
        f"(busy {format_seconds(busy / 1e9)} of {format_seconds(session / 1e9)} in sessions)"
    )
    _legend(ax, ax.get_legend_handles_labels()[0], coloring.title)
    return ax


# ---------------------------------------------------------------------------------------------
# plot_status and plot_exit_codes


def _stacked_bars(
    ax: Axes,
    rows: Sequence[str],
    table: pd.DataFrame,
    kwargs: Mapping[str, Any],
) -> None:
    """Horizontal bars, one per row label, stacked by status (the table's columns)."""
    left = np.zeros(len(rows))
    y = np.arange(len(rows))
    for status in table.columns:
        widths = table[status].to_numpy(dtype=np.float64)
        bars = ax.barh(
            y,
            widths,
            left=left,
            height=0.7,
            label=str(status),
            color=schema.STATUS_COLORS.get(str(status), _MISSING_COLOR),
            **kwargs,
        )
        ax.bar_label(
            bars,
            labels=[f"{int(w):,}" if w else "" for w in widths],
            label_type="center",
            fontsize="small",
        )
        left += widths
    ax.set_yticks(y, list(rows), fontsize="small")
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlim(0, max(float(left.max()), 1.0) * 1.05)


def plot_status(df: pd.DataFrame, *, ax: Axes | None = None, **kwargs: Any) -> Axes:
    """Draw task runs per step, stacked by status (each attempt counts, so retries show).

    Parameters
    ----------
    df
        A session-action frame.
    ax
        The Axes to draw on, or ``None`` for a new figure.
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.barh`.

    Returns
    -------
    matplotlib.axes.Axes
        One bar container per status, labelled with the status.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm.model import JOBS, FarmModel
    >>> from deadline_nb.plots import plot_status
    >>> model = FarmModel(seed=0)
    >>> df = dnb.session_action_frame(
    ...     model.session_actions(model.job_by_name(JOBS["failing"]).job_id))
    >>> ax = plot_status(df)
    >>> [c.get_label() for c in ax.containers]
    ['SUCCEEDED', 'FAILED', 'NEVER_ATTEMPTED']
    >>> plt.close("all")
    """
    ax = _axes(ax)
    _remember_jobs(ax, df)
    title = "Task runs by step and status"
    runs = column_strings(df, "actionType").to_numpy() == "taskRun"
    if not runs.any():
        return _empty(ax, title, "Task runs", "Step", "No task runs")
    status = column_strings(df, "status").to_numpy()[runs]
    steps = step_labels(df).to_numpy()[runs]
    table = pd.crosstab(
        pd.Series(steps, name="step").fillna("(no step)"),
        pd.Series(status, name="status").fillna("(unknown)"),
    )
    order = list(dict.fromkeys(pd.Series(steps).fillna("(no step)")))
    columns = [s for s in (*schema.STATUSES, "(unknown)") if s in table.columns]
    table = table.reindex(index=order, columns=columns, fill_value=0)
    _stacked_bars(ax, order, table, kwargs)
    _legend(ax, ax.get_legend_handles_labels()[0], "Status")
    ax.set_xlabel("Task runs (attempts)")
    ax.set_ylabel("Step")
    ax.set_title(f"{title}: {int(runs.sum()):,} task runs")
    return ax


def plot_exit_codes(df: pd.DataFrame, *, ax: Axes | None = None, **kwargs: Any) -> Axes:
    """Draw how often each non-zero exit code occurred, named where it has a known meaning.

    Windows NTSTATUS crash codes (``-1073741819`` is ``0xC0000005``, an access violation) and
    POSIX signals (``137`` is 128 + 9, ``SIGKILL``, usually the out-of-memory killer) are named;
    bars are stacked by the actions' status.

    Parameters
    ----------
    df
        A session-action frame.
    ax
        The Axes to draw on, or ``None`` for a new figure.
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.barh`.

    Returns
    -------
    matplotlib.axes.Axes
        One bar per exit code (most frequent first), one container per status.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm.model import JOBS, FarmModel
    >>> from deadline_nb.plots import plot_exit_codes
    >>> model = FarmModel(seed=0)
    >>> df = dnb.session_action_frame(
    ...     model.session_actions(model.job_by_name(JOBS["failing"]).job_id))
    >>> ax = plot_exit_codes(df)
    >>> for label in ax.get_yticklabels():
    ...     print(label.get_text())
    1 · general error
    -1073741819 · 0xC0000005 access violation
    137 · SIGKILL (128+9): killed, often by the out-of-memory killer
    >>> plt.close("all")
    """
    ax = _axes(ax)
    _remember_jobs(ax, df)
    title = "Non-zero exit codes"
    if "processExitCode" not in df.columns or not len(df):
        return _empty(ax, title, "Actions", "Exit code", "No non-zero exit codes")
    codes = df["processExitCode"].astype("Int64")
    chosen = (codes.notna() & (codes != 0)).to_numpy(dtype=bool, na_value=False)
    if not chosen.any():
        return _empty(ax, title, "Actions", "Exit code", "No non-zero exit codes")
    table = pd.crosstab(
        pd.Series(codes[chosen].to_numpy(dtype=np.int64), name="code"),
        pd.Series(column_strings(df, "status").to_numpy()[chosen], name="status").fillna(
            "(unknown)"
        ),
    )
    columns = [s for s in (*schema.STATUSES, "(unknown)") if s in table.columns]
    totals = table.sum(axis=1)
    # most frequent first; ties by code, so the order is stable
    order = sorted(table.index, key=lambda c: (-int(totals[c]), int(c)))
    table = table.reindex(index=order, columns=columns, fill_value=0)
    labels = [
        f"{code} · {name}" if (name := exit_code_name(int(code))) else str(code) for code in order
    ]
    _stacked_bars(ax, labels, table, kwargs)
    _legend(ax, ax.get_legend_handles_labels()[0], "Status")
    ax.set_xlabel("Actions")
    ax.set_ylabel("Exit code")
    ax.set_title(f"{title}: {int(chosen.sum()):,} actions")
    return ax


# ---------------------------------------------------------------------------------------------
# save_figure

_FORMATS: Final = (".png", ".svg", ".pdf")
_SVG_KEYS: Final = frozenset(
    {
        "Coverage",
        "Contributor",
        "Creator",
        "Date",
        "Description",
        "Format",
        "Identifier",
        "Keywords",
        "Language",
        "Publisher",
        "Relation",
        "Rights",
        "Source",
        "Subject",
        "Title",
        "Type",
    }
)
_PDF_KEYS: Final = frozenset(
    {"Title", "Author", "Subject", "Keywords", "Creator", "Producer", "CreationDate", "ModDate"}
)


def save_figure(
    fig_or_ax: Figure | SubFigure | Axes,
    path: str | Path,
    *,
    title: str | None = None,
    metadata: Mapping[str, str] | None = None,
    size: tuple[float, float] | None = SLIDE_SIZE,
    dpi: float = SLIDE_DPI,
) -> Path:
    """Save a figure as PNG, SVG or PDF (by the path's suffix), slide-ready, with metadata.

    The file records the job ids the plots drew (from their frames' ``jobId``), the generation
    time (UTC) and this package's version. The figure is drawn at ``size`` for the file and put
    back to its own size afterwards; no global ``rcParams`` are touched.

    Parameters
    ----------
    fig_or_ax
        A figure, or any Axes on it.
    path
        Where to write; the suffix (``.png``, ``.svg``, ``.pdf``) picks the format.
    title
        Set as the figure's title (``suptitle``) and the file's title.
    metadata
        More text to record (or to override the defaults): PNG keeps every key; SVG and PDF keep
        their standard keys and fold any other into their description.
    size
        Width and height in inches for the file; ``None`` keeps the figure's size. The default,
        12.8 x 7.2 at 150 dpi, is 1920 x 1080 pixels.
    dpi
        Resolution of PNG output (and of rasterized parts of SVG and PDF).

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ValueError
        When the suffix is not one of ``.png``, ``.svg``, ``.pdf``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import matplotlib.pyplot as plt
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm.model import JOBS, FarmModel
    >>> from deadline_nb.plots import plot_status, save_figure
    >>> model = FarmModel(seed=0)
    >>> df = dnb.session_action_frame(
    ...     model.session_actions(model.job_by_name(JOBS["failing"]).job_id))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = save_figure(plot_status(df), pathlib.Path(tmp) / "status.png", title="sq030")
    ...     out.read_bytes()[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
    >>> plt.close("all")
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _FORMATS:
        raise bad_argument("path", f"end in one of {list(_FORMATS)}", str(path))
    fig = fig_or_ax.get_figure() if isinstance(fig_or_ax, Axes) else fig_or_ax
    if isinstance(fig, SubFigure):
        fig = fig.figure
    if not isinstance(fig, Figure):
        raise TypeError(
            "The value for `fig_or_ax` must be a matplotlib Figure or Axes, "
            f"but {type(fig_or_ax).__name__} was passed."
        )
    if title is not None:
        fig.suptitle(title)
    jobs = sorted({j for axes in fig.get_axes() for j in _JOBS_ON.get(axes, ())})
    info = _metadata(suffix, title, jobs, dict(metadata or {}))
    original = fig.get_size_inches().copy()
    try:
        if size is not None:
            fig.set_size_inches(size)
        fig.savefig(path, format=suffix[1:], dpi=dpi, metadata=info)
    finally:
        fig.set_size_inches(original)
    return path


def _metadata(
    suffix: str, title: str | None, jobs: Sequence[str], extra: dict[str, str]
) -> dict[str, Any]:
    """The metadata dict each backend accepts: PNG any text keys; SVG Dublin Core; PDF its info."""
    from . import __version__

    now = datetime.now(timezone.utc).replace(microsecond=0)
    software = f"deadline_nb {__version__} (matplotlib {mpl.__version__})"
    description = f"AWS Deadline Cloud job {', '.join(jobs)}" if jobs else "AWS Deadline Cloud"
    if suffix == ".png":
        info: dict[str, Any] = {
            "Software": software,
            "Creation Time": now.isoformat(),
            "Description": description,
        }
        if jobs:
            info["Job"] = ", ".join(jobs)
        if title:
            info["Title"] = title
        info.update(extra)
        return info
    allowed = _SVG_KEYS if suffix == ".svg" else _PDF_KEYS
    folded = [f"{k}: {v}" for k, v in extra.items() if k not in allowed]
    kept = {k: v for k, v in extra.items() if k in allowed}
    text = "; ".join([description, *folded])
    if suffix == ".svg":
        info = {"Creator": software, "Date": now.isoformat(), "Description": text}
        if jobs:
            info["Identifier"] = ", ".join(jobs)
    else:
        info = {"Creator": software, "CreationDate": now, "Subject": text}
        if jobs:
            info["Keywords"] = ", ".join(jobs)
    if title:
        info["Title"] = title
    info.update(kept)
    return info
