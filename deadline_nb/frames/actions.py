"""Session actions -> one DataFrame: :func:`session_action_frame` and its two readers.

It takes what boto3 returns (aware ``datetime`` objects) or what the AWS CLI prints (ISO-8601
strings, or epoch seconds), in any mix, and gives a frame whose columns and dtypes are fixed by
:mod:`deadline_nb.schema` -- the same for one action, a million, or none.

How wrong input is handled (each case is tested in ``tests/test_frames.py``):

* An item that is not a mapping, or has no usable ``sessionActionId`` (missing, not a string,
  not of the form ``sessionaction-<32 hex>-<n>``), raises
  :class:`~deadline_nb.errors.MalformedItemError` (a ``ValueError``) naming the item's
  position and the field: without its id a row means nothing.
* Everything else loses only the value concerned. A value that is dropped becomes missing (``NA``
  or ``NaT``) and one :class:`~deadline_nb.errors.DataWarning` per kind of problem names the
  actions concerned:

  - ``SDK_UNKNOWN_MEMBER`` in ``definition`` (an action type newer than boto3): ``actionType`` is
    ``"unknown"`` and the step, task and environment are missing;
  - ``SDK_UNKNOWN_MEMBER`` (or a malformed member) in a task parameter value: that parameter is
    missing for that action (``parameter_frame`` still lists it, with type ``unknown``);
  - an ``int`` parameter outside int64 (the API allows 20 characters): missing in the ``Int64``
    column; its exact text stays in ``parameter_frame``'s ``value`` column;
  - a ``float`` parameter such as ``3e10`` is read as a number; one that overflows (``1e999``) is
    missing;
  - the same parameter name with different types in different steps: ``int`` with ``float`` gives
    a ``Float64`` column (an int beyond 2**53 would be rounded there, which is warned about); any
    other mix gives a ``string`` column holding the API's exact text, with one warning naming the
    parameter and its types (nothing is dropped);
  - ``endedAt`` before ``startedAt``: both times are kept as the API gave them, ``duration`` is
    ``NaT``;
  - a status, exit code or percentage of the wrong type or out of range: missing.

* Naive datetimes (and ISO strings with no offset) are taken as UTC, the only zone the API uses;
  one warning counts them, since a naive time usually means it went through some other tool.
* A missing optional field is simply missing: no warning, since nothing was lost.
* The same ``sessionActionId`` more than once (a ListSessionActions page beside the
  BatchGetSessionAction result of the same actions): one row, from the most complete and most
  recent item (:mod:`~deadline_nb.frames.duplicates` says which), and one warning naming the
  actions. Checking costs about a millisecond per 100,000 actions; only input with repeats is
  read again.

The two readers: well-formed boto3 results (plain dicts, datetimes) are read by the compiled
reader (:mod:`deadline_nb.frames._speedups`, built from ``_speedups.pyx`` beside this module at
install when a C compiler is there), which walks each action once; any other input, or an install
without the compiler, takes the NumPy reader here, which gives the same frames and reports each
problem. Both give the same intermediate columns (``_Extracted``); everything after that is shared.
:func:`use_reader` picks one, so that the tests can run every case through both.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .. import schema
from ..errors import MalformedItemError, Problems, check_one_of
from .convert import (
    as_items,
    category,
    column_matrix,
    datetime_array,
    duration,
    is_missing,
    ordered,
    require_ids,
    string_array,
    text_array,
    times_ns,
    to_numbers,
)
from .duplicates import one_per_action
from .parameters import Parameter, parameter_column, read_parameters

try:  # the compiled reader, built from _speedups.pyx when a compiler was there at install
    from . import _speedups
except ImportError:  # pragma: no cover - an install without a compiler
    _speedups = None  # type: ignore[assignment]

__all__ = ["READERS", "current_reader", "session_action_frame", "use_reader"]

#: The readers of session actions that this install has, the default first: ``"compiled"``
#: where ``_speedups`` was built at install, and ``"numpy"`` always.
READERS: tuple[str, ...] = ("numpy",) if _speedups is None else ("compiled", "numpy")
# The reader in effect; changed only by use_reader, which always puts the one before back.
_reader: str = READERS[0]


def current_reader() -> str:
    """The reader that :func:`session_action_frame` uses now (one of :data:`READERS`).

    ``"compiled"`` reads well-formed boto3 results and hands anything else to the NumPy reader;
    ``"numpy"`` reads everything.

    Returns
    -------
    str
        ``"compiled"`` or ``"numpy"``.

    Examples
    --------
    >>> from deadline_nb.frames import READERS, current_reader
    >>> current_reader() == READERS[0]
    True
    """
    return _reader


def use_reader(reader: str) -> AbstractContextManager[str]:
    """Read session actions with one reader inside a ``with`` block, and the one before after it.

    Both readers give the same frames and warnings; the switch exists to compare them (the
    tests run every case through both) and to rule the compiled reader out when in doubt. It
    is process-wide: meant for tests and comparisons, not for threads that read at once.

    Parameters
    ----------
    reader
        ``"compiled"`` or ``"numpy"``: one of :data:`READERS`.

    Returns
    -------
    contextlib.AbstractContextManager
        Switches on entering the ``with`` block (giving ``reader``), and back on leaving it,
        however it is left.

    Raises
    ------
    ValueError
        When ``reader`` is not one of :data:`READERS` (``"compiled"`` is not one where the
        compiled reader was not built).

    Examples
    --------
    >>> from deadline_nb.frames import READERS, current_reader, use_reader
    >>> with use_reader("numpy"):
    ...     current_reader()
    'numpy'
    >>> current_reader() == READERS[0]
    True
    """
    return _ReaderSwitch(check_one_of("reader", reader, READERS))


class _ReaderSwitch(AbstractContextManager[str]):
    """What :func:`use_reader` gives: a class, so that only ``__exit__`` switches back."""

    def __init__(self, reader: str) -> None:
        self.reader = reader
        self.before: list[str] = []  # a stack: the same switch may be entered again inside

    def __enter__(self) -> str:
        global _reader
        self.before.append(_reader)
        _reader = self.reader
        return self.reader

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        global _reader
        _reader = self.before.pop()


_ACTION_ID_RE = r"^sessionaction-[0-9a-f]{32}-(0|[1-9][0-9]{0,9})$"
_UNKNOWN = "SDK_UNKNOWN_MEMBER"
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_TIME_FIELDS = ("startedAt", "endedAt", "workerUpdatedAt")


# ---------------------------------------------------------------------------------------------
# session_action_frame


def session_action_frame(
    actions: Iterable[Mapping[str, Any]] | Mapping[str, Any],
    *,
    farm_id: str | None = None,
    queue_id: str | None = None,
    job_id: str | None = None,
) -> pd.DataFrame:
    """Turn session actions into a DataFrame with one row per action and fixed columns.

    Parameters
    ----------
    actions
        GetSessionAction responses, BatchGetSessionAction items, ListSessionActions summaries, in
        any mix; or one response, or one page (a mapping with ``sessionActions``). Timestamps may
        be datetimes (as boto3 gives them), ISO-8601 strings or epoch seconds (as the AWS CLI
        prints them). Each action gives one row, in input order. An action given more than once
        (a ListSessionActions page beside a BatchGetSessionAction result of the same actions)
        gives one row, from its most complete and most recent item, at that item's place; a
        warning names the actions (the rules are in :mod:`deadline_nb.frames.duplicates`).
    farm_id, queue_id, job_id
        Fill ``farmId``, ``queueId`` and ``jobId`` where an item has none (GetSessionAction and
        ListSessionActions results do not carry them; BatchGetSessionAction items do, and win).

    Returns
    -------
    pandas.DataFrame
        The columns of :data:`deadline_nb.schema.SESSION_ACTION_COLUMNS`, in that order and with
        those dtypes, then one ``param.<Name>`` column per task parameter name, sorted by name
        (``Int64``, ``Float64`` or ``string``; a ``chunkInt`` range stays text like ``"1-10"``).
        Zero input items give zero rows with the same fixed columns.

    Raises
    ------
    MalformedItemError
        (a ``ValueError``) when an item is not a mapping or has no valid ``sessionActionId``.

    Warns
    -----
    DataWarning
        Once per kind of dropped value, naming the actions concerned (see the module docstring),
        and once for actions given more than once.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> df = dnb.session_action_frame([{
    ...     "sessionActionId": "sessionaction-0123456789abcdef0123456789abcdef-2",
    ...     "status": "SUCCEEDED",
    ...     "startedAt": "2026-11-26T22:00:00Z", "endedAt": "2026-11-26T22:03:30Z",
    ...     "definition": {"taskRun": {"stepId": "step-0123456789abcdef0123456789abcdef",
    ...                                "taskId": "task-0123456789abcdef0123456789abcdef-7",
    ...                                "parameters": {"Frame": {"int": "12"}}}},
    ... }], job_id="job-0123456789abcdef0123456789abcdef")
    >>> df[["actionIndex", "actionType", "status", "duration", "param.Frame"]]
       actionIndex actionType     status        duration  param.Frame
    0            2    taskRun  SUCCEEDED 0 days 00:03:30           12
    """
    items = as_items(actions, "sessionActions")
    frame, problems = _session_action_frame(items, farm_id, queue_id, job_id, Problems())
    problems.emit()
    return frame


_FIELDS = (
    "sessionActionId",
    "farmId",
    "queueId",
    "jobId",
    "sessionId",
    "status",
    "startedAt",
    "endedAt",
    "workerUpdatedAt",
    "progressPercent",
    "progressMessage",
    "processExitCode",
    "definition",
)


def _session_action_frame(
    items: list[Any],
    farm_id: str | None,
    queue_id: str | None,
    job_id: str | None,
    problems: Problems,
) -> tuple[pd.DataFrame, Problems]:
    """The frame, and the problems to warn about (new ones when repeated actions were dropped)."""
    if not items:
        return schema.empty_frame(schema.SESSION_ACTION_COLUMNS), problems
    extracted = _read_compiled(items) or _read_numpy(items, problems)
    ids = extracted.ids
    id_arr = extracted.id_arr
    valid = pc.match_substring_regex(id_arr, _ACTION_ID_RE)
    if not pc.all(valid).as_py():
        pos = int(np.flatnonzero(~valid.to_numpy(zero_copy_only=False))[0])
        raise MalformedItemError(
            pos,
            "sessionActionId",
            f"{ids[int(pos)]!r} is not of the form sessionaction-<32 hex>-<n>",
        )
    n = len(items)
    field = extracted.field
    columns: dict[str, Any] = {}

    for name, default in (("farmId", farm_id), ("queueId", queue_id), ("jobId", job_id)):
        arr = text_array(field[name], name, ids, problems)
        if default is not None:
            arr = pc.fill_null(arr, default)
        columns[name] = category(arr)

    # The id is "sessionaction-" + 32 hex + "-" + n: its session is "session-" + the same hex.
    derived = pc.binary_join_element_wise("session-", pc.utf8_slice_codeunits(id_arr, 14, 46), "")
    given = text_array(field["sessionId"], "sessionId", ids, problems)
    differs = np.zeros(n, dtype=bool)
    if given.null_count < n:
        differs = pc.fill_null(pc.not_equal(given, derived), False).to_numpy(zero_copy_only=False)
        for row in np.flatnonzero(differs):
            problems.add(
                "sessionId does not match the session in sessionActionId; "
                "the item's sessionId is kept",
                ids[int(row)],
            )
        derived = pc.if_else(pc.is_null(given), derived, given)
    columns["sessionId"] = category(derived)
    columns["sessionActionId"] = string_array(id_arr)
    columns["actionIndex"] = (
        pc.utf8_slice_codeunits(id_arr, 47).cast(pa.int64()).to_numpy(zero_copy_only=False)
    )
    if _repeats(columns["sessionId"], columns["actionIndex"], ids, bool(differs.any())):
        # Rare: read again only the items kept, so that a dropped item's values, and their
        # problems, leave no trace (both readers share this step).
        kept_problems = Problems()
        kept, _ = one_per_action(items, ids, kept_problems)
        return _session_action_frame(kept, farm_id, queue_id, job_id, kept_problems)

    definitions = extracted.definitions
    columns["actionType"] = pd.Categorical.from_codes(definitions.kinds, dtype=schema.ACTION_TYPE)
    columns["environmentId"] = category(
        text_array(definitions.environment, "environmentId", ids, problems)
    )
    columns["stepId"] = category(text_array(definitions.step, "stepId", ids, problems))
    columns["taskId"] = string_array(text_array(definitions.task, "taskId", ids, problems))

    status = text_array(field["status"], "status", ids, problems)
    columns["status"] = ordered(status, schema.STATUS, "status", ids, problems)

    naive = extracted.naive
    ns = extracted.ns
    for action_id in naive:
        problems.add("timestamps without a time zone were taken as UTC", action_id)
    for f in _TIME_FIELDS:
        columns[f] = datetime_array(ns[f])
    columns["duration"] = duration(ns["startedAt"], ns["endedAt"], ids, problems)

    percent, missing = to_numbers(
        field["progressPercent"], "progressPercent", ids, problems, 0.0, 100.0
    )
    columns["progressPercent"] = pd.arrays.FloatingArray(np.where(missing, 0.0, percent), missing)
    columns["progressMessage"] = string_array(
        text_array(field["progressMessage"], "progressMessage", ids, problems)
    )
    codes, missing = to_numbers(
        field["processExitCode"], "processExitCode", ids, problems, _INT32_MIN, _INT32_MAX
    )
    fractional = ~missing & (codes != np.floor(np.where(missing, 0.0, codes)))
    for row in np.flatnonzero(fractional):
        problems.add("processExitCode is not a whole number and was dropped", ids[int(row)])
    missing |= fractional
    columns["processExitCode"] = pd.arrays.IntegerArray(
        np.where(missing, 0, codes).astype(np.int32), missing
    )

    for name, parameter in sorted(extracted.parameters.items()):
        columns[f"{schema.PARAMETER_PREFIX}{name}"] = parameter_column(
            name, parameter, n, ids, problems
        )
    return pd.DataFrame(columns, index=pd.RangeIndex(n)), problems


def _repeats(session: pd.Categorical, index: np.ndarray, ids: list[str], renamed: bool) -> bool:
    """Whether some ``sessionActionId`` appears twice: cheap, since it is checked every time.

    An id is its session and its index; where every row's session is the one its id names (the
    item gave none, or the same), a sort of one int64 key per row (about 1 ms per 100,000 rows)
    finds a repeat. Otherwise (``renamed``: some item's sessionId differs from its id's) the ids
    themselves are compared.
    """
    if renamed:
        return len(set(ids)) != len(ids)
    # The index has at most 10 digits (< 2**34); the session code fits in the bits above it.
    key = (session.codes.astype(np.int64) << 34) | index
    key.sort()
    return bool((key[1:] == key[:-1]).any())


class _Extracted:
    """What both readers of the input give: the columns still to convert, as plain values."""

    def __init__(
        self,
        ids: list[str],
        field: dict[str, Any],
        ns: dict[str, np.ndarray],
        naive: list[str],
        definitions: _Definitions,
        parameters: dict[str, Parameter],
    ) -> None:
        self.ids = ids
        self.field = field
        self.ns = ns
        self.naive = naive
        self.definitions = definitions
        self.parameters = parameters
        try:
            self.id_arr = pa.array(ids, type=pa.string())
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            self.id_arr = None
        except UnicodeEncodeError:  # a lone surrogate: the id check names the item
            self.id_arr = text_array(ids, "sessionActionId", ids, Problems())
        if self.id_arr is None or self.id_arr.null_count:
            raise _BadIds


class _BadIds(Exception):
    """Some sessionActionId is missing or not a string: :func:`require_ids` says which."""


def _read_numpy(items: list[Any], problems: Problems) -> _Extracted:
    """Read the input with pandas' C reader and NumPy: any input, each problem reported."""
    matrix = column_matrix(items, _FIELDS)
    field = {name: matrix[:, j] for j, name in enumerate(_FIELDS)}
    ids = field["sessionActionId"].tolist()
    if set(map(type, ids)) != {str}:
        require_ids(items, "sessionActionId")  # raises, naming the first bad item
    naive: list[str] = []
    ns = {f: times_ns(field[f], f, ids, problems, naive) for f in _TIME_FIELDS}
    definitions = _definitions(field["definition"], ids, problems)
    parameters = read_parameters(definitions.param_rows, definitions.param_dicts, ids, problems)
    return _Extracted(ids, field, ns, naive, definitions, parameters)


