"""CloudWatch Logs for the local farm: the session logs, over the service's own JSON protocol.

The worker agent sends each session's log to the queue's log group, ``/aws/deadline/<farmId>/
<queueId>``, in a stream named by the session id (``GetSession``'s ``log`` member says so). This
module serves those groups and streams the way CloudWatch Logs does, so that an unmodified boto3
``logs`` client, and the official ``deadline job logs`` command, read them: JSON 1.1 requests
``POST /`` with ``X-Amz-Target: Logs_20140328.<Operation>``, answered with
``application/x-amz-json-1.1`` bodies and JSON 1.1 errors (``__type`` and ``message``). The
text of each log is :mod:`.sessionlog`'s, made when a stream is first read and kept for a while
(an LRU of sessions), so that the 100,000-action job costs nothing until someone reads it.

Operations (:data:`LOGS_OPERATIONS`), as botocore's ``logs`` model and its documentation say:

``GetLogEvents``
    One stream. ``startFromHead`` (default false: the latest events); tokens ``f/<56 digits>/s``
    and ``b/<56 digits>/s`` that move forward and backward from the page; at the end of the
    stream the token passed in comes back unchanged. ``startTime`` inclusive, ``endTime``
    exclusive (ms). ``limit`` 1-10,000, default as many as fit.
``FilterLogEvents``
    The group's streams interleaved by time, or ``logStreamNames`` (1-100; an unknown one is
    ``ResourceNotFoundException``) or a ``logStreamNamePrefix`` (not both). ``startTime`` and
    ``endTime`` both inclusive. ``filterPattern``: terms (all must appear), ``"quoted
    phrases"``, ``?term`` (any of them), ``-term`` (none of them), or one ``%regex%`` (only the
    characters the documentation allows: no parentheses, no spaces, no multibyte characters).
    ``startFromHead`` default true; false needs a ``startTime`` on or after 2024-01-01. A
    ``nextToken`` until the last page; ``searchedLogStreams`` is always empty (deprecated).
``DescribeLogStreams``
    By ``LogStreamName`` (default) or ``LastEventTime`` (not with ``logStreamNamePrefix``),
    ``descending``, ``limit`` 1-50 (default 50).
``DescribeLogGroups``
    The queues' groups, by name; ``logGroupNamePrefix`` or ``logGroupNamePattern``.

Every page holds at most 10,000 events and 1 MB (:data:`MAX_RESPONSE_BYTES`, counting each
message's UTF-8 bytes plus 26). An unknown group or stream is ``ResourceNotFoundException``
("The specified log group does not exist." / "The specified log stream does not exist."),
a request that breaks the model is ``InvalidParameterException`` ("1 validation error detected:
Value ... at 'limit' failed to satisfy constraint: ..."), too many requests are
``ThrottlingException`` ("Rate exceeded"), all with status 400.

A stream exists from its session's start: a running session's stream has the lines up to the
farm's clock (its ``floor``, as the Deadline API's view of the running job). One session has no
stream at all (:func:`.sessionlog.streamless_session`).

The worker logs live beside them: each fleet's group ``/aws/deadline/<farmId>/<fleetId>``, one
stream per worker named by its id (``GetWorker``'s ``log``), with the agent's host-metrics lines
(:mod:`.workerlog`), from the worker's creation to the farm's clock; one worker has no stream
(:func:`.workerlog.quiet_workers`).
"""

from __future__ import annotations

import base64
import binascii
import bisect
import collections
import hashlib
import heapq
import json
import math
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from botocore.model import Shape

from .exceptions import ApiError
from .ids import ACCOUNT, REGION
from .model import FarmModel
from .sessionlog import (
    JobLogContext,
    LogEvent,
    SessionLog,
    job_log_context,
    session_log,
    streamless_session,
)
from .shapes import logs_service_model
from .workerlog import INTERVAL_SECONDS, WorkerLog, quiet_workers, worker_log

__all__ = [
    "LOGS_HANDLERS",
    "LOGS_OPERATIONS",
    "MAX_RESPONSE_BYTES",
    "SERVICE_QUOTAS",
    "TARGET_PREFIX",
    "FarmLogs",
    "LogsError",
    "LogsResponses",
    "StreamRef",
    "compile_filter",
    "parse_logs_request",
]

#: What ``X-Amz-Target`` starts with for a CloudWatch Logs request (botocore: ``targetPrefix``).
TARGET_PREFIX: Final = f"{logs_service_model().metadata['targetPrefix']}."

#: The largest page, in bytes: each event's message in UTF-8 plus 26 (``GetLogEvents``: "up to
#: 1 MB of log events").
MAX_RESPONSE_BYTES: Final = 1_048_576

#: Requests per second CloudWatch Logs allows each account and region, per operation, as far as
#: could be checked: ``DescribeLogStreams`` 25 (botocore's ``logs`` model), ``GetLogEvents`` 10
#: and ``FilterLogEvents`` 5 (the CloudWatch Logs quotas page as quoted in 2021 and in AWS's
#: throttling article, 2023), ``DescribeLogGroups`` 10 (the quotas page as quoted in 2024). The
#: farm applies them when ``LocalFarm(logs_quota=True)``.
SERVICE_QUOTAS: Final[Mapping[str, float]] = MappingProxyType(
    {
        "GetLogEvents": 10.0,
        "FilterLogEvents": 5.0,
        "DescribeLogStreams": 25.0,
        "DescribeLogGroups": 10.0,
    }
)

