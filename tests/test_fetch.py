"""The fetch layer against the local farm, over HTTP, through real boto3 clients."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import botocore.exceptions
import pandas as pd
import pytest

import deadline_nb as dnb
from deadline_nb import errors, schema
from deadline_nb.localfarm import JOBS, LocalFarm, ManualClock

from .fetch_helpers import READ_PREFIXES, Recorder, by_id, changed_between

FINISHED_ROLES = ["render", "simulation", "failing", "canceled", "reclaimed"]


@pytest.fixture
def recorded(farm: LocalFarm) -> tuple[Any, Recorder]:
    """A client made by the library's factory, and a record of what it sends."""
    c = dnb.client(endpoint_url=farm.endpoint_url)
    return c, Recorder(c)


def ids(farm: LocalFarm, role: str) -> tuple[str, str, str]:
    job = farm.job_by_name(role)
    return farm.farm_id, job.queue_id, job.job_id


@pytest.mark.parametrize("role", FINISHED_ROLES)
def test_every_action_once_with_the_fields_of_the_truth(
    farm: LocalFarm, recorded: tuple[Any, Recorder], role: str
) -> None:
    c, recorder = recorded
    actions = dnb.fetch_session_actions(*ids(farm, role), client=c, cache=False, progress=False)
    ids_seen = [a["sessionActionId"] for a in actions]
    assert len(ids_seen) == len(set(ids_seen))
    assert by_id(actions) == by_id(farm.model.session_actions(farm.job_by_name(role).job_id))
    # Few calls: one GetJob, the listings, and full batches of 100.
    assert recorder.calls["GetSessionAction"] == 0
    assert recorder.calls["BatchGetSessionAction"] <= len(actions) // 100 + 2


def test_the_running_job_matches_the_truth_at_the_same_instant(farm: LocalFarm) -> None:
    with LocalFarm(seed=0, clock=ManualClock()) as frozen:
        fetched = dnb.fetch_session_actions(
            *ids(frozen, "running"), client=frozen.client(), cache=False, progress=False
        )
        truth = frozen.model.session_actions(frozen.job_by_name("running").job_id)
    assert by_id(fetched) == by_id(truth)
    assert {"RUNNING", "SUCCEEDED"} <= {a["status"] for a in fetched}


def test_actions_come_ordered_by_session_then_integer_position(farm: LocalFarm) -> None:
    actions = dnb.fetch_session_actions(
        *ids(farm, "render"), client=farm.client(), cache=False, progress=False
    )
    keys = [(a["sessionId"], int(a["sessionActionId"].rsplit("-", 1)[1])) for a in actions]
    assert keys == sorted(keys)
    assert any(k[1] >= 10 for k in keys)  # so that string order would have differed


def test_one_session(farm: LocalFarm) -> None:
    farm_id, queue_id, job_id = ids(farm, "failing")
    truth = farm.model.session_actions(job_id)
    session = truth[0]["sessionId"]
    actions = dnb.fetch_session_actions(
        farm_id, queue_id, job_id, session_id=session, client=farm.client(), cache=False
    )
    assert by_id(actions) == by_id([a for a in truth if a["sessionId"] == session])


def test_throttled_and_faulty_farm_still_gives_every_action() -> None:
    with LocalFarm(seed=0, throttle_rate=10.0, fault_rate=0.05, item_fault_rate=0.05) as farm:
        c = dnb.client(endpoint_url=farm.endpoint_url)
        recorder = Recorder(c)
        actions = dnb.fetch_session_actions(*ids(farm, "render"), client=c, cache=False)
        requests = sum(farm.calls.values())
    truth = farm.model.session_actions(farm.job_by_name("render").job_id)
    assert by_id(actions) == by_id(truth)
    # The farm answered more requests than the library made calls: retries happened.
    assert requests > recorder.total


