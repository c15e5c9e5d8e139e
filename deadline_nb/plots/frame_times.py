"""plot_frame_times: the time each frame took, every attempt."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from .. import schema
from ..errors import bad_argument
from ..frames.access import (
    NAT,
    column_codes,
    column_strings,
    step_labels,
    utc_ns,
)
from ..text import format_seconds
from .shared import (
    empty_axes,
    legend,
    new_axes,
    parameter_values,
    remember_jobs,
    rgba,
    seconds_unit,
    status_palette,
    step_palette,
)

__all__ = ["plot_frame_times"]


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
    ax = new_axes(ax)
    remember_jobs(ax, df)
    return _draw_frame_times(ax, df, runs, column, parameter, kwargs)


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
        return empty_axes(ax, title, parameter, "Time", "No finished task runs")
    sub = df.iloc[runs]
    frames, labels = parameter_values(sub[column])
    counts = np.array([len(f) for f in frames])
    keep = counts > 0
    if not keep.any():
        return empty_axes(ax, title, parameter, "Time", f"No task run has a {parameter}")
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
    unit, unit_name = seconds_unit(points["y"].to_numpy())
    points["y"] = points["y"] / unit
    colors = status_palette(status_names)
    for gid, chosen, marker in (
        ("attempts", points["attempt"] == 0, "o"),
        ("retries", points["attempt"] > 0, "^"),
    ):
        part = points[chosen]
        if len(part):
            ax.scatter(
                part["x"],
                part["y"],
                c=rgba(part["code"].to_numpy(), colors),
                marker=marker,
                s=22 if marker == "o" else 34,
                zorder=3,
                gid=gid,
                **kwargs,
            )
    last = points.groupby(["step", "x"], sort=False).tail(1)
    step_names = list(dict.fromkeys(points["step"]))
    palette = step_palette(step_names)
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
    legend(ax, handles)
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
