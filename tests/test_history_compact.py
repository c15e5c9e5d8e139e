"""compact_history: a partition's finished jobs in one file per table, every row read once."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

import deadline_nb as dnb
from deadline_nb import history_compact as compact
from deadline_nb import queue_history as history
from deadline_nb.cli import main
from deadline_nb.localfarm import LocalFarm
from deadline_nb.localfarm.clock import ManualClock
from tests.fetch_helpers import Recorder
from tests.helpers import HISTORY_KEYS

from .conftest import kept_farm

KEYS = HISTORY_KEYS


@pytest.fixture(scope="module")
def farm() -> Iterator[LocalFarm]:
    """The seed-0 farm on a clock that stands still: every sync sees it as it is."""
    with kept_farm(clock=ManualClock()) as running:
        yield running


@pytest.fixture(scope="module")
def synced(farm: LocalFarm, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The farm synced once, as the sync writes it (copied by each test that changes it)."""
    dest = tmp_path_factory.mktemp("synced")
    _sync(dest, farm)
    return dest


@pytest.fixture
def dest(synced: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "dataset"
    shutil.copytree(synced, copy)
    return copy


def _sync(dest: Path, farm: LocalFarm, client: Any = None) -> history.SyncResult:
    return dnb.sync_history(
        dest, farm.farm_id, client=client or farm.client(), cache=False, progress=False
    )


def _tables(dest: Path) -> dict[str, pd.DataFrame]:
    """Every table, rows in key order; the keys are unique (no row read twice)."""
    found = {}
    for table, key in KEYS.items():
        frame = dnb.read_history(dest, table)
        assert not frame[key].duplicated().any(), table
        found[table] = frame.sort_values(key).reset_index(drop=True)
    return found


def _assert_same(dest: Path, expected: dict[str, pd.DataFrame]) -> None:
    """``dest`` reads as ``expected``: the same rows, once each, with the same dtypes, by
    read_history and by DuckDB's views."""
    now = _tables(dest)
    for table, frame in expected.items():
        pd.testing.assert_frame_equal(now[table], frame, check_categorical=False, obj=table)
        assert [str(d) for d in now[table].dtypes] == [str(d) for d in frame.dtypes], table
    with dnb.history(dest) as h:
        for table, key in KEYS.items():
            total, distinct = h.sql(
                f"select count(*), count(distinct {key}) from {table}"
            ).fetchall()[0]
            assert total == distinct == len(expected[table]), table


def _parquet(dest: Path) -> dict[Path, int]:
    """Every visible file -> its modification time (ns)."""
    return {p: p.stat().st_mtime_ns for p in dest.rglob("*.parquet") if not p.name.startswith(".")}


def test_compaction_keeps_every_row_in_one_pack_per_partition(farm: LocalFarm, dest: Path) -> None:
    expected = _tables(dest)
    finished = set(expected["jobs"].loc[expected["jobs"]["finished"].astype(bool), "jobId"])
    assert finished and len(finished) < len(expected["jobs"])  # the running job stays out
    result = dnb.compact_history(dest, progress=False)
    assert result.jobs == len(finished) and not result.kept
    _assert_same(dest, expected)
    for table in KEYS:
        by_folder: dict[Path, list[str]] = {}
        for path in _parquet(dest / table):
            by_folder.setdefault(path.parent, []).append(path.stem)
        for folder, names in by_folder.items():
            packs = [n for n in names if n.startswith("pack-")]
            own = [n for n in names if not n.startswith("pack-")]
            assert len(packs) <= 1, folder
            assert not set(own) & finished, folder  # finished jobs are all in the pack
    # A sync after compaction sees every job as it was: nothing written, nothing new fetched.
    client = farm.client()
    recorder = Recorder(client)
    again = _sync(dest, farm, client)
    assert not again.written and sorted(again.unchanged) == sorted(expected["jobs"]["jobId"])
    assert recorder.calls["GetJob"] <= len(expected["jobs"]) - len(finished)
    # Nothing left to compact: nothing written or removed.
    before = _parquet(dest)
    second = dnb.compact_history(dest, progress=False)
    assert (second.packs, second.jobs, second.removed) == ([], 0, 0)
    assert _parquet(dest) == before


def _rewrite_own(dest: Path, job_id: str, message: str) -> None:
    """Write a job's own files as a sync rewriting it would (jobs file last), its actions'
    progress message changed."""
    fs, root = history.dataset_filesystem(dest)
    tables = {}
    for table in history.BASE_TABLES:
        frame = dnb.read_history(dest, table)
        tables[table] = frame[frame["jobId"] == job_id].reset_index(drop=True)
    tables["actions"]["progressMessage"] = pd.array(
        [message] * len(tables["actions"]), dtype=tables["actions"]["progressMessage"].dtype
    )
    row = tables["jobs"].iloc[0]
    month = row["createdAt"].strftime("%Y-%m")
    history._write_job(fs, root, tables, (row["farmId"], row["queueId"], job_id), month)


def test_a_packed_job_rewritten_by_a_sync_is_read_once_from_its_own_files(
    farm: LocalFarm, dest: Path
) -> None:
    dnb.compact_history(dest, progress=False)
    expected = _tables(dest)
    job_id = farm.job_by_name("failing").job_id
    _rewrite_own(dest, job_id, "rerendered")
    actions = expected["actions"]
    mine = actions["jobId"] == job_id
    assert mine.any()
    actions.loc[mine, "progressMessage"] = "rerendered"
    _assert_same(dest, expected)  # the pack's rows of the job are not read: its own files are
    result = dnb.compact_history(dest, progress=False)
    assert result.jobs >= 1 and not result.kept
    _assert_same(dest, expected)
    assert not [p for p in _parquet(dest) if p.stem == job_id]  # packed again, old rows gone


def test_a_packed_job_deleted_by_the_service_is_marked_and_kept(
    farm: LocalFarm, dest: Path
) -> None:
    # A finished job the service no longer has: the failing job's files under another id.
    spec = farm.job_by_name("failing")
    gone = "job-" + "0" * 32
    for path in list(dest.rglob(f"{spec.job_id}.parquet")):
        table = pq.read_table(path).to_pandas()
        table["jobId"] = gone
        if "taskId" in table.columns:  # keys of their own, as another job's would be
            table["taskId"] = table["taskId"].astype("string") + "-gone"
        for key in ("stepId", "sessionId", "sessionActionId"):
            if key in table.columns:
                table[key] = table[key].astype("string") + "-gone"
        table.to_parquet(path.with_name(f"{gone}.parquet"), index=False)
    dnb.compact_history(dest, progress=False)
    expected = _tables(dest)
    assert gone in set(expected["jobs"]["jobId"])
    result = _sync(dest, farm)
    assert result.deleted == [gone]
    jobs = dnb.read_history(dest, "jobs").set_index("jobId")
    assert bool(jobs.loc[gone, "deleted"]) and not jobs.drop(index=gone)["deleted"].any()
    for table, key in KEYS.items():
        now = dnb.read_history(dest, table)
        assert len(now) == len(expected[table]) and not now[key].duplicated().any(), table
    # Marked once: the next sync leaves it alone, and a compaction packs it again, marked.
    later = _sync(dest, farm)
    assert gone not in later.deleted + later.written + later.unchanged
    dnb.compact_history(dest, progress=False)
    assert bool(dnb.read_history(dest, "jobs").set_index("jobId").loc[gone, "deleted"])
    assert not [p for p in _parquet(dest) if p.stem == gone]


class Killed(Exception):
    """The process died here."""


def _kill_at(monkeypatch: pytest.MonkeyPatch, name: str, call: int) -> None:
    """Make the ``call``-th call of history_compact's ``name`` (``_publish``, ``_delete``)
    raise, as a kill at that moment would stop the compaction."""
    real = getattr(compact, name)
    calls = [0]

    def dying(*args: Any) -> Any:
        calls[0] += 1
        if calls[0] == call:
            raise Killed(f"{name} #{call}")
        return real(*args)

    monkeypatch.setattr(compact, name, dying)


@pytest.mark.parametrize(
    ("name", "call"),
    [
        ("_publish", 1),  # before any pack file
        ("_publish", 5),  # every table's pack written, not its jobs file
        ("_delete", 1),  # the pack written, no job moved yet
        ("_delete", 3),  # a job's jobs file deleted, some of its other files not
        ("_delete", 12),  # jobs moved, others not yet
    ],
)
def test_a_compaction_killed_anywhere_leaves_every_row_read_once(
    dest: Path, monkeypatch: pytest.MonkeyPatch, name: str, call: int
) -> None:
    expected = _tables(dest)
    with monkeypatch.context() as patch:
        _kill_at(patch, name, call)
        with pytest.raises(Killed):
            dnb.compact_history(dest, progress=False)
    _assert_same(dest, expected)
    for path in _parquet(dest):
        pq.read_metadata(path)  # every visible file is whole
    # The next compaction finishes the work; files nobody reads (a job's whose jobs file was
    # deleted) go once a day old.
    dnb.compact_history(dest, progress=False)
    _assert_same(dest, expected)
    finished = set(expected["jobs"].loc[expected["jobs"]["finished"].astype(bool), "jobId"])
    assert not [p for p in _parquet(dest / "jobs") if p.stem in finished]
    left = [p for p in _parquet(dest) if p.stem in finished]
    for path in left:
        os.utime(path, (time.time() - 2 * 86400,) * 2)
    assert dnb.compact_history(dest, progress=False).removed == len(left)
    assert not [p for p in _parquet(dest) if p.stem in finished]
    _assert_same(dest, expected)


def test_a_compaction_killed_while_removing_an_older_pack(
    farm: LocalFarm, dest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dnb.compact_history(dest, progress=False)
    job_id = farm.job_by_name("failing").job_id
    _rewrite_own(dest, job_id, "rerendered")
    expected = _tables(dest)
    tables = len(history.BASE_TABLES)
    with monkeypatch.context() as patch:
        # The rewritten job's own files go first; then the older pack's jobs file, then one
        # more of its files.
        _kill_at(patch, "_delete", tables + 2)
        with pytest.raises(Killed):
            dnb.compact_history(dest, progress=False)
    _assert_same(dest, expected)
    dnb.compact_history(dest, progress=False)
    _assert_same(dest, expected)


def test_a_job_a_sync_rewrites_during_compaction_keeps_its_own_files(
    farm: LocalFarm, dest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _tables(dest)
    job_id = farm.job_by_name("failing").job_id
    real = compact._publish

    def publish(fs: pafs.FileSystem, data: bytes, path: str) -> None:
        # A sync rewrites the job just before the pack's jobs file is written.
        if "/jobs/" in path and "/pack-" in path:
            _rewrite_own(dest, job_id, "meanwhile")
        real(fs, data, path)

    monkeypatch.setattr(compact, "_publish", publish)
    result = dnb.compact_history(dest, progress=False)
    assert result.kept == [job_id]
    actions = expected["actions"]
    actions.loc[actions["jobId"] == job_id, "progressMessage"] = "meanwhile"
    _assert_same(dest, expected)  # the sync's version, once
    assert [p for p in _parquet(dest) if p.stem == job_id]


def test_an_abandoned_pack_is_removed_after_a_day(dest: Path) -> None:
    dnb.compact_history(dest, progress=False)
    expected = _tables(dest)
    pack = next(p for p in _parquet(dest / "actions") if p.stem.startswith("pack-"))
    old = pack.with_name("pack-20200101T000000000000-deadbeef.parquet")
    recent = pack.with_name(f"{compact.PACK_PREFIX}29990101T000000000000-deadbeef.parquet")
    shutil.copy(pack, old)  # a compaction killed before its jobs file, long ago
    shutil.copy(pack, recent)  # one (as far as names go) still in progress
    _assert_same(dest, expected)  # neither is read
    result = dnb.compact_history(dest, progress=False)
    assert result.removed == 1 and not old.exists() and recent.exists()
    _assert_same(dest, expected)


def test_cli_compact(dest: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jobs = dnb.read_history(dest, "jobs")
    finished = int(jobs["finished"].astype(bool).sum())
    assert main(["history", "compact", "--quiet", str(dest)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Compacted {finished} jobs into ")
    assert main(["history", "compact", "--quiet", str(dest)]) == 0
    assert capsys.readouterr().out.startswith("Compacted 0 jobs into 0 packs, 0 files removed")


def test_sync_compact_packs_what_it_synced(
    farm: LocalFarm, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain, packed = tmp_path / "plain", tmp_path / "packed"
    _sync(plain, farm)
    argv = ["sync", "--farm-id", farm.farm_id, "--endpoint-url", farm.endpoint_url]
    assert main([*argv, "--no-cache", "--quiet", "--compact", "--to", str(packed)]) == 0
    jobs = dnb.read_history(packed, "jobs")
    finished = int(jobs["finished"].astype(bool).sum())
    assert f"Compacted {finished} jobs into " in capsys.readouterr().out
    assert any(p.stem.startswith("pack-") for p in _parquet(packed))
    assert len(_parquet(packed)) < len(_parquet(plain))
    expected = _tables(plain)
    expected["jobs"] = expected["jobs"].drop(columns=["syncedAt", "duration"])
    now = _tables(packed)
    now["jobs"] = now["jobs"].drop(columns=["syncedAt", "duration"])
    for table, frame in expected.items():
        pd.testing.assert_frame_equal(now[table], frame, check_categorical=False, obj=table)
