"""The local farm through boto3: every operation, pagination, filters, errors and knobs."""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import time
from typing import Any
from urllib.parse import urlsplit

import botocore.exceptions
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders

from deadline_nb.localfarm import BIG_JOB, JOBS, OPERATIONS, LocalFarm
from deadline_nb.localfarm.shapes import (
    ResponseShapeError,
    check_responses,
    operation_model,
)


def ids(farm: LocalFarm, role: str) -> dict[str, str]:
    spec = farm.job_by_name(JOBS.get(role, role))
    return {"farmId": farm.farm_id, "queueId": spec.queue_id, "jobId": spec.job_id}


def every_page(method: Any, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    """Follow nextToken by hand (not with a paginator) so every page is one checked call."""
    items: list[dict[str, Any]] = []
    token = None
    while True:
        page = method(**kwargs, **({"nextToken": token} if token else {}))
        items.extend(page[key])
        token = page.get("nextToken")
        if not token:
            return items


def test_operations_are_the_issue_list_and_routes_come_from_the_model() -> None:
    # 25 reads, and the usage statistics' start and get (tests/test_localfarm_usage.py)
    assert len(OPERATIONS) == len(set(OPERATIONS)) == 27
    for name in OPERATIONS:
        op = operation_model(name)
        assert op.http["method"] in ("GET", "POST")
        assert op.http["requestUri"].startswith("/2023-10-12/")


def test_every_operation_on_every_job_fits_the_model(farm: LocalFarm, client: Any) -> None:
    """Each call below is checked by the client fixture against its output shape."""
    farm.reset_calls()
    farm_id = farm.farm_id
    assert [f["farmId"] for f in every_page(client.list_farms, "farms")] == [farm_id]
    assert client.get_farm(farmId=farm_id)["displayName"] == "Studio Farm"
    queues = every_page(client.list_queues, "queues", farmId=farm_id, maxResults=2)
    assert len(queues) == 3
    for queue in queues:
        client.get_queue(farmId=farm_id, queueId=queue["queueId"])
    fleets = every_page(client.list_fleets, "fleets", farmId=farm_id, maxResults=3)
    assert {f["configuration"].popitem()[0] for f in fleets} == {
        "serviceManagedEc2",
        "customerManaged",
    }
    for fleet in fleets:
        client.get_fleet(farmId=farm_id, fleetId=fleet["fleetId"])
        workers = every_page(
            client.list_workers, "workers", farmId=farm_id, fleetId=fleet["fleetId"], maxResults=5
        )
        assert len(workers) == fleet["workerCount"]
        worker = client.get_worker(
            farmId=farm_id, fleetId=fleet["fleetId"], workerId=workers[0]["workerId"]
        )
        assert worker["hostProperties"]["hostName"]
        every_page(
            client.list_sessions_for_worker,
            "sessions",
            farmId=farm_id,
            fleetId=fleet["fleetId"],
            workerId=workers[0]["workerId"],
            maxResults=3,
        )
    queue_ids = [q["queueId"] for q in queues]
    found = client.search_jobs(farmId=farm_id, queueIds=queue_ids, itemOffset=0)
    assert found["totalResults"] == len(farm.model.jobs)

    for spec in farm.model.jobs:
        job = {"farmId": farm_id, "queueId": spec.queue_id, "jobId": spec.job_id}
        listed = every_page(
            client.list_jobs, "jobs", farmId=farm_id, queueId=spec.queue_id, maxResults=1
        )
        assert spec.job_id in {j["jobId"] for j in listed}
        assert client.get_job(**job)["name"] == spec.name
        assert client.batch_get_job(identifiers=[job])["jobs"][0]["jobId"] == spec.job_id
        steps = every_page(client.list_steps, "steps", **job, maxResults=1)
        batch_steps = client.batch_get_step(
            identifiers=[{**job, "stepId": s["stepId"]} for s in steps]
        )
        assert len(batch_steps["steps"]) == len(steps) and not batch_steps["errors"]
        for step in steps:
            client.get_step(**job, stepId=step["stepId"])
            tasks = every_page(client.list_tasks, "tasks", **job, stepId=step["stepId"])
            client.get_task(**job, stepId=step["stepId"], taskId=tasks[-1]["taskId"])
            got = client.batch_get_task(
                identifiers=[
                    {**job, "stepId": step["stepId"], "taskId": t["taskId"]} for t in tasks[:100]
                ]
            )
            assert len(got["tasks"]) == min(100, len(tasks)) and not got["errors"]
        sessions = every_page(client.list_sessions, "sessions", **job, maxResults=10)
        client.get_session(**job, sessionId=sessions[-1]["sessionId"])
        got_sessions = client.batch_get_session(
            identifiers=[{**job, "sessionId": s["sessionId"]} for s in sessions[:100]]
        )
        assert len(got_sessions["sessions"]) == min(100, len(sessions))
        actions = every_page(client.list_session_actions, "sessionActions", **job, maxResults=100)
        # One GetSessionAction per status present, so every kind of action is checked alone.
        by_status = {a["status"]: a["sessionActionId"] for a in actions}
        for action_id in by_status.values():
            client.get_session_action(**job, sessionActionId=action_id)
        for start in range(0, len(actions), 100):
            chunk = actions[start : start + 100]
            got_actions = client.batch_get_session_action(
                identifiers=[{**job, "sessionActionId": a["sessionActionId"]} for a in chunk]
            )
            assert len(got_actions["sessionActions"]) == len(chunk)
            assert not got_actions["errors"]
    # The usage statistics change a farm's state (one aggregation at a time): they are checked
    # on farms of their own, in tests/test_localfarm_usage.py.
    statistics = {"StartSessionsStatisticsAggregation", "GetSessionsStatisticsAggregation"}
    assert set(farm.calls) == set(OPERATIONS) - statistics


def test_responses_are_the_ground_truth(farm: LocalFarm, client: Any) -> None:
    job = ids(farm, "failing")
    truth = farm.model.session_actions(job["jobId"])
    listed = every_page(client.list_session_actions, "sessionActions", **job)
    assert [a["sessionActionId"] for a in listed] == [a["sessionActionId"] for a in truth]
    # Summaries leave out what the API's summary shape leaves out.
    assert all("sessionId" not in a and "processExitCode" not in a for a in listed)
    got = client.batch_get_session_action(
        identifiers=[{**job, "sessionActionId": a["sessionActionId"]} for a in truth[:100]]
    )["sessionActions"]
    for item, expected in zip(got, truth[:100], strict=True):
        assert item["sessionId"] == expected["sessionId"]
        assert item["status"] == expected["status"]
        assert item.get("processExitCode") == expected.get("processExitCode")
        if "startedAt" in expected:
            assert item["startedAt"].timestamp() == pytest.approx(expected["startedAt"])


@pytest.mark.parametrize("page_size", [1, 7, 100])
def test_pagination_returns_every_item_exactly_once(
    farm: LocalFarm, client: Any, page_size: int
) -> None:
    job = ids(farm, "reclaimed")
    view = farm.model.view(job["jobId"])
    session = view.sessions[3]["sessionId"]
    got = every_page(
        client.list_session_actions,
        "sessionActions",
        **job,
        sessionId=session,
        maxResults=page_size,
    )
    assert [a["sessionActionId"] for a in got] == [
        a["sessionActionId"] for a in view.actions_by_session[session]
    ]
    tasks = every_page(
        client.list_tasks, "tasks", **job, stepId=view.steps[0]["stepId"], maxResults=page_size
    )
    assert len(tasks) == len({t["taskId"] for t in tasks}) == 180


def test_paginator_and_page_sizes(farm: LocalFarm, client: Any) -> None:
    job = ids(farm, "render")
    pages = list(
        client.get_paginator("list_session_actions").paginate(
            **job, PaginationConfig={"PageSize": 40}
        )
    )
    assert [len(p["sessionActions"]) for p in pages[:-1]] == [40] * (len(pages) - 1)
    assert sum(len(p["sessionActions"]) for p in pages) == 415
    assert "nextToken" not in pages[-1]


def test_filters_filter(farm: LocalFarm, client: Any) -> None:
    job = ids(farm, "failing")
    view = farm.model.view(job["jobId"])
    retried = next(t for t, runs in view.actions_by_task.items() if len(runs) >= 3)
    by_task = every_page(client.list_session_actions, "sessionActions", **job, taskId=retried)
    assert len(by_task) == len(view.actions_by_task[retried]) >= 3
    assert {a["definition"]["taskRun"]["taskId"] for a in by_task} == {retried}
    # Retries are new actions in other sessions.
    assert len({a["sessionActionId"].rsplit("-", 1)[0] for a in by_task}) == len(by_task)
    session = view.actions_by_task[retried][0]["sessionId"]
    both = every_page(
        client.list_session_actions, "sessionActions", **job, taskId=retried, sessionId=session
    )
    assert [a["sessionActionId"] for a in both] == [
        view.actions_by_task[retried][0]["sessionActionId"]
    ]
    queues = client.list_queues(farmId=farm.farm_id, status="SCHEDULING")["queues"]
    assert [q["displayName"] for q in queues] == ["Comp"]


def test_search_jobs_filters_sorts_and_pages(farm: LocalFarm, client: Any) -> None:
    queue_ids = [q["queueId"] for q in farm.model.queues]
    base = {"farmId": farm.farm_id, "queueIds": queue_ids}
    every = client.search_jobs(**base, itemOffset=0)["jobs"]
    created = [j["createdAt"] for j in every]
    assert created == sorted(created, reverse=True)  # newest first by default
    failed = client.search_jobs(
        **base,
        itemOffset=0,
        filterExpressions={
            "filters": [
                {
                    "stringFilter": {
                        "name": "TASK_RUN_STATUS",
                        "operator": "EQUAL",
                        "value": "FAILED",
                    }
                }
            ],
            "operator": "AND",
        },
    )
    assert [j["name"] for j in failed["jobs"]] == [JOBS["failing"]]
    assert failed["totalResults"] == 1
    term = client.search_jobs(
        **base,
        itemOffset=0,
        filterExpressions={
            "filters": [{"searchTermFilter": {"searchTerm": "SQ0"}}],
            "operator": "OR",
        },
        sortExpressions=[{"fieldSort": {"name": "NAME", "sortOrder": "ASCENDING"}}],
    )
    assert [j["name"] for j in term["jobs"]] == sorted(JOBS.values())
    first = client.search_jobs(**base, itemOffset=0, pageSize=4)
    assert len(first["jobs"]) == 4 and first["nextItemOffset"] == 4
    rest = client.search_jobs(**base, itemOffset=first["nextItemOffset"], pageSize=4)
    assert "nextItemOffset" not in rest
    assert [j["jobId"] for j in first["jobs"] + rest["jobs"]] == [j["jobId"] for j in every]
    with pytest.raises(client.exceptions.ValidationException):
        client.search_jobs(
            **base,
            itemOffset=0,
            sortExpressions=[{"fieldSort": {"name": "COLOUR", "sortOrder": "ASCENDING"}}],
        )
    # The deadline library's own query: a group filter and a createdAt threshold, ascending.
    failing = client.get_job(**ids(farm, "failing"))
    since = client.search_jobs(
        **base,
        itemOffset=0,
        filterExpressions={
            "filters": [
                {
                    "groupFilter": {
                        "filters": [
                            {
                                "stringListFilter": {
                                    "name": "TASK_RUN_STATUS",
                                    "operator": "ANY_EQUALS",
                                    "values": ["SUCCEEDED", "CANCELED", "FAILED"],
                                }
                            }
                        ],
                        "operator": "OR",
                    }
                },
                {
                    "dateTimeFilter": {
                        "name": "CREATED_AT",
                        "operator": "GREATER_THAN_EQUAL_TO",
                        "dateTime": failing["createdAt"],
                    }
                },
            ],
            "operator": "AND",
        },
        sortExpressions=[{"fieldSort": {"name": "CREATED_AT", "sortOrder": "ASCENDING"}}],
    )
    assert [j["name"] for j in since["jobs"]] == [
        JOBS["failing"],
        JOBS["canceled"],
        JOBS["reclaimed"],
    ]


@pytest.mark.parametrize(
    ("call", "kind"),
    [
        ("farm", "farm"),
        ("queue", "queue"),
        ("job", "job"),
        ("step", "step"),
        ("task", "task"),
        ("session", "session"),
        ("action", "session-action"),
        ("fleet", "fleet"),
        ("worker", "worker"),
    ],
)
def test_unknown_ids_raise_resource_not_found(
    farm: LocalFarm, client: Any, call: str, kind: str
) -> None:
    job = ids(farm, "render")
    view = farm.model.view(job["jobId"])
    step = view.steps[0]["stepId"]
    fleet = farm.model.fleets[0]["fleetId"]
    zero = "0" * 32
    calls = {
        "farm": lambda: client.get_farm(farmId=f"farm-{zero}"),
        "queue": lambda: client.get_queue(farmId=farm.farm_id, queueId=f"queue-{zero}"),
        "job": lambda: client.get_job(**{**job, "jobId": f"job-{zero}"}),
        "step": lambda: client.get_step(**job, stepId=f"step-{zero}"),
        "task": lambda: client.get_task(**job, stepId=step, taskId=f"task-{step[5:]}-9999"),
        "session": lambda: client.get_session(**job, sessionId=f"session-{zero}"),
        "action": lambda: client.get_session_action(
            **job, sessionActionId=f"sessionaction-{zero}-0"
        ),
        "fleet": lambda: client.get_fleet(farmId=farm.farm_id, fleetId=f"fleet-{zero}"),
        "worker": lambda: client.get_worker(
            farmId=farm.farm_id, fleetId=fleet, workerId=f"worker-{zero}"
        ),
    }
    with pytest.raises(client.exceptions.ResourceNotFoundException) as caught:
        calls[call]()
    response = caught.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert response["resourceType"] == kind
    assert response["resourceId"].startswith(kind.replace("-", "") + "-")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_a_job_in_another_queue_is_not_found(farm: LocalFarm, client: Any) -> None:
    job = ids(farm, "render")
    other = next(q["queueId"] for q in farm.model.queues if q["queueId"] != job["queueId"])
    with pytest.raises(client.exceptions.ResourceNotFoundException) as caught:
        client.get_job(**{**job, "queueId": other})
    assert caught.value.response["context"] == {"farmId": farm.farm_id, "queueId": other}


@pytest.mark.parametrize(
    "bad",
    [
        {"jobId": "job-XYZ"},
        {"sessionActionId": "sessionaction-abc-1"},
        {"sessionActionId": f"sessionaction-{'a' * 32}-01"},  # leading zero: not an index
    ],
)
def test_malformed_ids_raise_validation_exception(
    farm: LocalFarm, client: Any, bad: dict[str, str]
) -> None:
    job = ids(farm, "render")
    params = {**job, "sessionActionId": f"sessionaction-{'a' * 32}-0", **bad}
    with pytest.raises(client.exceptions.ValidationException) as caught:
        client.get_session_action(**params)
    response = caught.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["reason"] == "FIELD_VALIDATION_FAILED"
    assert [f["name"] for f in response["fieldList"]] == list(bad)


def test_max_results_and_tokens_are_validated(farm: LocalFarm) -> None:
    # botocore checks a minimum itself; without its check the server must refuse 0 and 101.
    client = check_responses(
        farm.client(parameter_validation=False, retries={"total_max_attempts": 1})
    )
    job = ids(farm, "render")
    for bad in (0, 101):
        with pytest.raises(client.exceptions.ValidationException):
            client.list_session_actions(**job, maxResults=bad)
    token = client.list_session_actions(**job, maxResults=5)["nextToken"]
    other = ids(farm, "failing")
    with pytest.raises(client.exceptions.ValidationException):
        client.list_session_actions(**other, nextToken=token)  # a token of another query
    forged = base64.urlsafe_b64encode(b'{"o": 5, "q": "0000"}').decode()
    with pytest.raises(client.exceptions.ValidationException):
        client.list_session_actions(**job, nextToken=forged)
    with pytest.raises(client.exceptions.ValidationException):
        client.list_session_actions(**job, nextToken="not base64 at all")


def test_batch_get_puts_missing_items_in_errors(farm: LocalFarm, client: Any) -> None:
    job = ids(farm, "render")
    real = farm.model.view(job["jobId"]).actions[0]["sessionActionId"]
    missing = f"sessionaction-{'0' * 32}-3"
    other_job = ids(farm, "failing")["jobId"]
    result = client.batch_get_session_action(
        identifiers=[
            {**job, "sessionActionId": real},
            {**job, "sessionActionId": missing},
            {**job, "jobId": other_job, "sessionActionId": real},
        ]
    )
    assert [a["sessionActionId"] for a in result["sessionActions"]] == [real]
    assert [(e["sessionActionId"], e["code"]) for e in result["errors"]] == [
        (missing, "ResourceNotFoundException"),
        (real, "ResourceNotFoundException"),
    ]
    assert result["ResponseMetadata"]["HTTPStatusCode"] == 200
    with pytest.raises(client.exceptions.ValidationException):
        client.batch_get_session_action(identifiers=[{**job, "sessionActionId": real}] * 101)


def test_throttling_is_a_token_bucket_per_operation() -> None:
    with LocalFarm(seed=0, throttle_rate=5.0) as farm:
        client = check_responses(farm.client(retries={"total_max_attempts": 1}))
        outcomes = []
        for _ in range(8):
            try:
                client.get_farm(farmId=farm.farm_id)
                outcomes.append("ok")
            except client.exceptions.ThrottlingException as error:
                outcomes.append("throttled")
                response = error.response
        assert outcomes[:5] == ["ok"] * 5 and "throttled" in outcomes[5:]
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert response["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == "1"
        assert response["serviceCode"] == "deadline"
        # Another operation has its own bucket.
        client.list_queues(farmId=farm.farm_id)
        time.sleep(0.25)  # refills one token at 5 per second
        client.get_farm(farmId=farm.farm_id)
        # boto3's own retries absorb throttling, as they do against AWS.
        patient = farm.client(retries={"mode": "standard", "total_max_attempts": 10})
        for _ in range(3):
            patient.get_farm(farmId=farm.farm_id)
        assert farm.calls["GetFarm"] >= 12


def test_faults_are_seeded_and_raise_internal_server_error() -> None:
    def pattern() -> list[bool]:
        with LocalFarm(seed=3, fault_rate=0.3) as farm:
            client = check_responses(farm.client(retries={"total_max_attempts": 1}))
            failed = []
            for _ in range(40):
                try:
                    client.get_farm(farmId=farm.farm_id)
                    failed.append(False)
                except client.exceptions.InternalServerErrorException as error:
                    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 500
                    failed.append(True)
            return failed

    first = pattern()
    assert 3 <= sum(first) <= 25
    assert pattern() == first  # the same seed fails the same calls


def test_size_adds_a_big_job_served_like_the_others() -> None:
    with LocalFarm(seed=0, size=3000) as farm:
        client = check_responses(farm.client(retries={"total_max_attempts": 1}))
        job = ids(farm, BIG_JOB)
        actions = every_page(client.list_session_actions, "sessionActions", **job)
        assert len(actions) == len(farm.model.view(job["jobId"]).actions)
        assert 2700 <= len(actions) <= 3300
        burst = next(f for f in farm.model.fleets if f["displayName"].startswith("Burst"))
        worker = farm.model.fleet_workers(burst["fleetId"])[0]["workerId"]
        sessions = every_page(
            client.list_sessions_for_worker,
            "sessions",
            farmId=farm.farm_id,
            fleetId=burst["fleetId"],
            workerId=worker,
        )
        assert sessions and {s["jobId"] for s in sessions} == {job["jobId"]}


def test_item_faults_go_in_the_errors_of_a_batch() -> None:
    with LocalFarm(seed=0, item_fault_rate=0.2) as farm:
        client = check_responses(farm.client(retries={"total_max_attempts": 1}))
        job = ids(farm, "render")
        actions = [a["sessionActionId"] for a in farm.model.view(job["jobId"]).actions[:100]]
        result = client.batch_get_session_action(
            identifiers=[{**job, "sessionActionId": a} for a in actions]
        )
        failed = [e["sessionActionId"] for e in result["errors"]]
        assert {e["code"] for e in result["errors"]} == {"InternalServerErrorException"}
        assert 5 <= len(failed) <= 40
        got = [a["sessionActionId"] for a in result["sessionActions"]]
        assert sorted(got + failed) == sorted(actions)
        # A retry of the failed items gets most of them: the fault is per item, not per id.
        retry = client.batch_get_session_action(
            identifiers=[{**job, "sessionActionId": a} for a in failed]
        )
        assert len(retry["sessionActions"]) > len(retry["errors"])


def test_latency_is_added_to_each_request() -> None:
    with LocalFarm(seed=0, latency=0.05) as farm:
        client = farm.client()
        client.get_farm(farmId=farm.farm_id)  # connect first
        started = time.perf_counter()
        for _ in range(3):
            client.get_farm(farmId=farm.farm_id)
        assert time.perf_counter() - started >= 0.15


def test_calls_are_counted_per_operation(farm: LocalFarm, client: Any) -> None:
    farm.reset_calls()
    client.get_farm(farmId=farm.farm_id)
    client.get_farm(farmId=farm.farm_id)
    client.list_queues(farmId=farm.farm_id)
    assert farm.calls == {"GetFarm": 2, "ListQueues": 1}
    farm.reset_calls()
    assert sum(farm.calls.values()) == 0


def test_host_prefix_injection_is_the_trap(
    farm: LocalFarm, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stock client sends Deadline calls to management.<host>; ours and the env var do not."""
    import boto3

    def hosts(client: Any) -> list[str]:
        seen: list[str] = []

        def capture(request: Any, **_: Any) -> AWSResponse:
            seen.append(urlsplit(request.url).hostname or "")
            raw = type("Raw", (), {"stream": lambda self, **k: iter([b"{}"])})()
            return AWSResponse(request.url, 200, HTTPHeaders(), raw)

        client.meta.events.register_first("before-send.deadline", capture)
        with contextlib.suppress(botocore.exceptions.BotoCoreError):
            client.get_farm(farmId=farm.farm_id)
        return seen

    session = boto3.session.Session(
        aws_access_key_id="x", aws_secret_access_key="x", region_name="us-west-2"
    )
    monkeypatch.delenv("AWS_DISABLE_HOST_PREFIX_INJECTION", raising=False)
    stock = session.client("deadline", endpoint_url=farm.endpoint_url)
    assert hosts(stock) == ["management.127.0.0.1"]
    assert hosts(farm.client()) == ["127.0.0.1"]
    monkeypatch.setenv("AWS_DISABLE_HOST_PREFIX_INJECTION", "true")
    fresh = boto3.session.Session(
        aws_access_key_id="x", aws_secret_access_key="x", region_name="us-west-2"
    )
    assert hosts(fresh.client("deadline", endpoint_url=farm.endpoint_url)) == ["127.0.0.1"]


def test_keep_alive_answers_in_one_segment(farm: LocalFarm) -> None:
    """Requests on one connection are fast: the Nagle/delayed-ACK trap makes each take ~40 ms."""
    job = ids(farm, "render")
    path = (
        f"/2023-10-12/farms/{job['farmId']}/queues/{job['queueId']}/jobs/{job['jobId']}"
        f"/session-actions/{farm.model.view(job['jobId']).actions[0]['sessionActionId']}"
    )
    parts = urlsplit(farm.endpoint_url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=5)
    try:
        started = time.perf_counter()
        for _ in range(50):
            connection.request("GET", path)
            response = connection.getresponse()
            body = json.loads(response.read())
            assert response.status == 200
            assert response.getheader("Content-Type") == "application/json"
        elapsed = time.perf_counter() - started
    finally:
        connection.close()
    assert body["status"] == "SUCCEEDED"
    assert elapsed < 1.0, f"50 keep-alive requests took {elapsed:.2f} s"


def test_unknown_route_is_a_validation_error(farm: LocalFarm) -> None:
    parts = urlsplit(farm.endpoint_url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=5)
    try:
        connection.request("GET", "/2023-10-12/nothing-here")
        response = connection.getresponse()
        body = json.loads(response.read())
    finally:
        connection.close()
    assert response.status == 400
    assert response.getheader("x-amzn-ErrorType") == "ValidationException"
    assert body["reason"] == "UNKNOWN_OPERATION"


def test_same_seed_gives_byte_identical_responses() -> None:
    def fetch() -> bytes:
        with LocalFarm(seed=5) as farm:
            job = ids(farm, "failing")
            parts = urlsplit(farm.endpoint_url)
            connection = http.client.HTTPConnection(
                parts.hostname or "127.0.0.1", parts.port, timeout=5
            )
            try:
                connection.request(
                    "GET",
                    f"/2023-10-12/farms/{job['farmId']}/queues/{job['queueId']}/jobs/"
                    f"{job['jobId']}/session-actions?maxResults=100",
                )
                return connection.getresponse().read()
            finally:
                connection.close()

    assert fetch() == fetch()


def test_the_running_job_advances(farm: LocalFarm, client: Any) -> None:
    """Speed-up 20: 1.6 s of wall clock is 32 s of farm time, two heartbeats or more."""
    job = ids(farm, "running")

    def read() -> dict[str, dict[str, Any]]:
        actions = every_page(client.list_session_actions, "sessionActions", **job)
        return {a["sessionActionId"]: a for a in actions}

    before = read()
    running = {k: a for k, a in before.items() if a["status"] == "RUNNING"}
    assert running
    for action in running.values():
        beats = (action["workerUpdatedAt"] - action["startedAt"]).total_seconds() / 15.0
        assert beats == pytest.approx(round(beats), abs=1e-3)  # on the 15 s heartbeat grid
        assert "endedAt" not in action and 0 <= action["progressPercent"] < 100
    # An environment action has no progress message, like on the service; a task run has one,
    # also if it finished between the listing and this call.
    task_runs = [k for k, a in running.items() if "taskRun" in a["definition"]]
    assert task_runs  # eight workers: some run tasks at any instant of the job
    full = client.get_session_action(**job, sessionActionId=task_runs[0])
    assert full["progressMessage"].startswith("Comp frame ")
    time.sleep(1.6)
    after = read()
    assert set(before) <= set(after)
    advanced = 0
    for key, action in running.items():
        later = after[key]
        if later["status"] == "SUCCEEDED":
            advanced += 1
            assert "endedAt" in later
        else:
            assert later["workerUpdatedAt"] > action["workerUpdatedAt"]
            assert later["progressPercent"] >= action["progressPercent"]
            advanced += later["progressPercent"] > action["progressPercent"]
    assert advanced >= 1
    counts_before = client.get_job(**job)["taskRunStatusCounts"]
    assert counts_before["RUNNING"] >= 1 and counts_before["READY"] >= 1


def test_concurrent_clients_get_consistent_answers(farm: LocalFarm) -> None:
    """fetch.py calls in parallel: eight threads, one client, one connection pool."""
    from concurrent.futures import ThreadPoolExecutor

    client = check_responses(farm.client(retries={"total_max_attempts": 1}))
    job = ids(farm, "reclaimed")
    actions = farm.model.view(job["jobId"]).actions
    chunks = [actions[i : i + 100] for i in range(0, len(actions), 100)] * 4

    def fetch(chunk: list[dict[str, Any]]) -> list[str]:
        result = client.batch_get_session_action(
            identifiers=[{**job, "sessionActionId": a["sessionActionId"]} for a in chunk]
        )
        assert not result["errors"]
        return [a["sessionActionId"] for a in result["sessionActions"]]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(fetch, chunks))
    assert results == [[a["sessionActionId"] for a in chunk] for chunk in chunks]


def test_client_config_can_be_overridden(farm: LocalFarm) -> None:
    client = farm.client(read_timeout=7, retries={"total_max_attempts": 2})
    assert client.meta.config.read_timeout == 7  # type: ignore[attr-defined]
    assert client.meta.config.inject_host_prefix is False
    assert client.meta.region_name == "us-west-2"


def test_a_response_that_breaks_the_model_is_caught(farm: LocalFarm) -> None:
    """The checking client must fail on a bad response, or the shape tests prove nothing."""
    client = check_responses(farm.client(retries={"total_max_attempts": 1}))

    def corrupt(http_response: Any, **_: Any) -> None:
        body = json.loads(http_response.content)
        body["status"] = "ON_FIRE"
        http_response._content = json.dumps(body).encode()

    client.meta.events.register_first("after-call.deadline", corrupt)
    job = ids(farm, "render")
    action = farm.model.view(job["jobId"]).actions[0]["sessionActionId"]
    with pytest.raises(ResponseShapeError, match="ON_FIRE"):
        client.get_session_action(**job, sessionActionId=action)


@pytest.mark.parametrize(
    "value",
    [
        "2026-03-02T08:00:00.250Z",  # what the farm and the service send
        "2026-03-02T08:00:00Z",
        "2026-03-02T08:00:00.123456+00:00",
        "2026-03-02T10:00:00.000+02:00",
        "2026-03-02T08:00:00",  # no time zone: botocore's parser decides
        "Mon, 02 Mar 2026 08:00:00 GMT",  # RFC 822, as some AWS headers carry
        "1772438400",
        1772438400,
        1772438400.25,
    ],
)
def test_the_farm_clients_timestamp_parser_gives_botocores_datetimes(value: Any) -> None:
    import botocore.utils

    from deadline_nb.timestamps import parse_timestamp

    parsed = parse_timestamp(value)
    assert parsed == botocore.utils.parse_timestamp(value)
    assert parsed.utcoffset() == botocore.utils.parse_timestamp(value).utcoffset()


def test_fast_and_stock_clients_read_the_same_timestamps(farm: LocalFarm) -> None:
    job = ids(farm, "failing")
    fast = farm.client().get_job(**job)
    stock = farm.client(fast_timestamps=False).get_job(**job)
    for name in ("createdAt", "startedAt", "endedAt", "updatedAt"):
        assert fast[name] == stock[name] and fast[name].tzinfo is not None, name


def test_a_frozen_clock_serves_the_same_running_job_until_moved() -> None:
    from deadline_nb.localfarm import ManualClock

    clock = ManualClock()
    with LocalFarm(seed=0, clock=clock) as frozen:
        client: Any = frozen.client()
        job = ids(frozen, "running")
        first = client.list_session_actions(**job)["sessionActions"]
        assert client.list_session_actions(**job)["sessionActions"] == first
        clock.advance(900.0)
        later = client.list_session_actions(**job)["sessionActions"]
    assert later != first


def test_knobs_are_checked() -> None:
    with pytest.raises(ValueError, match="`fault_rate`"):
        LocalFarm(fault_rate=1.5)
    with pytest.raises(ValueError, match="`throttle_rate`"):
        LocalFarm(throttle_rate=0)
    with pytest.raises(ValueError, match="`item_fault_rate`"):
        LocalFarm(item_fault_rate=-0.1)
    with pytest.raises(ValueError, match="`latency`"):
        LocalFarm(latency=-1)
    with pytest.raises(ValueError, match="`speedup`"):
        LocalFarm(speedup=0)
    with pytest.raises(ValueError, match=r"The value for `fault_rate` must be between 0 and 1, "):
        LocalFarm(fault_rate=2)
    farm = LocalFarm()
    with pytest.raises(RuntimeError, match="not started"):
        _ = farm.endpoint_url
    farm.start()
    try:
        assert farm.running
    finally:
        farm.stop()
    assert not farm.running
    farm.stop()  # twice is fine
