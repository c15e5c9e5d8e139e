"""Frames of a job's other records: sessions, steps and tasks, one row per record.

The same conversions as the session-action reader (:mod:`~deadline_nb.frames.convert`), driven
by the columns of :mod:`deadline_nb.schema`: ``SESSION_COLUMNS``, ``STEP_COLUMNS``,
``TASK_COLUMNS``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from .. import schema
from ..errors import Problems
from .convert import (
    INT64_MAX,
    INT64_MIN,
    as_items,
    category,
    datetime_array,
    duration,
    ordered,
    require_ids,
    string_array,
    text_array,
    times_ns,
    to_numbers,
)
from .parameters import parameter_column, read_parameters

__all__ = ["session_frame", "step_frame", "task_frame"]


def session_frame(
    sessions: Iterable[Mapping[str, Any]] | Mapping[str, Any],
    *,
    farm_id: str | None = None,
    queue_id: str | None = None,
    job_id: str | None = None,
) -> pd.DataFrame:
    """Turn ListSessions summaries or GetSession / BatchGetSession results into a DataFrame.

    Parameters
    ----------
    sessions
        Session summaries or responses, or a page with ``sessions``.
    farm_id, queue_id, job_id
        Fill the ids where an item has none (GetSession and ListSessions results do not carry
        them).

    Returns
    -------
    pandas.DataFrame
        The columns of :data:`deadline_nb.schema.SESSION_COLUMNS`: ids, ``workerId``,
        ``fleetId``, ``lifecycleStatus`` (ordered), times and ``duration``, and from
        ``hostProperties`` (GetSession only) ``hostName``, ``instanceType`` and
        ``ec2InstanceArn``.

    Raises
    ------
    MalformedItemError
        (a ``ValueError``) when an item is not a mapping or has no ``sessionId``.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> df = dnb.session_frame([{
    ...     "sessionId": "session-0123456789abcdef0123456789abcdef",
    ...     "fleetId": "fleet-0123456789abcdef0123456789abcdef",
    ...     "workerId": "worker-0123456789abcdef0123456789abcdef",
    ...     "startedAt": "2026-11-26T22:00:00Z", "endedAt": "2026-11-26T23:00:00Z",
    ...     "lifecycleStatus": "ENDED",
    ...     "hostProperties": {"hostName": "render-042", "ec2InstanceType": "c5.4xlarge"}}])
    >>> df.loc[0, ["hostName", "instanceType", "duration"]].tolist()
    ['render-042', 'c5.4xlarge', Timedelta('0 days 01:00:00')]
    """
    items = as_items(sessions, "sessions")
    ids = require_ids(items, "sessionId")
    if not items:
        return schema.empty_frame(schema.SESSION_COLUMNS)
    hosts = [item.get("hostProperties") or {} for item in items]
    hosts = [h if isinstance(h, Mapping) else {} for h in hosts]
    from_host = {"hostName": "hostName", "instanceType": "ec2InstanceType"}
    from_host["ec2InstanceArn"] = "ec2InstanceArn"
    problems = Problems("session")
    frame = _record_frame(
        items,
        ids,
        schema.SESSION_COLUMNS,
        {"farmId": farm_id, "queueId": queue_id, "jobId": job_id},
        problems,
        {name: [h.get(key) for h in hosts] for name, key in from_host.items()},
    )
    problems.emit()
    return frame


def _record_frame(
    items: list[Any],
    ids: Sequence[str],
    columns: Mapping[str, object],
    defaults: Mapping[str, str | None],
    problems: Problems,
    given: Mapping[str, Sequence[Any]] | None = None,
) -> pd.DataFrame:
    """Summaries (sessions, steps, tasks) -> a frame of ``columns``, each from its field.

    ``given`` supplies the values of columns that are not a top-level field of the item;
    ``defaults`` fills ids the item does not carry. ``duration`` is ``endedAt - startedAt``.
    """
    data: dict[str, Any] = {}
    naive: list[str] = []
    ns: dict[str, np.ndarray] = {}
    given = given or {}
    for name, dtype in columns.items():
        if dtype == schema.TIME:
            times = np.empty(len(items), dtype=object)
            times[:] = given[name] if name in given else [item.get(name) for item in items]
            ns[name] = times_ns(times, name, ids, problems, naive)
            data[name] = datetime_array(ns[name])
            continue
        if name == "duration":
            data[name] = duration(ns["startedAt"], ns["endedAt"], ids, problems)
            continue
        values = given[name] if name in given else [item.get(name) for item in items]
        if isinstance(dtype, pd.Int64Dtype):
            numbers, missing = to_numbers(values, name, ids, problems, INT64_MIN, INT64_MAX)
            data[name] = pd.arrays.IntegerArray(
                np.where(missing, 0, numbers).astype(np.int64), missing
            )
            continue
        arr = text_array(values, name, ids, problems)
        if defaults.get(name) is not None:
            arr = pc.fill_null(arr, defaults[name])
        if isinstance(dtype, pd.CategoricalDtype) and dtype.categories is not None:
            data[name] = ordered(arr, dtype, name, ids, problems)
        elif dtype == schema.CATEGORY:
            data[name] = category(arr)
        else:
            data[name] = string_array(arr)
    for item_id in dict.fromkeys(naive):
        problems.add("timestamps without a time zone were taken as UTC", item_id)
    return pd.DataFrame(data, index=pd.RangeIndex(len(items)))


def step_frame(
    steps: Iterable[Mapping[str, Any]] | Mapping[str, Any],
    *,
    farm_id: str | None = None,
    queue_id: str | None = None,
    job_id: str | None = None,
) -> pd.DataFrame:
    """Turn ListSteps summaries or GetStep responses into a DataFrame, one row per step.

    Parameters
    ----------
    steps
        Step summaries or responses, or a page with ``steps``.
    farm_id, queue_id, job_id
        Fill the ids where an item has none (the API's step results do not carry them).

    Returns
    -------
    pandas.DataFrame
        The columns of :data:`deadline_nb.schema.STEP_COLUMNS`: ids, ``name``, statuses, times,
        ``duration``, and ``taskRunStatusCounts`` as one ``tasks.<STATUS>`` column per
        task-run status.

    Raises
    ------
    MalformedItemError
        (a ``ValueError``) when an item is not a mapping or has no ``stepId``.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> df = dnb.step_frame([{
    ...     "stepId": "step-0123456789abcdef0123456789abcdef", "name": "Render",
    ...     "lifecycleStatus": "CREATE_COMPLETE", "taskRunStatus": "RUNNING",
    ...     "taskRunStatusCounts": {"RUNNING": 2, "SUCCEEDED": 8},
    ...     "createdAt": "2026-11-26T21:00:00Z", "createdBy": "ivan"}])
    >>> df[["name", "taskRunStatus", "tasks.SUCCEEDED", "tasks.FAILED"]]
         name taskRunStatus  tasks.SUCCEEDED  tasks.FAILED
    0  Render       RUNNING                8             0
    """
    items = as_items(steps, "steps")
    ids = require_ids(items, "stepId")
    if not items:
        return schema.empty_frame(schema.STEP_COLUMNS)
    counts = [item.get("taskRunStatusCounts") for item in items]
    # A summary without counts has none to tell (missing); with counts, an absent status is 0.
    given = {
        f"tasks.{status}": [c.get(status, 0) if isinstance(c, Mapping) else None for c in counts]
        for status in schema.TASK_RUN_STATUSES
    }
    problems = Problems("step")
    frame = _record_frame(
        items,
        ids,
        schema.STEP_COLUMNS,
        {"farmId": farm_id, "queueId": queue_id, "jobId": job_id},
        problems,
        given,
    )
    problems.emit()
    return frame


def task_frame(
    tasks: Iterable[Mapping[str, Any]] | Mapping[str, Any],
    *,
    farm_id: str | None = None,
    queue_id: str | None = None,
    job_id: str | None = None,
    step_id: str | None = None,
) -> pd.DataFrame:
    """Turn ListTasks summaries or GetTask responses into a DataFrame, one row per task.

    Parameters
    ----------
    tasks
        Task summaries or responses, or a page with ``tasks``. The API's task results carry no
        step id; :func:`deadline_nb.fetch_tasks` adds ``stepId`` to each.
    farm_id, queue_id, job_id, step_id
        Fill the ids where an item has none.

    Returns
    -------
    pandas.DataFrame
        The columns of :data:`deadline_nb.schema.TASK_COLUMNS`, then one ``param.<Name>``
        column per task parameter, typed as in :func:`session_action_frame`.

    Raises
    ------
    MalformedItemError
        (a ``ValueError``) when an item is not a mapping or has no ``taskId``.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> df = dnb.task_frame([{
    ...     "taskId": "task-0123456789abcdef0123456789abcdef-0", "runStatus": "FAILED",
    ...     "failureRetryCount": 2, "createdAt": "2026-11-26T21:00:00Z", "createdBy": "ivan",
    ...     "parameters": {"Frame": {"int": "12"}}}],
    ...     step_id="step-0123456789abcdef0123456789abcdef")
    >>> df[["runStatus", "failureRetryCount", "param.Frame"]]
      runStatus  failureRetryCount  param.Frame
    0    FAILED                  2           12
    """
    items = as_items(tasks, "tasks")
    ids = require_ids(items, "taskId")
    if not items:
        return schema.empty_frame(schema.TASK_COLUMNS)
    problems = Problems("task")
    frame = _record_frame(
        items,
        ids,
        schema.TASK_COLUMNS,
        {"farmId": farm_id, "queueId": queue_id, "jobId": job_id, "stepId": step_id},
        problems,
    )
    parameters = [item.get("parameters") for item in items]
    rows = np.array([i for i, p in enumerate(parameters) if p is not None], dtype=np.int64)
    found = read_parameters(rows, [parameters[i] for i in rows], ids, problems)
    for name, parameter in sorted(found.items()):
        frame[f"{schema.PARAMETER_PREFIX}{name}"] = parameter_column(
            name, parameter, len(items), ids, problems
        )
    problems.emit()
    return frame
