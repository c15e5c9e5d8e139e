"""The farm model: deterministic, shaped like the service's data, telling the stories it names."""

from __future__ import annotations

import itertools
import json
import re
import statistics
from collections import Counter
from typing import Any

import pytest

from deadline_nb.localfarm import (
    BIG_JOB,
    HEARTBEAT_SECONDS,
    JOBS,
    FarmModel,
    JobView,
    ManualClock,
    WallClock,
)
from deadline_nb.localfarm.shapes import output_shape, to_wire, validate
from deadline_nb.schema import ACTION_TYPES, STATUSES, TERMINAL_STATUSES

ACTION_ID = re.compile(r"sessionaction-([0-9a-f]{32})-(0|[1-9][0-9]*)")


@pytest.fixture(scope="module")
def model() -> FarmModel:
    return FarmModel(seed=0, speedup=1.0)


def view(model: FarmModel, role: str, at: float | None = None) -> JobView:
    return model.view(model.job_by_name(JOBS[role]).job_id, at)


def kind(action: dict[str, Any]) -> str:
    (name,) = action["definition"]
    return str(name)


def test_job_names_are_the_documented_ones(model: FarmModel) -> None:
    assert {spec.role: spec.name for spec in model.jobs} == dict(JOBS)
    assert model.job_by_name("sq030_crowd_v007_failing") == model.job_by_name("failing")
    with pytest.raises(KeyError, match="sq010_sh020_lighting_v003"):
        model.job_by_name("nope")
    assert len(model.queues) == 3
    assert {q["queueId"] for q in model.queues} == {s.queue_id for s in model.jobs}


