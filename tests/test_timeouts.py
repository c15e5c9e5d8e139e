"""A service that accepts connections and never answers: bounded waits, one sentence, partial kept.

The silent service is either a bare TCP server here (it accepts and never answers a byte) or the
local farm with ``silent_after=N`` (it answers N requests, then holds every connection open
without answering). Timeouts are set to a second or two so that "does not hang" is checked with
a generous bound, not a timing of speed.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest

import deadline_nb as dnb
from deadline_nb import errors
from deadline_nb.aws import translate
from deadline_nb.cache import Cache
from deadline_nb.localfarm import LocalFarm

# Far above the one or two seconds these fetches take with 1 s timeouts, far below the
# minutes botocore's defaults (60 s read timeout, retried) would hold them.
HANG = 20.0


class SilentServer:
    """A TCP server on 127.0.0.1 that accepts every connection and never answers a byte."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.socket.settimeout(0.05)
        self.accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="silent-server", daemon=True)
        self._thread.start()

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.socket.getsockname()[1]}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted.append(connection)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for connection in self.accepted:
            connection.close()
        self.socket.close()


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    try:
        yield server
    finally:
        server.close()


def fetch_threads() -> list[str]:
    names = ("deadline-nb-fetch", "deadline-nb-progress", "silent-server")
    return [t.name for t in threading.enumerate() if t.name.startswith(names)]


def wait_for_fetch_threads(seconds: float = 10.0) -> list[str]:
    """Wait until the fetch's threads have ended (or ``seconds`` passed); return those left."""
    deadline = time.monotonic() + seconds
    while fetch_threads() and time.monotonic() < deadline:
        time.sleep(0.05)
    return fetch_threads()


@pytest.fixture(autouse=True)
def _no_fetch_left_running() -> Iterator[None]:
    """A failed fetch must not leave its threads behind, waiting on a silent server."""
    yield
    assert wait_for_fetch_threads() == []


def quick_client(endpoint_url: str, **options: Any) -> Any:
    return dnb.client(endpoint_url=endpoint_url, connect_timeout=1, read_timeout=1, **options)


def ids(farm: LocalFarm, role: str) -> tuple[str, str, str]:
    job = farm.job_by_name(role)
    return farm.farm_id, job.queue_id, job.job_id


# ---- the client


def test_the_client_waits_as_long_as_suits_a_notebook(farm: LocalFarm) -> None:
    config: Any = dnb.client(endpoint_url=farm.endpoint_url).meta.config
    assert config.connect_timeout == 10
    assert config.read_timeout == 30
    config = quick_client(farm.endpoint_url).meta.config
    assert (config.connect_timeout, config.read_timeout) == (1, 1)


@pytest.mark.parametrize("name", ["connect_timeout", "read_timeout"])
def test_a_timeout_must_be_positive(name: str) -> None:
    with pytest.raises(ValueError, match=f"The value for `{name}` must be positive, but 0"):
        options: dict[str, Any] = {name: 0}
        dnb.client(endpoint_url="http://127.0.0.1:1", **options)


def test_a_silent_server_is_asked_twice_not_ten_times(silent: SilentServer) -> None:
    c = quick_client(silent.endpoint_url)
    started = time.monotonic()
    with pytest.raises(botocore.exceptions.ReadTimeoutError):
        c.list_farms()
    assert time.monotonic() - started < HANG
    # One retry for a hiccup; botocore's ten attempts would hold a notebook for minutes.
    assert len(silent.accepted) == 2


# ---- a fetch against a server that never answers


def test_a_fetch_from_a_silent_server_ends_in_one_sentence_naming_it(
    silent: SilentServer,
) -> None:
    c = quick_client(silent.endpoint_url)
    started = time.monotonic()
    with pytest.raises(errors.ServiceError) as caught:
        dnb.fetch_session_actions(
            "farm-1", "queue-1", "job-1", client=c, cache=False, progress=False
        )
    assert time.monotonic() - started < HANG
    message = str(caught.value)
    assert silent.endpoint_url in message
    assert "did not answer GetJob within 1 s" in message
    assert message.count(". ") == 0 and message.endswith(".")  # one sentence
    assert caught.value.operation == "GetJob"
    assert caught.value.job_id == "job-1"
    assert isinstance(caught.value.__cause__, botocore.exceptions.ReadTimeoutError)
    assert caught.value.partial == []