def test_falls_back_to_get_session_action_where_batch_is_unavailable() -> None:
    with LocalFarm(seed=0) as farm:
        farm.unavailable_operations.add("BatchGetSessionAction")
        c = dnb.client(endpoint_url=farm.endpoint_url)
        recorder = Recorder(c)
        actions = dnb.fetch_session_actions(*ids(farm, "failing"), client=c, cache=False)
    assert by_id(actions) == by_id(farm.model.session_actions(farm.job_by_name("failing").job_id))
    # Tried with the batches already under way (two for this job), then never again.
    assert 1 <= recorder.calls["BatchGetSessionAction"] <= 2
    assert sorted(recorder.gets) == sorted(a["sessionActionId"] for a in actions)


def test_an_action_that_vanished_is_warned_about_and_the_rest_kept(
    farm: LocalFarm, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = farm.client()
    real = c.batch_get_session_action
    gone = "sessionaction-" + "0" * 32 + "-0"

    def batch(**params: Any) -> Any:  # the service lists an action it then cannot find
        response: Any = real(**params)
        first = params["identifiers"][0]
        response["errors"].append(
            {**first, "sessionActionId": gone, "code": "ResourceNotFoundException", "message": "x"}
        )
        return response

    monkeypatch.setattr(c, "batch_get_session_action", batch)
    with pytest.warns(errors.DataWarning, match=gone):
        actions = dnb.fetch_session_actions(*ids(farm, "failing"), client=c, cache=False)
    assert len(actions) == len(farm.model.session_actions(farm.job_by_name("failing").job_id))


# ---- cache


@pytest.fixture
def cache_path(tmp_path: Path) -> Path:
    return tmp_path / "cache.sqlite3"


@pytest.mark.parametrize("role", FINISHED_ROLES)
def test_a_finished_job_costs_one_call_the_second_time(
    farm: LocalFarm, recorded: tuple[Any, Recorder], cache_path: Path, role: str
) -> None:
    c, recorder = recorded
    first = dnb.fetch_session_actions(*ids(farm, role), client=c, cache=cache_path)
    recorder.clear()
    second = dnb.fetch_session_actions(*ids(farm, role), client=c, cache=cache_path)
    assert recorder.total <= 1
    assert by_id(second) == by_id(first)
    # The same for the whole job's frames.
    dnb.load_job(*ids(farm, role), client=c, cache=cache_path, progress=False)
    recorder.clear()
    job = dnb.load_job(*ids(farm, role), client=c, cache=cache_path, progress=False)
    assert recorder.total <= 1
    assert len(job.actions) == len(first)


def test_a_running_job_refetches_only_what_changed(cache_path: Path) -> None:
    clock = ManualClock()
    with LocalFarm(seed=0, clock=clock) as farm:
        job_id = farm.job_by_name("running").job_id
        c = dnb.client(endpoint_url=farm.endpoint_url)
        recorder = Recorder(c)
        first = dnb.fetch_session_actions(*ids(farm, "running"), client=c, cache=cache_path)
        before = farm.model.session_actions(job_id)

        recorder.clear()
        unchanged = dnb.fetch_session_actions(*ids(farm, "running"), client=c, cache=cache_path)
        assert recorder.batched == []  # nothing moved: nothing fetched in full
        assert by_id(unchanged) == by_id(first)

        clock.advance(90.0)  # six heartbeats later
        after = farm.model.session_actions(job_id)
        recorder.clear()
        second = dnb.fetch_session_actions(*ids(farm, "running"), client=c, cache=cache_path)
    changed = changed_between(before, after)
    assert changed  # the job advanced
    assert sorted(recorder.batched) == sorted(changed)
    assert by_id(second) == by_id(after)
    terminal = {a["sessionActionId"] for a in first if a["status"] in schema.TERMINAL_STATUSES}
    assert not terminal & set(recorder.batched)


def test_progress_snapshots_accumulate_for_running_actions(cache_path: Path) -> None:
    clock = ManualClock()
    with LocalFarm(seed=0, clock=clock) as farm:
        c = farm.client()
        loads = []
        for _ in range(3):
            loads.append(
                dnb.load_job(*ids(farm, "running"), client=c, cache=cache_path, progress=False)
            )
            clock.advance(30.0)
    snapshots = loads[-1].snapshots
    assert list(snapshots.columns) == list(schema.SNAPSHOT_COLUMNS)
    for name, dtype in schema.SNAPSHOT_COLUMNS.items():
        assert snapshots[name].dtype == dtype, name
    per_action = snapshots.groupby("sessionActionId", observed=True)["progressPercent"]
    # Some action was seen at three instants, its progress never going back.
    assert per_action.size().max() >= 3
    assert all(s.is_monotonic_increasing for _, s in per_action if s.notna().all())
    # An action already finished when first seen has no snapshot; none is repeated unchanged.
    first = loads[0].actions
    done = set(first.loc[first["status"].isin(schema.TERMINAL_STATUSES), "sessionActionId"])
    assert done and not done & set(snapshots["sessionActionId"])
    assert not snapshots.duplicated(["sessionActionId", "status", "progressPercent"]).any()


def test_cache_file_is_private_and_follows_the_environment(
    farm: LocalFarm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "sub" / "mine.sqlite3"
    monkeypatch.setenv("DEADLINE_NB_CACHE", str(path))
    dnb.fetch_session_actions(*ids(farm, "failing"), client=farm.client(), progress=False)
    assert path.exists()
    assert path.stat().st_mode & 0o777 == 0o600
    with dnb.Cache() as cache:
        assert cache.path == path
        assert cache.count("action", *ids(farm, "failing")) > 0


def test_cache_false_writes_nothing(
    farm: LocalFarm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEADLINE_NB_CACHE", str(tmp_path / "never.sqlite3"))
    dnb.fetch_session_actions(*ids(farm, "failing"), client=farm.client(), cache=False)
    assert not (tmp_path / "never.sqlite3").exists()


def test_refresh_fetches_everything_again(
    farm: LocalFarm, recorded: tuple[Any, Recorder], cache_path: Path
) -> None:
    c, recorder = recorded
    first = dnb.fetch_session_actions(*ids(farm, "failing"), client=c, cache=cache_path)
    recorder.clear()
    dnb.fetch_session_actions(*ids(farm, "failing"), client=c, cache=cache_path, refresh=True)
    assert sorted(recorder.batched) == sorted(a["sessionActionId"] for a in first)


def test_a_failed_fetch_keeps_what_it_had_and_the_rerun_resumes(cache_path: Path) -> None:
    with LocalFarm(seed=0) as farm:
        c = dnb.client(endpoint_url=farm.endpoint_url)
        recorder = Recorder(c)

        def expire(**_: Any) -> None:  # the login runs out after the first batch
            farm.expired_credentials = True

        c.meta.events.register("after-call.deadline.BatchGetSessionAction", expire)
        with pytest.raises(errors.CredentialsError) as caught:
            dnb.fetch_session_actions(
                *ids(farm, "render"), client=c, cache=cache_path, max_workers=1
            )
        kept = {a["sessionActionId"] for a in caught.value.partial}
        assert 0 < len(kept) < len(farm.model.session_actions(farm.job_by_name("render").job_id))

        farm.expired_credentials = False
        c.meta.events.unregister("after-call.deadline.BatchGetSessionAction", expire)
        recorder.clear()
        actions = dnb.fetch_session_actions(*ids(farm, "render"), client=c, cache=cache_path)
    assert by_id(actions) == by_id(farm.model.session_actions(farm.job_by_name("render").job_id))
    assert not kept & set(recorder.batched)


# ---- load_job


def test_load_job_frames_agree_with_the_farm(farm: LocalFarm, cache_path: Path) -> None:
    farm_id, queue_id, job_id = ids(farm, "simulation")
    job = dnb.load_job(farm_id, queue_id, job_id, client=farm.client(), cache=cache_path)
    view = farm.model.view(job_id)
    assert job.job_id == job_id and job.name == JOBS["simulation"]
    assert job.finished
    assert list(job.steps["name"]) == [s["name"] for s in view.steps]
    assert len(job.tasks) == sum(len(tasks) for tasks in view.tasks.values())
    assert job.tasks["param.Frame"].str.contains("-").all()  # chunkInt ranges stay text
    assert len(job.sessions) == len(view.sessions)
    assert len(job.actions) == len(view.actions)
    fixed = list(schema.SESSION_ACTION_COLUMNS) + list(schema.JOB_ACTION_COLUMNS)
    assert list(job.actions.columns[: len(fixed)]) == fixed
    worker = {s["sessionId"]: s["workerId"] for s in view.sessions}
    assert (job.actions["workerId"].astype(str) == job.actions["sessionId"].map(worker)).all()
    step_name = {s["stepId"]: s["name"] for s in view.steps}
    runs = job.actions[job.actions["actionType"] == "taskRun"]
    assert (runs["stepName"].astype(str) == runs["stepId"].astype(str).map(step_name)).all()
    assert "sq020_fluid_sim_v012" in repr(job)


def test_load_job_from_the_cache_equals_the_first_load(farm: LocalFarm, cache_path: Path) -> None:
    c = farm.client()
    first = dnb.load_job(*ids(farm, "failing"), client=c, cache=cache_path, progress=False)
    again = dnb.load_job(*ids(farm, "failing"), client=c, cache=cache_path, progress=False)
    uncached = dnb.load_job(*ids(farm, "failing"), client=c, cache=False, progress=False)
    for name in ("steps", "tasks", "sessions", "actions"):
        pd.testing.assert_frame_equal(getattr(first, name), getattr(again, name))
    pd.testing.assert_frame_equal(first.actions, uncached.actions)


def test_ids_default_from_the_deadline_config(farm: LocalFarm, deadline_defaults: Any) -> None:
    farm_id, queue_id, job_id = ids(farm, "failing")
    deadline_defaults(farm_id, queue_id, job_id)
    assert dnb.aws.config_defaults()["job_id"] == job_id
    job = dnb.load_job(client=farm.client(), cache=False, progress=False)
    assert job.job_id == job_id


def test_every_fetch_and_list_takes_its_ids_from_the_deadline_config(
    farm: LocalFarm, deadline_defaults: Any
) -> None:
    farm_id, queue_id, job_id = ids(farm, "simulation")
    deadline_defaults(farm_id, queue_id, job_id)
    c = farm.client()
    # Left out entirely, and given in part (the rest from the config): the same answers.
    assert dnb.list_queues(client=c) == dnb.list_queues(farm_id, client=c)
    assert dnb.list_jobs(client=c) == dnb.list_jobs(farm_id, queue_id, client=c)
    assert dnb.list_jobs(farm_id, client=c) == dnb.list_jobs(farm_id, queue_id, client=c)
    assert dnb.fetch_job(client=c)["jobId"] == job_id
    assert dnb.fetch_job(farm_id, queue_id, client=c)["jobId"] == job_id
    assert dnb.fetch_steps(client=c) == dnb.fetch_steps(farm_id, queue_id, job_id, client=c)
    assert dnb.fetch_tasks(client=c) == dnb.fetch_tasks(farm_id, queue_id, job_id, client=c)
    sessions = dnb.fetch_sessions(client=c)
    assert sessions == dnb.fetch_sessions(farm_id, queue_id, job_id, client=c)
    assert {s["sessionId"] for s in sessions} == {
        s["sessionId"] for s in farm.model.view(job_id).sessions
    }
    actions = dnb.fetch_session_actions(client=c, cache=False, progress=False)
    assert len(actions) == len(farm.model.session_actions(job_id))
    frame = dnb.fetch_session_action_frame(client=c, cache=False, progress=False)
    assert len(frame) == len(actions)


@pytest.mark.parametrize(
    ("call", "given", "missing"),
    [
        (dnb.list_queues, 0, "farm_id"),
        (dnb.list_jobs, 0, "farm_id"),
        (dnb.list_jobs, 1, "queue_id"),
        (dnb.fetch_job, 2, "job_id"),
        (dnb.fetch_steps, 1, "queue_id"),
        (dnb.fetch_tasks, 2, "job_id"),
        (dnb.fetch_sessions, 0, "farm_id"),
        (dnb.fetch_session_actions, 2, "job_id"),
        (dnb.fetch_session_action_frame, 1, "queue_id"),
        (dnb.load_job, 2, "job_id"),
    ],
)
def test_a_missing_id_is_one_sentence(
    farm: LocalFarm,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    call: Any,
    given: int,
    missing: str,
) -> None:
    monkeypatch.setenv("DEADLINE_CONFIG_FILE_PATH", str(tmp_path / "empty"))
    recorder = Recorder(c := farm.client())
    with pytest.raises(ValueError, match=f"No {missing} was given") as caught:
        call(*[farm.farm_id, "queue-x"][:given], client=c)
    assert f"deadline config set defaults.{missing}" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert recorder.total == 0  # said before any call


def test_client_and_boto3_session_together_is_an_argument_error(farm: LocalFarm) -> None:
    import boto3

    with pytest.raises(ValueError, match="The value for `boto3_session` must be None"):
        dnb.list_farms(client=farm.client(), boto3_session=boto3.Session(region_name="us-west-2"))


# ---- pickers' lists


def test_lists_for_pickers(farm: LocalFarm, recorded: tuple[Any, Recorder]) -> None:
    c, _ = recorded
    farms = dnb.list_farms(client=c)
    assert [f["farmId"] for f in farms] == [farm.farm_id]
    queues = dnb.list_queues(farm.farm_id, client=c)
    assert {q["queueId"] for q in queues} == {q["queueId"] for q in farm.model.queues}
    queue_id = farm.job_by_name("render").queue_id
    jobs = dnb.list_jobs(farm.farm_id, queue_id, client=c)
    assert {j["jobId"] for j in jobs} == {s.job_id for s in farm.model.queue_jobs(queue_id)}
    created = [j["createdAt"] for j in jobs]
    assert created == sorted(created, reverse=True)
    tasks = dnb.fetch_tasks(*ids(farm, "simulation"), client=c)
    assert all(t["stepId"].startswith("step-") for t in tasks)


# ---- errors a TD can act on


def test_access_denied_to_a_queue(farm: LocalFarm) -> None:
    farm_id, queue_id, job_id = ids(farm, "failing")
    farm.denied_queues.add(queue_id)
    try:
        with pytest.raises(errors.AccessDeniedError) as caught:
            dnb.fetch_session_actions(farm_id, queue_id, job_id, client=farm.client(), cache=False)
    finally:
        farm.denied_queues.clear()
    error = caught.value
    assert (error.farm_id, error.queue_id, error.job_id) == (farm_id, queue_id, job_id)
    assert error.code == "AccessDeniedException" and error.operation == "GetJob"
    assert queue_id in str(error) and "\n" not in str(error)
    assert isinstance(error.__cause__, botocore.exceptions.ClientError)
    assert isinstance(error, PermissionError)


def test_job_not_found(farm: LocalFarm) -> None:
    farm_id, queue_id, _ = ids(farm, "failing")
    missing = "job-" + "0" * 32
    with pytest.raises(errors.NotFoundError) as caught:
        dnb.load_job(farm_id, queue_id, missing, client=farm.client(), cache=False)
    assert caught.value.job_id == missing
    assert caught.value.resource_id == missing
    assert missing in str(caught.value)


def test_expired_credentials(farm: LocalFarm) -> None:
    farm.expired_credentials = True
    try:
        with pytest.raises(errors.CredentialsError, match="expired") as caught:
            dnb.list_farms(client=farm.client())
    finally:
        farm.expired_credentials = False
    assert caught.value.code == "ExpiredTokenException"


@pytest.mark.usefixtures("no_aws_config")
def test_no_region() -> None:
    with pytest.raises(errors.NoRegionError, match="region"):
        dnb.client()


@pytest.mark.usefixtures("no_aws_config")
def test_no_credentials_before_any_request() -> None:
    # A documentation address (TEST-NET-1): nothing is sent, signing fails first.
    c = dnb.client(endpoint_url="http://192.0.2.1:9", region="us-west-2")
    with pytest.raises(errors.CredentialsError, match="credentials") as caught:
        dnb.list_farms(client=c)
    assert type(caught.value.__cause__).__name__ == "NoCredentialsError"


@pytest.mark.usefixtures("no_aws_config")
def test_local_endpoint_needs_no_credentials(farm: LocalFarm) -> None:
    c = dnb.client(endpoint_url=farm.endpoint_url)
    assert [f["farmId"] for f in dnb.list_farms(client=c)] == [farm.farm_id]


def test_unknown_profile_is_one_sentence() -> None:
    with pytest.raises(errors.CredentialsError, match="no-such-profile"):
        dnb.client(profile="no-such-profile")


# ---- the client


def test_client_is_set_up_for_parallel_fetches(farm: LocalFarm) -> None:
    c = dnb.client(endpoint_url=farm.endpoint_url, max_workers=12)
    config: Any = c.meta.config
    assert config.retries["mode"] == "adaptive"
    assert config.max_pool_connections == 14
    assert config.inject_host_prefix is False
    farm_id, queue_id, job_id = ids(farm, "failing")
    started = c.get_job(farmId=farm_id, queueId=queue_id, jobId=job_id)
    assert started["createdAt"].utcoffset() == timedelta(0)


def test_progress_bar_only_when_asked(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with LocalFarm(seed=0, latency=0.2) as farm:
        c = farm.client()
        dnb.fetch_session_actions(*ids(farm, "render"), client=c, cache=False, progress=False)
        assert capsys.readouterr().err == ""
        dnb.fetch_session_actions(*ids(farm, "render"), client=c, cache=False, progress=True)
        assert "action" in capsys.readouterr().err


def test_logging_is_silent_by_default_and_available(
    farm: LocalFarm, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    with LocalFarm(seed=0) as small:
        small.unavailable_operations.add("BatchGetSessionAction")
        # progress=False: this is about logging; the progress bar has its own test.
        dnb.fetch_session_actions(
            *ids(small, "failing"), client=small.client(), cache=False, progress=False
        )
        assert capsys.readouterr().err == ""
        with caplog.at_level(logging.INFO, logger="deadline_nb"):
            dnb.fetch_session_actions(
                *ids(small, "failing"), client=small.client(), cache=False, progress=False
            )
    assert any("GetSessionAction" in r.getMessage() for r in caplog.records)


def test_every_operation_the_library_can_send_is_a_read(farm: LocalFarm) -> None:
    c = dnb.client(endpoint_url=farm.endpoint_url)
    recorder = Recorder(c)
    for role in [*FINISHED_ROLES, "running"]:
        dnb.load_job(*ids(farm, role), client=c, cache=False, progress=False)
    dnb.fetch_session_actions(
        *ids(farm, "failing"), session_id=None, client=c, cache=False, progress=False
    )
    dnb.list_farms(client=c)
    dnb.list_queues(farm.farm_id, client=c)
    dnb.list_jobs(*ids(farm, "failing")[:2], client=c)
    assert recorder.calls
    assert all(op.startswith(READ_PREFIXES) for op in recorder.calls), recorder.calls


def test_a_job_shows_itself_in_a_notebook_escaped(farm: LocalFarm) -> None:
    job = dnb.load_job(*ids(farm, "failing"), client=farm.client(), cache=False, progress=False)
    job.job["createdBy"] = "<script>alert(1)</script>"
    shown = job._repr_html_()
    assert JOBS["failing"] in shown and "FAILED" in shown
    assert "<script>" not in shown and "&lt;script&gt;" in shown
    failed = int((job.actions["status"] == "FAILED").sum())
    assert f"{len(job.actions)} ({failed} failed)" in shown and failed > 0


@pytest.mark.usefixtures("no_aws_config")
def test_the_deadline_configs_profile_and_region_are_used(tmp_path: Path) -> None:
    from deadline.client.api._session import invalidate_boto3_session_cache
    from deadline.client.config import config_file

    (tmp_path / "aws-config").write_text("[profile studio]\nregion = eu-west-1\n")
    (tmp_path / "aws-credentials").write_text(
        "[studio]\naws_access_key_id = AKIASTUDIO\naws_secret_access_key = secret\n"
    )
    config_file.set_setting("defaults.aws_profile_name", "studio")
    invalidate_boto3_session_cache()
    try:
        c = dnb.client()
        assert c.meta.region_name == "eu-west-1"
        credentials = c._request_signer._credentials  # type: ignore[attr-defined]
        assert credentials.access_key == "AKIASTUDIO"
        # An explicit profile or region wins over the config.
        assert dnb.client(region="ap-southeast-2").meta.region_name == "ap-southeast-2"
    finally:
        invalidate_boto3_session_cache()
