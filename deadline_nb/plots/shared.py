"""What the chart modules of :mod:`deadline_nb.plots` share: axes, times, colours, legends.

Shared by ``timeline``, ``frame_times``, ``memory``, ``durations``, ``progress``,
``concurrency``, ``counts`` and ``save`` (which reads the job ids the others record on their
Axes), so that every plot reads ``tz``, ``hue``, ``color`` and ``palette`` the same way and draws
its empty state the same way.
"""

from __future__ import annotations

import weakref
import zoneinfo
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone, tzinfo
from typing import Any, Final

import matplotlib as mpl
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .. import schema
from ..errors import bad_argument, check_one_of
from ..frames.access import (
    NAT,
    column_codes,
    step_labels,
)

_HUE_TITLES: Final[Mapping[str, str]] = {"status": "Status", "actionType": "Action", "step": "Step"}
#: A palette as seaborn takes it: a colormap name, colours in the hue's order, or value -> colour.
Palette = str | Sequence[Any] | Mapping[str, Any]
MISSING_COLOR: Final = schema.ACTION_TYPE_COLORS["unknown"]
_NS_PER_DAY: Final = 86_400e9

# Job ids drawn on each Axes, for save_figure's metadata. Weak: a closed figure is forgotten.
_JOBS_ON: weakref.WeakKeyDictionary[Axes, tuple[str, ...]] = weakref.WeakKeyDictionary()


def time_zone(tz: str | tzinfo) -> tuple[tzinfo, str]:
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


def new_axes(ax: Axes | None, size: tuple[float, float] = (10.0, 5.0)) -> Axes:
    """``ax``, or the Axes of a new constrained-layout figure of ``size`` inches."""
    if ax is not None:
        return ax
    fig = plt.figure(figsize=size, layout="constrained")
    return fig.add_subplot()


def remember_jobs(ax: Axes, df: pd.DataFrame) -> None:
    """Record the frame's job ids as drawn on ``ax`` (see :func:`jobs_drawn`)."""
    if "jobId" in df.columns and len(df):
        jobs = tuple(sorted(str(j) for j in pd.unique(df["jobId"].dropna().astype(object))))
        if jobs:
            _JOBS_ON[ax] = tuple(sorted({*_JOBS_ON.get(ax, ()), *jobs}))


def jobs_drawn(fig: Figure) -> list[str]:
    """The job ids the plots recorded on ``fig``'s Axes, for :func:`save_figure`'s metadata."""
    return sorted({j for axes in fig.get_axes() for j in _JOBS_ON.get(axes, ())})


def datenum(ns: np.ndarray) -> np.ndarray:
    """int64 ns since the Unix epoch -> matplotlib date numbers (days), NaN where missing.

    Vectorised: ``mdates.date2num`` on a million Python datetimes takes seconds.
    """
    epoch = np.datetime64(mdates.get_epoch(), "ns").astype(np.int64)
    out = (ns.astype(np.float64) - float(epoch)) / _NS_PER_DAY
    out[ns == NAT] = np.nan
    return out


def time_axis(ax: Axes, tz: tzinfo, tz_name: str, axis: str = "x") -> None:
    """Date ticks and labels in ``tz`` on the ``axis`` (``"x"`` or ``"y"``), with its label."""
    locator = mdates.AutoDateLocator(tz=tz)
    formatter = mdates.ConciseDateFormatter(locator, tz=tz)
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(locator)
    target.set_major_formatter(formatter)
    target.set_label_text(f"Time ({tz_name})")


def empty_axes(ax: Axes, title: str, xlabel: str, ylabel: str, message: str) -> Axes:
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


def legend(ax: Axes, handles: Sequence[Any], title: str | None = None) -> None:
    """The legend every plot draws: outside the Axes, top right, small, unframed."""
    if handles:
        ax.legend(
            handles=list(handles),
            title=title,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            fontsize="small",
            frameon=False,
        )


def status_palette(names: Sequence[str]) -> list[str]:
    """The schema's colour of each status (the missing colour for one it does not know)."""
    return [schema.STATUS_COLORS.get(n, MISSING_COLOR) for n in names]


