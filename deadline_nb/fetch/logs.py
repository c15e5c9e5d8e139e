"""A job's session logs from CloudWatch Logs, through the cache, as a log frame; and grep.

Where the logs are (checked in the sources): the queue's log group
``/aws/deadline/<farmId>/<queueId>``, one stream per session named by its id
(``deadline/client/api/_job_monitoring.py``, ``get_session_logs``; ``GetSession``'s ``log``).

Reading a stream (botocore's ``logs`` model, ``GetLogEvents``): ``startFromHead=True``, then
``nextForwardToken`` until the service hands back the token it was given ("If you have reached
the end of the stream, it returns the same token you passed in"); each page holds up to 10,000
events and 1 MB, counting each message's UTF-8 bytes plus 26. "A returned page might only be
partially full, or even empty" and that alone does not end the stream, so a page is taken as the
last one only when it is not empty and the next event, had there been one, would have fitted:
fewer than 10,000 events and room left for the largest event the worker agent sends (it cuts
its messages at 256,000 bytes, ``log_sync/cloudwatch.py``). An ended session whose log fits in
one page so costs one call; a stream ended in any other way costs one more call, which the
service answers with the same token. ``startTime`` is the session's start, less a margin: the
model's documentation advises it "to reduce the chances of empty pages".

What is kept (:mod:`deadline_nb.cache`): each page as it comes, with the token to resume from,
committed together. The stream of an ended session never changes: once read to its end it is
never read again. A session ended less than :data:`SETTLE_SECONDS` ago (by this machine's
clock) is read like a running one, since the agent may still be sending its last lines. A
running session's stream is read from the stored token: only what is new. Tokens last 24 hours;
an older one is replaced by reading from the last stored event's time, skipping the events
already stored at that millisecond.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any, Final

from ..aws import DEFAULT_WORKERS, is_local_endpoint, translate
from ..aws import logs_client as make_logs_client
from ..cache import Cache, LogStream
from ..errors import AwsError, Problems, bad_argument
from .common import (
    CacheArg,
    CacheHandle,
    Ids,
    fewer_collections,
    is_finished,
    job_token,
    resolve_client,
    resolve_ids,
)
from .resources import fetch_job, fetch_sessions
from .watch import Watch

if TYPE_CHECKING:
    import boto3
    import pandas as pd
    from mypy_boto3_deadline import DeadlineCloudClient

    from .job import Job

__all__ = [
    "SETTLE_SECONDS",
    "StreamReader",
    "StreamSpec",
    "action_log",
    "check_pattern",
    "epoch_ms",
    "fetch_session_logs",
    "filter_pattern",
    "grep_logs",
    "job_sessions",
    "log_group_name",
    "logs_client_for",
]

#: Seconds after its end before a session's stream is taken as final: the worker agent sends
#: its lines in batches, so the last ones may reach CloudWatch after the session has ended.
SETTLE_SECONDS: Final = 300.0

_MAX_EVENTS: Final = 10_000  # GetLogEvents: events per page
_MAX_PAGE_BYTES: Final = 1_048_576  # and bytes per page, each event counted as below
_EVENT_OVERHEAD: Final = 26  # bytes CloudWatch counts per event besides its message
_AGENT_EVENT_BYTES: Final = 256_000  # the largest message the worker agent sends
_START_MARGIN_MS: Final = 3_600_000  # startTime: the session's start less an hour (clock skew)
_TOKEN_LIFE: Final = 23 * 3600.0  # "The token expires after 24 hours": an hour to spare
_FILTER_STREAMS: Final = 100  # FilterLogEvents: logStreamNames holds 1 to 100 names
_DENIED: Final = frozenset({"AccessDeniedException", "AccessDenied", "UnauthorizedOperation"})
_MIN_FILTER: Final = 3  # a server-side filter of fewer characters selects next to nothing


def log_group_name(farm_id: str, queue_id: str) -> str:
    """Return the CloudWatch Logs group of a queue's session logs.

    Examples
    --------
    >>> log_group_name("farm-1", "queue-2")
    '/aws/deadline/farm-1/queue-2'
    """
    return f"/aws/deadline/{farm_id}/{queue_id}"


@dataclasses.dataclass(frozen=True)
class StreamSpec:
    """What reading one stream needs: its name, its time window, whether it can still change.

    A session's stream (``session_id`` is the stream's name) is read from the session's start
    less ``margin_ms``; a worker's (:mod:`.metrics`) only over the window of the job's
    sessions on it: ``end_ms`` then bounds the read (``endTime``). Shared with :mod:`.metrics`.
    """

    session_id: str
    started_ms: int | None
    final: bool  # ended, and long enough ago that its stream no longer changes
    end_ms: int | None = None
    margin_ms: int = _START_MARGIN_MS


def epoch_ms(value: Any) -> int | None:
    """A time (datetime, pandas Timestamp, epoch seconds) as epoch ms, or None.

    Examples
    --------
    >>> epoch_ms(1795730400.5), epoch_ms(None)
    (1795730400500, None)
    """
    if value is None:
        return None
    try:
        import pandas as pd

        if pd.isna(value):
            return None
        stamp = pd.Timestamp(value, unit="s") if isinstance(value, (int, float)) else value
        return int(pd.Timestamp(stamp).timestamp() * 1000)
    except (TypeError, ValueError, OverflowError):
        return None


def _session_info(session_id: str, status: Any, started: Any, ended: Any) -> StreamSpec:
    end_ms = epoch_ms(ended)
    done = (str(status) == "ENDED" or end_ms is not None) and (
        end_ms is None or end_ms <= (time.time() - SETTLE_SECONDS) * 1000
    )
    return StreamSpec(str(session_id), epoch_ms(started), done)


def _sessions_from_items(items: Iterable[Mapping[str, Any]]) -> list[StreamSpec]:
    return [
        _session_info(
            s["sessionId"], s.get("lifecycleStatus"), s.get("startedAt"), s.get("endedAt")
        )
        for s in items
        if isinstance(s, Mapping) and isinstance(s.get("sessionId"), str)
    ]


def _sessions_from_frame(frame: pd.DataFrame) -> list[StreamSpec]:
    out = []
    for row in frame[["sessionId", "lifecycleStatus", "startedAt", "endedAt"]].itertuples(
        index=False
    ):
        if isinstance(row.sessionId, str):
            status, started, ended = row.lifecycleStatus, row.startedAt, row.endedAt
            out.append(_session_info(row.sessionId, status, started, ended))
    return out


def _page_fits(events: Sequence[Mapping[str, Any]]) -> bool:
    """Whether a page left room for one more event of any size the agent sends."""
    if not events or len(events) >= _MAX_EVENTS:
        return False
    room = _MAX_PAGE_BYTES - _AGENT_EVENT_BYTES - _EVENT_OVERHEAD * (len(events) + 1)
    chars = sum(len(m) for m in (e.get("message") for e in events) if isinstance(m, str))
    if 4 * chars <= room:  # a character is at most 4 bytes of UTF-8: no need to count
        return True
    size = sum(
        len(m.encode("utf-8", "surrogatepass"))
        for m in (e.get("message") for e in events)
        if isinstance(m, str)
    )
    return size <= room


class _Stopped(Exception):
    """The fetch failed in another thread."""


class StreamReader:
    """Reads a job's streams, in parallel, through the cache (or into memory).

    By default the job's session streams (its queue's group, kept under the job's key); a
    ``group`` and a cache ``key`` of its own for other streams (a fleet's worker logs, in
    :mod:`.metrics`). Shared with :mod:`.metrics`.
    """

    def __init__(
        self,
        lc: Any,
        ids: Ids,
        store: Cache | None,
        watch: Watch,
        *,
        refresh: bool,
        group: str | None = None,
        key: tuple[str, str, str] | None = None,
    ) -> None:
        self.lc = lc
        self.ids = ids
        self.group = group or log_group_name(ids.farm_id, ids.queue_id)
        self.key = key or ids.key
        self.store = store
        self.watch = watch
        self.refresh = refresh
        self.stop = threading.Event()
        self.events: dict[str, list[dict[str, Any]]] = {}  # without a cache
        self.missing: list[str] = []
        self.cleaned: list[str] = []
        self.calls = 0
        self._lock = threading.Lock()

    def run(self, sessions: Sequence[StreamSpec], max_workers: int) -> None:
        states = (
            self.store.log_streams(*self.key) if self.store is not None else dict[str, LogStream]()
        )
        todo = []
        for session in sessions:
            state = states.get(session.session_id)
            if state is not None and state.complete and not self.refresh:
                if state.missing:
                    self.missing.append(session.session_id)
                continue
            todo.append((session, state))
        self.watch.grow(len(sessions), done=len(sessions) - len(todo))
        if not todo:
            return
        pool = ThreadPoolExecutor(min(max_workers, len(todo)), "deadline-nb-logs")
        finished = False
        try:
            futures: list[Future[None]] = [pool.submit(self._read, s, st) for s, st in todo]
            pending = set(futures)
            while pending:
                done, pending = wait(
                    pending, timeout=self.watch.remaining(), return_when=FIRST_EXCEPTION
                )
                for future in done:
                    error = future.exception()
                    if error is not None and not isinstance(error, _Stopped):
                        raise error
                self.watch.check()
            finished = True
        finally:
            self.stop.set()
            pool.shutdown(wait=finished, cancel_futures=True)

    # -- one stream, in a worker thread

    def _call(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.stop.is_set():
            raise _Stopped
        self.watch.check()
        with self._lock:
            self.calls += 1
        response: dict[str, Any] = self.lc.get_log_events(**params)
        return response

    def _read(self, session: StreamSpec, state: LogStream | None) -> None:
        sid = session.session_id
        params: dict[str, Any] = {
            "logGroupName": self.group,
            "logStreamName": sid,
            "startFromHead": True,
        }
        if session.started_ms is not None:
            params["startTime"] = max(0, session.started_ms - session.margin_ms)
        if session.end_ms is not None:
            params["endTime"] = session.end_ms
        restart = self.refresh or state is None or state.missing
        token: str | None = None
        skip = 0
        if not restart and state is not None:
            if state.token is not None and time.time() - state.read_at < _TOKEN_LIFE:
                token = state.token
            elif state.last_ms is not None:
                params["startTime"], skip = state.last_ms, state.at_last
            else:
                restart = True
        while True:
            call = {**params, **({"nextToken": token} if token else {})}
            try:
                page = self._call(call)
            except _Stopped:
                raise
            except AwsError:
                raise
            except Exception as error:
                code = str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))
                if code == "ResourceNotFoundException":
                    self._missing(session)
                    return
                if code == "InvalidParameterException" and token is not None and skip == 0:
                    # An expired (or otherwise refused) token: resume by time instead.
                    token = None
                    if state is not None and state.last_ms is not None and not restart:
                        params["startTime"], skip = state.last_ms, state.at_last
                    else:
                        restart = True
                    continue
                translated = translate(
                    error, operation="GetLogEvents", log_group=self.group, **self.ids.fields
                )
                if translated is None:
                    raise
                raise translated from error
            events = list(page.get("events") or [])
            if skip:
                # Resumed by time: the first events at that millisecond are stored already.
                seen = 0
                while (
                    seen < min(skip, len(events))
                    and events[seen].get("timestamp") == params["startTime"]
                ):
                    seen += 1
                skip = 0 if seen < len(events) else skip - seen
                events = events[seen:]
            following = page.get("nextForwardToken")
            at_end = token is not None and following == token
            last = at_end or _page_fits(page.get("events") or [])
            self._keep(session, events, following, last and session.final, restart)
            restart = False
            if last or not following:
                break
            token = following
        self.watch.advance(1)

    def _keep(
        self,
        session: StreamSpec,
        events: list[dict[str, Any]],
        token: str | None,
        complete: bool,
        restart: bool,
    ) -> None:
        sid = session.session_id
        if self.store is None:
            with self._lock:
                self.events.setdefault(sid, []).extend(events)
            return
        if self.store.put_log_page(
            *self.key, sid, events, token=token, complete=complete, restart=restart
        ):
            with self._lock:
                self.cleaned.append(sid)

    def _missing(self, session: StreamSpec) -> None:
        with self._lock:
            self.missing.append(session.session_id)
        if self.store is not None:
            # An ended session's stream that does not exist never will: kept as such.
            self.store.put_log_page(
                *self.key,
                session.session_id,
                [],
                token=None,
                complete=session.final,
                missing=True,
                restart=True,
            )
        self.watch.advance(1)

    def warn(self, stacklevel: int) -> None:
        problems = Problems("session")
        for sid in self.missing:
            problems.add(
                f"has no log stream in {self.group} (ResourceNotFoundException), so its log is "
                "empty",
                sid,
            )
        for sid in self.cleaned:
            problems.add("had log lines with text UTF-8 cannot hold, kept with U+FFFD", sid)
        problems.emit(stacklevel=stacklevel)


def _frame(
    reader: StreamReader,
    store: Cache | None,
    ids: Ids,
    sessions: Sequence[StreamSpec],
    actions: pd.DataFrame | None,
) -> pd.DataFrame:
    from ..frames import log_frame
    from ..frames.logs import log_frame_from_arrays

    wanted = [s.session_id for s in sessions]
    if store is None:
        return log_frame(
            {sid: reader.events.get(sid, []) for sid in wanted}, actions=actions, **ids.frame_ids
        )
    stored = store.log_columns(*ids.key, session_ids=wanted)
    return log_frame_from_arrays(
        stored.session_ids,
        stored.counts,
        stored.timestamps,
        stored.ingestion_times,
        stored.messages,
        actions=actions,
        **ids.frame_ids,
    )


def logs_client_for(
    c: DeadlineCloudClient,
    logs_client: Any,
    boto3_session: boto3.Session | None,
    ids: Ids,
    max_workers: int,
) -> Any:
    """The caller's logs client, or one with the credentials and endpoint ``c`` implies.

    Shared with :mod:`.metrics`, which passes an empty ``ids.queue_id`` (a worker log is not
    a queue's: no queue role).
    """
    if logs_client is not None:
        return logs_client
    endpoint = c.meta.endpoint_url
    return make_logs_client(
        boto3_session,
        endpoint_url=endpoint if is_local_endpoint(endpoint) else None,
        region=c.meta.region_name,
        farm_id=ids.farm_id,
        queue_id=ids.queue_id,
        deadline_client=c,
        max_workers=max_workers,
    )


def job_sessions(
    c: DeadlineCloudClient, ids: Ids, store: Cache | None, refresh: bool
) -> list[dict[str, Any]]:
    """The job's sessions: from the cache when the job is finished and was listed whole.

    Shared with :mod:`.metrics`.
    """
    job = fetch_job(*ids.key, client=c)
    listed = store is not None and not refresh and is_finished(job)
    if listed and store is not None and store.listing(*ids.key) == job_token(job):
        stored = store.items("session", *ids.key)
        if stored:
            return stored
    sessions = fetch_sessions(*ids.key, client=c)
    if store is not None:
        store.put("session", *ids.key, sessions, "sessionId")
    return sessions


def _read_logs(
    lc: Any,
    ids: Ids,
    store: Cache | None,
    sessions: Sequence[StreamSpec],
    actions: pd.DataFrame | None,
    *,
    refresh: bool,
    watch: Watch,
    max_workers: int,
    stacklevel: int,
) -> pd.DataFrame:
    reader = StreamReader(lc, ids, store, watch, refresh=refresh)
    with watch:
        reader.run(sessions, max_workers)
    reader.warn(stacklevel)
    return _frame(reader, store, ids, sessions, actions)


def fetch_session_logs(
    farm_id: str | None = None,
    queue_id: str | None = None,
    job_id: str | None = None,
    *,
    session_ids: Sequence[str] | None = None,
    actions: pd.DataFrame | None = None,
    cache: CacheArg = True,
    refresh: bool = False,
    progress: bool = True,
    max_workers: int = DEFAULT_WORKERS,
    timeout: float | None = None,
    client: DeadlineCloudClient | None = None,
    logs_client: Any = None,
    boto3_session: boto3.Session | None = None,
) -> pd.DataFrame:
    """Return a job's session logs as a log frame, every line with its action and section.

    Each session's stream (``/aws/deadline/<farmId>/<queueId>``, stream ``<sessionId>``) is read
    with ``GetLogEvents`` from its head, sessions in parallel at the pace the account's quota
    allows (:func:`deadline_nb.aws.logs_client`). With the cache, an ended session's stream is
    read once and kept; a running session's, from where the last read stopped; a fetch killed
    halfway resumes. The module docstring has the rules.

    Parameters
    ----------
    farm_id, queue_id, job_id
        The job. Default: ``defaults.farm_id`` and so on from the ``deadline`` config.
    session_ids
        Only these sessions of the job.
    actions
        The job's session actions (a :func:`deadline_nb.session_action_frame`, or a job's
        ``actions``), to attribute each line to its action; without them ``sessionActionId``
        is missing.
    cache, refresh, progress, max_workers, timeout
        As in :func:`deadline_nb.fetch_session_actions`; ``refresh`` reads every stream again
        from its head. The bar counts sessions.
    client, boto3_session
        A ``deadline`` client, or a session to make the clients from.
    logs_client
        A CloudWatch Logs client (default: :func:`deadline_nb.aws.logs_client`, with the
        credentials the ``deadline`` client implies, and its endpoint when it is local).

    Returns
    -------
    pandas.DataFrame
        :func:`deadline_nb.log_frame` of the sessions' events, with the job's ids.

    Raises
    ------
    AccessDeniedError
        When the credentials may not read the log group; the message names the group and the
        IAM action to grant (``logs:GetLogEvents``).
    CredentialsError, NoRegionError, NotFoundError, ServiceError
        As :func:`deadline_nb.fetch_session_actions`; what was read before is kept (cache).
    ValueError
        When a session of ``session_ids`` is not one of the job's.

    Warns
    -----
    DataWarning
        Once, naming the sessions whose stream does not exist (their log is empty).

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm import LocalFarm
    >>> with LocalFarm() as farm:
    ...     j = farm.job_by_name("failing")
    ...     logs = dnb.fetch_session_logs(farm.farm_id, j.queue_id, j.job_id,
    ...                                   client=farm.client(), cache=False, progress=False)
    >>> int(logs["message"].str.startswith("Running Session Actions as user").sum()) > 0
    True
    """
    c = resolve_client(client, boto3_session)
    ids = resolve_ids(farm_id, queue_id, job_id)
    lc = logs_client_for(c, logs_client, boto3_session, ids, max_workers)
    watch = Watch(ids, c.meta.endpoint_url, progress=progress, timeout=timeout, unit="session")
    with fewer_collections(), CacheHandle(cache) as store:
        items = job_sessions(c, ids, store, refresh)
        sessions = _sessions_from_items(items)
        if session_ids is not None:
            known = {s.session_id for s in sessions}
            unknown = [s for s in session_ids if s not in known]
            if unknown:
                raise bad_argument("session_ids", f"name sessions of job {ids.job_id}", unknown)
            chosen = set(session_ids)
            sessions = [s for s in sessions if s.session_id in chosen]
        return _read_logs(
            lc,
            ids,
            store,
            sessions,
            actions,
            refresh=refresh,
            watch=watch,
            max_workers=max_workers,
            stacklevel=5,
        )


def job_logs(job: Job, *, refresh: bool = False) -> pd.DataFrame:
    """The log frame of a :class:`~deadline_nb.Job`, fetched with the job's own options.

    What ``job.logs`` returns (and keeps): the job's sessions' streams, each line attributed
    to ``job.actions``. Shared with :mod:`.job`.
    """
    options = job._options
    ids = Ids(job.farm_id, job.queue_id, job.job_id)
    c = options.get("client") or resolve_client(None, job._boto3_session)
    max_workers = int(options.get("max_workers", DEFAULT_WORKERS))
    lc = logs_client_for(c, None, job._boto3_session, ids, max_workers)
    watch = Watch(
        ids,
        c.meta.endpoint_url,
        progress=bool(options.get("progress", True)),
        timeout=options.get("timeout"),
        unit="session",
    )
    with CacheHandle(options.get("cache", True)) as store:
        return _read_logs(
            lc,
            ids,
            store,
            _sessions_from_frame(job.sessions),
            job.actions,
            refresh=refresh,
            watch=watch,
            max_workers=max_workers,
            stacklevel=6,
        )


def action_log(job: Job, session_action_id: str, *, tail: int | None = None) -> str:
    """Return one session action's log lines as text (fetching the job's logs if need be).

    Parameters
    ----------
    job
        A job from :func:`deadline_nb.load_job`.
    session_action_id
        One of its session actions.
    tail
        Only the last ``tail`` lines.

    Returns
    -------
    str
        The action's lines, in order, joined with newlines (:func:`deadline_nb.action_log_text`).

    Raises
    ------
    ValueError
        When the action is not one of the job's.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm import LocalFarm
    >>> with LocalFarm() as farm:
    ...     j = farm.job_by_name("failing")
    ...     job = dnb.load_job(farm.farm_id, j.queue_id, j.job_id, client=farm.client(),
    ...                        cache=False, progress=False)
    ...     failed = job.actions.loc[job.actions["processExitCode"] == 137, "sessionActionId"]
    ...     text = dnb.action_log(job, failed.iloc[0], tail=1)
    >>> text.startswith("Process pid ")
    True
    """
    from ..frames import action_log_text

    known = job.actions["sessionActionId"].astype(object)
    if session_action_id not in set(known):
        raise bad_argument(
            "session_action_id", f"be a session action of job {job.job_id}", session_action_id
        )
    return action_log_text(job.logs, session_action_id, tail=tail)


# ---------------------------------------------------------------------------------------------
# grep


# What a CloudWatch Logs %regex% filter may hold (its "Supported regular expressions" page):
# letters, digits, the symbols :_#=@/;,- and the operators ^$?[]{}|\*+. ; no parentheses, no
# spaces, no multibyte characters.
_PLAIN: Final = re.compile(r"[A-Za-z0-9:_#=@/;,\-]")
_OPERATORS: Final = frozenset("^$?[]{}|\\*+.")


def _literal_runs(pattern: str, regex: bool) -> tuple[list[str], bool]:
    """Runs of text every match must contain, and whether the pattern ignores case inline."""
    if not regex:
        return [pattern], False
    try:  # the standard library's own parser of Python's syntax (RE2's, for what it has)
        from re import _constants as sre_constants  # type: ignore[attr-defined,unused-ignore]
        from re import _parser as sre_parse  # type: ignore[attr-defined,unused-ignore]
    except ImportError:  # Python 3.10
        import sre_constants  # type: ignore[no-redef,unused-ignore]
        import sre_parse  # type: ignore[no-redef,unused-ignore]

    try:
        parsed = sre_parse.parse(pattern)
    except (re.error, RecursionError, OverflowError):
        return [], False
    ignore = bool(parsed.state.flags & re.IGNORECASE)
    runs: list[str] = []
    current: list[str] = []
    for op, value in parsed:
        # A literal at the top level (not in a group, a repeat or an alternation) is in
        # every match, in this order.
        if op is sre_constants.LITERAL:
            current.append(chr(value))
            continue
        if op is sre_constants.AT:
            continue
        runs.append("".join(current))
        current = []
    runs.append("".join(current))
    return [r for r in runs if r], ignore


def _expressible(text: str) -> list[str]:
    """The parts of ``text`` a %regex% filter can spell, in order."""
    parts, current = [], []
    for char in text:
        if _PLAIN.fullmatch(char) or char in _OPERATORS:
            current.append(char)
        else:
            parts.append("".join(current))
            current = []
    parts.append("".join(current))
    return [p for p in parts if p]


def filter_pattern(pattern: str, *, regex: bool = True, case: bool = True) -> str | None:
    """A CloudWatch Logs filter pattern that matches every line ``pattern`` matches, or None.

    The service's terms match whole words and its ``%regex%`` form allows only some characters
    (no spaces, no parentheses, no multibyte characters), so a search is sent to the service as
    ``%<text>%``: the longest run of plain text that every match must contain, spelled with
    the characters the form allows (letters as ``[Aa]`` when ``case=False``). It selects a
    superset of the lines; :func:`grep_logs` then applies the exact ``pattern`` to them. None
    when no such run of at least three characters exists (then the search runs locally).

    Parameters
    ----------
    pattern, regex, case
        As in :func:`grep_logs`.

    Returns
    -------
    str or None

    Examples
    --------
    >>> filter_pattern("License checkout failed", regex=False)
    '%checkout%'
    >>> filter_pattern(r"exited with code: [1-9]")
    '%exited%'
    >>> filter_pattern("edac", case=False)
    '%[Ee][Dd][Aa][Cc]%'
    >>> filter_pattern("a|b") is None
    True
    """
    runs, inline = _literal_runs(pattern, regex)
    insensitive = inline or not case
    best = max((part for run in runs for part in _expressible(run)), key=len, default="")
    if len(best) < _MIN_FILTER:
        return None
    spelled = []
    for char in best:
        if char in _OPERATORS:
            spelled.append("\\" + char)
        elif insensitive and char.isalpha() and char.lower() != char.upper():
            spelled.append(f"[{char.upper()}{char.lower()}]")
        else:
            spelled.append(char)
    return "%" + "".join(spelled) + "%"


def _all_cached(job: Job) -> bool:
    """Whether the cache holds every session's stream of the job, read to its end."""
    options = job._options
    cache = options.get("cache", True)
    if cache is False:
        return False
    with CacheHandle(cache) as store:
        if store is None:
            return False
        states = store.log_streams(job.farm_id, job.queue_id, job.job_id)
    sessions = job.sessions["sessionId"].astype(object)
    return all(isinstance(s, str) and s in states and states[s].complete for s in sessions)


