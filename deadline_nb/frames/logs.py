"""Session logs -> one DataFrame, each line attributed to its session action; grep and failures.

Pure: CloudWatch Logs events in, frames and text out; no client, no network (fetching the events
is :mod:`deadline_nb.logs`' job).

What the lines are (checked against the sources, not guessed)
--------------------------------------------------------------
* Where: log group ``/aws/deadline/<farmId>/<queueId>``, one stream per session named by the
  session id (the official CLI, ``deadline/client/api/_job_monitoring.py``
  ``get_session_logs``: ``logGroupName=f"/aws/deadline/{farm_id}/{queue_id}"``,
  ``logStreamName=session_id``; the worker agent's ``docs/logging.md``, "Worker session logs").
* The events (botocore ``data/logs/2014-03-28/service-2.json``): GetLogEvents gives
  ``OutputLogEvent`` = ``{timestamp, message, ingestionTime}``; FilterLogEvents gives
  ``FilteredLogEvent`` = the same plus ``logStreamName`` and ``eventId``. ``timestamp`` and
  ``ingestionTime`` are ``long`` milliseconds since the epoch (shape ``Timestamp``, min 0), so boto3
  and the AWS CLI both give plain integers; ``message`` is a string of at least one character.
* What the worker agent sends (``deadline-cloud-worker-agent``,
  ``src/deadline_worker_agent/sessions/log_config.py`` and ``log_sync/cloudwatch.py``): the format
  is ``%(message)s`` alone (no time or level in the text); an empty message becomes a single space
  (CloudWatch needs one character); ``timestamp = int(record.created * 1000)``, *truncated* to the
  millisecond "in the same way that the service will round the startedAt/endedAt time"; a message
  longer than 256,000 UTF-8 bytes is cut into several events with the same timestamp; one log call
  is one event, so a message may hold newlines (the job-attachment summary statistics do).
* The banners (``openjd-sessions-for-python``, ``src/openjd/sessions/_logging.py``): a section is
  ``""``, ``"=" * 46``, ``"--------- <title>"``, ``"=" * 46``; a subsection is ``"-" * 46``,
  ``<title>``, ``"-" * 46``. Titles (``_session.py``): ``Entering Environment: <name>``,
  ``Exiting Environment: <name>``, ``Running Task``, ``Session Cleanup``; the agent mimics the
  banner for ``Job Attachments Download for Job`` / ``... for Step``
  (``sessions/actions/sync_input_job_attachments.py``). Subsections: ``Phase: Setup``
  (``_runner_step_script.py``, ``_runner_env_script.py``), ``Phase: Running action``
  (``_runner_base.py``), and the agent's ``Uploading output files to Job Attachments``
  (``sessions/session.py``, at the end of a successful task run).
* Inside a task run (``_session.py``, ``_subprocess.py``): ``Parameter values:`` then one
  ``<name>(<TYPE>) = <value>`` per parameter (TYPE one of openjd-model's ``STRING``, ``INT``,
  ``FLOAT``, ``PATH``, ``CHUNK[INT]``); ``Running command <command line>``; ``Command started as
  pid: <pid>``; ``Output:``; the process's own lines (stdout and stderr merged, each with
  ``\\n\\r`` stripped from its end, so a carriage-return progress bar stays one line with
  ``\\r`` inside); then ``Process pid <pid> exited with code: <code> (unsigned) / <hex> (hex)``,
  with `` / <signed> (signed)`` added when the code is 0x7FFFFFFF or more (a Windows crash:
  ``3221225477 (unsigned) / 0xc0000005 (hex) / -1073741819 (signed)``). Cancelation and timeouts
  log ``Canceling subprocess <pid> via ...``, ``INTERRUPT: ...``, ``TIMEOUT - Runtime limit
  reached at <time>. Canceling action.`` (``_runner_base.py``, ``_subprocess.py``).
* Lines that talk to the agent (``_action_filter.py``): the whole line matches
  ``^openjd_(progress|status|fail|env|redacted_env|unset_env|session_runtime_loglevel): (.+)$``;
  openjd also writes ``openjd_fail: <reason>`` itself when it cannot start an action
  (``_runner_base.py``).
* One action's lines: ``deadline job logs --session-action-id`` (``deadline/client/cli/_groups/
  job_group.py``) reads the session's stream with GetLogEvents from ``startTime =
  int(startedAt.timestamp() * 1000)`` (inclusive) to ``endTime = int(endedAt * 1000)`` (exclusive,
  per botocore's documentation of ``endTime``), or to now for a running action.

Uncertain: the agent's exact wording around actions changes between versions (these are the
versions the search found); the rules below depend only on the banners and the action windows.

How a line is attributed to an action
-------------------------------------
Times are compared in whole milliseconds, the unit CloudWatch keeps. A line at millisecond ``m``
lies in an action's window when ``floor(startedAt) <= m <= floor(endedAt)``: the agent stamps a
line after the action started and before it reported the end, both truncated the same way, so the
edges are inclusive (the CLI's exclusive ``endTime`` would lose a line logged in the action's last
millisecond). An action with no ``endedAt`` (running) is open until the next action of its session
starts (or for ever); an action with no ``startedAt`` (``NEVER_ATTEMPTED``) has no window.

* One window holds the line: that action. None: ``NA`` (the agent's lines between actions, the
  session's start-up lines, ``Session Cleanup``).
* Two windows hold it (one action ended in the millisecond the next started): the banners decide.
  The later action owns the line when the most recent section banner at or before it (in stream
  order) was logged at or after that action's start and its kind fits the action's type
  (``Running Task`` - ``taskRun``, ``Entering Environment`` - ``envEnter``, ``Exiting
  Environment`` - ``envExit``, ``Job Attachments Download`` - ``syncInputJobAttachments``;
  other titles fit any type); otherwise the earlier action does. So the earlier action keeps its
  last lines and the later one starts at its own banner. Limit: two actions of the same type that
  both start and end in one millisecond cannot be told apart; the later one gets both.

Sections: ``section`` is the title of the most recent section banner of the session (the banner's
four lines included), ``phase`` the title of the most recent subsection banner since then;
``NA`` before the first one. Lines are matched exactly (they are written by code), so a banner
printed by a task's own output is a banner too.

How bad input is handled
------------------------
Lines are kept exactly as given: text that is not valid UTF-8 arrives from CloudWatch already
replaced with U+FFFD, and lone surrogates (valid JSON, not text) become U+FFFD; empty lines,
256 KB lines and carriage returns are kept. An item that is not a mapping is dropped; a timestamp
that is missing or not a time keeps its line, last in its session with no time and no action; a
message that is missing or not text keeps its line with a missing message. Each kind of problem
gives one :class:`~deadline_nb.errors.DataWarning` naming the events (``<session>[<position>]``).
FilterLogEvents may return an event twice across pages: events with the same ``eventId`` are one
line (not warned about: that is how the API pages); events without one are never merged, since
two identical lines in one millisecond are common (a banner's blank lines).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from itertools import repeat
from typing import Any, Final, overload

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .. import schema
from ..errors import Problems, bad_argument, bad_argument_type
from ..text import REPLACED, clean_text
from .access import NAT, utc_ns
from .convert import category, column_matrix, datetime_array, string_array

__all__ = [
    "action_log_text",
    "annotate_log_lines",
    "failure_lines",
    "grep_log_frame",
    "last_error_line",
    "log_frame",
    "normalize_log_line",
    "normalize_log_lines",
]

#: A section banner's rules and title prefix, and a subsection's rules (openjd's _logging.py).
SECTION_RULE: Final = "=" * 46
SECTION_PREFIX: Final = "--------- "
SUBSECTION_RULE: Final = "-" * 46
#: The subsection after which a task's own output starts (openjd's _runner_base.py).
RUNNING_PHASE: Final = "Phase: Running action"

# Which action type a section title opens; titles not listed fit any type.
_SECTION_KINDS: Final[tuple[tuple[str, str, bool], ...]] = (
    # (text, action type, whole title (True) or prefix (False))
    ("Running Task", "taskRun", True),
    ("Entering Environment: ", "envEnter", False),
    ("Exiting Environment: ", "envExit", False),
    ("Job Attachments Download for ", "syncInputJobAttachments", False),
)
_ANY_KIND: Final = -1

_NS_PER_MS: Final = 1_000_000
_MAX_MS: Final = int(np.iinfo(np.int64).max) // _NS_PER_MS  # what datetime64[ns] holds
_EVENT_KEYS: Final = ("timestamp", "message", "ingestionTime", "logStreamName", "eventId")
_BIG: Final = int(np.iinfo(np.int64).max)


# ---------------------------------------------------------------------------------------------
# log_frame


def log_frame(
    events: Any,
    *,
    actions: pd.DataFrame | None = None,
    farm_id: str | None = None,
    queue_id: str | None = None,
    job_id: str | None = None,
    session_id: str | None = None,
) -> pd.DataFrame:
    """Turn session log events into a DataFrame: one row per line, with its action and section.

    Parameters
    ----------
    events
        CloudWatch Logs events, as boto3 or the AWS CLI give them (``timestamp`` and
        ``ingestionTime`` in epoch milliseconds; ISO-8601 text and datetimes are read too). Any of:

        * a mapping ``{session id: events}``, the convenient form for several sessions (the
          events of one session: a list of events, a GetLogEvents or FilterLogEvents response,
          or a list of responses);
        * a list of events, or one response (a mapping with ``events``), or a list of responses.
          FilterLogEvents events name their session (``logStreamName``); GetLogEvents events do
          not: give ``session_id`` then (a response with ``logStream``, as the ``deadline job
          logs --output json`` command prints, names it too).
    actions
        A session-action frame (:func:`deadline_nb.session_action_frame`, or a job's
        ``actions``) whose windows attribute each line to its action; without it
        ``sessionActionId`` is all missing.
    farm_id, queue_id, job_id
        Fill ``farmId``, ``queueId`` and ``jobId`` (the events do not carry them).
    session_id
        The session of events that name none.

    Returns
    -------
    pandas.DataFrame
        The columns of :data:`deadline_nb.schema.LOG_COLUMNS`, with those dtypes: sorted by
        session (its id's order), then ``timestamp``, then input order; ``lineIndex`` is the
        line's position in its session's stream (from 0), ``sessionActionId`` its action (the
        rules are in the module docstring), ``section`` and ``phase`` the banners it falls under.
        Zero events give zero rows with the same columns.

    Warns
    -----
    DataWarning
        Once per kind of problem (an item that is not a mapping, a timestamp or message that
        cannot be read), naming the events concerned.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> lines = [" ", "=" * 46, "--------- Running Task", "=" * 46, "Parameter values:",
    ...          "Frame(INT) = 12", "openjd_progress: 50.0"]
    >>> events = [{"timestamp": 1795730400000 + i, "message": m, "ingestionTime": 1795730401000}
    ...           for i, m in enumerate(lines)]
    >>> df = dnb.log_frame({"session-0123456789abcdef0123456789abcdef": events})
    >>> df[["lineIndex", "section", "message"]].tail(3)
       lineIndex       section                message
    4          4  Running Task      Parameter values:
    5          5  Running Task        Frame(INT) = 12
    6          6  Running Task  openjd_progress: 50.0
    """
    problems = Problems("log event")
    frame = _log_frame(events, actions, farm_id, queue_id, job_id, session_id, problems)
    problems.emit()
    return frame


class _Events:
    """The input, flattened: the items, and the session each group of items was given for."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.group_starts: list[int] = []
        self.group_streams: list[str | None] = []

    def add(self, items: list[Any], stream: str | None) -> None:
        self.group_starts.append(len(self.items))
        self.group_streams.append(stream)
        self.items.extend(items)

    def defaults(self) -> np.ndarray:
        """The session each item was given for (None where none), one per item."""
        starts = np.asarray([*self.group_starts, len(self.items)], dtype=np.int64)
        streams = np.asarray(self.group_streams, dtype=object)
        return np.repeat(streams, np.diff(starts))

    def positions(self) -> np.ndarray:
        """Each item's position in its group, for warnings."""
        starts = np.asarray([*self.group_starts, len(self.items)], dtype=np.int64)
        sizes = np.diff(starts)
        return np.arange(len(self.items)) - np.repeat(starts[:-1], sizes)


def _all_dicts(items: list[Any]) -> bool:
    return set(map(type, items)) <= {dict}


def _is_page(value: Any) -> bool:
    return isinstance(value, Mapping) and isinstance(value.get("events"), list)


def _is_event(value: Mapping[str, Any]) -> bool:
    return "message" in value or "timestamp" in value


def _flatten(data: Any, stream: str | None, out: _Events, depth: int = 0) -> None:
    """Add the events in ``data`` (any accepted form) to ``out``, given for session ``stream``."""
    if isinstance(data, (str, bytes)):
        raise TypeError(
            f"Expected CloudWatch Logs events (a list of dicts), got {type(data).__name__}; "
            "to read a file, use deadline_nb.read_json(path)."
        )
    if isinstance(data, pd.DataFrame):
        raise TypeError("Expected CloudWatch Logs events (a list of dicts), got a DataFrame.")
    if isinstance(data, Mapping):
        if _is_page(data):
            named = data.get("logStream")
            out.add(list(data["events"]), named if isinstance(named, str) else stream)
        elif _is_event(data) or depth > 0:
            out.add([data], stream)
        else:  # {session id: events}
            for key, value in data.items():
                _flatten(value, key if isinstance(key, str) else stream, out, depth + 1)
        return
    items = data if isinstance(data, list) else list(data)
    # The common case, a plain list of events, is checked in C-speed passes.
    if _all_dicts(items) and not any(map(dict.__contains__, items, repeat("events"))):
        out.add(items, stream)
        return
    run: list[Any] = []
    for item in items:
        if _is_page(item) or (isinstance(item, (list, tuple)) and depth == 0):
            if run:
                out.add(run, stream)
                run = []
            _flatten(item, stream, out, depth + 1)
        else:
            run.append(item)
    if run:
        out.add(run, stream)


class _LineIds(Sequence[str]):
    """``<session>[<position>]`` for each input event, made only when a warning needs one."""

    def __init__(self, streams: np.ndarray, positions: np.ndarray) -> None:
        self._streams = streams
        self._positions = positions

    def __len__(self) -> int:
        return len(self._positions)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...

    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        stream = self._streams[index]
        name = stream if isinstance(stream, str) else "event"
        return f"{name}[{int(self._positions[index])}]"

    def __iter__(self) -> Iterator[str]:
        return (self[i] for i in range(len(self)))


def _log_frame(
    events: Any,
    actions: pd.DataFrame | None,
    farm_id: str | None,
    queue_id: str | None,
    job_id: str | None,
    session_id: str | None,
    problems: Problems,
) -> pd.DataFrame:
    if actions is not None and not isinstance(actions, pd.DataFrame):
        raise bad_argument_type("actions", "a session-action frame (a DataFrame)", actions)
    flat = _Events()
    _flatten(events, session_id, flat)
    items = flat.items
    defaults = flat.defaults()
    positions = flat.positions()
    if items and not _all_dicts(items):
        is_mapping = np.fromiter((isinstance(i, Mapping) for i in items), bool, len(items))
        ids = _LineIds(defaults, positions)
        for row in np.flatnonzero(~is_mapping):
            problems.add("an item is not a mapping (a log event) and was dropped", ids[int(row)])
        kept = np.flatnonzero(is_mapping)
        items = [items[int(i)] for i in kept]
        defaults, positions = defaults[kept], positions[kept]
    n = len(items)
    if n == 0:
        return schema.empty_frame(schema.LOG_COLUMNS)

    matrix = column_matrix(items, _EVENT_KEYS)
    given_stream = _optional_text(matrix[:, 3])
    if given_stream is not None:
        named = matrix[:, 3]
        streams = named if _all_text(named) else np.where(pd.isna(named), defaults, named)
    else:
        streams = defaults
    ids = _LineIds(streams, positions)
    sessions = _session_category(streams, ids, problems)
    time_ns = _times(matrix[:, 0], "timestamp", ids, problems, required=True)
    ingested_ns = _times(matrix[:, 2], "ingestionTime", ids, problems, required=False)
    message = _text(matrix[:, 1], "message", ids, problems, required=True)
    event_ids = _optional_text(matrix[:, 4])
    if event_ids is not None:
        event_ids = _text(matrix[:, 4], "eventId", ids, problems, required=False)

    keep = _first_of_each_event(event_ids) if event_ids is not None else None
    codes = sessions.codes.astype(np.int64)
    if keep is not None:
        mask = pa.array(keep)  # pyarrow 14 filters with an Arrow mask only
        codes, message = codes[keep], message.filter(mask)
        time_ns, ingested_ns = time_ns[keep], ingested_ns[keep]
        event_ids = event_ids.filter(mask) if event_ids is not None else None
        n = len(time_ns)
    order = _line_order(codes, time_ns)
    if order is not None:
        codes, time_ns, ingested_ns = codes[order], time_ns[order], ingested_ns[order]
        taken = pa.array(order)
        message = message.take(taken)
        event_ids = event_ids.take(taken) if event_ids is not None else None
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    line_index = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))

    banners = _Banners(message, codes, time_ns)
    owners, action_ids = _attribute(codes, time_ns, sessions.categories, banners, actions)

    columns: dict[str, Any] = {}
    for name, value in (("farmId", farm_id), ("queueId", queue_id), ("jobId", job_id)):
        columns[name] = _constant_category(value, n)
    columns["sessionId"] = pd.Categorical.from_codes(codes, dtype=sessions.dtype)
    columns["sessionActionId"] = _owner_category(owners, action_ids)
    columns["lineIndex"] = line_index
    columns["timestamp"] = datetime_array(time_ns)
    columns["ingestionTime"] = datetime_array(ingested_ns)
    columns["section"] = banners.section
    columns["phase"] = banners.phase
    columns["message"] = string_array(message)
    columns["eventId"] = string_array(
        event_ids if event_ids is not None else pa.nulls(n, type=pa.string())
    )
    return pd.DataFrame(columns, index=pd.RangeIndex(n))