def test_load_job_from_a_silent_server_ends_too(silent: SilentServer) -> None:
    c = quick_client(silent.endpoint_url)
    started = time.monotonic()
    with pytest.raises(errors.ServiceError, match=silent.endpoint_url):
        dnb.load_job("farm-1", "queue-1", "job-1", client=c, cache=False, progress=False)
    assert time.monotonic() - started < HANG


def test_the_bar_shows_while_the_first_call_waits(
    silent: SilentServer, capsys: pytest.CaptureFixture[str]
) -> None:
    c = quick_client(silent.endpoint_url)
    with pytest.raises(errors.ServiceError):
        dnb.fetch_session_actions("farm-1", "queue-1", "job-1", client=c, cache=False)
    # GetJob never answered: the bar (named after the job until its name is known) was shown
    # all the same, so the notebook did not look dead.
    assert "job-1" in capsys.readouterr().err


def test_no_bar_when_not_asked_even_while_waiting(
    silent: SilentServer, capsys: pytest.CaptureFixture[str]
) -> None:
    c = quick_client(silent.endpoint_url)
    with pytest.raises(errors.ServiceError):
        dnb.fetch_session_actions("farm-1", "queue-1", "job-1", client=c, progress=False)
    assert capsys.readouterr().err == ""


def test_the_bar_shows_on_a_slow_farm(capsys: pytest.CaptureFixture[str]) -> None:
    with LocalFarm(seed=0, latency=0.7) as slow:
        c = dnb.client(endpoint_url=slow.endpoint_url)
        dnb.fetch_job(*ids(slow, "failing"), client=c)
        capsys.readouterr()
        dnb.fetch_session_actions(*ids(slow, "failing"), client=c, cache=False)
    # Shown while GetJob waited, before any action was counted.
    assert "0action" in capsys.readouterr().err.replace(" ", "")


# ---- a server that goes silent in the middle of a fetch


def calls_of_a_fetch(farm: LocalFarm, role: str) -> int:
    farm.reset_calls()
    dnb.fetch_session_actions(
        *ids(farm, role), client=farm.client(), cache=False, progress=False, max_workers=1
    )
    return sum(farm.calls.values())


@pytest.mark.parametrize("cache", [False, True])
def test_a_server_going_silent_midway_keeps_what_was_fetched(cache: bool, tmp_path: Any) -> None:
    with LocalFarm(seed=0) as counting:
        calls = calls_of_a_fetch(counting, "render")
        truth = {
            a["sessionActionId"] for a in counting.model.session_actions(ids(counting, "render")[2])
        }
    # The same farm again, answering every call of that fetch but the last (a batch).
    with LocalFarm(seed=0, silent_after=calls - 1) as going:
        endpoint = going.endpoint_url
        c = quick_client(endpoint)
        store = Cache(tmp_path / "cache.sqlite") if cache else False
        started = time.monotonic()
        with pytest.raises(errors.ServiceError) as caught:
            dnb.fetch_session_actions(
                *ids(going, "render"), client=c, cache=store, progress=False, max_workers=1
            )
        assert time.monotonic() - started < HANG
    error = caught.value
    assert endpoint in str(error)
    assert error.operation == "BatchGetSessionAction"
    kept = {a["sessionActionId"] for a in error.partial}
    assert kept and kept < truth
    assert all("sessionId" in a and "farmId" in a for a in error.partial)
    if isinstance(store, Cache):
        assert set(store.action_states(*ids(going, "render"))) == kept
        store.close()


def test_load_job_whose_step_listing_goes_silent_keeps_every_action() -> None:
    # The steps are listed while the actions come (a thread of their own): ListSteps never
    # answering must still leave every action fetched, in `partial`, and name ListSteps.
    def silent(request: Any, **_: Any) -> None:
        raise botocore.exceptions.ReadTimeoutError(endpoint_url=request.url)

    with LocalFarm(seed=0) as farm:
        c = quick_client(farm.endpoint_url)
        c.meta.events.register("before-send.deadline.ListSteps", silent)
        with pytest.raises(errors.ServiceError, match="did not answer ListSteps") as caught:
            dnb.load_job(*ids(farm, "render"), client=c, cache=False, progress=False)
        truth = farm.model.session_actions(ids(farm, "render")[2])
    assert len(caught.value.partial) == len(truth)


