"""plot_usage: estimated cost or runtime per period, stacked by user, job, instance type..."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from .. import schema
from ..errors import bad_argument, check_one_of
from .shared import (
    Palette,
    empty_axes,
    group_colors,
    legend,
    new_axes,
    one_color,
    remember_jobs,
    step_palette,
    time_zone,
)

__all__ = ["plot_usage"]

_HUES: Final = (*schema.USAGE_GROUP_BY.values(), "jobName")
_TITLES: Final[Mapping[str, str]] = {
    "queueId": "queue",
    "fleetId": "fleet",
    "jobId": "job",
    "jobName": "job",
    "userId": "user",
    "usageType": "usage type",
    "instanceType": "instance type",
    "licenseProduct": "license product",
}
_NONE: Final = "(none)"

Names = Mapping[str, str] | pd.DataFrame | Iterable[Mapping[str, Any]]


def _name_map(names: Names | None) -> dict[str, str]:
    """``names=`` as id -> display name: a mapping, or jobs (a frame or dicts with jobId, name)."""
    if names is None:
        return {}
    if isinstance(names, Mapping):
        return {str(k): str(v) for k, v in names.items()}
    must = "be a mapping of ids to names, or jobs (a frame or dicts) with jobId and name"
    rows = names.to_dict("records") if isinstance(names, pd.DataFrame) else list(names)
    out = {}
    for row in rows:
        if not isinstance(row, Mapping) or "jobId" not in row or "name" not in row:
            raise bad_argument("names", must, type(names).__name__)
        out[str(row["jobId"])] = str(row["name"])
    return out


def _hue_values(usage: pd.DataFrame, hue: str, names: dict[str, str]) -> pd.Series:
    """Each row's group label for ``hue``, named through ``names`` where it can be."""

    def text(column: str) -> pd.Series:
        if column not in usage.columns:
            return pd.Series([None] * len(usage), index=usage.index, dtype=object)
        values = usage[column].astype(object)
        return values.where(values.notna(), None)

    if hue == "jobName":
        ids = text("jobId")
        given = text("jobName")
        named = ids.map(lambda v: names.get(v) if v is not None else None)
        labels = named.where(named.notna(), given)
        labels = labels.where(labels.notna(), ids)
    else:
        values = text(hue)
        labels = values.map(lambda v: names.get(v, v) if v is not None else None)
    return labels.where(labels.notna(), _NONE).astype(str)


