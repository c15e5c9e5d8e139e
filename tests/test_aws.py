"""The client factory's timestamp parsing, on clients for real AWS endpoints; nothing is sent.

A response is handed to each client by botocore's own ``before-send`` hook, so it goes through
the client's real parsing path (endpoint, parser factory, shapes) without any network.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.parsers
import botocore.utils
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders

import deadline_nb as dnb
from deadline_nb.timestamps import parse_timestamp

# The shapes timestamps come in: what Deadline Cloud sends (ISO 8601 in UTC, with or without
# milliseconds), other offsets and precisions, and epoch numbers (JSON numbers and text).
TIMESTAMPS: list[Any] = [
    "2026-03-02T08:00:00Z",
    "2026-03-02T08:00:00.250Z",
    "2026-03-02T08:00:00.000Z",
    "2026-03-02T08:00:00.123456Z",
    "2026-03-02T08:00:00.123456789Z",
    "2026-03-02T08:00:00+00:00",
    "2026-03-02T10:00:00.5+02:00",
    "2026-03-02T00:30:00-07:30",
    "2026-03-02T08:00:00.000z",
    "20260302T080000Z",
    1772438400,
    1772438400.25,
    "1772438400",
]

AWS_ENDPOINT = "https://deadline.us-west-2.amazonaws.com"


class _Body:
    """The raw body of an HTTP response, as botocore reads it."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


def _answer(c: Any, body: dict[str, Any]) -> None:
    """Make every call of ``c`` get ``body`` back, without sending anything."""

    def send(request: Any, **_: Any) -> AWSResponse:
        data = json.dumps(body).encode()
        headers = HTTPHeaders()
        headers["Content-Type"] = "application/json"
        headers["Content-Length"] = str(len(data))
        return AWSResponse(request.url, 200, headers, _Body(data))

    c.meta.events.register("before-send.deadline", send)


def _session() -> boto3.Session:
    return boto3.Session(
        aws_access_key_id="AKIDUMMY", aws_secret_access_key="dummy", region_name="us-west-2"
    )


def _started_at(c: Any, value: Any) -> dt.datetime:
    _answer(
        c,
        {
            "sessionActionId": "sessionaction-" + "a" * 32 + "-0",
            "status": "SUCCEEDED",
            "startedAt": value,
            "definition": {"envEnter": {"environmentId": "env-1"}},
        },
    )
    response = c.get_session_action(
        farmId="farm-" + "0" * 32,
        queueId="queue-" + "0" * 32,
        jobId="job-" + "0" * 32,
        sessionActionId="sessionaction-" + "a" * 32 + "-0",
    )
    started: dt.datetime = response["startedAt"]
    return started


@pytest.mark.usefixtures("no_aws_config")
def test_a_client_for_aws_parses_timestamps_fast_and_leaves_other_clients_alone() -> None:
    session = _session()
    ours = dnb.client(boto3_session=session)
    assert ours.meta.endpoint_url == AWS_ENDPOINT  # a real AWS endpoint, not the local farm
    # The parser that ours builds for Deadline's protocol uses the fast timestamp parser...
    parser: Any = ours._endpoint._response_parser_factory.create_parser("rest-json")  # type: ignore[attr-defined]
    assert parser._timestamp_parser is parse_timestamp
    # ...and so does the answer it gives; botocore's dateutil path gives a dateutil tzinfo.
    assert _started_at(ours, "2026-03-02T08:00:00.250Z").tzinfo is dt.timezone.utc
    # The user's session, boto3's default session and botocore stay as they were.
    others: list[Any] = [
        session.client("deadline"),
        boto3.client(
            "deadline",
            region_name="us-west-2",
            aws_access_key_id="AKIDUMMY",
            aws_secret_access_key="dummy",
        ),
    ]
    for other in others:
        stock: Any = other._endpoint._response_parser_factory.create_parser("rest-json")
        assert stock._timestamp_parser is botocore.utils.parse_timestamp
        started = _started_at(other, "2026-03-02T08:00:00.250Z")
        assert type(started.tzinfo).__module__.startswith("dateutil")
        assert started == dt.datetime(2026, 3, 2, 8, 0, 0, 250000, tzinfo=dt.timezone.utc)
    assert botocore.parsers.DEFAULT_TIMESTAMP_PARSER is botocore.utils.parse_timestamp


@pytest.mark.usefixtures("no_aws_config")
@pytest.mark.parametrize("value", TIMESTAMPS)
def test_fast_timestamps_are_the_instants_botocore_gives(value: Any) -> None:
    stock = botocore.utils.parse_timestamp(value)
    fast = parse_timestamp(value)
    assert fast == stock
    assert fast.utcoffset() == stock.utcoffset()
    # The same through whole clients: ours for AWS, and a stock boto3 client.
    session = _session()
    ours = _started_at(dnb.client(boto3_session=session), value)
    theirs = _started_at(session.client("deadline"), value)
    assert ours == theirs == stock
    assert ours.utcoffset() == theirs.utcoffset()


@pytest.mark.parametrize("value", TIMESTAMPS)
def test_the_python_3_10_path_reads_the_same_instants(
    value: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Python 3.10's fromisoformat does not read "Z": the text is rewritten first there.
    import deadline_nb.timestamps as timestamps

    monkeypatch.setattr(timestamps, "_READS_Z", False)
    fast = parse_timestamp(value)
    stock = botocore.utils.parse_timestamp(value)
    assert fast == stock
    assert fast.utcoffset() == stock.utcoffset()


def test_a_local_farm_client_parses_timestamps_fast_too(farm: Any) -> None:
    c = dnb.client(endpoint_url=farm.endpoint_url)
    parser: Any = c._endpoint._response_parser_factory.create_parser("rest-json")  # type: ignore[attr-defined]
    assert parser._timestamp_parser is parse_timestamp
