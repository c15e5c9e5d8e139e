"""A log frame in brief: one row per session action (:func:`log_summary_frame`).

What a history dataset keeps of a job's logs (its ``logs`` table): counts, times and the lines
that say what went wrong, not the text, so that a year of jobs stays small and the question
"which jobs logged this error" is answered without reading CloudWatch Logs again.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .. import schema
from ..errors import bad_argument
from .logs import failure_lines

__all__ = ["ERROR_PATTERN", "WARNING_PATTERN", "log_summary_frame"]

#: A line counted in ``errorLines`` (RE2, case-insensitive): a word ending in error or exception
#: (``RuntimeError:`` too), a traceback, a fatal word, or the task's own ``openjd_fail:`` report.
ERROR_PATTERN: Final = r"error\b|exception\b|^traceback\b|\bfatal\b|^openjd_fail: "
#: A line counted in ``warningLines`` (RE2, case-insensitive).
WARNING_PATTERN: Final = r"\bwarn(?:ing)?\b"
_NAT: Final = np.iinfo(np.int64).min


def _matches(messages: pa.Array, pattern: str) -> np.ndarray:
    found = pc.fill_null(pc.match_substring_regex(messages, pattern, ignore_case=True), False)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)


def log_summary_frame(logs: pd.DataFrame, actions: pd.DataFrame) -> pd.DataFrame:
    """Summarise a log frame per session action: line counts, times, error and warning lines.

    Parameters
    ----------
    logs
        A frame from :func:`deadline_nb.log_frame` made with ``actions`` (``job.logs``).
    actions
        The session actions (``job.actions``); one row each in the result, in their order.

    Returns
    -------
    pandas.DataFrame
        The columns of :data:`deadline_nb.schema.LOG_SUMMARY_COLUMNS`. Lines are matched with
        :data:`ERROR_PATTERN` and :data:`WARNING_PATTERN`, ignoring case.

    Raises
    ------
    ValueError
        When ``logs`` or ``actions`` has no ``sessionActionId`` column.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> from deadline_nb.frames.logsummary import log_summary_frame
    >>> sid = "0123456789abcdef0123456789abcdef"
    >>> actions = dnb.session_action_frame([{
    ...     "sessionActionId": f"sessionaction-{sid}-0", "status": "FAILED",
    ...     "startedAt": "2026-11-26T22:00:00Z", "endedAt": "2026-11-26T22:01:00Z",
    ...     "processExitCode": 1, "definition": {"taskRun": {
    ...         "stepId": "step-" + sid, "taskId": f"task-{sid}-7"}}}])
    >>> lines = ["Output:", "Warning: slow disk", "Error: license server unreachable",
    ...          "Process pid 42 exited with code: 1 (unsigned) / 0x1 (hex)"]
    >>> events = [{"timestamp": 1795730400000 + i, "message": m} for i, m in enumerate(lines)]
    >>> logs = dnb.log_frame({f"session-{sid}": events}, actions=actions)
    >>> row = log_summary_frame(logs, actions).iloc[0]
    >>> int(row["lines"]), int(row["errorLines"]), int(row["warningLines"])
    (4, 1, 1)
    >>> row["firstErrorLine"]
    'Error: license server unreachable'
    """
    for name, table in (("logs", logs), ("actions", actions)):
        if "sessionActionId" not in table.columns:
            raise bad_argument(name, "have a sessionActionId column", list(table.columns))
    n = len(actions)
    ids = actions["sessionActionId"].astype(object).to_numpy()
    owner = pd.Index(ids).get_indexer(logs["sessionActionId"].astype(object).to_numpy())
    rows = np.flatnonzero(owner >= 0)
    # Lines in their action's order (lineIndex within the session), so "first" means first.
    order_key = logs["lineIndex"].to_numpy()[rows] if "lineIndex" in logs.columns else rows
    rows = rows[np.lexsort((order_key, owner[rows]))]
    group = owner[rows]
    lines = np.bincount(group, minlength=n)
    first_at = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    last_at = np.full(n, _NAT, dtype=np.int64)
    if "timestamp" in logs.columns and len(rows):
        stamps = logs["timestamp"].to_numpy(dtype="datetime64[ns]").view(np.int64)[rows]
        known = stamps != _NAT
        np.minimum.at(first_at, group[known], stamps[known])
        np.maximum.at(last_at, group[known], stamps[known])
    first_at[first_at == np.iinfo(np.int64).max] = _NAT
    messages = pa.array(logs["message"].astype(object).to_numpy()[rows], type=pa.string())
    errors = _matches(messages, ERROR_PATTERN) if len(rows) else np.zeros(0, dtype=bool)
    warnings = _matches(messages, WARNING_PATTERN) if len(rows) else np.zeros(0, dtype=bool)
    first_error: list[str | None] = [None] * n
    at = np.flatnonzero(errors)
    # The first error row of each group: rows are grouped and ordered, so the first seen wins.
    groups, first = np.unique(group[at], return_index=True)
    for g, i in zip(groups.tolist(), at[first].tolist(), strict=True):
        first_error[g] = messages[i].as_py()
    failed = failure_lines(logs, actions)
    ending = dict(
        zip(failed["sessionActionId"].astype(object), failed["line"].astype(object), strict=True)
    )
    out: dict[str, object] = {}
    for name in schema.LOG_SUMMARY_COLUMNS:
        if name in ("farmId", "queueId", "jobId", "sessionId"):
            if name in actions.columns:
                out[name] = actions[name].astype(object).to_numpy()
            elif name == "sessionId":
                out[name] = [schema.session_of(str(i)) for i in ids]
            else:
                out[name] = [None] * n
        elif name == "sessionActionId":
            out[name] = ids
        elif name == "lines":
            out[name] = lines
        elif name == "firstLineAt":
            out[name] = pd.to_datetime(first_at.view("datetime64[ns]"), utc=True)
        elif name == "lastLineAt":
            out[name] = pd.to_datetime(last_at.view("datetime64[ns]"), utc=True)
        elif name == "errorLines":
            out[name] = np.bincount(group[errors], minlength=n)
        elif name == "warningLines":
            out[name] = np.bincount(group[warnings], minlength=n)
        elif name == "firstErrorLine":
            out[name] = first_error
        elif name == "failureLine":
            out[name] = [ending.get(i) for i in ids]
    frame = pd.DataFrame(out, index=pd.RangeIndex(n))
    return frame.astype(dict(schema.LOG_SUMMARY_COLUMNS))
