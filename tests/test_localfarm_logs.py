"""The local farm's session logs, through real boto3 ``logs`` clients over HTTP.

CloudWatch Logs as the service answers it (JSON 1.1, tokens, windows, limits, filter patterns,
errors, quotas) and logs that say what the actions did (banners in order, progress lines that are
the API's progressPercent, endings that match the exit codes), read by boto3 and by the official
``deadline job logs`` command.
"""

from __future__ import annotations

import collections
import http.client
import itertools
import json
import math
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.exceptions
import pytest

from deadline_nb import cli
from deadline_nb.localfarm import JOBS, FarmLogs, LocalFarm, ManualClock
from deadline_nb.localfarm.logs import (
    LOGS_OPERATIONS,
    MAX_RESPONSE_BYTES,
    SERVICE_QUOTAS,
    TARGET_PREFIX,
)
from deadline_nb.localfarm.sessionlog import (
    BANNER_RULE,
    BLANK,
    MAX_EVENT_BYTES,
    hard_session,
    streamless_session,
)
from deadline_nb.localfarm.shapes import check_responses, logs_service_model

from .test_localfarm_deadline_cli import deadline_env

FINISHED = ("render", "simulation", "failing", "canceled", "reclaimed")
AGENT_SESSION_LINES = ("Running Session Actions as user: ", "Deleting working directory: ")


# ---- helpers


def logs_client(farm: LocalFarm, **config: Any) -> Any:
    """A checked logs client without retries (each error reaches the test)."""
    return check_responses(farm.logs_client(retries={"total_max_attempts": 1}, **config))


def group_of(farm: LocalFarm, role: str) -> str:
    return f"/aws/deadline/{farm.farm_id}/{farm.job_by_name(JOBS.get(role, role)).queue_id}"


def ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def whole_stream(client: Any, group: str, stream: str, **kwargs: Any) -> list[dict[str, Any]]:
    """Every event of a stream, forward from the head, following the tokens to the end."""
    events: list[dict[str, Any]] = []
    token = None
    while True:
        page = client.get_log_events(
            logGroupName=group,
            logStreamName=stream,
            startFromHead=True,
            **kwargs,
            **({"nextToken": token} if token else {}),
        )
        events.extend(page["events"])
        if page["nextForwardToken"] == token:
            return events
        token = page["nextForwardToken"]


def filtered(client: Any, **kwargs: Any) -> list[dict[str, Any]]:
    """Every event FilterLogEvents finds, following nextToken."""
    events: list[dict[str, Any]] = []
    token = None
    while True:
        page = client.filter_log_events(**kwargs, **({"nextToken": token} if token else {}))
        events.extend(page["events"])
        assert page["searchedLogStreams"] == []
        token = page.get("nextToken")
        if not token:
            return events


def job_actions(deadline: Any, farm: LocalFarm, role: str) -> list[dict[str, Any]]:
    """Every action of a job with its sessionId, as BatchGetSessionAction gives them."""
    spec = farm.job_by_name(JOBS.get(role, role))
    ids = {"farmId": farm.farm_id, "queueId": spec.queue_id, "jobId": spec.job_id}
    summaries: list[dict[str, Any]] = []
    token = None
    while True:
        page = deadline.list_session_actions(**ids, **({"nextToken": token} if token else {}))
        summaries.extend(page["sessionActions"])
        token = page.get("nextToken")
        if not token:
            break
    actions: list[dict[str, Any]] = []
    for i in range(0, len(summaries), 100):
        batch = summaries[i : i + 100]
        got = deadline.batch_get_session_action(
            identifiers=[{**ids, "sessionActionId": a["sessionActionId"]} for a in batch]
        )
        assert got["errors"] == []
        actions.extend(got["sessionActions"])
    return actions


def sessions_of(deadline: Any, farm: LocalFarm, role: str) -> list[dict[str, Any]]:
    spec = farm.job_by_name(JOBS.get(role, role))
    ids = {"farmId": farm.farm_id, "queueId": spec.queue_id, "jobId": spec.job_id}
    return list(
        deadline.get_paginator("list_sessions").paginate(**ids).build_full_result()["sessions"]
    )


def titles(events: list[dict[str, Any]]) -> list[str]:
    """The section banners of a log, in order."""
    found = []
    for before, event in itertools.pairwise(events):
        if before["message"] == BANNER_RULE and event["message"].startswith("--------- "):
            found.append(event["message"].removeprefix("--------- "))
    return found


def expected_title(action: dict[str, Any]) -> str:
    ((kind, body),) = action["definition"].items()
    if kind == "taskRun":
        return "Running Task"
    if kind == "syncInputJobAttachments":
        return f"Job Attachments Download for {'Step' if body.get('stepId') else 'Job'}"
    name = body["environmentId"].rsplit(":", 1)[-1]
    return f"{'Entering' if kind == 'envEnter' else 'Exiting'} Environment: {name}"


def in_window(events: list[dict[str, Any]], action: dict[str, Any]) -> list[dict[str, Any]]:
    start, end = ms(action["startedAt"]), ms(action["endedAt"])
    return [e for e in events if start <= e["timestamp"] <= end]


def last_progress(events: list[dict[str, Any]], until: int) -> float:
    """The last ``openjd_progress`` value at or before ``until``; 0.0 when none was printed."""
    values = [
        float(e["message"].removeprefix("openjd_progress: "))
        for e in events
        if e["message"].startswith("openjd_progress: ") and e["timestamp"] <= until
    ]
    return values[-1] if values else 0.0


_EXIT = re.compile(
    r"Process pid \d+ exited with code: (-?\d+) \(unsigned\) / -?0x[0-9a-f]+ \(hex\)"
    r"(?: / (-?\d+) \(signed\))?"
)


def exit_code(events: list[dict[str, Any]]) -> int | None:
    """The code of the last exit line among ``events`` (its signed reading when given)."""
    codes = [_EXIT.fullmatch(e["message"]) for e in events]
    found = [m for m in codes if m]
    if not found:
        return None
    last = found[-1]
    return int(last.group(2) or last.group(1))


