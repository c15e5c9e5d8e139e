"""The local farm's worker logs: the agent's host-metrics lines, served like CloudWatch Logs."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import pytest

import deadline_nb as dnb
from deadline_nb.frames.metrics import parse_metrics_line
from deadline_nb.localfarm import JOBS, LocalFarm
from deadline_nb.localfarm.logs import FarmLogs
from deadline_nb.localfarm.model import FarmModel
from deadline_nb.localfarm.shapes import check_responses
from deadline_nb.localfarm.workerlog import INTERVAL_SECONDS, quiet_workers, worker_log


@pytest.fixture
def logs(farm: LocalFarm) -> Any:
    return check_responses(dnb.aws.logs_client(endpoint_url=farm.endpoint_url))


def job_workers(model: FarmModel, role: str) -> list[dict[str, Any]]:
    return list(model.job_build(model.job_by_name(JOBS[role]).job_id).sessions)


def test_workers_and_sessions_name_their_worker_log(farm: LocalFarm, logs: Any) -> None:
    c = farm.client()
    fleet = farm.model.fleets[0]["fleetId"]
    worker = c.list_workers(farmId=farm.farm_id, fleetId=fleet)["workers"][0]
    options = worker["log"]["options"]
    assert options == {
        "logGroupName": f"/aws/deadline/{farm.farm_id}/{fleet}",
        "logStreamName": worker["workerId"],
    }
    spec = farm.job_by_name(JOBS["failing"])
    sid = farm.model.view(spec.job_id).sessions[0]["sessionId"]
    session = c.get_session(
        farmId=farm.farm_id, queueId=spec.queue_id, jobId=spec.job_id, sessionId=sid
    )
    where = session["workerLog"]["options"]
    assert where["logStreamName"] == session["workerId"]
    assert where["logGroupName"] == f"/aws/deadline/{farm.farm_id}/{session['fleetId']}"
    # The stream it names exists and begins with the agent's start line, then metrics.
    page = logs.get_log_events(**where, startFromHead=True, limit=3)
    messages = [e["message"] for e in page["events"]]
    assert json.loads(messages[0])["level"] == "INFO"
    assert parse_metrics_line(messages[0]) is None
    assert parse_metrics_line(messages[1]) is not None


def test_samples_come_every_interval_and_a_window_reads_only_its_samples(
    farm: LocalFarm, logs: Any
) -> None:
    w = farm.model.workers[0]
    where = w["log"]["options"]
    start = int(float(w["createdAt"]) * 1000) + 86_400_000
    page = logs.get_log_events(
        **where, startFromHead=True, startTime=start, endTime=start + 3_600_000
    )
    stamps = [e["timestamp"] for e in page["events"]]
    assert len(stamps) == 60
    assert {b - a for a, b in itertools.pairwise(stamps)} == {int(INTERVAL_SECONDS * 1000)}
    assert all(start <= s < start + 3_600_000 for s in stamps)


def test_the_oom_runs_reach_the_hosts_memory_just_before_they_end() -> None:
    model = FarmModel(seed=0)
    build = model.job_build(model.job_by_name(JOBS["failing"]).job_id)
    killed = [a for a in build.actions if a.get("processExitCode") == 137]
    assert killed
    session_of = {
        a["sessionActionId"]: s
        for s in build.sessions
        for a in build.session_actions[s["sessionId"]]
    }
    for action in killed:
        session = session_of[action["sessionActionId"]]
        log = worker_log(model, session["fleetId"], session["workerId"])
        end = float(action["endedAt"]) * 1000
        start = float(action["startedAt"]) * 1000
        inside = [
            e
            for e in log.events[log.visible(int(start)) : log.visible(int(end))]
            if e.timestamp >= start
        ]
        if not inside:
            continue  # a run shorter than an interval has no sample
        figures = parse_metrics_line(inside[-1].message)
        assert figures is not None
        if end - inside[-1].timestamp <= INTERVAL_SECONDS * 1000:
            assert float(figures["memory-used-percent"]) >= 95.0
        first = parse_metrics_line(inside[0].message)
        assert first is not None
        assert int(first["memory-used-bytes"]) <= int(figures["memory-used-bytes"])


def test_idle_workers_sit_near_their_baseline() -> None:
    model = FarmModel(seed=0)
    gpu = next(f for f in model.fleets if "GPU" in f["displayName"])
    w = model.fleet_workers(gpu["fleetId"])[0]  # no job runs on the GPU fleet
    log = worker_log(model, w["fleetId"], w["workerId"])
    for event in log.events[1:200]:
        figures = parse_metrics_line(event.message)
        assert figures is not None
        assert float(figures["memory-used-percent"]) < 6.0
        assert float(figures["cpu-usage-percent"]) < 5.0


def test_worker_logs_are_the_same_for_a_seed_and_cheap_to_make() -> None:
    a, b = FarmModel(seed=0), FarmModel(seed=0)
    w = a.workers[3]
    first = worker_log(a, w["fleetId"], w["workerId"]).events[1000:1010]
    again = worker_log(b, w["fleetId"], w["workerId"]).events[1000:1010]
    assert first == again
    other = FarmModel(seed=1)
    v = other.workers[3]
    assert worker_log(other, v["fleetId"], v["workerId"]).events[1000].message != first[0].message
    # The big farm: naming its groups and streams makes no line and builds no big job.
    began = time.perf_counter()
    big = FarmModel(seed=0, size=100_000)
    logs = FarmLogs(big)
    burst = next(f for f in big.fleets if "Burst" in f["displayName"])
    streams = logs.streams(logs.group_name(burst["fleetId"]))
    assert len(streams) == len(big.fleet_workers(burst["fleetId"]))
    assert time.perf_counter() - began < 5.0
    assert not big._jobs[big.job_by_name(dnb.localfarm.BIG_JOB).job_id].build


def test_the_quiet_workers_have_no_stream_and_no_metrics(farm: LocalFarm, logs: Any) -> None:
    silent, missing = quiet_workers(farm.model)
    fleets = {w["workerId"]: w["fleetId"] for w in farm.model.workers}
    group = f"/aws/deadline/{farm.farm_id}/{fleets[missing]}"
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.get_log_events(logGroupName=group, logStreamName=missing)
    page = logs.get_log_events(
        logGroupName=f"/aws/deadline/{farm.farm_id}/{fleets[silent]}",
        logStreamName=silent,
        startFromHead=True,
    )
    assert page["events"] and all(parse_metrics_line(e["message"]) is None for e in page["events"])


def test_describe_log_streams_on_a_fleet_lists_its_workers(farm: LocalFarm, logs: Any) -> None:
    fleet = farm.model.fleets[0]["fleetId"]
    group = f"/aws/deadline/{farm.farm_id}/{fleet}"
    began = time.perf_counter()
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert time.perf_counter() - began < 5.0  # months of lines, and none of them made
    _, missing = quiet_workers(farm.model)
    expected = sorted(
        w["workerId"] for w in farm.model.fleet_workers(fleet) if w["workerId"] != missing
    )
    assert [s["logStreamName"] for s in streams] == expected
    assert all(s["lastEventTimestamp"] >= s["firstEventTimestamp"] for s in streams)
