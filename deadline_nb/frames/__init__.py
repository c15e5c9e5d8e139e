"""Deadline Cloud API results -> pandas DataFrames. Pure: no boto3 client, no network.

The functions here take what boto3 returns (aware ``datetime`` objects) or what the AWS CLI prints
(ISO-8601 strings, or epoch seconds), in any mix, and give frames whose columns and dtypes are
fixed by :mod:`deadline_nb.schema` -- the same for one action, a million, or none.

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

Speed: well-formed boto3 results (plain dicts, datetimes) are read by a compiled reader
(``_speedups.pyx``, built at install when a C compiler is there) that walks each action once; any
other input, or an install without the compiler, takes the NumPy reader, which gives the same
frames and reports each problem. The tests run every case through both.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import math
import os
import re
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, timezone
from itertools import repeat
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

try:  # pandas' C reader of a list of dicts, used by DataFrame(records); private, so optional
    from pandas._libs.lib import dicts_to_array as _dicts_to_array  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - a pandas without it takes the comprehension path
    _dicts_to_array = None

from .. import schema
from ..errors import NAMED_IN_WARNING, DataWarning, MalformedItemError, Problems

try:  # the compiled reader, built from _speedups.pyx when a compiler was there at install
    from .. import _speedups
except ImportError:  # pragma: no cover - an install without a compiler
    _speedups = None  # type: ignore[assignment]
# Tests switch the compiled reader off to check that both readers give the same frames.
_COMPILED_ENABLED = True

__all__ = [
    "concat_frames",
    "job_action_frame",
    "limit_frame",
    "manifest_frame",
    "parameter_frame",
    "read_json",
    "read_parquet",
    "session_action_frame",
    "session_frame",
    "sort_actions",
    "step_frame",
    "task_frame",
    "write_json",
]

_ACTION_ID_RE = r"^sessionaction-[0-9a-f]{32}-(0|[1-9][0-9]{0,9})$"
_UNKNOWN = "SDK_UNKNOWN_MEMBER"
# The model's patterns for IntString and FloatString.
_INT_TEXT = re.compile(r"-?(0|[1-9][0-9]*)")
_FLOAT_TEXT = re.compile(r"-?(0|[1-9][0-9]*)([.][0-9]+)?([eE][+-]?[0-9]+)?")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_NAT = np.iinfo(np.int64).min  # the int64 value pandas reads as NaT
_NS_MIN = pd.Timestamp.min.tz_localize("UTC")  # what datetime64[ns] can hold
_NS_MAX = pd.Timestamp.max.tz_localize("UTC")
_TIME_FIELDS = ("startedAt", "endedAt", "workerUpdatedAt")
# Kind of a timestamp value: 0 datetime, 1 ISO-8601 text, 2 epoch seconds (3: not a time).
_TIME_KINDS: dict[type, int] = {
    datetime: 0,
    pd.Timestamp: 0,
    str: 1,
    int: 2,
    float: 2,
    np.float64: 2,
    np.int64: 2,
}
# ---------------------------------------------------------------------------------------------
# input forms


def _items(data: Any, key: str) -> list[Any]:
    """Accept one response, a page (``{key: [...]}``), or an iterable of items and pages."""
    if isinstance(data, Mapping):
        return list(data[key]) if key in data and isinstance(data[key], list) else [data]
    if isinstance(data, (str, bytes)):
        raise TypeError(
            f"Expected API results (a list of dicts), got {type(data).__name__}; "
            "to read a file, use deadline_nb.read_json(path)."
        )
    if isinstance(data, pd.DataFrame):
        raise TypeError("Expected API results (a list of dicts), got a DataFrame.")
    items = list(data)
    # The common case, a list of plain items, is checked in one C-speed pass.
    if all(type(item) is dict and key not in item for item in items):
        return items
    out: list[Any] = []
    for item in items:
        # A list of pages (what a paginator yields) is flattened.
        if isinstance(item, Mapping) and key in item and isinstance(item[key], list):
            out.extend(item[key])
        else:
            out.append(item)
    return out


def _columns(rows: Sequence[Any], keys: Sequence[str]) -> np.ndarray:
    """Rows (mappings) -> an object matrix with one column per key; missing is None or NaN.

    pandas' own C routine for ``DataFrame(list_of_dicts)`` reads a plain-dict list several times
    faster than a comprehension per key; anything else (a Mapping that is not a dict, a row that
    is not a mapping at all) takes the Python path, where a non-mapping row reads as missing.
    """
    if _dicts_to_array is not None:
        try:
            return _dicts_to_array(rows if isinstance(rows, list) else list(rows), list(keys))
        except TypeError:
            pass
    out = np.empty((len(rows), len(keys)), dtype=object)
    for j, key in enumerate(keys):
        out[:, j] = [row.get(key) if isinstance(row, Mapping) else None for row in rows]
    return out


def _missing(values: np.ndarray) -> np.ndarray:
    """True where an object array holds None or NaN (both mean "not in the response")."""
    return np.asarray(pd.isna(values), dtype=bool)


def _require_ids(items: Sequence[Any], field: str) -> list[str]:
    """Return every item's id; raise MalformedItemError naming the first bad item."""
    try:
        ids = [item[field] for item in items]
        if all(type(i) is str for i in ids):
            return ids
    except (KeyError, TypeError, IndexError):
        pass
    for pos, item in enumerate(items):  # slow path: only to say which item and why
        if not isinstance(item, Mapping):
            raise MalformedItemError(pos, None, f"expected a mapping, got {type(item).__name__}")
        value = item.get(field)
        if value is None:
            raise MalformedItemError(pos, field, "it is missing")
        if not isinstance(value, str):
            raise MalformedItemError(pos, field, f"expected a string, got {type(value).__name__}")
    raise AssertionError("unreachable")  # pragma: no cover


