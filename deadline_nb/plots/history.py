"""plot_trend and plot_compare: the queue history's answers (:mod:`deadline_nb.history_db`).

Drawn from the frames the questions return, never from the dataset: ``plot_trend`` from
``History.trend``, ``plot_compare`` from ``History.compare_jobs``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from .. import schema
from ..errors import bad_argument, check_one_of
from .shared import (
    Palette,
    empty_axes,
    group_colors,
    legend,
    new_axes,
    one_color,
    seconds_unit,
    step_palette,
)

__all__ = ["plot_compare", "plot_trend"]

#: What ``plot_trend`` draws as the line (``y=``).
_TREND_VALUES: Final = ("medianSeconds", "p90Seconds", "meanSeconds")
#: The colour of a slower frame's ring and of the marked instants: the failure colour.
_ALERT: Final = schema.STATUS_COLORS["FAILED"]


def _groups(df: pd.DataFrame, hue: str | Sequence[str] | None) -> list[str]:
    if hue is None:
        return [c for c in df.columns if c not in schema.TREND_COLUMNS]
    names = [hue] if isinstance(hue, str) else list(hue)
    for name in names:
        if name not in df.columns:
            raise bad_argument("hue", f"be columns of the frame ({list(df.columns)})", hue)
    return names


def plot_trend(
    df: pd.DataFrame,
    *,
    y: str = "medianSeconds",
    hue: str | Sequence[str] | None = None,
    band: bool = True,
    mark: datetime | pd.Timestamp | Sequence[datetime | pd.Timestamp] | None = None,
    color: Any = None,
    palette: Palette | None = None,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Draw frame time per week: one line per group (step, or show and step), a p90 band.

    Parameters
    ----------
    df
        A trend frame (:meth:`deadline_nb.History.trend`).
    y
        The line: ``"medianSeconds"`` (the default), ``"p90Seconds"`` or ``"meanSeconds"``.
    hue
        The column(s) whose values make the lines; default: the frame's grouping columns
        (those before ``week``).
    band
        Shade from the median up to the 90th percentile (with ``y="medianSeconds"``).
    mark
        An instant or several (a regression's start, a software update): a vertical line each.
    color, palette
        One colour (shades of it for the lines), or the lines' colours (a colormap name, a list,
        or a mapping of group labels to colours); default: one colour per group.
    ax
        The Axes to draw on, or ``None`` for a new figure.
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.plot`.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import pandas as pd, deadline_nb as dnb
    >>> trend = pd.DataFrame({"stepName": ["Render", "Render"],
    ...                       "week": pd.to_datetime(["2026-02-02", "2026-02-09"], utc=True),
    ...                       "runs": [10, 12], "medianSeconds": [240.0, 380.0],
    ...                       "p90Seconds": [300.0, 450.0], "meanSeconds": [250.0, 390.0]})
    >>> ax = dnb.plot_trend(trend, mark=pd.Timestamp("2026-02-09", tz="UTC"))
    >>> [line.get_label() for line in ax.get_lines()]
    ['Render', 'marked']
    """
    check_one_of("y", y, _TREND_VALUES)
    ax = new_axes(ax)
    title = "Frame time per week"
    if df.empty or y not in df.columns:
        return empty_axes(ax, title, "Week (UTC)", "Seconds", "No task runs")
    groups = _groups(df, hue)
    if groups:
        labels = df[groups].astype(str).agg(" / ".join, axis=1)
    else:
        labels = pd.Series(["all"] * len(df), index=df.index)
    names = list(dict.fromkeys(labels))
    one = one_color(color) if color is not None else None
    colors = group_colors(names, step_palette(names), one, palette)
    scale, unit = seconds_unit(df[y].to_numpy(dtype=float))
    handles = []
    for name, colour in zip(names, colors, strict=True):
        part = df[labels == name].sort_values("week")
        weeks = pd.to_datetime(part["week"], utc=True).dt.tz_localize(None)
        values = part[y].to_numpy(dtype=float) / scale
        (line,) = ax.plot(weeks, values, marker="o", color=colour, label=name, **kwargs)
        handles.append(line)
        if band and y == "medianSeconds" and "p90Seconds" in part.columns:
            top = part["p90Seconds"].to_numpy(dtype=float) / scale
            ax.fill_between(weeks, values, top, color=colour, alpha=0.15, linewidth=0)
    marks = [] if mark is None else [mark] if not isinstance(mark, Sequence) else list(mark)
    for i, when in enumerate(marks):
        stamp = pd.Timestamp(when)
        stamp = stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo else stamp
        ax.axvline(
            mdates.date2num(stamp.to_pydatetime()),
            color=_ALERT,
            linestyle="--",
            linewidth=1.5,
            label="marked" if i == 0 else "_marked",
            gid="mark",
        )
    if marks:
        handles.append(Line2D([], [], color=_ALERT, linestyle="--", label="marked"))
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
    ax.set_title(title + (" (median, band to p90)" if band and y == "medianSeconds" else ""))
    ax.set_xlabel("Week (UTC)")
    ax.set_ylabel(f"{y} ({unit})")
    ax.set_ylim(bottom=0)
    legend(ax, handles, " / ".join(groups) if groups else None)
    return ax