def _filter_events(
    lc: Any, group: str, names: list[str], pattern: str, watch: Watch, missing: list[str]
) -> list[dict[str, Any]]:
    """Every event FilterLogEvents finds in these streams; streams that do not exist are
    found by halving the list (the call refuses a list that names one) and noted."""
    events: list[dict[str, Any]] = []
    token: str | None = None
    try:
        while True:
            watch.check()
            page = lc.filter_log_events(
                logGroupName=group,
                logStreamNames=names,
                filterPattern=pattern,
                **({"nextToken": token} if token else {}),
            )
            events.extend(page.get("events") or [])
            token = page.get("nextToken")
            if not token:
                return events
    except AwsError:
        raise
    except Exception as error:
        code = str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))
        if code != "ResourceNotFoundException":
            raise
        message = str(getattr(error, "response", {}).get("Error", {}).get("Message", ""))
        if len(names) == 1 or "log group" in message.lower():
            missing.extend(names)
            return []
        half = len(names) // 2
        return [
            *_filter_events(lc, group, names[:half], pattern, watch, missing),
            *_filter_events(lc, group, names[half:], pattern, watch, missing),
        ]


def _server_grep(job: Job, filter_text: str) -> pd.DataFrame:
    """The lines of the job's streams that the service's filter finds, as a log frame."""
    from ..frames import log_frame

    options = job._options
    ids = Ids(job.farm_id, job.queue_id, job.job_id)
    group = log_group_name(ids.farm_id, ids.queue_id)
    c = options.get("client") or resolve_client(None, job._boto3_session)
    max_workers = int(options.get("max_workers", DEFAULT_WORKERS))
    lc = logs_client_for(c, None, job._boto3_session, ids, max_workers)
    names = [s for s in job.sessions["sessionId"].astype(object) if isinstance(s, str)]
    chunks = [names[i : i + _FILTER_STREAMS] for i in range(0, len(names), _FILTER_STREAMS)]
    watch = Watch(
        ids,
        c.meta.endpoint_url,
        progress=bool(options.get("progress", True)),
        timeout=options.get("timeout"),
        unit="session",
    )
    missing: list[str] = []
    events: list[dict[str, Any]] = []
    try:
        with watch:
            watch.grow(len(names))
            for chunk in chunks:
                events.extend(_filter_events(lc, group, chunk, filter_text, watch, missing))
                watch.advance(len(chunk))
    except AwsError:
        raise
    except Exception as error:
        translated = translate(error, operation="FilterLogEvents", log_group=group, **ids.fields)
        if translated is None:
            raise
        raise translated from error
    problems = Problems("session")
    for sid in missing:
        problems.add(
            f"has no log stream in {group} (ResourceNotFoundException), so its log is empty", sid
        )
    problems.emit(stacklevel=4)
    frame = log_frame(events, actions=job.actions, **ids.frame_ids)
    # A line's place in its stream, and the banners above it, are not in what the filter
    # returns: said plainly rather than guessed.
    frame["lineIndex"] = -1
    for name in ("section", "phase"):
        frame[name] = frame[name].cat.set_categories([]) if len(frame) else frame[name]
    return frame


