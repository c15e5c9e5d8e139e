"""One row per session action when the input holds the same action more than once.

Shared inside :mod:`deadline_nb.frames`: :mod:`~deadline_nb.frames.actions` and
:mod:`~deadline_nb.frames.companions` keep the same item of each action with
:func:`one_per_action` (so that a companion row always belongs to the row the action frame kept),
and :mod:`~deadline_nb.frames.ops` keeps the newest row of each action with :func:`newest_rows`.

Which item is kept, in this order of preference:

1. a GetSessionAction or BatchGetSessionAction item over a ListSessionActions summary (the full
   item carries ``sessionId``, the exit code, the message and the limits, which a summary lacks);
2. a terminal status over one that is not (an action that has ended does not run again);
3. the later ``workerUpdatedAt``, then the later ``endedAt`` (a missing time is the oldest);
4. the later in the input.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .. import schema
from ..errors import Problems
from .access import utc_ns
from .convert import column_matrix, is_missing, times_ns

__all__ = ["DUPLICATE", "newest_rows", "one_per_action"]

#: The problem noted (once per repeated action) when items of one action were dropped.
DUPLICATE = (
    "sessionActionId appears more than once in the input; one row was kept, from the most "
    "complete and most recent item"
)

# Fields only a full item (GetSessionAction, BatchGetSessionAction) has; sessionId is required
# there, the others are checked too for hand-made items.
_FULL_ONLY = ("sessionId", "processExitCode", "progressMessage", "acquiredLimits", "farmId")
_RANKED = (*_FULL_ONLY, "status", "workerUpdatedAt", "endedAt")


def one_per_action(
    items: list[Any], ids: list[str], problems: Problems
) -> tuple[list[Any], list[str]]:
    """Keep one item per ``sessionActionId``: the most complete and most recent.

    Parameters
    ----------
    items
        Session-action items (mappings), each with its id in ``ids``.
    ids
        The items' ``sessionActionId``, in the same order.
    problems
        Where each repeated action is noted (:data:`DUPLICATE`), to be warned about once.

    Returns
    -------
    tuple of list
        The items kept and their ids, in input order: the same lists when no id repeats.

    Examples
    --------
    >>> from deadline_nb.errors import Problems
    >>> a = "sessionaction-" + "a" * 32 + "-0"
    >>> summary = {"sessionActionId": a, "status": "RUNNING"}
    >>> full = {"sessionActionId": a, "status": "SUCCEEDED", "sessionId": "session-" + "a" * 32}
    >>> kept, ids = one_per_action([full, summary], [a, a], Problems())
    >>> kept == [full]
    True
    """
    if len(set(ids)) == len(ids):
        return items, ids
    keep = _kept_positions(items, ids)
    repeated = Counter(ids)
    for action_id, count in repeated.items():
        if count > 1:
            problems.add(DUPLICATE, action_id)
    return [items[i] for i in keep], [ids[i] for i in keep]


def _kept_positions(items: Sequence[Any], ids: Sequence[str]) -> list[int]:
    """Positions of the items kept, in input order; only repeated ids are ranked."""
    counts = Counter(ids)
    rows = np.array([i for i, a in enumerate(ids) if counts[a] > 1], dtype=np.intp)
    ranked = [items[i] for i in rows]
    sub_ids = [ids[i] for i in rows]
    matrix = column_matrix(ranked, _RANKED)
    full = (~is_missing(matrix[:, : len(_FULL_ONLY)])).any(axis=1)
    statuses = matrix[:, len(_FULL_ONLY)]
    terminal = np.array(
        [isinstance(s, str) and s in schema.TERMINAL_STATUSES for s in statuses], dtype=bool
    )
    # Problems with these times are the kept item's to report, by the frame that reads it.
    scratch, naive = Problems(), list[str]()
    updated = times_ns(matrix[:, -2], "workerUpdatedAt", sub_ids, scratch, naive)
    ended = times_ns(matrix[:, -1], "endedAt", sub_ids, scratch, naive)
    group = pd.factorize(np.array(sub_ids, dtype=object))[0]
    order = np.lexsort((rows, ended, updated, terminal, full, group))
    # After the sort each group's best item is its last.
    last = np.ones(len(order), dtype=bool)
    last[:-1] = group[order][1:] != group[order][:-1]
    winners = set(rows[order[last]].tolist())
    return [i for i, a in enumerate(ids) if counts[a] == 1 or i in winners]


def newest_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Keep the newest row of each action in a session-action frame, in row order.

    The same preferences as :func:`one_per_action` except the first, which a frame cannot tell
    (its ``sessionId`` is always filled): a terminal status, then the later ``workerUpdatedAt``,
    then the later ``endedAt``, then the later row.

    Parameters
    ----------
    frame
        A frame with the columns of :func:`~deadline_nb.frames.session_action_frame`.

    Returns
    -------
    pandas.DataFrame
        ``frame`` itself when no action repeats, else the rows kept with a fresh ``RangeIndex``.

    Examples
    --------
    >>> import pandas as pd, deadline_nb as dnb
    >>> def frame(status):
    ...     return dnb.session_action_frame([{
    ...         "sessionActionId": "sessionaction-" + "a" * 32 + "-0", "status": status,
    ...         "definition": {"envEnter": {"environmentId": "JOB:Setup"}}}])
    >>> both = pd.concat([frame("SUCCEEDED"), frame("RUNNING")], ignore_index=True)
    >>> newest_rows(both)["status"].tolist()
    ['SUCCEEDED']
    """
    ids = frame["sessionActionId"]
    duplicated = ids.duplicated(keep=False).to_numpy(dtype=bool)
    if not duplicated.any():
        return frame
    rows = np.flatnonzero(duplicated)
    part = frame.iloc[rows]
    terminal = part["status"].isin(schema.TERMINAL_STATUSES).to_numpy(dtype=bool)
    updated = utc_ns(part, "workerUpdatedAt")
    ended = utc_ns(part, "endedAt")
    group = pd.factorize(part["sessionActionId"].to_numpy(dtype=object))[0]
    order = np.lexsort((rows, ended, updated, terminal, group))
    last = np.ones(len(order), dtype=bool)
    last[:-1] = group[order][1:] != group[order][:-1]
    keep = ~duplicated
    keep[rows[order[last]]] = True
    return frame[keep].reset_index(drop=True)
