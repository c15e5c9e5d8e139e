"""Tests of deadline_nb.trace: the Chrome/Perfetto trace a timeline exports to."""

from __future__ import annotations

import gzip
import json
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from deadline_nb.errors import DataWarning
from deadline_nb.trace import to_chrome_trace
from tests import helpers as h
from tests import plot_data


def read(path: Path) -> list[dict[str, Any]]:
    opener: Any = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        document = json.load(f)
    assert document["displayTimeUnit"] == "ms"
    events: list[dict[str, Any]] = document["traceEvents"]
    return events


def slices(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["ph"] == "X"]


def names(events: list[dict[str, Any]], kind: str) -> dict[tuple[int, int], str]:
    return {(e["pid"], e["tid"]): e["args"]["name"] for e in events if e["name"] == kind}


def test_trace_has_one_slice_per_attempted_action_on_its_worker_track(tmp_path: Path) -> None:
    df = plot_data.job_frame("failing")
    events = read(to_chrome_trace(df, tmp_path / "job.json"))
    done = df[df["startedAt"].notna()]
    assert len(slices(events)) == len(done) == plot_data.truth("failing").count(attempted=True)
    threads = names(events, "thread_name")
    assert sorted(set(threads.values())) == sorted(df["workerId"].astype(str).unique())
    processes = {e["pid"]: e["args"]["name"] for e in events if e["name"] == "process_name"}
    assert sorted(processes.values()) == sorted(df["fleetId"].astype(str).unique())
    by_id = {e["args"]["sessionActionId"]: e for e in slices(events)}
    for _, row in done.sample(20, random_state=0).iterrows():
        event = by_id[row["sessionActionId"]]
        assert threads[(event["pid"], event["tid"])] == row["workerId"]
        assert event["ts"] == row["startedAt"].value // 1000  # microseconds since the epoch
        assert event["dur"] == row["duration"].value // 1000
        assert event["args"]["status"] == row["status"]
        assert event["cat"] == row["actionType"]


def test_trace_names_task_runs_by_step_and_parameters_and_flags_failures(tmp_path: Path) -> None:
    df = plot_data.job_frame("failing")
    events = slices(read(to_chrome_trace(df, tmp_path / "job.json")))
    failed = [e for e in events if e["args"]["status"] == "FAILED"]
    assert len(failed) == plot_data.truth("failing").count(status="FAILED", attempted=True) > 0
    assert all(e["cname"] == "terrible" for e in failed)
    codes = sorted(e["args"]["processExitCode"] for e in failed)
    assert codes == sorted(df.loc[df["status"] == "FAILED", "processExitCode"].tolist())
    runs = [e for e in events if e["cat"] == "taskRun"]
    assert all(e["name"].startswith("Crowd Sim Frame=") for e in runs)
    assert {e["name"] for e in events if e["cat"] != "taskRun"} == {
        "envEnter",
        "envExit",
        "syncInputJobAttachments",
    }


def test_trace_of_running_actions_ends_at_the_last_update(tmp_path: Path) -> None:
    df = plot_data.job_frame("running")
    events = slices(read(to_chrome_trace(df, tmp_path / "running.json.gz")))
    running = df[df["startedAt"].notna() & df["endedAt"].isna()]
    by_id = {e["args"]["sessionActionId"]: e for e in events}
    for _, row in running.iterrows():
        event = by_id[row["sessionActionId"]]
        assert event["dur"] == (row["workerUpdatedAt"] - row["startedAt"]).value // 1000
        assert "open" in event["args"]
        assert event["args"]["progressPercent"] == pytest.approx(row["progressPercent"])


def test_trace_without_workers_falls_back_to_sessions(tmp_path: Path) -> None:
    df = plot_data.frame(plot_data.actions("failing"))
    with pytest.warns(DataWarning, match="workerId"):
        events = read(to_chrome_trace(df, tmp_path / "job.json"))
    threads = names(events, "thread_name")
    assert len(threads) == df.loc[df["startedAt"].notna(), "sessionId"].nunique()
    assert all(name.startswith("session-") for name in threads.values())


def test_trace_of_an_empty_frame_is_a_valid_trace(tmp_path: Path) -> None:
    for df in (plot_data.frame([]), pd.DataFrame()):
        with pytest.warns(DataWarning):  # no workerId column
            events = read(to_chrome_trace(df, tmp_path / "empty.json"))
        assert slices(events) == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a job's frame has the column: nothing to warn about
        events = read(to_chrome_trace(plot_data.job_frame("failing").iloc[:0], tmp_path / "e.json"))
    assert events == []


def test_trace_keeps_parameters_and_ids_in_the_arguments(tmp_path: Path) -> None:
    df = plot_data.frame(
        [h.task_run(2, parameters={"Frame": {"chunkInt": "1-10"}, "Layer": {"string": "fg"}})],
        workerId=["worker-" + "9" * 32],
    )
    (event,) = slices(read(to_chrome_trace(df, tmp_path / "one.json")))
    assert event["args"]["param.Frame"] == "1-10"
    assert event["args"]["param.Layer"] == "fg"
    assert event["name"] == f"{h.STEP} Frame=1-10 Layer=fg"
    assert event["args"]["taskId"] == f"task-{h.STEP[5:]}-2"


def test_trace_names_a_wrong_lanes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"`lanes` must be one of \['worker', 'session', 'step'\]"):
        to_chrome_trace(plot_data.job_frame("failing"), tmp_path / "x.json", lanes="fleet")
