"""history_ddl: each engine's statements parse in its own dialect (sqlglot) and declare exactly
the columns the synced files hold, with types DuckDB reading the same files agrees with."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlglot
from sqlglot import exp

import deadline_nb as dnb
from deadline_nb import queue_history as history
from deadline_nb.cli import main
from deadline_nb.errors import DataWarning
from deadline_nb.history_ddl import ENGINES, history_ddl
from deadline_nb.localfarm import LocalFarm

LOCATION = "s3://studio-history/deadline"
PARTITIONS = ["farmId", "queueId", "month"]
NUMBERS = {"int", "bigint", "double"}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The seed-0 farm synced with every table, once for the module."""
    dest = tmp_path_factory.mktemp("history")
    with LocalFarm(seed=0) as farm, warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        dnb.sync_history(
            dest,
            farm.farm_id,
            client=farm.client(),
            cache=False,
            progress=False,
            logs=True,
            metrics=True,
        )
    yield dest


def _kind(data_type: exp.DataType) -> str:
    """A parsed column type, as one word the tests compare."""
    t = exp.DataType.Type
    this = data_type.this
    if this in (t.VARCHAR, t.TEXT, t.CHAR, t.NVARCHAR):
        return "string"
    if this == t.BIGINT:
        return "bigint"
    if this == t.INT:
        return "int"
    if this == t.DOUBLE:
        return "double"
    if this == t.BOOLEAN:
        return "boolean"
    if this in (t.TIMESTAMP, t.TIMESTAMPTZ, t.TIMESTAMPLTZ, t.TIMESTAMP_MS, t.TIMESTAMP_NS):
        return "timestamp"
    raise AssertionError(f"unexpected type {data_type.sql()}")


def _file_kind(kind: pa.DataType) -> str:
    """What a file's column holds, as one word (written here, apart from the module's own)."""
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if pa.types.is_timestamp(kind):
        assert kind.unit == "us" and kind.tz == "UTC", kind  # what Spark and Athena read
        return "timestamp"
    if kind == pa.duration("ns") or kind == pa.int64():
        return "bigint"
    if kind == pa.int32():
        return "int"
    if kind == pa.float64():
        return "double"
    if kind == pa.bool_():
        return "boolean"
    if kind in (pa.string(), pa.large_string(), pa.null()):
        return "string"
    raise AssertionError(f"unexpected file type {kind}")


