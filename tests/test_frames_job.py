"""Frames of a whole job: steps, tasks, actions joined with workers, and merging frames."""

from __future__ import annotations

import warnings
from typing import Any

import pandas as pd
import pytest

import deadline_nb as dnb
from deadline_nb import schema
from deadline_nb.frames import concat_frames, sort_actions
from deadline_nb.localfarm.model import JOBS, FarmModel

from .helpers import task_run


@pytest.fixture(scope="module")
def model() -> FarmModel:
    return FarmModel(seed=0)


def test_step_frame_flattens_task_counts(model: FarmModel) -> None:
    view = model.view(model.job_by_name(JOBS["failing"]).job_id)
    steps = dnb.step_frame(view.steps, job_id=view.job["jobId"])
    assert list(steps.columns) == list(schema.STEP_COLUMNS)
    for name, dtype in schema.STEP_COLUMNS.items():
        assert steps[name].dtype == dtype, name
    counts = view.steps[0]["taskRunStatusCounts"]
    for status in schema.TASK_RUN_STATUSES:
        assert steps.loc[0, f"tasks.{status}"] == counts.get(status, 0)
    assert steps.loc[0, "jobId"] == view.job["jobId"]


def test_step_frame_without_counts_has_missing_counts() -> None:
    steps = dnb.step_frame([{"stepId": "step-1", "name": "Render"}])
    assert steps["tasks.SUCCEEDED"].isna().all()
    assert len(dnb.step_frame([])) == 0
    assert list(dnb.step_frame([]).columns) == list(schema.STEP_COLUMNS)


def test_task_frame_types_parameters_like_actions(model: FarmModel) -> None:
    view = model.view(model.job_by_name(JOBS["simulation"]).job_id)
    rows: list[dict[str, Any]] = [
        {**t, "stepId": step} for step, tasks in view.tasks.items() for t in tasks
    ]
    tasks = dnb.task_frame(rows)
    assert list(tasks.columns[: len(schema.TASK_COLUMNS)]) == list(schema.TASK_COLUMNS)
    assert tasks["runStatus"].dtype == schema.TASK_RUN_STATUS
    assert tasks["param.Frame"].dtype == schema.STRING  # chunkInt: a range, kept as text
    assert tasks["param.Frame"].iloc[0] == "1-10"
    assert set(tasks["stepId"]) == set(view.tasks)


def test_task_frame_keeps_the_rest_when_a_value_is_wrong() -> None:
    rows: list[dict[str, Any]] = [
        {"taskId": "task-1", "runStatus": "SUCCEEDED", "failureRetryCount": 1},
        {"taskId": "task-2", "runStatus": "EXPLODED", "failureRetryCount": "two"},
    ]
    with pytest.warns(dnb.errors.DataWarning) as caught:
        tasks = dnb.task_frame(rows)
    messages = " ".join(str(w.message) for w in caught)
    assert "task-2" in messages and "task-1" not in messages
    assert tasks["failureRetryCount"].tolist()[0] == 1
    assert pd.isna(tasks["failureRetryCount"].iloc[1]) and pd.isna(tasks["runStatus"].iloc[1])


def test_job_action_frame_joins_steps_and_workers(model: FarmModel) -> None:
    job_id = model.job_by_name(JOBS["render"]).job_id
    view = model.view(job_id)
    actions = dnb.session_action_frame(model.session_actions(job_id))
    joined = dnb.job_action_frame(
        actions, steps=dnb.step_frame(view.steps), sessions=dnb.session_frame(view.sessions)
    )
    fixed = [*schema.SESSION_ACTION_COLUMNS, *schema.JOB_ACTION_COLUMNS]
    assert list(joined.columns[: len(fixed)]) == fixed
    assert [c for c in joined.columns if c.startswith("param.")] == [
        c for c in actions.columns if c.startswith("param.")
    ]
    worker = {s["sessionId"]: s["workerId"] for s in view.sessions}
    assert (joined["workerId"].astype(str) == joined["sessionId"].astype(str).map(worker)).all()
    env = joined["actionType"] == "envEnter"
    assert joined.loc[env, "stepName"].isna().all()  # a job environment belongs to no step
    assert joined.loc[~env & (joined["actionType"] == "taskRun"), "stepName"].notna().all()
    pd.testing.assert_frame_equal(joined[list(actions.columns)], actions)


def test_job_action_frame_without_tables_has_missing_columns() -> None:
    actions = dnb.session_action_frame([task_run(0)])
    joined = dnb.job_action_frame(actions)
    assert joined[list(schema.JOB_ACTION_COLUMNS)].isna().all().all()
    empty = dnb.job_action_frame(dnb.session_action_frame([]))
    assert list(empty.columns) == [*schema.SESSION_ACTION_COLUMNS, *schema.JOB_ACTION_COLUMNS]


def test_concat_frames_keeps_dtypes_across_different_parameters() -> None:
    a = dnb.session_action_frame([task_run(0, parameters={"Frame": {"int": "1"}})])
    b = dnb.session_action_frame(
        [task_run(1, parameters={"Frame": {"float": "1.5"}, "Layer": {"string": "beauty"}})]
    )
    both = concat_frames([a, b])
    assert both["param.Frame"].dtype == pd.Float64Dtype()
    assert both["param.Frame"].tolist() == [1.0, 1.5]
    assert both["param.Layer"].dtype == schema.STRING and pd.isna(both["param.Layer"].iloc[0])
    for name, dtype in schema.SESSION_ACTION_COLUMNS.items():
        if dtype != schema.CATEGORY:
            assert both[name].dtype == dtype, name
        else:
            assert isinstance(both[name].dtype, pd.CategoricalDtype), name


def test_concat_then_sort_equals_one_frame_of_everything(model: FarmModel) -> None:
    items = model.session_actions(model.job_by_name(JOBS["reclaimed"]).job_id)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        whole = sort_actions(dnb.session_action_frame(items))
        parts = sort_actions(
            concat_frames(
                [dnb.session_action_frame(items[::2]), dnb.session_action_frame(items[1::2])]
            )
        )
    for name in whole.columns:
        left, right = whole[name], parts[name]
        if isinstance(left.dtype, pd.CategoricalDtype) and not left.dtype.ordered:
            left, right = left.astype(str), right.astype(str)
        pd.testing.assert_series_equal(left, right, check_names=True)


def test_sort_actions_gives_one_frame_whatever_the_input_order(model: FarmModel) -> None:
    items = model.session_actions(model.job_by_name(JOBS["failing"]).job_id)
    forward = sort_actions(dnb.session_action_frame(items))
    backward = sort_actions(dnb.session_action_frame(items[::-1]))
    pd.testing.assert_frame_equal(forward, backward)
