"""Questions over a queue's history dataset, answered by DuckDB: ``dnb.history(DEST)``.

:func:`history` opens an embedded DuckDB database (nothing to start) with one view per table
of the dataset :func:`deadline_nb.sync_history` wrote (``jobs``, ``steps``, ``tasks``,
``sessions``, ``actions``), a ``task_runs`` view (the task runs with their job's name, show and
submitter, and their duration in seconds), and methods for the questions a TD asks::

    h = dnb.history(DEST)
    h.trend(show="aurora")              # frame time per step and week: median and p90
    h.retries(by="show")                # runs, retries, failures per show (user, queue, ...)
    h.cost(rate=0.12)                   # worker-hours and an estimated cost per user and month
    h.compare_jobs(a, b)                # two versions of a shot, frame by frame
    h.parameter_diff(a, b)              # which job parameters changed
    h.sql("select ...").df()            # anything else, in SQL over the views

What the views read: every ``DEST/<table>/farmId=/queueId=/month=/<jobId>.parquet`` file whose
name does not start with ``.`` (a sync's temporary files), and of the tables other than
``jobs`` only the files of jobs whose ``jobs`` file exists (a sync stopped halfway wrote the
other tables first); the packs :func:`deadline_nb.compact_history` wrote (``pack-*.parquet``),
each job read from one place only -- the same rule as :func:`deadline_nb.read_history`. The
files are listed when the views are made: :meth:`History.refresh` sees a sync that ran since.
The partition columns ``farmId``, ``queueId`` and ``month`` are text (``hive_types``). Files
written by an older version that lack a column read as nulls (``union_by_name``), and every
column of :mod:`deadline_nb.schema` is in its view even when no file has it, so that a question
over an empty dataset answers with an empty frame.

The show: the Deadline Cloud API has no notion of a show; studios put it in a job parameter.
``show`` is the value of the job parameter named by ``show_parameter`` (default ``"Show"``,
what the local farm's history jobs carry), null for a job without it. ``show`` is a keyword
of DuckDB's SQL: quote it in a query (``select "show", count(*) from jobs group by 1``). The
user is the job's ``createdBy`` (the submitter's identity id, as the API gives it).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pandas as pd

from . import schema
from .errors import DeadlineNbError, bad_argument
from .queue_history import (
    TABLE_COLUMNS,
    TABLES,
    _Places,
    _places,
    _Visible,
    _visible,
    dataset_filesystem,
)

if TYPE_CHECKING:
    import boto3
    import duckdb
    import pyarrow.fs as pafs

__all__ = ["History", "MissingDependencyError", "history"]

#: What :meth:`History.trend` and :meth:`History.retries` can group by (columns of ``task_runs``).
GROUPS: Final[tuple[str, ...]] = (
    "stepName",
    "show",
    "createdBy",
    "queueId",
    "farmId",
    "jobName",
    "jobId",
    "month",
)
#: What :meth:`History.cost` can group by (columns of the ``jobs`` view).
COST_GROUPS: Final[tuple[str, ...]] = ("createdBy", "show", "queueId", "farmId", "jobName")
_PARTITIONS: Final = ("farmId", "queueId", "month")
# Every table's columns, those written on request (logs, resources) included.
_COLUMNS: Final[Mapping[str, Mapping[str, object]]] = TABLE_COLUMNS
_INSTALL: Final = "pip install 'deadline-nb[history]'"
_MAX_GROUPS: Final = 64  # file shapes read as separate branches of a view (see History._select)


class MissingDependencyError(DeadlineNbError, ImportError):
    """An optional dependency the call needs is not installed; the message says what to install."""


def _duckdb_type(dtype: object) -> str:
    """The DuckDB type of a column of a schema dtype."""
    if dtype == schema.TIME:
        return "TIMESTAMPTZ"
    if dtype == schema.DURATION:
        return "INTERVAL"
    text = str(dtype)
    if text in ("Int64", "int64"):
        return "BIGINT"
    if text in ("Int32", "int32"):
        return "INTEGER"
    if text in ("Float64", "float64"):
        return "DOUBLE"
    if text in ("boolean", "bool"):
        return "BOOLEAN"
    return "VARCHAR"  # strings and categories


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _names(value: str | Sequence[str], name: str, allowed: Sequence[str]) -> list[str]:
    names = [value] if isinstance(value, str) else list(value)
    for one in names:
        if one not in allowed:
            raise bad_argument(name, f"be among {list(allowed)} (or a list of them)", value)
    return names


def _typed(
    frame: pd.DataFrame, groups: Sequence[str], columns: Mapping[str, object]
) -> pd.DataFrame:
    """The answer with its grouping columns as strings, then the schema's columns and dtypes."""
    data: dict[str, Any] = {}
    for name in groups:
        data[name] = frame[name].astype(schema.STRING)
    for name, dtype in columns.items():
        series = frame[name]
        if dtype == schema.TIME:
            series = pd.to_datetime(series, utc=True)
        data[name] = series.astype(dtype)  # type: ignore[call-overload]
    for name in frame.columns:
        if name not in data:
            data[name] = frame[name]
    return pd.DataFrame(data, index=pd.RangeIndex(len(frame)))


