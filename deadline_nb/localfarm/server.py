"""The local farm's HTTP layer: :class:`LocalFarm` serves the farm's API on 127.0.0.1.

Two services share the one endpoint, as a client pointed at it expects: the Deadline Cloud REST
API (routed by method and path) and CloudWatch Logs for the session logs (JSON 1.1, routed by
the ``X-Amz-Target`` header, answered by :mod:`.logs`).

Requests are routed and parsed by :mod:`.routes`, answered by :mod:`.responses` from the model
(:mod:`.model`), and sent back with their timestamps as ISO 8601 text (:func:`.shapes.to_wire`).
Here live what belongs to HTTP: sockets and threads, keep-alive connections, latency, throttling,
injected faults and the account-level errors (denied queues, expired credentials).

Routes, query parameters, body members and id patterns come from botocore's service model, so an
unmodified boto3 client (and the official ``deadline`` CLI) can read the farm. Errors are what
AWS sends: a status code, an ``x-amzn-ErrorType`` header and a JSON body with the modeled members,
from which botocore raises the matching exception class.

Two details make it fast enough that a benchmark never measures the server: ``TCP_NODELAY`` on
every connection, and each response (status line, headers and body) written with one ``sendall``.
A stdlib handler that writes headers and body separately, with Nagle's algorithm on, meets the
client's delayed ACK and answers each keep-alive request in about 40 ms instead of about 2 ms.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import http.server
import json
import logging
import math
import random
import socket
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, Literal, overload

from ..timestamps import parse_timestamp
from .clock import Clock
from .exceptions import ApiError
from .ids import ACCOUNT, REGION
from .knobs import (
    check_count,
    check_port,
    check_positive,
    check_quota,
    check_seconds,
    check_share,
)
from .logs import (
    LOGS_OPERATIONS,
    SERVICE_QUOTAS,
    TARGET_PREFIX,
    FarmLogs,
    LogsError,
    LogsResponses,
    parse_logs_request,
)
from .model import FarmModel
from .responses import OPERATIONS, FarmResponses
from .routes import find_route, parse_request, route_table
from .shapes import to_wire
from .simulation import JobSpec

if TYPE_CHECKING:
    from mypy_boto3_deadline import DeadlineCloudClient

__all__ = ["MAX_REQUEST_BODY", "OPERATIONS", "ApiError", "LocalFarm"]

#: The largest request body the farm reads, in bytes: a ``BatchGet*`` call of 100 items is a few
#: kilobytes; a larger ``Content-Length`` is answered 413 before a byte of the body is read.
MAX_REQUEST_BODY: Final = 16 * 1024 * 1024

_log = logging.getLogger(__name__)


class _Bucket:
    """A token bucket: ``rate`` requests a second, bursts of up to one second's worth."""

    __slots__ = ("capacity", "last", "rate", "tokens")

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.last = time.monotonic()

    def take(self) -> float:
        """Take a token; return 0 when there was one, else the seconds until there is."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: boto3 reuses its connections
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        thread = threading.current_thread()
        thread.name = f"localfarm-{self.server.server_address[1]}-connection"
        with self.server.lock:
            self.server.connections[self.connection] = thread

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.lock:
                self.server.connections.pop(self.connection, None)

    def _serve(self) -> None:
        farm = self.server.farm
        if farm.silent_after is not None:
            with farm._lock:
                farm._heard += 1
                silent = farm._heard > farm.silent_after
            if silent:
                # A hung service: the request is taken and never answered. The connection is
                # held until the client gives up or stop() shuts it down (recv then ends).
                with contextlib.suppress(OSError):
                    while self.connection.recv(65536):
                        pass
                self.close_connection = True
                return
        try:
            length = _content_length(self.headers.get_all("Content-Length") or [])
        except ApiError as error:
            # Where the body ends is unknown, so nothing after it on this connection can be
            # read as a request: answer, then close.
            self.close_connection = True
            status, headers, payload = _error_answer(error)
            headers["Connection"] = "close"
        else:
            body = self.rfile.read(length) if length else b""
            if len(body) < length:  # the client left mid-body: nobody is there to answer
                self.close_connection = True
                return
            status, headers, payload = self.server.farm.handle(
                self.command, self.path, body, headers=dict(self.headers.items())
            )
        lines = [f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}"]
        lines.extend(f"{k}: {v}" for k, v in headers.items())
        lines.append(f"Content-Length: {len(payload)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        # One write: headers and body in the same segment, so Nagle never holds the body back.
        self.wfile.write(head + payload)

    # Every method the API could use; HEAD is left to the base class (501), it has no body.
    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def log_message(self, format: str, *args: Any) -> None:
        # Quiet: a benchmark makes thousands of requests.
        pass


def _content_length(values: list[str]) -> int:
    """The request body's length from its ``Content-Length`` headers, or the error to answer.

    Read as HTTP does (RFC 9110, 8.6): ASCII digits only, one value; a missing header is an
    empty body. A length past :data:`MAX_REQUEST_BODY` is refused before a byte of it is read.
    """
    if not values:
        return 0
    texts = {v.strip() for v in values}
    # Two different lengths: which one frames the body is anyone's guess (request smuggling).
    text = texts.pop() if len(texts) == 1 else ", ".join(values)
    # str.isdigit() alone takes "²" and other digits that int() refuses or that HTTP does not.
    if texts or not (text.isascii() and text.isdigit()):
        raise ApiError(
            "ValidationException",
            f"The request's Content-Length {text!r} is not a whole number of bytes.",
            reason="CANNOT_PARSE",
        )
    # A length with more digits than the limit is over it, and int() need not read it all.
    length = int(text) if len(text) <= len(str(MAX_REQUEST_BODY)) else MAX_REQUEST_BODY + 1
    if length > MAX_REQUEST_BODY:
        raise ApiError(
            "ValidationException",
            f"The request's Content-Length {text} is more than the {MAX_REQUEST_BODY} bytes "
            "a request may have.",
            status=413,
            reason="OTHER",
        )
    return length


def _request_headers(content_type: str = "application/json") -> dict[str, str]:
    """The headers every answer starts with."""
    return {"Content-Type": content_type, "x-amzn-RequestId": str(uuid.uuid4())}


#: CloudWatch Logs answers in JSON 1.1, like its requests.
_LOGS_CONTENT_TYPE: Final = "application/x-amz-json-1.1"


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """A request header by name, whatever its case (HTTP header names are case-insensitive)."""
    if not headers:
        return None
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def _error_answer(
    error: ApiError, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """The status, headers and JSON body of an error, as AWS sends them."""
    headers = _request_headers() if headers is None else headers
    headers.update(error.headers)
    headers["x-amzn-ErrorType"] = error.code
    return error.status, headers, json.dumps(error.body()).encode()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    farm: LocalFarm

    def __init__(self, address: tuple[str, int], farm: LocalFarm) -> None:
        super().__init__(address, _Handler)
        self.farm = farm
        self.lock = threading.Lock()
        # Open keep-alive connections and the threads serving them, so that stop() can end them:
        # a client's pooled connection would otherwise keep its thread waiting for a request.
        self.connections: dict[socket.socket, threading.Thread] = {}

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that leaves mid-request or mid-answer (killed, timed out, reset) is the
        # client's business: no traceback on the farm's stderr. Anything else is a bug here,
        # and socketserver prints it.
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            _log.debug("Client %s left: %r", client_address, error)
            return
        super().handle_error(request, client_address)

    def close_connections(self, timeout: float) -> None:
        with self.lock:
            open_connections = list(self.connections.items())
        for connection, _ in open_connections:
            with contextlib.suppress(OSError):  # the client may have closed it already
                connection.shutdown(socket.SHUT_RDWR)
        for _, thread in open_connections:
            thread.join(timeout)


class LocalFarm:
    """A local Deadline Cloud: a simulated studio farm served over the real REST API.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`. While it runs, any AWS
    client pointed at :attr:`endpoint_url` (with host prefix injection off) reads it as if it
    were AWS; :meth:`client` returns such a boto3 client.

    Parameters
    ----------
    seed
        The farm's seed: the same seed gives the same ids and the same jobs.
    size
        When positive, add the job ``sq900_big_render`` with about this many session actions
        (built on first access, in a few seconds for 100,000).
    queue_jobs
        Add this many small jobs to the Lighting queue, submitted over 120 days by several
        artists, with job parameters (``Shot``, ``Version``, ``Renderer``): a studio's queue,
        for pickers and searches at scale. Each is simulated when first read; 20,000 are made
        in about half a second.
    history
        Add this many weeks of submissions before the fixed jobs (about 40 jobs a week):
        versions v001, v002, ... of the shots of three shows by several artists, in the
        Lighting, FX and Comp queues, with a slower ``Render`` step from a given week on
        (:mod:`.history`: :data:`~.history.REGRESSION_SHOW`,
        :func:`~.history.regression_week`, :data:`~.history.REGRESSION_FACTOR`). Each job is
        simulated when first read.
    latency
        Seconds each request waits before it is answered (finite, 0 or more).
    throttle_rate
        Requests per second allowed for each operation (a token bucket with one second of
        burst); past it, 429 ``ThrottlingException``. ``None`` never throttles; otherwise a
        positive finite number.
    fault_rate
        Share of requests answered with a 500 ``InternalServerErrorException``, drawn from a
        generator seeded with ``seed``.
    item_fault_rate
        Share of the items of a BatchGet* call that come back in its ``errors`` with the code
        ``InternalServerErrorException`` (a transient failure of one item, to be retried).
    logs_quota
        Requests per second allowed for each CloudWatch Logs operation, as the service's quotas
        limit an account: past it, 400 ``ThrottlingException`` ("Rate exceeded"). ``None``
        (the default) sets no quota; ``True`` the service's own quotas
        (:data:`.logs.SERVICE_QUOTAS`: GetLogEvents 10, FilterLogEvents 5, DescribeLogStreams
        25, DescribeLogGroups 10); a positive number that rate for each logs operation, such as
        ``25``. ``latency``, ``throttle_rate`` and ``fault_rate`` apply to the logs operations
        too (a fault there is a 500 ``ServiceUnavailableException``).
    speedup
        How much faster than the wall clock the running job advances (with the default clock):
        a positive finite number.
    clock
        What "now" is for the running job; see :class:`FarmModel`. By default the wall clock
        from now, ``speedup`` times faster; a :class:`~deadline_nb.localfarm.clock.ManualClock`
        stands still until moved.
    port
        TCP port on 127.0.0.1, from 0 to 65535; 0 picks a free one (see :attr:`endpoint_url`).
    host
        Address to listen on. Keep the loopback address: the farm has no authentication.
    silent_after
        When set, the farm answers this many requests and then goes silent, as a hung service
        does: it accepts every later request and never answers it (until :meth:`stop`). To
        test a client's timeouts, and what a fetch keeps when the service stops answering.

    Attributes
    ----------
    model : FarmModel
        The ground truth: ids, jobs and the exact responses the server gives.
    logs : FarmLogs
        The session logs served over CloudWatch Logs: groups, streams and their events.
    calls : collections.Counter
        Requests per operation since the start or the last :meth:`reset_calls`.

    Examples
    --------
    >>> from deadline_nb.localfarm import JOBS, LocalFarm
    >>> with LocalFarm(seed=0) as farm:
    ...     client = farm.client()
    ...     job = farm.job_by_name(JOBS["failing"])
    ...     status = client.get_job(farmId=farm.farm_id, queueId=job.queue_id,
    ...                             jobId=job.job_id)["taskRunStatus"]
    >>> status
    'FAILED'
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        size: int = 0,
        queue_jobs: int = 0,
        history: int = 0,
        latency: float = 0.0,
        throttle_rate: float | None = None,
        fault_rate: float = 0.0,
        item_fault_rate: float = 0.0,
        logs_quota: float | bool | None = None,
        speedup: float = 1.0,
        port: int = 0,
        host: str = "127.0.0.1",
        clock: Clock | None = None,
        silent_after: int | None = None,
    ) -> None:
        # Every knob is checked before anything is built: a bad one is a sentence now, not
        # an OverflowError at start() or a 500 on every request later.
        self.latency = check_seconds("latency", latency)
        self.throttle_rate = (
            None
            if throttle_rate is None
            else check_positive("throttle_rate", throttle_rate, or_none=True)
        )
        self.fault_rate = check_share("fault_rate", fault_rate)
        self.item_fault_rate = check_share("item_fault_rate", item_fault_rate)
        self.logs_quota = check_quota("logs_quota", logs_quota)
        self.port = check_port("port", port)
        self.model = FarmModel(
            seed, size=size, queue_jobs=queue_jobs, history=history, speedup=speedup, clock=clock
        )
        #: The session logs served over CloudWatch Logs (:mod:`.logs`): groups, streams, text.
        self.logs = FarmLogs(self.model)
        self.host = host
        #: Queue ids whose requests are answered ``403 AccessDeniedException``, as AWS answers
        #: a caller whose role cannot read that queue. Set it to show or test that error.
        self.denied_queues: set[str] = set()
        #: When true, every request is answered as AWS answers expired credentials
        #: (``403 ExpiredTokenException``, an error outside the service's model).
        self.expired_credentials = False
        #: Operation names answered ``404 UnknownOperationException``, as an endpoint or
        #: region that lacks them would (to test a client's fallback).
        self.unavailable_operations: set[str] = set()
        #: Operation names answered ``403 AccessDeniedException``, as AWS answers a role whose
        #: policy lacks ``deadline:<operation>`` (such as the usage statistics).
        self.denied_operations: set[str] = set()
        #: Requests answered before the farm goes silent (None: never); settable while running.
        self.silent_after = (
            None if silent_after is None else check_count("silent_after", silent_after)
        )
        self._heard = 0  # requests received, while silent_after is set
        self.calls: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}
        self._faults = random.Random(f"{seed}:faults")
        self._routes = route_table(OPERATIONS)
        self._responses = FarmResponses(self.model, item_fault=self._item_fault)
        #: The usage aggregations (:mod:`.usage`): ``statistics.seconds`` (how long one stays
        #: IN_PROGRESS) and ``statistics.outcome`` (COMPLETED, FAILED or TIMEOUT) are test knobs.
        self.statistics = self._responses.statistics
        self._logs_responses = LogsResponses(self.logs)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle

    def start(self) -> LocalFarm:
        """Start serving in a background thread; return the farm.

        Returns
        -------
        LocalFarm
            ``self``, started.

        Examples
        --------
        >>> from deadline_nb.localfarm import LocalFarm
        >>> farm = LocalFarm().start()
        >>> try:
        ...     farm.endpoint_url.startswith("http://127.0.0.1:")
        ... finally:
        ...     farm.stop()
        True
        """
        if self._server is not None:
            return self
        server = _Server((self.host, self.port), self)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"localfarm-{server.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; a no-op when not started.

        Examples
        --------
        >>> from deadline_nb.localfarm import LocalFarm
        >>> farm = LocalFarm().start()
        >>> farm.stop()
        >>> farm.running
        False
        """
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        try:
            server.shutdown()
        finally:
            server.server_close()
            server.close_connections(timeout=5)
            if thread is not None:
                thread.join(timeout=5)

    def __enter__(self) -> LocalFarm:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the server is listening.

        Examples
        --------
        >>> from deadline_nb.localfarm import LocalFarm
        >>> LocalFarm().running
        False
        """
        return self._server is not None

    @property
    def endpoint_url(self) -> str:
        """The URL to give AWS clients, such as ``http://127.0.0.1:54321``.

        Raises
        ------
        RuntimeError
            When the farm is not started.

        Examples
        --------
        >>> from deadline_nb.localfarm import LocalFarm
        >>> with LocalFarm() as farm:
        ...     farm.endpoint_url.startswith("http://127.0.0.1:")
        True
        """
        if self._server is None:
            raise RuntimeError("The local farm is not started: use `with LocalFarm() as farm:`.")
        port = self._server.server_address[1]
        return f"http://{self.host}:{port}"

    def environment(self) -> dict[str, str]:
        """Return the environment variables that point AWS tools (the deadline CLI) here.

        botocore reads a service's endpoint from ``AWS_ENDPOINT_URL_<service id>``: ``DEADLINE``
        for Deadline Cloud and ``CLOUDWATCH_LOGS`` for CloudWatch Logs (service id
        ``CloudWatch Logs``), so that ``deadline job logs`` and any boto3 script read the
        session logs here too.

        Returns
        -------
        dict
            ``AWS_ENDPOINT_URL_DEADLINE``, ``AWS_ENDPOINT_URL_CLOUDWATCH_LOGS`` and
            ``AWS_DISABLE_HOST_PREFIX_INJECTION``.

        Examples
        --------
        >>> from deadline_nb.localfarm import LocalFarm
        >>> with LocalFarm() as farm:
        ...     sorted(farm.environment())  # doctest: +NORMALIZE_WHITESPACE
        ['AWS_DISABLE_HOST_PREFIX_INJECTION', 'AWS_ENDPOINT_URL_CLOUDWATCH_LOGS',
         'AWS_ENDPOINT_URL_DEADLINE']
        """
        return {
            "AWS_ENDPOINT_URL_DEADLINE": self.endpoint_url,
            "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": self.endpoint_url,
            # botocore puts "management." in front of the host of every Deadline call;
            # management.127.0.0.1 resolves nowhere.
            "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
        }

    @overload
    def client(
        self, service: Literal["deadline"] = ..., *, fast_timestamps: bool = ..., **config: Any
    ) -> DeadlineCloudClient: ...

    @overload
    def client(
        self, service: Literal["logs"], *, fast_timestamps: bool = ..., **config: Any
    ) -> Any: ...

    def client(
        self, service: str = "deadline", *, fast_timestamps: bool = True, **config: Any
    ) -> Any:
        """Return a boto3 ``deadline`` client for this farm, or a ``logs`` one.

        Region ``us-west-2``, dummy static credentials (the farm checks no signature), host
        prefix injection off, and standard retries unless ``retries`` says otherwise.

        Deadline Cloud sends its timestamps as ISO 8601 text, which botocore parses with
        ``dateutil`` at about 80 µs each; a 100-item ``BatchGetSessionAction`` carries some 300
        of them, about 25 ms of parsing, most of the call. The client returned here parses them
        with :meth:`datetime.datetime.fromisoformat` instead (the same instants, in UTC), unless
        ``fast_timestamps=False`` asks for botocore's stock parser.

        Parameters
        ----------
        service
            ``"deadline"`` (the default) or ``"logs"``, for CloudWatch Logs (the session logs).
        fast_timestamps
            Parse ISO 8601 timestamps with the standard library rather than ``dateutil``
            (CloudWatch Logs sends epoch milliseconds: nothing to parse there).
        **config
            Keyword arguments for :class:`botocore.config.Config`, such as
            ``retries={"total_max_attempts": 1}`` to see every throttle.

        Returns
        -------
        DeadlineCloudClient or botocore client
            A real boto3 client talking HTTP to 127.0.0.1.

        Examples
        --------
        >>> from deadline_nb.localfarm import LocalFarm
        >>> with LocalFarm() as farm:
        ...     [f["displayName"] for f in farm.client().list_farms()["farms"]]
        ['Studio Farm']
        """
        if service not in ("deadline", "logs"):
            raise ValueError(
                f"The value for `service` must be one of ['deadline', 'logs'], but {service!r} "
                "was passed."
            )
        import boto3
        import botocore.session
        from botocore.config import Config

        options: dict[str, Any] = {
            "inject_host_prefix": False,
            "retries": {"mode": "standard", "total_max_attempts": 3},
            "max_pool_connections": 32,
        }
        options.update(config)
        core = botocore.session.Session()
        if fast_timestamps:
            parsers = core.get_component("response_parser_factory")
            parsers.set_parser_defaults(timestamp_parser=parse_timestamp)
        session = boto3.session.Session(
            aws_access_key_id="localfarm",
            aws_secret_access_key="localfarm",
            region_name=REGION,
            botocore_session=core,
        )
        make: Any = session.client  # typed per service name; the name is checked above
        return make(service, endpoint_url=self.endpoint_url, config=Config(**options))

    def logs_client(self, **config: Any) -> Any:
        """Return a boto3 ``logs`` (CloudWatch Logs) client for this farm's session logs.

        The same as ``client("logs", **config)``.

        Parameters
        ----------
        **config
            Keyword arguments for :class:`botocore.config.Config`.

        Returns
        -------
        botocore client
            A real boto3 ``logs`` client talking HTTP to 127.0.0.1.

        Examples
        --------
        >>> from deadline_nb.localfarm import LocalFarm
        >>> with LocalFarm(seed=0) as farm:
        ...     spec = farm.job_by_name("failing")
        ...     group = f"/aws/deadline/{farm.farm_id}/{spec.queue_id}"
        ...     streams = farm.logs_client().describe_log_streams(logGroupName=group, limit=2)
        >>> [s["logStreamName"].startswith("session-") for s in streams["logStreams"]]
        [True, True]
        """
        return self.client("logs", **config)

    # ---- ground truth shortcuts

    @property
    def farm_id(self) -> str:
        """The farm's id.

        Examples
        --------
        >>> from deadline_nb.localfarm import LocalFarm
        >>> LocalFarm(seed=0).farm_id.startswith("farm-")
        True
        """
        return self.model.farm_id

    def job_by_name(self, name: str) -> JobSpec:
        """Return a job's ids by its name or role; see :meth:`FarmModel.job_by_name`.

        Parameters
        ----------
        name
            A name from :data:`JOBS` (or its role, such as ``"failing"``).

        Returns
        -------
        JobSpec
            ``job_id``, ``queue_id``, ``name``, ``role``.

        Examples
        --------
        >>> from deadline_nb.localfarm import LocalFarm
        >>> LocalFarm(seed=0).job_by_name("render").name
        'sq010_sh020_lighting_v003'
        """
        return self.model.job_by_name(name)

    def reset_calls(self) -> None:
        """Set every per-operation request count back to zero.

        Examples
        --------
        >>> from deadline_nb.localfarm import LocalFarm
        >>> farm = LocalFarm()
        >>> farm.calls["GetJob"] += 1
        >>> farm.reset_calls()
        >>> farm.calls["GetJob"]
        0
        """
        with self._lock:
            self.calls.clear()

    # ---- answering requests

    def handle(
        self,
        method: str,
        target: str,
        body: bytes,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """Answer one request, as the server does but without HTTP: status, headers and body.

        Every request goes through here: it is counted, may wait (``latency``), be throttled or
        fail (``fault_rate``), and is then routed, parsed and answered. A request with an
        ``X-Amz-Target`` header is CloudWatch Logs' (JSON 1.1); any other is Deadline Cloud's.
        Benchmarks call it to time the farm without the network.

        Parameters
        ----------
        method
            The HTTP method.
        target
            The request target: path and query string.
        body
            The request body.
        headers
            The request headers (only ``X-Amz-Target`` is read, in any case).

        Returns
        -------
        tuple
            The status code, the response headers, and the JSON body as bytes.

        Examples
        --------
        >>> from deadline_nb.localfarm import LocalFarm
        >>> farm = LocalFarm(seed=0)
        >>> status, headers, body = farm.handle("GET", f"/2023-10-12/farms/{farm.farm_id}", b"")
        >>> status, headers["Content-Type"], farm.calls["GetFarm"]
        (200, 'application/json', 1)
        >>> status, headers, body = farm.handle(
        ...     "POST", "/", b"{}", {"X-Amz-Target": "Logs_20140328.DescribeLogGroups"})
        >>> status, headers["Content-Type"], len(json.loads(body)["logGroups"])  # queues, fleets
        (200, 'application/x-amz-json-1.1', 7)
        """
        amz_target = _header(headers, "X-Amz-Target")
        if amz_target is not None:
            return self._handle_logs(amz_target, body)
        headers = _request_headers()
        try:
            route, match, query = find_route(self._routes, method, target)
            with self._lock:
                self.calls[route.name] += 1
                wait = 0.0
                if self.throttle_rate is not None:
                    bucket = self._buckets.get(route.name)
                    if bucket is None:
                        bucket = self._buckets[route.name] = _Bucket(self.throttle_rate)
                    wait = bucket.take()
                fault = self.fault_rate > 0 and self._faults.random() < self.fault_rate
            if self.latency:
                time.sleep(self.latency)
            if wait:
                raise ApiError(
                    "ThrottlingException",
                    f"Rate exceeded for {route.name}.",
                    headers={"Retry-After": str(max(1, math.ceil(wait)))},
                    serviceCode="deadline",
                    quotaCode=f"L-{hashlib.md5(route.name.encode()).hexdigest()[:8].upper()}",
                )
            if fault:
                raise ApiError("InternalServerErrorException", "Internal server error (injected).")
            if route.name in self.unavailable_operations:
                raise ApiError(
                    "UnknownOperationException", f"Unknown operation {route.name}.", status=404
                )
            if self.expired_credentials:
                raise ApiError(
                    "ExpiredTokenException",
                    "The security token included in the request is expired",
                    status=403,
                )
            params = parse_request(route, match, query, body)
            if route.name in self.denied_operations:
                raise ApiError(
                    "AccessDeniedException",
                    f"User: arn:aws:sts::{ACCOUNT}:assumed-role/Artist/localfarm is not "
                    f"authorized to perform: deadline:{route.name} on resource: "
                    f"arn:aws:deadline:{REGION}:{ACCOUNT}:farm/{params.get('farmId')}",
                )
            # SearchJobs names its queues in a list: one denied queue denies the search.
            asked = [params.get("queueId"), *params.get("queueIds", ())]
            denied = next((q for q in asked if q in self.denied_queues), None)
            if denied is not None:
                raise ApiError(
                    "AccessDeniedException",
                    f"User: arn:aws:sts::{ACCOUNT}:assumed-role/Artist/localfarm is not "
                    f"authorized to perform: deadline:{route.name} on resource: "
                    f"arn:aws:deadline:{REGION}:{ACCOUNT}:farm/{params.get('farmId')}"
                    f"/queue/{denied}",
                )
            result = to_wire(self._responses.respond(route.name, params), route.output)
            payload = json.dumps(result, separators=(",", ":")).encode()
            return 200, headers, payload
        except ApiError as error:
            return _error_answer(error, headers)
        except Exception as error:  # a bug here must reach the client as AWS would send it
            traceback.print_exc(file=sys.stderr)
            headers["x-amzn-ErrorType"] = "InternalServerErrorException"
            body_json = {"message": f"{type(error).__name__}: {error}"}
            return 500, headers, json.dumps(body_json).encode()

    def _take(self, key: str, rate: float) -> float:
        """Take a token from the bucket ``key`` (made at ``rate``); the wait, or 0. Locked."""
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(rate)
        return bucket.take()

    def _logs_rate(self, operation: str) -> float | None:
        """The quota of one CloudWatch Logs operation under ``logs_quota``, if any."""
        if self.logs_quota is None:
            return None
        if self.logs_quota is True:
            return SERVICE_QUOTAS.get(operation)
        return float(self.logs_quota)

    def _handle_logs(self, amz_target: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """Answer one CloudWatch Logs request (JSON 1.1, the operation in ``X-Amz-Target``)."""
        headers = _request_headers(_LOGS_CONTENT_TYPE)
        try:
            operation = amz_target.removeprefix(TARGET_PREFIX)
            if not amz_target.startswith(TARGET_PREFIX) or operation not in LOGS_OPERATIONS:
                raise LogsError("UnknownOperationException", f"Unknown operation {amz_target}.")
            with self._lock:
                self.calls[operation] += 1
                wait = 0.0
                if self.throttle_rate is not None:
                    wait = self._take(operation, self.throttle_rate)
                quota = self._logs_rate(operation)
                if quota is not None:
                    wait = max(wait, self._take(f"logs-quota:{operation}", quota))
                fault = self.fault_rate > 0 and self._faults.random() < self.fault_rate
            if self.latency:
                time.sleep(self.latency)
            if wait:
                raise LogsError("ThrottlingException", "Rate exceeded")
            if fault:
                raise LogsError(
                    "ServiceUnavailableException",
                    "The service cannot complete the request (injected).",
                    status=500,
                )
            if operation in self.unavailable_operations:
                raise LogsError("UnknownOperationException", f"Unknown operation {amz_target}.")
            if self.expired_credentials:
                raise LogsError(
                    "ExpiredTokenException", "The security token included in the request is expired"
                )
            params = parse_logs_request(operation, body)
            if self.denied_queues and operation != "DescribeLogGroups":
                group = self._logs_responses.group_of(params)
                queue = self.logs.queue_of(group) or {}
                if queue.get("queueId") in self.denied_queues:
                    raise LogsError(
                        "AccessDeniedException",
                        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/Artist/localfarm is not "
                        f"authorized to perform: logs:{operation} on resource: "
                        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:log-stream:",
                    )
            result = self._logs_responses.respond(operation, params)
            # UTF-8 on the wire, as the service sends it (U+FFFD and all).
            payload = json.dumps(result, ensure_ascii=False, separators=(",", ":")).encode()
            return 200, headers, payload
        except ApiError as error:
            headers["x-amzn-ErrorType"] = error.code
            body_json = error.body() if isinstance(error, LogsError) else {}
            body_json = {"__type": error.code, "message": error.message, **body_json}
            return error.status, headers, json.dumps(body_json).encode()
        except Exception as error:  # a bug here must reach the client as AWS would send it
            traceback.print_exc(file=sys.stderr)
            headers["x-amzn-ErrorType"] = "ServiceUnavailableException"
            body_json = {
                "__type": "ServiceUnavailableException",
                "message": f"{type(error).__name__}: {error}",
            }
            return 500, headers, json.dumps(body_json).encode()

    def _item_fault(self) -> bool:
        """Whether to fail one item of a BatchGet* call (``item_fault_rate``)."""
        if self.item_fault_rate <= 0:
            return False
        # The same generator as the request faults: one seed, one sequence of faults.
        with self._lock:
            return self._faults.random() < self.item_fault_rate
