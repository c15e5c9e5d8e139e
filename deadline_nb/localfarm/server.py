"""The local farm's HTTP server: the read operations of the Deadline Cloud REST API on 127.0.0.1.

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

import base64
import binascii
import collections
import contextlib
import hashlib
import http.server
import json
import math
import random
import re
import socket
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs, unquote, urlsplit

from botocore.model import Shape

from ..aws import parse_timestamp_fast
from .model import REGION, FarmModel, JobSpec, JobView
from .shapes import operation_model, output_shape, parse_timestamp, service_model, to_wire, validate

if TYPE_CHECKING:
    from mypy_boto3_deadline import DeadlineCloudClient

__all__ = ["OPERATIONS", "ApiError", "LocalFarm", "parse_timestamp_fast"]

#: The operations the local farm serves: every read of farms, queues, fleets, workers, jobs,
#: steps, tasks, sessions and session actions.
OPERATIONS: Final[tuple[str, ...]] = (
    "ListFarms",
    "GetFarm",
    "ListQueues",
    "GetQueue",
    "ListFleets",
    "GetFleet",
    "ListWorkers",
    "GetWorker",
    "SearchJobs",
    "ListJobs",
    "GetJob",
    "BatchGetJob",
    "ListSteps",
    "GetStep",
    "BatchGetStep",
    "ListTasks",
    "GetTask",
    "BatchGetTask",
    "ListSessions",
    "GetSession",
    "BatchGetSession",
    "ListSessionsForWorker",
    "ListSessionActions",
    "GetSessionAction",
    "BatchGetSessionAction",
)

_DEFAULT_PAGE: Final = 100

# SearchJobs field names (as the service and the deadline CLI spell them) -> job members.
_SEARCH_FIELDS: Final[Mapping[str, str]] = {
    "JOB_ID": "jobId",
    "QUEUE_ID": "queueId",
    "NAME": "name",
    "PRIORITY": "priority",
    "TASK_RUN_STATUS": "taskRunStatus",
    "TARGET_TASK_RUN_STATUS": "targetTaskRunStatus",
    "LIFECYCLE_STATUS": "lifecycleStatus",
    "CREATED_BY": "createdBy",
    "CREATED_AT": "createdAt",
    "STARTED_AT": "startedAt",
    "ENDED_AT": "endedAt",
    "UPDATED_AT": "updatedAt",
}


class ApiError(Exception):
    """An error the server answers with, shaped like the service's.

    Parameters
    ----------
    code
        The error shape's name, such as ``"ResourceNotFoundException"``.
    message
        The ``message`` member.
    headers
        Extra response headers (``Retry-After``).
    **fields
        Other modeled members of the error's body (``resourceId``, ``reason``, ...).

    Examples
    --------
    >>> from deadline_nb.localfarm.server import ApiError
    >>> ApiError("ValidationException", "bad", reason="OTHER").status
    400
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        status: int | None = None,
        **fields: Any,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.fields = fields
        if status is None:  # a modeled error: its status is in the service model
            shape = service_model().shape_for(code)
            status = shape.metadata.get("error", {}).get("httpStatusCode", 400)
        self.status: int = status

    def body(self) -> dict[str, Any]:
        """Return the JSON body: the message and the modeled fields.

        Returns
        -------
        dict
            ``{"message": ..., **fields}``.

        Examples
        --------
        >>> from deadline_nb.localfarm.server import ApiError
        >>> ApiError("ThrottlingException", "slow down").body()
        {'message': 'slow down'}
        """
        return {"message": self.message, **self.fields}


def _not_found(kind: str, resource_id: str, **context: str) -> ApiError:
    return ApiError(
        "ResourceNotFoundException",
        f"Resource of type {kind} with id {resource_id} does not exist.",
        resourceId=resource_id,
        resourceType=kind,
        context=context,
    )


def _invalid(message: str, reason: str = "OTHER", fields: Iterable[str] = ()) -> ApiError:
    field_list = [{"name": f.split(":", 1)[0], "message": f} for f in fields]
    extra: dict[str, Any] = {"fieldList": field_list} if field_list else {}
    return ApiError("ValidationException", message, reason=reason, **extra)


