"""A queue's history as a Parquet dataset: :func:`sync_history` writes it, :func:`read_history`
reads it back.

Layout, one file per job per table, so that rewriting a job is one atomic, local step::

    DEST/<table>/farmId=<farm>/queueId=<queue>/month=<YYYY-MM>/<jobId>.parquet

with ``<table>`` among :data:`TABLES` and ``month`` the job's submission month (UTC). DEST is a
folder or ``s3://bucket/prefix``; every file access goes through ``pyarrow.fs``
(:func:`dataset_filesystem`). The partition columns live in the path only (the Hive
convention), so that Hive-aware readers (pyarrow datasets, DuckDB, Athena) do not see them
twice. A local file is written under a hidden temporary name in its folder and then renamed
over the old one; an S3 object is written straight to its key, since S3 makes it visible whole
or not at all. Either way a killed sync leaves the old file or the new one, never half of one,
and readers skip names that start with ``.``. The ``jobs`` file is written last: its row
(``syncToken``, ``finished``, ``deleted``) is what the next sync compares with, so a job whose
other tables were not all written is written again.

:func:`deadline_nb.compact_history` later moves the finished jobs of a partition into one
``pack-*.parquet`` per table in the same folder; readers (:func:`read_history`, the sync's own
look at what it holds, :func:`deadline_nb.history`) read each job from one place
(:func:`_visible`), so that compaction changes the number of files and nothing else.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import io
import json
import logging
import os
import re
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, NamedTuple

import pandas as pd

from . import schema
from .aws import DEFAULT_WORKERS
from .errors import (
    AccessDeniedError,
    CredentialsError,
    DeadlineNbError,
    DestinationError,
    NotFoundError,
    bad_argument,
)
from .fetch.common import CacheArg, CacheHandle, is_finished, job_token, resolve_client
from .fetch.job import load_job
from .fetch.resources import fetch_job, job_filter, list_jobs, list_queues

if TYPE_CHECKING:
    import boto3
    import pyarrow as pa
    import pyarrow.fs as pafs
    from mypy_boto3_deadline import DeadlineCloudClient

__all__ = [
    "BASE_TABLES",
    "OPTIONAL_TABLES",
    "PARQUET_OPTIONS",
    "TABLES",
    "TABLE_COLUMNS",
    "HistorySyncError",
    "SyncResult",
    "read_history",
    "sync_history",
]

#: The tables every sync writes.
BASE_TABLES: Final[tuple[str, ...]] = ("jobs", "steps", "tasks", "sessions", "actions")
#: The tables written on request, by the :func:`sync_history` option that asks for them:
#: ``logs`` (a summary per session action, :func:`~deadline_nb.frames.logsummary.log_summary_frame`)
#: and ``resources`` (:data:`deadline_nb.schema.RESOURCE_TABLE_COLUMNS` per session action).
OPTIONAL_TABLES: Final[Mapping[str, str]] = MappingProxyType(
    {"logs": "logs", "resources": "metrics"}
)
#: The dataset's tables, each a folder of DEST.
TABLES: Final[tuple[str, ...]] = (*BASE_TABLES, *OPTIONAL_TABLES)
#: How the dataset's files are written (pyarrow.parquet.write_table's options). Microsecond
#: timestamps: Spark cannot read Parquet's nanosecond ones, and the service's times are whole
#: milliseconds, so nothing is lost. zstd. No Arrow schema and no pandas metadata in the
#: footer: they weighed three quarters of a small job's files (the pandas metadata twice, once
#: inside the Arrow schema); read_history gives the schema's dtypes back, and Parquet's own
#: types say the rest (other engines read only those).
PARQUET_OPTIONS: Final[Mapping[str, Any]] = MappingProxyType(
    {
        "coerce_timestamps": "us",
        "allow_truncated_timestamps": True,
        "compression": "zstd",
        "store_schema": False,
    }
)
#: How a pack's file name starts (many finished jobs of a partition in one file).
PACK_PREFIX: Final = "pack-"
#: The Hive partition keys, in the order of the folders.
PARTITIONS: Final[tuple[str, ...]] = ("farmId", "queueId", "month")
logger = logging.getLogger("deadline_nb")
_JOBS_AT_ONCE: Final = 4  # jobs fetched and written at once
_SINCE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS: Final = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
# The manifest columns read from each stored jobs file to decide what to fetch.
_MANIFEST: Final = ["jobId", "createdAt", "syncToken", "finished", "deleted", "tables"]


class HistorySyncError(DeadlineNbError):
    """Some jobs could not be synced; the others were written.

    Attributes
    ----------
    result
        The :class:`SyncResult` of the sync, ``failed`` naming each failed job's error.
    """

    def __init__(self, message: str, result: SyncResult) -> None:
        super().__init__(message)
        self.result = result


@dataclasses.dataclass
class SyncResult:
    """What one :func:`sync_history` did, job ids by outcome.

    Attributes
    ----------
    dest
        The dataset's folder (a path), or its ``s3://bucket/prefix``.
    written
        Jobs written (new, or changed since the last sync).
    unchanged
        Jobs already in the dataset as they are now: nothing written.
    deleted
        Jobs the service no longer has, marked ``deleted`` in the ``jobs`` table now (their
        rows are kept).
    failed
        Job id -> the one-sentence error that stopped it.
    """

    dest: Path | str
    written: list[str] = dataclasses.field(default_factory=list)
    unchanged: list[str] = dataclasses.field(default_factory=list)
    deleted: list[str] = dataclasses.field(default_factory=list)
    failed: dict[str, str] = dataclasses.field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"<SyncResult {self.dest}: {len(self.written)} written, {len(self.unchanged)} "
            f"unchanged, {len(self.deleted)} deleted, {len(self.failed)} failed>"
        )


def parse_since(
    since: str | datetime.timedelta | datetime.datetime | None,
) -> datetime.datetime | None:
    """The instant ``since`` names: ``"30d"``, ``"12h"``, ``"2w"``, a timedelta, or a datetime.

    Parameters
    ----------
    since
        A count and a unit among s, m, h, d, w; a timedelta back from now; a timezone-aware
        datetime; or None (no limit).

    Returns
    -------
    datetime.datetime or None
        In UTC.

    Examples
    --------
    >>> import datetime
    >>> from deadline_nb.queue_history import parse_since
    >>> now = datetime.datetime.now(datetime.timezone.utc)
    >>> abs((now - parse_since("30d")) - datetime.timedelta(days=30)) < datetime.timedelta(1)
    True
    """
    if since is None:
        return None
    now = datetime.datetime.now(datetime.timezone.utc)
    if isinstance(since, datetime.datetime):
        if since.tzinfo is None:
            raise bad_argument("since", "be a timezone-aware datetime", since)
        return since.astimezone(datetime.timezone.utc)
    if isinstance(since, datetime.timedelta):
        return now - since
    match = _SINCE.match(since) if isinstance(since, str) else None
    if match is None:
        raise bad_argument(
            "since", "be like '30d', '12h' or '2w', a timedelta or a datetime", since
        )
    return now - datetime.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def job_row_frame(
    job: Mapping[str, Any],
    *,
    synced_at: datetime.datetime,
    deleted: bool = False,
    tables: Sequence[str] = BASE_TABLES,
) -> pd.DataFrame:
    """One job's row of the ``jobs`` table: the GetJob response flattened, and the sync's fields.

    Parameters
    ----------
    job
        A GetJob response with ``farmId`` and ``queueId`` (:func:`deadline_nb.fetch_job`).
    synced_at
        When it was read.
    deleted
        Whether the service no longer has the job.
    tables
        The tables written for the job (the ``tables`` column, comma-separated).

    Returns
    -------
    pandas.DataFrame
        One row, the columns of :data:`deadline_nb.schema.JOB_COLUMNS`.

    Examples
    --------
    >>> import datetime
    >>> from deadline_nb.queue_history import job_row_frame
    >>> row = job_row_frame({"farmId": "farm-1", "queueId": "queue-1", "jobId": "job-1",
    ...                      "taskRunStatus": "SUCCEEDED", "taskRunStatusCounts": {"SUCCEEDED": 3},
    ...                      "createdAt": "2026-11-01T10:00:00Z"},
    ...                     synced_at=datetime.datetime.now(datetime.timezone.utc))
    >>> int(row["tasks.SUCCEEDED"].iloc[0]), bool(row["finished"].iloc[0])
    (3, True)
    """
    counts = job.get("taskRunStatusCounts")
    values: dict[str, Any] = {}
    for name, dtype in schema.JOB_COLUMNS.items():
        if name.startswith("tasks."):
            status = name[len("tasks.") :]
            value: Any = counts.get(status, 0) if isinstance(counts, Mapping) else None
        elif name == "parameters":
            given = job.get("parameters")
            value = json.dumps(given, sort_keys=True, default=str) if given else None
        elif name == "syncedAt":
            value = synced_at
        elif name == "syncToken":
            value = job_token(job)
        elif name == "finished":
            value = is_finished(job)
        elif name == "deleted":
            value = deleted
        elif name == "tables":
            value = ",".join(t for t in TABLES if t in tables)
        elif name == "duration":
            value = None
        else:
            value = job.get(name)
        series = pd.Series([value])
        if dtype == schema.TIME:
            series = pd.to_datetime(series, utc=True)
        values[name] = series.astype(dtype)
    frame = pd.DataFrame(values)
    end = frame["endedAt"].fillna(frame["syncedAt"])
    frame["duration"] = (end - frame["startedAt"]).astype(schema.DURATION)
    return frame


def _month(created: Any) -> str:
    stamp = pd.Timestamp(created)
    if pd.isna(stamp):
        return "unknown"
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return f"{stamp.year:04d}-{stamp.month:02d}"


def dataset_filesystem(
    dest: str | os.PathLike[str],
    boto3_session: boto3.Session | None = None,
    *,
    endpoint_url: str | None = None,
) -> tuple[pafs.FileSystem, str]:
    """The pyarrow filesystem of a dataset's destination, and the dataset's root in it.

    A folder gives the local filesystem and the folder's absolute path. ``s3://bucket/prefix``
    gives an S3 filesystem signed with the credentials of ``boto3_session`` (boto3's credential
    chain: environment, profile, SSO, instance role...) and its region, and ``bucket/prefix``.
    An S3-compatible server is reached through ``endpoint_url``, else the standard
    ``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL`` environment variable (in that order, as
    botocore reads them; ``AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`` turns them off).

    Parameters
    ----------
    dest
        A folder, or ``s3://bucket`` with an optional prefix.
    boto3_session
        Whose credentials and region sign the S3 requests; default ``boto3.Session()``.
    endpoint_url
        Another S3 endpoint, such as ``http://127.0.0.1:9000``.

    Returns
    -------
    tuple of (pyarrow.fs.FileSystem, str)
        The filesystem, and the root path in it (no trailing slash).

    Raises
    ------
    ValueError
        When ``dest`` is an ``s3://`` URL without a bucket.
    deadline_nb.errors.CredentialsError
        When an S3 destination is given and boto3 finds no credentials.

    Examples
    --------
    >>> import tempfile
    >>> from deadline_nb.queue_history import dataset_filesystem
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     fs, root = dataset_filesystem(folder)
    ...     fs.type_name, root.endswith(os.path.basename(folder))
    ('local', True)
    """
    import pyarrow.fs as pafs

    text = os.fspath(dest)
    if not text.lower().startswith("s3://"):
        return pafs.LocalFileSystem(), Path(text).expanduser().absolute().as_posix()
    bucket, _, prefix = text[len("s3://") :].partition("/")
    if not bucket:
        raise bad_argument("dest", "name a bucket, as in 's3://bucket/prefix'", text)
    root = "/".join([bucket, *(p for p in prefix.split("/") if p)])
    return _s3_filesystem(bucket, boto3_session, endpoint_url), root


def _s3_endpoint(endpoint_url: str | None) -> str | None:
    if endpoint_url:
        return endpoint_url
    if os.environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true":
        return None
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None


def _s3_filesystem(
    bucket: str, boto3_session: boto3.Session | None, endpoint_url: str | None
) -> pafs.S3FileSystem:
    from urllib.parse import urlsplit

    import boto3
    import pyarrow.fs as pafs

    session = boto3_session if boto3_session is not None else boto3.Session()
    credentials = session.get_credentials()
    if credentials is None:
        raise CredentialsError(
            f"No AWS credentials were found to write to the S3 bucket {bucket!r}: sign in "
            "(`aws sso login`, a profile, or the AWS_ACCESS_KEY_ID environment variables)."
        )
    frozen = credentials.get_frozen_credentials()
    options: dict[str, Any] = {
        "access_key": frozen.access_key,
        "secret_key": frozen.secret_key,
        "session_token": frozen.token,
        # Fail in seconds on an unreachable endpoint rather than after the SDK's minutes.
        "connect_timeout": 10.0,
        "request_timeout": 60.0,
    }
    endpoint = _s3_endpoint(endpoint_url)
    region = session.region_name
    if endpoint:
        parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        options["scheme"] = parts.scheme or "https"
        options["endpoint_override"] = parts.netloc + parts.path.rstrip("/")
    elif region is None:
        try:  # the bucket's own region, asked of S3 (HeadBucket needs no region)
            region = pafs.resolve_s3_region(bucket)
        except OSError:
            logger.debug("the region of bucket %s is unknown", bucket, exc_info=True)
    options["region"] = region or "us-east-1"
    return pafs.S3FileSystem(**options)


def _is_local(fs: pafs.FileSystem) -> bool:
    return fs.type_name == "local"


def _folder(root: str, table: str, farm_id: str, queue_id: str, month: str) -> str:
    return f"{root}/{table}/farmId={farm_id}/queueId={queue_id}/month={month}"


def _check_writable(fs: pafs.FileSystem, root: str, dest: str | os.PathLike[str]) -> None:
    """Write and delete a hidden marker at the root, or raise :class:`DestinationError`.

    Before anything is fetched, so that a destination that cannot be written costs no calls.
    """
    marker = f"{root}/.deadline-nb-write-check-{uuid.uuid4().hex}"
    try:
        if _is_local(fs):
            fs.create_dir(root, recursive=True)
        with fs.open_output_stream(marker) as out:
            out.write(b"")
    except OSError as error:
        reason = _unwritable_reason(error)
        shown = os.fspath(dest)
        raise DestinationError(
            f"The history destination {shown!r} cannot be written ({reason}): "
            "nothing was fetched; check the destination and its permissions.",
            dest=shown,
            reason=reason,
        ) from error
    try:
        fs.delete_file(marker)
    except OSError:  # written but not deletable: the destination is writable all the same
        logger.debug("could not delete %s", marker, exc_info=True)


def _unwritable_reason(error: OSError) -> str:
    """A few words for why a write failed, from a local OSError or pyarrow's S3 error text."""
    text = str(error)
    if "NO_SUCH_BUCKET" in text or "NoSuchBucket" in text:
        return "the bucket does not exist"
    if isinstance(error, PermissionError) or "ACCESS_DENIED" in text or "AccessDenied" in text:
        return "access denied"
    if "NETWORK_CONNECTION" in text or "curlCode" in text or "connect" in text.lower():
        return "the endpoint cannot be reached"
    if isinstance(error, (FileExistsError, NotADirectoryError)):
        return "it is a file, not a folder"
    return f"{type(error).__name__}: {text.splitlines()[0] if text else 'no message'}"