@pytest.fixture(scope="module")
def logs(module_farm: LocalFarm) -> Any:
    return logs_client(module_farm)


@pytest.fixture(scope="module")
def deadline(module_farm: LocalFarm) -> Any:
    return check_responses(module_farm.client(retries={"total_max_attempts": 1}))


# ---- the protocol


def test_operations_are_reads_of_the_logs_model_on_the_same_endpoint() -> None:
    model = logs_service_model()
    assert set(LOGS_OPERATIONS) <= set(model.operation_names)
    assert all(op.startswith(("Get", "Filter", "Describe")) for op in LOGS_OPERATIONS)
    assert TARGET_PREFIX == "Logs_20140328."
    assert set(SERVICE_QUOTAS) == set(LOGS_OPERATIONS)


def test_raw_requests_get_json_1_1_answers(module_farm: LocalFarm) -> None:
    url = urlsplit(module_farm.endpoint_url)
    group = group_of(module_farm, "failing")

    def post(target: str, body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=30)
        try:
            connection.request(
                "POST",
                "/",
                body=json.dumps(body),
                headers={
                    "X-Amz-Target": target,
                    "Content-Type": "application/x-amz-json-1.1",
                },
            )
            response = connection.getresponse()
            raw = response.read()
            return response.status, dict(response.getheaders()), json.loads(raw.decode("utf-8"))
        finally:
            connection.close()

    status, headers, body = post("Logs_20140328.DescribeLogStreams", {"logGroupName": group})
    assert status == 200 and headers["Content-Type"] == "application/x-amz-json-1.1"
    assert body["logStreams"]
    status, headers, body = post("Logs_20140328.PutLogEvents", {"logGroupName": group})
    assert status == 400 and body["__type"] == "UnknownOperationException"
    assert headers["x-amzn-ErrorType"] == "UnknownOperationException"
    status, _, body = post("Logs_20140328.GetLogEvents", {"logGroupName": group})
    assert status == 400 and body["__type"] == "InvalidParameterException"
    assert (
        "'logStreamName' failed to satisfy constraint: Member must not be null" in (body["message"])
    )


def test_get_session_names_the_stream_the_logs_are_in(
    module_farm: LocalFarm, logs: Any, deadline: Any
) -> None:
    for role in FINISHED:
        spec = module_farm.job_by_name(JOBS[role])
        ids = {"farmId": module_farm.farm_id, "queueId": spec.queue_id, "jobId": spec.job_id}
        silent = streamless_session(module_farm.model.job_build(spec.job_id))
        for summary in sessions_of(deadline, module_farm, role)[:3]:
            session = deadline.get_session(**ids, sessionId=summary["sessionId"])
            options = session["log"]["options"]
            assert options["logGroupName"] == f"/aws/deadline/{module_farm.farm_id}/{spec.queue_id}"
            assert options["logStreamName"] == summary["sessionId"] != silent
            page = logs.get_log_events(
                logGroupName=options["logGroupName"],
                logStreamName=options["logStreamName"],
                startFromHead=True,
                limit=1,
            )
            assert page["events"][0]["message"] == "Running Session Actions as user: render"


