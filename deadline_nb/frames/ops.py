"""Operations on frames already built: join a job's records, order actions, stack frames.

Each keeps the schema's dtypes, where plain pandas would turn categories and missing columns into
objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .. import schema
from .duplicates import newest_rows

__all__ = ["concat_frames", "job_action_frame", "sort_actions"]


def job_action_frame(
    actions: pd.DataFrame,
    *,
    steps: pd.DataFrame | None = None,
    sessions: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Add each action's step name, worker and fleet to a session-action frame.

    Parameters
    ----------
    actions
        A frame from :func:`session_action_frame`.
    steps
        A frame with ``stepId`` and ``name`` (:func:`step_frame`); without it ``stepName`` is
        missing.
    sessions
        A frame from :func:`session_frame`; without it ``workerId`` and ``fleetId`` are missing.

    Returns
    -------
    pandas.DataFrame
        A new frame: the session-action columns, then the columns of
        :data:`deadline_nb.schema.JOB_ACTION_COLUMNS` (``stepName``, ``workerId``,
        ``fleetId``; categories), then the ``param.<Name>`` columns. Rows and their order are
        unchanged.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> actions = dnb.session_action_frame([{
    ...     "sessionActionId": "sessionaction-0123456789abcdef0123456789abcdef-0",
    ...     "status": "SUCCEEDED",
    ...     "definition": {"taskRun": {"stepId": "step-0123456789abcdef0123456789abcdef",
    ...                                "taskId": "task-0123456789abcdef0123456789abcdef-0"}}}])
    >>> sessions = dnb.session_frame([{
    ...     "sessionId": "session-0123456789abcdef0123456789abcdef",
    ...     "workerId": "worker-0123456789abcdef0123456789abcdef",
    ...     "fleetId": "fleet-0123456789abcdef0123456789abcdef", "lifecycleStatus": "ENDED",
    ...     "startedAt": "2026-11-26T21:00:00Z"}])
    >>> steps = dnb.step_frame([{"stepId": "step-0123456789abcdef0123456789abcdef",
    ...     "name": "Render", "lifecycleStatus": "CREATE_COMPLETE", "taskRunStatus": "SUCCEEDED",
    ...     "createdAt": "2026-11-26T20:00:00Z", "createdBy": "ivan"}])
    >>> df = dnb.job_action_frame(actions, steps=steps, sessions=sessions)
    >>> df.loc[0, ["stepName", "workerId"]].tolist()
    ['Render', 'worker-0123456789abcdef0123456789abcdef']
    """
    fixed = [c for c in actions.columns if not c.startswith(schema.PARAMETER_PREFIX)]
    params = [c for c in actions.columns if c.startswith(schema.PARAMETER_PREFIX)]
    out = actions[[c for c in fixed if c not in schema.JOB_ACTION_COLUMNS]].copy()
    n = len(out)

    def lookup(keys: pd.Series, table: pd.DataFrame | None, key: str, value: str) -> Any:
        if table is None or key not in table or value not in table or not n:
            return pd.Categorical([None] * n)
        mapping = table.drop_duplicates(key, keep="last").set_index(key)[value]
        # Categorical codes index the mapping once per distinct key, not once per row.
        keys = keys.astype("category")
        names = pd.Series(keys.cat.categories).map(mapping.astype(object)).to_numpy(object)
        codes = keys.cat.codes.to_numpy()
        picked = np.where(codes >= 0, names[np.maximum(codes, 0)] if len(names) else None, None)
        return pd.Categorical(picked)

    out["stepName"] = lookup(out["stepId"], steps, "stepId", "name")
    out["workerId"] = lookup(out["sessionId"], sessions, "sessionId", "workerId")
    out["fleetId"] = lookup(out["sessionId"], sessions, "sessionId", "fleetId")
    for name in params:
        out[name] = actions[name]
    return out


