"""plot_concurrency: actions running at once over time, and worker utilisation."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo
from typing import Any, Final

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ..frames.access import (
    NAT,
    effective_ends,
    session_time_ns,
)
from ..text import format_seconds
from .shared import (
    MISSING_COLOR,
    Hue,
    Palette,
    datenum,
    empty_axes,
    hue_groups,
    legend,
    new_axes,
    remember_jobs,
    time_axis,
    time_zone,
)

__all__ = ["plot_concurrency"]

#: What the areas can be stacked and coloured by (``hue=``), the default first.
_CONCURRENCY_HUES: Final = ("actionType", "status", "step")
# Above this many change points, concurrency is sampled on a regular grid of this many times.
_CONCURRENCY_POINTS: Final = 4_000


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
    coloring = hue_groups(df, hue, color, palette, _CONCURRENCY_HUES)
    zone, zone_name = time_zone(tz)
    ax = new_axes(ax)
    remember_jobs(ax, df)
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
    coloring: Hue,
    tz: tzinfo,
    tz_name: str,
    kwargs: Mapping[str, Any],
) -> Axes:
    title = "Actions running at once"
    start, end, _ = effective_ends(df)
    rows = np.flatnonzero(start != NAT)
    if not len(rows):
        return empty_axes(ax, title, f"Time ({tz_name})", "Actions running", "No attempted actions")
    codes, names, palette = coloring.codes, coloring.names, coloring.colors
    codes = codes[rows]
    if (codes < 0).any():
        codes = np.where(codes < 0, len(names), codes)
        names, palette = [*names, "(unknown)"], [*palette, MISSING_COLOR]
    present = [g for g in range(len(names)) if (codes == g).any()]
    remap = np.full(len(names), -1)
    remap[present] = np.arange(len(present))
    times, counts = _running_counts(start[rows], end[rows], remap[codes], len(present))
    ax.stackplot(
        datenum(times),
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
    time_axis(ax, tz, tz_name)
    ax.set_ylabel("Actions running")
    ax.set_ylim(0, max(peak, 1) * 1.08)
    ax.set_title(
        f"{title} (peak {peak:,}) · worker utilisation {util:.1%} "
        f"(busy {format_seconds(busy / 1e9)} of {format_seconds(session / 1e9)} in sessions)"
    )
    legend(ax, ax.get_legend_handles_labels()[0], coloring.title)
    return ax