# ---------------------------------------------------------------------------------------------
# column builders


def _text_array(
    values: Sequence[Any] | np.ndarray, what: str, ids: Sequence[str], problems: Problems
) -> pa.Array:
    """Text column as an Arrow array; a value that is not a string is dropped and reported."""
    try:
        return pa.array(values, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        clean: list[str | None] = []
        for value, action_id in zip(values, ids, strict=True):
            if isinstance(value, str):
                clean.append(value)
            elif value is None or (isinstance(value, float) and math.isnan(value)):
                clean.append(None)
            else:
                problems.add(f"{what} is not a string and was dropped", action_id)
                clean.append(None)
        return pa.array(clean, type=pa.string())


def _category(arr: pa.Array | pa.ChunkedArray) -> pd.Categorical:
    """Arrow strings -> pandas Categorical, without a round trip through Python objects."""
    encoded = arr.dictionary_encode()
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    return pd.Categorical.from_codes(codes, categories=encoded.dictionary.to_pylist())


def _string_array(arr: pa.Array | pa.ChunkedArray) -> pd.api.extensions.ExtensionArray:
    return pd.arrays.ArrowStringArray(arr)


def _ordered(
    arr: pa.Array, dtype: pd.CategoricalDtype, what: str, ids: Sequence[str], problems: Problems
) -> pd.Categorical:
    """Map text onto a fixed category list; a value outside it is dropped and reported."""
    encoded = arr.dictionary_encode()
    known = {name: code for code, name in enumerate(dtype.categories)}
    names = encoded.dictionary.to_pylist()
    lookup = np.array([known.get(name, -2) for name in names] + [-1], dtype=np.int64)
    indices = pc.fill_null(encoded.indices, len(names)).to_numpy(zero_copy_only=False)
    codes = lookup[indices]
    for row in np.flatnonzero(codes == -2):
        problems.add(
            f"{what} {names[indices[row]]!r} is not one the API defines; it is missing",
            ids[int(row)],
        )
    codes[codes == -2] = -1
    return pd.Categorical.from_codes(codes, dtype=dtype)


def _times(
    values: np.ndarray, field: str, ids: Sequence[str], problems: Problems, naive: list[str]
) -> np.ndarray:
    """Timestamps of any accepted form -> int64 nanoseconds since the epoch (``_NAT`` if none).

    boto3 gives aware datetimes, the AWS CLI ISO-8601 strings (or epoch seconds with
    ``cli_timestamp_format = none``); each form is converted with a vectorised parser.
    """
    out = np.full(len(values), _NAT, dtype=np.int64)
    missing = _missing(values)
    # getattr(v, "tzinfo", 0) is 0 for anything but a datetime, and None for a naive one.
    zones = list(map(getattr, values, repeat("tzinfo"), repeat(0)))
    if zones.count(0) == missing.sum():  # every value given is a datetime: the usual boto3 case
        if zones.count(None):
            naive.extend(ids[row] for row, zone in enumerate(zones) if zone is None)
        out[:] = _datetimes_to_ns(values, np.arange(len(values)), field, ids, problems)
        return out
    present = np.flatnonzero(~missing)
    given = values[present]
    types = set(map(type, given))  # C-speed; the per-value pass below only for a mix
    if len(types) == 1 and next(iter(types)) in _TIME_KINDS:
        kinds = np.full(len(given), _TIME_KINDS[next(iter(types))], dtype=np.int8)
    else:
        kinds = np.array([_TIME_KINDS.get(t, 3) for t in map(type, given)], dtype=np.int8)
    for code, convert in enumerate(
        (_times_from_datetimes, _times_from_strings, _times_from_numbers)
    ):
        rows = present[kinds == code]
        if len(rows):
            convert(values[rows], rows, out, field, ids, problems, naive)
    for row in present[kinds == 3]:
        problems.add(
            f"{field} is not a time ({type(values[row]).__name__}) and was dropped", ids[int(row)]
        )
    return out


def _times_from_datetimes(
    values: np.ndarray,
    rows: np.ndarray,
    out: np.ndarray,
    field: str,
    ids: Sequence[str],
    problems: Problems,
    naive: list[str],
) -> None:
    # getattr(v, "tzinfo") is None only for a naive datetime: one C-speed pass finds any
    # (dateutil's tzutc is unhashable, so no set here).
    if list(map(getattr, values, repeat("tzinfo"))).count(None):
        naive.extend(ids[int(row)] for row, v in zip(rows, values, strict=True) if v.tzinfo is None)
    out[rows] = _datetimes_to_ns(values, rows, field, ids, problems)


def _datetimes_to_ns(
    values: np.ndarray, rows: np.ndarray, field: str, ids: Sequence[str], problems: Problems
) -> np.ndarray:
    """Datetimes (or missing) -> int64 ns; one outside what ns can hold (after 2262) is dropped.

    pandas converts aware datetimes to UTC (and reads naive ones as UTC) faster than Arrow,
    which calls utcoffset() through dateutil for each value.
    """
    parsed = pd.to_datetime(pd.Index(values, dtype=object), utc=True, errors="coerce")
    # pandas 3 keeps microseconds, where 2300 fits; the frame's ns do not hold it.
    too_far = (parsed < _NS_MIN) | (parsed > _NS_MAX)
    out = parsed.where(~too_far).as_unit("ns").asi8
    for position in np.flatnonzero((out == _NAT) & ~_missing(values)):
        problems.add(f"{field} is outside the years 1677-2262 and was dropped", ids[rows[position]])
    return out


def _times_from_strings(
    values: np.ndarray,
    rows: np.ndarray,
    out: np.ndarray,
    field: str,
    ids: Sequence[str],
    problems: Problems,
    naive: list[str],
) -> None:
    text = pa.array(values, type=pa.string())
    parsed = pd.to_datetime(
        pd.Index(values, dtype=object), format="ISO8601", utc=True, errors="coerce"
    )
    ns = parsed.as_unit("ns").asi8
    out[rows] = ns
    for row in rows[ns == _NAT]:
        problems.add(f"{field} is not an ISO-8601 time and was dropped", ids[int(row)])
    has_zone = pc.match_substring_regex(text, r"([Zz]|[+-]\d\d(:?\d\d)?)$").to_numpy(
        zero_copy_only=False
    )
    naive.extend(ids[int(row)] for row in rows[~has_zone & (ns != _NAT)])


def _times_from_numbers(
    values: np.ndarray,
    rows: np.ndarray,
    out: np.ndarray,
    field: str,
    ids: Sequence[str],
    problems: Problems,
    naive: list[str],
) -> None:
    seconds = values.astype(np.float64)
    # Epoch seconds carry milliseconds; round to microseconds so float noise does not show.
    ok = np.isfinite(seconds) & (np.abs(seconds) < 9.2e9)
    out[rows[ok]] = np.round(seconds[ok] * 1e6).astype(np.int64) * 1000
    for row in rows[~ok]:
        problems.add(f"{field} is not a valid epoch time and was dropped", ids[int(row)])


def _to_datetime_array(ns: np.ndarray) -> pd.api.extensions.ExtensionArray:
    return pd.Series(ns.view("datetime64[ns]")).dt.tz_localize("UTC").array


def _duration(
    started: np.ndarray, ended: np.ndarray, ids: Sequence[str], problems: Problems
) -> np.ndarray:
    """endedAt - startedAt (int64 ns in, timedelta64 out); NaT when either is missing.

    An end before the start is kept as the API gave it in the time columns, but no negative
    duration is made up from it: that duration is missing, and reported.
    """
    both = (started != _NAT) & (ended != _NAT)
    backwards = both & (ended < started)
    for row in np.flatnonzero(backwards):
        problems.add(
            "endedAt is before startedAt; both are kept and duration is missing", ids[int(row)]
        )
    return np.where(both & ~backwards, ended - started, _NAT).view("timedelta64[ns]")


def _numbers(
    values: Sequence[Any] | np.ndarray,
    field: str,
    ids: Sequence[str],
    problems: Problems,
    low: float,
    high: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Numbers -> (float64 values, missing mask); a wrong type or out of range is dropped."""
    try:
        if {bool, str} & set(map(type, values)):
            raise TypeError  # float() would take True and "12": both are wrong here
        arr = np.array(values, dtype=np.float64)  # None -> nan
    except (TypeError, ValueError):
        arr = np.full(len(values), np.nan)
        for row, v in enumerate(values):
            if v is None or (isinstance(v, float) and math.isnan(v)):
                continue
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                arr[row] = v
            else:
                problems.add(
                    f"{field} is not a number ({type(v).__name__}) and was dropped", ids[int(row)]
                )
    missing = np.isnan(arr)
    bad = ~missing & ((arr < low) | (arr > high))
    for bad_row in np.flatnonzero(bad):
        row = int(bad_row)
        problems.add(
            f"{field} {values[row]!r} is outside [{low:g}, {high:g}] and was dropped", ids[int(row)]
        )
    return arr, missing | bad


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
        prints them). Each input item gives one row, in input order; nothing is deduplicated.
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
        Once per kind of dropped value, naming the actions concerned (see the module docstring).

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
    items = _items(actions, "sessionActions")
    problems = Problems()
    frame = _session_action_frame(items, farm_id, queue_id, job_id, problems)
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
) -> pd.DataFrame:
    if not items:
        return schema.empty_frame(schema.SESSION_ACTION_COLUMNS)
    extracted = _extract_compiled(items) or _extract(items, problems)
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
        arr = _text_array(field[name], name, ids, problems)
        if default is not None:
            arr = pc.fill_null(arr, default)
        columns[name] = _category(arr)

    # The id is "sessionaction-" + 32 hex + "-" + n: its session is "session-" + the same hex.
    derived = pc.binary_join_element_wise("session-", pc.utf8_slice_codeunits(id_arr, 14, 46), "")
    given = _text_array(field["sessionId"], "sessionId", ids, problems)
    if given.null_count < n:
        differs = pc.fill_null(pc.not_equal(given, derived), False).to_numpy(zero_copy_only=False)
        for row in np.flatnonzero(differs):
            problems.add(
                "sessionId does not match the session in sessionActionId; "
                "the item's sessionId is kept",
                ids[int(row)],
            )
        derived = pc.if_else(pc.is_null(given), derived, given)
    columns["sessionId"] = _category(derived)
    columns["sessionActionId"] = _string_array(id_arr)
    columns["actionIndex"] = (
        pc.utf8_slice_codeunits(id_arr, 47).cast(pa.int64()).to_numpy(zero_copy_only=False)
    )

    definitions = extracted.definitions
    columns["actionType"] = pd.Categorical.from_codes(definitions.kinds, dtype=schema.ACTION_TYPE)
    columns["environmentId"] = _category(
        _text_array(definitions.environment, "environmentId", ids, problems)
    )
    columns["stepId"] = _category(_text_array(definitions.step, "stepId", ids, problems))
    columns["taskId"] = _string_array(_text_array(definitions.task, "taskId", ids, problems))

    status = _text_array(field["status"], "status", ids, problems)
    columns["status"] = _ordered(status, schema.STATUS, "status", ids, problems)

    naive = extracted.naive
    ns = extracted.ns
    for action_id in naive:
        problems.add("timestamps without a time zone were taken as UTC", action_id)
    for f in _TIME_FIELDS:
        columns[f] = _to_datetime_array(ns[f])
    columns["duration"] = _duration(ns["startedAt"], ns["endedAt"], ids, problems)

    percent, missing = _numbers(
        field["progressPercent"], "progressPercent", ids, problems, 0.0, 100.0
    )
    columns["progressPercent"] = pd.arrays.FloatingArray(np.where(missing, 0.0, percent), missing)
    columns["progressMessage"] = _string_array(
        _text_array(field["progressMessage"], "progressMessage", ids, problems)
    )
    codes, missing = _numbers(
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
        columns[f"{schema.PARAMETER_PREFIX}{name}"] = _parameter_column(
            name, parameter, n, ids, problems
        )
    return pd.DataFrame(columns, index=pd.RangeIndex(n))


class _Extracted:
    """What both readers of the input give: the columns still to convert, as plain values."""

    def __init__(
        self,
        ids: list[str],
        field: dict[str, Any],
        ns: dict[str, np.ndarray],
        naive: list[str],
        definitions: _Definitions,
        parameters: dict[str, _Parameter],
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
        if self.id_arr is None or self.id_arr.null_count:
            raise _BadIds


class _BadIds(Exception):
    """Some sessionActionId is missing or not a string: :func:`_require_ids` says which."""


def _extract(items: list[Any], problems: Problems) -> _Extracted:
    """Read the input with pandas' C reader and NumPy: any input, each problem reported."""
    matrix = _columns(items, _FIELDS)
    field = {name: matrix[:, j] for j, name in enumerate(_FIELDS)}
    ids = field["sessionActionId"].tolist()
    if set(map(type, ids)) != {str}:
        _require_ids(items, "sessionActionId")  # raises, naming the first bad item
    naive: list[str] = []
    ns = {f: _times(field[f], f, ids, problems, naive) for f in _TIME_FIELDS}
    definitions = _definitions(field["definition"], ids, problems)
    parameters = _parameters(definitions.param_rows, definitions.param_dicts, ids, problems)
    return _Extracted(ids, field, ns, naive, definitions, parameters)


def _extract_compiled(items: list[Any]) -> _Extracted | None:
    """The compiled reader (``_speedups``) for well-formed boto3 input; ``None`` otherwise.

    It walks each action once while its objects are in cache, which is most of the time spent
    here; where it is not built (no compiler at install time) the NumPy reader does the work.
    """
    if _speedups is None or not _COMPILED_ENABLED or type(items) is not list:
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
    parameters: dict[str, _Parameter] = {}
    for name, (rows, codes, texts) in found.items():
        parameter = parameters[str(name)] = _Parameter()
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
        bodies = _columns(definitions, ("taskRun",))[:, 0]
        is_task = ~_missing(bodies)
        task_bodies = bodies[is_task].tolist()
        if set(map(type, task_bodies)) - {dict}:
            raise TypeError
    except TypeError:
        is_task = np.zeros(len(definitions), dtype=bool)
        task_bodies = []
    task_rows = np.flatnonzero(is_task)
    out.kinds[task_rows] = _ACTION_CODES["taskRun"]
    fields = _columns(task_bodies, ("stepId", "taskId", "parameters"))
    out.step[task_rows] = fields[:, 0]
    out.task[task_rows] = fields[:, 1]
    parameters = fields[:, 2]
    with_parameters = ~_missing(parameters)
    out.param_rows = task_rows[with_parameters]
    out.param_dicts = parameters[with_parameters].tolist()
    other_rows: list[int] = []
    other_dicts: list[Any] = []
    rest = np.flatnonzero(~is_task)
    if len(task_bodies):  # the fast path: the other members, column by column too
        members = _columns([definitions[row] for row in rest], _MEMBERS)
        present = ~_missing(members)
        which = present.argmax(axis=1)
        bodies_rest = members[np.arange(len(rest)), which]
        good = (present.sum(axis=1) == 1) & np.array(
            [type(b) is dict for b in bodies_rest], dtype=bool
        )
        fields = _columns(list(bodies_rest[good]), ("environmentId", "stepId"))
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


# ---------------------------------------------------------------------------------------------
# task parameters

_VALUE_MEMBERS = ("int", "float", "string", "path", "chunkInt")
_UNKNOWN_VALUE = len(_VALUE_MEMBERS)  # kind code of a value that cannot be read


def _union(value: Any) -> tuple[str, str | None]:
    """One ``TaskParameterValue`` -> (type, exact text); ``("unknown", None)`` if unreadable."""
    if isinstance(value, Mapping) and len(value) == 1:
        kind, text = next(iter(value.items()))
        if kind in _VALUE_MEMBERS and isinstance(text, str):
            return kind, text
    return "unknown", None


class _Parameter:
    """One parameter name across all task runs: rows, a type code per value, texts."""

    def __init__(self) -> None:
        self.rows: list[np.ndarray] = []
        self.kinds: list[np.ndarray] = []
        self.texts: list[pa.Array] = []


def _parameters(
    param_rows: np.ndarray, param_dicts: list[Any], ids: Sequence[str], problems: Problems
) -> dict[str, _Parameter]:
    """Read every parameter of every task run, name by name, column by column.

    Task runs of one step share their parameter names, so in most jobs every task run has the
    names of the first one: then each name is read as one column (checked in C: as many names
    everywhere, and no value missing). Otherwise the task runs are grouped by names first.
    """
    found: dict[str, _Parameter] = {}
    if not param_dicts:
        return found
    first = param_dicts[0]
    names = tuple(first) if isinstance(first, Mapping) else ()
    if names and set(map(len, param_dicts)) == {len(names)}:
        matrix = _columns(param_dicts, names)
        columns = [matrix[:, j].tolist() for j in range(len(names))]
        try:
            # len() of a missing value (NaN or None) raises: some task runs have other names.
            for column in columns:
                set(map(len, column))
        except TypeError:
            pass
        else:
            for name, column in zip(names, columns, strict=True):
                _add_parameter(found, str(name), param_rows, column)
            return found
    by_names: dict[tuple[Any, ...], list[int]] = {}
    for index, parameters in enumerate(param_dicts):
        if isinstance(parameters, Mapping):
            by_names.setdefault(tuple(parameters), []).append(index)
        else:
            problems.add(
                "taskRun.parameters is not a mapping and was dropped", ids[int(param_rows[index])]
            )
    for group_names, members in by_names.items():
        dicts = [param_dicts[i] for i in members]
        for name in group_names:
            _add_parameter(found, str(name), param_rows[members], [d[name] for d in dicts])
    return found


def _add_parameter(
    found: dict[str, _Parameter], name: str, rows: np.ndarray, values: list[Any]
) -> None:
    kinds, texts = _parameter_values(values)
    parameter = found.setdefault(name, _Parameter())
    parameter.rows.append(rows)
    parameter.kinds.append(kinds)
    parameter.texts.append(texts)


def _parameter_values(values: list[Any]) -> tuple[np.ndarray, pa.Array]:
    """Union values -> (type code per value, exact text per value; null when unreadable)."""
    first = values[0]
    if type(first) is dict and len(first) == 1 and next(iter(first)) in _VALUE_MEMBERS:
        # Fast path: every value has the first value's member (a union has only one).
        kind = next(iter(first))
        try:
            texts = pa.array([v[kind] for v in values], type=pa.string())
            return np.full(len(values), _VALUE_MEMBERS.index(kind), dtype=np.int8), texts
        except (KeyError, TypeError, pa.ArrowInvalid, pa.ArrowTypeError):
            pass
    members = _columns(values, _VALUE_MEMBERS)
    present = ~_missing(members)
    which = present.argmax(axis=1)
    # One of the five members and nothing else; SDK_UNKNOWN_MEMBER has none of them.
    sizes = np.array([len(v) if isinstance(v, Mapping) else 0 for v in values])
    kinds = np.where((present.sum(axis=1) == 1) & (sizes == 1), which, _UNKNOWN_VALUE)
    texts = members[np.arange(len(values)), which]
    ok = np.array([isinstance(t, str) for t in texts], dtype=bool) & (kinds != _UNKNOWN_VALUE)
    kinds = np.where(ok, kinds, _UNKNOWN_VALUE).astype(np.int8)
    return kinds, pa.array(np.where(ok, texts, None), type=pa.string(), from_pandas=True)


def _parameter_column(
    name: str, parameter: _Parameter, n: int, ids: Sequence[str], problems: Problems
) -> Any:
    index = np.concatenate(parameter.rows)
    value_kinds = np.concatenate(parameter.kinds)
    texts = pa.concat_arrays(parameter.texts)
    for row in index[value_kinds == _UNKNOWN_VALUE]:
        problems.add(
            f"parameter {name!r} has a value this package cannot read (for example "
            "SDK_UNKNOWN_MEMBER); it is missing",
            ids[int(row)],
        )
    kinds = {_VALUE_MEMBERS[k] for k in np.unique(value_kinds) if k != _UNKNOWN_VALUE}
    if kinds <= {"int", "float"}:
        full: np.ndarray
        if kinds <= {"int"}:
            ints, missing = _parse_ints(name, index, texts, ids, problems)
            full = np.zeros(n, dtype=np.int64)
            full[index] = ints
        else:
            floats, missing = _parse_floats(name, index, value_kinds, texts, ids, problems)
            full = np.zeros(n, dtype=np.float64)
            full[index] = floats
        mask = np.ones(n, dtype=bool)
        mask[index] = missing
        if kinds <= {"int"}:
            return pd.arrays.IntegerArray(full, mask)
        return pd.arrays.FloatingArray(full, mask)
    if kinds & {"int", "float"}:
        problems.add(
            f"parameter {name!r} has types {sorted(kinds)} in different steps; its column "
            "holds the API's text for all of them",
            ids[int(index[0])],
        )
    positions = np.full(n, len(texts), dtype=np.int64)
    positions[index] = np.arange(len(texts))
    # Scatter with `take`: position len(texts) is the appended null, i.e. missing.
    column = pa.concat_arrays([texts, pa.nulls(1, type=pa.string())]).take(pa.array(positions))
    return _string_array(column)


def _parse_ints(
    name: str, rows: np.ndarray, texts: pa.Array, ids: Sequence[str], problems: Problems
) -> tuple[np.ndarray, np.ndarray]:
    try:
        parsed = texts.cast(pa.int64())
        return (
            parsed.fill_null(0).to_numpy(zero_copy_only=False),
            parsed.is_null().to_numpy(zero_copy_only=False),
        )
    except pa.ArrowInvalid:
        pass  # at least one value outside int64 (or not an int): find which, row by row
    values = np.zeros(len(texts), dtype=np.int64)
    missing = np.ones(len(texts), dtype=bool)
    for i, text in enumerate(texts.to_pylist()):
        if text is None:
            continue
        try:
            number = int(text)
        except ValueError:
            problems.add(
                f"parameter {name!r} value {text!r} is not an int; it is missing", ids[int(rows[i])]
            )
            continue
        if _INT64_MIN <= number <= _INT64_MAX:
            values[i], missing[i] = number, False
        else:
            problems.add(
                f"parameter {name!r} is an int beyond int64; it is missing in "
                f"param.{name} (parameter_frame keeps its text)",
                ids[int(rows[i])],
            )
    return values, missing


def _parse_floats(
    name: str,
    rows: np.ndarray,
    kinds: np.ndarray,
    texts: pa.Array,
    ids: Sequence[str],
    problems: Problems,
) -> tuple[np.ndarray, np.ndarray]:
    int_code = _VALUE_MEMBERS.index("int")
    if not (kinds == int_code).any():
        try:
            parsed = texts.cast(pa.float64())
            values = parsed.fill_null(np.nan).to_numpy(zero_copy_only=False)
            if np.isfinite(values[~np.isnan(values)]).all():
                return np.nan_to_num(values), parsed.is_null().to_numpy(zero_copy_only=False)
        except pa.ArrowInvalid:
            pass  # not a number, or overflow: find which, row by row
    values = np.zeros(len(texts), dtype=np.float64)
    missing = np.ones(len(texts), dtype=bool)
    for i, (kind, text) in enumerate(zip(kinds, texts.to_pylist(), strict=True)):
        if text is None:
            continue
        try:
            number = float(text)
        except ValueError:
            problems.add(
                f"parameter {name!r} value {text!r} is not a number; it is missing",
                ids[int(rows[i])],
            )
            continue
        if not math.isfinite(number):
            problems.add(
                f"parameter {name!r} value {text!r} overflows a float; it is missing",
                ids[int(rows[i])],
            )
            continue
        if kind == int_code and abs(number) > 2**53 and int(text) != int(number):
            problems.add(
                f"parameter {name!r} mixes int and float across steps; the int "
                f"{text} is rounded in the Float64 column",
                ids[int(rows[i])],
            )
        values[i], missing[i] = number, False
    return values, missing


# ---------------------------------------------------------------------------------------------
# long-form companions


def parameter_frame(actions: Iterable[Mapping[str, Any]] | Mapping[str, Any]) -> pd.DataFrame:
    """One row per (task run, parameter), with the API's exact text and the value as a number.

    Parameters
    ----------
    actions
        The same inputs as :func:`session_action_frame`. Actions other than task runs, and task
        runs without parameters, give no rows.

    Returns
    -------
    pandas.DataFrame
        The columns of :data:`deadline_nb.schema.PARAMETER_COLUMNS`: ``sessionActionId``,
        ``stepId``, ``taskId``, ``name``, ``type`` (``int``, ``float``, ``string``, ``path``,
        ``chunkInt``, or ``unknown`` for ``SDK_UNKNOWN_MEMBER``), ``value`` (the exact text, also
        for an int beyond int64), ``intValue`` (``Int64``, for ints that fit) and ``floatValue``
        (``Float64``, for ints and finite floats). Joins back on ``sessionActionId``.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> action = {"sessionActionId": "sessionaction-0123456789abcdef0123456789abcdef-1",
    ...           "status": "SUCCEEDED",
    ...           "definition": {"taskRun": {
    ...               "stepId": "step-0123456789abcdef0123456789abcdef",
    ...               "parameters": {"Frame": {"int": "12"}, "Chunk": {"chunkInt": "1-10"}}}}}
    >>> dnb.parameter_frame([action])[["name", "type", "value", "intValue"]]
        name      type value  intValue
    0  Chunk  chunkInt  1-10      <NA>
    1  Frame       int    12        12
    """
    items = _items(actions, "sessionActions")
    ids = _require_ids(items, "sessionActionId")
    rows: dict[str, list[Any]] = {c: [] for c in schema.PARAMETER_COLUMNS}
    for item, action_id in zip(items, ids, strict=True):
        definition = item.get("definition")
        body = definition.get("taskRun") if isinstance(definition, Mapping) else None
        if not isinstance(body, Mapping) or not isinstance(body.get("parameters"), Mapping):
            continue
        for name in sorted(body["parameters"]):
            kind, text = _union(body["parameters"][name])
            int_value: int | None = None
            float_value: float | None = None
            # The text is kept as given; a number is added only where it is one.
            if kind == "int" and text is not None and _INT_TEXT.fullmatch(text):
                number = int(text)
                int_value = number if _INT64_MIN <= number <= _INT64_MAX else None
                float_value = float(number) if abs(number) <= 2**53 else None
            elif kind == "float" and text is not None and _FLOAT_TEXT.fullmatch(text):
                as_float = float(text)
                float_value = as_float if math.isfinite(as_float) else None
            rows["sessionActionId"].append(action_id)
            rows["stepId"].append(body.get("stepId"))
            rows["taskId"].append(body.get("taskId"))
            rows["name"].append(str(name))
            rows["type"].append(kind)
            rows["value"].append(text)
            rows["intValue"].append(int_value)
            rows["floatValue"].append(float_value)
    return _typed(rows, schema.PARAMETER_COLUMNS)


def limit_frame(actions: Iterable[Mapping[str, Any]] | Mapping[str, Any]) -> pd.DataFrame:
    """One row per limit (license, for example) that an action acquired.

    Parameters
    ----------
    actions
        The same inputs as :func:`session_action_frame`. Only GetSessionAction and
        BatchGetSessionAction results carry ``acquiredLimits``; summaries give no rows.

    Returns
    -------
    pandas.DataFrame
        ``sessionActionId``, ``limitId``, ``count`` (:data:`deadline_nb.schema.LIMIT_COLUMNS`).

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> action = {"sessionActionId": "sessionaction-0123456789abcdef0123456789abcdef-1",
    ...           "acquiredLimits": [{"limitId": "limit-0123456789abcdef0123456789abcdef",
    ...                               "count": 1}]}
    >>> dnb.limit_frame([action])["count"].tolist()
    [1]
    """
    items = _items(actions, "sessionActions")
    ids = _require_ids(items, "sessionActionId")
    rows: dict[str, list[Any]] = {c: [] for c in schema.LIMIT_COLUMNS}
    for item, action_id in zip(items, ids, strict=True):
        for limit in item.get("acquiredLimits") or ():
            if not isinstance(limit, Mapping):
                continue
            count = limit.get("count")
            rows["sessionActionId"].append(action_id)
            rows["limitId"].append(limit.get("limitId"))
            rows["count"].append(count if isinstance(count, int) else None)
    return _typed(rows, schema.LIMIT_COLUMNS)


def manifest_frame(actions: Iterable[Mapping[str, Any]] | Mapping[str, Any]) -> pd.DataFrame:
    """One row per output manifest that a task run wrote (job attachments).

    Parameters
    ----------
    actions
        The same inputs as :func:`session_action_frame`.

    Returns
    -------
    pandas.DataFrame
        ``sessionActionId``, ``manifestIndex`` (position in the action's list),
        ``outputManifestPath``, ``outputManifestHash``
        (:data:`deadline_nb.schema.MANIFEST_COLUMNS`).

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> action = {"sessionActionId": "sessionaction-0123456789abcdef0123456789abcdef-1",
    ...           "manifests": [{"outputManifestPath": "out/manifest", "outputManifestHash": "ab"}]}
    >>> dnb.manifest_frame([action])["outputManifestPath"].tolist()
    ['out/manifest']
    """
    items = _items(actions, "sessionActions")
    ids = _require_ids(items, "sessionActionId")
    rows: dict[str, list[Any]] = {c: [] for c in schema.MANIFEST_COLUMNS}
    for item, action_id in zip(items, ids, strict=True):
        for position, manifest in enumerate(item.get("manifests") or ()):
            if not isinstance(manifest, Mapping):
                continue
            rows["sessionActionId"].append(action_id)
            rows["manifestIndex"].append(position)
            rows["outputManifestPath"].append(manifest.get("outputManifestPath"))
            rows["outputManifestHash"].append(manifest.get("outputManifestHash"))
    return _typed(rows, schema.MANIFEST_COLUMNS)


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
    items = _items(sessions, "sessions")
    ids = _require_ids(items, "sessionId")
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
            ns[name] = _times(times, name, ids, problems, naive)
            data[name] = _to_datetime_array(ns[name])
            continue
        if name == "duration":
            data[name] = _duration(ns["startedAt"], ns["endedAt"], ids, problems)
            continue
        values = given[name] if name in given else [item.get(name) for item in items]
        if isinstance(dtype, pd.Int64Dtype):
            numbers, missing = _numbers(values, name, ids, problems, _INT64_MIN, _INT64_MAX)
            data[name] = pd.arrays.IntegerArray(
                np.where(missing, 0, numbers).astype(np.int64), missing
            )
            continue
        arr = _text_array(values, name, ids, problems)
        if defaults.get(name) is not None:
            arr = pc.fill_null(arr, defaults[name])
        if isinstance(dtype, pd.CategoricalDtype) and dtype.categories is not None:
            data[name] = _ordered(arr, dtype, name, ids, problems)
        elif dtype == schema.CATEGORY:
            data[name] = _category(arr)
        else:
            data[name] = _string_array(arr)
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
    items = _items(steps, "steps")
    ids = _require_ids(items, "stepId")
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
    items = _items(tasks, "tasks")
    ids = _require_ids(items, "taskId")
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
    found = _parameters(rows, [parameters[i] for i in rows], ids, problems)
    for name, parameter in sorted(found.items()):
        frame[f"{schema.PARAMETER_PREFIX}{name}"] = _parameter_column(
            name, parameter, len(items), ids, problems
        )
    problems.emit()
    return frame


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


def _typed(rows: Mapping[str, list[Any]], columns: Mapping[str, object]) -> pd.DataFrame:
    """Build a long-form frame from column lists, with the schema's dtypes.

    A text value that is not a string is dropped, with one warning naming the actions.
    """
    problems = Problems()
    ids = rows["sessionActionId"]
    data: dict[str, Any] = {}
    for name, dtype in columns.items():
        values = rows[name]
        if isinstance(dtype, pd.CategoricalDtype):  # a fixed list, such as parameter types
            data[name] = pd.Categorical(values, dtype=dtype)
        elif dtype == schema.CATEGORY:
            data[name] = _category(_text_array(values, name, ids, problems))
        elif dtype == schema.STRING:
            data[name] = _string_array(_text_array(values, name, ids, problems))
        else:
            data[name] = pd.array(values, dtype=dtype)  # type: ignore[call-overload]
    problems.emit(stacklevel=4)
    return pd.DataFrame(data, index=pd.RangeIndex(len(ids)))


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

    Parameters
    ----------
    frames
        Frames from the same function.

    Returns
    -------
    pandas.DataFrame
        The rows of each, in order, with a fresh ``RangeIndex``.

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
        return frames[0].reset_index(drop=True)
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
    return pd.DataFrame(data)


# ---------------------------------------------------------------------------------------------
# files

_PAGE_KEYS = ("sessionActions", "sessions")


def read_json(path_or_file: str | os.PathLike[str] | IO[str] | IO[bytes]) -> list[dict[str, Any]]:
    """Read what the AWS CLI printed (or :func:`write_json` wrote) into a list of items.

    Accepted: one object (``aws deadline get-session-action``), a page with ``sessionActions``
    or ``sessions`` (``list-session-actions``, ``batch-get-session-action``, ``list-sessions``),
    a list of objects or pages, or JSON Lines holding any of these; gzip when the name ends in
    ``.gz``. Timestamps are left as the file has them (ISO-8601 strings or epoch seconds):
    every frame function reads both.

    Parameters
    ----------
    path_or_file
        A path, or an open file (text or binary).

    Returns
    -------
    list of dict
        The items (session actions or sessions), in file order. A BatchGet page's ``errors`` are
        not items: a :class:`~deadline_nb.errors.DataWarning` names them.

    Raises
    ------
    ValueError
        When the file is not JSON, or holds something that is neither an item nor a page; the
        message names the line.

    Examples
    --------
    >>> import io, deadline_nb as dnb
    >>> text = '{"sessionActions": [{"sessionActionId": "sessionaction-' + 32 * "a" + '-0"}]}'
    >>> [a["sessionActionId"][-2:] for a in dnb.read_json(io.StringIO(text))]
    ['-0']
    """
    text = _read_text(path_or_file)
    try:
        documents = [json.loads(text)] if text.strip() else []
    except json.JSONDecodeError as whole_error:
        documents = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                documents.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ValueError(
                    f"{_name(path_or_file)} is neither JSON nor JSON Lines: line {number}: "
                    f"{error.msg}"
                ) from whole_error
    items: list[dict[str, Any]] = []
    errors: list[str] = []
    for document in documents:
        for element in document if isinstance(document, list) else [document]:
            if not isinstance(element, dict):
                raise ValueError(
                    f"{_name(path_or_file)}: expected objects, found {type(element).__name__}"
                )
            key = next((k for k in _PAGE_KEYS if isinstance(element.get(k), list)), None)
            if key is None:
                items.append(element)
                continue
            items.extend(element[key])
            errors.extend(
                f"{e.get('sessionActionId') or e.get('sessionId')} ({e.get('code')})"
                for e in element.get("errors") or ()
                if isinstance(e, dict)
            )
    if errors:
        warnings.warn(
            f"{_name(path_or_file)} holds {len(errors)} BatchGet errors, not items: "
            + ", ".join(errors[:NAMED_IN_WARNING]),
            DataWarning,
            stacklevel=2,
        )
    return items


def _read_text(source: str | os.PathLike[str] | IO[str] | IO[bytes]) -> str:
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as handle:
            data: str | bytes = handle.read()
    else:
        data = source.read()
    return data.decode("utf-8-sig") if isinstance(data, bytes) else data


def _name(source: object) -> str:
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    return str(getattr(source, "name", "the input"))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def write_json(
    items: Iterable[Mapping[str, Any]], path_or_file: str | os.PathLike[str] | IO[str]
) -> int:
    """Write API items as JSON Lines (ISO-8601 UTC times) that :func:`read_json` reads back.

    Parameters
    ----------
    items
        Session actions or sessions, as boto3 returned them.
    path_or_file
        Where to write; gzip when a path's name ends in ``.gz``.

    Returns
    -------
    int
        The number of items written.

    Examples
    --------
    >>> import io, deadline_nb as dnb
    >>> buffer = io.StringIO()
    >>> dnb.write_json([{"sessionActionId": "sessionaction-" + 32 * "a" + "-0"}], buffer)
    1
    """

    def lines() -> Iterator[str]:
        for item in items:
            clean = {k: v for k, v in item.items() if k != "ResponseMetadata"}
            yield json.dumps(clean, default=_json_default, separators=(",", ":")) + "\n"

    count = 0
    with contextlib.ExitStack() as stack:
        handle: IO[str]
        if isinstance(path_or_file, (str, os.PathLike)):
            path = Path(path_or_file)
            opener = gzip.open if path.suffix == ".gz" else open
            handle = stack.enter_context(opener(path, "wt", encoding="utf-8"))
        else:
            handle = path_or_file
        for line in lines():
            handle.write(line)
            count += 1
    return count


def read_parquet(path: str | os.PathLike[str] | IO[bytes]) -> pd.DataFrame:
    """Read a frame written with ``DataFrame.to_parquet``, with every dtype as it was written.

    pandas 2.x reads Arrow-backed strings back as Python-backed ones; this keeps the schema's
    ``string[pyarrow]`` on every supported pandas version.

    Parameters
    ----------
    path
        A Parquet file written from one of this package's frames.

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> import io, deadline_nb as dnb
    >>> buffer = io.BytesIO()
    >>> dnb.session_action_frame([]).to_parquet(buffer)
    >>> _ = buffer.seek(0)
    >>> dnb.read_parquet(buffer).dtypes["sessionActionId"] == dnb.schema.STRING
    True
    """
    with pd.option_context("mode.string_storage", "pyarrow"):
        frame = pd.read_parquet(path)
    for name in frame.columns:
        if isinstance(frame[name].dtype, pd.StringDtype) and frame[name].dtype != schema.STRING:
            frame[name] = frame[name].astype(schema.STRING)
    return frame