def _write_atomic(fs: pafs.FileSystem, frame: pd.DataFrame, path: str) -> None:
    """Write ``frame`` (less the partition columns) to ``path``, whole or not at all.

    On S3 one PUT is atomic (the object appears whole or not at all; a multipart upload only on
    its completion), so the final key is written directly. A local file is written under a
    hidden temporary name, then renamed over the old one.
    """
    body = frame.drop(columns=[c for c in PARTITIONS if c in frame.columns])
    buffer = io.BytesIO()
    stored = _storable_schema(body)
    body.to_parquet(
        buffer, index=False, schema=stored, **PARQUET_OPTIONS, write_statistics=_statistics(stored)
    )
    _publish(fs, buffer.getvalue(), path)


def _publish(fs: pafs.FileSystem, data: bytes, path: str) -> None:
    """Make ``data`` the file at ``path`` in one step (see :func:`_write_atomic`)."""
    # One write of the whole body: a stream closed after a failed write would otherwise
    # publish what it had.
    if not _is_local(fs):
        with fs.open_output_stream(path) as out:
            out.write(data)
        return
    parent, _, name = path.rpartition("/")
    fs.create_dir(parent, recursive=True)
    # Hidden (readers skip dot-files), unique per writer: two syncs at once never share it.
    temporary = f"{parent}/.{name}.{os.getpid()}-{uuid.uuid4().hex}.tmp"
    try:
        with fs.open_output_stream(temporary) as out:
            out.write(data)
        _replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def _statistics(stored: pa.Schema) -> list[str]:
    """The columns a file keeps min/max statistics of: those a query skips files by (ids,
    times). A job's files are small, so their footers weigh as much as their rows."""
    import pyarrow as pa

    return [f.name for f in stored if f.name.endswith("Id") or pa.types.is_timestamp(f.type)]


