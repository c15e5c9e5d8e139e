"""Usage statistics -> frames, and a job's cost spread over its steps and task runs. Pure.

:func:`statistics_frame` reads the ``statistics`` items of ``GetSessionsStatisticsAggregation``
(as boto3 returns them, with datetimes, or as JSON, with ISO 8601 text or epoch seconds) into
the usage frame of :data:`deadline_nb.schema.USAGE_COLUMNS`: one row per group and period.

:func:`step_costs` and :func:`action_costs` spread a job's cost (the service's estimate for the
whole job) over its steps and task runs in proportion to their task-run time. That is an
estimate of an estimate: the service prices run time by instance type and license, and a step
on a costlier fleet costs more per second than this share says; the columns say so in their
name (``estCostUsd``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from .. import schema
from ..errors import MalformedItemError, Problems
from .access import column_strings, step_labels

__all__ = ["action_costs", "statistics_frame", "step_costs"]

_GROUP_COLUMNS = (*schema.USAGE_GROUP_BY.values(), "jobName")
_STATS = ("costInUsd", "runtimeInSeconds")

#: ``step_costs``: one row per step with task runs.
STEP_COST_COLUMNS: dict[str, object] = {
    "stepId": schema.CATEGORY,
    "stepName": schema.CATEGORY,
    "taskRuns": pd.Int64Dtype(),
    "taskRunSeconds": pd.Float64Dtype(),
    "share": pd.Float64Dtype(),
    "estCostUsd": pd.Float64Dtype(),
}


def _instant(value: Any) -> pd.Timestamp | None:
    """A statistics time (datetime, ISO 8601 text, epoch seconds) as a UTC Timestamp."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ValueError(value)
        return pd.Timestamp(value, unit="s", tz="UTC")
    if isinstance(value, (str, dt.datetime)):
        stamp = pd.Timestamp(value)
        return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    raise ValueError(value)


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(value)
    number = float(value)
    return number if math.isfinite(number) else None