def type_palette(names: Sequence[str]) -> list[str]:
    """The schema's colour of each action type (the missing colour for an unknown one)."""
    return [schema.ACTION_TYPE_COLORS.get(n, MISSING_COLOR) for n in names]


def step_palette(names: Sequence[str]) -> list[str]:
    """One colour per step, in the order given: tab10, or tab20 beyond ten steps (then cycled)."""
    cmap = mpl.colormaps["tab10" if len(names) <= 10 else "tab20"]
    count = cmap.N
    return [mpl.colors.to_hex(cmap(i % count)) for i in range(len(names))]


def rgba(codes: np.ndarray, palette: Sequence[str]) -> np.ndarray:
    """Codes (-1 for missing) -> an (N, 4) RGBA array, through a lookup table."""
    table = np.array([mpl.colors.to_rgba(c) for c in [*palette, MISSING_COLOR]])
    return table[np.where(codes < 0, len(palette), codes)]


class Hue:
    """Each action's colour group (``codes``, -1 for missing), the groups' names and colours."""

    def __init__(
        self, codes: np.ndarray, names: list[str], colors: list[Any], title: str | None
    ) -> None:
        self.codes = codes
        self.names = names
        self.colors = colors
        self.title = title  # None: one colour for everything, no hue legend


def one_color(color: object) -> tuple[float, float, float, float]:
    """``color=`` as RGBA; anything that is not one matplotlib colour names the argument."""
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


def palette_colors(palette: Palette, names: Sequence[str], default: Sequence[Any]) -> list[Any]:
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


def hue_groups(
    df: pd.DataFrame,
    hue: str | None,
    color: object,
    palette: Palette | None,
    options: Sequence[str],
) -> Hue:
    """How a plot colours its actions: seaborn's ``hue``, ``color`` and ``palette``.

    ``hue`` unset: by ``options[0]``, unless ``color`` is given, which then colours everything.
    Both given: the hue's groups in shades of ``color``. ``palette`` beats ``color`` for the groups.
    """
    if hue is not None:
        check_one_of("hue", hue, options)
    one = one_color(color) if color is not None else None
    if hue is None and one is not None:
        return Hue(np.zeros(len(df), dtype=np.int64), ["actions"], [one], None)
    hue = hue or options[0]
    if hue == "status":
        codes, names = column_codes(df, "status", schema.STATUSES)
        default = status_palette(names)
    elif hue == "actionType":
        codes, names = column_codes(df, "actionType", schema.ACTION_TYPES)
        default = type_palette(names)
    else:
        step_codes, uniques = pd.factorize(step_labels(df), use_na_sentinel=True)
        codes, names = np.asarray(step_codes, dtype=np.int64), [str(u) for u in uniques]
        default = step_palette(names)
    return Hue(codes, names, group_colors(names, default, one, palette), _HUE_TITLES[hue])


def group_colors(
    names: Sequence[str],
    default: Sequence[Any],
    one: tuple[float, float, float, float] | None,
    palette: Palette | None,
) -> list[Any]:
    """Colours of a hue's groups: ``palette``, else shades of the one ``color``, else default."""
    if palette is not None:
        return palette_colors(palette, names, default)
    if one is not None:
        return _shades(one, len(names))
    return list(default)


def seconds_unit(seconds: np.ndarray) -> tuple[float, str]:
    """A unit that keeps the numbers readable: seconds, minutes or hours."""
    top = float(np.nanmax(seconds)) if len(seconds) and np.isfinite(seconds).any() else 0.0
    if top >= 3 * 3600:
        return 3600.0, "h"
    if top >= 180:
        return 60.0, "min"
    return 1.0, "s"


def parameter_values(values: pd.Series) -> tuple[list[list[float]], list[str] | None]:
    """Each action's parameter value -> the frames it covers; text labels if not numbers.

    A ``chunkInt`` range (``"1-10"``, ``"1-9:2"``) is read with ``openjd.model.IntRangeExpr``;
    text that is not a range places each distinct value in order of first appearance, and the
    labels of those places come second.
    """
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
