"""Files: what the AWS CLI prints (JSON, JSON Lines, gzip), and Parquet written from our frames."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import warnings
import zlib
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime, timezone
from pathlib import Path
from typing import IO, Any

import pandas as pd

from .. import schema
from ..errors import NAMED_IN_WARNING, DataWarning

__all__ = ["csv_safe", "read_json", "read_parquet", "write_csv", "write_json"]

_PAGE_KEYS = ("sessionActions", "sessions")


def read_json(path_or_file: str | os.PathLike[str] | IO[str] | IO[bytes]) -> list[dict[str, Any]]:
    """Read what the AWS CLI printed (or :func:`write_json` wrote) into a list of items.

    Accepted: one object (``aws deadline get-session-action``), a page with ``sessionActions``
    or ``sessions`` (``list-session-actions``, ``batch-get-session-action``, ``list-sessions``),
    a list of objects or pages, or JSON Lines holding any of these; gzip when the name ends in
    ``.gz`` (a gzip file is read whatever its name). Text is UTF-8, or UTF-16 with a byte order
    mark (what Windows PowerShell's ``>`` writes). Timestamps are left as the file has them
    (ISO-8601 strings or epoch seconds): every frame function reads both.

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
        When the file cannot be read as JSON or JSON Lines (a truncated or fake gzip file,
        bytes that are not UTF-8 text, nesting too deep for Python's reader, a syntax error), or
        holds something that is neither an item nor a page: one sentence naming the file, and
        the line where it is known.
    OSError
        When the file cannot be opened.

    Examples
    --------
    >>> import io, deadline_nb as dnb
    >>> text = '{"sessionActions": [{"sessionActionId": "sessionaction-' + 32 * "a" + '-0"}]}'
    >>> [a["sessionActionId"][-2:] for a in dnb.read_json(io.StringIO(text))]
    ['-0']
    """
    name = _name(path_or_file)
    documents = _documents(_read_text(path_or_file, name), name)
    items: list[dict[str, Any]] = []
    errors: list[str] = []
    for document in documents:
        for element in document if isinstance(document, list) else [document]:
            if not isinstance(element, dict):
                raise _unreadable(
                    name,
                    f"it holds {type(element).__name__} where an item or a page was expected",
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
            f"{name} holds {len(errors)} BatchGet errors, not items: "
            + ", ".join(errors[:NAMED_IN_WARNING]),
            DataWarning,
            stacklevel=2,
        )
    return items


def _documents(text: str, name: str) -> list[Any]:
    """The JSON documents of a file: one, or one per line (JSON Lines)."""
    deep = False
    try:
        return [json.loads(text)] if text.strip() else []
    except json.JSONDecodeError:
        pass  # JSON Lines, or an error: the lines say which
    except RecursionError:
        deep = True  # the lines say which one nests too deep, if it is JSON Lines
    documents = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            documents.append(json.loads(line))
        except json.JSONDecodeError as error:
            if deep:  # one document over several lines: no line to name
                raise _unreadable(
                    name, "it nests deeper than Python's JSON reader allows"
                ) from None
            raise _unreadable(
                name, f"it is neither JSON nor JSON Lines ({error.msg})", number
            ) from None
        except RecursionError:
            raise _unreadable(
                name, "it nests deeper than Python's JSON reader allows", number
            ) from None
    return documents


def _unreadable(name: str, why: str, line: int | None = None) -> ValueError:
    """The one-sentence error of a file read_json cannot read."""
    where = f" (line {line})" if line is not None else ""
    return ValueError(f"{name} cannot be read{where}: {why}.")


_GZIP_MAGIC = b"\x1f\x8b"
# Byte order marks read as UTF-16 (longest first); UTF-8's is dropped by "utf-8-sig".
_UTF16_MARKS = (b"\xff\xfe", b"\xfe\xff")


def _read_text(source: str | os.PathLike[str] | IO[str] | IO[bytes], name: str) -> str:
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as handle:
            data: str | bytes = handle.read()
    else:
        data = source.read()
    if isinstance(data, str):
        return data
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:  # truncated or corrupt
            raise _unreadable(name, f"it is not a whole gzip file ({error})") from None
    elif name.endswith(".gz"):
        raise _unreadable(name, "its name ends in .gz but it is not a gzip file")
    if data[:2] in _UTF16_MARKS:
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as error:
            raise _unreadable(name, f"it is not UTF-16 text ({error.reason})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise _unreadable(
            name, f"it is not UTF-8 text (byte 0x{data[error.start]:02x})", line
        ) from None


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
    import pyarrow.parquet as pq

    with pd.option_context("mode.string_storage", "pyarrow"):
        table = pq.read_table(path)
        frame = table.to_pandas()
    for name in frame.columns:
        if isinstance(frame[name].dtype, pd.StringDtype) and frame[name].dtype != schema.STRING:
            frame[name] = frame[name].astype(schema.STRING)
    for name, ordered in _categorical_columns(table.schema.pandas_metadata).items():
        if name in frame.columns and not isinstance(frame[name].dtype, pd.CategoricalDtype):
            frame[name] = _as_category(frame[name], ordered)
    return frame


def _categorical_columns(metadata: Mapping[str, Any] | None) -> dict[str, bool]:
    """The columns pandas wrote as categories (name -> ordered), from the file's metadata."""
    columns = (metadata or {}).get("columns") or []
    return {
        str(c["name"]): bool((c.get("metadata") or {}).get("ordered"))
        for c in columns
        if isinstance(c, Mapping) and c.get("pandas_type") == "categorical" and c.get("name")
    }


def _as_category(column: pd.Series, ordered: bool) -> pd.Series:
    """A category column that Parquet kept as another type: all missing, it is stored as the
    null type (read back as float or object); its categories were empty."""
    if column.isna().all():
        empty = pd.CategoricalDtype(pd.Index([], dtype=object), ordered=ordered)
        return pd.Series(pd.Categorical([None] * len(column), dtype=empty), index=column.index)
    return column.astype(pd.CategoricalDtype(ordered=ordered))


# ---------------------------------------------------------------------------------------------
# CSV for spreadsheets

#: What makes a spreadsheet read a cell as a formula (OWASP's CSV-injection rule).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells cannot start a spreadsheet formula.

    A progress message is whatever a render script printed: ``=HYPERLINK(...)`` would be a live
    formula in Excel or Sheets. Each text cell starting with ``=``, ``+``, ``-``, ``@``, tab or
    carriage return gets a leading ``'`` (OWASP's rule), which spreadsheets show as text. Only
    text columns change: an exit code of -1 stays the number -1. Parquet and JSON Lines keep
    the exact text; this is for CSV only.

    Parameters
    ----------
    frame
        Any frame of this package.

    Returns
    -------
    pandas.DataFrame
        A copy, with the same columns; changed text columns become ``string`` columns.

    Examples
    --------
    >>> import pandas as pd
    >>> from deadline_nb.frames.files import csv_safe
    >>> safe = csv_safe(pd.DataFrame({"msg": ["=1+1", "ok", None], "code": [-1, 0, 1]}))
    >>> safe["msg"].tolist(), safe["code"].tolist()
    (["'=1+1", 'ok', <NA>], [-1, 0, 1])
    """
    out = frame.copy(deep=False)
    for name in frame.columns:
        column = frame[name]
        if not (
            isinstance(column.dtype, (pd.StringDtype, pd.CategoricalDtype))
            or column.dtype == object
        ):
            continue
        text = column.astype(schema.STRING)  # other objects in an object column as their text
        risky = text.str.startswith(_FORMULA_STARTS).fillna(False).to_numpy(dtype=bool)
        if risky.any():
            out[name] = text.where(~risky, "'" + text)
    return out


def write_csv(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a frame as CSV for a spreadsheet: no cell can run as a formula (:func:`csv_safe`).

    Shared by ``deadline-nb fetch --out x.csv`` and the explorer's export.

    Parameters
    ----------
    frame
        Any frame of this package.
    path
        The CSV file to write.

    Returns
    -------
    pathlib.Path
        The path written.

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> from deadline_nb.frames.files import write_csv
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = write_csv(pd.DataFrame({"msg": ["@SUM(A1)"]}), pathlib.Path(tmp) / "a.csv")
    ...     out.read_bytes().splitlines()
    [b'msg', b"'@SUM(A1)"]
    """
    # CRLF, as RFC 4180 has it: then a carriage return inside a message is quoted too (with
    # "\n" alone as the line end it is not, and it would split the row in a spreadsheet).
    csv_safe(frame).to_csv(path, index=False, lineterminator="\r\n")
    return Path(path)
