"""Reading a frame's columns as NumPy arrays: shared by summaries, plots, traces and widgets.

One set of rules, so that a table, a plot and a trace of the same frame count the same things the
same way (see :mod:`deadline_nb.summary` for what the numbers mean): times as int64 nanoseconds
(UTC), columns as integer codes with their labels, effective ends of running actions, lanes and step
labels. Pure pandas and NumPy; every function takes any frame with the schema's column names and
reads a missing column as all missing.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Final

import numpy as np
import pandas as pd

from ..errors import DataWarning

__all__ = [
    "LANES",
    "NAT",
    "action_lanes",
    "column_codes",
    "column_strings",
    "effective_ends",
    "ns_to_seconds",
    "session_time_ns",
    "step_labels",
    "utc_ns",
]

#: What a lane can be, for :func:`action_lanes` and so for timelines and traces.
LANES: Final[tuple[str, ...]] = ("worker", "session", "step")

#: A missing time, in the int64 nanoseconds the functions here return.
NAT: Final[int] = int(np.iinfo(np.int64).min)
_NS_PER_S: Final[float] = 1e9


def utc_ns(df: pd.DataFrame, column: str) -> np.ndarray:
    """A time column as int64 nanoseconds since the epoch (UTC), :data:`NAT` where missing.

    Aware times in any zone (or a mix of zones, in an object column) are converted to UTC; naive
    times are taken as UTC, the only zone the API uses. A missing column reads as all missing.
    """
    if column not in df.columns or len(df) == 0:
        return np.full(len(df), NAT, dtype=np.int64)
    values = df[column]
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    elif not pd.api.types.is_datetime64_dtype(values.dtype):
        values = pd.to_datetime(values, utc=True, errors="coerce").dt.tz_localize(None)
    # pandas 3 may give microsecond (or second) units: always hand out nanoseconds.
    return values.to_numpy(dtype="datetime64[ns]").view(np.int64)


def column_strings(df: pd.DataFrame, column: str) -> pd.Series:
    """A column as Python-object strings with ``None`` for missing (all missing if absent)."""
    if column not in df.columns:
        return pd.Series([None] * len(df), index=df.index, dtype=object)
    values = df[column]
    out = values.astype(object)
    return out.where(values.notna(), None)


def column_codes(
    df: pd.DataFrame, column: str, order: Sequence[str] | None = None
) -> tuple[np.ndarray, list[str]]:
    """Integer codes of a column's values (-1 for missing) and the labels they stand for.

    With ``order``, labels come in that order (values outside it follow, sorted); otherwise in
    order of first appearance. Categorical columns are read through their codes: a million rows
    take milliseconds.
    """
    if column not in df.columns or len(df) == 0:
        return np.full(len(df), -1, dtype=np.int64), []
    values = df[column]
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy().astype(np.int64)
        categories = [str(c) for c in values.cat.categories]
        used, first = np.unique(codes, return_index=True)
        first, used = first[used >= 0], used[used >= 0]
        if order is None:
            # first appearance: the used codes sorted by where they first occur
            labels = used[np.argsort(first, kind="stable")].tolist()
        else:
            rank = {name: i for i, name in enumerate(order)}
            labels = sorted(
                used.tolist(),
                key=lambda c: (rank.get(categories[c], len(rank)), categories[c]),
            )
        remap = np.full(len(categories) + 1, -1, dtype=np.int64)
        for new, old in enumerate(labels):
            remap[old] = new
        return remap[codes], [categories[c] for c in labels]
    codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
    names = [str(u) for u in uniques]
    codes = np.asarray(codes, dtype=np.int64)
    if order is not None:
        rank = {name: i for i, name in enumerate(order)}
        sorted_names = sorted(names, key=lambda n: (rank.get(n, len(rank)), n))
        position = {name: i for i, name in enumerate(sorted_names)}
        remap = np.array([position[n] for n in names] + [-1], dtype=np.int64)
        return remap[codes], sorted_names
    return codes, names


def effective_ends(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start, effective end (ns) and whether the end is open (still running), per action.

    The effective end is ``endedAt``; for an attempted action with none it is the worker's last
    update (``workerUpdatedAt``), or the start itself when that is missing or earlier.
    """
    start = utc_ns(df, "startedAt")
    end = utc_ns(df, "endedAt")
    updated = utc_ns(df, "workerUpdatedAt")
    attempted = start != NAT
    open_end = attempted & (end == NAT)
    effective = end.copy()
    effective[open_end] = np.maximum(updated[open_end], start[open_end])
    # an end before the start (the frame keeps such times as the API gave them) takes no time
    bad = attempted & ~open_end & (end < start)
    effective[bad] = start[bad]
    return start, effective, open_end


