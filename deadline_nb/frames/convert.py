"""Value conversions shared by the frame builders of :mod:`deadline_nb.frames`.

Shared by :mod:`~deadline_nb.frames.actions` (the session-action reader),
:mod:`~deadline_nb.frames.parameters` (task parameter values),
:mod:`~deadline_nb.frames.records` (sessions, steps, tasks) and
:mod:`~deadline_nb.frames.companions` (the long forms): the accepted input forms, and API values
of any accepted form (datetimes, ISO-8601 text, epoch seconds, numbers, text) turned into
Arrow, NumPy and pandas columns. A value that cannot be read is dropped, never guessed: it becomes
missing and is reported to the caller's :class:`~deadline_nb.errors.Problems`, which warns once
per kind of problem.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from itertools import repeat
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

try:  # pandas' C reader of a list of dicts, used by DataFrame(records); private, so optional
    from pandas._libs.lib import dicts_to_array as _dicts_to_array  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - a pandas without it takes the comprehension path
    _dicts_to_array = None

from ..errors import MalformedItemError, Problems
from ..text import REPLACED, clean_text
from .access import NAT

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "as_items",
    "category",
    "clean_texts",
    "column_matrix",
    "datetime_array",
    "duration",
    "is_missing",
    "ordered",
    "require_ids",
    "string_array",
    "text_array",
    "times_ns",
    "to_numbers",
]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_NS_MIN = pd.Timestamp.min.tz_localize("UTC")  # what datetime64[ns] can hold
_NS_MAX = pd.Timestamp.max.tz_localize("UTC")
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


def as_items(data: Any, key: str) -> list[Any]:
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


def column_matrix(rows: Sequence[Any], keys: Sequence[str]) -> np.ndarray:
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


def is_missing(values: np.ndarray) -> np.ndarray:
    """True where an object array holds None or NaN (both mean "not in the response")."""
    return np.asarray(pd.isna(values), dtype=bool)


def require_ids(items: Sequence[Any], field: str) -> list[str]:
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


def text_array(
    values: Sequence[Any] | np.ndarray, what: str, ids: Sequence[str], problems: Problems
) -> pa.Array:
    """Text column as an Arrow array; a value that is not a string is dropped and reported.

    A lone surrogate (valid JSON, not valid text) reads as U+FFFD and is reported. Both checks
    run only when Arrow refuses the column, so well-formed text costs nothing more.
    """
    try:
        return pa.array(values, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError):
        clean: list[str | None] = []
        for value, action_id in zip(values, ids, strict=True):
            if isinstance(value, str):
                text, changed = clean_text(value)
                if changed:
                    problems.add(f"{what} {REPLACED}", action_id)
                clean.append(text)
            elif value is None or (isinstance(value, float) and math.isnan(value)):
                clean.append(None)
            else:
                problems.add(f"{what} is not a string and was dropped", action_id)
                clean.append(None)
        return pa.array(clean, type=pa.string())


def clean_texts(values: Sequence[Any]) -> tuple[list[Any], list[int]]:
    """Each string cleaned with :func:`~deadline_nb.text.clean_text`; (values, rows changed).

    For the callers that already know every value is a string or missing and whose Arrow
    conversion failed: anything else is passed on as it is.
    """
    out: list[Any] = []
    changed: list[int] = []
    for row, value in enumerate(values):
        if isinstance(value, str):
            value, was_changed = clean_text(value)
            if was_changed:
                changed.append(row)
        out.append(value)
    return out, changed


def category(arr: pa.Array | pa.ChunkedArray) -> pd.Categorical:
    """Arrow strings -> pandas Categorical, without a round trip through Python objects."""
    encoded = arr.dictionary_encode()
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    return pd.Categorical.from_codes(codes, categories=encoded.dictionary.to_pylist())


def string_array(arr: pa.Array | pa.ChunkedArray) -> pd.api.extensions.ExtensionArray:
    """Arrow strings -> the schema's ``string[pyarrow]`` column, sharing Arrow's buffers."""
    return pd.arrays.ArrowStringArray(arr)


def ordered(
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


def times_ns(
    values: np.ndarray, field: str, ids: Sequence[str], problems: Problems, naive: list[str]
) -> np.ndarray:
    """Timestamps of any accepted form -> int64 nanoseconds since the epoch (``NAT`` if none).

    boto3 gives aware datetimes, the AWS CLI ISO-8601 strings (or epoch seconds with
    ``cli_timestamp_format = none``); each form is converted with a vectorised parser.
    """
    out = np.full(len(values), NAT, dtype=np.int64)
    missing = is_missing(values)
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
    for position in np.flatnonzero((out == NAT) & ~is_missing(values)):
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
    try:
        text = pa.array(values, type=pa.string())
    except UnicodeEncodeError:  # a lone surrogate: not a time either, so reported below
        cleaned, _ = clean_texts(values.tolist())
        values = np.array(cleaned, dtype=object)
        text = pa.array(cleaned, type=pa.string())
    parsed = pd.to_datetime(
        pd.Index(values, dtype=object), format="ISO8601", utc=True, errors="coerce"
    )
    ns = parsed.as_unit("ns").asi8
    out[rows] = ns
    for row in rows[ns == NAT]:
        problems.add(f"{field} is not an ISO-8601 time and was dropped", ids[int(row)])
    has_zone = pc.match_substring_regex(text, r"([Zz]|[+-]\d\d(:?\d\d)?)$").to_numpy(
        zero_copy_only=False
    )
    naive.extend(ids[int(row)] for row in rows[~has_zone & (ns != NAT)])


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


def datetime_array(ns: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """int64 nanoseconds (:data:`~deadline_nb.frames.access.NAT` if missing) -> UTC datetimes."""
    return pd.Series(ns.view("datetime64[ns]")).dt.tz_localize("UTC").array


def duration(
    started: np.ndarray, ended: np.ndarray, ids: Sequence[str], problems: Problems
) -> np.ndarray:
    """endedAt - startedAt (int64 ns in, timedelta64 out); NaT when either is missing.

    An end before the start is kept as the API gave it in the time columns, but no negative
    duration is made up from it: that duration is missing, and reported.
    """
    both = (started != NAT) & (ended != NAT)
    backwards = both & (ended < started)
    for row in np.flatnonzero(backwards):
        problems.add(
            "endedAt is before startedAt; both are kept and duration is missing", ids[int(row)]
        )
    return np.where(both & ~backwards, ended - started, NAT).view("timedelta64[ns]")


def to_numbers(
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