def _optional_text(values: np.ndarray) -> np.ndarray | None:
    """``values`` where any is present; None when the field is absent from every event."""
    if not set(map(type, values)) <= {type(None), float}:
        return values  # some text (or something else to report): present
    return None if bool(pd.isna(values).all()) else values


def _all_text(values: np.ndarray) -> bool:
    return set(map(type, values)) <= {str}


def _text(
    values: np.ndarray, field: str, ids: _LineIds, problems: Problems, *, required: bool
) -> pa.Array:
    """A text field as Arrow strings; what cannot be text is missing, and reported."""
    try:
        arr = pa.array(values, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError):
        clean: list[str | None] = []
        for row, value in enumerate(values):
            if isinstance(value, str):
                text, changed = clean_text(value)
                if changed:
                    problems.add(f"{field} {REPLACED}", ids[row])
                clean.append(text)
            elif isinstance(value, (bytes, bytearray)):
                # What CloudWatch does with bytes that are not UTF-8: U+FFFD for each.
                text = bytes(value).decode("utf-8", errors="replace")
                if text.encode("utf-8", errors="surrogatepass") != bytes(value):
                    problems.add(
                        f"{field} held bytes that are not UTF-8; each was replaced with U+FFFD",
                        ids[row],
                    )
                clean.append(text)
            elif value is None or (isinstance(value, float) and math.isnan(value)):
                clean.append(None)
            else:
                problems.add(
                    f"{field} is not text ({type(value).__name__}); the line is kept without it",
                    ids[row],
                )
                clean.append(None)
        arr = pa.array(clean, type=pa.string())
    if required and arr.null_count:
        for gap in np.flatnonzero(arr.is_null().to_numpy(zero_copy_only=False)):
            value = values[gap]
            if value is None or (isinstance(value, float) and math.isnan(value)):
                problems.add(f"{field} is missing; the line is kept without it", ids[int(gap)])
    return arr