def session_time_ns(
    df: pd.DataFrame, start: np.ndarray | None = None, end: np.ndarray | None = None
) -> int:
    """Summed session time (ns): each session from its first action's start to its last end."""
    if start is None or end is None:
        start, end, _ = effective_ends(df)
    attempted = start != NAT
    if not attempted.any():
        return 0
    sessions = column_codes(df, "sessionId")[0][attempted]
    spans = pd.DataFrame({"s": sessions, "a": start[attempted], "b": end[attempted]}).groupby("s")
    return int((spans["b"].max() - spans["a"].min()).sum())


def step_labels(df: pd.DataFrame) -> pd.Series:
    """The step of every action, by name where the frame has ``stepName``, else by id.

    Task runs and syncs carry their step; a step environment's id names its step
    (``STEP:<stepId>:<name>``); a job environment takes the step of its session's neighbours.
    """
    n = len(df)
    if n == 0:
        return pd.Series([], dtype=object)
    ids = column_strings(df, "stepId")
    env = column_strings(df, "environmentId")
    from_env = env.str.extract(r"^STEP:(step-[0-9a-f]+):", expand=False)
    ids = ids.where(ids.notna(), from_env.where(from_env.notna(), None))
    names = column_strings(df, "stepName")
    if names.notna().any():
        known = pd.DataFrame({"id": ids, "name": names}).dropna()
        by_id = dict(zip(known["id"], known["name"], strict=False))
        labels = names.where(names.notna(), ids.map(by_id).where(ids.notna(), None))
        # ids with no name anywhere in the frame stay ids rather than vanish
        labels = labels.where(labels.notna(), ids)
    else:
        labels = ids
    if labels.isna().any() and "sessionId" in df.columns:
        order = np.lexsort(
            (
                df["actionIndex"].to_numpy() if "actionIndex" in df.columns else np.arange(n),
                column_codes(df, "sessionId")[0],
            )
        )
        ordered = labels.iloc[order]
        sessions = pd.Series(column_codes(df, "sessionId")[0][order], index=ordered.index)
        filled = ordered.groupby(sessions.to_numpy()).ffill()
        filled = filled.groupby(sessions.to_numpy()).bfill()
        labels = filled.reindex(df.index)
    return labels.astype(object).where(labels.notna(), None)


def action_lanes(
    df: pd.DataFrame, lanes: str, *, stacklevel: int = 3
) -> tuple[np.ndarray, list[str], str]:
    """Lane of each action, lane labels, and the lane kind actually used.

    ``lanes="worker"`` on a frame without ``workerId`` (one straight from
    ``session_action_frame``) falls back to sessions, with one :class:`DataWarning`.
    """
    if lanes == "worker":
        if "workerId" not in df.columns or (len(df) and df["workerId"].isna().all()):
            warnings.warn(
                "The frame has no `workerId` (deadline_nb.load_job adds it); drawing one lane "
                "per session instead of one per worker.",
                DataWarning,
                stacklevel=stacklevel,
            )
            lanes = "session"
        else:
            codes, labels = column_codes(df, "workerId")
            return codes, labels, "worker"
    if lanes == "session":
        codes, labels = column_codes(df, "sessionId")
        return codes, labels, "session"
    steps = step_labels(df)
    codes_arr, uniques = pd.factorize(steps, use_na_sentinel=True)
    return np.asarray(codes_arr, dtype=np.int64), [str(u) for u in uniques], "step"


def ns_to_seconds(ns: np.ndarray) -> np.ndarray:
    """Nanoseconds as float seconds."""
    return ns.astype(np.float64) / _NS_PER_S
