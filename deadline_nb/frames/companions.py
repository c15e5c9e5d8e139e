"""The long-form companions of a session-action frame: parameters, limits, manifests.

One row per thing an action carries (a task parameter, an acquired limit, an output manifest),
each with the action's ``sessionActionId`` so that it joins back to
:func:`~deadline_nb.frames.session_action_frame`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from .. import schema
from ..errors import Problems
from .convert import INT64_MAX, INT64_MIN, as_items, category, require_ids, string_array, text_array
from .duplicates import one_per_action
from .parameters import parameter_value

__all__ = ["limit_frame", "manifest_frame", "parameter_frame"]

# The model's patterns for IntString and FloatString.
_INT_TEXT = re.compile(r"-?(0|[1-9][0-9]*)")
_FLOAT_TEXT = re.compile(r"-?(0|[1-9][0-9]*)([.][0-9]+)?([eE][+-]?[0-9]+)?")


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
    items = as_items(actions, "sessionActions")
    ids = require_ids(items, "sessionActionId")
    # An action given twice keeps the item session_action_frame keeps, with its one warning.
    repeated = Problems()
    items, ids = one_per_action(items, ids, repeated)
    repeated.emit()
    rows: dict[str, list[Any]] = {c: [] for c in schema.PARAMETER_COLUMNS}
    for item, action_id in zip(items, ids, strict=True):
        definition = item.get("definition")
        body = definition.get("taskRun") if isinstance(definition, Mapping) else None
        if not isinstance(body, Mapping) or not isinstance(body.get("parameters"), Mapping):
            continue
        for name in sorted(body["parameters"]):
            kind, text = parameter_value(body["parameters"][name])
            int_value: int | None = None
            float_value: float | None = None
            # The text is kept as given; a number is added only where it is one.
            if kind == "int" and text is not None and _INT_TEXT.fullmatch(text):
                number = int(text)
                int_value = number if INT64_MIN <= number <= INT64_MAX else None
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
    items = as_items(actions, "sessionActions")
    ids = require_ids(items, "sessionActionId")
    # An action given twice keeps the item session_action_frame keeps, with its one warning.
    repeated = Problems()
    items, ids = one_per_action(items, ids, repeated)
    repeated.emit()
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
    items = as_items(actions, "sessionActions")
    ids = require_ids(items, "sessionActionId")
    # An action given twice keeps the item session_action_frame keeps, with its one warning.
    repeated = Problems()
    items, ids = one_per_action(items, ids, repeated)
    repeated.emit()
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
            data[name] = category(text_array(values, name, ids, problems))
        elif dtype == schema.STRING:
            data[name] = string_array(text_array(values, name, ids, problems))
        else:
            data[name] = pd.array(values, dtype=dtype)  # type: ignore[call-overload]
    problems.emit(stacklevel=4)
    return pd.DataFrame(data, index=pd.RangeIndex(len(ids)))