def _times(
    values: np.ndarray, field: str, ids: _LineIds, problems: Problems, *, required: bool
) -> np.ndarray:
    """Epoch milliseconds (or ISO-8601 text, or datetimes) -> int64 ns, ``NAT`` where unreadable.

    Numbers are milliseconds, the unit of every CloudWatch Logs time; a value outside what
    ``datetime64[ns]`` holds, negative, or of another type is dropped and reported.
    """
    out = np.full(len(values), NAT, dtype=np.int64)
    types = set(map(type, values))
    if types == {int}:  # boto3 and the AWS CLI: every time is an int (ms)
        present = np.arange(len(values))
        given = values
    else:
        missing = np.asarray(pd.isna(values), dtype=bool)
        if required:
            for row in np.flatnonzero(missing):
                problems.add(_bad_time(field, required, missing=True), ids[int(row)])
        present = np.flatnonzero(~missing)
        if not len(present):
            return out
        given = values[present]
        types = set(map(type, given))
    ms: np.ndarray | None = None
    if types == {int}:
        try:
            ms = given.astype(np.int64)
        except OverflowError:
            ms = None
        if ms is not None:
            ok = (ms >= 0) & (ms <= _MAX_MS)
            out[present[ok]] = ms[ok] * _NS_PER_MS
    elif types <= {int, float}:  # a JSON reader that gives some numbers as floats
        ms = given.astype(np.float64)
        ok = np.isfinite(ms) & (ms >= 0) & (ms <= _MAX_MS)
        out[present[ok]] = _float_ms_to_ns(ms[ok])
    if ms is not None:
        for row in present[~ok]:
            problems.add(_bad_time(field, required), ids[int(row)])
        return out
    for row, value in zip(present, given, strict=True):
        ns = _time_ns(value)
        if ns is None:
            problems.add(_bad_time(field, required), ids[int(row)])
        else:
            out[row] = ns
    return out