class _Route:
    __slots__ = ("members", "name", "output", "pattern", "shape")

    def __init__(self, name: str) -> None:
        op = operation_model(name)
        self.name = name
        assert op.input_shape is not None  # every operation served has an input
        self.shape: Shape = op.input_shape
        self.output: Shape = output_shape(name)
        uri = op.http["requestUri"].split("?", 1)[0]
        parts = re.split(r"(\{[^}]+\})", uri)
        regex = "".join(
            f"(?P<{p[1:-1].rstrip('+')}>[^/]+)" if p.startswith("{") else re.escape(p)
            for p in parts
        )
        self.pattern = re.compile(regex)
        # member name -> (location, wire name, type) for the members outside the body
        self.members: dict[str, tuple[str | None, str, str]] = {
            member: (
                shape.serialization.get("location"),
                shape.serialization.get("name", member),
                shape.type_name,
            )
            for member, shape in self.shape.members.items()
        }


def _routes() -> dict[str, list[_Route]]:
    routes: dict[str, list[_Route]] = collections.defaultdict(list)
    for name in OPERATIONS:
        routes[operation_model(name).http["method"]].append(_Route(name))
    return dict(routes)


def _project(value: Any, shape: Shape) -> Any:
    """Keep only what ``shape`` has: turns a Get* output into the List* summary of it."""
    if shape.type_name == "structure" and isinstance(value, dict):
        members = shape.members  # type: ignore[attr-defined]
        return {k: _project(v, members[k]) for k, v in value.items() if k in members}
    if shape.type_name == "list" and isinstance(value, list):
        member = shape.member  # type: ignore[attr-defined]
        if member.type_name == "structure":
            return [_project(v, member) for v in value]
    return value


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
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, headers, payload = self.server.farm._dispatch(self.command, self.path, body)
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
    latency
        Seconds each request waits before it is answered.
    throttle_rate
        Requests per second allowed for each operation (a token bucket with one second of
        burst); past it, 429 ``ThrottlingException``. ``None`` never throttles.
    fault_rate
        Share of requests answered with a 500 ``InternalServerErrorException``, drawn from a
        generator seeded with ``seed``.
    item_fault_rate
        Share of the items of a BatchGet* call that come back in its ``errors`` with the code
        ``InternalServerErrorException`` (a transient failure of one item, to be retried).
    speedup
        How much faster than the wall clock the running job advances.
    port
        TCP port on 127.0.0.1; 0 picks a free one (see :attr:`endpoint_url`).
    host
        Address to listen on. Keep the loopback address: the farm has no authentication.

    Attributes
    ----------
    model : FarmModel
        The ground truth: ids, jobs and the exact responses the server gives.
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
        latency: float = 0.0,
        throttle_rate: float | None = None,
        fault_rate: float = 0.0,
        item_fault_rate: float = 0.0,
        speedup: float = 1.0,
        port: int = 0,
        host: str = "127.0.0.1",
    ) -> None:
        if latency < 0:
            raise ValueError(
                f"The value for `latency` must be 0 or more, but {latency!r} was passed."
            )
        if throttle_rate is not None and throttle_rate <= 0:
            raise ValueError(
                f"The value for `throttle_rate` must be positive or None, but {throttle_rate!r} "
                "was passed."
            )
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError(
                f"The value for `fault_rate` must be between 0 and 1, but {fault_rate!r} "
                "was passed."
            )
        self.model = FarmModel(seed, size=size, speedup=speedup)
        self.latency = float(latency)
        self.throttle_rate = throttle_rate
        if not 0.0 <= item_fault_rate <= 1.0:
            raise ValueError(
                f"The value for `item_fault_rate` must be between 0 and 1, but "
                f"{item_fault_rate!r} was passed."
            )
        self.fault_rate = float(fault_rate)
        self.item_fault_rate = float(item_fault_rate)
        self.port = port
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
        self.calls: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}
        self._faults = random.Random(f"{seed}:faults")
        self._routes = _routes()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            name: getattr(self, f"_op_{name}") for name in OPERATIONS
        }

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

        Returns
        -------
        dict
            ``AWS_ENDPOINT_URL_DEADLINE`` and ``AWS_DISABLE_HOST_PREFIX_INJECTION``.

        Examples
        --------
        >>> from deadline_nb.localfarm import LocalFarm
        >>> with LocalFarm() as farm:
        ...     sorted(farm.environment())
        ['AWS_DISABLE_HOST_PREFIX_INJECTION', 'AWS_ENDPOINT_URL_DEADLINE']
        """
        return {
            "AWS_ENDPOINT_URL_DEADLINE": self.endpoint_url,
            # botocore puts "management." in front of the host of every Deadline call;
            # management.127.0.0.1 resolves nowhere.
            "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
        }

    def client(self, *, fast_timestamps: bool = True, **config: Any) -> DeadlineCloudClient:
        """Return a boto3 ``deadline`` client for this farm.

        Region ``us-west-2``, dummy static credentials (the farm checks no signature), host
        prefix injection off, and standard retries unless ``retries`` says otherwise.

        Deadline Cloud sends its timestamps as ISO 8601 text, which botocore parses with
        ``dateutil`` at about 80 µs each; a 100-item ``BatchGetSessionAction`` carries some 300
        of them, about 25 ms of parsing, most of the call. The client returned here parses them
        with :meth:`datetime.datetime.fromisoformat` instead (the same instants, in UTC), unless
        ``fast_timestamps=False`` asks for botocore's stock parser.

        Parameters
        ----------
        fast_timestamps
            Parse ISO 8601 timestamps with the standard library rather than ``dateutil``.
        **config
            Keyword arguments for :class:`botocore.config.Config`, such as
            ``retries={"total_max_attempts": 1}`` to see every throttle.

        Returns
        -------
        DeadlineCloudClient
            A real boto3 client talking HTTP to 127.0.0.1.

        Examples
        --------
        >>> from deadline_nb.localfarm import LocalFarm
        >>> with LocalFarm() as farm:
        ...     [f["displayName"] for f in farm.client().list_farms()["farms"]]
        ['Studio Farm']
        """
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
            parsers.set_parser_defaults(timestamp_parser=parse_timestamp_fast)
        session = boto3.session.Session(
            aws_access_key_id="localfarm",
            aws_secret_access_key="localfarm",
            region_name=REGION,
            botocore_session=core,
        )
        return session.client("deadline", endpoint_url=self.endpoint_url, config=Config(**options))

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

    # ---- dispatch

    def _dispatch(self, method: str, target: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        headers = {
            "Content-Type": "application/json",
            "x-amzn-RequestId": str(uuid.uuid4()),
        }
        try:
            route, match, query = self._route(method, target)
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
            params = self._parse(route, match, query, body)
            if params.get("queueId") in self.denied_queues:
                raise ApiError(
                    "AccessDeniedException",
                    "User: arn:aws:sts::123456789012:assumed-role/Artist/localfarm is not "
                    f"authorized to perform: deadline:{route.name} on resource: "
                    f"arn:aws:deadline:{REGION}:123456789012:farm/{params.get('farmId')}"
                    f"/queue/{params['queueId']}",
                )
            result = to_wire(self._handlers[route.name](params), route.output)
            payload = json.dumps(result, separators=(",", ":")).encode()
            return 200, headers, payload
        except ApiError as error:
            headers.update(error.headers)
            headers["x-amzn-ErrorType"] = error.code
            return error.status, headers, json.dumps(error.body()).encode()
        except Exception as error:  # a bug here must reach the client as AWS would send it
            traceback.print_exc(file=sys.stderr)
            headers["x-amzn-ErrorType"] = "InternalServerErrorException"
            body_json = {"message": f"{type(error).__name__}: {error}"}
            return 500, headers, json.dumps(body_json).encode()

    def _route(
        self, method: str, target: str
    ) -> tuple[_Route, re.Match[str], dict[str, list[str]]]:
        parts = urlsplit(target)
        for route in self._routes.get(method, ()):
            match = route.pattern.fullmatch(parts.path)
            if match is not None:
                return route, match, parse_qs(parts.query, keep_blank_values=True)
        raise ApiError(
            "ValidationException",
            f"No operation at {method} {parts.path}.",
            reason="UNKNOWN_OPERATION",
        )

    def _parse(
        self, route: _Route, match: re.Match[str], query: dict[str, list[str]], body: bytes
    ) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if body:
            try:
                decoded = json.loads(body)
            except ValueError as error:
                raise _invalid(f"Could not parse the body: {error}", "CANNOT_PARSE") from None
            if not isinstance(decoded, dict):
                raise _invalid("The body must be a JSON object.", "CANNOT_PARSE")
            params.update(decoded)
        for member, (location, wire, type_name) in route.members.items():
            if location == "uri":
                params[member] = unquote(match.group(wire))
            elif location == "querystring" and wire in query:
                raw = query[wire][-1]
                if type_name in ("integer", "long"):
                    try:
                        params[member] = int(raw)
                    except ValueError:
                        raise _invalid(
                            f"{member}: {raw!r} is not an integer.",
                            "CANNOT_PARSE",
                            [f"{member}: not an integer"],
                        ) from None
                else:
                    params[member] = raw
        errors = validate(route.shape, params, raw=True)
        if errors:
            raise _invalid(
                f"{len(errors)} validation error(s) detected: " + "; ".join(errors),
                "FIELD_VALIDATION_FAILED",
                errors,
            )
        return params

    # ---- lookups that raise the service's errors

    def _farm(self, p: Mapping[str, Any]) -> None:
        if p["farmId"] != self.model.farm_id:
            raise _not_found("farm", p["farmId"])

    def _queue(self, p: Mapping[str, Any]) -> dict[str, Any]:
        self._farm(p)
        for queue in self.model.queues:
            if queue["queueId"] == p["queueId"]:
                return queue
        raise _not_found("queue", p["queueId"], farmId=p["farmId"])

    def _fleet(self, p: Mapping[str, Any]) -> dict[str, Any]:
        self._farm(p)
        for fleet in self.model.fleets:
            if fleet["fleetId"] == p["fleetId"]:
                return fleet
        raise _not_found("fleet", p["fleetId"], farmId=p["farmId"])

    def _worker(self, p: Mapping[str, Any]) -> dict[str, Any]:
        self._fleet(p)
        for worker in self.model.workers:
            if worker["workerId"] == p["workerId"] and worker["fleetId"] == p["fleetId"]:
                return worker
        raise _not_found("worker", p["workerId"], farmId=p["farmId"], fleetId=p["fleetId"])

    def _job(self, p: Mapping[str, Any]) -> JobView:
        self._queue(p)
        job_id = p["jobId"]
        if not self.model.has_job(job_id) or self.model.job_queue(job_id) != p["queueId"]:
            raise _not_found("job", job_id, farmId=p["farmId"], queueId=p["queueId"])
        return self.model.view(job_id)

    def _context(self, p: Mapping[str, Any], *names: str) -> dict[str, str]:
        return {n: p[n] for n in names if n in p}

    def _step(self, p: Mapping[str, Any], view: JobView) -> dict[str, Any]:
        step = view.step_by_id.get(p["stepId"])
        if step is None:
            raise _not_found("step", p["stepId"], **self._context(p, "farmId", "queueId", "jobId"))
        return step

    def _task(self, p: Mapping[str, Any], view: JobView) -> dict[str, Any]:
        self._step(p, view)
        task = view.task_by_id.get(p["taskId"])
        if task is None or view.task_step[p["taskId"]] != p["stepId"]:
            raise _not_found(
                "task", p["taskId"], **self._context(p, "farmId", "queueId", "jobId", "stepId")
            )
        return task

    def _session(self, p: Mapping[str, Any], view: JobView) -> dict[str, Any]:
        session = view.session_by_id.get(p["sessionId"])
        if session is None:
            raise _not_found(
                "session", p["sessionId"], **self._context(p, "farmId", "queueId", "jobId")
            )
        return session

    def _action(self, p: Mapping[str, Any], view: JobView) -> dict[str, Any]:
        action = view.action_by_id.get(p["sessionActionId"])
        if action is None:
            raise _not_found(
                "session-action",
                p["sessionActionId"],
                **self._context(p, "farmId", "queueId", "jobId"),
            )
        return action

    # ---- pagination

    def _page(
        self, operation: str, p: Mapping[str, Any], items: list[Any], key: str, shape_of: str
    ) -> dict[str, Any]:
        """One page of ``items`` as ``{key: [...], "nextToken": ...}`` projected on a summary shape.

        The token is opaque to clients: the offset and a digest of the query it belongs to, so
        that a token used with another query (another job, another filter) is rejected, as AWS
        rejects it.
        """
        size = p.get("maxResults", _DEFAULT_PAGE)
        query = {k: v for k, v in p.items() if k not in ("nextToken", "maxResults")}
        digest = hashlib.blake2b(
            json.dumps([operation, query], sort_keys=True).encode(), digest_size=8
        ).hexdigest()
        offset = 0
        token = p.get("nextToken")
        if token:
            try:
                decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
                offset = int(decoded["o"])
                valid = decoded["q"] == digest and 0 <= offset <= len(items)
            except (ValueError, KeyError, TypeError, binascii.Error):
                valid = False
            if not valid:
                raise _invalid(
                    "The nextToken is not valid for this request.",
                    "FIELD_VALIDATION_FAILED",
                    ["nextToken: not a token of this query"],
                )
        shape = service_model().shape_for(shape_of)
        page = [_project(item, shape) for item in items[offset : offset + size]]
        out: dict[str, Any] = {key: page}
        if offset + size < len(items):
            raw = json.dumps({"o": offset + size, "q": digest}, separators=(",", ":"))
            out["nextToken"] = base64.urlsafe_b64encode(raw.encode()).decode()
        return out

    # ---- operations: farms, queues, fleets, workers

    def _op_ListFarms(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._page("ListFarms", p, [self.model.farm], "farms", "FarmSummary")

    def _op_GetFarm(self, p: dict[str, Any]) -> dict[str, Any]:
        self._farm(p)
        return self.model.farm

    def _op_ListQueues(self, p: dict[str, Any]) -> dict[str, Any]:
        self._farm(p)
        queues = [q for q in self.model.queues if p.get("status") in (None, q["status"])]
        return self._page("ListQueues", p, queues, "queues", "QueueSummary")

    def _op_GetQueue(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._queue(p)

    def _op_ListFleets(self, p: dict[str, Any]) -> dict[str, Any]:
        self._farm(p)
        fleets = [
            f
            for f in self.model.fleets
            if p.get("status") in (None, f["status"])
            and p.get("displayName") in (None, f["displayName"])
        ]
        return self._page("ListFleets", p, fleets, "fleets", "FleetSummary")

    def _op_GetFleet(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._fleet(p)

    def _op_ListWorkers(self, p: dict[str, Any]) -> dict[str, Any]:
        self._fleet(p)
        workers = self.model.fleet_workers(p["fleetId"])
        return self._page("ListWorkers", p, workers, "workers", "WorkerSummary")

    def _op_GetWorker(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._worker(p)

    def _op_ListSessionsForWorker(self, p: dict[str, Any]) -> dict[str, Any]:
        self._worker(p)
        sessions: list[dict[str, Any]] = []
        for spec in self.model.jobs:
            for session in self.model.view(spec.job_id).sessions:
                if session["workerId"] == p["workerId"]:
                    sessions.append({**session, "queueId": spec.queue_id, "jobId": spec.job_id})
        sessions.sort(key=lambda s: (s["startedAt"], s["sessionId"]))
        return self._page("ListSessionsForWorker", p, sessions, "sessions", "WorkerSessionSummary")

    # ---- jobs

    def _op_ListJobs(self, p: dict[str, Any]) -> dict[str, Any]:
        self._queue(p)
        jobs = [self.model.view(s.job_id).job for s in self.model.queue_jobs(p["queueId"])]
        return self._page("ListJobs", p, jobs, "jobs", "JobSummary")

    def _op_GetJob(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._job(p).job

    def _op_BatchGetJob(self, p: dict[str, Any]) -> dict[str, Any]:
        items, errors = self._batch(p, lambda ident: self._job(ident).job)
        return {"jobs": items, "errors": errors}

    def _op_SearchJobs(self, p: dict[str, Any]) -> dict[str, Any]:
        self._farm(p)
        jobs: list[dict[str, Any]] = []
        for queue_id in p["queueIds"]:
            self._queue({"farmId": p["farmId"], "queueId": queue_id})
            for spec in self.model.queue_jobs(queue_id):
                jobs.append({**self.model.view(spec.job_id).job, "queueId": queue_id})
        expression = p.get("filterExpressions")
        if expression is not None:
            jobs = [job for job in jobs if _matches_group(job, expression)]
        sorts = p.get("sortExpressions") or [
            {"fieldSort": {"name": "CREATED_AT", "sortOrder": "DESCENDING"}}
        ]
        for sort in reversed(sorts):  # stable sorts, last key first
            jobs = _sorted_jobs(jobs, sort)
        total = min(len(jobs), 10000)
        offset, size = p["itemOffset"], p.get("pageSize", _DEFAULT_PAGE)
        shape = service_model().shape_for("JobSearchSummary")
        out: dict[str, Any] = {
            "jobs": [_project(job, shape) for job in jobs[offset : offset + size]],
            "totalResults": total,
        }
        if offset + size < total:
            out["nextItemOffset"] = offset + size
        return out

    # ---- steps and tasks

    def _op_ListSteps(self, p: dict[str, Any]) -> dict[str, Any]:
        view = self._job(p)
        return self._page("ListSteps", p, view.steps, "steps", "StepSummary")

    def _op_GetStep(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._step(p, self._job(p))

    def _op_BatchGetStep(self, p: dict[str, Any]) -> dict[str, Any]:
        items, errors = self._batch(p, lambda ident: self._step(ident, self._job(ident)))
        return {"steps": items, "errors": errors}

    def _op_ListTasks(self, p: dict[str, Any]) -> dict[str, Any]:
        view = self._job(p)
        self._step(p, view)
        return self._page("ListTasks", p, view.tasks[p["stepId"]], "tasks", "TaskSummary")

    def _op_GetTask(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._task(p, self._job(p))

    def _op_BatchGetTask(self, p: dict[str, Any]) -> dict[str, Any]:
        items, errors = self._batch(p, lambda ident: self._task(ident, self._job(ident)))
        return {"tasks": items, "errors": errors}

    # ---- sessions and session actions

    def _op_ListSessions(self, p: dict[str, Any]) -> dict[str, Any]:
        view = self._job(p)
        return self._page("ListSessions", p, view.sessions, "sessions", "SessionSummary")

    def _op_GetSession(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._session(p, self._job(p))

    def _op_BatchGetSession(self, p: dict[str, Any]) -> dict[str, Any]:
        items, errors = self._batch(p, lambda ident: self._session(ident, self._job(ident)))
        return {"sessions": items, "errors": errors}

    def _op_ListSessionActions(self, p: dict[str, Any]) -> dict[str, Any]:
        view = self._job(p)
        session_id, task_id = p.get("sessionId"), p.get("taskId")
        if session_id is not None:
            actions = view.actions_by_session.get(session_id, [])
            if task_id is not None:
                actions = [
                    a
                    for a in actions
                    if a["definition"].get("taskRun", {}).get("taskId") == task_id
                ]
        elif task_id is not None:
            actions = view.actions_by_task.get(task_id, [])
        else:
            actions = view.actions
        return self._page(
            "ListSessionActions", p, actions, "sessionActions", "SessionActionSummary"
        )

    def _op_GetSessionAction(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._action(p, self._job(p))

    def _op_BatchGetSessionAction(self, p: dict[str, Any]) -> dict[str, Any]:
        items, errors = self._batch(p, lambda ident: self._action(ident, self._job(ident)))
        return {"sessionActions": items, "errors": errors}

    def _batch(
        self, p: Mapping[str, Any], get: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Answer each identifier on its own: what fails goes in ``errors``, the call succeeds."""
        items: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for ident in p["identifiers"]:
            try:
                if self.item_fault_rate > 0:
                    with self._lock:
                        fault = self._faults.random() < self.item_fault_rate
                    if fault:
                        raise ApiError(
                            "InternalServerErrorException",
                            "Internal error for this item (injected).",
                        )
                items.append({**ident, **get(ident)})
            except ApiError as error:
                errors.append({**ident, "code": error.code, "message": error.message})
        return items, errors