def _read_compiled(items: list[Any]) -> _Extracted | None:
    """The compiled reader (``_speedups``) for well-formed boto3 input; ``None`` otherwise.

    It walks each action once while its objects are in cache, which is most of the time spent
    here; where it is not built (no compiler at install time) the NumPy reader does the work.
    """
    if _speedups is None or _reader != "compiled" or type(items) is not list:
        return None
    result = _speedups.extract(items)
    if result is None:
        return None
    top, times, naive_rows, kinds, environment, step, task, found = result
    field: dict[str, Any] = dict(zip(_speedups.TOP_FIELDS, top, strict=True))
    ids = field["sessionActionId"]
    definitions = _Definitions(0)
    definitions.kinds = np.frombuffer(kinds, dtype=np.int8).copy()
    definitions.environment, definitions.step, definitions.task = environment, step, task
    parameters: dict[str, Parameter] = {}
    for name, (rows, codes, texts) in found.items():
        parameter = parameters[str(name)] = Parameter()
        parameter.rows.append(np.frombuffer(rows, dtype=np.int64).astype(np.intp))
        parameter.kinds.append(np.frombuffer(codes, dtype=np.int8))
        parameter.texts.append(pa.array(texts, type=pa.string()))
    ns = {f: np.frombuffer(t, dtype=np.int64) for f, t in zip(_TIME_FIELDS, times, strict=True)}
    try:
        naive = [ids[row] for row in sorted(set(naive_rows))]
        return _Extracted(ids, field, ns, naive, definitions, parameters)
    except _BadIds:
        return None  # the NumPy reader raises the error that names the item


