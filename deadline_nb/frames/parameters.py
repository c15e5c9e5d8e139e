"""Task parameter values (the ``TaskParameterValue`` union) read into typed columns.

Shared by :mod:`~deadline_nb.frames.actions` (the ``param.<Name>`` columns of a session-action
frame, from either reader), :mod:`~deadline_nb.frames.records` (the same columns of a task frame)
and :mod:`~deadline_nb.frames.companions` (``parameter_frame``'s exact text). One set of rules,
so that a parameter has the same dtype and the same value in every frame: ``int`` gives ``Int64``,
``float`` (or ``int`` with ``float``) ``Float64``, anything else ``string`` with the API's text.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ..errors import Problems
from ..text import REPLACED, clean_text
from .convert import INT64_MAX, INT64_MIN, clean_texts, column_matrix, is_missing, string_array

__all__ = ["Parameter", "parameter_column", "parameter_value", "read_parameters"]

_VALUE_MEMBERS = ("int", "float", "string", "path", "chunkInt")
_UNKNOWN_VALUE = len(_VALUE_MEMBERS)  # kind code of a value that cannot be read


def parameter_value(value: Any) -> tuple[str, str | None]:
    """One ``TaskParameterValue`` -> (type, exact text); ``("unknown", None)`` if unreadable."""
    if isinstance(value, Mapping) and len(value) == 1:
        kind, text = next(iter(value.items()))
        if kind in _VALUE_MEMBERS and isinstance(text, str):
            return kind, text
    return "unknown", None


class Parameter:
    """One parameter name across all task runs: rows, a type code per value, texts."""

    def __init__(self) -> None:
        self.rows: list[np.ndarray] = []
        self.kinds: list[np.ndarray] = []
        self.texts: list[pa.Array] = []


def read_parameters(
    param_rows: np.ndarray, param_dicts: list[Any], ids: Sequence[str], problems: Problems
) -> dict[str, Parameter]:
    """Read every parameter of every task run, name by name, column by column.

    Task runs of one step share their parameter names, so in most jobs every task run has the
    names of the first one: then each name is read as one column (checked in C: as many names
    everywhere, and no value missing). Otherwise the task runs are grouped by names first.
    """
    found: dict[str, Parameter] = {}
    if not param_dicts:
        return found
    first = param_dicts[0]
    names = tuple(first) if isinstance(first, Mapping) else ()
    if names and set(map(len, param_dicts)) == {len(names)}:
        matrix = column_matrix(param_dicts, names)
        columns = [matrix[:, j].tolist() for j in range(len(names))]
        try:
            # len() of a missing value (NaN or None) raises: some task runs have other names.
            for column in columns:
                set(map(len, column))
        except TypeError:
            pass
        else:
            for name, column in zip(names, columns, strict=True):
                _add_parameter(found, name, param_rows, column, ids, problems)
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
            _add_parameter(
                found, name, param_rows[members], [d[name] for d in dicts], ids, problems
            )
    return found


def _add_parameter(
    found: dict[str, Parameter],
    name: Any,
    rows: np.ndarray,
    values: list[Any],
    ids: Sequence[str],
    problems: Problems,
) -> None:
    name, changed = clean_text(str(name))
    if changed:  # a lone surrogate: the column's name could not be written to any file
        for row in rows:
            problems.add(f"a parameter name {REPLACED}", ids[int(row)])
    kinds, texts = _parameter_values(values, name, [ids[int(row)] for row in rows], problems)
    parameter = found.setdefault(name, Parameter())
    parameter.rows.append(rows)
    parameter.kinds.append(kinds)
    parameter.texts.append(texts)


def _parameter_values(
    values: list[Any], name: str, ids: Sequence[str], problems: Problems
) -> tuple[np.ndarray, pa.Array]:
    """Union values -> (type code per value, exact text per value; null when unreadable).

    ``ids`` are the actions of the values, to report a lone surrogate (read as U+FFFD).
    """
    first = values[0]
    if type(first) is dict and len(first) == 1 and next(iter(first)) in _VALUE_MEMBERS:
        # Fast path: every value has the first value's member (a union has only one).
        kind = next(iter(first))
        try:
            texts = pa.array([v[kind] for v in values], type=pa.string())
            return np.full(len(values), _VALUE_MEMBERS.index(kind), dtype=np.int8), texts
        except (KeyError, TypeError, pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError):
            pass
    members = column_matrix(values, _VALUE_MEMBERS)
    present = ~is_missing(members)
    which = present.argmax(axis=1)
    # One of the five members and nothing else; SDK_UNKNOWN_MEMBER has none of them.
    sizes = np.array([len(v) if isinstance(v, Mapping) else 0 for v in values])
    kinds = np.where((present.sum(axis=1) == 1) & (sizes == 1), which, _UNKNOWN_VALUE)
    texts = members[np.arange(len(values)), which]
    ok = np.array([isinstance(t, str) for t in texts], dtype=bool) & (kinds != _UNKNOWN_VALUE)
    kinds = np.where(ok, kinds, _UNKNOWN_VALUE).astype(np.int8)
    kept = np.array(texts, dtype=object)
    kept[~ok] = None
    try:
        return kinds, pa.array(kept, type=pa.string(), from_pandas=True)
    except UnicodeEncodeError:
        cleaned, changed = clean_texts(kept.tolist())
        for row in changed:
            problems.add(f"parameter {name!r} value {REPLACED}", ids[row])
        return kinds, pa.array(cleaned, type=pa.string())


def parameter_column(
    name: str, parameter: Parameter, n: int, ids: Sequence[str], problems: Problems
) -> Any:
    """One parameter's column over ``n`` rows: ``Int64``, ``Float64`` or ``string``.

    ints give ``Int64``; floats, or ints with floats, ``Float64``; any other type or mix
    ``string`` with the API's text. A value that cannot be read is missing and reported.
    """
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
    return string_array(column)


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
        if INT64_MIN <= number <= INT64_MAX:
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
