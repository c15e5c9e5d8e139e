"""The sync engine: bring the cache up to date with a job's session actions in the fewest calls.

The loop one writes first (ListSessions, ListSessionActions per session, GetSessionAction per
action) costs a round trip per action. Here a job's session actions are listed as summaries,
session by session in parallel (or page by page for the whole job, when that is fewer calls),
and each summary that shows something the cache does not know is fetched in full with
``BatchGetSessionAction``, 100 at a time, in parallel, while the listing goes on. Items a batch
reports in its ``errors`` are retried; ``GetSessionAction`` is used only where the batch call is
not available. Throttling is waited out by the client's adaptive retries
(:func:`deadline_nb.client`).

With the cache (:mod:`deadline_nb.cache`), a rerun asks only for what can have changed: one
``GetJob`` for a finished job; for a running one, the sessions that have not ended and the
actions whose summaries moved.

:func:`sync_actions` is the entry point, used by :mod:`.actions` and :mod:`.job`.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING, Any, Final

from ..cache import Cache, Writer, action_state, complete_action
from ..errors import AwsError, NotFoundError, Problems, ServiceError
from .common import Ids, capture_bodies, clean, is_finished, job_token, last_body, pages
from .resources import fetch_job, fetch_sessions
from .watch import Watch

if TYPE_CHECKING:
    from mypy_boto3_deadline import DeadlineCloudClient

logger = logging.getLogger("deadline_nb")

_SESSION_FACTOR = 2  # see sync_actions: per-session listing while it costs at most this many
_BATCH: Final = 100  # the API's limit on identifiers per BatchGet* call
_PAGE: Final = 100  # and on maxResults per List* page
_ITEM_ATTEMPTS: Final = 6  # rounds of retry for items a batch reports in `errors`
_CHUNK: Final = 20_000  # actions per frame when a fetch keeps frames, not dicts
# An error code of BatchGetSessionAction that means "use GetSessionAction instead".
_NO_BATCH: Final = frozenset(
    {"UnknownOperationException", "AccessDeniedException", "InvalidAction", "NotImplemented"}
)
# Item errors that retrying cannot cure.
_ITEM_FINAL: Final = frozenset({"ResourceNotFoundException", "ValidationException"})


class _Sync:
    """One fetch of a job's (or a session's) session actions, pipelined and through the cache.

    Worker threads list and batch-get; they put what they got on ``self.events``; the calling
    thread alone decides what to fetch next, and hands each batch to the cache's writer thread
    (:class:`~deadline_nb.cache.Writer`), which commits it while the fetch goes on.
    """

    def __init__(
        self,
        c: DeadlineCloudClient,
        ids: Ids,
        cache: Cache | None,
        *,
        refresh: bool,
        watch: Watch,
        max_workers: int,
        keep: bool = True,
    ) -> None:
        self.c = c
        self.ids = ids
        self.cache = cache
        self.refresh = refresh
        self.watch = watch
        self.max_workers = max_workers
        self.events: queue.Queue[tuple[str, Any, Any]] = queue.Queue()
        self.fetched: dict[str, dict[str, Any]] = {}
        self.pending: list[str] = []
        self.outstanding = 0
        self.params = ids.params  # computed once: every identifier of every batch has them
        self.use_batch = hasattr(c, "batch_get_session_action")
        if cache is not None:
            capture_bodies(c)
        self.stop = threading.Event()
        self.missing: list[str] = []
        self.writer: Writer | None = None
        # With a cache and keep=False, fetched actions are turned into frames every _CHUNK of
        # them rather than kept as dicts (about 3 KB each: a million would not fit).
        self.chunked = cache is not None and not keep
        self.frames: list[Any] = []
        self.covered: set[str] = set()
        self._pending: list[dict[str, Any]] = []

    # -- worker side: everything here runs in the pool and reports through self.events

    def _run(self, kind: str, work: Callable[[], Any], payload: Any = None) -> None:
        try:
            if self.stop.is_set():
                raise _Stopped
            self.events.put((kind, payload, work()))
        except BaseException as error:
            self.events.put(("error", payload, error))

    def _list_scope(self, session_id: str | None) -> None:
        extra = {"sessionId": session_id} if session_id else {}
        with self.ids.errors("ListSessionActions"):
            for page in pages(
                self.c.list_session_actions,
                "sessionActions",
                **self.ids.params,
                **extra,
                maxResults=_PAGE,
            ):
                if self.stop.is_set():
                    raise _Stopped
                self.events.put(("summaries", session_id, page))

    def _batch(
        self, action_ids: list[str]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], bytes | None]:
        params = self.params
        identifiers = [{**params, "sessionActionId": a} for a in action_ids]
        last_body()  # not a body of an earlier call
        with self.ids.errors("BatchGetSessionAction"):
            response = self.c.batch_get_session_action(identifiers=identifiers)  # type: ignore[arg-type]
        # The parser's lists of plain dicts, used as they are: a copy of each of 100,000 items
        # costs the fetch's one interpreter lock for nothing.
        items: list[dict[str, Any]] = list(response.get("sessionActions", []))  # type: ignore[arg-type]
        errors: list[dict[str, Any]] = list(response.get("errors", []))  # type: ignore[arg-type]
        return items, errors, last_body()

    def _get(self, action_id: str) -> dict[str, Any]:
        with self.ids.errors("GetSessionAction"):
            response = self.c.get_session_action(**self.ids.params, sessionActionId=action_id)
        return clean(response)

    # -- calling thread

    def submit(
        self, pool: ThreadPoolExecutor, kind: str, work: Callable[[], Any], payload: Any
    ) -> None:
        self.outstanding += 1
        pool.submit(self._run, kind, work, payload)

    def send(self, pool: ThreadPoolExecutor, chunk: list[str], attempt: int) -> None:
        """Fetch up to 100 actions in full: one batch call, or one call each without batches."""
        if self.use_batch:
            self.submit(pool, "batch", partial(self._batch, chunk), (chunk, attempt))
        else:
            for action_id in chunk:
                self.submit(pool, "get", partial(self._get, action_id), (action_id, attempt))

    def flush(self, pool: ThreadPoolExecutor, everything: bool) -> None:
        while len(self.pending) >= _BATCH or (everything and self.pending):
            chunk, self.pending = self.pending[:_BATCH], self.pending[_BATCH:]
            self.send(pool, chunk, 0)

    def run(self, scopes: Sequence[str | None], known: Mapping[str, tuple[bool, str]]) -> None:
        """List every scope (a session id, or None for the whole job) and fetch what changed."""
        watch = self.watch
        # Items a batch reported in `errors`, waiting for their next attempt: (when, id, attempt).
        retry: list[tuple[float, str, int]] = []
        seen: set[str] = set()
        listing = len(scopes)
        pool = ThreadPoolExecutor(self.max_workers, "deadline-nb-fetch")
        if self.cache is not None:
            self.writer = Writer(self.cache, *self.ids.key, remember=not self.chunked)
        finished = False
        try:
            for scope in scopes:
                self.submit(pool, "listed", partial(self._list_scope, scope), scope)
            while self.outstanding or retry:
                watch.check()
                now = time.monotonic()
                if retry and not self.outstanding:
                    until_due = max(0.0, min(r[0] for r in retry) - now)
                    time.sleep(_wait(watch, until_due) or 0.0)
                    watch.check()
                    now = time.monotonic()
                due = [r for r in retry if r[0] <= now]
                if due:
                    retry = [r for r in retry if r[0] > now]
                    self._resubmit(pool, due)
                try:
                    kind, payload, result = self.events.get(
                        timeout=_wait(watch, 0.05 if retry else None)
                    )
                except queue.Empty:
                    continue
                if kind == "summaries":
                    fresh = self._changed(result, known, seen)
                    self.pending.extend(fresh)
                    watch.grow(len(result), done=len(result) - len(fresh))
                    self.flush(pool, everything=False)
                    continue  # one page; the listing task goes on
                self.outstanding -= 1
                if kind == "listed":
                    listing -= 1
                elif kind == "batch":
                    items, errors, body = result
                    self._store(items, body)
                    watch.advance(len(items))
                    retry.extend(self._failed(errors, payload[1]))
                elif kind == "get":
                    self._store([result])
                    watch.advance(1)
                else:
                    self._error(payload, result)
                # While listing goes on, only full batches go out: fewer calls.
                self.flush(pool, everything=listing == 0)
            finished = True
        finally:
            self.stop.set()
            # A failed fetch returns now: calls still in flight (on a silent service, say) end
            # by the client's own timeouts, in their threads, and nothing waits for them.
            pool.shutdown(wait=finished, cancel_futures=True)
            self._close_writer(finished)
        if self.missing:
            # The shared way of naming dropped items: one warning, the first few ids by name.
            problems = Problems("session action")
            for action_id in self.missing:
                problems.add("listed but could not be fetched (not found)", action_id)
            problems.emit(stacklevel=5)

    def _close_writer(self, finished: bool) -> None:
        """Store what the writer still has in line; a fetch that failed keeps it too."""
        writer, self.writer = self.writer, None
        if writer is None:
            return
        try:
            writer.close()
        except Exception:
            if finished:
                raise
            # The fetch's own error is the one to raise; this one is only logged.
            logger.warning("the cache could not store the last actions fetched", exc_info=True)

    def _changed(
        self, summaries: list[dict[str, Any]], known: Mapping[str, tuple[bool, str]], seen: set[str]
    ) -> list[str]:
        out = []
        for summary in summaries:
            action_id = summary["sessionActionId"]
            if action_id in seen:
                continue
            seen.add(action_id)
            stored = known.get(action_id)
            if self.refresh or stored is None:
                out.append(action_id)
            elif stored[0]:
                continue  # terminal: it cannot have changed
            elif stored[1] != action_state(summary):
                out.append(action_id)
        return out

    def _resubmit(self, pool: ThreadPoolExecutor, due: list[tuple[float, str, int]]) -> None:
        by_attempt: dict[int, list[str]] = {}
        for _, action_id, attempt in due:
            by_attempt.setdefault(attempt, []).append(action_id)
        for attempt, action_ids in by_attempt.items():
            for start in range(0, len(action_ids), _BATCH):
                self.send(pool, action_ids[start : start + _BATCH], attempt)

    def _failed(self, errors: list[dict[str, Any]], attempt: int) -> list[tuple[float, str, int]]:
        out = []
        for error in errors:
            action_id = error.get("sessionActionId")
            if not isinstance(action_id, str):
                continue
            code = str(error.get("code", ""))
            if code in _ITEM_FINAL:
                self.missing.append(action_id)
                continue
            if attempt + 1 >= _ITEM_ATTEMPTS:
                raise ServiceError(
                    f"BatchGetSessionAction kept failing for {action_id} ({code}: "
                    f"{error.get('message')}) after {_ITEM_ATTEMPTS} attempts.",
                    operation="BatchGetSessionAction",
                    code=code,
                    **self.ids.fields,
                )
            # Exponential backoff with jitter, as botocore does for whole calls.
            wait = min(10.0, 0.1 * 2**attempt) * (0.5 + random.random())
            out.append((time.monotonic() + wait, action_id, attempt + 1))
        return out

    def _error(self, payload: Any, error: BaseException) -> None:
        code = getattr(error, "code", None)
        one = isinstance(payload, tuple) and isinstance(payload[0], str)
        if one and isinstance(error, NotFoundError):  # one GetSessionAction: that action is gone
            self.missing.append(payload[0])
            return
        if (
            isinstance(payload, tuple)
            and isinstance(payload[0], list)
            and isinstance(error, AwsError)
            and error.operation == "BatchGetSessionAction"
            and code in _NO_BATCH
        ):
            # This endpoint or role has no BatchGetSessionAction: one call per action instead.
            if self.use_batch:  # batches already in flight fail the same way: say it once
                logger.info("BatchGetSessionAction unavailable (%s); using GetSessionAction", code)
            self.use_batch = False
            self.pending.extend(payload[0])
            return
        raise error

    def _store(self, items: list[dict[str, Any]], body: bytes | None = None) -> None:
        """Keep fetched actions; ``body``: the BatchGetSessionAction response they came in."""
        if not items:
            return
        complete = []
        params = self.params
        for item in items:
            action_id = item["sessionActionId"]
            full = complete_action(item, params)
            complete.append(full)
            if self.chunked:
                self.covered.add(action_id)
            else:
                self.fetched[action_id] = full
        if self.writer is not None:
            self.writer.put_actions(complete, body)
        if self.chunked:
            self._pending.extend(complete)
            if len(self._pending) >= _CHUNK:
                self.to_frame()

    def to_frame(self) -> None:
        """Turn the actions not yet in a frame into one (``keep=False``)."""
        from ..frames import session_action_frame

        if self._pending:
            self.frames.append(session_action_frame(self._pending, **self.ids.frame_ids))
            self._pending = []

    def partial(self) -> list[dict[str, Any]]:
        """What this fetch had fetched, as dicts, for an error's ``partial``."""
        if not self.chunked or self.cache is None:
            return list(self.fetched.values())
        # Only in the cache now (the writer has stored what was in line).
        return [
            a for a in self.cache.actions(*self.ids.key) if a["sessionActionId"] in self.covered
        ]