# ---- SearchJobs filters and sorts


def _field(name: str) -> str:
    member = _SEARCH_FIELDS.get(name)
    if member is None:
        raise _invalid(
            f"Unknown search field {name!r}; known fields are {sorted(_SEARCH_FIELDS)}.",
            "FIELD_VALIDATION_FAILED",
            [f"name: unknown search field {name!r}"],
        )
    return member


def _compare(left: Any, operator: str, right: Any) -> bool:
    if left is None:
        return operator in ("NOT_EQUAL", "ALL_NOT_EQUALS")
    if operator == "EQUAL":
        return bool(left == right)
    if operator == "NOT_EQUAL":
        return bool(left != right)
    if operator == "ANY_EQUALS":
        return left in right if isinstance(right, list) else bool(left == right)
    if operator == "ALL_NOT_EQUALS":
        return left not in right if isinstance(right, list) else bool(left != right)
    if operator == "GREATER_THAN_EQUAL_TO":
        return bool(left >= right)
    if operator == "GREATER_THAN":
        return bool(left > right)
    if operator == "LESS_THAN_EQUAL_TO":
        return bool(left <= right)
    if operator == "LESS_THAN":
        return bool(left < right)
    raise _invalid(f"Unknown operator {operator!r}.", "FIELD_VALIDATION_FAILED")


