"""Compaction of a history dataset: a partition's finished jobs in one file per table.

:func:`deadline_nb.sync_history` writes one file per job per table, so that rewriting a job is
one atomic step. A queue's month of small jobs is then thousands of small files, and a reader
pays for each (DuckDB about a tenth of a millisecond per file and column read, Athena a request
per file): :func:`compact_history` moves the finished jobs of each partition (farm, queue,
submission month) into one *pack* per table,
``DEST/<table>/farmId=/queueId=/month=/pack-<when>-<random>.parquet``.

How a job moves without a reader seeing it twice or not at all (the readers' rule is
``queue_history._visible``: a job is read from its own files while its own ``jobs`` file
exists, else from the newest pack holding it; a pack counts once its ``jobs`` file exists):

1. the pack's files of every other table are written, then its ``jobs`` file;
2. each packed job's own ``jobs`` file is deleted (from then on it is read from the pack),
   then its other files -- unless a sync rewrote the job meanwhile (its ``jobs`` file changed
   since it was read), in which case its own files stay and win;
3. the partition's older packs are deleted, ``jobs`` file first.

A compaction killed at any point leaves every job readable exactly once; the next one finishes
the work. Jobs that are not finished stay in their own files (the next sync rewrites them). A
sync that later rewrites a packed job (requeued, say) writes its own files, which win; the next
compaction packs it again and drops the old rows. Engines that read the folders without this
rule (Athena, Trino, Spark through :func:`deadline_nb.history_ddl`) see such a job twice until
then: compact after syncing.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from .queue_history import (
    PACK_PREFIX,
    TABLES,
    _check_writable,
    _files,
    _folder,
    _manifest,
    _places,
    _publish,
    _read_table,
    _Visible,
    _visible,
    _without,
    arrow_file_bytes,
    dataset_filesystem,
    is_pack,
)

if TYPE_CHECKING:
    import boto3
    import pyarrow as pa
    import pyarrow.fs as pafs

__all__ = ["CompactResult", "compact_history"]

logger = logging.getLogger("deadline_nb")

# Rows per row group of a pack: a few groups per pack, so that a reader's threads share one
# file, and their statistics (ids, times) let a query skip most of a month.
_ROW_GROUP: Final = 128 * 1024
# A pack's name: pack-<when it was begun, UTC>-<random>; names sort by age.
_STAMP: Final = "%Y%m%dT%H%M%S%f"
_ABANDONED: Final = datetime.timedelta(days=1)


@dataclasses.dataclass
class CompactResult:
    """What one :func:`compact_history` did.

    Attributes
    ----------
    dest
        The dataset's folder (a path), or its ``s3://bucket/prefix``.
    packs
        The packs written, as ``farmId/queueId/month/pack-...`` (one per partition compacted).
    jobs
        How many jobs the new packs hold.
    removed
        How many files were deleted (jobs' own files and older packs).
    kept
        Jobs left in their own files because a sync rewrote them while they were packed.
    """

    dest: Path | str
    packs: list[str] = dataclasses.field(default_factory=list)
    jobs: int = 0
    removed: int = 0
    kept: list[str] = dataclasses.field(default_factory=list)

    def __repr__(self) -> str:
        return (
            f"<CompactResult {self.dest}: {len(self.packs)} packs of {self.jobs} jobs, "
            f"{self.removed} files removed, {len(self.kept)} kept>"
        )


def compact_history(
    dest: str | os.PathLike[str],
    farm_id: str | None = None,
    queue_id: str | None = None,
    *,
    boto3_session: boto3.Session | None = None,
    progress: bool = True,
) -> CompactResult:
    """Move the finished jobs of each partition of a history dataset into one file per table.

    Readers (:func:`deadline_nb.read_history`, :func:`deadline_nb.history`, a rerun of
    :func:`deadline_nb.sync_history`) give the same rows before and after, and at every moment
    between; only the number of files changes (see the module's documentation for how).
    A partition already in one pack, with no job of its own files finished, is left as it is.

    Parameters
    ----------
    dest
        The dataset's folder, or its ``s3://bucket/prefix``.
    farm_id, queue_id
        Only this farm's, or this queue's, partitions.
    boto3_session
        For an S3 destination: whose credentials and region.
    progress
        Show a progress bar (one step per partition).

    Returns
    -------
    CompactResult
        The packs written, and the files removed.

    Raises
    ------
    deadline_nb.errors.DestinationError
        The destination cannot be written (before anything is read).

    Examples
    --------
    >>> import tempfile, deadline_nb as dnb
    >>> from deadline_nb.localfarm import LocalFarm
    >>> with LocalFarm() as farm, tempfile.TemporaryDirectory() as dest:
    ...     _ = dnb.sync_history(dest, farm.farm_id, client=farm.client(), progress=False,
    ...                          cache=False)
    ...     before = len(dnb.read_history(dest, "actions"))
    ...     result = dnb.compact_history(dest, progress=False)
    ...     after = len(dnb.read_history(dest, "actions"))
    >>> before == after, result.jobs > 0, len(result.packs) >= 1
    (True, True, True)
    """
    from tqdm.auto import tqdm

    fs, root = dataset_filesystem(dest, boto3_session)
    _check_writable(fs, root, dest)
    shown = os.fspath(dest)
    result = CompactResult(shown if shown.lower().startswith("s3://") else Path(shown))
    queues = sorted({(s.farm, s.queue) for s in _files(fs, root, "jobs", farm_id, queue_id)})
    work: list[
        tuple[tuple[str, str, str], dict[str, dict[str, Any]], dict[str, list[_Visible]], set[str]]
    ]
    work = []
    for farm, queue in queues:
        # One listing of each table per queue, shared by its partitions.
        places = _places(fs, root, farm, queue)
        manifest = _manifest(fs, root, farm, queue, places)
        listed = {t: _files(fs, root, t, farm, queue) for t in TABLES if t != "jobs"}
        visible = {
            table: _visible(fs, root, table, farm, queue, places, listed.get(table))
            for table in TABLES
        }
        packs: dict[str, set[str]] = {}  # month -> the packs there
        for s in places.jobs:
            if is_pack(s.job):
                packs.setdefault(s.month, set()).add(s.job)
        # Files no reader reads: a pack's whose jobs file was never written (a compaction
        # killed in step 1), a job's whose jobs file is gone (one killed in step 2) or not
        # written (a sync killed halfway). A day old, they are no write in progress: deleted.
        written = {(s.month, s.job) for s in places.jobs}
        for files in listed.values():
            for s in files:
                if (s.month, s.job) in written:
                    continue
                if is_pack(s.job):
                    abandoned = _stale(s.job)
                else:
                    modified = fs.get_file_info(s.path).mtime
                    abandoned = modified is not None and _now() - modified > _ABANDONED
                if abandoned:
                    result.removed += _delete(fs, s.path)
        months = sorted({str(r["month"]) for r in manifest.values()} | set(packs))
        for month in months:
            rows = {j: r for j, r in manifest.items() if r["month"] == month}
            own = [j for j, r in rows.items() if r.get("pack") is None and r.get("finished")]
            if own or len(packs.get(month, ())) > 1:
                mine = {t: [v for v in vs if v.month == month] for t, vs in visible.items()}
                work.append(((farm, queue, month), rows, mine, packs.get(month, set())))
    for partition, rows, mine, packs_there in tqdm(
        work, unit="partition", desc="compact", disable=not progress, leave=False
    ):
        _compact_partition(fs, root, partition, rows, mine, packs_there, result)
    return result


def _compact_partition(
    fs: pafs.FileSystem,
    root: str,
    partition: tuple[str, str, str],
    rows: dict[str, dict[str, Any]],
    visible: dict[str, list[_Visible]],
    packs: set[str],
    result: CompactResult,
) -> None:
    """Pack one partition's finished jobs (steps 1 to 3 of the module's documentation)."""
    farm, queue, month = partition
    packed = sorted(j for j, r in rows.items() if r.get("finished"))
    own = [j for j in packed if rows[j].get("pack") is None]
    # Each own jobs file as it was read: one rewritten by a sync meanwhile is not deleted.
    jobs_folder = _folder(root, "jobs", farm, queue, month)
    seen = {j: _stamp(fs.get_file_info(f"{jobs_folder}/{j}.parquet")) for j in own}
    stamp = _now().strftime(_STAMP)
    name = f"{PACK_PREFIX}{stamp}-{uuid.uuid4().hex[:8]}"
    wanted = set(packed)
    # Every pack there now goes once this one is written: it holds whatever they held that
    # is still read from them (a pack holding only jobs read from elsewhere is not read).
    old_packs = set(packs)
    written_any = False
    for table in (*(t for t in TABLES if t != "jobs"), "jobs"):
        parts = []
        for v in visible[table]:
            if is_pack(v.name):
                read = _without(_read_table(fs, v.path), v.excluded)
                parts.append(_only_jobs(read, wanted))
            elif v.name in wanted:
                parts.append(_read_table(fs, v.path))
        parts = [p for p in parts if p.num_rows]
        if not parts:
            continue
        stacked = _stack(parts)
        path = f"{_folder(root, table, farm, queue, month)}/{name}.parquet"
        _publish(fs, arrow_file_bytes(stacked, _ROW_GROUP), path)
        written_any = written_any or table == "jobs"
    if not written_any:
        return
    result.packs.append(f"farmId={farm}/queueId={queue}/month={month}/{name}")
    result.jobs += len(packed)
    # Step 2: each job moved to the pack by deleting its own jobs file, then its other files.
    for job in own:
        jobs_file = f"{jobs_folder}/{job}.parquet"
        if _stamp(fs.get_file_info(jobs_file)) != seen[job]:
            result.kept.append(job)  # a sync rewrote it meanwhile: its own files win
            continue
        for table in ("jobs", *(t for t in TABLES if t != "jobs")):
            result.removed += _delete(
                fs, f"{_folder(root, table, farm, queue, month)}/{job}.parquet"
            )
    # Step 3: the older packs, jobs file first (which makes the rest unread at once).
    for old in sorted(old_packs - {name}):
        for table in ("jobs", *(t for t in TABLES if t != "jobs")):
            result.removed += _delete(
                fs, f"{_folder(root, table, farm, queue, month)}/{old}.parquet"
            )


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _stale(pack: str) -> bool:
    """Whether a pack's name says it was begun more than a day ago."""
    when = pack[len(PACK_PREFIX) :].split("-", 1)[0]
    try:
        begun = datetime.datetime.strptime(when, _STAMP).replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return False  # not a name this module gave: not ours to delete
    return _now() - begun > _ABANDONED


def _stamp(info: Any) -> tuple[Any, Any]:
    """What says a file changed: its size and modification time."""
    return (info.size, info.mtime)


def _delete(fs: pafs.FileSystem, path: str) -> int:
    """Delete a file; 1 if it was there, 0 if not."""
    try:
        fs.delete_file(path)
    except FileNotFoundError:
        return 0
    return 1


def _only_jobs(read: pa.Table, jobs: set[str]) -> pa.Table:
    import pyarrow as pa
    import pyarrow.compute as pc

    return read.filter(pc.is_in(read.column("jobId"), value_set=pa.array(sorted(jobs))))


def _stack(parts: Sequence[pa.Table]) -> pa.Table:
    """Tables of one table's files as one: columns by name, missing ones null.

    Files differ in their columns (a newer version's, each job's task parameters) and in how
    they store them (an older version kept pandas' categories as dictionaries); a column whose
    types cannot be reconciled (a parameter that is a number in one job and text in another)
    is stacked as text.
    """
    import pyarrow as pa

    plain = [_undictionary(part) for part in parts]
    kinds: dict[str, set[pa.DataType]] = {}
    for part in plain:
        for field in part.schema:
            if not pa.types.is_null(field.type):
                kinds.setdefault(field.name, set()).add(field.type)
    mixed = set()
    for name, types in kinds.items():
        if len(types) > 1:
            try:
                pa.unify_schemas(
                    [pa.schema([pa.field(name, t)]) for t in types], promote_options="permissive"
                )
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                mixed.add(name)
    if mixed:
        plain = [
            part.cast(
                pa.schema(
                    [f.with_type(pa.string()) if f.name in mixed else f for f in part.schema],
                    metadata=part.schema.metadata,
                )
            )
            for part in plain
        ]
    return pa.concat_tables(plain, promote_options="permissive")


def _undictionary(part: pa.Table) -> pa.Table:
    """A table with its dictionary columns as plain ones (the pack's writer encodes anew)."""
    import pyarrow as pa

    if not any(pa.types.is_dictionary(f.type) for f in part.schema):
        return part
    return part.cast(
        pa.schema(
            [
                f.with_type(f.type.value_type) if pa.types.is_dictionary(f.type) else f
                for f in part.schema
            ],
            metadata=part.schema.metadata,
        )
    )
