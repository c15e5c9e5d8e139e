"""The local farm against bad knobs and hostile clients: clear errors, a clean stderr, no hang.

Knobs that make no sense (a port past 65535, a latency of nan, an infinite speedup) are refused
where they are given: by ``deadline-nb localfarm`` as a one-line usage error, and by
``LocalFarm(...)`` / ``FarmModel(...)`` in the package's one wording. Requests with a bad
``Content-Length``, and clients that leave mid-request or mid-response, get an answer shaped like
the service's errors (or none, when nobody is left to read it) without a traceback on the server's
stderr, and the farm keeps serving.
"""

from __future__ import annotations

import http.client
import json
import math
import socket
import struct
import time
from typing import Any
from urllib.parse import urlsplit

import pytest

from deadline_nb import cli
from deadline_nb.localfarm import FarmModel, LocalFarm
from deadline_nb.localfarm.clock import ManualClock, WallClock
from deadline_nb.localfarm.server import MAX_REQUEST_BODY

# ---------------------------------------------------------------------------------------------
# knobs


@pytest.mark.parametrize(
    ("argv", "option", "name"),
    [
        (["--port", "99999"], "--port", "port"),
        (["--port", "-1"], "--port", "port"),
        (["--port", "65536"], "--port", "port"),
        (["--latency", "nan"], "--latency", "latency"),
        (["--latency", "inf"], "--latency", "latency"),
        (["--latency", "-1"], "--latency", "latency"),
        (["--speedup", "nan"], "--speedup", "speedup"),
        (["--speedup", "inf"], "--speedup", "speedup"),
        (["--speedup", "0"], "--speedup", "speedup"),
        (["--throttle-rate", "nan"], "--throttle-rate", "throttle_rate"),
        (["--throttle-rate", "inf"], "--throttle-rate", "throttle_rate"),
        (["--throttle-rate", "-5"], "--throttle-rate", "throttle_rate"),
        (["--fault-rate", "nan"], "--fault-rate", "fault_rate"),
        (["--fault-rate", "2"], "--fault-rate", "fault_rate"),
        (["--item-fault-rate", "inf"], "--item-fault-rate", "item_fault_rate"),
        (["--item-fault-rate", "-0.5"], "--item-fault-rate", "item_fault_rate"),
        (["--size", "-1"], "--size", "size"),
    ],
)
def test_the_localfarm_command_refuses_bad_knobs_in_one_usage_line(
    argv: list[str],
    option: str,
    name: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def started(args: Any) -> int:  # pragma: no cover - reached only by the defect
        raise AssertionError(f"the farm was started with {argv}")

    monkeypatch.setattr(cli, "run_localfarm", started)
    with pytest.raises(SystemExit) as caught:
        cli.main(["localfarm", *argv])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    # argparse's usage line, then one line that names the option and says why.
    assert last.startswith(f"deadline-nb localfarm: error: argument {option}: ")
    assert f"The value for `{name}` must " in last
    assert argv[1] in last


def test_the_localfarm_command_still_takes_good_knobs() -> None:
    args = cli.build_parser().parse_args(
        [
            "localfarm",
            "--port",
            "65535",
            "--latency",
            "0.02",
            "--speedup",
            "60",
            "--throttle-rate",
            "5",
            "--fault-rate",
            "1",
            "--item-fault-rate",
            "0",
            "--size",
            "0",
        ]
    )
    assert (args.port, args.latency, args.speedup, args.throttle_rate) == (65535, 0.02, 60.0, 5.0)
    assert (args.fault_rate, args.item_fault_rate, args.size) == (1.0, 0.0, 0)


NAN, INF = math.nan, math.inf


@pytest.mark.parametrize(
    ("knobs", "name"),
    [
        ({"port": 99999}, "port"),
        ({"port": -1}, "port"),
        ({"latency": NAN}, "latency"),
        ({"latency": INF}, "latency"),
        ({"speedup": NAN}, "speedup"),
        ({"speedup": INF}, "speedup"),
        ({"speedup": -INF}, "speedup"),
        ({"throttle_rate": NAN}, "throttle_rate"),
        ({"throttle_rate": INF}, "throttle_rate"),
        ({"fault_rate": NAN}, "fault_rate"),
        ({"item_fault_rate": NAN}, "item_fault_rate"),
        ({"size": -1}, "size"),
        ({"size": 2.5}, "size"),
    ],
)
def test_local_farm_refuses_bad_knobs_in_the_package_wording(
    knobs: dict[str, Any], name: str
) -> None:
    with pytest.raises(ValueError, match=rf"^The value for `{name}` must .*, but .* was passed\.$"):
        LocalFarm(**knobs)


@pytest.mark.parametrize(
    ("knobs", "name"),
    [
        ({"speedup": NAN}, "speedup"),
        ({"speedup": INF}, "speedup"),
        ({"size": -3}, "size"),
        ({"start": NAN}, "start"),
        ({"start": INF}, "start"),
    ],
)
def test_farm_model_refuses_bad_knobs_in_the_package_wording(
    knobs: dict[str, Any], name: str
) -> None:
    with pytest.raises(ValueError, match=rf"^The value for `{name}` must "):
        FarmModel(**knobs)
    if "size" not in knobs:
        with pytest.raises(ValueError, match=rf"^The value for `{name}` must "):
            WallClock(**knobs)


def test_a_manual_clock_refuses_instants_that_are_not_finite() -> None:
    with pytest.raises(ValueError, match=r"^The value for `start` must "):
        ManualClock(NAN)
    clock = ManualClock(100.0)
    with pytest.raises(ValueError, match=r"^The value for `seconds` must "):
        clock.advance(NAN)
    with pytest.raises(ValueError, match=r"^The value for `seconds` must "):
        clock.advance(INF)
    with pytest.raises(ValueError, match=r"^The value for `at` must "):
        clock.set(INF)
    assert clock.now() == 100.0  # unchanged by the refused moves


def test_good_knobs_at_their_limits_are_taken() -> None:
    farm = LocalFarm(port=0, latency=0.0, throttle_rate=0.5, fault_rate=1.0, item_fault_rate=0.0)
    assert farm.port == 0
    assert LocalFarm(port=65535).port == 65535
    assert FarmModel(speedup=1e6).clock.now() > 0


# ---------------------------------------------------------------------------------------------
# the HTTP server against hostile clients


def _address(farm: LocalFarm) -> tuple[str, int]:
    parts = urlsplit(farm.endpoint_url)
    return parts.hostname or "127.0.0.1", parts.port or 0


def _raw(farm: LocalFarm, head: bytes, body: bytes = b"") -> tuple[int, dict[str, str], Any]:
    """Send ``head`` (request line and headers, no blank line) and ``body``; read the answer."""
    with socket.create_connection(_address(farm), timeout=5) as sock:
        sock.sendall(head + b"\r\n\r\n" + body)
        response = http.client.HTTPResponse(sock)
        response.begin()
        payload = response.read()
        headers = {k.lower(): v for k, v in response.getheaders()}
    return response.status, headers, json.loads(payload)


def _request(length: str) -> bytes:
    return (
        b"POST /2023-10-12/farms HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: " + length.encode("latin-1")
    )


def _still_serves(farm: LocalFarm) -> None:
    farms = farm.client(retries={"total_max_attempts": 1}).list_farms()["farms"]
    assert [f["farmId"] for f in farms] == [farm.farm_id]


def _assert_quiet(err: str) -> None:
    for noise in ("Traceback", "Exception", "Error", "----"):
        assert noise not in err, err


@pytest.mark.parametrize(
    ("length", "status", "reason"),
    [
        ("abc", 400, "CANNOT_PARSE"),
        ("1.5", 400, "CANNOT_PARSE"),
        ("-1", 400, "CANNOT_PARSE"),
        ("\u00b2", 400, "CANNOT_PARSE"),  # a digit to str.isdigit(), not to HTTP
        ("5\r\nContent-Length: 7", 400, "CANNOT_PARSE"),  # two lengths: which one?
        (str(2**40), 413, "OTHER"),
        ("9" * 5000, 413, "OTHER"),  # more digits than int() reads by default
        (str(MAX_REQUEST_BODY + 1), 413, "OTHER"),
    ],
)
def test_a_bad_content_length_is_answered_like_the_service(
    length: str, status: int, reason: str, capfd: pytest.CaptureFixture[str]
) -> None:
    with LocalFarm(seed=0) as farm:
        started = time.monotonic()
        got, headers, body = _raw(farm, _request(length))
        answered_in = time.monotonic() - started
        _still_serves(farm)
    assert got == status
    assert headers["x-amzn-errortype"] == "ValidationException"
    assert headers["connection"] == "close"  # the body's end is unknown: the connection ends
    assert "Content-Length" in body["message"]
    assert body["reason"] == reason
    assert answered_in < 2  # -1 used to wait for the client to leave
    _assert_quiet(capfd.readouterr().err)


def test_a_body_cut_short_is_not_answered_as_if_whole(capfd: pytest.CaptureFixture[str]) -> None:
    with LocalFarm(seed=0) as farm:
        with socket.create_connection(_address(farm), timeout=5) as sock:
            sock.sendall(_request("100") + b"\r\n\r\n" + b'{"farmId": ')
            sock.shutdown(socket.SHUT_WR)  # the client sends no more, and waits for an answer
            assert sock.recv(1024) == b""  # none: the connection is closed
        _still_serves(farm)
    _assert_quiet(capfd.readouterr().err)


def test_a_good_content_length_still_reads_the_body(farm: LocalFarm) -> None:
    job = farm.job_by_name("failing")
    action = farm.model.session_actions(job.job_id)[0]["sessionActionId"]
    body = json.dumps(
        {
            "identifiers": [
                {
                    "farmId": farm.farm_id,
                    "queueId": job.queue_id,
                    "jobId": job.job_id,
                    "sessionActionId": action,
                }
            ]
        }
    ).encode()
    head = (
        f"POST /2023-10-12/batch-get-session-action HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}"
    )
    status, _, answer = _raw(farm, head.encode(), body)
    assert status == 200
    assert [a["sessionActionId"] for a in answer["sessionActions"]] == [action]


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset, as a killed client's kernel does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_a_client_killed_before_the_answer_leaves_stderr_clean(
    capfd: pytest.CaptureFixture[str],
) -> None:
    # The latency keeps the answer back until the client is gone: the server then writes to a
    # reset connection (ConnectionResetError or BrokenPipeError).
    with LocalFarm(seed=0, latency=0.3) as farm:
        for _ in range(3):
            sock = socket.create_connection(_address(farm), timeout=5)
            sock.sendall(b"GET /2023-10-12/farms HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            time.sleep(0.05)
            _reset(sock)
        time.sleep(0.5)
        _still_serves(farm)
    _assert_quiet(capfd.readouterr().err)


def test_a_client_killed_mid_request_leaves_stderr_clean(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with LocalFarm(seed=0) as farm:
        sock = socket.create_connection(_address(farm), timeout=5)
        sock.sendall(b"GET /2023-10-12/farms HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: ")
        time.sleep(0.1)
        _reset(sock)
        sock = socket.create_connection(_address(farm), timeout=5)
        sock.sendall(_request("100") + b"\r\n\r\n" + b'{"half": ')
        time.sleep(0.1)
        _reset(sock)
        time.sleep(0.2)
        _still_serves(farm)
    _assert_quiet(capfd.readouterr().err)


def test_a_client_killed_mid_answer_leaves_stderr_clean(
    capfd: pytest.CaptureFixture[str],
) -> None:
    # A big answer (the first page of a big job's actions) cannot fit in the socket buffers of
    # a client that reads nothing and then resets.
    with LocalFarm(seed=0, size=2_000) as farm:
        job = farm.job_by_name("big")
        farm.model.session_actions(job.job_id)  # built before the clients arrive
        path = (
            f"/2023-10-12/farms/{farm.farm_id}/queues/{job.queue_id}/jobs/{job.job_id}"
            "/session-actions?maxResults=100"
        )
        for _ in range(3):
            sock = socket.create_connection(_address(farm), timeout=5)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
            request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
            sock.sendall(request * 50)  # fifty answers queued behind a reader that never reads
            time.sleep(0.3)
            _reset(sock)
        time.sleep(0.3)
        _still_serves(farm)
    _assert_quiet(capfd.readouterr().err)