def test_the_endpoint_variable_points_plain_boto3_here(
    module_farm: LocalFarm, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in module_farm.environment().items():
        monkeypatch.setenv(name, value)
    plain = boto3.client(
        "logs",
        region_name="us-west-2",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    assert plain.meta.endpoint_url == module_farm.endpoint_url
    groups = plain.describe_log_groups()["logGroups"]
    assert sorted(g["logGroupName"] for g in groups) == module_farm.logs.groups


# ---- GetLogEvents: tokens, limits, windows


def test_forward_and_backward_tokens_walk_the_same_stream(
    module_farm: LocalFarm, logs: Any
) -> None:
    group = group_of(module_farm, "failing")
    stream = logs.describe_log_streams(logGroupName=group, limit=1)["logStreams"][0]
    name = stream["logStreamName"]
    everything = whole_stream(logs, group, name, limit=10_000)
    assert len(everything) > 100
    assert [e["timestamp"] for e in everything] == sorted(e["timestamp"] for e in everything)
    assert everything[0]["timestamp"] == stream["firstEventTimestamp"]
    assert everything[-1]["timestamp"] == stream["lastEventTimestamp"]
    # Forward in small pages: the same events, each once.
    assert whole_stream(logs, group, name, limit=37) == everything
    # The first call without a token reads the latest events, and its backward token goes on.
    pages = []
    page = logs.get_log_events(logGroupName=group, logStreamName=name, limit=50)
    assert page["events"] == everything[-50:]
    end_token = page["nextForwardToken"]
    while True:
        pages.append(page["events"])
        back = page["nextBackwardToken"]
        page = logs.get_log_events(logGroupName=group, logStreamName=name, nextToken=back, limit=50)
        if not page["events"]:
            # The head: the same token comes back, and the client stops.
            assert page["nextBackwardToken"] == back
            break
    assert [e for chunk in reversed(pages) for e in chunk] == everything
    # At the end of the stream, the forward token comes back unchanged.
    again = logs.get_log_events(logGroupName=group, logStreamName=name, nextToken=end_token)
    assert again["events"] == [] and again["nextForwardToken"] == end_token
    assert re.fullmatch(r"f/\d{56}/s", end_token)
    # A token is the stream's own: another stream refuses it.
    other = logs.describe_log_streams(logGroupName=group, limit=2)["logStreams"][1]
    with pytest.raises(logs.exceptions.InvalidParameterException, match="nextToken"):
        logs.get_log_events(
            logGroupName=group, logStreamName=other["logStreamName"], nextToken=end_token
        )
    with pytest.raises(logs.exceptions.InvalidParameterException, match="nextToken"):
        logs.get_log_events(logGroupName=group, logStreamName=name, nextToken="f/123/s")


def test_time_windows_are_start_inclusive_and_end_exclusive(
    module_farm: LocalFarm, logs: Any
) -> None:
    group = group_of(module_farm, "render")
    name = logs.describe_log_streams(logGroupName=group, limit=1)["logStreams"][0]["logStreamName"]
    everything = whole_stream(logs, group, name)
    start = everything[100]["timestamp"]
    end = everything[400]["timestamp"]
    window = whole_stream(logs, group, name, startTime=start, endTime=end)
    assert window == [e for e in everything if start <= e["timestamp"] < end]
    assert window[0]["timestamp"] == start and window[-1]["timestamp"] < end
    # FilterLogEvents includes both ends ("later than this time are not returned").
    both = filtered(logs, logGroupName=group, logStreamNames=[name], startTime=start, endTime=end)
    assert [e["message"] for e in both] == [
        e["message"] for e in everything if start <= e["timestamp"] <= end
    ]
    # Backward from the end of a window gives its latest events.
    latest = logs.get_log_events(
        logGroupName=group, logStreamName=name, startTime=start, endTime=end, limit=5
    )
    assert latest["events"] == window[-5:]


def test_a_page_holds_at_most_10000_events_and_1_mb(module_farm: LocalFarm, logs: Any) -> None:
    group = group_of(module_farm, "render")
    spec = module_farm.job_by_name(JOBS["render"])
    heavy = hard_session(module_farm.model.job_build(spec.job_id))
    assert heavy is not None
    # The default page: as many events as fit in 1 MB (the stream has two events of 256 KB and
    # 44 KB, and some 900 others).
    page = logs.get_log_events(logGroupName=group, logStreamName=heavy, startFromHead=True)
    size = sum(len(e["message"].encode()) + 26 for e in page["events"])
    assert size <= MAX_RESPONSE_BYTES
    everything = whole_stream(logs, group, heavy)
    assert page["events"] == everything[: len(page["events"])]
    if len(page["events"]) < len(everything):
        following = everything[len(page["events"])]
        assert size + len(following["message"].encode()) + 26 > MAX_RESPONSE_BYTES
    # FilterLogEvents over a whole group: pages of at most 10,000 events and 1 MB, full ones.
    first = logs.filter_log_events(logGroupName=group)
    size = sum(len(e["message"].encode()) + 26 for e in first["events"])
    assert len(first["events"]) <= 10_000 and size <= MAX_RESPONSE_BYTES
    assert "nextToken" in first
    nxt = logs.filter_log_events(logGroupName=group, nextToken=first["nextToken"])["events"][0]
    assert len(first["events"]) == 10_000 or size + len(nxt["message"].encode()) + 26 > (
        MAX_RESPONSE_BYTES
    )
    small = logs.filter_log_events(logGroupName=group, limit=7)
    assert len(small["events"]) == 7 and small["events"] == first["events"][:7]


def test_requests_are_validated_as_the_model_says(module_farm: LocalFarm) -> None:
    # Without boto3's own checks, so that the farm's are what answers.
    raw = logs_client(module_farm, parameter_validation=False)
    group = group_of(module_farm, "failing")
    stream = raw.describe_log_streams(logGroupName=group, limit=1)["logStreams"][0]
    name = stream["logStreamName"]
    cases: list[tuple[str, dict[str, Any], str]] = [
        (
            "get_log_events",
            {"logGroupName": group, "logStreamName": name, "limit": 10_001},
            "Value '10001' at 'limit' failed to satisfy constraint: Member must have value less "
            "than or equal to 10000",
        ),
        (
            "get_log_events",
            {"logGroupName": group, "logStreamName": name, "limit": 0},
            "greater than or equal to 1",
        ),
        (
            "get_log_events",
            {"logGroupName": group, "logStreamName": "a:b"},
            "at 'logStreamName' failed to satisfy constraint: Member must satisfy regular "
            "expression pattern: [^:*]*",
        ),
        (
            "get_log_events",
            {"logGroupName": "/no spaces", "logStreamName": name},
            "at 'logGroupName' failed to satisfy constraint",
        ),
        ("get_log_events", {"logGroupName": group}, "Member must not be null"),
        (
            "get_log_events",
            {"logGroupName": group, "logGroupIdentifier": group, "logStreamName": name},
            "Exactly one of logGroupName and logGroupIdentifier",
        ),
        ("filter_log_events", {"logGroupName": group, "limit": 10_001}, "10000"),
        (
            "filter_log_events",
            {"logGroupName": group, "logStreamNames": []},
            "at 'logStreamNames' failed to satisfy constraint: Member must have length greater "
            "than or equal to 1",
        ),
        (
            "filter_log_events",
            {"logGroupName": group, "logStreamNames": [name], "logStreamNamePrefix": "session-"},
            "cannot both be given",
        ),
        (
            "filter_log_events",
            {"logGroupName": group, "filterPattern": "x" * 1025},
            "less than or equal to 1024",
        ),
        ("describe_log_streams", {"logGroupName": group, "limit": 51}, "less than or equal to 50"),
        (
            "describe_log_streams",
            {"logGroupName": group, "orderBy": "Size"},
            "Member must satisfy enum value set: [LogStreamName, LastEventTime]",
        ),
        (
            "describe_log_streams",
            {"logGroupName": group, "orderBy": "LastEventTime", "logStreamNamePrefix": "session-"},
            "Cannot order by LastEventTime with a logStreamNamePrefix",
        ),
        ("describe_log_streams", {"logGroupName": group, "nextToken": "not-a-token"}, "nextToken"),
    ]
    for method, params, message in cases:
        with pytest.raises(raw.exceptions.InvalidParameterException) as caught:
            getattr(raw, method)(**params)
        assert message in caught.value.response["Error"]["Message"], (method, params)
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # Two problems: both named, counted.
    with pytest.raises(raw.exceptions.InvalidParameterException, match="2 validation errors"):
        raw.get_log_events(logGroupName=group, logStreamName="a*b", limit=0)


def test_unknown_groups_and_streams_are_not_found(module_farm: LocalFarm, logs: Any) -> None:
    group = group_of(module_farm, "failing")
    # Fleets have groups (their workers' logs); a fleet the farm does not have has none.
    fleet_group = f"/aws/deadline/{module_farm.farm_id}/fleet-{'0' * 32}"
    cases = [
        (
            lambda: logs.get_log_events(logGroupName="/aws/deadline/nope", logStreamName="s"),
            "The specified log group does not exist.",
        ),
        (
            lambda: logs.describe_log_streams(logGroupName=fleet_group),
            "The specified log group does not exist.",
        ),
        (
            lambda: logs.get_log_events(logGroupName=group, logStreamName="session-" + "0" * 32),
            "The specified log stream does not exist.",
        ),
        (
            lambda: logs.filter_log_events(logGroupName=group, logStreamNames=["nope"]),
            "The specified log stream does not exist.",
        ),
    ]
    for call, message in cases:
        with pytest.raises(logs.exceptions.ResourceNotFoundException) as caught:
            call()
        assert caught.value.response["Error"]["Message"] == message
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # A group named by ARN (logGroupIdentifier: the ARN without the trailing ":*", which the
    # model's pattern refuses) is the same group.
    arn = f"arn:aws:logs:us-west-2:123456789012:log-group:{group}"
    by_arn = logs.describe_log_streams(logGroupIdentifier=arn, limit=3)["logStreams"]
    assert by_arn == logs.describe_log_streams(logGroupName=group, limit=3)["logStreams"]


def test_one_session_has_no_stream_at_all(module_farm: LocalFarm, logs: Any, deadline: Any) -> None:
    spec = module_farm.job_by_name(JOBS["render"])
    silent = streamless_session(module_farm.model.job_build(spec.job_id))
    assert silent is not None
    session = deadline.get_session(
        farmId=module_farm.farm_id, queueId=spec.queue_id, jobId=spec.job_id, sessionId=silent
    )
    options = session["log"]["options"]
    assert options["logStreamName"] == silent  # the service still names it
    with pytest.raises(logs.exceptions.ResourceNotFoundException, match="log stream"):
        logs.get_log_events(logGroupName=options["logGroupName"], logStreamName=silent)
    listed = logs.get_paginator("describe_log_streams").paginate(
        logGroupName=options["logGroupName"]
    )
    names = [s["logStreamName"] for page in listed for s in page["logStreams"]]
    assert silent not in names
    sessions = {s["sessionId"] for s in sessions_of(deadline, module_farm, "render")}
    assert sessions - set(names) == {silent}


# ---- DescribeLogStreams and DescribeLogGroups


def test_describe_log_streams_orders_pages_and_filters(module_farm: LocalFarm, logs: Any) -> None:
    group = group_of(module_farm, "failing")  # the FX queue: three finished jobs
    everything = [
        s
        for page in logs.get_paginator("describe_log_streams").paginate(
            logGroupName=group, PaginationConfig={"PageSize": 7}
        )
        for s in page["logStreams"]
    ]
    names = [s["logStreamName"] for s in everything]
    assert names == sorted(names) and len(names) == len(set(names))
    fx_sessions = sum(
        len(module_farm.model.view(spec.job_id).sessions)
        for spec in module_farm.model.queue_jobs(module_farm.job_by_name("failing").queue_id)
    )
    assert len(names) == fx_sessions
    assert logs.describe_log_streams(logGroupName=group)["logStreams"] == everything[:50]
    down = logs.describe_log_streams(logGroupName=group, descending=True, limit=5)
    assert [s["logStreamName"] for s in down["logStreams"]] == names[::-1][:5]
    prefix = names[3][: len("session-") + 1]
    picked = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=prefix)
    assert [s["logStreamName"] for s in picked["logStreams"]] == [
        n for n in names if n.startswith(prefix)
    ]
    by_time = [
        s
        for page in logs.get_paginator("describe_log_streams").paginate(
            logGroupName=group, orderBy="LastEventTime", descending=True
        )
        for s in page["logStreams"]
    ]
    assert [s["lastEventTimestamp"] for s in by_time] == sorted(
        (s["lastEventTimestamp"] for s in everything), reverse=True
    )
    for stream in everything[:4]:
        events = whole_stream(logs, group, stream["logStreamName"])
        assert stream["firstEventTimestamp"] == events[0]["timestamp"]
        assert stream["lastEventTimestamp"] == events[-1]["timestamp"]
        assert stream["lastIngestionTime"] == max(e["ingestionTime"] for e in events)
        assert stream["storedBytes"] == 0
        assert stream["arn"].endswith(f":log-group:{group}:log-stream:{stream['logStreamName']}")
        assert all(e["timestamp"] < e["ingestionTime"] <= e["timestamp"] + 1500 for e in events)


def test_describe_log_groups_lists_one_group_per_queue_and_fleet(
    module_farm: LocalFarm, logs: Any
) -> None:
    groups = logs.describe_log_groups()["logGroups"]
    owners = [q["queueId"] for q in module_farm.model.queues]
    owners += [f["fleetId"] for f in module_farm.model.fleets]
    expected = sorted(f"/aws/deadline/{module_farm.farm_id}/{owner}" for owner in owners)
    assert [g["logGroupName"] for g in groups] == expected
    assert all(g["arn"] == f"{g['logGroupArn']}:*" for g in groups)
    one = logs.describe_log_groups(logGroupNamePattern=expected[1][-12:])["logGroups"]
    assert [g["logGroupName"] for g in one] == [expected[1]]
    paged = logs.get_paginator("describe_log_groups").paginate(
        logGroupNamePrefix="/aws/deadline/", PaginationConfig={"PageSize": 2}
    )
    assert [g["logGroupName"] for page in paged for g in page["logGroups"]] == expected


# ---- FilterLogEvents


def test_filter_patterns_terms_phrases_or_not_and_regex(module_farm: LocalFarm, logs: Any) -> None:
    group = group_of(module_farm, "failing")
    spec = module_farm.job_by_name(JOBS["failing"])
    streams = [
        s["logStreamName"]
        for s in logs.describe_log_streams(logGroupName=group, limit=50)["logStreams"]
        if s["logStreamName"]
        in {x["sessionId"] for x in module_farm.model.view(spec.job_id).sessions}
    ][:6]
    events = [
        {**e, "logStreamName": name} for name in streams for e in whole_stream(logs, group, name)
    ]

    def has(term: str, message: str) -> bool:
        return re.search(rf"(?<![A-Za-z0-9]){re.escape(term)}(?![A-Za-z0-9])", message) is not None

    checks = {
        "Killed": lambda m: has("Killed", m),
        "openjd_progress": lambda m: has("openjd_progress", m),
        '"Phase: Setup"': lambda m: has("Phase: Setup", m),
        "ERROR License": lambda m: has("ERROR", m) and has("License", m),
        "?Killed ?Segmentation ?0xC0000005": lambda m: any(
            has(t, m) for t in ("Killed", "Segmentation", "0xC0000005")
        ),
        "Process -0x0": lambda m: has("Process", m) and not has("0x0", m),
        "%exited with code%": None,  # a space: refused (below)
        "%code:\\s[1-9]%": lambda m: re.search(r"code:\s[1-9]", m) is not None,
        "%^openjd_[a-z]+:%": lambda m: re.search(r"^openjd_[a-z]+:", m) is not None,
        "killed": lambda m: has("killed", m),  # case-sensitive: none
    }
    for pattern, oracle in checks.items():
        if oracle is None:
            continue
        got = filtered(logs, logGroupName=group, logStreamNames=streams, filterPattern=pattern)
        want = [e for e in events if oracle(e["message"])]
        want.sort(key=lambda e: (e["timestamp"], e["logStreamName"]))
        assert [(e["logStreamName"], e["timestamp"], e["message"]) for e in got] == [
            (e["logStreamName"], e["timestamp"], e["message"]) for e in want
        ], pattern
    assert filtered(logs, logGroupName=group, logStreamNames=streams, filterPattern="killed") == []
    for bad in ("%exited with code%", "%(a|b)%", "%caf\u00e9%", '{ $.level = "ERROR" }'):
        with pytest.raises(logs.exceptions.InvalidParameterException):
            logs.filter_log_events(logGroupName=group, filterPattern=bad)


def test_filter_log_events_pages_interleave_and_go_newest_first(
    module_farm: LocalFarm, logs: Any
) -> None:
    group = group_of(module_farm, "canceled")
    spec = module_farm.job_by_name(JOBS["canceled"])
    sessions = [s["sessionId"] for s in module_farm.model.view(spec.job_id).sessions]
    one_go = logs.filter_log_events(logGroupName=group, logStreamNames=sessions[:5])["events"]
    paged = filtered(logs, logGroupName=group, logStreamNames=sessions[:5], limit=333)
    assert paged == one_go
    assert len({e["eventId"] for e in paged}) == len(paged)
    assert all(re.fullmatch(r"\d{56}", e["eventId"]) for e in paged)
    keys = [(e["timestamp"], e["logStreamName"]) for e in paged]
    assert keys == sorted(keys)
    assert {e["logStreamName"] for e in paged} == set(sessions[:5])
    # Newest first: the same events, the other way round (a startTime from 2024 is required).
    start = paged[0]["timestamp"]
    newest = filtered(
        logs,
        logGroupName=group,
        logStreamNames=sessions[:5],
        startFromHead=False,
        startTime=start,
        limit=500,
    )
    assert [e["eventId"] for e in newest] == [e["eventId"] for e in reversed(paged)]
    with pytest.raises(logs.exceptions.InvalidParameterException, match="2024"):
        logs.filter_log_events(logGroupName=group, startFromHead=False, startTime=1_600_000_000_000)
    # A prefix picks streams by name; a token belongs to its query.
    prefix = sessions[0][: len("session-") + 2]
    by_prefix = filtered(logs, logGroupName=group, logStreamNamePrefix=prefix, limit=2000)
    named = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=prefix)
    assert {e["logStreamName"] for e in by_prefix} == {
        s["logStreamName"] for s in named["logStreams"]
    }
    assert all(name.startswith(prefix) for name in {e["logStreamName"] for e in by_prefix})
    token = logs.filter_log_events(logGroupName=group, limit=3)["nextToken"]
    with pytest.raises(logs.exceptions.InvalidParameterException, match="nextToken"):
        logs.filter_log_events(logGroupName=group, filterPattern="ERROR", nextToken=token)