class History:
    """A DuckDB connection with views over a history dataset, and the common questions.

    Make one with :func:`history`. ``con`` is the DuckDB connection: ``h.sql(query)`` is
    ``h.con.sql(query)``. Its views:

    ``jobs``, ``steps``, ``tasks``, ``sessions``, ``actions``
        The dataset's tables, the columns of :mod:`deadline_nb.schema` (durations as
        intervals) and ``farmId``, ``queueId``, ``month`` from the folders; ``jobs`` also has
        ``show`` (see :func:`history`).
    ``task_runs``
        The ``taskRun`` actions that started, with ``jobName``, ``show``, ``createdBy`` and
        ``jobCreatedAt`` from their job and ``seconds`` (their duration; null while running).
    ``task_run_actions``
        The same without the job's columns (no join with ``jobs``: faster).

    And a macro, ``job_parameter(parameters, 'Name')``: a job parameter's value as text, from the
    ``jobs`` view's ``parameters`` JSON.

    Parameters
    ----------
    dest
        The dataset's folder.
    show_parameter
        The job parameter that names the show.
    database
        DuckDB's database: ``":memory:"`` (the default; the views are cheap to make again) or a
        file.
    filesystem
        A pyarrow filesystem that holds ``dest`` (see :func:`history`).

    Examples
    --------
    >>> import tempfile, deadline_nb as dnb
    >>> with tempfile.TemporaryDirectory() as dest, dnb.history(dest) as h:
    ...     h.sql("select count(*) from task_runs").fetchall()
    [(0,)]
    """

    def __init__(
        self,
        dest: str | os.PathLike[str],
        *,
        show_parameter: str = "Show",
        database: str = ":memory:",
        filesystem: pafs.FileSystem | None = None,
        boto3_session: boto3.Session | None = None,
    ) -> None:
        try:
            import duckdb
        except ImportError as error:
            raise MissingDependencyError(
                f"dnb.history needs DuckDB, which is not installed: {_INSTALL}."
            ) from error
        text = os.fspath(dest)
        if filesystem is None and "://" in text:
            # DuckDB's own S3 reader (the httpfs extension) is downloaded on first use, not
            # bundled: s3:// is read through pyarrow's S3 filesystem, with the credentials,
            # region and endpoint the sync uses (queue_history.dataset_filesystem).
            filesystem, _ = dataset_filesystem(text, boto3_session)
        self.filesystem = filesystem
        self.dest = text
        # The path in the filesystem: pyarrow's S3 paths are bucket/key, without the scheme.
        if "://" in text:
            self._root = text.split("://", 1)[1].rstrip("/") or "/"
        else:
            self._root = Path(text).expanduser().absolute().as_posix()
        self.show_parameter = show_parameter
        self.con: duckdb.DuckDBPyConnection = duckdb.connect(database)
        # Weeks and months are UTC ones, whatever the machine's zone.
        self.con.execute("SET TimeZone = 'UTC'")
        self.refresh()

    # -- the views ---------------------------------------------------------------------------

    def files(self, table: str) -> list[str]:
        """The files the view of ``table`` reads: visible ones, of jobs whose jobs file exists.

        Parameters
        ----------
        table
            One of ``jobs``, ``steps``, ``tasks``, ``sessions``, ``actions``.

        Returns
        -------
        list of str
            Their paths (in ``filesystem`` when there is one), sorted.

        Examples
        --------
        >>> import tempfile, deadline_nb as dnb
        >>> with tempfile.TemporaryDirectory() as dest, dnb.history(dest) as h:
        ...     h.files("actions")
        []
        """
        return [v.path for v in self._visible(table)]

    def _visible(self, table: str, places: _Places | None = None) -> list[_Visible]:
        """The files of ``table`` a view reads, each with the jobs to leave out of it
        (``places``: the jobs files as :meth:`refresh` listed them once for every table)."""
        if table not in TABLES:
            raise bad_argument("table", f"be one of {list(TABLES)}", table)
        found = _visible(self._fs(), self._root, table, places=places)
        return sorted(found, key=lambda v: v.path)

    def _fs(self) -> pafs.FileSystem:
        import pyarrow.fs as pafs

        return self.filesystem if self.filesystem is not None else pafs.LocalFileSystem()

    def refresh(self) -> None:
        """Make the views again, over the files there are now (after a sync, for instance).

        Examples
        --------
        >>> import tempfile, deadline_nb as dnb
        >>> with tempfile.TemporaryDirectory() as dest, dnb.history(dest) as h:
        ...     h.refresh()
        ...     views = h.sql("select view_name from duckdb_views() where not internal")
        ...     " ".join(sorted(views.df()["view_name"]))
        'actions jobs logs resources sessions steps task_run_actions task_runs tasks'
        """
        con = self.con
        con.execute(
            "CREATE OR REPLACE MACRO job_parameter(params, pname) AS coalesce("
            + ", ".join(
                f"json_extract_string(params, '$.\"' || pname || '\".{kind}')"
                for kind in ("string", "path", "int", "float")
            )
            + ")"
        )
        places = _places(self._fs(), self._root)  # one listing of the jobs files
        for table in TABLES:
            con.execute(f"CREATE OR REPLACE VIEW {table} AS {self._select(table, places)}")
        param_columns = [
            c for c in self._columns("actions") if c.startswith(schema.PARAMETER_PREFIX)
        ]
        params = "".join(f", a.{_quote(c)}" for c in param_columns)
        runs = f"""
            SELECT a.farmId, a.queueId, a.month, a.jobId, a.stepId, a.stepName, a.taskId,
                   a.sessionId, a.sessionActionId, a.workerId, a.fleetId, a.status,
                   a.startedAt, a.endedAt, epoch(a.duration) AS seconds,
                   a.processExitCode{params}
            FROM actions a
            WHERE a.actionType = 'taskRun' AND a.startedAt IS NOT NULL
            """
        con.execute(f"CREATE OR REPLACE VIEW task_run_actions AS {runs}")
        con.execute(
            """
            CREATE OR REPLACE VIEW task_runs AS
            SELECT r.farmId, r.queueId, r.month, r.jobId, j.name AS jobName, j."show",
                   j.createdBy, j.createdAt AS jobCreatedAt,
                   r.* EXCLUDE (farmId, queueId, month, jobId)
            FROM task_run_actions r
            JOIN jobs j ON r.farmId = j.farmId AND r.queueId = j.queueId AND r.jobId = j.jobId
            """
        )

    def _columns(self, view: str) -> list[str]:
        return [str(r[0]) for r in self.con.execute(f"DESCRIBE {view}").fetchall()]

    def _select(self, table: str, places: _Places | None = None) -> str:
        """The SELECT of a table's view: the files, typed by the schema, missing columns null.

        Files are grouped by their columns (one group per version of the writer and set of task
        parameters, a handful in practice), each group read as one plain ``read_parquet`` and
        the groups stacked with UNION ALL, every branch giving every column (null where its
        files lack it). DuckDB's ``union_by_name`` would do the same in one call, but it reads
        every file's footer each time a query is planned: seconds on a dataset of thousands of
        jobs. Past :data:`_MAX_GROUPS` groups, it is ``union_by_name`` all the same.
        """
        columns = _COLUMNS[table]
        visible = self._visible(table, places)
        if not visible:
            items = [f"CAST(NULL AS VARCHAR) AS {_quote(p)}" for p in _PARTITIONS]
            items += [
                f"CAST(NULL AS {_duckdb_type(d)}) AS {_quote(n)}"
                for n, d in columns.items()
                if n not in _PARTITIONS
            ]
            items += self._derived(table)
            return f"SELECT {', '.join(items)} WHERE false"
        # A pack holding jobs read from elsewhere (see queue_history._visible) is a group of
        # its own, read less those jobs' rows.
        groups = self._schemas([v.path for v in visible if not v.excluded])
        partly = [v for v in visible if v.excluded]
        excluded = [frozenset[str]()] * len(groups)
        for v in partly:
            groups += self._schemas([v.path])
            excluded.append(v.excluded)
        shapes: list[tuple[str, dict[str, str]]] = []  # (source, column -> DuckDB type)
        for number, (group, present) in enumerate(groups):
            if self.filesystem is not None:
                source = self._register(table, number, group)
                described = self.con.execute(f"DESCRIBE {source}").fetchall()
                present = {str(r[0]): str(r[1]) for r in described if str(r[1]) != '"NULL"'}
            else:
                listed = ", ".join(_literal(str(p)) for p in group)
                types = ", ".join(f"{_literal(p)}: 'VARCHAR'" for p in _PARTITIONS)
                more = ", union_by_name = true" if present.get("*") else ""
                source = (
                    f"read_parquet([{listed}], hive_partitioning = true, "
                    f"hive_types = {{{types}}}{more})"
                )
            shapes.append((source, present))
        # Columns beyond the schema's (param.<Name>, newer fields), typed by the first group
        # that has them; text where the groups disagree.
        extra: dict[str, str] = {}
        for _, present in shapes:
            for name, kind in present.items():
                if name in columns or name in _PARTITIONS or name == "*":
                    continue
                extra[name] = kind if extra.get(name, kind) == kind else "VARCHAR"
        branches: list[str] = []
        for (source, present), left_out in zip(shapes, excluded, strict=True):
            items = [f"CAST({_quote(p)} AS VARCHAR) AS {_quote(p)}" for p in _PARTITIONS]
            for name, dtype in columns.items():
                if name in _PARTITIONS:
                    continue
                kind = _duckdb_type(dtype)
                if name not in present:
                    items.append(f"CAST(NULL AS {kind}) AS {_quote(name)}")
                elif kind == "INTERVAL" and present[name] in ("BIGINT", "INTEGER"):
                    # pandas writes timedeltas as int64 nanoseconds.
                    items.append(f"to_microseconds({_quote(name)} // 1000) AS {_quote(name)}")
                else:
                    items.append(f"CAST({_quote(name)} AS {kind}) AS {_quote(name)}")
            for name, kind in extra.items():
                value = _quote(name) if name in present else "NULL"
                items.append(f"CAST({value} AS {kind}) AS {_quote(name)}")
            items += self._derived(table)
            where = ""
            if left_out:
                listed = ", ".join(_literal(j) for j in sorted(left_out))
                where = f" WHERE jobId NOT IN ({listed})"
            branches.append(f"SELECT {', '.join(items)} FROM {source}{where}")
        return "\nUNION ALL\n".join(branches)

    def _derived(self, table: str) -> list[str]:
        """Columns a view adds to its table's: the jobs' show."""
        if table == "jobs":
            return [f'job_parameter(parameters, {_literal(self.show_parameter)}) AS "show"']
        return []

    def _schemas(self, files: Sequence[str]) -> list[tuple[list[str], dict[str, str]]]:
        """Files grouped by their columns: (files, column -> DuckDB type) per group.

        One read of every footer (DuckDB's ``parquet_schema``, in parallel). A column of
        Parquet's null type (all missing when written) counts as absent.
        """
        if not files:
            return []
        if self.filesystem is not None:
            return self._arrow_schemas(files)
        listed = ", ".join(_literal(str(p)) for p in files)
        rows = self.con.execute(
            f"SELECT file_name, name, duckdb_type FROM parquet_schema([{listed}]) "
            "WHERE num_children IS NULL ORDER BY file_name, column_id"
        ).fetchall()
        by_file: dict[str, dict[str, str]] = {}
        for file_name, name, kind in rows:
            present = by_file.setdefault(str(file_name), {})
            if kind is not None and str(kind).strip('"') != "NULL":
                present[str(name)] = str(kind)
        grouped: dict[tuple[tuple[str, str], ...], list[str]] = {}
        for path in files:
            key = tuple(sorted(by_file.get(str(path), {}).items()))
            grouped.setdefault(key, []).append(path)
        if len(grouped) > _MAX_GROUPS:
            # Too many shapes for one branch each: one union_by_name read of them all.
            union: dict[str, str] = {}
            for key in grouped:
                for name, kind in key:
                    union[name] = kind if union.get(name, kind) == kind else "VARCHAR"
            return [(list(files), {**union, "*": "union"})]
        return [(group, dict(key)) for key, group in grouped.items()]

    def _arrow_schemas(self, files: Sequence[str]) -> list[tuple[list[str], dict[str, str]]]:
        """:meth:`_schemas` through ``filesystem``: pyarrow reads each footer."""
        import pyarrow.parquet as pq

        grouped: dict[tuple[tuple[str, str], ...], list[str]] = {}
        for path in files:
            arrow = pq.read_schema(path, filesystem=self.filesystem)
            key = tuple(sorted((f.name, str(f.type)) for f in arrow if str(f.type) != "null"))
            grouped.setdefault(key, []).append(path)
        return [(group, dict(key)) for key, group in grouped.items()]

    def _register(self, table: str, number: int, files: Sequence[str]) -> str:
        """Register a pyarrow dataset of ``files`` (one shape) with DuckDB; return its name."""
        import pyarrow as pa
        import pyarrow.dataset as pads

        dataset = pads.dataset(
            list(files),
            filesystem=self.filesystem,
            format="parquet",
            partitioning=pads.partitioning(
                pa.schema([(p, pa.string()) for p in _PARTITIONS]), flavor="hive"
            ),
            partition_base_dir=f"{self._root}/{table}",
        )
        name = f"_{table}_{number}"
        self.con.register(name, dataset)
        return name

    # -- plain SQL ---------------------------------------------------------------------------

    def sql(self, query: str, *, params: Sequence[Any] | None = None) -> duckdb.DuckDBPyRelation:
        """Run a query over the views: ``.df()`` on the result gives a pandas DataFrame.

        Parameters
        ----------
        query
            DuckDB SQL; ``?`` marks a parameter.
        params
            The parameters' values.

        Returns
        -------
        duckdb.DuckDBPyRelation

        Examples
        --------
        >>> import tempfile, deadline_nb as dnb
        >>> with tempfile.TemporaryDirectory() as dest, dnb.history(dest) as h:
        ...     list(h.sql('select jobId, "show" from jobs').df().columns)
        ['jobId', 'show']
        """
        return self.con.sql(query, params=params)

    def close(self) -> None:
        """Close the DuckDB connection."""
        self.con.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<History {self.dest}>"

    # -- the questions -----------------------------------------------------------------------

    @staticmethod
    def _filters(
        show: str | None, queue: str | None, step: str | None, user: str | None, jobs: str | None
    ) -> tuple[str, list[Any]]:
        where, params = [], []
        for column, value in (
            ("show", show),
            ("queueId", queue),
            ("stepName", step),
            ("createdBy", user),
        ):
            if value is not None:
                where.append(f"{_quote(column)} = ?")
                params.append(value)
        if jobs is not None:
            where.append("jobName LIKE ?")
            params.append(jobs)
        return "".join(f" AND {w}" for w in where), params

    def trend(
        self,
        *,
        by: str | Sequence[str] = "stepName",
        show: str | None = None,
        queue: str | None = None,
        step: str | None = None,
        user: str | None = None,
        jobs: str | None = None,
    ) -> pd.DataFrame:
        """Frame time per step and week: median and 90th percentile of successful task runs.

        A run counts in the ISO week (Monday 00:00 UTC) it started in.

        Parameters
        ----------
        by
            The grouping besides the week, one or more of :data:`GROUPS`: ``"stepName"`` (the
            default), ``["show", "stepName"]``, ...
        show, queue, step, user
            Only the runs of this show, queue id, step name, submitter (``createdBy``).
        jobs
            Only the runs of jobs whose name matches this SQL ``LIKE`` pattern: one shot's
            versions (``"sq030_sh010_lighting_%"``), which render the same frames every time.

        Returns
        -------
        pandas.DataFrame
            The ``by`` columns, then :data:`deadline_nb.schema.TREND_COLUMNS`: ``week``,
            ``runs``, ``medianSeconds``, ``p90Seconds``, ``meanSeconds``; by week, then group.

        Examples
        --------
        >>> import tempfile, deadline_nb as dnb
        >>> with tempfile.TemporaryDirectory() as dest, dnb.history(dest) as h:
        ...     list(h.trend().columns)
        ['stepName', 'week', 'runs', 'medianSeconds', 'p90Seconds', 'meanSeconds']
        """
        groups = _names(by, "by", GROUPS)
        where, params = self._filters(show, queue, step, user, jobs)
        keys = ", ".join(_quote(g) for g in groups)
        source = self._runs_source(groups, show, user, jobs)
        frame = self.sql(
            f"""
            SELECT * EXCLUDE (q, "sum"), q[1] AS medianSeconds, q[2] AS p90Seconds,
                   "sum" / runs AS meanSeconds
            FROM (
                -- One sort per group for both quantiles.
                SELECT {keys}, date_trunc('week', startedAt) AS week, count(*) AS runs,
                       quantile_cont(seconds, [0.5, 0.9]) AS q, sum(seconds) AS "sum"
                FROM {source}
                WHERE status = 'SUCCEEDED' AND seconds IS NOT NULL{where}
                GROUP BY ALL
            )
            ORDER BY week, {keys}
            """,
            params=params,
        ).df()
        return _typed(frame, groups, schema.TREND_COLUMNS)

    @staticmethod
    def _runs_source(
        groups: Sequence[str], show: str | None, user: str | None, jobs: str | None
    ) -> str:
        """``task_runs``, or ``task_run_actions`` when no job column is asked for (no join)."""
        job_columns = {"show", "createdBy", "jobName"}
        needs_job = bool(job_columns & set(groups)) or (show, user, jobs) != (None, None, None)
        return "task_runs" if needs_job else "task_run_actions"

    def retries(
        self,
        *,
        by: str | Sequence[str] = "show",
        show: str | None = None,
        queue: str | None = None,
        step: str | None = None,
        user: str | None = None,
        jobs: str | None = None,
    ) -> pd.DataFrame:
        """Task runs, retries and failures per show, user, queue (or another grouping).

        A run is a ``taskRun`` action that started; a task's retries are its runs beyond the
        first; a failed run is one whose status is ``FAILED``.

        Parameters
        ----------
        by
            One or more of :data:`GROUPS`: ``"show"`` (the default), ``"createdBy"`` (the
            user), ``"queueId"``, ``["show", "stepName"]``, ...
        show, queue, step, user
            Only the runs of this show, queue id, step name, submitter.
        jobs
            Only the runs of jobs whose name matches this SQL ``LIKE`` pattern.

        Returns
        -------
        pandas.DataFrame
            The ``by`` columns, then :data:`deadline_nb.schema.RETRY_COLUMNS`: ``jobs``,
            ``tasks``, ``runs``, ``retries``, ``failedRuns``, ``failureRate`` (failed runs over
            runs); most failed runs first.

        Examples
        --------
        >>> import tempfile, deadline_nb as dnb
        >>> with tempfile.TemporaryDirectory() as dest, dnb.history(dest) as h:
        ...     len(h.retries(by=["show", "createdBy"]))
        0
        """
        groups = _names(by, "by", GROUPS)
        where, params = self._filters(show, queue, step, user, jobs)
        keys = ", ".join(_quote(g) for g in groups)
        frame = self.sql(
            f"""
            WITH per_task AS (
                SELECT {keys}, farmId AS f, queueId AS q, jobId AS j, taskId AS t,
                       count(*) AS runs, count(*) FILTER (WHERE status = 'FAILED') AS failed
                FROM task_runs WHERE true{where}
                GROUP BY ALL
            )
            SELECT {keys}, count(DISTINCT (f, q, j)) AS jobs, count(*) AS tasks,
                   sum(runs) AS runs, sum(runs - 1) AS retries, sum(failed) AS failedRuns,
                   sum(failed) / sum(runs) AS failureRate
            FROM per_task GROUP BY ALL ORDER BY failedRuns DESC, {keys}
            """,
            params=params,
        ).df()
        return _typed(frame, groups, schema.RETRY_COLUMNS)

    def cost(self, *, rate: float = 1.0, by: str | Sequence[str] = "createdBy") -> pd.DataFrame:
        """Worker-hours per user and month, and an estimated cost: worker-hours times ``rate``.

        An estimate: the dataset has no usage records, so the cost is the worker time of the
        sessions that ended (session start to end, environments included, idle time between
        sessions not) times one rate for every worker. For the service's own figures, see
        :func:`deadline_nb.usage_frame`.

        Parameters
        ----------
        rate
            Cost of one worker-hour (1.0, the default, makes the cost the worker-hours).
        by
            One or more of :data:`COST_GROUPS`: ``"createdBy"`` (the default), ``"show"``,
            ``"queueId"``, ...

        Returns
        -------
        pandas.DataFrame
            The ``by`` columns, then :data:`deadline_nb.schema.COST_COLUMNS`: ``month``
            (``YYYY-MM``, UTC, of the session's start), ``sessions``, ``workerHours``,
            ``estimatedCost``; by month, then costliest first.

        Examples
        --------
        >>> import tempfile, deadline_nb as dnb
        >>> with tempfile.TemporaryDirectory() as dest, dnb.history(dest) as h:
        ...     list(h.cost(rate=0.5).columns)
        ['createdBy', 'month', 'sessions', 'workerHours', 'estimatedCost']
        """
        groups = _names(by, "by", COST_GROUPS)
        if not isinstance(rate, (int, float)) or rate < 0:
            raise bad_argument("rate", "be a number, 0 or more", rate)
        keys = ", ".join(
            f"j.{_quote(g if g != 'jobName' else 'name')} AS {_quote(g)}" for g in groups
        )
        frame = self.sql(
            f"""
            SELECT {keys}, strftime(s.startedAt, '%Y-%m') AS month, count(*) AS sessions,
                   sum(epoch(s.endedAt) - epoch(s.startedAt)) / 3600.0 AS workerHours,
                   sum(epoch(s.endedAt) - epoch(s.startedAt)) / 3600.0 * ? AS estimatedCost
            FROM sessions s
            JOIN jobs j ON s.farmId = j.farmId AND s.queueId = j.queueId AND s.jobId = j.jobId
            WHERE s.startedAt IS NOT NULL AND s.endedAt IS NOT NULL
            GROUP BY ALL ORDER BY month, estimatedCost DESC
            """,
            params=[float(rate)],
        ).df()
        return _typed(frame, groups, schema.COST_COLUMNS)

    def job(self, job: str) -> dict[str, Any]:
        """The ``jobs`` row of a job, by id or by name (a name must name one job).

        Parameters
        ----------
        job
            A job id (``job-...``) or a job's name.

        Returns
        -------
        dict
            Its ``jobs`` view row.

        Raises
        ------
        LookupError
            When no job, or several, have that id or name.

        Examples
        --------
        >>> import tempfile, deadline_nb as dnb
        >>> with tempfile.TemporaryDirectory() as dest, dnb.history(dest) as h:
        ...     h.job("sq030_sh010_lighting_v003")
        Traceback (most recent call last):
        ...
        LookupError: The history ... has no job with the id or name 'sq030_sh010_lighting_v003'.
        """
        rows = self.sql(
            "SELECT * FROM jobs WHERE jobId = ? OR name = ? ORDER BY createdAt", params=[job, job]
        ).df()
        if rows.empty:
            raise LookupError(f"The history {self.dest} has no job with the id or name {job!r}.")
        if len(rows) > 1:
            ids = ", ".join(rows["jobId"].astype(str))
            raise LookupError(
                f"{len(rows)} jobs of the history are named {job!r} ({ids}): pass a job id."
            )
        return dict(rows.iloc[0])

    def parameter_diff(self, a: str, b: str) -> pd.DataFrame:
        """The job parameters whose values differ between jobs ``a`` and ``b``.

        Parameters
        ----------
        a, b
            Job ids or names (see :meth:`job`).

        Returns
        -------
        pandas.DataFrame
            :data:`deadline_nb.schema.PARAMETER_DIFF_COLUMNS`: ``name``, ``valueA``, ``valueB``
            (missing where a job lacks the parameter), by name.

        Examples
        --------
        >>> import tempfile, deadline_nb as dnb
        >>> with tempfile.TemporaryDirectory() as dest, dnb.history(dest) as h:
        ...     h.parameter_diff("job-a", "job-b")
        Traceback (most recent call last):
        ...
        LookupError: The history ... has no job with the id or name 'job-a'.
        """
        values = [_parameter_values(self.job(j).get("parameters")) for j in (a, b)]
        names = sorted(set(values[0]) | set(values[1]))
        rows = [
            (n, values[0].get(n), values[1].get(n))
            for n in names
            if values[0].get(n) != values[1].get(n)
        ]
        frame = pd.DataFrame(rows, columns=list(schema.PARAMETER_DIFF_COLUMNS))
        return frame.astype(dict(schema.PARAMETER_DIFF_COLUMNS))

    def compare_jobs(self, a: str, b: str, *, threshold: float = 1.1) -> pd.DataFrame:
        """Jobs ``a`` and ``b`` frame by frame: each frame's seconds in both, their ratio.

        A frame is a step name and a set of task parameters (``Frame=1001``); its time in a job
        is that of its latest successful run. Meant for two versions of one shot, which render
        the same frames; a frame only one job has gets a missing time on the other side.

        Parameters
        ----------
        a, b
            Job ids or names (see :meth:`job`): ``a`` the reference, ``b`` the one compared.
        threshold
            A frame is ``slower`` when ``b``'s time is at least ``threshold`` times ``a``'s.

        Returns
        -------
        pandas.DataFrame
            :data:`deadline_nb.schema.COMPARE_COLUMNS` (``stepName``, ``secondsA``,
            ``secondsB``, ``ratio`` = secondsB / secondsA, ``slower``), the task parameter
            columns (``param.<Name>``) after ``stepName``; by step (in the order they ran) and
            parameters. ``attrs`` holds ``jobA``, ``jobB`` (ids), ``nameA``, ``nameB`` and
            ``threshold`` for :func:`deadline_nb.plot_compare`. What changed in the jobs'
            parameters: :meth:`parameter_diff`.

        Examples
        --------
        >>> import tempfile, deadline_nb as dnb
        >>> with tempfile.TemporaryDirectory() as dest, dnb.history(dest) as h:
        ...     h.compare_jobs("job-a", "job-b", threshold=0)
        Traceback (most recent call last):
        ...
        ValueError: The value for `threshold` must be a positive number, but 0 was passed.
        """
        if not isinstance(threshold, (int, float)) or threshold <= 0:
            raise bad_argument("threshold", "be a positive number", threshold)
        jobs = [self.job(a), self.job(b)]
        ids = [str(j["jobId"]) for j in jobs]
        runs = self.sql(
            "SELECT * FROM task_runs WHERE jobId IN (?, ?) AND status = 'SUCCEEDED' "
            "AND seconds IS NOT NULL",
            params=ids,
        ).df()
        params = [
            c
            for c in runs.columns
            if c.startswith(schema.PARAMETER_PREFIX) and runs[c].notna().any()
        ]
        keys = ["stepName", *params]
        order = (
            runs.groupby("stepName", dropna=False)["startedAt"].min().sort_values().index.tolist()
        )
        latest = runs.sort_values("endedAt").drop_duplicates(["jobId", "taskId"], keep="last")
        sides = []
        for job_id, side in zip(ids, ("secondsA", "secondsB"), strict=True):
            part = latest.loc[latest["jobId"] == job_id, [*keys, "seconds"]]
            sides.append(part.rename(columns={"seconds": side}).astype({k: "string" for k in keys}))
        both = sides[0].merge(sides[1], on=keys, how="outer")
        both["ratio"] = both["secondsB"] / both["secondsA"]
        both["slower"] = (both["ratio"] >= threshold).astype("boolean")
        both.loc[both["ratio"].isna(), "slower"] = pd.NA
        both["_step"] = both["stepName"].map({s: i for i, s in enumerate(order)})
        numeric = [pd.to_numeric(both[p], errors="coerce") for p in params]
        both = both.assign(**{f"_{i}": n for i, n in enumerate(numeric)})
        both = both.sort_values(["_step", *[f"_{i}" for i in range(len(params))], *params])
        both = both.drop(columns=["_step", *[f"_{i}" for i in range(len(params))]])
        frame = _typed(both.reset_index(drop=True), [], schema.COMPARE_COLUMNS)
        frame = frame[
            ["stepName", *params, *[c for c in schema.COMPARE_COLUMNS if c != "stepName"]]
        ]
        frame.attrs.update(
            jobA=ids[0],
            jobB=ids[1],
            nameA=str(jobs[0].get("name")),
            nameB=str(jobs[1].get("name")),
            threshold=float(threshold),
        )
        return frame