def statistics_frame(statistics: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Build the usage frame from ``GetSessionsStatisticsAggregation``'s ``statistics`` items.

    Parameters
    ----------
    statistics
        The items of every page, as boto3 returns them (datetimes) or as JSON (ISO 8601 text,
        or epoch seconds).

    Returns
    -------
    pandas.DataFrame
        One row per item, the columns of :data:`deadline_nb.schema.USAGE_COLUMNS` in order
        (NA for a group member the aggregation was not grouped by, and for a statistic it did
        not ask for), sorted by ``startTime`` and then the group columns.

    Raises
    ------
    MalformedItemError
        When an item is not a mapping.

    Warns
    -----
    DataWarning
        Once per kind of value that cannot be read (a time that is not one, a cost that is
        not a number): the value is left missing and the warning names the rows' groups.

    Examples
    --------
    >>> from deadline_nb.frames.usage import statistics_frame
    >>> df = statistics_frame([{
    ...     "userId": "u-1", "count": 3,
    ...     "costInUsd": {"sum": 12.5}, "runtimeInSeconds": {"sum": 36000.0},
    ...     "aggregationStartTime": "2026-03-02T00:00:00Z",
    ...     "aggregationEndTime": "2026-03-03T00:00:00Z"}])
    >>> df[["userId", "count", "costInUsd.sum", "runtimeInSeconds.sum"]].to_dict("records")
    [{'userId': 'u-1', 'count': 3, 'costInUsd.sum': 12.5, 'runtimeInSeconds.sum': 36000.0}]
    >>> str(df["startTime"].dtype), bool(df["costInUsd.min"].isna().all())
    ('datetime64[ns, UTC]', True)
    """
    columns: dict[str, list[Any]] = {name: [] for name in schema.USAGE_COLUMNS}
    problems = Problems("usage group")
    for position, item in enumerate(statistics):
        if not isinstance(item, Mapping):
            raise MalformedItemError(position, None, f"a {type(item).__name__}, not a mapping")
        label = ", ".join(f"{m}={item[m]}" for m in _GROUP_COLUMNS if item.get(m)) or f"#{position}"
        for member in _GROUP_COLUMNS:
            value = item.get(member)
            columns[member].append(None if value is None else str(value))
        for member, column in (
            ("aggregationStartTime", "startTime"),
            ("aggregationEndTime", "endTime"),
        ):
            try:
                columns[column].append(_instant(item.get(member)))
            except (ValueError, TypeError, OverflowError):
                problems.add(f"{member} is not a time", label)
                columns[column].append(None)
        count = item.get("count")
        try:
            columns["count"].append(None if count is None else int(count))
        except (ValueError, TypeError, OverflowError):
            problems.add("count is not a whole number", label)
            columns["count"].append(None)
        for stat in _STATS:
            values = item.get(stat) or {}
            for name in ("sum", "min", "max", "avg"):
                try:
                    number = _number(values.get(name) if isinstance(values, Mapping) else None)
                except (ValueError, TypeError):
                    problems.add(f"{stat}.{name} is not a number", label)
                    number = None
                columns[f"{stat}.{name}"].append(number)
    problems.emit()
    frame = pd.DataFrame(
        {
            name: pd.Series(
                pd.array(columns[name], dtype=dtype)  # type: ignore[call-overload]
                if dtype != schema.CATEGORY
                else pd.Categorical(columns[name]),
                dtype=dtype,
            )
            for name, dtype in schema.USAGE_COLUMNS.items()
        }
    )
    if len(frame):
        order = ["startTime", *_GROUP_COLUMNS]
        keys = frame[order].astype(object).where(frame[order].notna(), "")
        frame = frame.iloc[np.lexsort([keys[c].astype(str) for c in reversed(order)])]
        frame = frame.reset_index(drop=True)
    return frame


def _task_run_seconds(actions: pd.DataFrame) -> np.ndarray:
    """Each action's task-run time in seconds: 0 for other actions and unfinished runs."""
    if not len(actions) or "duration" not in actions.columns:
        return np.zeros(len(actions))
    runs = column_strings(actions, "actionType").to_numpy() == "taskRun"
    seconds = actions["duration"].dt.total_seconds().to_numpy(dtype=np.float64, na_value=np.nan)
    return np.where(runs & np.isfinite(seconds), np.maximum(seconds, 0.0), 0.0)


def action_costs(actions: pd.DataFrame, cost_usd: float | None) -> pd.Series:
    """Spread a job's estimated cost over its task runs, by their share of task-run time.

    Parameters
    ----------
    actions
        The job's session-action frame.
    cost_usd
        The job's estimated cost (``job.cost["costInUsd.sum"]``), or None when unknown.

    Returns
    -------
    pandas.Series
        ``estCostUsd`` (Float64), aligned with ``actions``: each finished task run's share;
        NA for other actions, for runs without an end, and everywhere when the cost is unknown
        or no task run finished.

    Examples
    --------
    >>> import pandas as pd
    >>> from deadline_nb.frames.usage import action_costs
    >>> actions = pd.DataFrame({"actionType": ["envEnter", "taskRun", "taskRun"],
    ...     "duration": pd.to_timedelta([5, 30, 90], unit="s")})
    >>> action_costs(actions, 12.0).tolist()
    [<NA>, 3.0, 9.0]
    """
    seconds = _task_run_seconds(actions)
    total = float(seconds.sum())
    values = pd.array([pd.NA] * len(actions), dtype=pd.Float64Dtype())
    if cost_usd is not None and not pd.isna(cost_usd) and total > 0:
        share = np.where(seconds > 0, seconds / total * float(cost_usd), np.nan)
        values = pd.array(np.where(seconds > 0, share, np.nan), dtype=pd.Float64Dtype())
        values[seconds <= 0] = pd.NA
    return pd.Series(values, index=actions.index, name="estCostUsd")


def step_costs(actions: pd.DataFrame, cost_usd: float | None) -> pd.DataFrame:
    """Spread a job's estimated cost over its steps, by their share of task-run time.

    Parameters
    ----------
    actions
        The job's session-action frame (with ``stepName`` from :func:`deadline_nb.load_job`;
        without it, steps are named by id).
    cost_usd
        The job's estimated cost, or None when unknown (then ``estCostUsd`` is NA).

    Returns
    -------
    pandas.DataFrame
        One row per step that has task runs, in the order the steps first appear: ``stepId``,
        ``stepName``, ``taskRuns``, ``taskRunSeconds`` (finished runs), ``share`` of the job's
        task-run time and ``estCostUsd``.

    Examples
    --------
    >>> import pandas as pd
    >>> from deadline_nb.frames.usage import step_costs
    >>> actions = pd.DataFrame({"actionType": ["taskRun"] * 3, "stepId": ["s-1", "s-1", "s-2"],
    ...     "stepName": ["Render", "Render", "Comp"],
    ...     "duration": pd.to_timedelta([30, 30, 60], unit="s")})
    >>> step_costs(actions, 10.0)[["stepName", "taskRuns", "share", "estCostUsd"]].to_dict("list")
    {'stepName': ['Render', 'Comp'], 'taskRuns': [2, 1], 'share': [0.5, 0.5], 'estCostUsd': [5.0, 5.0]}
    """  # noqa: E501 - a doctest's expected line cannot wrap
    if not len(actions) or "actionType" not in actions.columns:
        return schema.empty_frame(STEP_COST_COLUMNS)
    runs = column_strings(actions, "actionType").to_numpy() == "taskRun"
    if not runs.any():
        return schema.empty_frame(STEP_COST_COLUMNS)
    seconds = _task_run_seconds(actions)[runs]
    step_ids = (
        column_strings(actions, "stepId").to_numpy()[runs]
        if "stepId" in actions.columns
        else np.full(runs.sum(), None)
    )
    names = step_labels(actions).to_numpy()[runs]
    table = pd.DataFrame({"stepId": step_ids, "stepName": names, "seconds": seconds})
    table["stepId"] = table["stepId"].fillna("(no step)")
    grouped = table.groupby("stepId", sort=False, dropna=False).agg(
        stepName=("stepName", "first"), taskRuns=("seconds", "size"), seconds=("seconds", "sum")
    )
    total = float(grouped["seconds"].sum())
    share = grouped["seconds"] / total if total > 0 else pd.Series(np.nan, index=grouped.index)
    known = cost_usd is not None and not pd.isna(cost_usd) and total > 0
    cost = share * float(cost_usd) if known and cost_usd is not None else share * np.nan
    out = pd.DataFrame(
        {
            "stepId": grouped.index.astype(str),
            "stepName": grouped["stepName"].astype(str).to_numpy(),
            "taskRuns": grouped["taskRuns"].to_numpy(),
            "taskRunSeconds": grouped["seconds"].to_numpy(),
            "share": share.to_numpy(),
            "estCostUsd": cost.to_numpy(),
        }
    )
    return out.astype(STEP_COST_COLUMNS)
