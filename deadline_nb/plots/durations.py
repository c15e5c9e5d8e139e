"""plot_durations: distributions of finished actions' durations, medians and p95."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from .. import schema
from ..errors import check_one_of
from ..frames.access import (
    NAT,
    column_codes,
    column_strings,
    step_labels,
    utc_ns,
)
from ..text import format_seconds
from .shared import (
    Palette,
    empty_axes,
    group_colors,
    legend,
    new_axes,
    one_color,
    palette_colors,
    remember_jobs,
    seconds_unit,
    step_palette,
    type_palette,
)

__all__ = ["plot_durations"]

#: What the boxes can be grouped and coloured by (``hue=``), the default first.
_DURATIONS_HUES: Final = ("step", "actionType")


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
    one = one_color(color) if color is not None else None
    if palette is not None:
        palette_colors(palette, [], [])  # a wrong palette is named even with nothing to draw
    ax = new_axes(ax)
    remember_jobs(ax, df)
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
        default = step_palette(names)
    else:
        codes, all_names = column_codes(df, "actionType", schema.ACTION_TYPES)
        keys = np.array([*all_names, None], dtype=object)[codes]  # -1 (missing) -> None
        names = [n for n in all_names if (keys[finished] == n).any()]
        default = type_palette(names)
    if not names:
        return empty_axes(
            ax, title, "Duration", "Step" if by == "step" else "Action type", "No finished actions"
        )
    colors = group_colors(names, default, one, palette) if grouped else [one] * len(names)
    seconds = (end - start) / 1e9
    groups = [seconds[finished & (keys == name)] for name in names]
    every = np.concatenate(groups)
    positive = every[every > 0]
    # a 2 s environment exit next to a 40 min render: only a log axis shows both
    log = bool(len(positive)) and positive.max() / positive.min() > 100
    unit, unit_name = (1.0, "s") if log else seconds_unit(every)
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
    legend(
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