def _matches(job: Mapping[str, Any], expression: Mapping[str, Any]) -> bool:
    ((kind, spec),) = expression.items()
    if kind == "groupFilter":
        return _matches_group(job, spec)
    if kind == "searchTermFilter":
        term = spec["searchTerm"].lower()
        name = job["name"].lower()
        if spec.get("matchType") == "CONTAINS":
            return term in name
        return all(word in name for word in term.split())
    if kind == "stringFilter":
        return _compare(job.get(_field(spec["name"])), spec["operator"], spec["value"])
    if kind == "stringListFilter":
        return _compare(job.get(_field(spec["name"])), spec["operator"], spec["values"])
    if kind == "dateTimeFilter":
        when = parse_timestamp(spec["dateTime"])  # validated on the way in
        return _compare(job.get(_field(spec["name"])), spec["operator"], when)
    if kind == "parameterFilter":
        parameter = job.get("parameters", {}).get(spec["name"])
        value = next(iter(parameter.values())) if parameter else None
        return _compare(value, spec["operator"], spec["value"])
    raise _invalid(f"Unknown filter {kind!r}.", "FIELD_VALIDATION_FAILED")


def _matches_group(job: Mapping[str, Any], group: Mapping[str, Any]) -> bool:
    results = (_matches(job, f) for f in group["filters"])
    return all(results) if group["operator"] == "AND" else any(results)


def _sorted_jobs(jobs: list[dict[str, Any]], sort: Mapping[str, Any]) -> list[dict[str, Any]]:
    ((kind, spec),) = sort.items()
    if kind == "userJobsFirst":
        user = spec["userIdentityId"]
        return sorted(jobs, key=lambda j: j.get("createdBy") != user)
    if kind == "fieldSort":
        member = _field(spec["name"])
    elif kind == "parameterSort":
        name = spec["name"]

        def parameter(job: Mapping[str, Any]) -> Any:
            value = job.get("parameters", {}).get(name)
            return next(iter(value.values())) if value else None

        return _sort_missing_last(jobs, parameter, spec["sortOrder"] == "DESCENDING")
    else:
        raise _invalid(f"Unknown sort {kind!r}.", "FIELD_VALIDATION_FAILED")
    return _sort_missing_last(jobs, lambda j: j.get(member), spec["sortOrder"] == "DESCENDING")


def _sort_missing_last(
    jobs: list[dict[str, Any]], key: Callable[[Mapping[str, Any]], Any], descending: bool
) -> list[dict[str, Any]]:
    present = [j for j in jobs if key(j) is not None]
    missing = [j for j in jobs if key(j) is None]
    return sorted(present, key=key, reverse=descending) + missing