def test_same_seed_same_farm_other_seed_other_ids() -> None:
    def dump(m: FarmModel) -> str:
        finished = [s for s in m.jobs if s.role != "running"]
        return json.dumps(
            [m.farm, m.queues, m.fleets, m.workers]
            + [m.session_actions(s.job_id) for s in finished]
            + [m.view(s.job_id).job for s in finished]
        )

    assert dump(FarmModel(seed=1)) == dump(FarmModel(seed=1))
    zero, one = FarmModel(seed=0), FarmModel(seed=1)
    assert zero.farm_id != one.farm_id
    assert zero.job_by_name("render").job_id != one.job_by_name("render").job_id


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_object_fits_its_get_shape(seed: int) -> None:
    def check(operation: str, item: dict[str, Any]) -> list[str]:
        shape = output_shape(operation)
        return validate(shape, to_wire(item, shape))  # as the server sends it

    m = FarmModel(seed=seed)
    problems = check("GetFarm", m.farm)
    for queue in m.queues:
        problems += check("GetQueue", queue)
    for fleet in m.fleets:
        problems += check("GetFleet", fleet)
    for worker in m.workers:
        problems += check("GetWorker", worker)
    for spec in m.jobs:
        v = m.view(spec.job_id)
        problems += check("GetJob", v.job)
        for step in v.steps:
            problems += check("GetStep", step)
            for task in v.tasks[step["stepId"]]:
                problems += check("GetTask", task)
        for session in v.sessions:
            problems += check("GetSession", session)
        for action in v.actions:
            problems += check("GetSessionAction", action)
    assert problems == []


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sessions_are_formed_as_the_service_forms_them(seed: int) -> None:
    m = FarmModel(seed=seed)
    for spec in m.jobs:
        v = m.view(spec.job_id)
        for session in v.sessions:
            actions = v.actions_by_session[session["sessionId"]]
            session_hex = session["sessionId"].removeprefix("session-")
            # Ids: the session's hex and the position in the session, from 0.
            positions = []
            for action in actions:
                match = ACTION_ID.fullmatch(action["sessionActionId"])
                assert match is not None and match.group(1) == session_hex
                positions.append(int(match.group(2)))
                assert action["sessionId"] == session["sessionId"]
                assert action["status"] in STATUSES
                assert kind(action) in ACTION_TYPES
            assert positions == list(range(len(actions)))
            if spec.role == "running":
                continue  # its later actions do not exist yet
            kinds = [kind(a) for a in actions]
            assert kinds[:3] == ["envEnter", "envEnter", "syncInputJobAttachments"]
            assert kinds[-2:] == ["envExit", "envExit"]
            assert set(kinds[3:-2]) == {"taskRun"}
            enter = [a["definition"]["envEnter"]["environmentId"] for a in actions[:2]]
            leave = [a["definition"]["envExit"]["environmentId"] for a in actions[-2:]]
            assert enter[0].startswith(f"JOB:{spec.job_id}:")
            assert enter[1].startswith("STEP:step-")
            assert leave == enter[::-1]
            # One step per session.
            steps = {a["definition"][kind(a)].get("stepId") for a in actions[2:-2]}
            assert len(steps) == 1 and steps <= set(v.step_by_id)
            # Times move forward; never-attempted actions have none.
            last = session["startedAt"]
            for action in actions:
                if action["status"] == "NEVER_ATTEMPTED":
                    assert not {"startedAt", "endedAt", "processExitCode"} & set(action)
                    continue
                assert last <= action["startedAt"] <= action["endedAt"] <= session["endedAt"]
                last = action["endedAt"]
                if action["status"] in ("SUCCEEDED", "FAILED"):
                    assert isinstance(action["processExitCode"], int)
                    assert action["workerUpdatedAt"] == action["endedAt"]  # the final report
                else:  # the worker was lost: its last heartbeat is all there is
                    assert action["workerUpdatedAt"] <= action["endedAt"]
            # After a failure, no task runs; the environments entered are still exited.
            statuses = [a["status"] for a in actions]
            if "FAILED" in statuses:
                after = actions[statuses.index("FAILED") + 1 :]
                assert all(a["status"] == "NEVER_ATTEMPTED" for a in after if kind(a) != "envExit")
        # One worker per session, and one session at a time per worker.
        by_worker: dict[str, list[dict[str, Any]]] = {}
        for session in v.sessions:
            by_worker.setdefault(session["workerId"], []).append(session)
        for sessions in by_worker.values():
            for earlier, later in itertools.pairwise(sessions):
                assert earlier.get("endedAt", float("inf")) <= later["startedAt"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_task_step_and_job_statuses_agree_with_the_actions(seed: int) -> None:
    m = FarmModel(seed=seed)
    for spec in m.jobs:
        v = m.view(spec.job_id)
        total: Counter[str] = Counter()
        for step in v.steps:
            tasks = v.tasks[step["stepId"]]
            counts = Counter(t["runStatus"] for t in tasks)
            assert {k: n for k, n in step["taskRunStatusCounts"].items() if n} == dict(counts)
            total.update(counts)
            for task in tasks:
                assert task["taskId"].startswith(f"task-{step['stepId'][5:]}-")
                runs = v.actions_by_task.get(task["taskId"], [])
                if runs:
                    assert task["latestSessionActionId"] == runs[-1]["sessionActionId"]
                if "endedAt" in task:
                    assert task["startedAt"] <= task["endedAt"] <= task["updatedAt"]
                if task["runStatus"] == "SUCCEEDED":
                    assert runs[-1]["status"] == "SUCCEEDED"
                    assert task["endedAt"] == runs[-1]["endedAt"]
                failures = sum(a["status"] == "FAILED" for a in runs)
                assert task["failureRetryCount"] == min(failures, v.job["maxRetriesPerTask"])
            if spec.role != "running":
                assert not counts.keys() & {"READY", "PENDING", "RUNNING"}
        assert {k: n for k, n in v.job["taskRunStatusCounts"].items() if n} == dict(total)
        expected = {
            "render": "SUCCEEDED",
            "simulation": "SUCCEEDED",
            "failing": "FAILED",
            "canceled": "CANCELED",
            "reclaimed": "SUCCEEDED",
            "running": "RUNNING",
        }[spec.role]
        assert v.job["taskRunStatus"] == expected
        assert ("endedAt" in v.job) == (spec.role != "running")


def test_render_mid_shot_is_slower_with_two_stuck_frames(model: FarmModel) -> None:
    v = view(model, "render")
    seconds: dict[int, float] = {}
    for action in v.actions:
        if kind(action) == "taskRun" and action["status"] == "SUCCEEDED":
            frame = int(action["definition"]["taskRun"]["parameters"]["Frame"]["int"])
            seconds[frame] = action["endedAt"] - action["startedAt"]
            assert action["acquiredLimits"] == [{"limitId": model.limit_id, "count": 1}]
            (manifest,) = action["manifests"]
            assert manifest["outputManifestPath"].endswith("_output")
            assert action["progressMessage"].startswith(f"Rendering frame {frame}: 100%")
    assert sorted(seconds) == list(range(1, 241))
    median = statistics.median(seconds.values())
    stuck = [f for f, s in seconds.items() if s > 4 * median]
    assert len(stuck) == 2
    mid = statistics.median(s for f, s in seconds.items() if 100 <= f <= 150 and f not in stuck)
    edges = statistics.median(s for f, s in seconds.items() if f <= 30 or f >= 210)
    assert mid > 1.5 * edges


def test_simulation_runs_chunks_and_a_dependent_step(model: FarmModel) -> None:
    v = view(model, "simulation")
    simulate, mesh = v.steps
    assert simulate["parameterSpace"]["parameters"][0]["type"] == "CHUNK_INT"
    chunks = [t["parameters"]["Frame"]["chunkInt"] for t in v.tasks[simulate["stepId"]]]
    assert chunks[:2] == ["1-10", "11-20"] and len(chunks) == 24
    assert mesh["dependencyCounts"]["dependenciesResolved"] == 1
    assert mesh["startedAt"] >= simulate["endedAt"]


def test_failing_job_has_exit_codes_retries_and_never_attempted(model: FarmModel) -> None:
    v = view(model, "failing")
    failed = [a for a in v.actions if a["status"] == "FAILED"]
    codes = {a["processExitCode"] for a in failed if kind(a) == "taskRun"}
    assert {1, 137, -1073741819} <= codes
    assert any(kind(a) == "envEnter" for a in failed)  # an environment that failed to enter
    never = [a for a in v.actions if a["status"] == "NEVER_ATTEMPTED" and kind(a) == "taskRun"]
    assert never
    retried = {t: runs for t, runs in v.actions_by_task.items() if len(runs) > 1}
    assert retried
    for runs in retried.values():
        assert len({a["sessionId"] for a in runs}) == len(runs)  # each retry in a later session
    out_of_retries = [t for t in v.task_by_id.values() if t["runStatus"] == "FAILED"]
    assert len(out_of_retries) >= 1
    for task in out_of_retries:
        runs = v.actions_by_task[task["taskId"]]
        assert [a["processExitCode"] for a in runs if a["status"] == "FAILED"] == [-1073741819] * 3


def test_canceled_job(model: FarmModel) -> None:
    v = view(model, "canceled")
    statuses = Counter(a["status"] for a in v.actions)
    assert statuses["CANCELED"] >= 1 and statuses["SUCCEEDED"] >= 1
    assert v.job["targetTaskRunStatus"] == "CANCELED"
    canceled_at = max(a["endedAt"] for a in v.actions if a["status"] == "CANCELED")
    assert all(s["startedAt"] < canceled_at for s in v.sessions)


def test_reclaimed_spot_workers(model: FarmModel) -> None:
    v = view(model, "reclaimed")
    for status in ("INTERRUPTED", "RECLAIMED"):
        cut = [a for a in v.actions if a["status"] == status]
        assert cut
        for action in cut:
            session = v.actions_by_session[action["sessionId"]]
            later = session[session.index(action) + 1 :]
            assert later and all(a["status"] == "NEVER_ATTEMPTED" for a in later)
            # The task ran again elsewhere and succeeded.
            task_id = action["definition"]["taskRun"]["taskId"]
            assert v.task_by_id[task_id]["runStatus"] == "SUCCEEDED"
    stopped = {w["workerId"] for w in model.workers if w["status"] == "STOPPED"}
    assert len(stopped) == 3


def test_running_job_follows_the_clock(model: FarmModel) -> None:
    now = model.now()
    early, late = view(model, "running", now), view(model, "running", now + 600)
    assert len(late.actions) > len(early.actions)
    early_done = {a["sessionActionId"] for a in early.actions if a["status"] in TERMINAL_STATUSES}
    late_by_id = late.action_by_id
    assert all(late_by_id[i]["status"] in TERMINAL_STATUSES for i in early_done)
    running = [a for a in early.actions if a["status"] == "RUNNING"]
    assert running
    for action in running:
        assert not {"endedAt", "processExitCode", "manifests"} & set(action)
        beats = (action["workerUpdatedAt"] - action["startedAt"]) / HEARTBEAT_SECONDS
        assert beats == pytest.approx(round(beats), abs=1e-3)
        assert action["workerUpdatedAt"] <= now
    assigned = [a for a in early.actions if a["status"] == "ASSIGNED"]
    assert all("startedAt" not in a for a in assigned)
    assert early.job["taskRunStatus"] == "RUNNING" and "endedAt" not in early.job
    # In a day of farm time it has finished.
    done = view(model, "running", now + 86400)
    assert done.job["taskRunStatus"] == "SUCCEEDED" and "endedAt" in done.job


def test_a_frozen_clock_gives_the_same_actions_until_it_is_moved() -> None:
    clock = ManualClock(1_800_000_000.0)
    model = FarmModel(seed=0, clock=clock)
    job_id = model.job_by_name("running").job_id
    first = model.session_actions(job_id)
    assert model.session_actions(job_id) == first  # time stands still: the same job twice
    assert json.dumps(model.session_actions(job_id)) == json.dumps(first)
    # The running job is anchored to the clock's start, as with the wall clock.
    assert FarmModel(seed=0, start=clock.start).session_actions(job_id, clock.now()) == first

    clock.advance(600.0)
    later = model.session_actions(job_id)
    done = {a["sessionActionId"] for a in first if a["status"] in TERMINAL_STATUSES}
    done_later = {a["sessionActionId"] for a in later if a["status"] in TERMINAL_STATUSES}
    assert len(later) > len(first) and done < done_later  # the running job advanced
    assert model.view(job_id).job["taskRunStatus"] == "RUNNING"
    # Finished jobs do not depend on the clock.
    render = model.job_by_name("render").job_id
    assert model.session_actions(render) == FarmModel(seed=0).session_actions(render)


def test_the_default_clock_is_the_wall_clock_with_speedup() -> None:
    model = FarmModel(seed=0, speedup=60.0, start=1_800_000_000.0)
    assert isinstance(model.clock, WallClock)
    assert model.clock.speedup == 60.0 and model.start == 1_800_000_000.0


def test_size_gives_a_big_job_of_about_that_many_actions() -> None:
    # How fast it builds is measured in benchmarks/bench_localfarm.py, not here.
    m = FarmModel(seed=0, size=100_000)
    v = m.view(m.job_by_name(BIG_JOB).job_id)
    assert 95_000 <= len(v.actions) <= 105_000
    assert v.job["taskRunStatus"] == "SUCCEEDED"
    # Without a size there is no big job, and other jobs keep their ids.
    small = FarmModel(seed=0)
    assert BIG_JOB not in {s.name for s in small.jobs}
    assert small.job_by_name("render") == m.job_by_name("render")


def test_model_knobs_are_checked() -> None:
    with pytest.raises(ValueError, match="`speedup`"):
        FarmModel(speedup=-1)
    with pytest.raises(ValueError, match="`size`"):
        FarmModel(size=-5)
    with pytest.raises(ValueError, match="The value for `clock` must be None when `speedup`"):
        FarmModel(speedup=2.0, clock=ManualClock())
    with pytest.raises(ValueError, match="`seconds`"):
        ManualClock().advance(-1.0)
