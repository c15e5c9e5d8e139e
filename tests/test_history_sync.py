"""sync_history / read_history: the queue history as a Parquet dataset, through real boto3."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

import deadline_nb as dnb
from deadline_nb import queue_history as history
from deadline_nb import schema
from deadline_nb.cli import main
from deadline_nb.frames import concat_frames
from deadline_nb.localfarm import LocalFarm
from deadline_nb.localfarm.clock import ManualClock
from tests.fetch_helpers import Recorder

LISTING = {"ListQueues", "SearchJobs", "ListJobs"}


@pytest.fixture
def still_farm() -> Iterator[tuple[LocalFarm, ManualClock]]:
    """The seed-0 farm on a clock that stands still until a test moves it: a rerun sees the
    running job as it was, unless the test advances the clock."""
    clock = ManualClock()
    with LocalFarm(seed=0, clock=clock) as running:
        yield running, clock


def _files(dest: Path) -> dict[Path, tuple[int, int]]:
    """Every visible file of the dataset -> (inode, mtime in ns)."""
    return {
        p: (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in dest.rglob("*.parquet")
        if not p.name.startswith(".")
    }


def _sync(dest: Path, farm: LocalFarm, client: Any = None, **kw: Any) -> history.SyncResult:
    return dnb.sync_history(
        dest, farm.farm_id, client=client or farm.client(), cache=False, progress=False, **kw
    )


def test_layout_and_dtypes(still_farm: tuple[LocalFarm, ManualClock], tmp_path: Path) -> None:
    farm, _ = still_farm
    result = _sync(tmp_path, farm)
    jobs = dnb.read_history(tmp_path, "jobs")
    assert sorted(result.written) == sorted(jobs["jobId"])
    assert not result.unchanged and not result.failed
    # One file per job per table, under table/farmId=/queueId=/month=.
    for _, row in jobs.iterrows():
        month = row["createdAt"].strftime("%Y-%m")
        for table in history.BASE_TABLES:
            path = (
                tmp_path
                / table
                / f"farmId={row['farmId']}"
                / f"queueId={row['queueId']}"
                / f"month={month}"
                / f"{row['jobId']}.parquet"
            )
            assert path.is_file(), path
    # Each table reads back as load_job's frames of the queue's jobs, stacked (concat_frames):
    # the same columns, in the same order, with the same dtypes.
    queue = farm.job_by_name("failing").queue_id
    loaded = [
        dnb.load_job(farm.farm_id, queue, j, client=farm.client(), cache=False, progress=False)
        for j in jobs.loc[jobs["queueId"] == queue, "jobId"]
    ]
    for table in ("steps", "tasks", "sessions", "actions"):
        frame = concat_frames([getattr(job, table) for job in loaded])
        mine = dnb.read_history(tmp_path, table, queue_id=queue)
        assert list(mine.columns) == list(frame.columns), table
        assert len(mine) == len(frame), table
        key = {"steps": "stepId", "tasks": "taskId", "sessions": "sessionId"}.get(
            table, "sessionActionId"
        )
        pd.testing.assert_frame_equal(
            mine.sort_values(key).reset_index(drop=True).astype(str),
            frame.sort_values(key).reset_index(drop=True).astype(str),
            obj=table,
        )
        for name in frame.columns:
            expected = frame[name].dtype
            if isinstance(expected, pd.CategoricalDtype):
                assert isinstance(mine[name].dtype, pd.CategoricalDtype), (table, name)
                if expected.ordered:
                    assert mine[name].dtype == frame[name].dtype, (table, name)
            else:
                assert mine[name].dtype == frame[name].dtype, (table, name)
    for name, dtype in schema.JOB_COLUMNS.items():
        if dtype == "category":
            assert isinstance(jobs[name].dtype, pd.CategoricalDtype), name
        else:
            assert jobs[name].dtype == dtype, name
    running = jobs.set_index("jobId").loc[farm.job_by_name("running").job_id]
    assert not running["finished"] and not running["deleted"]
    # A Hive-aware reader sees the partitions as columns, once.
    dataset = pads.dataset(tmp_path / "jobs", format="parquet", partitioning="hive")
    table = dataset.to_table()
    assert set(table.column("jobId").to_pylist()) == set(jobs["jobId"])
    assert set(table.column("month").to_pylist()) == {
        t.strftime("%Y-%m") for t in jobs["createdAt"]
    }


def test_rerun_costs_one_listing_and_a_get_per_running_job(
    still_farm: tuple[LocalFarm, ManualClock], tmp_path: Path
) -> None:
    farm, _ = still_farm
    client = farm.client()
    first = _sync(tmp_path, farm, client)
    running = [j for j in first.written if j == farm.job_by_name("running").job_id]
    assert running
    listing = Recorder(client)
    # The listing pass alone, for comparison.
    for queue in dnb.list_queues(farm.farm_id, client=client):
        dnb.list_jobs(farm.farm_id, queue["queueId"], limit=None, client=client, progress=False)
    one_pass = dict(listing.calls)
    listing.clear()
    before = _files(tmp_path)
    again = _sync(tmp_path, farm, client)
    calls = dict(listing.calls)
    assert calls.pop("GetJob", 0) <= len(running)
    assert calls == one_pass
    assert sorted(again.unchanged) == sorted(first.written) and not again.written
    assert _files(tmp_path) == before  # nothing rewritten


def test_changed_running_job_is_rewritten_alone(
    still_farm: tuple[LocalFarm, ManualClock], tmp_path: Path
) -> None:
    farm, clock = still_farm
    client = farm.client()
    _sync(tmp_path, farm, client)
    before = _files(tmp_path)
    running = farm.job_by_name("running").job_id
    clock.advance(600.0)  # ten farm minutes: tasks of the running job finish
    again = _sync(tmp_path, farm, client)
    assert again.written == [running]
    after = _files(tmp_path)
    assert set(after) == set(before)
    changed = {p for p in after if after[p] != before[p]}
    assert changed and {p.stem for p in changed} == {running}
    assert {p.parts[len(tmp_path.parts)] for p in changed} == set(history.BASE_TABLES)
    jobs = dnb.read_history(tmp_path, "jobs").set_index("jobId")
    token = dnb.fetch_job(
        farm.farm_id, farm.job_by_name("running").queue_id, running, client=client
    )
    assert jobs.loc[running, "tasks.SUCCEEDED"] == token["taskRunStatusCounts"]["SUCCEEDED"]


def test_job_gone_from_the_service_is_kept_and_marked(
    still_farm: tuple[LocalFarm, ManualClock], tmp_path: Path
) -> None:
    farm, _ = still_farm
    client = farm.client()
    _sync(tmp_path, farm, client)
    # A job the service no longer has: a finished job's files under an id it never had.
    spec = farm.job_by_name("failing")
    gone = "job-" + "0" * 32
    for path in list(tmp_path.rglob(f"{spec.job_id}.parquet")):
        frame = pq.read_table(path).to_pandas()
        frame["jobId"] = gone
        frame.to_parquet(path.with_name(f"{gone}.parquet"), index=False)
    rows_before = len(dnb.read_history(tmp_path, "actions"))
    recorder = Recorder(client)
    result = _sync(tmp_path, farm, client)
    assert result.deleted == [gone]
    jobs = dnb.read_history(tmp_path, "jobs").set_index("jobId")
    assert bool(jobs.loc[gone, "deleted"]) and not jobs.drop(index=gone)["deleted"].any()
    assert len(dnb.read_history(tmp_path, "actions")) == rows_before  # its rows are kept
    assert recorder.calls["GetJob"] >= 1
    # Marked once: the next sync does not ask for it again.
    recorder.clear()
    later = _sync(tmp_path, farm, client)
    assert gone not in later.deleted + later.written + later.unchanged
    assert recorder.calls["GetJob"] <= 1  # the running job's only


def test_older_files_without_a_column_read_as_nulls(
    still_farm: tuple[LocalFarm, ManualClock], tmp_path: Path
) -> None:
    farm, _ = still_farm
    _sync(tmp_path, farm)
    old_job = farm.job_by_name("failing").job_id
    # An older version wrote no `syncedAt` in jobs and no `progressMessage` in actions.
    for table, column in [("jobs", "syncedAt"), ("actions", "progressMessage")]:
        (path,) = (tmp_path / table).rglob(f"{old_job}.parquet")
        frame = dnb.read_parquet(path).drop(columns=[column])
        frame.to_parquet(path, index=False)
        stored = dnb.read_history(tmp_path, table)
        old = stored["jobId"] == old_job
        assert stored.loc[old, column].isna().all(), table
        assert stored.loc[~old, column].notna().any(), table
        expected = schema.JOB_COLUMNS[column] if table == "jobs" else schema.STRING
        assert stored[column].dtype == expected, table
    # A jobs row of an older version without the sync's token: the job is written again.
    (path,) = (tmp_path / "jobs").rglob(f"{old_job}.parquet")
    dnb.read_parquet(path).drop(columns=["syncToken", "finished"]).to_parquet(path, index=False)
    again = _sync(tmp_path, farm)
    assert again.written == [old_job]
    assert dnb.read_history(tmp_path, "jobs")["syncedAt"].notna().all()


def test_killed_between_write_and_rename_leaves_no_partial_file(
    still_farm: tuple[LocalFarm, ManualClock], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    farm, _ = still_farm
    real = history._replace
    victim = farm.job_by_name("failing").job_id

    def killed(source: str, target: str) -> None:
        # One job's tasks file: its steps are written, its tasks, sessions, actions and jobs
        # row are not.
        if Path(target).stem == victim and "tasks" in Path(target).parts:
            raise OSError("killed")
        real(source, target)

    monkeypatch.setattr(history, "_replace", killed)
    with pytest.raises(
        history.HistorySyncError, match=r"1 of \d+ jobs could not be synced"
    ) as info:
        _sync(tmp_path, farm)
    assert len(info.value.result.failed) == 1
    assert list(info.value.result.failed) == [victim]
    failed = victim
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".")]
    for path in _files(tmp_path):
        pq.read_table(path)  # every visible file is whole
    # Without a jobs row the failed job is not synced: no table shows it, the next sync
    # writes it.
    assert any(p.stem == failed for p in _files(tmp_path))  # some of its tables were written
    for table in history.BASE_TABLES:
        assert failed not in set(dnb.read_history(tmp_path, table)["jobId"]), table
    monkeypatch.setattr(history, "_replace", real)
    again = _sync(tmp_path, farm)
    assert failed in again.written


def test_two_syncs_at_once_lose_and_repeat_nothing(
    still_farm: tuple[LocalFarm, ManualClock], tmp_path: Path
) -> None:
    farm, _ = still_farm
    alone = tmp_path / "alone"
    _sync(alone, farm)
    both = tmp_path / "both"
    errors: list[BaseException] = []

    def run() -> None:
        try:
            _sync(both, farm)
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for table in history.BASE_TABLES:
        a = dnb.read_history(alone, table)
        b = dnb.read_history(both, table)
        assert len(a) == len(b), table
    key = dnb.read_history(both, "actions")["sessionActionId"]
    assert not key.duplicated().any()


def test_bad_arguments_name_the_argument(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="since"):
        dnb.sync_history(tmp_path, "farm-x", "queue-x", since="soon", client=object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="table"):
        dnb.read_history(tmp_path, "workers")


def test_since_keeps_only_recent_jobs(
    still_farm: tuple[LocalFarm, ManualClock], tmp_path: Path
) -> None:
    farm, _ = still_farm
    everything = _sync(tmp_path / "all", farm)
    recent = _sync(tmp_path / "recent", farm, since="1d")
    jobs = dnb.read_history(tmp_path / "all", "jobs").set_index("jobId")
    now = pd.Timestamp.now(tz="UTC")
    young = {
        j for j in everything.written if jobs.loc[j, "createdAt"] >= now - pd.Timedelta(days=1)
    }
    assert young and set(recent.written) == young != set(everything.written)


def test_since_without_search_jobs_lists_and_filters_here(
    still_farm: tuple[LocalFarm, ManualClock], tmp_path: Path
) -> None:
    """A role that may not call SearchJobs: ListJobs walks the queue, the window is applied
    here, and the same jobs are written."""
    farm, _ = still_farm
    searched = _sync(tmp_path / "searched", farm, since="1d")
    farm.denied_operations.add("SearchJobs")
    try:
        client = farm.client()
        recorder = Recorder(client)
        listed = _sync(tmp_path / "listed", farm, client, since="1d")
    finally:
        farm.denied_operations.discard("SearchJobs")
    assert recorder.calls["ListJobs"] > 0
    assert set(listed.written) == set(searched.written)
    everything = _sync(tmp_path / "all", farm)
    assert 0 < len(listed.written) < len(everything.written)


def test_cli_sync(
    still_farm: tuple[LocalFarm, ManualClock],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    farm, _ = still_farm
    argv = ["sync", "--farm-id", farm.farm_id, "--endpoint-url", farm.endpoint_url]
    argv += ["--no-cache", "--quiet", "--to", str(tmp_path)]
    assert main(argv) == 0
    first = capsys.readouterr().out
    assert main(argv) == 0
    second = capsys.readouterr().out
    count = len(dnb.read_history(tmp_path, "jobs"))
    assert first.startswith(f"Synced {count} jobs: {count} written")
    assert f"0 written, {count} unchanged" in second


def test_a_queue_of_many_jobs_reads_back_whole(tmp_path: Path) -> None:
    # More jobs than a category's smallest codes hold (int8): the stacked read must widen them.
    with LocalFarm(seed=0, clock=ManualClock(), queue_jobs=160) as farm:
        result = _sync(tmp_path, farm)
        queue = farm.job_by_name(history_queue_job(farm)).queue_id
        listed = dnb.list_jobs(farm.farm_id, queue, limit=None, client=farm.client())
    jobs = dnb.read_history(tmp_path, "jobs", queue_id=queue)
    assert len(jobs) == len(listed) > 128
    assert set(jobs["jobId"]) <= set(result.written)
    tasks = dnb.read_history(tmp_path, "tasks", queue_id=queue)
    assert tasks["jobId"].nunique() == len(listed)
    assert isinstance(tasks["jobId"].dtype, pd.CategoricalDtype)
    assert not tasks["taskId"].duplicated().any()


def history_queue_job(farm: LocalFarm) -> str:
    """The name of a job in the queue that ``queue_jobs`` fills."""
    from deadline_nb.localfarm.model import QUEUE_JOB_ROLE

    return next(spec.name for spec in farm.model.jobs if spec.role == QUEUE_JOB_ROLE)


def test_cli_sync_signs_an_s3_destination_with_the_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The profile names the Deadline Cloud client's credentials and the destination's alike
    # (a studio's history bucket is in the same account).
    (tmp_path / "config").write_text(
        "[profile studio]\nregion = eu-west-1\naws_access_key_id = a\naws_secret_access_key = b\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    seen: dict[str, Any] = {}

    def sync(*args: Any, **kwargs: Any) -> history.SyncResult:
        seen.update(kwargs)
        return history.SyncResult("s3://bucket/history")

    monkeypatch.setattr(history, "sync_history", sync)
    argv = ["sync", "--farm-id", "farm-1", "--profile", "studio", "--quiet", "--no-cache"]
    assert main([*argv, "--to", "s3://bucket/history"]) == 0
    session = seen["boto3_session"]
    assert session.profile_name == "studio" and session.region_name == "eu-west-1"
    argv = ["sync", "--farm-id", "farm-1", "--region", "eu-west-1", "--quiet", "--no-cache"]
    assert main([*argv, "--to", "s3://bucket/h"]) == 0
    assert seen["boto3_session"] is None  # no profile: boto3's own chain, as before