def check_pattern(pattern: str, *, regex: bool = True, case: bool = True) -> str:
    """Return ``pattern`` if :func:`grep_logs` can search with it, else raise its error.

    Examples
    --------
    >>> check_pattern("exit(ed)? code")
    'exit(ed)? code'
    >>> check_pattern("a(?=b)")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: The value for `pattern` must be a regular expression RE2 accepts ...
    """
    import pandas as pd

    from ..frames import grep_log_frame

    if not isinstance(pattern, str):
        raise bad_argument("pattern", "be text (a regular expression)", pattern)
    # RE2 compiles a pattern only when there is a line to match: give it one.
    one = pd.DataFrame({"message": pd.Series([""], dtype="string[pyarrow]")})
    grep_log_frame(one, pattern, regex=regex, case=case)
    return pattern


def grep_logs(
    job: Job,
    pattern: str,
    *,
    regex: bool = True,
    case: bool = True,
    server: bool | None = None,
) -> pd.DataFrame:
    """Return the job's log lines that match ``pattern``, with their action, step, task and worker.

    ``annotate_log_lines(grep_log_frame(job.logs, pattern), job.actions, sessions=job.sessions)``
    is the answer; when the job's logs are neither in memory nor all in the cache, the
    search is first done by CloudWatch Logs itself (``FilterLogEvents`` over the job's streams,
    100 at a time, with :func:`filter_pattern`), which sends back only the lines that can
    match: far fewer calls and bytes than reading every stream. The same lines come back
    either way; from the service, ``lineIndex`` is -1 and ``section`` and ``phase`` are
    missing (their place in the stream is not known), and ``eventId`` is set.

    Parameters
    ----------
    job
        A job from :func:`deadline_nb.load_job`.
    pattern
        A regular expression (RE2 syntax, as :func:`deadline_nb.grep_log_frame`), or plain
        text with ``regex=False``.
    regex
        Whether ``pattern`` is a regular expression.
    case
        Whether the match is case-sensitive.
    server
        True: search with ``FilterLogEvents``; False: read the logs (``job.logs``) and search
        them here; None (default): the service when the logs are not at hand. A pattern with
        no plain text to filter by (:func:`filter_pattern` gives None) is searched here.

    Returns
    -------
    pandas.DataFrame
        :func:`deadline_nb.annotate_log_lines` of the matching lines.

    Raises
    ------
    ValueError
        When ``pattern`` is not a regular expression RE2 accepts.
    AccessDeniedError
        When the credentials may not read (or filter) the log group.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm import LocalFarm
    >>> with LocalFarm() as farm:
    ...     j = farm.job_by_name("failing")
    ...     job = dnb.load_job(farm.farm_id, j.queue_id, j.job_id, client=farm.client(),
    ...                        cache=False, progress=False)
    ...     hits = dnb.grep_logs(job, "EDAC")
    >>> hits["workerId"].nunique()
    1
    """
    from ..frames import annotate_log_lines, grep_log_frame

    check_pattern(pattern, regex=regex, case=case)  # before any call
    if server is None:
        server = job._logs is None and not _all_cached(job)
    filter_text = filter_pattern(pattern, regex=regex, case=case) if server else None
    lines = job.logs if filter_text is None else _server_grep(job, filter_text)
    found = grep_log_frame(lines, pattern, regex=regex, case=case)
    return annotate_log_lines(found, job.actions, sessions=job.sessions)