def plot_usage(
    usage: pd.DataFrame,
    *,
    y: str = "cost",
    hue: str | None = None,
    names: Names | None = None,
    palette: Palette | None = None,
    color: object = None,
    tz: str = "UTC",
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Draw estimated cost (or runtime) per period as stacked bars, one colour per group.

    Parameters
    ----------
    usage
        A usage frame (:func:`deadline_nb.usage_frame`), ideally with a ``period``.
    y
        ``"cost"`` (``costInUsd.sum``, USD) or ``"runtime"`` (``runtimeInSeconds.sum``, in
        hours).
    hue
        The group column that colours the bars: ``"userId"``, ``"jobName"``, ``"jobId"``,
        ``"instanceType"``, ``"usageType"``, ``"queueId"``, ``"fleetId"`` or
        ``"licenseProduct"``. Default: the first the frame was grouped by. ``"jobName"`` needs
        the usage grouped by job: the service's job names, or ``names``.
    names
        Display names for the hue's values: a mapping (``{"job-...": "sq010 lighting"}``, or
        user ids to people's names), or jobs (a frame or dicts with ``jobId`` and ``name``,
        such as :func:`deadline_nb.list_jobs` gives) for ``hue="jobName"``.
    palette, color
        As in every plot: the groups' colours (a colormap name, a list, or a mapping of hue
        values to colours), or shades of one colour. Usage types keep
        :data:`deadline_nb.schema.USAGE_TYPE_COLORS`.
    tz
        The time zone of the periods' labels: ``"UTC"``, ``"local"`` or an IANA name.
    ax
        The Axes to draw on, or ``None`` for a new figure.
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.bar`.

    Returns
    -------
    matplotlib.axes.Axes
        One bar container per group, labelled with the group; one bar per period.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import pandas as pd
    >>> import deadline_nb as dnb
    >>> usage = dnb.statistics_frame([
    ...     {"userId": user, "count": 1, "costInUsd": {"sum": cost},
    ...      "runtimeInSeconds": {"sum": 3600.0}, "aggregationStartTime": day,
    ...      "aggregationEndTime": pd.Timestamp(day) + pd.Timedelta(days=1)}
    ...     for user, cost, day in [("maya", 10.0, "2026-03-02"), ("ivan", 4.0, "2026-03-02"),
    ...                             ("ivan", 6.0, "2026-03-03")]])
    >>> ax = dnb.plot_usage(usage, hue="userId", names={"maya": "Maya R."})
    >>> [c.get_label() for c in ax.containers]
    ['Maya R.', 'ivan']
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['2026-03-02', '2026-03-03']
    >>> plt.close("all")
    """
    column = {"cost": schema.USAGE_COST, "runtime": schema.USAGE_RUNTIME}.get(y)
    check_one_of("y", y, ["cost", "runtime"])
    assert column is not None
    if hue is not None:
        check_one_of("hue", hue, _HUES)
    if not isinstance(usage, pd.DataFrame):
        raise bad_argument("usage", "be a usage frame (deadline_nb.usage_frame)", usage)
    mapping = _name_map(names)
    one = one_color(color) if color is not None else None
    ax = new_axes(ax)
    remember_jobs(ax, usage)
    zone, zone_name = time_zone(tz)
    what = "Estimated cost" if y == "cost" else "Runtime"
    unit = "USD" if y == "cost" else "h"
    missing = [c for c in (column, "startTime") if c not in usage.columns]
    if missing:
        raise bad_argument("usage", f"have the columns {missing} of a usage frame", "a frame")
    grouped = [c for c in schema.USAGE_GROUP_BY.values() if c in usage and usage[c].notna().any()]
    if hue is None:
        hue = grouped[0] if grouped else None
    elif (
        hue == "jobName"
        and not ("jobId" in usage.columns and usage["jobId"].notna().any())
        and not ("jobName" in usage.columns and usage["jobName"].notna().any())
    ):
        raise bad_argument(
            "hue", "name a column the usage was grouped by (jobName needs JOB_ID)", hue
        )
    elif hue != "jobName" and hue not in grouped:
        raise bad_argument("hue", f"name a column the usage was grouped by ({grouped})", hue)
    title = f"{what} by {_TITLES[hue]}" if hue is not None else what
    values = usage[column].to_numpy(dtype=np.float64, na_value=np.nan)
    keep = np.isfinite(values) & usage["startTime"].notna().to_numpy()
    if not keep.any():
        return empty_axes(ax, title, f"Period ({zone_name})", f"{what} ({unit})", "No usage")
    frame = pd.DataFrame(
        {
            "start": usage["startTime"].to_numpy()[keep],
            "group": (
                _hue_values(usage, hue, mapping).to_numpy()[keep]
                if hue is not None
                else np.full(int(keep.sum()), what)
            ),
            "value": values[keep] / (3600.0 if y == "runtime" else 1.0),
        }
    )
    table = frame.pivot_table(
        index="start", columns="group", values="value", aggfunc="sum", fill_value=0.0
    )
    # biggest groups at the bottom, where they are easiest to compare
    order = table.sum().sort_values(ascending=False, kind="stable").index.tolist()
    table = table[order]
    starts = pd.DatetimeIndex(table.index).tz_convert(zone)
    fmt = "%Y-%m-%d" if (starts == starts.normalize()).all() else "%Y-%m-%d %H:%M"
    labels = [s.strftime(fmt) for s in starts]
    if hue == "usageType":
        default = [schema.USAGE_TYPE_COLORS.get(g, "#999999") for g in order]
    else:
        default = step_palette(order)
    colors = group_colors(order, default, one, palette)
    x = np.arange(len(table))
    bottom = np.zeros(len(table))
    for group, tint in zip(order, colors, strict=True):
        heights = table[group].to_numpy(dtype=np.float64)
        ax.bar(x, heights, bottom=bottom, label=str(group), color=tint, width=0.8, **kwargs)
        bottom += heights
    ax.set_xticks(
        x, labels, rotation=45 if len(x) > 8 else 0, ha="right" if len(x) > 8 else "center"
    )
    ax.set_xlim(-0.6, len(x) - 0.4)
    ax.set_ylim(0, max(float(bottom.max()), 1e-9) * 1.08)
    ax.set_xlabel(f"Period ({zone_name})")
    ax.set_ylabel(f"{what} ({unit})" + (", estimate" if y == "cost" else ""))
    total = float(bottom.sum())
    summary = f"${total:,.2f}" if y == "cost" else f"{total:,.1f} h"
    ax.set_title(f"{title}: {summary} in total")
    if hue is not None:
        legend(ax, ax.get_legend_handles_labels()[0], _TITLES[hue].capitalize())
    return ax