_MAX_EVENTS: Final = 10_000
_EVENT_OVERHEAD: Final = 26
# FilterLogEvents: "Setting startFromHead to false is supported only when startTime is on or
# after Jan 1, 2024 00:00:00 UTC."
_NEWEST_FIRST_SINCE: Final = 1_704_067_200_000
_STREAM_NOT_FOUND: Final = "The specified log stream does not exist."
_GROUP_NOT_FOUND: Final = "The specified log group does not exist."


class LogsError(ApiError):
    """A CloudWatch Logs error: JSON 1.1, ``__type`` and ``message``, status 400 by default.

    Parameters
    ----------
    code
        The error's type, such as ``"ResourceNotFoundException"``.
    message
        Its message.
    status
        The HTTP status (500 for ``ServiceUnavailableException``).

    Examples
    --------
    >>> from deadline_nb.localfarm.logs import LogsError
    >>> error = LogsError("ResourceNotFoundException", "The specified log stream does not exist.")
    >>> error.status, error.body()["__type"]
    (400, 'ResourceNotFoundException')
    """

    def __init__(self, code: str, message: str, *, status: int = 400) -> None:
        super().__init__(code, message, status=status)

    def body(self) -> dict[str, Any]:
        """Return the JSON 1.1 error body.

        Returns
        -------
        dict
            ``{"__type": code, "message": message}``.

        Examples
        --------
        >>> from deadline_nb.localfarm.logs import LogsError
        >>> LogsError("ThrottlingException", "Rate exceeded").body()
        {'__type': 'ThrottlingException', 'message': 'Rate exceeded'}
        """
        return {"__type": self.code, "message": self.message}


def _invalid(message: str) -> LogsError:
    return LogsError("InvalidParameterException", message)


# ---- requests


def _constraint_errors(shape: Shape, params: Mapping[str, Any]) -> list[str]:
    """The input's violations of the model, in the service's words (top-level members)."""
    errors: list[str] = []
    members = shape.members  # type: ignore[attr-defined]
    for name in shape.required_members:
        if params.get(name) is None:
            errors.append(
                f"Value null at '{name}' failed to satisfy constraint: Member must not be null"
            )
    for name, value in params.items():
        member = members.get(name)
        if member is None:
            errors.append(
                f"Value at '{name}' failed to satisfy constraint: Member is not a "
                "member of the request"
            )
            continue
        errors.extend(_member_errors(member, value, name))
    return errors


def _member_errors(shape: Shape, value: Any, where: str) -> list[str]:
    meta = shape.metadata
    kind = shape.type_name
    fail = f"Value '{value}' at '{where}' failed to satisfy constraint: Member must"
    if kind == "string":
        if not isinstance(value, str):
            return [f"{fail} be a string"]
        errors = []
        if "min" in meta and len(value) < meta["min"]:
            errors.append(f"{fail} have length greater than or equal to {meta['min']}")
        if "max" in meta and len(value) > meta["max"]:
            errors.append(f"{fail} have length less than or equal to {meta['max']}")
        if "pattern" in meta and re.fullmatch(meta["pattern"], value) is None:
            errors.append(f"{fail} satisfy regular expression pattern: {meta['pattern']}")
        enum = getattr(shape, "enum", None)
        if enum and value not in enum:
            errors.append(f"{fail} satisfy enum value set: [{', '.join(enum)}]")
        return errors
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            return [f"{fail} be a whole number"]
        if "min" in meta and value < meta["min"]:
            return [f"{fail} have value greater than or equal to {meta['min']}"]
        if "max" in meta and value > meta["max"]:
            return [f"{fail} have value less than or equal to {meta['max']}"]
        return []
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{fail} be a boolean"]
    if kind == "list":
        if not isinstance(value, list):
            return [f"{fail} be a list"]
        errors = []
        if "min" in meta and len(value) < meta["min"]:
            errors.append(f"{fail} have length greater than or equal to {meta['min']}")
        if "max" in meta and len(value) > meta["max"]:
            errors.append(f"{fail} have length less than or equal to {meta['max']}")
        for i, item in enumerate(value):
            errors.extend(_member_errors(shape.member, item, f"{where}.{i + 1}.member"))  # type: ignore[attr-defined]
        return errors
    return []


def parse_logs_request(operation: str, body: bytes) -> dict[str, Any]:
    """Return a CloudWatch Logs request's input, checked against botocore's ``logs`` model.

    Parameters
    ----------
    operation
        The operation's name, such as ``"GetLogEvents"``.
    body
        The request's JSON body.

    Returns
    -------
    dict
        The input members.

    Raises
    ------
    LogsError
        ``SerializationException`` when the body is not a JSON object;
        ``InvalidParameterException`` when a member breaks the model (a missing required
        member, a ``limit`` out of range, a name that does not match its pattern...).

    Examples
    --------
    >>> from deadline_nb.localfarm.logs import LogsError, parse_logs_request
    >>> parse_logs_request("GetLogEvents", b'{"logGroupName": "/a", "logStreamName": "s"}')
    {'logGroupName': '/a', 'logStreamName': 's'}
    >>> try:
    ...     parse_logs_request("GetLogEvents", b'{"logStreamName": "s", "limit": 10001}')
    ... except LogsError as error:
    ...     print(error.message)  # doctest: +NORMALIZE_WHITESPACE
    1 validation error detected: Value '10001' at 'limit' failed to satisfy constraint:
    Member must have value less than or equal to 10000
    """
    try:
        params = json.loads(body) if body else {}
    except ValueError:
        raise LogsError("SerializationException", "The request body is not valid JSON.") from None
    if not isinstance(params, dict):
        raise LogsError("SerializationException", "The request body must be a JSON object.")
    shape = logs_service_model().operation_model(operation).input_shape
    assert shape is not None  # every operation served has an input
    errors = _constraint_errors(shape, params)
    if errors:
        count = f"{len(errors)} validation error{'s' if len(errors) > 1 else ''} detected"
        raise _invalid(f"{count}: " + "; ".join(errors))
    return params