def _time_ns(value: Any) -> int | None:
    """One time of any accepted form as ns since the epoch, or None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value) * _NS_PER_MS if 0 <= value <= _MAX_MS else None
    if isinstance(value, (float, np.floating)):
        ok = math.isfinite(value) and 0 <= value <= _MAX_MS
        return int(_float_ms_to_ns(np.array([value], dtype=np.float64))[0]) if ok else None
    if isinstance(value, str) and value.isdigit():  # epoch milliseconds as text
        return _time_ns(int(value))
    if isinstance(value, (str, datetime)):
        try:
            stamp = pd.Timestamp(value)
        except (ValueError, TypeError, OverflowError):
            return None
        if stamp is pd.NaT:
            return None
        if stamp.tzinfo is None:  # the API's only zone
            stamp = stamp.tz_localize("UTC")
        try:
            return int(stamp.tz_convert("UTC").as_unit("ns").value)
        except (OverflowError, ValueError):
            return None
    return None


def _float_ms_to_ns(ms: np.ndarray) -> np.ndarray:
    """Float milliseconds -> int64 ns: whole milliseconds exactly (a float holds them, not their
    product with a million), the fraction rounded to the nanosecond."""
    whole = np.floor(ms)
    return whole.astype(np.int64) * _NS_PER_MS + np.round((ms - whole) * _NS_PER_MS).astype(
        np.int64
    )


def _bad_time(field: str, required: bool, *, missing: bool = False) -> str:
    what = "is missing" if missing else "is not a time in epoch milliseconds or ISO-8601"
    if required:
        return f"{field} {what}; the line is kept, last in its session, with no time"
    return f"{field} {what} and was dropped"


def _first_of_each_event(event_ids: pa.Array) -> np.ndarray | None:
    """Mask keeping the first line of each ``eventId`` (and every line without one)."""
    encoded = event_ids.dictionary_encode()
    index = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    if len(encoded.dictionary) == int((index >= 0).sum()):
        return None  # no repeats: nothing to drop
    # Dictionary codes are given in order of first appearance: a row holds the first of its id
    # exactly when its code is above every code before it.
    seen = np.maximum.accumulate(np.r_[-1, index[:-1]])
    return (index > seen) | (index < 0)


def _session_category(streams: np.ndarray, ids: _LineIds, problems: Problems) -> pd.Categorical:
    """Each line's session as a Categorical with sorted categories (the same frame whatever the
    input order). Session names are few: where all are text, they are factorised as Python
    objects, several times faster than through Arrow.
    """
    if _all_text(streams):
        codes, uniques = pd.factorize(streams)
        if not any(clean_text(str(u))[1] for u in uniques):
            order = np.argsort(uniques.astype(str), kind="stable")
            rank = np.empty(len(order), dtype=np.int64)
            rank[order] = np.arange(len(order))
            return _categorical(rank[codes], list(uniques[order]))
    cat = category(_text(streams, "logStreamName", ids, problems, required=False))
    if len(cat.categories) > 1 and not cat.categories.is_monotonic_increasing:
        cat = cat.reorder_categories(cat.categories.sort_values())
    return cat


def _line_order(codes: np.ndarray, time_ns: np.ndarray) -> np.ndarray | None:
    """Stable order by session (missing last), then time (missing last); None if already so."""
    session_key = np.where(codes < 0, _BIG, codes)
    time_key = np.where(time_ns == NAT, _BIG, time_ns)
    if len(codes) < 2:
        return None
    same = session_key[1:] == session_key[:-1]
    ordered = (session_key[1:] > session_key[:-1]) | (same & (time_key[1:] >= time_key[:-1]))
    if ordered.all():
        return None
    return np.lexsort((time_key, session_key))


def _categorical(codes: np.ndarray, categories: Sequence[str]) -> pd.Categorical:
    """A Categorical from codes (-1: missing) into ``categories``."""
    dtype: Any = pd.CategoricalDtype(list(categories))
    return pd.Categorical.from_codes(codes, dtype=dtype)


def _constant_category(value: str | None, n: int) -> pd.Categorical:
    if value is None:
        return _categorical(np.full(n, -1, dtype=np.int8), [])
    return _categorical(np.zeros(n, dtype=np.int8), [value])


def _owner_category(owners: np.ndarray, action_ids: list[str]) -> pd.Categorical:
    """Action index per line (-1: none) -> a Categorical of the actions that own lines."""
    used = np.unique(owners[owners >= 0])
    remap = np.full(len(action_ids) + 1, -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return _categorical(remap[owners], [action_ids[i] for i in used])


# ---------------------------------------------------------------------------------------------
# banners and actions


def _kind_of(title: str) -> int:
    """Index in ``schema.ACTION_TYPES`` of the action a section title opens, or ``_ANY_KIND``."""
    for text, action_type, whole in _SECTION_KINDS:
        if (title == text) if whole else title.startswith(text):
            return schema.ACTION_TYPES.index(action_type)
    return _ANY_KIND


class _Banners:
    """Where each session's sections and subsections start, and what each line falls under.

    Lines are in session order; ``codes`` are their sessions. A banner counts only when its
    lines are consecutive lines of one session.
    """

    def __init__(self, message: pa.Array, codes: np.ndarray, time_ns: np.ndarray) -> None:
        n = len(codes)
        pos = np.arange(n)
        same_prev = np.r_[False, codes[1:] == codes[:-1]]  # line i-1 is of the same session
        same_next = np.r_[same_prev[1:], False]

        def flag(arr: pa.Array) -> np.ndarray:
            return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)

        rule = flag(pc.equal(message, SECTION_RULE))
        dash = flag(pc.equal(message, SUBSECTION_RULE))
        titled = flag(pc.starts_with(message, SECTION_PREFIX))
        between_rules = np.r_[False, rule[:-1]] & np.r_[rule[1:], False] & same_prev & same_next
        section_titles = np.flatnonzero(titled & between_rules)
        between_dashes = np.r_[False, dash[:-1]] & np.r_[dash[1:], False] & same_prev & same_next
        subsection_titles = _pair_up(np.flatnonzero(between_dashes & ~dash & ~rule))

        # A section starts at its first rule, or at the blank line before it.
        starts = section_titles - 1
        before = starts - 1
        has_before = (before >= 0) & same_prev[np.maximum(starts, 0)]
        candidates = before[has_before]
        if len(candidates):
            blank = flag(
                pc.equal(pc.utf8_trim_whitespace(message.take(pa.array(candidates))), "")
            ) | flag(pc.is_null(message.take(pa.array(candidates))))
            starts[np.flatnonzero(has_before)[blank]] -= 1
        titles = [
            str(t)[len(SECTION_PREFIX) :]
            for t in message.take(pa.array(section_titles)).to_pylist()
        ]
        section_codes, section_names = _codes_of(titles)
        self.section, section_from = _forward_fill(starts, section_codes, section_names, codes, pos)
        kinds = np.array([_kind_of(t) for t in section_names] + [_ANY_KIND], dtype=np.int64)
        # Per line: the most recent section start at or before it (same session), its time, kind.
        has = section_from >= 0
        self.section_time = np.where(has, time_ns[np.maximum(section_from, 0)], NAT)
        self.section_kind = np.where(
            has, kinds[np.r_[section_codes, -1][_start_rank(starts, section_from)]], _ANY_KIND
        )
        self.has_section = has

        sub_titles = [
            "" if t is None else str(t)
            for t in message.take(pa.array(subsection_titles)).to_pylist()
        ]
        sub_codes, sub_names = _codes_of(sub_titles)
        phase, phase_from = _forward_fill(subsection_titles - 1, sub_codes, sub_names, codes, pos)
        # A phase ends where the next section starts.
        stale = (phase_from >= 0) & (phase_from < section_from)
        phase_codes = np.asarray(phase.codes).copy()
        phase_codes[stale] = -1
        self.phase = pd.Categorical.from_codes(phase_codes, dtype=phase.dtype)


def _pair_up(titles: np.ndarray) -> np.ndarray:
    """Subsection titles, each rule used once: in ``-, A, -, B, -, C, -`` B is not a title.

    Two candidates two lines apart share a rule (the first's closing one); in each run of such
    candidates, the first is a title, the second is the line after it, and so on. This is what
    makes a phase of exactly one line (``Phase: Setup``, one line, ``Phase: Running action``)
    read right.
    """
    if len(titles) < 2:
        return titles
    new_run = np.r_[True, np.diff(titles) != 2]
    run_start = np.maximum.accumulate(np.where(new_run, np.arange(len(titles)), 0))
    return titles[(np.arange(len(titles)) - run_start) % 2 == 0]


def _codes_of(titles: list[str]) -> tuple[np.ndarray, list[str]]:
    """Titles -> codes into their sorted distinct values."""
    names = sorted(set(titles))
    lookup = {name: i for i, name in enumerate(names)}
    return np.array([lookup[t] for t in titles], dtype=np.int64), names


def _forward_fill(
    starts: np.ndarray,
    start_codes: np.ndarray,
    names: list[str],
    codes: np.ndarray,
    pos: np.ndarray,
) -> tuple[pd.Categorical, np.ndarray]:
    """Each line's most recent start (same session) and its title; -1 / NA where none."""
    mark = np.full(len(codes), -1, dtype=np.int64)
    mark[starts] = starts
    last = np.maximum.accumulate(mark) if len(mark) else mark
    valid = (last >= 0) & (codes[np.maximum(last, 0)] == codes)
    last = np.where(valid, last, -1)
    code_at = np.full(len(codes) + 1, -1, dtype=np.int64)
    code_at[starts] = start_codes
    line_codes = code_at[last]  # last == -1 reads the sentinel at the end
    return _categorical(line_codes, names), last


def _start_rank(starts: np.ndarray, from_pos: np.ndarray) -> np.ndarray:
    """For each line, the rank of its section start among ``starts`` (-1 where none)."""
    rank = np.searchsorted(starts, from_pos)
    return np.where(from_pos >= 0, rank, -1)


def _attribute(
    codes: np.ndarray,
    time_ns: np.ndarray,
    sessions: pd.Index,
    banners: _Banners,
    actions: pd.DataFrame | None,
) -> tuple[np.ndarray, list[str]]:
    """Each line's action (an index into the returned ids, -1 for none): the module's rules."""
    none = np.full(len(codes), -1, dtype=np.int64)
    if actions is None or len(actions) == 0 or not len(sessions):
        return none, []
    windows = _windows(actions, sessions)
    if windows is None:
        return none, []
    a_session, a_start, a_end, a_kind, a_ids = windows
    line_ms = np.where(time_ns == NAT, NAT, time_ns // _NS_PER_MS)
    placed = (codes >= 0) & (time_ns != NAT)

    later = _latest_start(a_session, a_start, codes, line_ms, placed)
    safe = np.maximum(later, 0)
    in_later = placed & (later >= 0) & (a_session[safe] == codes) & (line_ms <= a_end[safe])
    earlier = later - 1
    safe_e = np.maximum(earlier, 0)
    in_earlier = (
        placed
        & (earlier >= 0)
        & (later >= 0)
        & (a_session[safe_e] == codes)
        & (a_start[safe_e] <= line_ms)
        & (line_ms <= a_end[safe_e])
    )
    # Both: the later action owns the line from its own banner on.
    fits = (banners.section_kind == _ANY_KIND) | (a_kind[safe] == _ANY_KIND)
    fits |= banners.section_kind == a_kind[safe]
    own_banner = banners.has_section & (banners.section_time // _NS_PER_MS >= a_start[safe]) & fits
    owners = np.where(in_later & (~in_earlier | own_banner), later, -1)
    owners = np.where((owners < 0) & in_earlier, earlier, owners)
    return owners, a_ids


def _latest_start(
    a_session: np.ndarray,
    a_start: np.ndarray,
    codes: np.ndarray,
    line_ms: np.ndarray,
    placed: np.ndarray,
) -> np.ndarray:
    """For each line, the latest action (by session, then start) at or before (its session, its
    time): an index into the actions, -1 where none; the caller checks the session matches.
    """
    m, n = len(a_session), len(codes)
    times = line_ms[placed]
    low = int(min(a_start.min(), times.min() if len(times) else a_start.min()))
    high = int(max(a_start.max(), times.max() if len(times) else a_start.max()))
    span = high - low + 2
    sessions = int(max(a_session.max(), codes.max())) + 1
    if sessions * span < 2**62:
        # One int64 key per (session, time): a binary search instead of a sort.
        action_key = a_session * span + (a_start - low)
        line_key = codes * span + (np.where(placed, line_ms, low) - low)
        return np.searchsorted(action_key, line_key, side="right") - 1
    # Keys too wide for int64 (times centuries apart): merge the actions' starts with the lines'
    # times (actions first on a tie) and count the actions passed.
    key_session = np.r_[a_session, codes]
    key_time = np.r_[a_start, np.where(placed, line_ms, 0)]
    key_kind = np.r_[np.zeros(m, dtype=np.int8), np.ones(n, dtype=np.int8)]
    merged = np.lexsort((key_kind, key_time, key_session))
    passed = np.cumsum(merged < m) - 1
    later = np.empty(n, dtype=np.int64)
    is_line = merged >= m
    later[merged[is_line] - m] = passed[is_line]
    return later


def _windows(
    actions: pd.DataFrame, sessions: pd.Index
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]] | None:
    """The attempted actions of the lines' sessions, sorted by (session, start): their session
    codes, start and end (whole ms; an open end reaches the next start, or for ever), kinds, ids.
    """
    if "sessionActionId" not in actions.columns:
        raise bad_argument(
            "actions", "be a session-action frame with a sessionActionId column", actions.columns
        )
    ids = actions["sessionActionId"].astype(object).to_numpy()
    if "sessionId" in actions.columns:
        action_sessions = actions["sessionId"].astype(object).to_numpy()
    else:
        action_sessions = np.array(
            [schema.session_of(i) if isinstance(i, str) else None for i in ids], dtype=object
        )
    start = utc_ns(actions, "startedAt")
    end = utc_ns(actions, "endedAt")
    lookup = {name: i for i, name in enumerate(sessions)}
    a_session = np.array([lookup.get(s, -1) for s in action_sessions], dtype=np.int64)
    usable = (a_session >= 0) & (start != NAT) & np.array([isinstance(i, str) for i in ids])
    if not usable.any():
        return None
    rows = np.flatnonzero(usable)
    if "actionIndex" in actions.columns:
        index = actions["actionIndex"].to_numpy()[rows]
    else:
        index = np.arange(len(rows))
    start_ms = start[rows] // _NS_PER_MS
    order = rows[np.lexsort((index, start_ms, a_session[rows]))]
    a_start = start[order] // _NS_PER_MS
    a_end = np.where(end[order] == NAT, _BIG, end[order] // _NS_PER_MS)
    a_sess = a_session[order]
    # An action with no end is open until the next action of its session starts.
    open_end = end[order] == NAT
    next_same = np.r_[a_sess[1:] == a_sess[:-1], False]
    next_start = np.r_[a_start[1:], _BIG]
    a_end = np.where(open_end & next_same, next_start, a_end)
    if "actionType" in actions.columns:
        types = actions["actionType"].astype(object).to_numpy()[order]
        positions = {t: i for i, t in enumerate(schema.ACTION_TYPES)}
        a_kind = np.array([positions.get(t, _ANY_KIND) for t in types], dtype=np.int64)
        a_kind[a_kind == positions["unknown"]] = _ANY_KIND
    else:
        a_kind = np.full(len(order), _ANY_KIND, dtype=np.int64)
    return a_sess, a_start, a_end, a_kind, [str(i) for i in ids[order]]


# ---------------------------------------------------------------------------------------------
# grep and join


def _messages(frame: pd.DataFrame) -> pa.Array | pa.ChunkedArray:
    """The frame's ``message`` column as Arrow strings (no copy when it is Arrow already)."""
    if "message" not in frame.columns:
        raise bad_argument("frame", "be a log frame with a message column", list(frame.columns))
    values = frame["message"]
    array = values.array
    if hasattr(array, "__arrow_array__") and isinstance(values.dtype, pd.StringDtype):
        arrow = array.__arrow_array__()
        if pa.types.is_string(arrow.type) or pa.types.is_large_string(arrow.type):
            return arrow
    objects = values.astype(object).where(values.notna(), None).tolist()
    return pa.array(
        [clean_text(v)[0] if isinstance(v, str) else None for v in objects], type=pa.string()
    )


def _mask(result: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """An Arrow boolean result -> a NumPy mask, missing read as False."""
    filled = pc.fill_null(result, False)
    if isinstance(filled, pa.ChunkedArray):
        return np.asarray(filled.to_numpy(), dtype=bool)
    return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=bool)


def grep_log_frame(
    frame: pd.DataFrame, pattern: str, *, regex: bool = True, case: bool = True
) -> pd.DataFrame:
    """The lines of a log frame whose message matches ``pattern``.

    Parameters
    ----------
    frame
        A frame from :func:`log_frame` (or any frame with a ``message`` column).
    pattern
        A regular expression (RE2 syntax, as Arrow runs it: Python's syntax without
        backreferences or lookaround), found anywhere in the line unless anchored with ``^`` /
        ``$``; or plain text with ``regex=False``.
    regex
        Whether ``pattern`` is a regular expression.
    case
        Whether the match is case-sensitive.

    Returns
    -------
    pandas.DataFrame
        The matching rows, in order, with their index from ``frame`` (so ``frame.loc[i - 3 : i]``
        shows a match's context). A missing message matches nothing.

    Raises
    ------
    ValueError
        When ``pattern`` is not a regular expression RE2 accepts.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> df = dnb.log_frame([{"timestamp": 1795730400000 + i, "message": m}
    ...                     for i, m in enumerate(["Rendering frame 1", "ERROR: licence lost"])],
    ...                    session_id="session-0123456789abcdef0123456789abcdef")
    >>> dnb.grep_log_frame(df, "error", case=False)["message"].tolist()
    ['ERROR: licence lost']
    """
    if not isinstance(pattern, str):
        raise bad_argument_type("pattern", "text (a regular expression)", pattern)
    messages = _messages(frame)
    try:
        if regex:
            found = pc.match_substring_regex(messages, pattern, ignore_case=not case)
        else:
            found = pc.match_substring(messages, pattern, ignore_case=not case)
    except pa.ArrowInvalid as error:
        raise bad_argument(
            "pattern", f"be a regular expression RE2 accepts ({error})", pattern
        ) from None
    return frame.loc[_mask(found)].copy()


def annotate_log_lines(
    lines: pd.DataFrame, actions: pd.DataFrame, *, sessions: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Add each line's action type, step, task, status, exit code, worker and task parameters.

    What makes ``grep_log_frame(...)`` answer "is it one machine?":
    ``annotate_log_lines(grep_log_frame(logs, "licen[cs]e"), job.actions).groupby("workerId")``.

    Parameters
    ----------
    lines
        A frame from :func:`log_frame` (or a part of one, such as :func:`grep_log_frame`'s).
    actions
        The session actions: a job's ``actions`` (:func:`deadline_nb.job_action_frame`, which
        has ``stepName`` and ``workerId``) or a plain :func:`deadline_nb.session_action_frame`.
    sessions
        A :func:`deadline_nb.session_frame`: the worker of each session, used where ``actions``
        has no ``workerId`` (and for lines between actions, which have no action but do have a
        session).

    Returns
    -------
    pandas.DataFrame
        A new frame: ``lines``' columns (index and order kept), then those of
        :data:`deadline_nb.schema.LOG_ANNOTATION_COLUMNS`, then the actions' ``param.<Name>``
        columns (the same dtypes). Missing where the line has no action, or ``actions`` lacks
        the column. ``workerId`` comes from the line's session, so every line of a session has it.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> sid = "0123456789abcdef0123456789abcdef"
    >>> actions = dnb.session_action_frame([{
    ...     "sessionActionId": f"sessionaction-{sid}-0", "status": "FAILED",
    ...     "startedAt": "2026-11-26T22:00:00Z", "endedAt": "2026-11-26T22:01:00Z",
    ...     "processExitCode": 1,
    ...     "definition": {"taskRun": {"stepId": "step-" + sid, "taskId": f"task-{sid}-7",
    ...                                "parameters": {"Frame": {"int": "12"}}}}}])
    >>> logs = dnb.log_frame([{"timestamp": 1795730430000, "message": "Error: no licence"}],
    ...                      session_id=f"session-{sid}", actions=actions)
    >>> dnb.annotate_log_lines(logs, actions)[["processExitCode", "param.Frame"]]
       processExitCode  param.Frame
    0                1           12
    """
    if "sessionActionId" not in lines.columns:
        raise bad_argument("lines", "be a log frame with a sessionActionId column", lines.columns)
    if "sessionActionId" not in actions.columns:
        raise bad_argument(
            "actions", "be a session-action frame with a sessionActionId column", actions.columns
        )
    out = lines.copy()
    position = _lookup(
        lines["sessionActionId"], actions["sessionActionId"].astype(object).to_numpy()
    )
    for name, dtype in schema.LOG_ANNOTATION_COLUMNS.items():
        if name == "workerId":
            continue
        if name in actions.columns:
            out[name] = _take(actions[name], position)
        else:
            out[name] = pd.Series(pd.array([None] * len(out), dtype=dtype), index=out.index)  # type: ignore[call-overload]
    out["workerId"] = _workers(lines, actions, sessions)
    params = sorted(c for c in actions.columns if c.startswith(schema.PARAMETER_PREFIX))
    for name in params:
        out[name] = _take(actions[name], position)
    return out


def _lookup(keys: pd.Series, table: np.ndarray) -> np.ndarray:
    """Position in ``table`` of each key (the last where repeated), -1 where absent or missing."""
    where = {value: i for i, value in enumerate(table) if isinstance(value, str)}
    cat = keys.astype("category")
    per_category = np.array(
        [where.get(c, -1) for c in cat.cat.categories.astype(object)] + [-1], dtype=np.int64
    )
    return per_category[cat.cat.codes.to_numpy().astype(np.int64)]


def _take(column: pd.Series, position: np.ndarray) -> Any:
    """``column``'s values at ``position`` (missing at -1), keeping its dtype where it can."""
    return pd.api.extensions.take(column.array, position, allow_fill=True)


def _workers(
    lines: pd.DataFrame, actions: pd.DataFrame, sessions: pd.DataFrame | None
) -> pd.Categorical:
    """The worker of each line's session: from ``sessions``, else from the actions' rows."""
    by_session: dict[str, str] = {}
    for table in (actions, sessions):
        if table is None or "workerId" not in table.columns or "sessionId" not in table.columns:
            continue
        known = table[["sessionId", "workerId"]].dropna()
        for session, worker in zip(
            known["sessionId"].astype(object), known["workerId"].astype(object), strict=True
        ):
            by_session[str(session)] = str(worker)
    if "sessionId" not in lines.columns:
        return pd.Categorical([None] * len(lines))
    cat = lines["sessionId"].astype("category")
    names = [by_session.get(str(s)) for s in cat.cat.categories]
    workers = sorted({w for w in names if w is not None})
    code_of = {w: i for i, w in enumerate(workers)}
    lookup = np.array([code_of.get(w, -1) if w else -1 for w in names] + [-1], dtype=np.int64)
    codes = lookup[cat.cat.codes.to_numpy().astype(np.int64)]
    return _categorical(codes, workers)


# ---------------------------------------------------------------------------------------------
# one action's text


def action_log_text(
    frame: pd.DataFrame,
    session_action_id: str,
    *,
    tail: int | None = None,
    timestamps: bool = False,
) -> str:
    """One action's log, as text: its lines in order, joined with newlines.

    Parameters
    ----------
    frame
        A frame from :func:`log_frame` made with ``actions``.
    session_action_id
        The action.
    tail
        Only the last ``tail`` lines (a positive number), as ``tail -n`` would.
    timestamps
        Start each line with its time (``2026-11-26T22:00:01.250Z``).

    Returns
    -------
    str
        The lines (a missing message is an empty line); empty when the action has none in
        ``frame``.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> sid = "0123456789abcdef0123456789abcdef"
    >>> actions = dnb.session_action_frame([{
    ...     "sessionActionId": f"sessionaction-{sid}-0", "status": "SUCCEEDED",
    ...     "startedAt": "2026-11-26T22:00:00Z", "endedAt": "2026-11-26T22:01:00Z",
    ...     "definition": {"envEnter": {"environmentId": "JOB:Rez"}}}])
    >>> events = [{"timestamp": 1795730400000 + i, "message": f"line {i}"} for i in range(5)]
    >>> logs = dnb.log_frame({f"session-{sid}": events}, actions=actions)
    >>> print(dnb.action_log_text(logs, f"sessionaction-{sid}-0", tail=2))
    line 3
    line 4
    """
    if tail is not None and (not isinstance(tail, (int, np.integer)) or tail < 1):
        raise bad_argument("tail", "be a positive number of lines or None", tail)
    if "sessionActionId" not in frame.columns:
        raise bad_argument("frame", "be a log frame with a sessionActionId column", frame.columns)
    rows = frame.loc[(frame["sessionActionId"] == session_action_id).fillna(False).to_numpy()]
    if not len(rows):
        return ""
    if "timestamp" in rows.columns and "lineIndex" in rows.columns:
        key_t = utc_ns(rows, "timestamp")
        key_t = np.where(key_t == NAT, _BIG, key_t)
        order = np.lexsort((rows["lineIndex"].to_numpy(), key_t))
        rows = rows.iloc[order]
    if tail is not None:
        rows = rows.iloc[-int(tail) :]
    text = rows["message"].astype(object).where(rows["message"].notna(), "").tolist()
    if timestamps:
        times = rows["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z "
        prefixes = times.astype(object).where(times.notna(), "").tolist()
        text = [p + t for p, t in zip(prefixes, text, strict=True)]
    return "\n".join(text)


# ---------------------------------------------------------------------------------------------
# normalised lines


# In order: what a terminal shows of a carriage-return progress bar (the text after the last
# \r); paths (before ids, which paths hold); AWS ids (keeping their kind: session-<id>); UUIDs;
# hex (0x..., or a word of 8 or more hex digits with at least one letter: RE2 has no lookahead,
# so the letter's place is spelled out); numbers, with the . , : inside them, so that an address,
# a time or 1,024 is one <n>; trailing whitespace.
_HEX_WORD: Final = "|".join(
    [f"[0-9]{{{k}}}[A-Fa-f][0-9A-Fa-f]{{{7 - k},}}" for k in range(8)]
    + ["[0-9]{8,}[A-Fa-f][0-9A-Fa-f]*"]
)
_NORMALIZE: Final[tuple[tuple[str, str], ...]] = (
    (r"^.*\r", ""),
    (r"(^|[^\w.~-])((?:[A-Za-z]:[\\/]|\\\\|~?/|\.{1,2}/)[^\s'\"<>|]+)", r"\1<path>"),
    (r"\b([a-z]+-)?[0-9a-f]{32}(?:-[0-9]+)?\b", r"\1<id>"),
    (
        r"\b[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\b",
        "<id>",
    ),
    (rf"\b(?:0[xX][0-9A-Fa-f]+|{_HEX_WORD})\b", "<hex>"),
    (r"[0-9]+(?:[.,:][0-9]+)*", "<n>"),
    (r"\s+$", ""),
)


def normalize_log_lines(values: Iterable[Any] | pd.Series) -> pd.Series:
    """:func:`normalize_log_line` over a whole column at once (Arrow's regular expressions).

    Parameters
    ----------
    values
        Lines: a Series (such as a log frame's ``message``) or any iterable of text; missing
        values stay missing.

    Returns
    -------
    pandas.Series
        The normalised lines (``string[pyarrow]``), with the Series' index when given one.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> dnb.normalize_log_lines(["Error: license server 10.0.0.12:27000 unreachable",
    ...                          "Error: license server 10.0.0.14:27000 unreachable"]).tolist()
    ['Error: license server <n> unreachable', 'Error: license server <n> unreachable']
    """
    if isinstance(values, pd.Series):
        index = values.index
        arrow = _messages(pd.DataFrame({"message": values}))
    else:
        listed = list(values)
        index = pd.RangeIndex(len(listed))
        arrow = _messages(pd.DataFrame({"message": pd.array(listed, dtype=object)}))
    for pattern, replacement in _NORMALIZE:
        arrow = pc.replace_substring_regex(arrow, pattern, replacement)
    if isinstance(arrow, pa.ChunkedArray):
        arrow = arrow.combine_chunks()
    return pd.Series(string_array(arrow.cast(pa.string())), index=index)


def normalize_log_line(text: str) -> str:
    """A log line with what changes between runs blanked, so that "the same error" compares equal.

    The rules, in order: only the text after the last carriage return is kept (what a terminal
    shows of a progress bar); paths (``/...``, ``~/``, ``./``, ``C:\\...``, ``\\\\server``)
    become ``<path>``; AWS ids become ``<id>``, keeping their kind (``session-<id>``,
    ``sessionaction-<id>``); UUIDs ``<id>``; hex numbers (``0x...``, or 8 or more hex digits)
    ``<hex>``; numbers (with their ``.``, ``,`` and ``:`` separators, so that an address, a time or
    ``1,024`` is one) ``<n>``; trailing whitespace is dropped.

    Parameters
    ----------
    text
        One line.

    Returns
    -------
    str
        The normalised line (the same as :func:`normalize_log_lines` gives).

    Examples
    --------
    >>> from deadline_nb import normalize_log_line
    >>> normalize_log_line("Error: license server 10.0.0.12:27000 unreachable")
    'Error: license server <n> unreachable'
    >>> normalize_log_line("Cannot open /mnt/tex/wood_0012.tx in session-" + "ab" * 16)
    'Cannot open <path> in session-<id>'
    """
    if not isinstance(text, str):
        raise bad_argument_type("text", "text (one log line)", text)
    return str(normalize_log_lines([text]).iloc[0])


# ---------------------------------------------------------------------------------------------
# failure endings

# Lines the agent and openjd write around a task's own output: never "the error".
_BOOKKEEPING: Final = "|".join(
    (
        r"^\s*$",
        r"^=+$",
        r"^-+$",
        r"^--------- ",
        r"^Phase: ",
        r"^Parameter values:$",
        r"^\S+\((?:STRING|INT|FLOAT|PATH|CHUNK\[INT\])\) = ",
        r"^Running command ",
        r"^Command started as pid: ",
        r"^Output:$",
        r"^Process pid [0-9]+ exited with code: ",
        r"^openjd_(?:progress|status|env|redacted_env|unset_env|session_runtime_loglevel): ",
        r"^Canceling subprocess ",
        r"^INTERRUPT: ",
        r"^Grace period ends at ",
        r"^Notify period ended",
        r"^Command exited but STDOUT stream is still open",
        r"^Gracetime of [0-9]+ seconds elapsed",
    )
)
_FAIL: Final = r"^openjd_fail: "
_EXIT: Final = r"^Process pid [0-9]+ exited with code: "


def _choose(
    messages: pa.Array | pa.ChunkedArray, group: np.ndarray, groups: int
) -> tuple[np.ndarray, np.ndarray]:
    """For lines grouped by action (in order), each group's chosen line and its source code.

    Source codes index ``schema.FAILURE_SOURCES``; the line is -1 where there is none.
    """
    n = len(group)
    pos = np.arange(n)
    running = _mask(pc.equal(messages, RUNNING_PHASE))
    failing = _mask(pc.match_substring_regex(messages, _FAIL))
    exiting = _mask(pc.match_substring_regex(messages, _EXIT))
    bookkeeping = _mask(pc.match_substring_regex(messages, _BOOKKEEPING)) | _mask(
        pc.is_null(messages)
    )

    def last(mask: np.ndarray) -> np.ndarray:
        out = np.full(groups, -1, dtype=np.int64)
        np.maximum.at(out, group[mask], pos[mask])
        return out

    after = last(running)
    output = ~bookkeeping & ~failing & (pos > after[group])
    chosen = np.full(groups, -1, dtype=np.int64)
    source = np.full(groups, schema.FAILURE_SOURCES.index("no lines"), dtype=np.int64)
    for mask, name in ((exiting, "exit code"), (output, "output"), (failing, "openjd_fail")):
        found = last(mask)
        better = found >= 0
        chosen[better] = found[better]
        source[better] = schema.FAILURE_SOURCES.index(name)
    return chosen, source


def last_error_line(lines: str | Iterable[Any] | pd.Series) -> str | None:
    """The line one failed action "ends with": the rule :func:`failure_lines` applies.

    The last ``openjd_fail:`` line if there is one (the task's own account of its failure);
    else the last line of the task's output, skipping the lines openjd and the agent write
    around it (banners, ``Phase:`` titles, parameter values, the command line and pid,
    ``Output:``, ``openjd_progress``/``openjd_status`` lines, cancelation notices, and the exit
    code line); only lines after ``Phase: Running action`` count when there is one; else the
    ``Process pid ... exited with code`` line; else nothing.

    Parameters
    ----------
    lines
        One action's lines: text (split on newlines), a list of lines, or a Series (such as the
        ``message`` column of the action's rows of a log frame).

    Returns
    -------
    str or None
        The line, exactly as logged; None when there is none.

    Examples
    --------
    >>> from deadline_nb import last_error_line
    >>> last_error_line([
    ...     "Output:", "Loading scene", "Error: license server 10.0.0.12 unreachable",
    ...     "Process pid 4242 exited with code: 1 (unsigned) / 0x1 (hex)"])
    'Error: license server 10.0.0.12 unreachable'
    """
    if isinstance(lines, str):
        listed: list[Any] = lines.split("\n")
    elif isinstance(lines, pd.Series):
        listed = lines.astype(object).where(lines.notna(), None).tolist()
    else:
        listed = list(lines)
    if not listed:
        return None
    messages = _messages(pd.DataFrame({"message": pd.array(listed, dtype=object)}))
    chosen, _ = _choose(messages, np.zeros(len(listed), dtype=np.int64), 1)
    if chosen[0] < 0:
        return None
    value = messages[int(chosen[0])].as_py()
    return None if value is None else str(value)


def failure_lines(
    frame: pd.DataFrame,
    actions: pd.DataFrame,
    *,
    statuses: Sequence[str] = ("FAILED",),
) -> pd.DataFrame:
    """For each failed action, the line its log ends with, and that line normalised.

    So that a report can say "12 failed actions end with: Error: license server <n>
    unreachable": ``failure_lines(logs, job.actions).groupby("normalized").size()``. The line is
    chosen by :func:`last_error_line`'s rule; ``normalized`` is :func:`normalize_log_line` of it.

    Parameters
    ----------
    frame
        A frame from :func:`log_frame` made with ``actions``.
    actions
        The session actions (a job's ``actions`` gives ``stepName`` and ``workerId`` too).
    statuses
        The statuses that count as failed.

    Returns
    -------
    pandas.DataFrame
        One row per action of ``actions`` in one of ``statuses``, in ``actions``' order, with the
        columns of :data:`deadline_nb.schema.FAILURE_LINE_COLUMNS`. ``source`` says where the line
        came from: ``openjd_fail``, ``output``, ``exit code`` (the task printed nothing
        meaningful), or ``no lines`` (``line`` is missing then).

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> sid = "0123456789abcdef0123456789abcdef"
    >>> actions = dnb.session_action_frame([{
    ...     "sessionActionId": f"sessionaction-{sid}-0", "status": "FAILED",
    ...     "startedAt": "2026-11-26T22:00:00Z", "endedAt": "2026-11-26T22:01:00Z",
    ...     "processExitCode": 1, "definition": {"taskRun": {
    ...         "stepId": "step-" + sid, "taskId": f"task-{sid}-7"}}}])
    >>> lines = ["Output:", "Error: license server 10.0.0.12 unreachable",
    ...          "Process pid 42 exited with code: 1 (unsigned) / 0x1 (hex)"]
    >>> events = [{"timestamp": 1795730400000 + i, "message": m} for i, m in enumerate(lines)]
    >>> logs = dnb.log_frame({f"session-{sid}": events}, actions=actions)
    >>> dnb.failure_lines(logs, actions)[["source", "normalized"]]
       source                             normalized
    0  output  Error: license server <n> unreachable
    """
    for name, table in (("frame", frame), ("actions", actions)):
        if "sessionActionId" not in table.columns:
            raise bad_argument(name, "have a sessionActionId column", list(table.columns))
    if isinstance(statuses, str):
        statuses = (statuses,)
    status = actions["status"].astype(object) if "status" in actions.columns else None
    failed = (
        status.isin(list(statuses)).to_numpy()
        if status is not None
        else np.zeros(len(actions), bool)
    )
    failed_actions = actions.loc[failed]
    k = len(failed_actions)
    if k == 0:
        return schema.empty_frame(schema.FAILURE_LINE_COLUMNS)
    ids = failed_actions["sessionActionId"].astype(object).to_numpy()
    position = _lookup(frame["sessionActionId"], ids)
    rows = np.flatnonzero(position >= 0)
    group = position[rows]
    order_key = (
        frame["lineIndex"].to_numpy()[rows]
        if "lineIndex" in frame.columns
        else np.arange(len(rows))
    )
    ordered = rows[np.lexsort((order_key, group))]
    group = position[ordered]
    messages = _messages(frame).take(pa.array(ordered))
    chosen, source = _choose(messages, group, k)

    has = chosen >= 0
    picked = ordered[chosen[has]]  # the chosen lines' rows in ``frame``
    line = pa.array(
        [messages[int(c)].as_py() if c >= 0 else None for c in chosen], type=pa.string()
    )
    normalized = normalize_log_lines(pd.Series(string_array(line)))
    out: dict[str, Any] = {}
    for name, dtype in schema.FAILURE_LINE_COLUMNS.items():
        if name in ("source", "timestamp", "line", "normalized"):
            continue
        if name in failed_actions.columns:
            values = failed_actions[name]
            out[name] = (
                values.astype(dtype).array if str(values.dtype) != str(dtype) else values.array
            )
        elif name == "sessionId":
            out[name] = pd.Categorical([schema.session_of(str(i)) for i in ids])
        else:
            out[name] = pd.array([None] * k, dtype=dtype)  # type: ignore[call-overload]
    out["source"] = pd.Categorical.from_codes(source, dtype=schema.FAILURE_SOURCE)
    times = np.full(k, NAT, dtype=np.int64)
    if "timestamp" in frame.columns:
        times[has] = utc_ns(frame, "timestamp")[picked]
    out["timestamp"] = datetime_array(times)
    out["line"] = string_array(line)
    out["normalized"] = normalized.array
    result = pd.DataFrame(out, index=pd.RangeIndex(k))
    return result[list(schema.FAILURE_LINE_COLUMNS)]
