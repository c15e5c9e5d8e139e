"""The history dataset's opt-in tables: logs (a summary per action) and resources, through
real boto3 clients against the local farm."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import deadline_nb as dnb
from deadline_nb import queue_history as history
from deadline_nb import schema
from deadline_nb.cli import main
from deadline_nb.errors import DataWarning
from deadline_nb.frames.logsummary import log_summary_frame
from deadline_nb.localfarm import LocalFarm
from deadline_nb.localfarm.clock import ManualClock

SID = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def still_farm() -> Iterator[tuple[LocalFarm, ManualClock]]:
    """The seed-0 farm on a clock that stands still until a test moves it."""
    clock = ManualClock()
    with LocalFarm(seed=0, clock=clock) as running:
        yield running, clock


def _sync(dest: Path, farm: LocalFarm, **kw: Any) -> history.SyncResult:
    with warnings.catch_warnings():
        # Workers without metrics or streams are reported as warnings: not the point here.
        warnings.simplefilter("ignore", DataWarning)
        return dnb.sync_history(
            dest, farm.farm_id, client=farm.client(), cache=False, progress=False, **kw
        )


def _files(dest: Path, table: str) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in (dest / table).rglob("*.parquet")}


def _load(farm: LocalFarm, name: str) -> dnb.Job:
    j = farm.job_by_name(name)
    return dnb.load_job(
        farm.farm_id, j.queue_id, j.job_id, client=farm.client(), cache=False, progress=False
    )


def test_logs_and_resources_tables_hold_one_row_per_action(
    still_farm: tuple[LocalFarm, ManualClock], tmp_path: Path
) -> None:
    farm, _ = still_farm
    result = _sync(tmp_path, farm, logs=True, metrics=True)
    assert result.written and not result.failed
    actions = dnb.read_history(tmp_path, "actions")
    logs = dnb.read_history(tmp_path, "logs")
    resources = dnb.read_history(tmp_path, "resources")
    # The schema's columns, in its order, with its dtypes.
    for frame, columns in (
        (logs, schema.LOG_SUMMARY_COLUMNS),
        (resources, schema.RESOURCE_TABLE_COLUMNS),
    ):
        assert list(frame.columns) == list(columns)
        for name, dtype in columns.items():
            assert str(frame[name].dtype) == str(dtype), name
    key = sorted(actions["sessionActionId"])
    assert sorted(logs["sessionActionId"]) == key
    assert sorted(resources["sessionActionId"]) == key
    jobs = dnb.read_history(tmp_path, "jobs")
    assert set(jobs["tables"]) == {",".join(history.TABLES)}

    # The failing job's rows match what its own logs and metrics say.
    job = _load(farm, "failing")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        expected = log_summary_frame(job.logs, job.actions).set_index("sessionActionId")
        used = job.resources.set_index("sessionActionId")
    mine = logs[logs["jobId"] == job.job_id].set_index("sessionActionId")
    assert len(mine) == len(job.actions)
    for column in ("lines", "errorLines", "warningLines", "firstErrorLine", "failureLine"):
        pd.testing.assert_series_equal(
            mine[column].sort_index(), expected.loc[mine.index, column].sort_index(), obj=column
        )
    failed = job.actions.loc[job.actions["status"] == "FAILED", "sessionActionId"]
    assert len(failed) and mine.loc[list(failed), "failureLine"].notna().all()
    started = job.actions.loc[job.actions["startedAt"].notna(), "sessionActionId"]
    assert (mine.loc[list(started), "lines"] > 0).mean() > 0.9
    theirs = resources[resources["jobId"] == job.job_id].set_index("sessionActionId")
    pd.testing.assert_series_equal(
        theirs["memPeakBytes"].sort_index(),
        used.loc[theirs.index, "memPeakBytes"].sort_index(),
    )
    killed = job.actions.loc[job.actions["processExitCode"] == 137, "sessionActionId"]
    assert len(killed) and theirs.loc[list(killed), "memPeakBytes"].notna().all()


def test_a_plain_sync_writes_neither_and_a_later_one_adds_logs(
    still_farm: tuple[LocalFarm, ManualClock], tmp_path: Path
) -> None:
    farm, _ = still_farm
    first = _sync(tmp_path, farm)
    assert not (tmp_path / "logs").exists() and not (tmp_path / "resources").exists()
    assert len(dnb.read_history(tmp_path, "logs")) == 0  # the empty table, its columns
    jobs = dnb.read_history(tmp_path, "jobs")
    assert set(jobs["tables"]) == {",".join(history.BASE_TABLES)}
    # Nothing changed on the farm: only the missing table brings every job back.
    second = _sync(tmp_path, farm, logs=True)
    assert sorted(second.written) == sorted(first.written)
    logs = dnb.read_history(tmp_path, "logs")
    assert set(logs["jobId"]) == set(jobs["jobId"])
    assert set(dnb.read_history(tmp_path, "jobs")["tables"]) == {
        "jobs,steps,tasks,sessions,actions,logs"
    }
    before = _files(tmp_path, "logs")
    # Asked again: nothing to do. Not asked: the logs stay.
    third = _sync(tmp_path, farm, logs=True)
    assert not third.written and sorted(third.unchanged) == sorted(first.written)
    fourth = _sync(tmp_path, farm)
    assert not fourth.written
    assert _files(tmp_path, "logs") == before


def test_a_changed_job_keeps_its_logs_up_to_date_unasked(
    still_farm: tuple[LocalFarm, ManualClock], tmp_path: Path
) -> None:
    farm, clock = still_farm
    _sync(tmp_path, farm, logs=True)
    running = farm.job_by_name("running").job_id
    before = _files(tmp_path, "logs")
    lines_before = dnb.read_history(tmp_path, "logs").query("jobId == @running")["lines"].sum()
    clock.advance(600.0)  # tasks of the running job finish, and log more
    again = _sync(tmp_path, farm)  # no logs=True
    assert again.written == [running]
    after = _files(tmp_path, "logs")
    changed = {p.stem for p in after if after[p] != before.get(p)}
    assert changed == {running}
    lines_after = dnb.read_history(tmp_path, "logs").query("jobId == @running")["lines"].sum()
    assert lines_after > lines_before


def test_older_jobs_rows_without_tables_count_as_the_base(tmp_path: Path) -> None:
    assert history._held({"tables": None}) == history.BASE_TABLES
    assert history._lacks({"tables": None}, (*history.BASE_TABLES, "logs"))
    assert not history._lacks({"tables": "jobs,steps,tasks,sessions,actions"}, history.BASE_TABLES)


def test_log_summary_frame_counts_and_first_error() -> None:
    actions = dnb.session_action_frame(
        [
            {
                "sessionActionId": f"sessionaction-{SID}-{i}",
                "status": status,
                "startedAt": f"2026-11-26T22:0{i}:00Z",
                "endedAt": f"2026-11-26T22:0{i}:30Z",
                "definition": {"taskRun": {"stepId": "step-" + SID, "taskId": f"task-{SID}-{i}"}},
            }
            for i, status in enumerate(["SUCCEEDED", "FAILED", "NEVER_ATTEMPTED"])
        ]
    )
    minute = 60_000
    base = 1795730400000
    lines = [
        (0, "Output:"),
        (0, "WARNING: texture cache nearly full"),
        (0, "done"),
        (1, "Output:"),
        (1, "error: first problem"),
        (1, "Traceback (most recent call last):"),
        (1, "RuntimeError: second problem"),
        (1, "Process pid 4 exited with code: 1 (unsigned) / 0x1 (hex)"),
    ]
    events = [
        {"timestamp": base + action * minute + k * 1000, "message": text}
        for k, (action, text) in enumerate(lines)
    ]
    logs = dnb.log_frame({f"session-{SID}": events}, actions=actions)
    summary = log_summary_frame(logs, actions)
    assert summary["sessionActionId"].tolist() == actions["sessionActionId"].tolist()
    assert summary["lines"].tolist() == [3, 5, 0]
    assert summary["warningLines"].tolist() == [1, 0, 0]
    assert summary["errorLines"].tolist() == [0, 3, 0]
    assert summary["firstErrorLine"].iloc[1] == "error: first problem"
    assert summary["failureLine"].iloc[1] == "RuntimeError: second problem"
    assert pd.isna(summary["failureLine"].iloc[0]) and pd.isna(summary["firstLineAt"].iloc[2])
    assert summary["firstLineAt"].iloc[1] == pd.Timestamp(base + minute + 3000, unit="ms", tz="UTC")
    assert summary["lastLineAt"].iloc[1] == pd.Timestamp(base + minute + 7000, unit="ms", tz="UTC")
    # No logs at all: one row per action, zero lines.
    empty = log_summary_frame(schema.empty_frame(schema.LOG_COLUMNS), actions)
    assert empty["lines"].tolist() == [0, 0, 0]


def test_log_summary_frame_names_the_bad_argument() -> None:
    with pytest.raises(ValueError, match="logs"):
        log_summary_frame(pd.DataFrame({"message": ["x"]}), schema.empty_frame(schema.LOG_COLUMNS))


def test_cli_sync_logs_and_metrics(
    still_farm: tuple[LocalFarm, ManualClock],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    farm, _ = still_farm
    argv = ["sync", "--farm-id", farm.farm_id, "--endpoint-url", farm.endpoint_url]
    argv += ["--no-cache", "--quiet", "--to", str(tmp_path), "--logs", "--metrics"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        assert main(argv) == 0
    assert capsys.readouterr().out.startswith("Synced")
    count = len(dnb.read_history(tmp_path, "actions"))
    assert count and len(dnb.read_history(tmp_path, "logs")) == count
    assert len(dnb.read_history(tmp_path, "resources")) == count