# ---------------------------------------------------------------------------------------------
# the definition union

_ACTION_CODES = {name: code for code, name in enumerate(schema.ACTION_TYPES)}
_MEMBERS = ("envEnter", "envExit", "taskRun", "syncInputJobAttachments")
_MEMBER_CODES = np.array([_ACTION_CODES[m] for m in _MEMBERS], dtype=np.int8)


class _Definitions:
    """The ``definition`` union unpacked into columns."""

    def __init__(self, n: int) -> None:
        self.kinds = np.full(n, _ACTION_CODES["unknown"], dtype=np.int8)
        # Object arrays on the NumPy reader, lists on the compiled one: both feed pa.array.
        self.environment: Any = np.full(n, None, dtype=object)
        self.step: Any = np.full(n, None, dtype=object)
        self.task: Any = np.full(n, None, dtype=object)
        self.param_rows = np.zeros(0, dtype=np.intp)
        self.param_dicts: list[Any] = []


def _definitions(values: np.ndarray, ids: Sequence[str], problems: Problems) -> _Definitions:
    """Unpack the ``definition`` union into columns (the NumPy reader).

    Task runs are most of a job: when every definition is a one-member dict (checked in C),
    task runs are read with pandas' C reader and only the other actions go member by member.
    Anything else (missing definitions, Mappings that are not dicts) takes the general path.
    """
    out = _Definitions(len(values))
    definitions = values.tolist()
    try:
        if set(map(len, definitions)) != {1}:
            raise TypeError
        bodies = column_matrix(definitions, ("taskRun",))[:, 0]
        is_task = ~is_missing(bodies)
        task_bodies = bodies[is_task].tolist()
        if set(map(type, task_bodies)) - {dict}:
            raise TypeError
    except TypeError:
        is_task = np.zeros(len(definitions), dtype=bool)
        task_bodies = []
    task_rows = np.flatnonzero(is_task)
    out.kinds[task_rows] = _ACTION_CODES["taskRun"]
    fields = column_matrix(task_bodies, ("stepId", "taskId", "parameters"))
    out.step[task_rows] = fields[:, 0]
    out.task[task_rows] = fields[:, 1]
    parameters = fields[:, 2]
    with_parameters = ~is_missing(parameters)
    out.param_rows = task_rows[with_parameters]
    out.param_dicts = parameters[with_parameters].tolist()
    other_rows: list[int] = []
    other_dicts: list[Any] = []
    rest = np.flatnonzero(~is_task)
    if len(task_bodies):  # the fast path: the other members, column by column too
        members = column_matrix([definitions[row] for row in rest], _MEMBERS)
        present = ~is_missing(members)
        which = present.argmax(axis=1)
        bodies_rest = members[np.arange(len(rest)), which]
        good = (present.sum(axis=1) == 1) & np.array(
            [type(b) is dict for b in bodies_rest], dtype=bool
        )
        fields = column_matrix(list(bodies_rest[good]), ("environmentId", "stepId"))
        rows, which = rest[good], which[good]
        out.kinds[rows] = _MEMBER_CODES[which]
        is_env = which <= 1
        out.environment[rows[is_env]] = fields[is_env, 0]
        out.step[rows[~is_env]] = fields[~is_env, 1]
        rest = rest[~good]
    for row in rest:
        kind, body = _member(definitions[row], ids[int(row)], problems)
        if kind == "unknown":
            continue
        out.kinds[row] = _ACTION_CODES[kind]
        if kind == "taskRun":  # only on the general path
            out.step[row] = body.get("stepId")
            out.task[row] = body.get("taskId")
            if body.get("parameters"):
                other_rows.append(int(row))
                other_dicts.append(body["parameters"])
        elif kind == "syncInputJobAttachments":
            out.step[row] = body.get("stepId")
        else:
            out.environment[row] = body.get("environmentId")
    if other_rows:
        out.param_rows = np.concatenate([out.param_rows, np.array(other_rows, dtype=np.intp)])
        out.param_dicts = out.param_dicts + other_dicts
    return out


def _member(definition: Any, action_id: str, problems: Problems) -> tuple[str, Any]:
    """The one member of a ``definition`` union, or ``("unknown", None)`` with a warning."""
    if definition is None or (isinstance(definition, float) and math.isnan(definition)):
        problems.add("definition is missing; actionType is 'unknown'", action_id)
        return "unknown", None
    if not isinstance(definition, Mapping) or len(definition) != 1:
        problems.add("definition is not a one-member mapping; actionType is 'unknown'", action_id)
        return "unknown", None
    kind, body = next(iter(definition.items()))
    if kind == _UNKNOWN:
        name = body.get("name", "?") if isinstance(body, Mapping) else "?"
        problems.add(
            f"definition is a member this boto3 does not know ({name!r}, reported as "
            "SDK_UNKNOWN_MEMBER); actionType is 'unknown'",
            action_id,
        )
        return "unknown", None
    if kind not in _MEMBERS:
        problems.add(
            f"definition has a member this package does not know ({kind!r}); "
            "actionType is 'unknown'",
            action_id,
        )
        return "unknown", None
    if not isinstance(body, Mapping):
        problems.add(f"definition.{kind} is not a mapping; actionType is 'unknown'", action_id)
        return "unknown", None
    return kind, body