def _storable_schema(body: pd.DataFrame) -> Any:
    """The Arrow schema ``body`` is written with: an all-missing column (a category that no row
    has, which Arrow types as null) stored as text, the type every engine declares it with."""
    import pyarrow as pa

    def null(kind: Any) -> bool:
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        return bool(pa.types.is_null(kind))

    inferred = pa.Schema.from_pandas(body, preserve_index=False)
    return pa.schema(
        [f.with_type(pa.string()) if null(f.type) else f for f in inferred],
        metadata=inferred.metadata,
    )


def _replace(source: str, target: str) -> None:
    # A seam for the tests: a sync killed between writing and renaming.
    os.replace(source, target)


def _write_job(
    fs: pafs.FileSystem,
    root: str,
    tables: Mapping[str, pd.DataFrame],
    ids: tuple[str, str, str],
    month: str,
) -> None:
    """Write one job's tables, the ``jobs`` row last (it says the job is complete)."""
    farm_id, queue_id, job_id = ids
    for table in TABLES:
        if table == "jobs" or table not in tables:
            continue
        path = f"{_folder(root, table, farm_id, queue_id, month)}/{job_id}.parquet"
        _write_atomic(fs, tables[table], path)
    if "jobs" in tables:
        path = f"{_folder(root, 'jobs', farm_id, queue_id, month)}/{job_id}.parquet"
        _write_atomic(fs, tables["jobs"], path)