def _parameter_values(text: object) -> dict[str, str]:
    """A job's parameters (the ``jobs`` table's JSON) -> name -> value as text."""
    if not isinstance(text, str) or not text:
        return {}
    try:
        given = json.loads(text)
    except ValueError:
        return {}
    values: dict[str, str] = {}
    for name, value in given.items() if isinstance(given, dict) else ():
        if isinstance(value, dict) and len(value) == 1:
            values[str(name)] = str(next(iter(value.values())))
        else:
            values[str(name)] = json.dumps(value, sort_keys=True)
    return values


def history(
    dest: str | os.PathLike[str],
    *,
    show_parameter: str = "Show",
    database: str = ":memory:",
    filesystem: pafs.FileSystem | None = None,
    boto3_session: boto3.Session | None = None,
) -> History:
    """Open a history dataset for questions: a DuckDB connection with views over its tables.

    DuckDB is embedded: nothing to start. The dataset is the folder
    :func:`deadline_nb.sync_history` writes; see :class:`History` for the views and the
    questions (:meth:`~History.trend`, :meth:`~History.retries`, :meth:`~History.cost`,
    :meth:`~History.compare_jobs`, :meth:`~History.parameter_diff`, :meth:`~History.sql`).

    Parameters
    ----------
    dest
        The dataset's folder, or ``s3://bucket/prefix``.
    show_parameter
        The job parameter that names the show (the API has no show of its own).
    database
        DuckDB's database, ``":memory:"`` by default.
    filesystem
        A pyarrow filesystem that holds ``dest`` (``pyarrow.fs.S3FileSystem`` for an
        ``s3://bucket/prefix`` dataset): its files are read through pyarrow datasets registered
        with DuckDB, since DuckDB's own S3 reader (the httpfs extension) is downloaded on first
        use rather than bundled. None: the folder, or for ``s3://`` the S3 filesystem that
        :func:`deadline_nb.sync_history` writes with (the credentials and region of
        ``boto3_session``, the endpoint of ``AWS_ENDPOINT_URL_S3``/``AWS_ENDPOINT_URL``).
    boto3_session
        For an ``s3://`` dest without ``filesystem``: whose credentials and region to use
        (default: ``boto3.Session()``).

    Returns
    -------
    History
        Close it (or use it in a ``with`` block) when done.

    Raises
    ------
    MissingDependencyError
        When DuckDB is not installed: ``pip install 'deadline-nb[history]'``.

    Examples
    --------
    >>> import tempfile, deadline_nb as dnb
    >>> with tempfile.TemporaryDirectory() as dest, dnb.history(dest) as h:
    ...     h.trend().empty, h.retries().empty
    (True, True)
    """
    return History(
        dest,
        show_parameter=show_parameter,
        database=database,
        filesystem=filesystem,
        boto3_session=boto3_session,
    )
