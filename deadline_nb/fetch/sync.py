"""Fetch whole jobs from Deadline Cloud in the fewest calls, in parallel, through the cache.

The loop one writes first (ListSessions, ListSessionActions per session, GetSessionAction per
action) costs a round trip per action. Here a job's session actions are listed as summaries,
session by session in parallel (or page by page for the whole job, when that is fewer calls),
and each summary that shows something the cache does not know is fetched in full with
``BatchGetSessionAction``, 100 at a time, in parallel, while the listing goes on. Items a batch
reports in its ``errors`` are retried; ``GetSessionAction`` is used only where the batch call is
not available. Throttling is waited out by the client's adaptive retries (:func:`client`).

With the cache (:mod:`deadline_nb.cache`), a rerun asks only for what can have changed: one
``GetJob`` for a finished job; for a running one, the sessions that have not ended and the
actions whose summaries moved.

Every function here takes ``client=None, boto3_session=None`` last: a client to use, or a
session to make one from (see :func:`deadline_nb.client`). The library only reads: it calls
``Get*``, ``List*``, ``BatchGet*`` and ``Search*`` operations, nothing else.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import queue
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING, Any, Final, TypeAlias

from . import schema
from .aws import DEFAULT_WORKERS, aws_errors
from .aws import client as make_client
from .cache import Cache, action_state
from .errors import AwsError, NotFoundError, Problems, ServiceError

if TYPE_CHECKING:
    import boto3
    import pandas as pd
    from mypy_boto3_deadline import DeadlineCloudClient

__all__ = [
    "Job",
    "fetch_job",
    "fetch_session_action_frame",
    "fetch_session_actions",
    "fetch_sessions",
    "fetch_steps",
    "fetch_tasks",
    "list_farms",
    "list_jobs",
    "list_queues",
    "load_job",
]

logger = logging.getLogger("deadline_nb")

_SESSION_FACTOR = 2  # see _sync_actions: per-session listing while it costs at most this many
_BATCH: Final = 100  # the API's limit on identifiers per BatchGet* call
_PAGE: Final = 100  # and on maxResults per List* page
_ITEM_ATTEMPTS: Final = 6  # rounds of retry for items a batch reports in `errors`
# An error code of BatchGetSessionAction that means "use GetSessionAction instead".
_NO_BATCH: Final = frozenset(
    {"UnknownOperationException", "AccessDeniedException", "InvalidAction", "NotImplemented"}
)
# Item errors that retrying cannot cure.
_ITEM_FINAL: Final = frozenset({"ResourceNotFoundException", "ValidationException"})

#: What ``cache=`` takes: True (the default file), False (none), a file path, or a Cache.
CacheArg: TypeAlias = "bool | str | os.PathLike[str] | Cache"


# ---------------------------------------------------------------------------------------------
# plumbing


def _client(client: Any, boto3_session: boto3.Session | None) -> DeadlineCloudClient:
    if client is not None:
        if boto3_session is not None:
            raise ValueError("Pass either `client` or `boto3_session`, not both.")
        made: DeadlineCloudClient = client
        return made
    return make_client(boto3_session)


class _CacheHandle:
    """Open the cache the caller asked for; close it afterwards only if we opened it."""

    def __init__(self, cache: CacheArg) -> None:
        if cache is False:
            self.cache: Cache | None = None
            self._own = False
        elif isinstance(cache, Cache):
            self.cache = cache
            self._own = False
        else:
            self.cache = Cache(None if cache is True else cache)
            self._own = True

    def __enter__(self) -> Cache | None:
        return self.cache

    def __exit__(self, *exc_info: object) -> None:
        if self._own and self.cache is not None:
            self.cache.close()


def _clean(response: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def _pages(
    call: Callable[..., Mapping[str, Any]], key: str, **params: Any
) -> Iterator[list[dict[str, Any]]]:
    """Yield each page's items of a List* operation, following nextToken."""
    token: str | None = None
    while True:
        page = call(**params, **({"nextToken": token} if token else {}))
        yield list(page.get(key, []))
        token = page.get("nextToken")
        if not token:
            return