def plot_compare(
    df: pd.DataFrame,
    *,
    parameter: str | None = None,
    palette: Palette | None = None,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Draw two jobs frame by frame: each frame's time ratio (b / a), slower frames ringed.

    One point per frame, coloured by step; a horizontal line at 1 (as fast) and one at the
    comparison's threshold; the frames at or over it ringed in the failure colour.

    Parameters
    ----------
    df
        A comparison frame (:meth:`deadline_nb.History.compare_jobs`).
    parameter
        The task parameter on the x axis (``"Frame"``); default: the frame's first
        ``param.<Name>`` column. Not numbers: the frames in order.
    palette
        The steps' colours: a colormap name, a list, or a mapping of step names to colours.
    ax
        The Axes to draw on, or ``None`` for a new figure.
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.scatter`.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import pandas as pd, deadline_nb as dnb
    >>> compare = pd.DataFrame({"stepName": ["Render"] * 2, "param.Frame": ["1001", "1002"],
    ...                         "secondsA": [200.0, 210.0], "secondsB": [320.0, 205.0],
    ...                         "ratio": [1.6, 205 / 210], "slower": [True, False]})
    >>> ax = dnb.plot_compare(compare)
    >>> len(ax.collections)
    2
    """
    ax = new_axes(ax)
    a, b = df.attrs.get("nameA", "a"), df.attrs.get("nameB", "b")
    title = f"{b} against {a}, frame by frame"
    params = [c for c in df.columns if c.startswith(schema.PARAMETER_PREFIX)]
    if parameter is not None:
        column = schema.PARAMETER_PREFIX + parameter
        if column not in df.columns:
            raise bad_argument("parameter", f"be one of {[p[6:] for p in params]}", parameter)
    else:
        column = params[0] if params else ""
    shown = df[df["ratio"].notna()] if "ratio" in df.columns else df.iloc[0:0]
    if shown.empty:
        return empty_axes(ax, title, "Frame", "Time ratio (b / a)", "No frame in both jobs")
    x = pd.to_numeric(shown[column], errors="coerce") if column else pd.Series(np.nan)
    if not column or x.isna().any():
        x = pd.Series(np.arange(len(shown), dtype=float), index=shown.index)
    steps = list(dict.fromkeys(shown["stepName"].astype(str)))
    colors = group_colors(steps, step_palette(steps), None, palette)
    lookup = dict(zip(steps, colors, strict=True))
    ax.scatter(
        x,
        shown["ratio"],
        c=[lookup[s] for s in shown["stepName"].astype(str)],
        s=30,
        zorder=3,
        **kwargs,
    )
    slower = shown["slower"].fillna(False).astype(bool).to_numpy()
    ax.scatter(
        x[slower],
        shown["ratio"][slower],
        s=110,
        facecolors="none",
        edgecolors=_ALERT,
        linewidths=1.5,
        zorder=4,
        gid="slower",
    )
    ax.axhline(1.0, color="0.5", linewidth=1)
    threshold = df.attrs.get("threshold")
    if threshold is not None:
        ax.axhline(float(threshold), color=_ALERT, linestyle=":", linewidth=1, gid="threshold")
    handles = [
        Line2D([], [], marker="o", linestyle="", color=c, label=s)
        for s, c in zip(steps, colors, strict=True)
    ]
    handles.append(
        Line2D(
            [],
            [],
            marker="o",
            linestyle="",
            markerfacecolor="none",
            markeredgecolor=_ALERT,
            label=f"slower ({int(slower.sum())})",
        )
    )
    ax.set_title(title)
    ax.set_xlabel(column[len(schema.PARAMETER_PREFIX) :] if column else "Frame")
    ax.set_ylabel("Time ratio (b / a)")
    ax.set_ylim(bottom=0)
    legend(ax, handles, "Step")
    return ax