# ---- filter patterns

_REGEX_ALLOWED: Final = re.compile(r"[A-Za-z0-9:_#=@/;,\-^$?\[\]{}|\\*+.]*")
_TOKEN: Final = re.compile(r'([?-]?)(?:"((?:[^"\\]|\\.)*)"|(\S+))')


def _boundary_matcher(term: str) -> Callable[[str], bool]:
    # A term matches where it is not part of a longer word: letters and digits on either side
    # would extend it (CloudWatch matches terms, not substrings).
    pattern = re.compile(rf"(?<![A-Za-z0-9]){re.escape(term)}(?![A-Za-z0-9])")
    return lambda message: pattern.search(message) is not None


def compile_filter(pattern: str | None) -> Callable[[str], bool]:
    """Return a function telling whether a message matches a CloudWatch Logs filter pattern.

    Supported: an empty pattern (everything), terms (all must appear, case-sensitively, as whole
    words), ``"quoted phrases"``, ``?term`` (at least one of the ``?`` terms), ``-term`` (none of
    them), and a pattern that is one ``%regex%``, with the characters and operators the
    documentation allows.

    Parameters
    ----------
    pattern
        The ``filterPattern``.

    Returns
    -------
    callable
        ``matches(message) -> bool``.

    Raises
    ------
    LogsError
        ``InvalidParameterException`` for a pattern the service refuses (a regex with
        parentheses, spaces or multibyte characters) or that the farm does not read (JSON
        ``{...}`` and space-delimited ``[...]`` patterns).

    Examples
    --------
    >>> from deadline_nb.localfarm.logs import compile_filter
    >>> matches = compile_filter('ERROR "checkout failed" -Warning')
    >>> matches("ERROR: License checkout failed"), matches("ERRORS: checkout failed")
    (True, False)
    >>> compile_filter("%exited with code: [1-9]%")("Process pid 7 exited with code: 137")
    Traceback (most recent call last):
    ...
    deadline_nb.localfarm.logs.LogsError: Invalid regex in filter pattern: only letters, digits, \
the symbols :_#=@/;,- and the operators ^$?[]{}|\\*+. are allowed, without spaces or parentheses.
    >>> compile_filter(r"%code:\\s[1-9]%")("Process pid 7 exited with code: 137")
    True
    """
    text = (pattern or "").strip()
    if not text:
        return lambda message: True
    if len(text) >= 2 and text.startswith("%") and text.endswith("%"):
        body = text[1:-1]
        if not body or _REGEX_ALLOWED.fullmatch(body) is None or not body.isascii():
            raise _invalid(
                "Invalid regex in filter pattern: only letters, digits, the symbols :_#=@/;,- "
                "and the operators ^$?[]{}|\\*+. are allowed, without spaces or parentheses."
            )
        try:
            regex = re.compile(body)
        except re.error as error:
            raise _invalid(f"Invalid regex in filter pattern: {error}.") from None
        return lambda message: regex.search(message) is not None
    if text[0] in "{[":
        raise _invalid(
            "JSON and space-delimited filter patterns are not supported by the local farm; "
            "use terms, quoted phrases, ?term, -term or %regex%."
        )
    required: list[Callable[[str], bool]] = []
    optional: list[Callable[[str], bool]] = []
    excluded: list[Callable[[str], bool]] = []
    for sign, quoted, bare in _TOKEN.findall(text):
        term = quoted.replace('\\"', '"') if quoted else bare
        if not term:
            continue
        matcher = _boundary_matcher(term)
        {"?": optional, "-": excluded}.get(sign, required).append(matcher)

    def matches(message: str) -> bool:
        if not all(m(message) for m in required):
            return False
        if optional and not any(m(message) for m in optional):
            return False
        return not any(m(message) for m in excluded)

    return matches


# ---- the store


@dataclass(frozen=True)
class StreamRef:
    """One session's stream: its name (the session id), job and session, and its order.

    A worker's stream (``worker`` set: its ``GetWorker`` output) has no job or actions; its
    ``session`` holds only ``startedAt``, the worker's creation.
    """

    name: str
    job_id: str
    session: Mapping[str, Any]
    actions: Sequence[Mapping[str, Any]]
    running: bool
    code: int  # a stable number for the stream, in its tokens and event ids
    worker: Mapping[str, Any] | None = None


