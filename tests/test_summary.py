"""Tests of deadline_nb.summary: the per-step table and exit-code names."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
import pytest

from deadline_nb import summary
from deadline_nb.summary import SUMMARY_COLUMNS, TOTAL_LABEL, exit_code_name
from tests import helpers as h
from tests import plot_data


def summarize(df: pd.DataFrame) -> Any:
    # The table holds ints, Timedeltas and Timestamps; pandas-stubs type each cell as a union of
    # every scalar pandas knows, which no comparison below would satisfy.
    return summary.summarize(df)


def _session() -> pd.DataFrame:
    """One session: enter 5 s, sync 12 s, runs of 60, 95.5 and 60 s (failed), exit 5 s.

    Actions start every 100 s (helpers), so the session runs 0..505 s with gaps between them.
    """
    return plot_data.frame(h.session_actions(), workerId=["worker-" + "9" * 32] * 6)


def test_summary_of_one_session_adds_up() -> None:
    table = summarize(_session())
    assert list(table.columns) == list(SUMMARY_COLUMNS)
    assert list(table.index) == [h.STEP, TOTAL_LABEL]
    total = table.loc[TOTAL_LABEL]
    assert total["actions"] == 6
    assert (total["taskRuns"], total["succeeded"], total["failed"]) == (3, 2, 1)
    assert total["taskRunTime"] == pd.Timedelta(seconds=215.5)
    assert total["envTime"] == pd.Timedelta(seconds=10)
    assert total["syncTime"] == pd.Timedelta(seconds=12)
    assert total["busyTime"] == pd.Timedelta(seconds=237.5)
    assert total["sessionTime"] == pd.Timedelta(seconds=505)
    assert total["overhead"] == pd.Timedelta(seconds=505 - 237.5)
    assert total["medianDuration"] == pd.Timedelta(seconds=60)
    assert total["maxDuration"] == pd.Timedelta(seconds=95.5)
    assert total["p95Duration"] == pd.Timedelta(seconds=91.95)  # interpolated, to the ms
    assert (total["sessions"], total["workers"]) == (1, 1)
    assert total["startedAt"] == pd.Timestamp(h.T0)
    assert total["endedAt"] == pd.Timestamp(h.T0 + timedelta(seconds=505))
    # the job environment's actions belong to the session's step
    assert table.loc[h.STEP, "actions"] == 6


def test_summary_of_the_failing_job_counts_retries_and_failures() -> None:
    df = plot_data.job_frame("failing")
    table = summarize(df)
    assert list(table.index) == [*plot_data.truth("failing").steps, TOTAL_LABEL]
    runs = df[df["actionType"] == "taskRun"]
    row = table.loc["Crowd Sim"]
    truth = plot_data.truth("failing")
    assert (
        row["taskRuns"]
        == runs["startedAt"].notna().sum()
        == truth.count(kind="taskRun", attempted=True)
    )
    assert row["succeeded"] == (runs["status"] == "SUCCEEDED").sum()
    assert row["failed"] == (runs["status"] == "FAILED").sum()
    assert row["failed"] == truth.count(kind="taskRun", status="FAILED") > 0
    assert row["neverAttempted"] == (runs["status"] == "NEVER_ATTEMPTED").sum()
    attempts = runs[runs["startedAt"].notna()].groupby("taskId").size()
    assert row["retriedTasks"] == (attempts > 1).sum()
    assert row["retriedTasks"] == sum(n > 1 for n in truth.attempts_per_task().values()) > 0
    assert row["tasks"] == runs["taskId"].nunique()
    assert row["workers"] == df["workerId"].nunique()
    assert row["sessions"] == df["sessionId"].nunique()
    assert row["busyTime"] == df["duration"].sum()
    assert row["overhead"] == row["sessionTime"] - row["busyTime"]


def test_summary_has_a_row_per_step_and_totals_over_the_whole_job() -> None:
    df = plot_data.job_frame("simulation")
    table = summarize(df)
    truth = plot_data.truth("simulation")
    assert list(table.index) == [*truth.steps, TOTAL_LABEL]
    assert table.loc["Simulate", "taskRuns"] + table.loc["Mesh", "taskRuns"] == truth.count(
        kind="taskRun", attempted=True
    )
    for step in truth.steps:
        assert table.loc[step, "taskRuns"] == truth.count(kind="taskRun", attempted=True, step=step)
    assert table.loc[TOTAL_LABEL, "busyTime"] == df["duration"].sum()
    # env and sync actions go to their session's step: nothing is left without one
    assert table.loc["Simulate", "actions"] + table.loc["Mesh", "actions"] == len(df)


def test_summary_counts_running_actions_up_to_their_last_update() -> None:
    df = plot_data.job_frame("running")
    running = df[df["startedAt"].notna() & df["endedAt"].isna()]
    so_far = (running["workerUpdatedAt"] - running["startedAt"]).sum()
    total = summarize(df).loc[TOTAL_LABEL]
    assert total["busyTime"] == df["duration"].sum() + so_far
    assert total["taskRuns"] == df.loc[df["actionType"] == "taskRun", "startedAt"].notna().sum()


def test_summary_of_an_empty_frame_is_one_row_of_zeros() -> None:
    for df in (plot_data.frame([]), pd.DataFrame()):
        table = summarize(df)
        assert list(table.index) == [TOTAL_LABEL]
        assert table.loc[TOTAL_LABEL, "actions"] == 0
        assert table.loc[TOTAL_LABEL, "busyTime"] == pd.Timedelta(0)
        assert pd.isna(table.loc[TOTAL_LABEL, "medianDuration"])


def test_summary_of_never_attempted_actions_takes_no_time() -> None:
    df = plot_data.frame([h.task_run(n, status="NEVER_ATTEMPTED") for n in range(3)])
    total = summarize(df).loc[TOTAL_LABEL]
    assert (total["taskRuns"], total["neverAttempted"], total["tasks"]) == (0, 3, 3)
    assert total["busyTime"] == pd.Timedelta(0)
    assert pd.isna(total["startedAt"])


@pytest.mark.parametrize(
    ("code", "name"),
    [
        (-1073741819, "0xC0000005 access violation"),
        (3221225477, "0xC0000005 access violation"),  # the same code read unsigned
        (-1073741571, "0xC00000FD stack overflow"),
        (-1073740791, "0xC0000409 stack buffer overrun (fail-fast)"),
        (137, "SIGKILL (128+9): killed, often by the out-of-memory killer"),
        (139, "SIGSEGV (128+11): segmentation fault"),
        (-9, "SIGKILL (-9): killed, often by the out-of-memory killer"),
        (143, "SIGTERM (128+15): terminated"),
        (1, "general error"),
        (127, "command not found"),
        (0, "success"),
        (42, None),
        (None, None),
        (pd.NA, None),
    ],
)
def test_exit_code_names(code: object, name: str | None) -> None:
    assert exit_code_name(code) == name  # type: ignore[arg-type]
