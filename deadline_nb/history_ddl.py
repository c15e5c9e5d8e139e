"""The statements that declare a history dataset's tables in Athena, Trino or Spark.

:func:`sync_history` writes ``DEST/<table>/farmId=/queueId=/month=/<jobId>.parquet``. Copied
to (or written on) S3, the same files are queried where they lie once each table is declared:

* **Athena**: ``CREATE EXTERNAL TABLE ... PARTITIONED BY ... STORED AS PARQUET`` with partition
  projection (``injected`` farm and queue, a ``date`` month), so no partition is ever added: a
  query names its farm and queue (``WHERE farmid = '...' AND queueid = '...'``), as injected
  projection requires. Athena lower-cases column names; Parquet columns are matched by name
  without regard to case, so ``sessionActionId`` is read as ``sessionactionid``.
* **Trino** (Hive connector): ``CREATE TABLE ... WITH (format = 'PARQUET', external_location,
  partitioned_by)``, partition columns last, then ``CALL system.sync_partition_metadata`` (case
  insensitive: the folders say ``farmId=``, Trino's columns are lower case).
* **Spark**: ``CREATE TABLE ... USING parquet PARTITIONED BY ... LOCATION``, then
  ``MSCK REPAIR TABLE``.

Column types come from :mod:`deadline_nb.schema` (category and string -> string, UTC times ->
timestamp, Int64 -> bigint, Int32 -> int, Float64 -> double, boolean), and the ``param.<Name>``
columns, which differ from job to job, from the files themselves when DEST is a local folder.
Durations are stored as 64-bit nanoseconds (Parquet has no duration type): ``bigint``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import pandas as pd

from .errors import bad_argument
from .queue_history import PARTITIONS, TABLE_COLUMNS, TABLES

__all__ = ["ENGINES", "history_columns", "history_ddl"]

#: The engines :func:`history_ddl` writes for.
ENGINES: Final[tuple[str, ...]] = ("athena", "trino", "spark")
#: The first month Athena's projection covers when the dataset cannot be read to find it.
DEFAULT_FIRST_MONTH: Final = "2023-10"
# Each engine's name for a portable type.
_NAMES: Final[Mapping[str, Mapping[str, str]]] = {
    "athena": {
        "string": "string",
        "bigint": "bigint",
        "int": "int",
        "double": "double",
        "boolean": "boolean",
        "timestamp": "timestamp",
    },
    "trino": {
        "string": "varchar",
        "bigint": "bigint",
        "int": "integer",
        "double": "double",
        "boolean": "boolean",
        "timestamp": "timestamp(3)",
    },
    "spark": {
        "string": "STRING",
        "bigint": "BIGINT",
        "int": "INT",
        "double": "DOUBLE",
        "boolean": "BOOLEAN",
        "timestamp": "TIMESTAMP",
    },
}


def portable_type_of_dtype(dtype: object) -> str:
    """The portable SQL type of a pandas dtype of :mod:`deadline_nb.schema`.

    Parameters
    ----------
    dtype
        A dtype such as ``schema.TIME``, ``"category"`` or ``pd.Int64Dtype()``.

    Returns
    -------
    str
        One of string, bigint, int, double, boolean, timestamp.

    Examples
    --------
    >>> from deadline_nb import schema
    >>> from deadline_nb.history_ddl import portable_type_of_dtype
    >>> [portable_type_of_dtype(schema.JOB_COLUMNS[c]) for c in ("jobId", "createdAt", "priority")]
    ['string', 'timestamp', 'bigint']
    """
    if isinstance(dtype, pd.DatetimeTZDtype) or str(dtype).startswith("datetime64"):
        return "timestamp"
    name = str(dtype)
    if name.startswith("timedelta64"):
        return "bigint"  # nanoseconds: Parquet has no duration type
    if isinstance(dtype, pd.CategoricalDtype) or name in ("category", "string", "object"):
        return "string"
    if name in ("Int64", "int64"):
        return "bigint"
    if name in ("Int32", "int32"):
        return "int"
    if name in ("Float64", "float64"):
        return "double"
    if name in ("boolean", "bool"):
        return "boolean"
    if isinstance(dtype, pd.StringDtype):
        return "string"
    raise bad_argument("dtype", "be a dtype of deadline_nb.schema", dtype)


def portable_type_of_arrow(kind: Any) -> str:
    """The portable SQL type of an Arrow type as a history file stores it.

    Parameters
    ----------
    kind
        A ``pyarrow.DataType`` (from ``pyarrow.parquet.read_schema``).

    Returns
    -------
    str
        As :func:`portable_type_of_dtype`.

    Examples
    --------
    >>> import pyarrow as pa
    >>> from deadline_nb.history_ddl import portable_type_of_arrow
    >>> portable_type_of_arrow(pa.dictionary(pa.int8(), pa.string()))
    'string'
    """
    import pyarrow as pa

    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if pa.types.is_timestamp(kind):
        return "timestamp"
    if pa.types.is_duration(kind) or pa.types.is_int64(kind):
        return "bigint"
    if pa.types.is_integer(kind):
        return "int"
    if pa.types.is_floating(kind):
        return "double"
    if pa.types.is_boolean(kind):
        return "boolean"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind):
        return "string"
    raise bad_argument("kind", "be an Arrow type a history file holds", kind)


def _merge(types: set[str]) -> str:
    """One type for a column that files of different jobs store differently."""
    if len(types) == 1:
        return next(iter(types))
    if types <= {"int", "bigint"}:
        return "bigint"
    if types <= {"int", "bigint", "double"}:
        return "double"
    return "string"


def _is_local(dest: str) -> bool:
    return "://" not in dest and not dest.startswith("file:")


def history_columns(dest: str | os.PathLike[str] | None, table: str) -> dict[str, str]:
    """A table's columns and their portable types, the partition columns last.

    The schema's columns, then every other column the table's files hold (the ``param.<Name>``
    columns) when ``dest`` is a local folder; a column stored with different types by different
    jobs gets the type that holds them all (bigint, double, or string).

    Parameters
    ----------
    dest
        The dataset's local folder, or None (or a URI) for the schema's columns only.
    table
        One of :data:`deadline_nb.queue_history.TABLES`.

    Returns
    -------
    dict
        Column name -> string, bigint, int, double, boolean or timestamp.

    Examples
    --------
    >>> from deadline_nb.history_ddl import history_columns
    >>> columns = history_columns(None, "logs")
    >>> columns["lines"], list(columns)[-3:]
    ('bigint', ['farmId', 'queueId', 'month'])
    """
    columns = {name: _merge(kinds) for name, kinds in _column_kinds(dest, table).items()}
    columns.update({name: "string" for name in PARTITIONS})
    return columns


def _column_kinds(dest: str | os.PathLike[str] | None, table: str) -> dict[str, set[str]]:
    """Each column's portable types: the schema's, then those the files store."""
    import pyarrow.parquet as pq

    if table not in TABLES:
        raise bad_argument("table", f"be one of {list(TABLES)}", table)
    found: dict[str, set[str]] = {
        name: {portable_type_of_dtype(dtype)}
        for name, dtype in TABLE_COLUMNS[table].items()
        if name not in PARTITIONS
    }
    fixed = set(found)
    if dest is not None and _is_local(str(dest)):
        root = Path(dest) / table
        for path in sorted(root.glob("farmId=*/queueId=*/month=*/*.parquet")):
            if path.name.startswith("."):
                continue
            stored = pq.read_schema(path)
            for field in stored:
                if field.name in PARTITIONS or field.name in fixed:
                    continue
                found.setdefault(field.name, set()).add(portable_type_of_arrow(field.type))
    return found


def _location(dest: str, location: str | None) -> str:
    if location is not None:
        return location.rstrip("/")
    if _is_local(dest):
        return Path(dest).resolve().as_uri()
    return dest.rstrip("/")


def _first_month(dest: str) -> str:
    if not _is_local(dest):
        return DEFAULT_FIRST_MONTH
    months = sorted(
        p.name.split("=", 1)[1]
        for p in Path(dest).glob("jobs/farmId=*/queueId=*/month=*")
        if p.name[len("month=") :][:4].isdigit()
    )
    return months[0] if months else DEFAULT_FIRST_MONTH


def _tables(dest: str) -> list[str]:
    if not _is_local(dest):
        return list(TABLES)
    held = [t for t in TABLES if (Path(dest) / t).is_dir()]
    return held or list(TABLES)


def history_ddl(
    dest: str | os.PathLike[str],
    engine: str = "athena",
    *,
    location: str | None = None,
    database: str = "default",
    tables: Sequence[str] | None = None,
) -> str:
    """The statements that declare a history dataset's tables in Athena, Trino or Spark.

    Parameters
    ----------
    dest
        The dataset: a local folder (its files give the ``param.<Name>`` columns, its tables
        and its first month) or the URI it lies at (``s3://bucket/prefix``).
    engine
        ``"athena"``, ``"trino"`` or ``"spark"``.
    location
        Where the engine finds the dataset, such as ``s3://bucket/prefix``; default ``dest``
        (a local folder as a ``file:`` URI). Athena needs an ``s3://`` location.
    database
        The database (Trino: schema) to create the tables in.
    tables
        The tables to declare; default: those DEST holds (all when it is not local).

    Returns
    -------
    str
        The statements, each ending with ``;``, separated by blank lines; a ``--`` comment
        before a table names each column that different jobs store with different types
        (a task parameter of one name in different templates), declared with the type that
        holds them all (bigint, double or string).

    Raises
    ------
    ValueError
        For an unknown engine or table, or an Athena location that is not on S3.

    Examples
    --------
    >>> from deadline_nb.history_ddl import history_ddl
    >>> ddl = history_ddl("s3://studio-history/deadline", "athena", tables=["jobs"])
    >>> print(ddl.splitlines()[0])
    CREATE EXTERNAL TABLE IF NOT EXISTS `default`.`jobs` (
    >>> "'projection.month.interval.unit' = 'MONTHS'" in ddl
    True
    """
    if engine not in ENGINES:
        raise bad_argument("engine", f"be one of {list(ENGINES)}", engine)
    given = str(dest)
    where = _location(given, location)
    if engine == "athena" and not where.startswith("s3://"):
        raise bad_argument("location", "be an s3:// URI for Athena", where)
    names = list(tables) if tables is not None else _tables(given)
    for table in names:
        if table not in TABLES:
            raise bad_argument("tables", f"hold only names among {list(TABLES)}", table)
    first = _first_month(given)
    statements: list[str] = []
    for table in names:
        kinds = _column_kinds(given if _is_local(given) else None, table)
        columns = {name: _merge(k) for name, k in kinds.items()}
        columns.update({name: "string" for name in PARTITIONS})
        at = f"{where}/{table}"
        # A task parameter of one name but different types in different jobs' files: one
        # declared type cannot read them all; say so where the reader will see it.
        for name, k in kinds.items():
            if len(k) > 1:
                statements.append(
                    f"-- {table}.{name} is stored as {' and '.join(sorted(k))} by different "
                    f"jobs; declared {columns[name]}: an engine that cannot convert fails on "
                    "the others' files when a query reads this column."
                )
        if engine == "athena":
            statements.append(_athena(table, columns, at, database, first))
        elif engine == "trino":
            statements.extend(_trino(table, columns, at, database))
        else:
            statements.extend(_spark(table, columns, at, database))
    return "\n\n".join(statements)


def _quote_hive(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _quote_trino(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _body(columns: Mapping[str, str], engine: str, quote: Any, names: Sequence[str]) -> str:
    types = _NAMES[engine]
    return ",\n".join(f"  {quote(name)} {types[columns[name]]}" for name in names)


def _athena(table: str, columns: Mapping[str, str], at: str, database: str, first: str) -> str:
    name = f"{_quote_hive(database)}.{_quote_hive(table)}"
    data = [c for c in columns if c not in PARTITIONS]
    partitions = ", ".join(f"{_quote_hive(p)} string" for p in PARTITIONS)
    # Athena lower-cases column names: the projection properties and the template name them so.
    farm, queue, month = (p.lower() for p in PARTITIONS)
    template = f"{at}/farmId=${{{farm}}}/queueId=${{{queue}}}/month=${{{month}}}/"
    properties = {
        "projection.enabled": "true",
        f"projection.{farm}.type": "injected",
        f"projection.{queue}.type": "injected",
        f"projection.{month}.type": "date",
        f"projection.{month}.format": "yyyy-MM",
        f"projection.{month}.range": f"{first},NOW",
        f"projection.{month}.interval": "1",
        f"projection.{month}.interval.unit": "MONTHS",
        "storage.location.template": template,
    }
    props = ",\n".join(f"  {_literal(k)} = {_literal(v)}" for k, v in properties.items())
    return (
        f"CREATE EXTERNAL TABLE IF NOT EXISTS {name} (\n"
        f"{_body(columns, 'athena', _quote_hive, data)}\n)\n"
        f"PARTITIONED BY ({partitions})\n"
        f"STORED AS PARQUET\n"
        f"LOCATION {_literal(at + '/')}\n"
        f"TBLPROPERTIES (\n{props}\n);"
    )


def _trino(table: str, columns: Mapping[str, str], at: str, database: str) -> list[str]:
    name = f"{_quote_trino(database)}.{_quote_trino(table)}"
    data = [c for c in columns if c not in PARTITIONS] + list(PARTITIONS)
    # Trino lower-cases identifiers; partitioned_by names the columns as Trino holds them.
    partitioned = ", ".join(_literal(p.lower()) for p in PARTITIONS)
    create = (
        f"CREATE TABLE IF NOT EXISTS {name} (\n"
        f"{_body(columns, 'trino', _quote_trino, data)}\n)\n"
        f"WITH (\n  format = 'PARQUET',\n  external_location = {_literal(at)},\n"
        f"  partitioned_by = ARRAY[{partitioned}]\n);"
    )
    # case_sensitive false: the folders say farmId=, the columns are farmid.
    sync = (
        f"CALL system.sync_partition_metadata({_literal(database)}, {_literal(table)}, "
        "'FULL', false);"
    )
    return [create, sync]


def _spark(table: str, columns: Mapping[str, str], at: str, database: str) -> list[str]:
    name = f"{_quote_hive(database)}.{_quote_hive(table)}"
    data = [c for c in columns if c not in PARTITIONS] + list(PARTITIONS)
    partitions = ", ".join(_quote_hive(p) for p in PARTITIONS)
    create = (
        f"CREATE TABLE IF NOT EXISTS {name} (\n"
        f"{_body(columns, 'spark', _quote_hive, data)}\n)\n"
        f"USING parquet\n"
        f"PARTITIONED BY ({partitions})\n"
        f"LOCATION {_literal(at)};"
    )
    return [create, f"MSCK REPAIR TABLE {name};"]