class _Stored(NamedTuple):
    """One visible file of the dataset, and its partitions from the path."""

    path: str
    farm: str
    queue: str
    month: str
    job: str


def _files(
    fs: pafs.FileSystem,
    root: str,
    table: str,
    farm_id: str | None = None,
    queue_id: str | None = None,
) -> list[_Stored]:
    """The files of one table, ``table/farmId=/queueId=/month=/<jobId>.parquet``, sorted."""
    import pyarrow.fs as pafs

    base = f"{root}/{table}"
    if farm_id:  # list only the farm's (and the queue's) folder: fewer LIST calls on S3
        base += f"/farmId={farm_id}" + (f"/queueId={queue_id}" if queue_id else "")
    selector = pafs.FileSelector(base, recursive=True, allow_not_found=True)
    found = []
    for info in fs.get_file_info(selector):
        if info.type != pafs.FileType.File:
            continue
        parts = info.path[len(root) + 1 :].split("/")
        if len(parts) != 5 or parts[0] != table:
            continue
        _, farm, queue, month, name = parts
        if name.startswith(".") or not name.endswith(".parquet"):
            continue  # a temporary file, or something else
        keys = [p.partition("=") for p in (farm, queue, month)]
        if [k for k, _, _ in keys] != ["farmId", "queueId", "month"]:
            continue
        stored = _Stored(info.path, keys[0][2], keys[1][2], keys[2][2], name[: -len(".parquet")])
        if (farm_id and stored.farm != farm_id) or (queue_id and stored.queue != queue_id):
            continue
        found.append(stored)
    return sorted(found)


def is_pack(name: str) -> bool:
    """Whether a file's name (without ``.parquet``) is a pack's (:mod:`history_compact`)."""
    return name.startswith(PACK_PREFIX)


class _Visible(NamedTuple):
    """A file readers read, and the jobs whose rows in it they leave out (a pack's only)."""

    path: str
    farm: str
    queue: str
    month: str
    name: str  # a job id, or a pack's name
    excluded: frozenset[str]


def _pack_members(fs: pafs.FileSystem, path: str) -> list[str]:
    import pyarrow.parquet as pq

    column = pq.read_table(path, columns=["jobId"], filesystem=fs).column("jobId")
    return [str(j) for j in column.to_pylist()]


class _Places(NamedTuple):
    """Where each job of a listing is read from (see :func:`_visible`)."""

    jobs: list[_Stored]  # the jobs files: jobs' own, and packs'
    own: set[tuple[str, str, str, str]]  # (farm, queue, month, job) with its own jobs file
    members: dict[tuple[str, str, str, str], list[str]]  # a pack -> the jobs it holds
    newest: dict[tuple[str, str, str, str], str]  # a job read from a pack -> that pack


def _places(
    fs: pafs.FileSystem, root: str, farm_id: str | None = None, queue_id: str | None = None
) -> _Places:
    """One listing of the jobs files, and which pack each packed job is read from."""
    jobs = _files(fs, root, "jobs", farm_id, queue_id)
    own = {(s.farm, s.queue, s.month, s.job) for s in jobs if not is_pack(s.job)}
    packs = sorted((s for s in jobs if is_pack(s.job)), key=lambda s: s.job)
    members = {(s.farm, s.queue, s.month, s.job): _pack_members(fs, s.path) for s in packs}
    newest: dict[tuple[str, str, str, str], str] = {}
    for (farm, queue, month, pack), held in members.items():  # oldest first: newer win
        for job in held:
            if (farm, queue, month, job) not in own:
                newest[(farm, queue, month, job)] = pack
    return _Places(jobs, own, members, newest)