# ---- what the logs say


def test_logs_tell_what_the_actions_did(module_farm: LocalFarm, logs: Any, deadline: Any) -> None:
    seen_codes: collections.Counter[Any] = collections.Counter()
    for role in FINISHED:
        group = group_of(module_farm, role)
        actions = job_actions(deadline, module_farm, role)
        by_session: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
        for action in actions:
            by_session[action["sessionId"]].append(action)
        silent = streamless_session(
            module_farm.model.job_build(module_farm.job_by_name(JOBS[role]).job_id)
        )
        for session_id, session_actions in by_session.items():
            if session_id == silent:
                continue
            session_actions.sort(key=lambda a: int(a["sessionActionId"].rsplit("-", 1)[1]))
            events = whole_stream(logs, group, session_id)
            assert all(len(e["message"]) >= 1 for e in events)  # CloudWatch has no empty event
            ran = [a for a in session_actions if "startedAt" in a]
            dead = any(a["status"] in ("RECLAIMED", "INTERRUPTED") for a in ran)
            expected = [expected_title(a) for a in ran] + ([] if dead else ["Session Cleanup"])
            assert titles(events) == expected, (role, session_id)
            # Every line is inside its action, but the agent's own before and after.
            windows = [(ms(a["startedAt"]), ms(a["endedAt"])) for a in ran]
            for event in events:
                inside = any(lo <= event["timestamp"] <= hi for lo, hi in windows)
                assert (
                    inside
                    or event["message"].startswith(AGENT_SESSION_LINES)
                    or (event["message"] in (BLANK, BANNER_RULE, "--------- Session Cleanup"))
                ), event
            for action in ran:
                mine = in_window(events, action)
                assert mine[1]["message"] == BANNER_RULE
                code = action.get("processExitCode")
                status = action["status"]
                seen_codes[(status, code)] += 1
                if status == "RECLAIMED":
                    assert exit_code(mine) is None  # the worker vanished mid-line
                elif status in ("CANCELED", "INTERRUPTED") and "taskRun" in action["definition"]:
                    assert exit_code(mine) == -9
                    assert any(e["message"].startswith("Canceling subprocess") for e in mine)
                elif "syncInputJobAttachments" in action["definition"]:
                    assert exit_code(mine) is None
                elif status in ("SUCCEEDED", "FAILED"):
                    assert exit_code(mine) == code, action["sessionActionId"]
                messages = "\n".join(e["message"] for e in mine)
                if code == 137:
                    # Memory climbs, then the shell reports the kill, then the exit.
                    memory = [float(m) for m in re.findall(r"memory: ([\d.]+) GB", messages)]
                    assert len(memory) >= 3 and memory == sorted(memory)
                    assert re.search(
                        r" Killed +\S+.*\nProcess pid \d+ exited with code: 137", messages
                    )
                if code == -1073741819:
                    assert "0xC0000005 (EXCEPTION_ACCESS_VIOLATION)" in messages
                    assert "3221225477 (unsigned) / 0xc0000005 (hex) / -1073741819 (signed)" in (
                        messages
                    )
                if code == 1:
                    assert "openjd_fail: " in messages
                if "taskRun" not in action["definition"]:
                    continue
                parameters = action["definition"]["taskRun"]["parameters"]
                ((name, value),) = parameters.items()
                ((kind, text),) = value.items()
                kind_text = {"int": "INT", "chunkInt": "CHUNK[INT]"}[kind]
                assert f"{name}({kind_text}) = {text}" in messages
                # The heartbeat reports the last progress printed before it.
                until = ms(action.get("workerUpdatedAt", action["endedAt"]))
                if status == "SUCCEEDED":
                    until = ms(action["endedAt"])
                assert last_progress(mine, until) == action["progressPercent"], (
                    role,
                    action["sessionActionId"],
                )
                if status == "SUCCEEDED":
                    statuses = [e for e in mine if e["message"].startswith("openjd_status: ")]
                    assert statuses[-1]["message"] == f"openjd_status: {action['progressMessage']}"
                    manifest = action["manifests"][0]["outputManifestPath"]
                    assert f"Uploading output manifest to DeadlineCloud/Manifests/{manifest}" in (
                        messages
                    )
    # Every ending the farm has was met.
    for key in [
        ("FAILED", 1),
        ("FAILED", 137),
        ("FAILED", -1073741819),
        ("SUCCEEDED", 0),
        ("CANCELED", None),
        ("RECLAIMED", None),
        ("INTERRUPTED", None),
    ]:
        assert seen_codes[key] > 0, key


