"""plot_status and plot_exit_codes: counts of task runs by status and of exit codes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from .. import schema
from ..frames.access import (
    column_strings,
    step_labels,
)
from ..summary import exit_code_name
from .shared import (
    MISSING_COLOR,
    empty_axes,
    legend,
    new_axes,
    remember_jobs,
)

__all__ = ["plot_exit_codes", "plot_status"]


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
            color=schema.STATUS_COLORS.get(str(status), MISSING_COLOR),
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
    ax = new_axes(ax)
    remember_jobs(ax, df)
    title = "Task runs by step and status"
    runs = column_strings(df, "actionType").to_numpy() == "taskRun"
    if not runs.any():
        return empty_axes(ax, title, "Task runs", "Step", "No task runs")
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
    legend(ax, ax.get_legend_handles_labels()[0], "Status")
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
    ax = new_axes(ax)
    remember_jobs(ax, df)
    title = "Non-zero exit codes"
    if "processExitCode" not in df.columns or not len(df):
        return empty_axes(ax, title, "Actions", "Exit code", "No non-zero exit codes")
    codes = df["processExitCode"].astype("Int64")
    chosen = (codes.notna() & (codes != 0)).to_numpy(dtype=bool, na_value=False)
    if not chosen.any():
        return empty_axes(ax, title, "Actions", "Exit code", "No non-zero exit codes")
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
    legend(ax, ax.get_legend_handles_labels()[0], "Status")
    ax.set_xlabel("Actions")
    ax.set_ylabel("Exit code")
    ax.set_title(f"{title}: {int(chosen.sum()):,} actions")
    return ax