def _files_columns(dest: Path, table: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (dest / table).rglob("*.parquet"):
        for field in pq.read_schema(path):
            found.setdefault(field.name, set()).add(_file_kind(field.type))
    return found


def _creates(ddl: str, engine: str) -> dict[str, exp.Create]:
    statements = sqlglot.parse(ddl, read=engine)
    creates = {}
    for statement in statements:
        assert statement is not None
        if isinstance(statement, exp.Create):
            creates[statement.this.find(exp.Table).name] = statement
    return creates


@pytest.mark.parametrize("engine", ENGINES)
def test_ddl_parses_and_declares_every_column_of_the_files(engine: str, dataset: Path) -> None:
    ddl = history_ddl(dataset, engine, location=LOCATION)
    creates = _creates(ddl, engine)
    assert sorted(creates) == sorted(history.TABLES)
    for table, create in creates.items():
        assert create.args["kind"] == "TABLE"
        declared = {d.name: _kind(d.args["kind"]) for d in create.find_all(exp.ColumnDef)}
        stored = _files_columns(dataset, table)
        assert stored, table
        # Every column of every file, with its type; the partition columns as strings.
        for name, kinds in stored.items():
            assert name in declared, (table, name)
            if len(kinds) == 1:
                assert {declared[name]} == kinds, (table, name, kinds)
            else:
                # Jobs disagree (a parameter int in one template, text in another): the type
                # that holds both, and a comment that says so.
                merged = "string" if not kinds <= NUMBERS else "double"
                assert declared[name] == ("bigint" if kinds <= {"int", "bigint"} else merged)
                assert f"-- {table}.{name} is stored as {' and '.join(sorted(kinds))}" in ddl
        assert set(declared) == set(stored) | set(PARTITIONS), table
        assert all(declared[p] == "string" for p in PARTITIONS)
        text = create.sql(engine)
        assert f"{LOCATION}/{table}" in text
        if engine == "trino":
            # The partition columns last, in the folders' order.
            assert list(declared)[-3:] == PARTITIONS


def test_athena_projection_properties(dataset: Path) -> None:
    ddl = history_ddl(dataset, "athena", location=LOCATION, tables=["actions"])
    (create,) = _creates(ddl, "athena").values()
    properties = {
        p.name: p.text("value")
        for p in create.find_all(exp.Property)
        if isinstance(p.this, (str, exp.Literal)) or p.name.startswith(("projection", "storage"))
    }
    month = min(p.name.split("=")[1] for p in (dataset / "jobs").glob("*/*/month=*"))
    assert properties["projection.enabled"] == "true"
    assert properties["projection.farmid.type"] == "injected"
    assert properties["projection.queueid.type"] == "injected"
    assert properties["projection.month.type"] == "date"
    assert properties["projection.month.format"] == "yyyy-MM"
    assert properties["projection.month.range"] == f"{month},NOW"
    assert properties["projection.month.interval.unit"] == "MONTHS"
    assert properties["storage.location.template"] == (
        f"{LOCATION}/actions/farmId=${{farmid}}/queueId=${{queueid}}/month=${{month}}/"
    )
    partitioned = create.find(exp.PartitionedByProperty)
    assert partitioned is not None
    assert [c.name for c in partitioned.find_all(exp.ColumnDef)] == PARTITIONS
    assert "STORED AS PARQUET" in ddl


def test_trino_and_spark_register_the_partitions(dataset: Path) -> None:
    trino = history_ddl(dataset, "trino", location=LOCATION, database="deadline")
    # sqlglot keeps CALL and MSCK as commands (it parses their words, not their arguments).
    calls = [s for s in sqlglot.parse(trino, read="trino") if isinstance(s, exp.Command)]
    assert [c.sql("trino") for c in calls] == [
        f"CALL system.sync_partition_metadata('deadline', '{t}', 'FULL', false)"
        for t in history.TABLES
    ]
    assert "partitioned_by = ARRAY['farmid', 'queueid', 'month']" in trino
    spark = history_ddl(dataset, "spark", location=LOCATION)
    repairs = [s for s in sqlglot.parse(spark, read="spark") if isinstance(s, exp.Command)]
    assert [r.sql("spark") for r in repairs] == [
        f"MSCK REPAIR TABLE `default`.`{t}`" for t in history.TABLES
    ]


_DUCK = {
    "VARCHAR": "string",
    "BIGINT": "bigint",
    "INTEGER": "int",
    "DOUBLE": "double",
    "BOOLEAN": "boolean",
    "TIMESTAMP WITH TIME ZONE": "timestamp",
}


def test_duckdb_reads_the_same_files_with_the_declared_types(dataset: Path) -> None:
    ddl = history_ddl(dataset, "spark")  # a local folder: its file: location
    creates = _creates(ddl, "spark")
    with duckdb.connect() as con:
        for table, create in creates.items():
            declared = {d.name: _kind(d.args["kind"]) for d in create.find_all(exp.ColumnDef)}
            pattern = (dataset / table / "**" / "*.parquet").as_posix()
            described = con.execute(
                "DESCRIBE SELECT * FROM read_parquet(?, hive_partitioning = true, "
                "union_by_name = true, hive_types_autocast = false)",
                [pattern],
            ).fetchall()
            seen = {row[0]: _DUCK.get(str(row[1]), str(row[1])) for row in described}
            assert seen == declared, table
            rows = con.execute(
                "SELECT count(*) FROM read_parquet(?, hive_partitioning = true, "
                "union_by_name = true)",
                [pattern],
            ).fetchone()
            assert rows is not None
            assert rows[0] == len(dnb.read_history(dataset, table)), table
    assert f"LOCATION '{dataset.resolve().as_uri()}/jobs'" in ddl


def test_without_the_files_the_schema_columns(tmp_path: Path) -> None:
    ddl = history_ddl(LOCATION, "trino")
    creates = _creates(ddl, "trino")
    assert sorted(creates) == sorted(history.TABLES)
    declared = [d.name for d in creates["logs"].find_all(exp.ColumnDef)]
    assert (
        declared
        == [c for c in history.TABLE_COLUMNS["logs"] if c not in PARTITIONS[:2]] + PARTITIONS
    )


def test_bad_arguments_name_the_argument(dataset: Path) -> None:
    with pytest.raises(ValueError, match="engine"):
        history_ddl(dataset, "hive")
    with pytest.raises(ValueError, match="location"):
        history_ddl(dataset, "athena")  # a local folder is not on S3
    with pytest.raises(ValueError, match="tables"):
        history_ddl(dataset, "spark", tables=["jobs", "workers"])


def test_cli_history_ddl(dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["history", "ddl", "--engine", "athena", "--location", LOCATION, str(dataset)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert len(_creates(out, "athena")) == len(history.TABLES)
    assert out == history_ddl(dataset, "athena", location=LOCATION) + "\n"