def test_a_shared_error_and_a_worse_worker_to_grep_for(
    module_farm: LocalFarm, logs: Any, deadline: Any
) -> None:
    group = group_of(module_farm, "failing")
    actions = job_actions(deadline, module_farm, "failing")
    sessions = {s["sessionId"]: s for s in sessions_of(deadline, module_farm, "failing")}
    mine = list(sessions)
    hits = filtered(
        logs, logGroupName=group, logStreamNames=mine, filterPattern='"License checkout failed"'
    )
    licence_failures = [
        a
        for a in actions
        if a["status"] == "FAILED"
        and a.get("processExitCode") == 1
        and "taskRun" in a["definition"]
    ]
    assert len(licence_failures) >= 2
    # Every task run that exited 1 says the same thing, and only those.
    owners = set()
    for hit in hits:
        owner = [
            a
            for a in licence_failures
            if a["sessionId"] == hit["logStreamName"]
            and ms(a["startedAt"]) <= hit["timestamp"] <= ms(a["endedAt"])
        ]
        assert len(owner) == 1
        owners.add(owner[0]["sessionActionId"])
    assert owners == {a["sessionActionId"] for a in licence_failures}
    texts = {h["message"] for h in hits if h["message"].startswith("ERROR")}
    assert len(texts) == 1
    # One worker fails more than any other, and its logs warn about its memory.
    failures = collections.Counter(
        sessions[a["sessionId"]]["workerId"] for a in actions if a["status"] == "FAILED"
    )
    (worst, most), (_, second) = failures.most_common(2)
    assert most > second
    warned = filtered(logs, logGroupName=group, logStreamNames=mine, filterPattern="EDAC")
    assert warned
    assert {sessions[w["logStreamName"]]["workerId"] for w in warned} == {worst}