def _wait(watch: Watch, wait: float | None) -> float | None:
    """How long to wait for the workers: ``wait``, cut to the time left before the deadline."""
    left = watch.remaining()
    if left is None:
        return wait
    return left if wait is None else min(wait, left)


class _Stopped(Exception):
    """Raised in a worker when the fetch has already failed elsewhere."""


@dataclasses.dataclass
class Synced:
    """What :func:`sync_actions` did: the actions it fetched in full, and what it read.

    With ``keep=False`` (and a cache), ``fetched`` is empty: the actions fetched are in
    ``frames`` (session-action frames, in the order fetched; an action fetched twice is in
    both, the later one wins), and their ids in ``covered``.
    """

    fetched: dict[str, dict[str, Any]]
    job: dict[str, Any] | None = None
    sessions: list[dict[str, Any]] | None = None
    from_cache: bool = False
    seq_before: int = 0  # the cache's write number before this fetch wrote anything
    frames: list[Any] = dataclasses.field(default_factory=list)
    covered: set[str] = dataclasses.field(default_factory=set)


def sync_actions(
    c: DeadlineCloudClient,
    ids: Ids,
    cache: Cache | None,
    *,
    session_id: str | None,
    refresh: bool,
    watch: Watch,
    max_workers: int,
    on_job: Callable[[dict[str, Any]], None] | None = None,
    keep: bool = True,
) -> Synced:
    """Bring the cache up to date with the service (or, without one, fetch everything).

    ``watch`` shows the progress and keeps the deadline; past it, the fetch raises its
    :class:`~deadline_nb.errors.ServiceError`, with ``.partial`` as for any other failure.
    ``on_job`` is called with the GetJob answer as soon as it comes (a whole job's sync), so
    that the caller can start what needs it while the actions come. ``keep=False``: the
    caller wants a frame, not dicts (see :class:`Synced`).
    """
    seq_before = cache.seq if cache is not None else 0
    sync = _Sync(c, ids, cache, refresh=refresh, watch=watch, max_workers=max_workers, keep=keep)
    try:
        if session_id is not None:
            known = cache.action_states(*ids.key) if cache is not None else {}
            synced = _sync_session(c, ids, cache, sync, session_id, known, refresh)
            synced.seq_before = seq_before
            return synced
        job = fetch_job(*ids.key, client=c)
        watch.describe(str(job.get("name") or ids.job_id))
        watch.check()
        if on_job is not None:
            on_job(job)
        token = job_token(job)
        if cache is not None:
            cache.put("job", *ids.key, [job], "jobId")
            unchanged = cache.listing(*ids.key) == token
            # A finished job, completely listed at this state, every action ended: nothing can
            # have changed. Checked before reading the actions' states (a million rows).
            if not refresh and unchanged and is_finished(job) and cache.unended(*ids.key) == 0:
                return Synced({}, job, None, from_cache=True, seq_before=seq_before)
        known = cache.action_states(*ids.key) if cache is not None else {}
        sessions = fetch_sessions(*ids.key, client=c)
        watch.check()
        if cache is not None:
            cache.put("session", *ids.key, sessions, "sessionId")
        done = cache.listings(*ids.key) if cache is not None and not refresh else {}
        to_list = [s["sessionId"] for s in sessions if done.get(s["sessionId"]) != "ended"]
        # Session by session runs in parallel but costs a call per session; page by page for
        # the whole job costs a call per 100 actions, one after another. Take the first unless
        # it would make many more calls.
        counts = job.get("taskRunStatusCounts") or {}
        estimate = max(len(known), int(sum(counts.values()) * 1.2))
        job_pages = -(-estimate // _PAGE) + 1
        per_session = len(to_list) <= _SESSION_FACTOR * job_pages + 2 * max_workers
        scopes: list[str | None] = list(to_list) if per_session else [None]
        if scopes:
            sync.run(scopes, known)
        if cache is not None and not sync.missing:
            ended = [s["sessionId"] for s in sessions if s.get("lifecycleStatus") == "ENDED"]
            cache.set_listings(*ids.key, dict.fromkeys(ended, "ended"))
            cache.set_listing(*ids.key, "", token if is_finished(job) else None)
        sync.to_frame()
        return Synced(
            sync.fetched,
            job,
            sessions,
            seq_before=seq_before,
            frames=sync.frames,
            covered=sync.covered,
        )
    except AwsError as error:
        error.partial = sync.partial()
        raise


def _sync_session(
    c: DeadlineCloudClient,
    ids: Ids,
    cache: Cache | None,
    sync: _Sync,
    session_id: str,
    known: Mapping[str, tuple[bool, str]],
    refresh: bool,
) -> Synced:
    if cache is not None and not refresh and cache.listing(*ids.key, session_id) == "ended":
        return Synced({}, from_cache=True)
    with ids.errors("GetSession"):
        session = clean(c.get_session(**ids.params, sessionId=session_id))
    sync.watch.check()
    sync.run([session_id], known)
    if cache is not None and not sync.missing and session.get("lifecycleStatus") == "ENDED":
        cache.set_listing(*ids.key, session_id, "ended")
    return Synced(sync.fetched)