def _stream_code(group: str, name: str) -> int:
    digest = hashlib.blake2b(f"{group}\x1f{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 10**16


class FarmLogs:
    """The farm's CloudWatch Logs: one group per queue, one stream per session, made on demand.

    Parameters
    ----------
    model
        The farm.
    cache_sessions
        How many sessions' logs to keep once made (least recently read go first).
    metrics_interval
        Seconds between the host-metrics lines of the worker logs (default: the agent's 60).

    Examples
    --------
    >>> from deadline_nb.localfarm.logs import FarmLogs
    >>> from deadline_nb.localfarm.model import FarmModel
    >>> model = FarmModel(seed=0)
    >>> logs = FarmLogs(model)
    >>> spec = model.job_by_name("failing")
    >>> group = logs.group_name(spec.queue_id)
    >>> session = model.view(spec.job_id).sessions[0]["sessionId"]
    >>> events, _ = logs.events(group, session)
    >>> events[0].message
    'Running Session Actions as user: render'
    """

    def __init__(
        self,
        model: FarmModel,
        *,
        cache_sessions: int = 128,
        metrics_interval: float = INTERVAL_SECONDS,
    ) -> None:
        self.model = model
        self.metrics_interval = metrics_interval
        self._lock = threading.RLock()
        self._cache: collections.OrderedDict[str, SessionLog | WorkerLog] = (
            collections.OrderedDict()
        )
        self._cache_size = max(1, cache_sessions)
        self._contexts: dict[str, JobLogContext] = {}
        self._queues = {self.group_name(q["queueId"]): q for q in model.queues}
        self._fleets = {self.group_name(f["fleetId"]): f for f in model.fleets}
        self._streams: dict[str, dict[str, StreamRef]] = {}

    # ---- groups and streams

    def group_name(self, queue_id: str) -> str:
        """Return the log group of a queue: ``/aws/deadline/<farmId>/<queueId>``.

        A fleet's group (its workers' logs) is named the same way by the fleet's id.

        Parameters
        ----------
        queue_id
            The queue's id (or a fleet's).

        Returns
        -------
        str
            The group's name.

        Examples
        --------
        >>> from deadline_nb.localfarm.logs import FarmLogs
        >>> from deadline_nb.localfarm.model import FarmModel
        >>> model = FarmModel(seed=0)
        >>> FarmLogs(model).group_name("queue-1") == f"/aws/deadline/{model.farm_id}/queue-1"
        True
        """
        return f"/aws/deadline/{self.model.farm_id}/{queue_id}"

    @property
    def groups(self) -> list[str]:
        """The names of the farm's log groups, sorted.

        Examples
        --------
        >>> from deadline_nb.localfarm.logs import FarmLogs
        >>> from deadline_nb.localfarm.model import FarmModel
        >>> len(FarmLogs(FarmModel(seed=0)).groups)  # 3 queues, 4 fleets
        7
        """
        return sorted([*self._queues, *self._fleets])

    def fleet_of(self, group: str) -> Mapping[str, Any] | None:
        """Return the ``GetFleet`` output of the fleet a worker-log group belongs to, or ``None``.

        Parameters
        ----------
        group
            A log group's name.

        Returns
        -------
        dict or None
            The fleet, or ``None`` for a group that is not a fleet's.

        Examples
        --------
        >>> from deadline_nb.localfarm.logs import FarmLogs
        >>> from deadline_nb.localfarm.model import FarmModel
        >>> model = FarmModel(seed=0)
        >>> logs = FarmLogs(model)
        >>> fleet = model.fleets[0]
        >>> logs.fleet_of(logs.group_name(fleet["fleetId"])) is fleet
        True
        """
        return self._fleets.get(group)

    def queue_of(self, group: str) -> Mapping[str, Any] | None:
        """Return the ``GetQueue`` output of the queue a group belongs to, or ``None``.

        Parameters
        ----------
        group
            A log group's name.

        Returns
        -------
        dict or None
            The queue, or ``None`` for a group the farm does not have.

        Examples
        --------
        >>> from deadline_nb.localfarm.logs import FarmLogs
        >>> from deadline_nb.localfarm.model import FarmModel
        >>> model = FarmModel(seed=0)
        >>> logs = FarmLogs(model)
        >>> group = logs.group_name(model.queues[0]["queueId"])
        >>> logs.queue_of(group) is not None, logs.queue_of("/nope")
        (True, None)
        """
        return self._queues.get(group)

    def now_ms(self) -> int:
        """Return the farm's instant for logs: its clock, to the whole second, in milliseconds.

        The Deadline API shows the running job at the same whole second, so that a log and the
        actions agree.

        Returns
        -------
        int
            Epoch milliseconds.

        Examples
        --------
        >>> from deadline_nb.localfarm.clock import ManualClock
        >>> from deadline_nb.localfarm.logs import FarmLogs
        >>> from deadline_nb.localfarm.model import FarmModel
        >>> FarmLogs(FarmModel(seed=0, clock=ManualClock(1_800_000_000.7))).now_ms()
        1800000000000
        """
        return math.floor(self.model.now()) * 1000

    def _all_streams(self, group: str) -> dict[str, StreamRef]:
        with self._lock:
            known = self._streams.get(group)
            if known is not None:
                return known
            streams: dict[str, StreamRef] = {}
            fleet = self._fleets.get(group)
            if fleet is not None:
                _, missing = quiet_workers(self.model)
                for worker in self.model.fleet_workers(fleet["fleetId"]):
                    name = str(worker["workerId"])
                    if name == missing:
                        continue
                    streams[name] = StreamRef(
                        name=name,
                        job_id="",
                        session={"startedAt": worker["createdAt"]},
                        actions=(),
                        running=True,
                        code=_stream_code(group, name),
                        worker=worker,
                    )
                self._streams[group] = streams
                return streams
            queue = self._queues[group]
            for spec in self.model.queue_jobs(queue["queueId"]):
                build = self.model.job_build(spec.job_id)
                silent = streamless_session(build)
                for session in build.sessions:
                    name = str(session["sessionId"])
                    if name == silent:
                        continue
                    streams[name] = StreamRef(
                        name=name,
                        job_id=spec.job_id,
                        session=session,
                        actions=build.session_actions[name],
                        running=spec.role == "running",
                        code=_stream_code(group, name),
                    )
            self._streams[group] = streams
            return streams

    def streams(self, group: str, now_ms: int | None = None) -> list[StreamRef]:
        """Return the streams of a group that exist at ``now_ms``, sorted by name.

        Parameters
        ----------
        group
            The group's name (one of :attr:`groups`).
        now_ms
            The instant; the farm's clock (:meth:`now_ms`) by default.

        Returns
        -------
        list of StreamRef
            One per session started by then, except the one that has no stream.

        Examples
        --------
        >>> from deadline_nb.localfarm.logs import FarmLogs
        >>> from deadline_nb.localfarm.model import FarmModel
        >>> model = FarmModel(seed=0)
        >>> logs = FarmLogs(model)
        >>> spec = model.job_by_name("failing")
        >>> group = logs.group_name(spec.queue_id)
        >>> failing = [s for s in logs.streams(group) if s.job_id == spec.job_id]
        >>> len(failing) == len(model.view(spec.job_id).sessions)
        True
        """
        now = self.now_ms() if now_ms is None else now_ms
        return [
            ref
            for name, ref in sorted(self._all_streams(group).items())
            if not ref.running or float(ref.session["startedAt"]) * 1000 <= now
        ]

    def stream(self, group: str, name: str, now_ms: int | None = None) -> StreamRef | None:
        """Return one stream, or ``None`` when it does not exist (yet, or at all).

        Parameters
        ----------
        group
            The group's name.
        name
            The stream's name (a session id).
        now_ms
            The instant; the farm's clock by default.

        Returns
        -------
        StreamRef or None
            The stream.

        Examples
        --------
        >>> from deadline_nb.localfarm.logs import FarmLogs
        >>> from deadline_nb.localfarm.model import FarmModel
        >>> logs = FarmLogs(FarmModel(seed=0))
        >>> logs.stream(logs.groups[0], "session-" + "0" * 32) is None
        True
        """
        ref = self._all_streams(group).get(name)
        if ref is None or not ref.running:
            return ref
        now = self.now_ms() if now_ms is None else now_ms
        return ref if float(ref.session["startedAt"]) * 1000 <= now else None

    def context(self, job_id: str) -> JobLogContext:
        """Return what a job's logs need (:func:`.sessionlog.job_log_context`), made once.

        Parameters
        ----------
        job_id
            The job's id.

        Returns
        -------
        JobLogContext
            The job's context.

        Examples
        --------
        >>> from deadline_nb.localfarm.logs import FarmLogs
        >>> from deadline_nb.localfarm.model import FarmModel
        >>> model = FarmModel(seed=0)
        >>> FarmLogs(model).context(model.job_by_name("render").job_id).role
        'render'
        """
        with self._lock:
            context = self._contexts.get(job_id)
            if context is None:
                queue_id = self.model.job_queue(job_id)
                queue = next(q for q in self.model.queues if q["queueId"] == queue_id)
                context = job_log_context(self.model.job_build(job_id), queue)
                self._contexts[job_id] = context
            return context

    def log(self, ref: StreamRef) -> SessionLog | WorkerLog:
        """Return a stream's whole log (for a running session: its plan, see :meth:`events`).

        Parameters
        ----------
        ref
            The stream.

        Returns
        -------
        SessionLog
            Its events, made on first use and kept in an LRU.

        Examples
        --------
        >>> from deadline_nb.localfarm.logs import FarmLogs
        >>> from deadline_nb.localfarm.model import FarmModel
        >>> logs = FarmLogs(FarmModel(seed=0))
        >>> ref = logs.streams(logs.groups[0])[0]
        >>> logs.log(ref) is logs.log(ref)
        True
        """
        with self._lock:
            found = self._cache.get(ref.name)
            if found is not None:
                self._cache.move_to_end(ref.name)
                return found
        made: SessionLog | WorkerLog
        if ref.worker is not None:
            made = worker_log(
                self.model,
                str(ref.worker["fleetId"]),
                ref.name,
                interval=self.metrics_interval,
            )
        else:
            made = session_log(
                self.context(ref.job_id), ref.session, ref.actions, running=ref.running
            )
        with self._lock:
            self._cache[ref.name] = made
            self._cache.move_to_end(ref.name)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return made

    def events(
        self, group: str, name: str, now_ms: int | None = None
    ) -> tuple[list[LogEvent], SessionLog | WorkerLog]:
        """Return the events of a stream that have happened by ``now_ms``, and its whole log.

        Parameters
        ----------
        group, name
            The stream.
        now_ms
            The instant; the farm's clock by default. A finished session's log is whole.

        Returns
        -------
        tuple
            The visible events, and the :class:`SessionLog` they come from.

        Raises
        ------
        KeyError
            When the stream does not exist.

        Examples
        --------
        >>> from deadline_nb.localfarm.logs import FarmLogs
        >>> from deadline_nb.localfarm.model import FarmModel
        >>> model = FarmModel(seed=0)
        >>> logs = FarmLogs(model)
        >>> group = logs.group_name(model.job_by_name("render").queue_id)
        >>> ref = logs.streams(group)[0]
        >>> visible, whole = logs.events(group, ref.name)
        >>> len(visible) == len(whole.events)  # a finished job's log is whole
        True
        """
        now = self.now_ms() if now_ms is None else now_ms
        ref = self.stream(group, name, now)
        if ref is None:
            raise KeyError(f"No log stream {name!r} in {group!r}.")
        whole = self.log(ref)
        return list(whole.events[: self.visible(ref, whole, now)]), whole

    def visible(self, ref: StreamRef, whole: SessionLog | WorkerLog, now_ms: int) -> int:
        """Return how many events of a stream have happened by ``now_ms``.

        Parameters
        ----------
        ref
            The stream.
        whole
            Its log.
        now_ms
            The instant.

        Returns
        -------
        int
            All of them for a finished job's session.

        Examples
        --------
        >>> from deadline_nb.localfarm.logs import FarmLogs
        >>> from deadline_nb.localfarm.model import FarmModel
        >>> model = FarmModel(seed=0)
        >>> logs = FarmLogs(model)
        >>> ref = logs.streams(logs.group_name(model.job_by_name("render").queue_id))[0]
        >>> logs.visible(ref, logs.log(ref), 0) == len(logs.log(ref).events)
        True
        """
        return whole.visible(now_ms if ref.running else None)


# ---- tokens


def _encode(payload: Mapping[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(token: str) -> dict[str, Any]:
    try:
        padded = token + "=" * (-len(token) % 4)
        decoded = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error):
        raise _invalid("The specified nextToken is invalid.") from None
    if not isinstance(decoded, dict):
        raise _invalid("The specified nextToken is invalid.")
    return decoded


def _digest(operation: str, params: Mapping[str, Any], ignore: Sequence[str]) -> str:
    query = {k: v for k, v in params.items() if k not in ignore}
    return hashlib.blake2b(
        json.dumps([operation, query], sort_keys=True).encode(), digest_size=8
    ).hexdigest()


def _stream_token(direction: str, code: int, position: int) -> str:
    # The service's own shape: f/ or b/, 56 digits, /s.
    return f"{direction}/{code:020d}{position:036d}/s"


_STREAM_TOKEN: Final = re.compile(r"([fb])/(\d{20})(\d{36})/s")


# ---- operations


class LogsResponses:
    """The answers to the CloudWatch Logs reads, from the farm's logs.

    Parameters
    ----------
    logs
        The farm's logs.

    Examples
    --------
    >>> from deadline_nb.localfarm.logs import FarmLogs, LogsResponses
    >>> from deadline_nb.localfarm.model import FarmModel
    >>> logs = FarmLogs(FarmModel(seed=0))
    >>> answer = LogsResponses(logs).respond("DescribeLogGroups", {})
    >>> [g["logGroupName"] for g in answer["logGroups"]] == logs.groups
    True
    """

    def __init__(self, logs: FarmLogs) -> None:
        self.logs = logs

    def respond(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """Answer one operation.

        Parameters
        ----------
        operation
            Its name, one of :data:`LOGS_OPERATIONS`.
        params
            Its input (:func:`parse_logs_request`).

        Returns
        -------
        dict
            Its output.

        Raises
        ------
        LogsError
            The service's error for this request.

        Examples
        --------
        >>> from deadline_nb.localfarm.logs import FarmLogs, LogsError, LogsResponses
        >>> from deadline_nb.localfarm.model import FarmModel
        >>> responses = LogsResponses(FarmLogs(FarmModel(seed=0)))
        >>> try:
        ...     responses.respond("GetLogEvents", {"logGroupName": "/x", "logStreamName": "s"})
        ... except LogsError as error:
        ...     print(error.code, error.message)
        ResourceNotFoundException The specified log group does not exist.
        """
        return LOGS_HANDLERS[operation](self, params)

    def group_of(self, params: Mapping[str, Any]) -> str:
        """Return the group a request names (``logGroupName`` or ``logGroupIdentifier``).

        Parameters
        ----------
        params
            The request's input.

        Returns
        -------
        str
            The group's name.

        Raises
        ------
        LogsError
            ``InvalidParameterException`` for neither or both, ``ResourceNotFoundException``
            for a group the farm does not have.

        Examples
        --------
        >>> from deadline_nb.localfarm.logs import FarmLogs, LogsResponses
        >>> from deadline_nb.localfarm.model import FarmModel
        >>> logs = FarmLogs(FarmModel(seed=0))
        >>> arn = f"arn:aws:logs:us-west-2:123456789012:log-group:{logs.groups[0]}"
        >>> LogsResponses(logs).group_of({"logGroupIdentifier": arn}) == logs.groups[0]
        True
        """
        name, identifier = params.get("logGroupName"), params.get("logGroupIdentifier")
        if (name is None) == (identifier is None):
            raise _invalid("Exactly one of logGroupName and logGroupIdentifier must be given.")
        group = name if name is not None else str(identifier)
        if group.startswith("arn:"):
            # arn:aws:logs:<region>:<account>:log-group:<name>[:*]
            group = group.split(":log-group:", 1)[-1].removesuffix(":*")
        if self.logs.queue_of(group) is None and self.logs.fleet_of(group) is None:
            raise LogsError("ResourceNotFoundException", _GROUP_NOT_FOUND)
        return group

    # ---- GetLogEvents

    def get_log_events(self, p: dict[str, Any]) -> dict[str, Any]:
        """Answer ``GetLogEvents``."""
        group = self.group_of(p)
        now = self.logs.now_ms()
        ref = self.logs.stream(group, p["logStreamName"], now)
        if ref is None:
            raise LogsError("ResourceNotFoundException", _STREAM_NOT_FOUND)
        whole = self.logs.log(ref)
        visible = self.logs.visible(ref, whole, now)
        stamps = whole.timestamps
        start, end = p.get("startTime"), p.get("endTime")
        lo = bisect.bisect_left(stamps, start, 0, visible) if start is not None else 0
        hi = bisect.bisect_left(stamps, end, 0, visible) if end is not None else visible
        hi = max(lo, hi)
        limit = p.get("limit", _MAX_EVENTS)
        token = p.get("nextToken")
        if token is not None:
            found = _STREAM_TOKEN.fullmatch(token)
            position = int(found.group(3)) if found else -1
            if found is None or int(found.group(2)) != ref.code or position > len(stamps):
                raise _invalid("The specified nextToken is invalid.")
            forward = found.group(1) == "f"
        else:
            forward = bool(p.get("startFromHead", False))
            position = lo if forward else hi
        if forward:
            first = max(position, lo)
            last = first
            budget = MAX_RESPONSE_BYTES
            while last < hi and last - first < limit and whole.sizes[last] <= budget:
                budget -= whole.sizes[last]
                last += 1
        else:
            last = min(position, hi)
            first = last
            budget = MAX_RESPONSE_BYTES
            while first > lo and last - first < limit and whole.sizes[first - 1] <= budget:
                budget -= whole.sizes[first - 1]
                first -= 1
        events = [
            {"timestamp": e.timestamp, "message": e.message, "ingestionTime": e.ingestion_time}
            for e in whole.events[first:last]
        ]
        next_forward = _stream_token("f", ref.code, last)
        next_backward = _stream_token("b", ref.code, first)
        if token is not None and not events:
            # The end of the stream in this direction: the same token comes back.
            if forward:
                next_forward = token
            else:
                next_backward = token
        return {
            "events": events,
            "nextForwardToken": next_forward,
            "nextBackwardToken": next_backward,
        }

    # ---- FilterLogEvents

    def filter_log_events(self, p: dict[str, Any]) -> dict[str, Any]:
        """Answer ``FilterLogEvents``."""
        group = self.group_of(p)
        names, prefix = p.get("logStreamNames"), p.get("logStreamNamePrefix")
        if names is not None and prefix is not None:
            raise _invalid("logStreamNames and logStreamNamePrefix cannot both be given.")
        now = self.logs.now_ms()
        if names is not None:
            refs = []
            for name in sorted(set(names)):
                ref = self.logs.stream(group, name, now)
                if ref is None:
                    raise LogsError("ResourceNotFoundException", _STREAM_NOT_FOUND)
                refs.append(ref)
        else:
            refs = [
                r
                for r in self.logs.streams(group, now)
                if prefix is None or r.name.startswith(prefix)
            ]
        start, end = p.get("startTime"), p.get("endTime")
        matches = compile_filter(p.get("filterPattern"))
        limit = p.get("limit", _MAX_EVENTS)
        digest = _digest("FilterLogEvents", p, ("nextToken", "limit", "startFromHead"))
        after: list[Any] | None = None
        token = p.get("nextToken")
        if token is not None:
            decoded = _decode(token)
            if decoded.get("q") != digest or not isinstance(decoded.get("k"), list):
                raise _invalid("The specified nextToken is invalid.")
            forward = bool(decoded.get("f", True))
            after = decoded["k"]
        else:
            forward = bool(p.get("startFromHead", True))
            if not forward and (start is None or start < _NEWEST_FIRST_SINCE):
                raise _invalid(
                    "startFromHead can be false only with a startTime on or after "
                    "Jan 1, 2024 00:00:00 UTC."
                )
        found: list[dict[str, Any]] = []
        budget = MAX_RESPONSE_BYTES
        last_key: list[Any] | None = None
        more = False
        for key, ref, event, size in self._merged(refs, start, end, now, forward, after):
            if not matches(event.message):
                continue
            if len(found) >= limit or size > budget:
                more = True
                break
            budget -= size
            found.append(
                {
                    "logStreamName": ref.name,
                    "timestamp": event.timestamp,
                    "message": event.message,
                    "ingestionTime": event.ingestion_time,
                    "eventId": f"{event.timestamp:020d}{ref.code:016d}{key[2]:020d}",
                }
            )
            last_key = list(key)
        out: dict[str, Any] = {"events": found, "searchedLogStreams": []}
        if more and last_key is not None:
            out["nextToken"] = _encode({"k": last_key, "q": digest, "f": forward})
        return out

    def _merged(
        self,
        refs: Sequence[StreamRef],
        start: int | None,
        end: int | None,
        now: int,
        forward: bool,
        after: Sequence[Any] | None,
    ) -> Iterator[tuple[tuple[int, int, int], StreamRef, LogEvent, int]]:
        """The events of ``refs`` in time order (or reverse), inside the window, after a key.

        The key of an event is (timestamp, index of its stream among ``refs`` sorted by name,
        index in its stream): a total order that a token can resume from.
        """
        ordered = sorted(refs, key=lambda r: r.name)
        sources: list[Iterator[tuple[tuple[int, int, int], StreamRef, LogEvent, int]]] = []
        for number, ref in enumerate(ordered):
            session = ref.session
            begin = int(float(session["startedAt"]) * 1000)
            finish = session.get("endedAt")
            # Skip sessions outside the window without making their logs.
            if end is not None and begin > end + 1000:
                continue
            if start is not None and finish is not None and float(finish) * 1000 < start - 1000:
                continue
            whole = self.logs.log(ref)
            visible = self.logs.visible(ref, whole, now)
            stamps = whole.timestamps
            lo = bisect.bisect_left(stamps, start, 0, visible) if start is not None else 0
            hi = bisect.bisect_right(stamps, end, 0, visible) if end is not None else visible
            sources.append(self._source(number, ref, whole, lo, hi, forward, after))
        if forward:
            return heapq.merge(*sources, key=lambda item: item[0])
        return heapq.merge(*sources, key=lambda item: item[0], reverse=True)

    @staticmethod
    def _source(
        number: int,
        ref: StreamRef,
        whole: SessionLog | WorkerLog,
        lo: int,
        hi: int,
        forward: bool,
        after: Sequence[Any] | None,
    ) -> Iterator[tuple[tuple[int, int, int], StreamRef, LogEvent, int]]:
        bound = tuple(after) if after is not None else None
        if bound is not None:
            # Jump to the token's instant; the keys below settle ties within it.
            if forward:
                lo = max(lo, bisect.bisect_left(whole.timestamps, bound[0], lo, hi))
            else:
                hi = min(hi, bisect.bisect_right(whole.timestamps, bound[0], lo, hi))
        indexes = range(lo, hi) if forward else range(hi - 1, lo - 1, -1)
        for i in indexes:
            key = (whole.timestamps[i], number, i)
            if bound is not None and (key <= bound if forward else key >= bound):
                continue
            yield key, ref, whole.events[i], whole.sizes[i]

    # ---- DescribeLogStreams and DescribeLogGroups

    def describe_log_streams(self, p: dict[str, Any]) -> dict[str, Any]:
        """Answer ``DescribeLogStreams``."""
        group = self.group_of(p)
        prefix = p.get("logStreamNamePrefix")
        by_time = p.get("orderBy", "LogStreamName") == "LastEventTime"
        if by_time and prefix is not None:
            raise _invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
        now = self.logs.now_ms()
        refs = [
            r for r in self.logs.streams(group, now) if prefix is None or r.name.startswith(prefix)
        ]
        descending = bool(p.get("descending", False))
        if by_time:
            described = [self._describe(group, r, now) for r in refs]
            described.sort(
                key=lambda s: (s.get("lastEventTimestamp", 0), s["logStreamName"]),
                reverse=descending,
            )
        else:
            refs.sort(key=lambda r: r.name, reverse=descending)
        offset, page_size = self._offset(p, "DescribeLogStreams", 50)
        if by_time:
            page = described[offset : offset + page_size]
            total = len(described)
        else:
            page = [self._describe(group, r, now) for r in refs[offset : offset + page_size]]
            total = len(refs)
        out: dict[str, Any] = {"logStreams": page}
        if offset + page_size < total:
            digest = _digest("DescribeLogStreams", p, ("nextToken", "limit"))
            out["nextToken"] = _encode({"o": offset + page_size, "q": digest})
        return out

    def _offset(self, p: Mapping[str, Any], operation: str, default: int) -> tuple[int, int]:
        size = p.get("limit", default)
        token = p.get("nextToken")
        if token is None:
            return 0, size
        decoded = _decode(token)
        offset = decoded.get("o")
        if decoded.get("q") != _digest(operation, p, ("nextToken", "limit")) or not (
            isinstance(offset, int) and offset >= 0
        ):
            raise _invalid("The specified nextToken is invalid.")
        return offset, size

    def _describe(self, group: str, ref: StreamRef, now: int) -> dict[str, Any]:
        stream: dict[str, Any] = {
            "logStreamName": ref.name,
            "creationTime": round(float(ref.session["startedAt"]) * 1000),
            "arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:log-stream:{ref.name}",
            # "As of June 17, 2019, this parameter is no longer supported for log streams, and
            # is always reported as zero."
            "storedBytes": 0,
        }
        whole = self.logs.log(ref)
        visible = self.logs.visible(ref, whole, now)
        if visible and isinstance(whole, WorkerLog):
            # Months of lines, made on demand: only the two ends (ingestion keeps time order).
            first, last = whole.events[0], whole.events[visible - 1]
            stream["firstEventTimestamp"] = first.timestamp
            stream["lastEventTimestamp"] = last.timestamp
            stream["lastIngestionTime"] = last.ingestion_time
        elif visible:
            events = whole.events[:visible]
            stream["firstEventTimestamp"] = events[0].timestamp
            stream["lastEventTimestamp"] = events[-1].timestamp
            stream["lastIngestionTime"] = max(e.ingestion_time for e in events)
        return stream

    def describe_log_groups(self, p: dict[str, Any]) -> dict[str, Any]:
        """Answer ``DescribeLogGroups``."""
        prefix, pattern = p.get("logGroupNamePrefix"), p.get("logGroupNamePattern")
        if prefix is not None and pattern is not None:
            raise _invalid("logGroupNamePrefix and logGroupNamePattern are mutually exclusive.")
        wanted = p.get("logGroupIdentifiers")
        names = [
            g
            for g in self.logs.groups
            if (prefix is None or g.startswith(prefix))
            and (pattern is None or pattern in g)
            and (wanted is None or any(w == g or w.endswith(f":log-group:{g}") for w in wanted))
            and p.get("logGroupClass") in (None, "STANDARD")
        ]
        offset, size = self._offset(p, "DescribeLogGroups", 50)
        page = []
        for name in names[offset : offset + size]:
            queue = self.logs.queue_of(name) or self.logs.fleet_of(name) or {}
            arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}"
            page.append(
                {
                    "logGroupName": name,
                    "creationTime": round(float(queue.get("createdAt", 0)) * 1000),
                    "metricFilterCount": 0,
                    "arn": f"{arn}:*",
                    "logGroupArn": arn,
                    "storedBytes": 0,
                    "logGroupClass": "STANDARD",
                }
            )
        out: dict[str, Any] = {"logGroups": page}
        if offset + size < len(names):
            digest = _digest("DescribeLogGroups", p, ("nextToken", "limit"))
            out["nextToken"] = _encode({"o": offset + size, "q": digest})
        return out


#: Operation name -> the method of :class:`LogsResponses` that answers it.
LOGS_HANDLERS: Final[Mapping[str, Callable[[LogsResponses, dict[str, Any]], dict[str, Any]]]] = (
    MappingProxyType(
        {
            "GetLogEvents": LogsResponses.get_log_events,
            "FilterLogEvents": LogsResponses.filter_log_events,
            "DescribeLogStreams": LogsResponses.describe_log_streams,
            "DescribeLogGroups": LogsResponses.describe_log_groups,
        }
    )
)

#: The CloudWatch Logs operations the farm serves: reads only.
LOGS_OPERATIONS: Final[tuple[str, ...]] = tuple(LOGS_HANDLERS)