def test_the_hard_lines(module_farm: LocalFarm, logs: Any) -> None:
    group = group_of(module_farm, "render")
    spec = module_farm.job_by_name(JOBS["render"])
    heavy = hard_session(module_farm.model.job_build(spec.job_id))
    assert heavy is not None
    events = whole_stream(logs, group, heavy)
    messages = [e["message"] for e in events]
    replaced = [m for m in messages if "\ufffd" in m]
    assert len(replaced) == 1 and "fa\ufffdade" in replaced[0]
    bars = [m for m in messages if "\r" in m]
    assert len(bars) == 1 and bars[0].count("\r") == 10 and "100%" in bars[0]
    sizes = [len(m.encode()) for m in messages]
    big = sizes.index(MAX_EVENT_BYTES)
    assert sizes[big + 1] == 300_000 - MAX_EVENT_BYTES
    assert events[big]["timestamp"] == events[big + 1]["timestamp"]
    assert max(sizes) == MAX_EVENT_BYTES < 1_048_576
    assert BLANK in messages and "" not in messages
    # On the wire: valid JSON, valid UTF-8, the replacement character as itself.
    url = urlsplit(module_farm.endpoint_url)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=30)
    try:
        connection.request(
            "POST",
            "/",
            body=json.dumps({"logGroupName": group, "logStreamName": heavy, "startFromHead": True}),
            headers={"X-Amz-Target": "Logs_20140328.GetLogEvents"},
        )
        raw = connection.getresponse().read()
    finally:
        connection.close()
    assert "\ufffd".encode() in raw
    decoded = json.loads(raw.decode("utf-8", errors="strict"))
    assert any("\ufffd" in e["message"] for e in decoded["events"])