def _visible(
    fs: pafs.FileSystem,
    root: str,
    table: str,
    farm_id: str | None = None,
    queue_id: str | None = None,
    places: _Places | None = None,
    listed: Sequence[_Stored] | None = None,
) -> list[_Visible]:
    """The files of a table readers read, each with the jobs to leave out of it.

    A job's rows are in its own files (``<jobId>.parquet``, its jobs file written last) or in
    a pack (``pack-*.parquet``, written by :func:`deadline_nb.compact_history`, its jobs file
    written last); both for a moment while a compaction or a sync moves it. One place wins:
    the job's own files when its jobs file exists (a sync rewrote it after it was packed),
    else the newest pack holding it. A file of any other table counts only once the jobs file
    of its job (or pack) exists: until then it is half of a write. ``places`` (of the same farm
    and queue) and ``listed`` (the table's files): what the caller listed already.
    """
    if places is None:
        places = _places(fs, root, farm_id, queue_id)
    if listed is None:
        listed = places.jobs if table == "jobs" else _files(fs, root, table, farm_id, queue_id)
    found = []
    for s in listed:
        key = (s.farm, s.queue, s.month, s.job)
        if not is_pack(s.job):
            if key in places.own:
                found.append(_Visible(*s, frozenset()))
            continue
        if key not in places.members:
            continue  # a pack whose jobs file is not written (yet, or any more)
        held = places.members[key]
        excluded = frozenset(j for j in held if places.newest.get((*key[:3], j)) != s.job)
        if len(excluded) < len(held):
            found.append(_Visible(*s, excluded))
    return found


def _without(read: pa.Table, excluded: frozenset[str]) -> pa.Table:
    """A pack's rows less those of the ``excluded`` jobs."""
    if not excluded:
        return read
    import pyarrow as pa
    import pyarrow.compute as pc

    keep = pc.invert(pc.is_in(read.column("jobId"), value_set=pa.array(sorted(excluded))))
    return read.filter(keep)


def _read_table(fs: pafs.FileSystem, path: str) -> pa.Table:
    import pyarrow.parquet as pq

    return pq.read_table(path, filesystem=fs)


def _manifest(
    fs: pafs.FileSystem,
    root: str,
    farm_id: str,
    queue_id: str,
    places: _Places | None = None,
) -> dict[str, dict[str, Any]]:
    """The stored jobs rows of a queue, by job id: what the last sync saw, and where."""
    found: dict[str, dict[str, Any]] = {}
    for stored in _visible(fs, root, "jobs", farm_id, queue_id, places):
        table = _without(_read_table(fs, stored.path), stored.excluded)
        columns = [c for c in _MANIFEST if c in table.column_names]
        for row in table.select(columns).to_pylist():
            row["month"] = stored.month
            row["pack"] = stored.name if is_pack(stored.name) else None
            found[str(row["jobId"])] = row
    return found