def test_the_silent_farm_lets_go_when_it_stops() -> None:
    farm = LocalFarm(seed=0, silent_after=0).start()
    try:
        with socket.create_connection(("127.0.0.1", int(farm.endpoint_url.rsplit(":", 1)[1]))) as s:
            s.sendall(b"GET /2023-10-12/farms HTTP/1.1\r\nHost: x\r\n\r\n")
            s.settimeout(0.3)
            with pytest.raises(TimeoutError):
                s.recv(1)  # held, not answered
            farm.stop()
            s.settimeout(5)
            assert s.recv(1) == b""  # let go: the connection is closed, nothing was sent
    finally:
        farm.stop()


# ---- a deadline for the whole fetch


def test_timeout_caps_the_whole_fetch_and_keeps_what_it_had() -> None:
    with LocalFarm(seed=0, latency=0.3) as slow:
        c = dnb.client(endpoint_url=slow.endpoint_url)
        started = time.monotonic()
        with pytest.raises(errors.ServiceError, match=r"did not finish within 1\.5 s") as caught:
            dnb.fetch_session_actions(
                *ids(slow, "render"),
                client=c,
                cache=False,
                progress=False,
                timeout=1.5,
                max_workers=2,
            )
        assert time.monotonic() - started < HANG
        message = str(caught.value)
        assert slow.endpoint_url in message and message.count(". ") == 0
        truth = {a["sessionActionId"] for a in slow.model.session_actions(ids(slow, "render")[2])}
        assert {a["sessionActionId"] for a in caught.value.partial} <= truth
        # The calls in flight at the deadline end by themselves, as the farm answers them.
        assert wait_for_fetch_threads() == []


def test_timeout_caps_load_job() -> None:
    with LocalFarm(seed=0, latency=0.3) as slow:
        c = dnb.client(endpoint_url=slow.endpoint_url)
        started = time.monotonic()
        with pytest.raises(errors.ServiceError, match="did not finish within 1 s"):
            dnb.load_job(*ids(slow, "render"), client=c, cache=False, progress=False, timeout=1)
        assert time.monotonic() - started < HANG
        assert wait_for_fetch_threads() == []


def test_timeout_leaves_a_fetch_that_finishes_alone(farm: LocalFarm) -> None:
    c = dnb.client(endpoint_url=farm.endpoint_url)
    job = dnb.load_job(*ids(farm, "failing"), client=c, cache=False, progress=False, timeout=600)
    assert len(job.actions) == len(farm.model.session_actions(job.job_id))
    assert job.refresh()._options["timeout"] == 600


@pytest.mark.parametrize("timeout", [0, -1.0])
def test_timeout_must_be_positive(farm: LocalFarm, timeout: float) -> None:
    with pytest.raises(ValueError, match="The value for `timeout` must be positive or None"):
        dnb.fetch_session_actions(*ids(farm, "failing"), client=farm.client(), timeout=timeout)


# ---- what each network failure says


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (
            botocore.exceptions.ConnectTimeoutError(
                endpoint_url="https://deadline.us-west-2.amazonaws.com/2023-10-12/farms",
                error="Connection to deadline.us-west-2.amazonaws.com timed out. "
                "(connect timeout=10)",
            ),
            "could not be reached within 10 s",
        ),
        (
            botocore.exceptions.ReadTimeoutError(
                endpoint_url="https://deadline.us-west-2.amazonaws.com/2023-10-12/farms",
                error="HTTPSConnectionPool(host='x', port=443): Read timed out. (read timeout=30)",
            ),
            "did not answer ListFarms within 30 s",
        ),
        (
            botocore.exceptions.EndpointConnectionError(
                endpoint_url="https://deadline.us-west-2.amazonaws.com/2023-10-12/farms",
                error="Connection refused",
            ),
            "could not be reached",
        ),
        (
            botocore.exceptions.ConnectionClosedError(
                endpoint_url="https://deadline.us-west-2.amazonaws.com/2023-10-12/farms",
            ),
            "closed the connection",
        ),
    ],
)
def test_network_failures_name_the_endpoint_in_one_sentence(error: Exception, says: str) -> None:
    translated = translate(error, operation="ListFarms")
    assert isinstance(translated, errors.ServiceError)
    message = str(translated)
    assert "https://deadline.us-west-2.amazonaws.com " in message  # the endpoint, not the path
    assert says in message
    assert message.count(". ") == 0 and message.endswith(".")
    assert translated.operation == "ListFarms"