# ---- the running job


def test_a_running_session_grows_with_the_clock() -> None:
    clock = ManualClock(1_800_000_000.0)
    with LocalFarm(seed=0, clock=clock) as farm:
        logs = logs_client(farm)
        deadline = check_responses(farm.client(retries={"total_max_attempts": 1}))
        spec = farm.job_by_name(JOBS["running"])
        group = group_of(farm, "running")
        build = farm.model.job_build(spec.job_id)
        started = [s for s in build.sessions if s["startedAt"] <= clock.now()]
        future = next(s for s in build.sessions if s["startedAt"] > clock.now() + 60)
        live = next(s for s in started if s["endedAt"] > clock.now() + 600)
        name = live["sessionId"]
        before = whole_stream(logs, group, name)
        now_ms = int(clock.now()) * 1000
        assert before and before[-1]["timestamp"] <= now_ms
        end_token = logs.get_log_events(logGroupName=group, logStreamName=name)["nextForwardToken"]
        quiet = logs.get_log_events(logGroupName=group, logStreamName=name, nextToken=end_token)
        assert quiet["events"] == [] and quiet["nextForwardToken"] == end_token
        with pytest.raises(logs.exceptions.ResourceNotFoundException):
            logs.get_log_events(logGroupName=group, logStreamName=future["sessionId"])
        listed = {
            s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group)["logStreams"]
        }
        assert name in listed and future["sessionId"] not in listed

        for _ in range(4):
            clock.advance(97.0)
            after = whole_stream(logs, group, name)
            assert after[: len(before)] == before and len(after) > len(before)
            assert after[-1]["timestamp"] <= int(clock.now()) * 1000
            # The same end token now reads what was added, then comes back unchanged again.
            more = logs.get_log_events(
                logGroupName=group, logStreamName=name, nextToken=end_token, limit=10_000
            )
            assert more["events"] == after[len(before) :]
            end_token = more["nextForwardToken"]
            before = after
            # Each running task run: the heartbeat's progress is the last line printed before it.
            actions = [
                a
                for a in job_actions(deadline, farm, "running")
                if a["status"] == "RUNNING" and "taskRun" in a["definition"]
            ]
            assert actions
            for action in actions:
                events = whole_stream(logs, group, action["sessionId"])
                mine = [e for e in events if e["timestamp"] >= ms(action["startedAt"])]
                if any(e["message"] == "openjd_progress: 100.0" for e in mine):
                    continue  # finishing: 100% printed, the output on its way up
                until = ms(action["workerUpdatedAt"])
                assert last_progress(mine, until) == action["progressPercent"]
                statuses = [
                    e["message"]
                    for e in mine
                    if e["message"].startswith("openjd_status: ") and e["timestamp"] <= until
                ]
                if statuses:
                    assert statuses[-1] == f"openjd_status: {action['progressMessage']}"
        # The session starts: its stream exists from then on, its first lines come a moment later.
        clock.set(math.ceil(future["startedAt"]))
        fresh = logs.describe_log_streams(
            logGroupName=group, logStreamNamePrefix=future["sessionId"]
        )["logStreams"]
        assert [s["logStreamName"] for s in fresh] == [future["sessionId"]]
        clock.advance(5.0)
        first = logs.get_log_events(logGroupName=group, logStreamName=future["sessionId"])
        assert first["events"][0]["message"].startswith("Running Session Actions as user: ")


# ---- knobs


def test_the_logs_quota_throttles_each_logs_operation() -> None:
    with LocalFarm(seed=0, logs_quota=3) as farm:
        logs = logs_client(farm)
        deadline = check_responses(farm.client(retries={"total_max_attempts": 1}))
        group = group_of(farm, "failing")
        outcomes = []
        for _ in range(6):
            try:
                logs.describe_log_streams(logGroupName=group, limit=1)
                outcomes.append("ok")
            except logs.exceptions.ThrottlingException as error:
                outcomes.append("throttled")
                response = error.response
        assert outcomes[:3] == ["ok"] * 3 and "throttled" in outcomes[3:]
        assert response["Error"]["Message"] == "Rate exceeded"
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
        # Another logs operation has its own quota; the Deadline API has none.
        logs.describe_log_groups()
        for _ in range(10):
            deadline.get_farm(farmId=farm.farm_id)
        # boto3's standard retries ride it out, as against the service.
        patient = farm.logs_client(retries={"mode": "standard", "total_max_attempts": 10})
        for _ in range(4):
            patient.describe_log_streams(logGroupName=group, limit=1)

    with LocalFarm(seed=0, logs_quota=True) as farm:
        logs = logs_client(farm)
        group = group_of(farm, "failing")
        stream = farm.logs.streams(group)[0].name

        def burst(call: Any) -> int:
            allowed = 0
            for _ in range(40):
                try:
                    call()
                    allowed += 1
                except logs.exceptions.ThrottlingException:
                    return allowed
            return allowed

        got = burst(
            lambda: logs.filter_log_events(logGroupName=group, logStreamNames=[stream], limit=1)
        )
        assert SERVICE_QUOTAS["FilterLogEvents"] <= got <= SERVICE_QUOTAS["FilterLogEvents"] + 2
        got = burst(lambda: logs.get_log_events(logGroupName=group, logStreamName=stream, limit=1))
        assert SERVICE_QUOTAS["GetLogEvents"] <= got <= SERVICE_QUOTAS["GetLogEvents"] + 2