def sync_history(
    dest: str | os.PathLike[str],
    farm_id: str | None = None,
    queue_id: str | Sequence[str] | None = None,
    *,
    since: str | datetime.timedelta | datetime.datetime | None = None,
    logs: bool = False,
    metrics: bool = False,
    cache: CacheArg = True,
    progress: bool = True,
    max_workers: int = DEFAULT_WORKERS,
    client: DeadlineCloudClient | None = None,
    boto3_session: boto3.Session | None = None,
) -> SyncResult:
    """Bring a Parquet dataset of a farm's jobs up to date: new and changed jobs only.

    Once a job has a ``logs`` or ``resources`` table, every later write of the job keeps it
    up to date, asked for or not (the ``jobs`` row's ``tables`` says which it has).

    The jobs are listed once (SearchJobs, or ListJobs where it is not available): those
    submitted since ``since``. A job the dataset holds as finished, whose listing shows the
    same status, counts and ``updatedAt``, costs nothing more. A job that was not finished at
    the last sync costs one ``GetJob``, and is fetched again only when that shows it moved
    (status, counts, ``updatedAt``): SearchJobs is eventually consistent, so its summary of a
    running job is not trusted. A job held but no longer listed is asked for with ``GetJob``;
    one the service no longer has is kept, marked ``deleted``. The others are fetched with
    :func:`deadline_nb.load_job` (through the cache), a few at once, and written, one file per
    table, each replaced in one rename. A change that SearchJobs has not indexed yet (it lags
    by up to :data:`deadline_nb.fetch.resources.SEARCH_LAG_SECONDS`) is written by the next
    sync. Two syncs of one queue at once write the same files; each file is whole, the last
    rename wins.

    Parameters
    ----------
    dest
        The dataset's folder (made when missing), or ``s3://bucket/prefix`` (see
        :func:`dataset_filesystem`).
    farm_id
        The farm. Default: ``defaults.farm_id`` from the ``deadline`` config.
    queue_id
        A queue or several; None (default) for every queue of the farm.
    since
        Only jobs submitted since then: ``"30d"``, ``"12h"``, a timedelta or a datetime; None
        for all.
    logs
        Also write the ``logs`` table: per session action, a summary of its log lines
        (:func:`~deadline_nb.frames.logsummary.log_summary_frame`), from the session logs in
        CloudWatch Logs (``job.logs``). A job already held without it is written again.
    metrics
        Also write the ``resources`` table: per session action, the memory and CPU its worker
        logged (``job.resources``, the columns of
        :data:`deadline_nb.schema.RESOURCE_TABLE_COLUMNS`). A job already held without it is
        written again.
    cache, progress, max_workers, client, boto3_session
        As in :func:`deadline_nb.load_job`; ``boto3_session`` also signs the S3 requests of an
        ``s3://`` destination (default ``boto3.Session()``).

    Returns
    -------
    SyncResult
        The job ids written, unchanged, newly marked deleted.

    Raises
    ------
    deadline_nb.errors.DestinationError
        Before any call to Deadline, when the destination cannot be written (a write check of a
        hidden marker): no such bucket, access denied, endpoint unreachable, not a folder.
    HistorySyncError
        After the sync, when some jobs failed: one sentence naming them; the others are
        written, and ``error.result`` is the :class:`SyncResult`.

    Examples
    --------
    >>> import tempfile, deadline_nb as dnb
    >>> from deadline_nb.localfarm import LocalFarm
    >>> with LocalFarm() as farm, tempfile.TemporaryDirectory() as dest:
    ...     first = dnb.sync_history(dest, farm.farm_id, client=farm.client(), cache=False,
    ...                              progress=False)
    ...     jobs = dnb.read_history(dest, "jobs")
    >>> len(first.written) == len(jobs), bool(jobs["deleted"].any())
    (True, False)
    """
    from tqdm.auto import tqdm

    cutoff = parse_since(since)
    fs, root = dataset_filesystem(dest, boto3_session)
    # Before any Deadline call: a destination that cannot be written costs nothing.
    _check_writable(fs, root, dest)
    c = resolve_client(client, boto3_session)
    farm = farm_id
    if farm is None:
        from .fetch.common import resolve_ids

        farm = resolve_ids(None, None, needs=1).farm_id
    if queue_id is None:
        queues = [str(q["queueId"]) for q in list_queues(farm, client=c)]
    elif isinstance(queue_id, str):
        queues = [queue_id]
    else:
        queues = [str(q) for q in queue_id]
    shown = os.fspath(dest)
    result = SyncResult(shown if shown.lower().startswith("s3://") else Path(shown))
    wanted = (*BASE_TABLES, *(["logs"] if logs else []), *(["resources"] if metrics else []))
    filters = job_filter(created_after=cutoff) if cutoff is not None else None
    plans: list[tuple[str, str, str, dict[str, Any] | None]] = []  # queue, job, action, manifest
    for queue in queues:
        held = _manifest(fs, root, farm, queue)
        listed = _list_queue(c, farm, queue, cutoff, filters, progress, max_workers)
        seen = set()
        for summary in listed:
            job_id = str(summary["jobId"])
            seen.add(job_id)
            row = held.get(job_id)
            if row is None or row.get("deleted") or _lacks(row, wanted):
                plans.append((queue, job_id, "load", row))
            elif not row.get("finished"):
                plans.append((queue, job_id, "check", row))
            elif row.get("syncToken") == job_token(summary):
                result.unchanged.append(job_id)
            else:
                plans.append((queue, job_id, "load", row))
        for job_id, row in held.items():
            if job_id in seen or row.get("deleted"):
                continue
            created = row.get("createdAt")
            in_window = cutoff is None or created is None or pd.Timestamp(created) >= cutoff
            if not row.get("finished") or in_window:
                plans.append((queue, job_id, "check", row))
    # A few jobs at once, each with its share of the workers (the client's connection pool
    # is sized to max_workers): most jobs of a queue are small, a few calls each.
    at_once = max(1, min(_JOBS_AT_ONCE, max_workers, len(plans)))
    each = max(1, max_workers // at_once)

    def one(plan: tuple[str, str, str, dict[str, Any] | None]) -> tuple[str, str]:
        queue, job_id, action, row = plan
        try:
            return job_id, _sync_one(
                c, store, fs, root, farm, queue, job_id, action, row, each, wanted
            )
        except DeadlineNbError as error:
            return job_id, f"failed: {error}"
        except (OSError, ValueError) as error:
            return job_id, f"failed: {type(error).__name__}: {error}"

    with (
        CacheHandle(cache) as store,
        tqdm(
            total=len(plans), unit="job", desc=f"sync {farm}", disable=not progress, leave=False
        ) as bar,
        ThreadPoolExecutor(at_once, "deadline-nb-history") as pool,
    ):
        for job_id, outcome in pool.map(one, plans):
            if outcome.startswith("failed: "):
                result.failed[job_id] = outcome[len("failed: ") :]
            else:
                getattr(result, outcome).append(job_id)
            bar.update(1)
    if result.failed:
        names = sorted(result.failed)
        shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        raise HistorySyncError(
            f"{len(names)} of {len(plans) + len(result.unchanged)} jobs could not be synced "
            f"({shown}); the others are written: see error.result.failed for each reason.",
            result,
        )
    return result


def _list_queue(
    c: DeadlineCloudClient,
    farm: str,
    queue: str,
    cutoff: datetime.datetime | None,
    filters: Any,
    progress: bool,
    max_workers: int,
) -> list[dict[str, Any]]:
    """The queue's jobs submitted since ``cutoff``: SearchJobs filtered on the service, or,
    for a role that may not call SearchJobs, every job by ListJobs, filtered here."""
    try:
        return list_jobs(
            farm,
            queue,
            limit=None,
            filters=filters,
            progress=progress,
            max_workers=max_workers,
            client=c,
        )
    except AccessDeniedError as error:
        if filters is None or error.operation != "SearchJobs":
            raise
    logger.info("SearchJobs refused: listing %s with ListJobs, filtered here", queue)
    every = list_jobs(farm, queue, limit=None, progress=progress, max_workers=max_workers, client=c)
    assert cutoff is not None  # filters come only with a cutoff
    return [
        job
        for job in every
        if job.get("createdAt") is None or pd.Timestamp(job["createdAt"]) >= pd.Timestamp(cutoff)
    ]


def _sync_one(
    c: DeadlineCloudClient,
    store: Any,
    fs: pafs.FileSystem,
    root: str,
    farm: str,
    queue: str,
    job_id: str,
    action: str,
    row: Mapping[str, Any] | None,
    max_workers: int,
    wanted: Sequence[str] = BASE_TABLES,
) -> str:
    """Check or load one job, write it when it changed; say which: written, unchanged or
    deleted."""
    now = datetime.datetime.now(datetime.timezone.utc)
    if action == "check":
        assert row is not None
        try:
            job = fetch_job(farm, queue, job_id, client=c)
        except NotFoundError:
            _mark_deleted(fs, root, (farm, queue, job_id), row, now)
            return "deleted"
        if job_token(job) == row.get("syncToken"):
            return "unchanged"
    loaded = load_job(
        farm,
        queue,
        job_id,
        cache=store if store is not None else False,
        progress=False,
        max_workers=max_workers,
        client=c,
    )
    # The tables held stay up to date, asked for this time or not: a stale logs file next to
    # a newer actions file would be wrong without saying so.
    names = set(wanted) | set(_held(row))
    tables = {
        "steps": loaded.steps,
        "tasks": loaded.tasks,
        "sessions": loaded.sessions,
        "actions": loaded.actions,
    }
    if "logs" in names:
        from .frames.logsummary import log_summary_frame

        tables["logs"] = log_summary_frame(loaded.logs, loaded.actions)
    if "resources" in names:
        tables["resources"] = loaded.resources[list(schema.RESOURCE_TABLE_COLUMNS)]
    tables["jobs"] = job_row_frame(loaded.job, synced_at=now, tables=["jobs", *tables])
    _write_job(fs, root, tables, (farm, queue, job_id), _month(loaded.job.get("createdAt")))
    return "written"


def _mark_deleted(
    fs: pafs.FileSystem,
    root: str,
    ids: tuple[str, str, str],
    row: Mapping[str, Any],
    now: datetime.datetime,
) -> None:
    """Mark a stored job deleted by the service: its jobs row rewritten, its rows kept."""
    import pyarrow.parquet as pq

    from .frames import read_parquet

    farm, queue, job_id = ids
    month = str(row["month"])
    path = f"{_folder(root, 'jobs', farm, queue, month)}/{job_id}.parquet"
    pack = row.get("pack")
    if pack:
        # Read from a pack: the job's rows become files of its own again, its jobs file last
        # (which moves it out of the pack at once), rather than the month's pack rewritten.
        for table in _held(row):
            if table == "jobs":
                continue
            source = f"{_folder(root, table, farm, queue, month)}/{pack}.parquet"
            try:
                rows = _only(_read_table(fs, source), job_id)
            except FileNotFoundError:
                continue
            target = f"{_folder(root, table, farm, queue, month)}/{job_id}.parquet"
            _publish(fs, arrow_file_bytes(rows), target)
        buffer = io.BytesIO()
        pq.write_table(
            _only(
                _read_table(fs, f"{_folder(root, 'jobs', farm, queue, month)}/{pack}.parquet"),
                job_id,
            ),
            buffer,
        )
        buffer.seek(0)
        kept = read_parquet(buffer)
    else:
        with fs.open_input_file(path) as stored:
            kept = read_parquet(io.BytesIO(stored.read()))
    kept["deleted"] = pd.array([True] * len(kept), dtype=pd.BooleanDtype())
    kept["syncedAt"] = pd.Series([now] * len(kept), dtype=schema.TIME)
    _write_atomic(fs, kept, path)


def _only(read: pa.Table, job_id: str) -> pa.Table:
    """The rows of one job."""
    import pyarrow.compute as pc

    return read.filter(pc.equal(read.column("jobId"), job_id))


def arrow_file_bytes(table: pa.Table, row_group_size: int | None = None) -> bytes:
    """An Arrow table as a file of the dataset: :data:`PARQUET_OPTIONS`, and the statistics
    :func:`_write_atomic` keeps of a frame (:func:`_statistics`)."""
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(
        table,
        buffer,
        row_group_size=row_group_size,
        **PARQUET_OPTIONS,
        write_statistics=_statistics(table.schema),
    )
    return buffer.getvalue()


def _held(row: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The tables a stored jobs row says its job has (a row older than the column: the base)."""
    if row is None:
        return ()
    given = row.get("tables")
    if not isinstance(given, str):
        return BASE_TABLES
    return tuple(t for t in given.split(",") if t)


def _lacks(row: Mapping[str, Any], wanted: Sequence[str]) -> bool:
    """Whether a stored job lacks one of the tables asked for."""
    return not set(wanted) <= set(_held(row))


def read_history(
    dest: str | os.PathLike[str],
    table: str,
    *,
    farm_id: str | None = None,
    queue_id: str | None = None,
    boto3_session: boto3.Session | None = None,
) -> pd.DataFrame:
    """Read one table of a dataset :func:`sync_history` wrote, with the frames' dtypes.

    Files written by an older version that lack a column give that column as missing values of
    the newer files' dtype.

    Parameters
    ----------
    dest
        The dataset's folder, or its ``s3://bucket/prefix``.
    table
        One of :data:`TABLES`.
    farm_id, queue_id
        Only this farm's, or this queue's, jobs.
    boto3_session
        For an S3 destination: whose credentials and region (see :func:`dataset_filesystem`).

    Returns
    -------
    pandas.DataFrame
        The rows of every job, ``farmId`` and ``queueId`` first (from the folders).

    Examples
    --------
    >>> import tempfile, deadline_nb as dnb
    >>> with tempfile.TemporaryDirectory() as dest:
    ...     empty = dnb.read_history(dest, "actions")
    >>> len(empty), "sessionActionId" in empty.columns
    (0, True)
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .frames import concat_frames, read_parquet

    if table not in TABLES:
        raise bad_argument("table", f"be one of {list(TABLES)}", table)
    # Files of one queue with one schema are stacked in Arrow and read back once with
    # read_parquet (its dtype guarantees, at the cost of one file per group rather than per
    # job); files of different schemas (older versions, other parameters) meet in concat_frames.
    fs, root = dataset_filesystem(dest, boto3_session)
    groups: dict[tuple[str, str, pa.Schema], list[pa.Table]] = {}
    # Only complete jobs, each from the one place it is read from (see _visible).
    for stored in _visible(fs, root, table, farm_id, queue_id):
        read = _without(_read_table(fs, stored.path), stored.excluded)
        key = (stored.farm, stored.queue, read.schema.remove_metadata())
        groups.setdefault(key, []).append(read)
    parts = []
    for (farm, queue, _), tables in groups.items():
        first = tables[0].schema.metadata
        stacked = pa.concat_tables([t.replace_schema_metadata(first) for t in tables])
        # pandas stores category codes as small integers; the union of many jobs' categories
        # may not fit them.
        wide = pa.schema(
            [
                f.with_type(pa.dictionary(pa.int32(), f.type.value_type, f.type.ordered))
                if pa.types.is_dictionary(f.type)
                else f
                for f in stacked.schema
            ],
            metadata=first,
        )
        stacked = stacked.cast(wide)
        buffer = io.BytesIO()
        pq.write_table(stacked, buffer)
        buffer.seek(0)
        frame = _as_schema(read_parquet(buffer), _EMPTY[table], stacked.schema)
        frame.insert(0, "farmId", pd.Series([farm] * len(frame), dtype="category"))
        frame.insert(1, "queueId", pd.Series([queue] * len(frame), dtype="category"))
        parts.append(frame)
    if not parts:
        return schema.empty_frame(_EMPTY[table])
    return concat_frames(parts)


def _as_schema(
    frame: pd.DataFrame, columns: Mapping[str, object], stored: pa.Schema | None = None
) -> pd.DataFrame:
    """``frame`` with every column of the schema, in its order and dtype, then its other columns.

    A column a file lacks (written by an older version) is missing values of the schema's
    dtype; an all-missing category column, which Parquet keeps as the null type and reads back
    as objects, is a category again.
    """
    data: dict[str, Any] = {}
    for name, dtype in columns.items():
        if name in PARTITIONS[:2]:
            continue  # from the folders
        if name not in frame.columns:
            data[name] = pd.Series(pd.array([None] * len(frame), dtype=dtype), index=frame.index)  # type: ignore[call-overload]
        elif dtype == schema.CATEGORY and isinstance(frame[name].dtype, pd.CategoricalDtype):
            data[name] = frame[name]
        elif frame[name].dtype != dtype:
            data[name] = frame[name].astype(dtype)  # type: ignore[call-overload]
        else:
            data[name] = frame[name]
    for name in frame.columns:
        if name not in data and name not in PARTITIONS[:2]:
            kind = stored.field(name).type if stored is not None and name in stored.names else None
            data[name] = _nullable(frame[name], kind)
    return pd.DataFrame(data, index=frame.index)


def _nullable(column: pd.Series, stored: pa.DataType | None) -> pd.Series:
    """A column outside the schema (a task parameter's) as the frames type it: ``Int64``,
    ``Float64`` or ``boolean``, not NumPy's. The files keep no pandas metadata (see
    _write_atomic): the stored Parquet type says which (an integer column with gaps reads as
    floats, exact ones)."""
    import pyarrow as pa

    if stored is None or isinstance(column.dtype, pd.api.extensions.ExtensionDtype):
        return column
    if pa.types.is_integer(stored):
        return column.astype("Int64")
    if pa.types.is_floating(stored):
        return column.astype("Float64")
    if pa.types.is_boolean(stored):
        return column.astype("boolean")
    return column


_EMPTY: Final[Mapping[str, Mapping[str, object]]] = {
    "jobs": schema.JOB_COLUMNS,
    "steps": schema.STEP_COLUMNS,
    "tasks": schema.TASK_COLUMNS,
    "sessions": schema.SESSION_COLUMNS,
    "actions": {**schema.SESSION_ACTION_COLUMNS, **schema.JOB_ACTION_COLUMNS},
    "logs": schema.LOG_SUMMARY_COLUMNS,
    "resources": schema.RESOURCE_TABLE_COLUMNS,
}
#: Each table's columns and dtypes (``param.<Name>`` columns follow in the files that have them).
TABLE_COLUMNS: Final[Mapping[str, Mapping[str, object]]] = MappingProxyType(dict(_EMPTY))