def sort_actions(frame: pd.DataFrame) -> pd.DataFrame:
    """Order a session-action frame by session, then by position in the session.

    The position is the integer at the end of the id: ``...-10`` comes after ``...-9``. The
    categories of id columns are sorted too, so that the result depends only on the actions.

    Parameters
    ----------
    frame
        A frame from :func:`session_action_frame`.

    Returns
    -------
    pandas.DataFrame
        The same rows, reordered, with a fresh ``RangeIndex``.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> from deadline_nb.frames import sort_actions
    >>> hexid = "0123456789abcdef0123456789abcdef"
    >>> env = {"envEnter": {"environmentId": "JOB:Setup"}}
    >>> df = dnb.session_action_frame([{"sessionActionId": f"sessionaction-{hexid}-{n}",
    ...                                 "definition": env} for n in (10, 9)])
    >>> sort_actions(df)["actionIndex"].tolist()
    [9, 10]
    """
    if frame.empty:
        return frame.reset_index(drop=True)
    sessions = frame["sessionId"].astype(str).to_numpy()
    order = np.lexsort((frame["actionIndex"].to_numpy(), sessions))
    out = frame.take(order).reset_index(drop=True)
    # Categories in sorted order too: the same actions give the same frame, whatever order
    # they arrived in (a parallel fetch, a merge with the cache).
    for name in out.columns:
        dtype = out[name].dtype
        if isinstance(dtype, pd.CategoricalDtype) and not dtype.ordered:
            categories = dtype.categories
            if not categories.is_monotonic_increasing:
                out[name] = out[name].cat.reorder_categories(categories.sort_values())
    return out


def concat_frames(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Stack frames of one kind, keeping the schema's dtypes (pandas alone would not).

    ``pd.concat`` turns categories that differ between frames into plain objects, and a
    parameter column that one frame lacks into objects too. Here categories are merged, a
    missing parameter column is missing values of the other frame's dtype, and an ``Int64``
    parameter meeting a ``Float64`` one gives ``Float64`` (any other mix gives text), as
    :func:`session_action_frame` would have typed them together.

    Session-action frames (from :func:`session_action_frame` or :func:`job_action_frame`) keep
    one row per action, so that stacking two fetches of one job counts each action once: the
    newest row (a terminal status, then the later ``workerUpdatedAt``, then the later
    ``endedAt``, then the later frame; see :mod:`deadline_nb.frames.duplicates`). That is what
    stacking newer fetches is for, so it is not warned about. Other kinds of frame (the long
    forms, snapshots) keep every row.

    Parameters
    ----------
    frames
        Frames from the same function.

    Returns
    -------
    pandas.DataFrame
        The rows of each, in order (less the older rows of a repeated action), with a fresh
        ``RangeIndex``.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> from deadline_nb.frames import concat_frames
    >>> env = {"envEnter": {"environmentId": "JOB:Setup"}}
    >>> a = dnb.session_action_frame([{"sessionActionId": "sessionaction-" + "a" * 32 + "-0",
    ...                                "definition": env}])
    >>> b = dnb.session_action_frame([{"sessionActionId": "sessionaction-" + "b" * 32 + "-0",
    ...                                "definition": env}])
    >>> both = concat_frames([a, b])
    >>> both["sessionId"].dtype.name, list(both["sessionId"].str[8:12])
    ('category', ['aaaa', 'bbbb'])
    """
    frames = [f for f in frames if len(f.columns)]
    if not frames:
        return pd.DataFrame()
    if len(frames) == 1:
        return _one_row_per_action(frames[0].reset_index(drop=True))
    names: dict[str, None] = {}
    for f in frames:
        names.update(dict.fromkeys(f.columns))
    # Fixed columns keep their order; parameter columns stay sorted by name after them.
    fixed = [n for n in names if not n.startswith(schema.PARAMETER_PREFIX)]
    params = sorted(n for n in names if n.startswith(schema.PARAMETER_PREFIX))
    data: dict[str, Any] = {}
    for name in [*fixed, *params]:
        present = [f[name] for f in frames if name in f.columns]
        dtypes = {str(s.dtype) for s in present}
        target: Any = present[0].dtype
        if all(isinstance(s.dtype, pd.CategoricalDtype) for s in present):
            if not all(s.dtype == target for s in present):
                # Unordered (ids): the union of the categories, in order of appearance.
                union: dict[Any, None] = {}
                for s in present:
                    union.update(dict.fromkeys(s.cat.categories.tolist()))
                target = pd.CategoricalDtype(list(union))
        elif dtypes <= {"Int64", "Float64"} and len(dtypes) == 2:
            target = pd.Float64Dtype()
        elif len(dtypes) > 1:
            target = schema.STRING
        parts = [
            f[name].astype(target)
            if name in f.columns
            else pd.Series(pd.array([None] * len(f), dtype=target), index=f.index)
            for f in frames
        ]
        data[name] = pd.concat(parts, ignore_index=True)
    return _one_row_per_action(pd.DataFrame(data))


def _one_row_per_action(frame: pd.DataFrame) -> pd.DataFrame:
    """Session-action frames keep their newest row per action; other kinds keep every row."""
    # The long forms and snapshots have many rows per action by design: only a frame with every
    # session-action column (job_action_frame's too) has one row per action.
    if not set(schema.SESSION_ACTION_COLUMNS) <= set(frame.columns):
        return frame
    return newest_rows(frame)