def test_latency_faults_and_account_errors_apply_to_the_logs_too() -> None:
    with LocalFarm(seed=1, latency=0.05) as farm:
        logs = logs_client(farm)
        start = time.perf_counter()
        for _ in range(4):
            logs.describe_log_groups()
        assert time.perf_counter() - start >= 0.2
        group = group_of(farm, "failing")
        farm.denied_queues.add(farm.job_by_name("failing").queue_id)
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            logs.describe_log_streams(logGroupName=group)
        assert caught.value.response["Error"]["Code"] == "AccessDeniedException"
        assert "logs:DescribeLogStreams" in caught.value.response["Error"]["Message"]
        farm.denied_queues.clear()
        farm.expired_credentials = True
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            logs.describe_log_groups()
        assert caught.value.response["Error"]["Code"] == "ExpiredTokenException"
    with LocalFarm(seed=3, fault_rate=0.4) as farm:
        logs = logs_client(farm)
        failed = 0
        for _ in range(30):
            try:
                logs.describe_log_groups()
            except logs.exceptions.ServiceUnavailableException as error:
                assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 500
                failed += 1
        assert 3 <= failed <= 25


def test_the_logs_quota_knob_is_checked_and_on_the_command_line() -> None:
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="`logs_quota`"):
            LocalFarm(logs_quota=bad)
    with pytest.raises(TypeError, match="`logs_quota`"):
        LocalFarm(logs_quota="25")  # type: ignore[arg-type]
    parser = cli.build_parser()
    assert parser.parse_args(["localfarm", "--logs-quota", "25"]).logs_quota == 25.0
    assert parser.parse_args(["localfarm", "--logs-quota", "service"]).logs_quota is True
    assert parser.parse_args(["localfarm"]).logs_quota is None
    for bad_text in ("0", "abc", "-3"):
        with pytest.raises(SystemExit):
            parser.parse_args(["localfarm", "--logs-quota", bad_text])


def test_the_localfarm_help_documents_the_logs_quota(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["localfarm", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--logs-quota R|service" in text
    assert "CloudWatch Logs" in text and "'service' for the service's own quotas" in text


# ---- the official CLI


def run_deadline(farm: LocalFarm, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    executable = Path(sys.executable).with_name("deadline")
    assert executable.exists(), "the deadline CLI (a dev dependency) is not installed"
    return subprocess.run(
        [str(executable), "job", "logs", *args],
        env=deadline_env(farm, home),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("role", "status", "code"), [("failing", "FAILED", 137), ("render", "SUCCEEDED", 0)]
)
def test_deadline_job_logs_prints_an_actions_lines(
    module_farm: LocalFarm,
    logs: Any,
    deadline: Any,
    tmp_path: Path,
    role: str,
    status: str,
    code: int,
) -> None:
    spec = module_farm.job_by_name(JOBS[role])
    actions = job_actions(deadline, module_farm, role)
    action = next(
        a
        for a in actions
        if a["status"] == status
        and a.get("processExitCode") == code
        and "taskRun" in a["definition"]
        and a["sessionId"] != hard_session(module_farm.model.job_build(spec.job_id))
    )
    result = run_deadline(
        module_farm,
        tmp_path,
        "--farm-id",
        module_farm.farm_id,
        "--queue-id",
        spec.queue_id,
        "--job-id",
        spec.job_id,
        "--session-action-id",
        action["sessionActionId"],
        "--limit",
        "10000",
        "--output",
        "json",
    )
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    group = group_of(module_farm, role)
    assert printed["logGroup"] == group and printed["logStream"] == action["sessionId"]
    mine = in_window(whole_stream(logs, group, action["sessionId"]), action)
    # The CLI strips trailing whitespace from each message (the blank line is " ").
    assert [e["message"] for e in printed["events"]] == [e["message"].rstrip() for e in mine]
    assert printed["events"][2]["message"] == "--------- Running Task"
    assert exit_code([{"message": e["message"]} for e in printed["events"]]) == code


def test_deadline_job_logs_by_session_prints_its_latest_lines(
    module_farm: LocalFarm, logs: Any, tmp_path: Path
) -> None:
    spec = module_farm.job_by_name(JOBS["failing"])
    session = module_farm.model.view(spec.job_id).sessions[0]["sessionId"]
    result = run_deadline(
        module_farm,
        tmp_path,
        "--farm-id",
        module_farm.farm_id,
        "--queue-id",
        spec.queue_id,
        "--job-id",
        spec.job_id,
        "--session-id",
        session,
        "--output",
        "verbose",
    )
    assert result.returncode == 0, result.stderr
    assert "Retrieved 100 log events." in result.stdout
    # Each event as "[<timestamp>] <message>"; a message with newlines goes on over lines.
    block = result.stdout.split("\n\n", 1)[1].split("\n\nRetrieved ", 1)[0]
    messages: list[str] = []
    for line in block.split("\n"):
        if re.match(r"\[\d{4}-\d\d-\d\d[^]]*\] ", line):
            messages.append(line.split("] ", 1)[1])
        else:
            messages[-1] += "\n" + line
    events = whole_stream(logs, group_of(module_farm, "failing"), session)
    # 100 events by default: the session's last ones.
    assert messages == [e["message"].rstrip() for e in events[-100:]]


def test_logs_are_made_on_demand_and_the_same_every_time() -> None:
    with LocalFarm(seed=0, size=3000) as farm, LocalFarm(seed=0, size=3000) as twin:
        spec = farm.job_by_name("big")
        group = f"/aws/deadline/{farm.farm_id}/{spec.queue_id}"
        sessions = [s["sessionId"] for s in farm.model.view(spec.job_id).sessions]
        # Another farm, with room for one session's log only: each read makes it again.
        small = FarmLogs(twin.model, cache_sessions=1)
        for name in (sessions[0], sessions[-1], sessions[0]):
            served = whole_stream(logs_client(farm), group, name)
            made, _ = small.events(group, name)
            assert [(e.timestamp, e.ingestion_time, e.message) for e in made] == [
                (e["timestamp"], e["ingestionTime"], e["message"]) for e in served
            ]
            assert titles(served)[-1] == "Session Cleanup"
        # Byte for byte, from two farms of one seed.
        raw = []
        for one in (farm, twin):
            status, _, body = one.handle(
                "POST",
                "/",
                json.dumps({"logGroupName": group, "logStreamName": sessions[1]}).encode(),
                {"X-Amz-Target": "Logs_20140328.GetLogEvents"},
            )
            assert status == 200
            raw.append(body)
        assert raw[0] == raw[1]