def _list_all(
    call: Callable[..., Mapping[str, Any]],
    key: str,
    operation: str,
    ids: Mapping[str, str | None],
    **params: Any,
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    with aws_errors(operation, **ids):
        for page in _pages(call, key, **params):
            out.extend(page)
    return out


def _action_key(action_id: str) -> tuple[str, int]:
    # "sessionaction-<32 hex>-<n>": group by session, then the integer n (never the string).
    head, _, index = action_id.rpartition("-")
    return head, int(index) if index.isdigit() else -1


def _ordered(actions: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(actions, key=lambda a: _action_key(a["sessionActionId"]))


def _progress_bar(progress: bool, description: str) -> Any:
    from tqdm.auto import tqdm

    # `delay`: a fetch that is over in a moment (a warm cache) shows no bar at all.
    return tqdm(
        total=0, unit="action", desc=description, disable=not progress, delay=0.5, leave=False
    )


# ---------------------------------------------------------------------------------------------
# farms, queues, jobs: for pickers


def list_farms(
    *, client: Any = None, boto3_session: boto3.Session | None = None
) -> list[dict[str, Any]]:
    """Return the farms the caller can see, by display name.

    Parameters
    ----------
    client, boto3_session
        A ``deadline`` client, or a session to make one from (default: :func:`client`).

    Returns
    -------
    list of dict
        ListFarms summaries: ``farmId``, ``displayName``, ...

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm import LocalFarm
    >>> with LocalFarm() as farm:
    ...     [f["displayName"] for f in dnb.list_farms(client=farm.client())]
    ['Studio Farm']
    """
    c = _client(client, boto3_session)
    farms = _list_all(c.list_farms, "farms", "ListFarms", {})
    return sorted(farms, key=lambda f: (str(f.get("displayName", "")).lower(), f["farmId"]))


def list_queues(
    farm_id: str, *, client: Any = None, boto3_session: boto3.Session | None = None
) -> list[dict[str, Any]]:
    """Return a farm's queues, by display name.

    Parameters
    ----------
    farm_id
        The farm.
    client, boto3_session
        As in :func:`list_farms`.

    Returns
    -------
    list of dict
        ListQueues summaries: ``queueId``, ``displayName``, ``status``, ...

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm import LocalFarm
    >>> with LocalFarm() as farm:
    ...     [q["displayName"] for q in dnb.list_queues(farm.farm_id, client=farm.client())]
    ['Comp', 'FX', 'Lighting']
    """
    c = _client(client, boto3_session)
    queues = _list_all(c.list_queues, "queues", "ListQueues", {"farm_id": farm_id}, farmId=farm_id)
    return sorted(queues, key=lambda q: (str(q.get("displayName", "")).lower(), q["queueId"]))


def list_jobs(
    farm_id: str,
    queue_id: str,
    *,
    client: Any = None,
    boto3_session: boto3.Session | None = None,
) -> list[dict[str, Any]]:
    """Return a queue's jobs, newest first.

    Parameters
    ----------
    farm_id, queue_id
        The queue.
    client, boto3_session
        As in :func:`list_farms`.

    Returns
    -------
    list of dict
        ListJobs summaries (``jobId``, ``name``, ``taskRunStatus``, ``createdBy``,
        ``createdAt``, ...), by ``createdAt``, newest first.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm import LocalFarm
    >>> with LocalFarm() as farm:
    ...     queue = farm.job_by_name("render").queue_id
    ...     jobs = dnb.list_jobs(farm.farm_id, queue, client=farm.client())
    >>> jobs[0]["createdAt"] >= jobs[-1]["createdAt"]
    True
    """
    c = _client(client, boto3_session)
    jobs = _list_all(
        c.list_jobs,
        "jobs",
        "ListJobs",
        {"farm_id": farm_id, "queue_id": queue_id},
        farmId=farm_id,
        queueId=queue_id,
    )
    jobs.sort(key=lambda j: j["jobId"])
    jobs.sort(key=lambda j: j.get("createdAt") or 0, reverse=True)
    return jobs


# ---------------------------------------------------------------------------------------------
# one job


@dataclasses.dataclass
class _Ids:
    farm_id: str
    queue_id: str
    job_id: str

    def errors(self, operation: str) -> Any:
        return aws_errors(
            operation, farm_id=self.farm_id, queue_id=self.queue_id, job_id=self.job_id
        )

    @property
    def params(self) -> dict[str, str]:
        return {"farmId": self.farm_id, "queueId": self.queue_id, "jobId": self.job_id}

    @property
    def key(self) -> tuple[str, str, str]:
        return self.farm_id, self.queue_id, self.job_id


def _job_token(job: Mapping[str, Any]) -> str:
    """What must stay the same for a finished job's stored listing to remain complete."""
    counts = job.get("taskRunStatusCounts") or {}
    updated = job.get("updatedAt")
    return json.dumps(
        [
            str(updated) if updated is not None else None,
            job.get("taskRunStatus"),
            job.get("targetTaskRunStatus"),
            sorted((str(k), int(v)) for k, v in counts.items()),
        ]
    )


def _finished(job: Mapping[str, Any]) -> bool:
    """Whether no task of the job will run again unless someone requeues it."""
    counts = job.get("taskRunStatusCounts")
    if not isinstance(counts, Mapping) or job.get("lifecycleStatus") in (
        "CREATE_IN_PROGRESS",
        "UPLOAD_IN_PROGRESS",
        "UPDATE_IN_PROGRESS",
    ):
        return False
    return all(status in schema.FINISHED_TASK_RUN_STATUSES for status, n in counts.items() if n)


def fetch_job(
    farm_id: str,
    queue_id: str,
    job_id: str,
    *,
    client: Any = None,
    boto3_session: boto3.Session | None = None,
) -> dict[str, Any]:
    """Return a job (GetJob), with ``farmId`` and ``queueId`` added.

    Parameters
    ----------
    farm_id, queue_id, job_id
        The job.
    client, boto3_session
        As in :func:`list_farms`.

    Returns
    -------
    dict
        The GetJob response, without ``ResponseMetadata``.

    Raises
    ------
    NotFoundError
        When there is no such job.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm import LocalFarm
    >>> with LocalFarm() as farm:
    ...     j = farm.job_by_name("failing")
    ...     dnb.fetch_job(farm.farm_id, j.queue_id, j.job_id, client=farm.client())["name"]
    'sq030_crowd_v007_failing'
    """
    c = _client(client, boto3_session)
    ids = _Ids(farm_id, queue_id, job_id)
    with ids.errors("GetJob"):
        job = _clean(c.get_job(**ids.params))
    return {"farmId": farm_id, "queueId": queue_id, **job}


def fetch_steps(
    farm_id: str,
    queue_id: str,
    job_id: str,
    *,
    client: Any = None,
    boto3_session: boto3.Session | None = None,
) -> list[dict[str, Any]]:
    """Return a job's steps (ListSteps summaries).

    Parameters
    ----------
    farm_id, queue_id, job_id
        The job.
    client, boto3_session
        As in :func:`list_farms`.

    Returns
    -------
    list of dict

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm import LocalFarm
    >>> with LocalFarm() as farm:
    ...     j = farm.job_by_name("simulation")
    ...     steps = dnb.fetch_steps(farm.farm_id, j.queue_id, j.job_id, client=farm.client())
    >>> [s["name"] for s in steps]
    ['Simulate', 'Mesh']
    """
    c = _client(client, boto3_session)
    ids = _Ids(farm_id, queue_id, job_id)
    return _list_all(c.list_steps, "steps", "ListSteps", vars(ids), **ids.params)


def fetch_tasks(
    farm_id: str,
    queue_id: str,
    job_id: str,
    *,
    step_id: str | None = None,
    client: Any = None,
    boto3_session: boto3.Session | None = None,
    max_workers: int = DEFAULT_WORKERS,
) -> list[dict[str, Any]]:
    """Return a job's (or one step's) tasks, each with its ``stepId``, steps in parallel.

    Parameters
    ----------
    farm_id, queue_id, job_id
        The job.
    step_id
        Only this step's tasks.
    client, boto3_session
        As in :func:`list_farms`.
    max_workers
        Steps listed at once.

    Returns
    -------
    list of dict
        ListTasks summaries with ``stepId`` added (the API's do not carry it).

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm import LocalFarm
    >>> with LocalFarm() as farm:
    ...     j = farm.job_by_name("simulation")
    ...     tasks = dnb.fetch_tasks(farm.farm_id, j.queue_id, j.job_id, client=farm.client())
    >>> len(tasks), tasks[0]["parameters"]["Frame"]
    (36, {'chunkInt': '1-10'})
    """
    c = _client(client, boto3_session)
    ids = _Ids(farm_id, queue_id, job_id)
    step_ids = (
        [step_id]
        if step_id is not None
        else [s["stepId"] for s in fetch_steps(farm_id, queue_id, job_id, client=c)]
    )

    def one(step: str) -> list[dict[str, Any]]:
        tasks = _list_all(c.list_tasks, "tasks", "ListTasks", vars(ids), **ids.params, stepId=step)
        return [{**t, "stepId": step} for t in tasks]

    if len(step_ids) <= 1:
        return [t for step in step_ids for t in one(step)]
    with ThreadPoolExecutor(min(max_workers, len(step_ids)), "deadline-nb-fetch") as pool:
        return [t for tasks in pool.map(one, step_ids) for t in tasks]


def fetch_sessions(
    farm_id: str,
    queue_id: str,
    job_id: str,
    *,
    client: Any = None,
    boto3_session: boto3.Session | None = None,
) -> list[dict[str, Any]]:
    """Return a job's sessions (ListSessions summaries: worker, fleet, times, lifecycle).

    Parameters
    ----------
    farm_id, queue_id, job_id
        The job.
    client, boto3_session
        As in :func:`list_farms`.

    Returns
    -------
    list of dict

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm import LocalFarm
    >>> with LocalFarm() as farm:
    ...     j = farm.job_by_name("render")
    ...     sessions = dnb.fetch_sessions(farm.farm_id, j.queue_id, j.job_id, client=farm.client())
    >>> all(s["workerId"].startswith("worker-") for s in sessions)
    True
    """
    c = _client(client, boto3_session)
    ids = _Ids(farm_id, queue_id, job_id)
    return _list_all(c.list_sessions, "sessions", "ListSessions", vars(ids), **ids.params)


# ---------------------------------------------------------------------------------------------
# session actions


class _Sync:
    """One fetch of a job's (or a session's) session actions, pipelined and through the cache.

    Worker threads list and batch-get; they put what they got on ``self.events``; the calling
    thread alone writes to the cache and decides what to fetch next, so the cache needs no
    locking of its own and every batch is committed the moment it arrives.
    """

    def __init__(
        self,
        c: DeadlineCloudClient,
        ids: _Ids,
        cache: Cache | None,
        *,
        refresh: bool,
        progress: bool,
        max_workers: int,
        label: str = "",
    ) -> None:
        self.label = label or ids.job_id
        self.c = c
        self.ids = ids
        self.cache = cache
        self.refresh = refresh
        self.progress = progress
        self.max_workers = max_workers
        self.events: queue.Queue[tuple[str, Any, Any]] = queue.Queue()
        self.fetched: dict[str, dict[str, Any]] = {}
        self.pending: list[str] = []
        self.outstanding = 0
        self.use_batch = hasattr(c, "batch_get_session_action")
        self.stop = threading.Event()
        self.missing: list[str] = []

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
            for page in _pages(
                self.c.list_session_actions,
                "sessionActions",
                **self.ids.params,
                **extra,
                maxResults=_PAGE,
            ):
                if self.stop.is_set():
                    raise _Stopped
                self.events.put(("summaries", session_id, page))

    def _batch(self, action_ids: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        identifiers = [{**self.ids.params, "sessionActionId": a} for a in action_ids]
        with self.ids.errors("BatchGetSessionAction"):
            response = self.c.batch_get_session_action(identifiers=identifiers)  # type: ignore[arg-type]
        items: list[dict[str, Any]] = [dict(i) for i in response.get("sessionActions", [])]
        errors: list[dict[str, Any]] = [dict(e) for e in response.get("errors", [])]
        return items, errors

    def _get(self, action_id: str) -> dict[str, Any]:
        with self.ids.errors("GetSessionAction"):
            response = self.c.get_session_action(**self.ids.params, sessionActionId=action_id)
        return _clean(response)

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
        bar = _progress_bar(self.progress, self.label)
        # Items a batch reported in `errors`, waiting for their next attempt: (when, id, attempt).
        retry: list[tuple[float, str, int]] = []
        seen: set[str] = set()
        listing = len(scopes)
        try:
            with ThreadPoolExecutor(self.max_workers, "deadline-nb-fetch") as pool:
                try:
                    for scope in scopes:
                        self.submit(pool, "listed", partial(self._list_scope, scope), scope)
                    while self.outstanding or retry:
                        now = time.monotonic()
                        if retry and not self.outstanding:
                            time.sleep(max(0.0, min(r[0] for r in retry) - now))
                            now = time.monotonic()
                        due = [r for r in retry if r[0] <= now]
                        if due:
                            retry = [r for r in retry if r[0] > now]
                            self._resubmit(pool, due)
                        try:
                            kind, payload, result = self.events.get(timeout=0.05 if retry else None)
                        except queue.Empty:
                            continue
                        if kind == "summaries":
                            fresh = self._changed(result, known, seen)
                            self.pending.extend(fresh)
                            bar.total += len(result)
                            bar.update(len(result) - len(fresh))
                            self.flush(pool, everything=False)
                            continue  # one page; the listing task goes on
                        self.outstanding -= 1
                        if kind == "listed":
                            listing -= 1
                        elif kind == "batch":
                            items, errors = result
                            self._store(items)
                            bar.update(len(items))
                            retry.extend(self._failed(errors, payload[1]))
                        elif kind == "get":
                            self._store([result])
                            bar.update(1)
                        else:
                            self._error(payload, result)
                        # While listing goes on, only full batches go out: fewer calls.
                        self.flush(pool, everything=listing == 0)
                finally:
                    self.stop.set()
        finally:
            bar.close()
        if self.missing:
            # The shared way of naming dropped items: one warning, the first few ids by name.
            problems = Problems("session action")
            for action_id in self.missing:
                problems.add("listed but could not be fetched (not found)", action_id)
            problems.emit(stacklevel=5)

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
                    **vars(self.ids),
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

    def _store(self, items: list[dict[str, Any]]) -> None:
        if not items:
            return
        complete = []
        for item in items:
            action_id = item["sessionActionId"]
            full = {
                **self.ids.params,
                "sessionId": item.get("sessionId") or schema.session_of(action_id),
                **item,
            }
            complete.append(full)
            self.fetched[action_id] = full
        if self.cache is not None:
            self.cache.put_actions(*self.ids.key, complete)


class _Stopped(Exception):
    """Raised in a worker when the fetch has already failed elsewhere."""


@dataclasses.dataclass
class _Synced:
    fetched: dict[str, dict[str, Any]]
    job: dict[str, Any] | None = None
    sessions: list[dict[str, Any]] | None = None
    from_cache: bool = False
    seq_before: int = 0  # the cache's write number before this fetch wrote anything


def _resolve_ids(
    farm_id: str | None, queue_id: str | None, job_id: str | None, *, need_job: bool = True
) -> _Ids:
    """Fill ids the caller left out from the ``deadline`` config; say which one is missing."""
    from .aws import config_defaults

    if farm_id is None or queue_id is None or (need_job and job_id is None):
        defaults = config_defaults()
        farm_id = farm_id or defaults["farm_id"]
        queue_id = queue_id or defaults["queue_id"]
        job_id = job_id or defaults["job_id"]
    for name, value in (("farm_id", farm_id), ("queue_id", queue_id), ("job_id", job_id)):
        if not value and (need_job or name != "job_id"):
            raise ValueError(
                f"No {name} was given and the deadline config sets none: pass {name}=..., "
                f"or set one with `deadline config set defaults.{name} ...`."
            )
    return _Ids(str(farm_id), str(queue_id), str(job_id or ""))


def _sync_actions(
    c: DeadlineCloudClient,
    ids: _Ids,
    cache: Cache | None,
    *,
    session_id: str | None,
    refresh: bool,
    progress: bool,
    max_workers: int,
) -> _Synced:
    """Bring the cache up to date with the service (or, without one, fetch everything)."""
    known = cache.action_states(*ids.key) if cache is not None else {}
    seq_before = cache.seq if cache is not None else 0
    sync = _Sync(c, ids, cache, refresh=refresh, progress=progress, max_workers=max_workers)
    try:
        if session_id is not None:
            synced = _sync_session(c, ids, cache, sync, session_id, known, refresh)
            synced.seq_before = seq_before
            return synced
        job = fetch_job(*ids.key, client=c)
        sync.label = str(job.get("name") or ids.job_id)
        token = _job_token(job)
        if cache is not None:
            cache.put("job", *ids.key, [job], "jobId")
            unchanged = cache.listing(*ids.key) == token
            if not refresh and unchanged and _finished(job) and all(t for t, _ in known.values()):
                return _Synced({}, job, None, from_cache=True, seq_before=seq_before)
        sessions = fetch_sessions(*ids.key, client=c)
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
            cache.set_listing(*ids.key, "", token if _finished(job) else None)
        return _Synced(sync.fetched, job, sessions, seq_before=seq_before)
    except AwsError as error:
        error.partial = list(sync.fetched.values())
        raise


def _sync_session(
    c: DeadlineCloudClient,
    ids: _Ids,
    cache: Cache | None,
    sync: _Sync,
    session_id: str,
    known: Mapping[str, tuple[bool, str]],
    refresh: bool,
) -> _Synced:
    if cache is not None and not refresh and cache.listing(*ids.key, session_id) == "ended":
        return _Synced({}, from_cache=True)
    with ids.errors("GetSession"):
        session = _clean(c.get_session(**ids.params, sessionId=session_id))
    sync.run([session_id], known)
    if cache is not None and not sync.missing and session.get("lifecycleStatus") == "ENDED":
        cache.set_listing(*ids.key, session_id, "ended")
    return _Synced(sync.fetched)


def fetch_session_actions(
    farm_id: str | None = None,
    queue_id: str | None = None,
    job_id: str | None = None,
    *,
    session_id: str | None = None,
    cache: CacheArg = True,
    refresh: bool = False,
    progress: bool = True,
    max_workers: int = DEFAULT_WORKERS,
    client: Any = None,
    boto3_session: boto3.Session | None = None,
) -> list[dict[str, Any]]:
    """Return every session action of a job (or of one session), with all their fields.

    Parameters
    ----------
    farm_id, queue_id, job_id
        The job. Default: ``defaults.farm_id`` and so on from the ``deadline`` config.
    session_id
        Only this session's actions.
    cache
        True (default) for the cache at :func:`deadline_nb.cache.default_path`, a path for
        another file, a :class:`~deadline_nb.cache.Cache`, or False for none.
    refresh
        Fetch every action again, even those the cache says cannot have changed.
    progress
        Show a progress bar (``tqdm.auto``) when the fetch takes more than a moment.
    max_workers
        Calls in flight at once.
    client, boto3_session
        A ``deadline`` client, or a session to make one from (default: :func:`client`).

    Returns
    -------
    list of dict
        GetSessionAction fields (exit code, progress message, acquired limits, manifests...)
        plus ``farmId``, ``queueId``, ``jobId`` and ``sessionId``, ordered by session and
        then by the action's position in it. Timestamps are aware datetimes.

    Raises
    ------
    AccessDeniedError, CredentialsError, NoRegionError, NotFoundError, ServiceError
        One sentence each; ``error.partial`` holds what was fetched before the failure (and
        the cache keeps it: the rerun resumes).

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm import LocalFarm
    >>> with LocalFarm() as farm:
    ...     j = farm.job_by_name("failing")
    ...     actions = dnb.fetch_session_actions(
    ...         farm.farm_id, j.queue_id, j.job_id, client=farm.client(), cache=False)
    >>> len(actions) == len(farm.model.session_actions(j.job_id))
    True
    """
    c = _client(client, boto3_session)
    ids = _resolve_ids(farm_id, queue_id, job_id)
    with _CacheHandle(cache) as store:
        synced = _sync_actions(
            c,
            ids,
            store,
            session_id=session_id,
            refresh=refresh,
            progress=progress,
            max_workers=max_workers,
        )
        if store is None:
            return _ordered(synced.fetched.values())
        if session_id is None and synced.fetched:
            # Keep the stored frame current while the fetched actions are in memory, so that
            # a later frame of this job (load_job, a rerun) need not decode them again.
            _action_frame(ids, store, synced)
        stored = store.actions(*ids.key, session_id=session_id, exclude=synced.fetched)
        return _ordered([*stored, *synced.fetched.values()])


def fetch_session_action_frame(
    farm_id: str | None = None,
    queue_id: str | None = None,
    job_id: str | None = None,
    *,
    cache: CacheArg = True,
    refresh: bool = False,
    progress: bool = True,
    max_workers: int = DEFAULT_WORKERS,
    client: Any = None,
    boto3_session: boto3.Session | None = None,
) -> pd.DataFrame:
    """Return a job's session actions as a frame: :func:`fetch_session_actions`, then the frame.

    With the cache, the frame itself is kept too (as Parquet), so a rerun does not rebuild it
    from a million responses: only the actions fetched since are converted and merged.

    Parameters
    ----------
    farm_id, queue_id, job_id, cache, refresh, progress, max_workers, client, boto3_session
        As in :func:`fetch_session_actions`.

    Returns
    -------
    pandas.DataFrame
        As :func:`deadline_nb.session_action_frame`, ordered by session and action index.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm import LocalFarm
    >>> with LocalFarm() as farm:
    ...     j = farm.job_by_name("failing")
    ...     df = dnb.fetch_session_action_frame(
    ...         farm.farm_id, j.queue_id, j.job_id, client=farm.client(), cache=False)
    >>> int((df["processExitCode"] == 137).sum()) > 0
    True
    """
    c = _client(client, boto3_session)
    ids = _resolve_ids(farm_id, queue_id, job_id)
    with _CacheHandle(cache) as store:
        synced = _sync_actions(
            c,
            ids,
            store,
            session_id=None,
            refresh=refresh,
            progress=progress,
            max_workers=max_workers,
        )
        return _action_frame(ids, store, synced)


def _action_frame(ids: _Ids, store: Cache | None, synced: _Synced) -> pd.DataFrame:
    """The job's session-action frame: the stored frame, merged with what changed since."""
    from .frames import concat_frames, session_action_frame, sort_actions

    fetched = list(synced.fetched.values())
    if store is None:
        return sort_actions(session_action_frame(fetched, **_frame_ids(ids)))
    seq = store.seq
    kept = store.frame(*ids.key)
    if kept is not None and kept[0] == seq:
        return kept[1]
    if kept is None:
        if fetched and len(fetched) == store.count("action", *ids.key):
            # All of the job's actions are in memory (a first fetch): no need to decode them.
            frame = session_action_frame(fetched, **_frame_ids(ids))
        else:
            frame = session_action_frame(store.actions(*ids.key), **_frame_ids(ids))
    else:
        kept_seq, frame = kept
        # What was written since the stored frame: this fetch's actions, already in memory,
        # unless another process (another notebook) wrote too.
        newer = (
            fetched if kept_seq == synced.seq_before else store.actions_since(*ids.key, kept_seq)
        )
        if newer:
            replaced = frame["sessionActionId"].isin([a["sessionActionId"] for a in newer])
            frame = concat_frames(
                [frame[~replaced.to_numpy()], session_action_frame(newer, **_frame_ids(ids))]
            )
    frame = sort_actions(frame)
    store.put_frame(*ids.key, seq, frame)
    return frame


def _frame_ids(ids: _Ids) -> dict[str, str]:
    return {"farm_id": ids.farm_id, "queue_id": ids.queue_id, "job_id": ids.job_id}


# ---------------------------------------------------------------------------------------------
# a whole job, as frames


@dataclasses.dataclass
class Job:
    """A job and its steps, tasks, sessions and session actions, as frames.

    Attributes
    ----------
    job
        The GetJob response (with ``farmId`` and ``queueId``).
    steps
        :func:`deadline_nb.step_frame` of the job's steps.
    tasks
        :func:`deadline_nb.task_frame` of its tasks, with ``param.<Name>`` columns.
    sessions
        :func:`deadline_nb.session_frame` of its sessions.
    actions
        :func:`deadline_nb.session_action_frame` of its session actions, joined with the step
        names and the sessions' workers and fleets (:func:`deadline_nb.job_action_frame`).
    snapshots
        Progress snapshots the cache kept (columns of ``schema.SNAPSHOT_COLUMNS``); empty
        without the cache.
    """

    job: dict[str, Any]
    steps: pd.DataFrame
    tasks: pd.DataFrame
    sessions: pd.DataFrame
    actions: pd.DataFrame
    snapshots: pd.DataFrame
    _options: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False)

    @property
    def farm_id(self) -> str:
        """The farm's id."""
        return str(self.job["farmId"])

    @property
    def queue_id(self) -> str:
        """The queue's id."""
        return str(self.job["queueId"])

    @property
    def job_id(self) -> str:
        """The job's id."""
        return str(self.job["jobId"])

    @property
    def name(self) -> str:
        """The job's name."""
        return str(self.job.get("name", self.job_id))

    @property
    def finished(self) -> bool:
        """Whether no task will run again unless someone requeues the job."""
        return _finished(self.job)

    def refresh(self, **options: Any) -> Job:
        """Load the job again, fetching only what changed (through the cache).

        Parameters
        ----------
        **options
            Options of :func:`load_job` to change, such as ``progress=False``.

        Returns
        -------
        Job
            A new object; this one is unchanged.

        Examples
        --------
        >>> import deadline_nb as dnb
        >>> from deadline_nb.localfarm import LocalFarm
        >>> with LocalFarm() as farm:
        ...     j = farm.job_by_name("running")
        ...     job = dnb.load_job(farm.farm_id, j.queue_id, j.job_id,
        ...                        client=farm.client(), cache=False, progress=False)
        ...     later = job.refresh()
        >>> later.job_id == job.job_id
        True
        """
        return load_job(self.farm_id, self.queue_id, self.job_id, **{**self._options, **options})

    def _repr_html_(self) -> str:
        # A notebook shows this when a cell ends with `job`: who, what, how it went.
        import html

        actions = self.actions
        failed = int((actions["status"] == "FAILED").sum()) if len(actions) else 0
        rows = [
            ("job", f"{self.name} ({self.job_id})"),
            ("status", str(self.job.get("taskRunStatus", "?"))),
            ("submitted by", str(self.job.get("createdBy", "?"))),
            (
                "steps / tasks / sessions",
                f"{len(self.steps)} / {len(self.tasks)} / {len(self.sessions)}",
            ),
            ("session actions", f"{len(actions)} ({failed} failed)"),
        ]
        cells = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td style='text-align:left'>{html.escape(v)}</td></tr>"
            for k, v in rows
        )
        return f"<table>{cells}</table>"

    def __repr__(self) -> str:
        status = self.job.get("taskRunStatus", "?")
        return (
            f"<Job {self.name!r} ({self.job_id}) {status}: {len(self.steps)} steps, "
            f"{len(self.tasks)} tasks, {len(self.sessions)} sessions, "
            f"{len(self.actions)} session actions>"
        )


def load_job(
    farm_id: str | None = None,
    queue_id: str | None = None,
    job_id: str | None = None,
    *,
    cache: CacheArg = True,
    refresh: bool = False,
    progress: bool = True,
    max_workers: int = DEFAULT_WORKERS,
    client: Any = None,
    boto3_session: boto3.Session | None = None,
) -> Job:
    """Fetch a job with its steps, tasks, sessions and session actions, as frames.

    Parameters
    ----------
    farm_id, queue_id, job_id
        The job. Default: ``defaults.farm_id`` and so on from the ``deadline`` config.
    cache, refresh, progress, max_workers, client, boto3_session
        As in :func:`fetch_session_actions`. A finished job that the cache holds costs one
        ``GetJob`` call.

    Returns
    -------
    Job
        ``.job``, ``.steps``, ``.tasks``, ``.sessions``, ``.actions``, ``.snapshots``.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm import LocalFarm
    >>> with LocalFarm() as farm:
    ...     j = farm.job_by_name("failing")
    ...     job = dnb.load_job(farm.farm_id, j.queue_id, j.job_id,
    ...                        client=farm.client(), cache=False, progress=False)
    >>> job.actions[["stepName", "workerId"]].notna().any().tolist()
    [True, True]
    """
    from .frames import job_action_frame, session_frame, step_frame, task_frame

    c = _client(client, boto3_session)
    ids = _resolve_ids(farm_id, queue_id, job_id)
    options = {
        "cache": cache if not isinstance(cache, Cache) else cache.path,
        "refresh": False,
        "progress": progress,
        "max_workers": max_workers,
        "client": c,
    }
    with _CacheHandle(cache) as store:
        synced = _sync_actions(
            c,
            ids,
            store,
            session_id=None,
            refresh=refresh,
            progress=progress,
            max_workers=max_workers,
        )
        job = synced.job
        assert job is not None  # a whole job's sync always reads it (GetJob)
        sessions = synced.sessions
        if sessions is None:  # the finished job came from the cache
            sessions = store.items("session", *ids.key) if store is not None else []
        steps, tasks = _steps_and_tasks(c, ids, store, job, refresh, max_workers)
        actions = _action_frame(ids, store, synced)
        snapshots = (
            store.snapshots(*ids.key)
            if store is not None
            else schema.empty_frame(schema.SNAPSHOT_COLUMNS)
        )
    frame_ids = _frame_ids(ids)
    step_df = step_frame(steps, **frame_ids)
    session_df = session_frame(sessions, **frame_ids)
    return Job(
        job=job,
        steps=step_df,
        tasks=task_frame(tasks, **frame_ids),
        sessions=session_df,
        actions=job_action_frame(actions, steps=step_df, sessions=session_df),
        snapshots=snapshots,
        _options=options,
    )


def _steps_and_tasks(
    c: DeadlineCloudClient,
    ids: _Ids,
    store: Cache | None,
    job: Mapping[str, Any],
    refresh: bool,
    max_workers: int,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Steps and their tasks; a finished step whose counts have not moved is not listed again."""
    finished = store is not None and not refresh and _finished(job)
    if finished and store is not None and store.listing(*ids.key, "steps") == _job_token(job):
        return store.items("step", *ids.key), store.items("task", *ids.key)
    steps = fetch_steps(*ids.key, client=c)
    done = store.listings(*ids.key) if store is not None and not refresh else {}
    stale = [s for s in steps if done.get(s["stepId"]) != _job_token(s) or not _finished(s)]
    fresh: list[dict[str, Any]] = []
    if stale:
        step_ids = [s["stepId"] for s in stale]
        with ThreadPoolExecutor(min(max_workers, len(step_ids)), "deadline-nb-fetch") as pool:
            for tasks in pool.map(
                lambda step: fetch_tasks(*ids.key, step_id=step, client=c), step_ids
            ):
                fresh.extend(tasks)
    if store is None:
        return steps, fresh
    store.put("step", *ids.key, steps, "stepId")
    store.put("task", *ids.key, fresh, "taskId", parent_field="stepId")
    store.set_listings(*ids.key, {s["stepId"]: _job_token(s) for s in stale if _finished(s)})
    store.set_listing(*ids.key, "steps", _job_token(job) if _finished(job) else None)
    # Tasks of steps listed at different times: put them back in the steps' order.
    position = {s["stepId"]: n for n, s in enumerate(steps)}
    tasks = store.items("task", *ids.key)
    tasks.sort(key=lambda t: position.get(t.get("stepId", ""), len(position)))
    return steps, tasks
