"""Farms, queues and jobs for pickers; one job's record, steps, tasks and sessions.

A queue's jobs come from SearchJobs, filtered, sorted and paged on the service
(:func:`search_jobs`, :func:`job_filter`, :func:`list_jobs`): a queue of tens of thousands of
jobs shows its newest hundred in one call.

Each function returns the API's items as dicts (``ResponseMetadata`` dropped), all pages of
them. Ids are taken the one way of the package (:mod:`.common`): ``farm_id, queue_id, job_id``
in that order, each left out taken from the ``deadline`` CLI's configured defaults, then
``client=None, boto3_session=None``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Final

from ..aws import DEFAULT_WORKERS
from ..errors import AccessDeniedError, ServiceError, bad_argument
from .common import Ids, clean, last_body, list_all, pages, resolve_client, resolve_ids

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_deadline import DeadlineCloudClient

__all__ = [
    "JOB_PAGE",
    "NEWEST_FIRST",
    "SEARCH_LAG_SECONDS",
    "SEARCH_WINDOW",
    "JobPage",
    "fetch_job",
    "fetch_sessions",
    "fetch_steps",
    "fetch_tasks",
    "job_filter",
    "list_farms",
    "list_jobs",
    "list_queues",
    "search_jobs",
]


# ---------------------------------------------------------------------------------------------
# farms, queues, jobs: for pickers


def list_farms(
    *, client: DeadlineCloudClient | None = None, boto3_session: boto3.Session | None = None
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
    c = resolve_client(client, boto3_session)
    farms = list_all(c.list_farms, "farms", "ListFarms", Ids(""))
    return sorted(farms, key=lambda f: (str(f.get("displayName", "")).lower(), f["farmId"]))


def list_queues(
    farm_id: str | None = None,
    *,
    client: DeadlineCloudClient | None = None,
    boto3_session: boto3.Session | None = None,
) -> list[dict[str, Any]]:
    """Return a farm's queues, by display name.

    Parameters
    ----------
    farm_id
        The farm. Default: ``defaults.farm_id`` from the ``deadline`` config.
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
    c = resolve_client(client, boto3_session)
    ids = resolve_ids(farm_id, needs=1)
    queues = list_all(c.list_queues, "queues", "ListQueues", ids)
    return sorted(queues, key=lambda q: (str(q.get("displayName", "")).lower(), q["queueId"]))


#: Jobs per SearchJobs call: the most the API returns at once (``pageSize`` 1 to 100).
JOB_PAGE: Final = 100
#: How far SearchJobs pages: ``itemOffset`` and ``totalResults`` stop at 10,000 in the model.
SEARCH_WINDOW: Final = 10_000
#: The newest job first: how the picker and :func:`list_jobs` order a queue.
NEWEST_FIRST: Final[tuple[dict[str, Any], ...]] = (
    {"fieldSort": {"name": "CREATED_AT", "sortOrder": "DESCENDING"}},
)
#: Seconds SearchJobs may lag behind the queue: the ``deadline`` package's own bound for it
#: (``EVENTUAL_CONSISTENCY_MAX_SECONDS``), from its load tests.
SEARCH_LAG_SECONDS: Final = 120

# What job_filter's parameter operators mean in the API.
_OPERATORS: Final[Mapping[str, str]] = {
    "=": "EQUAL",
    "==": "EQUAL",
    "!=": "NOT_EQUAL",
    ">": "GREATER_THAN",
    ">=": "GREATER_THAN_EQUAL_TO",
    "<": "LESS_THAN",
    "<=": "LESS_THAN_EQUAL_TO",
}
_MAX_FILTERS: Final = 3  # SearchGroupedFilterExpressions.filters: 1 to 3 in the model


@dataclasses.dataclass(frozen=True)
class JobPage:
    """One SearchJobs answer: a page of jobs, how many match, where the next page starts.

    Parameters
    ----------
    jobs
        JobSearchSummary dicts (``jobId``, ``queueId``, ``name``, ``taskRunStatus``,
        ``createdBy``, ``createdAt``, ``jobParameters``, ...).
    total
        How many jobs match (the service counts up to :data:`SEARCH_WINDOW`).
    next_offset
        The ``offset`` of the next page, or None after the last one.

    Examples
    --------
    >>> from deadline_nb.fetch.resources import JobPage
    >>> JobPage([], 0, None).more
    False
    """

    jobs: list[dict[str, Any]]
    total: int
    next_offset: int | None

    @property
    def more(self) -> bool:
        """Whether a next page exists."""
        return self.next_offset is not None


def job_filter(
    *,
    name: str | None = None,
    submitter: str | None = None,
    status: str | Sequence[str] | None = None,
    created_after: datetime.datetime | None = None,
    created_before: datetime.datetime | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> dict[str, Any] | None:
    """Return SearchJobs ``filterExpressions`` that match every condition given (AND).

    Parameters
    ----------
    name
        Words the job's name contains, each (``searchTermFilter`` with ``CONTAINS``, one per
        word).
    submitter
        The ``createdBy`` of the jobs, exactly as the API reports it.
    status
        A ``taskRunStatus``, or several (any of them).
    created_after, created_before
        Submitted at or after, and before, these instants (timezone-aware).
    parameters
        Job parameter name -> value (equal to it), or -> ``(operator, value)`` with an
        operator among ``= != > >= < <=``. Numbers compare as numbers when the parameter is
        an ``int`` or a ``float``.

    Returns
    -------
    dict or None
        ``{"filters": [...], "operator": "AND"}``; None when no condition is given. More than
        three conditions are grouped three by three (the API takes three filters per group).

    Raises
    ------
    ValueError
        When a condition is empty, an operator unknown, or there are more than nine
        conditions.

    Examples
    --------
    >>> from deadline_nb import job_filter
    >>> job_filter(status="FAILED", parameters={"Version": (">=", 12)})["filters"][1]
    {'parameterFilter': {'name': 'Version', 'operator': 'GREATER_THAN_EQUAL_TO', 'value': '12'}}
    >>> job_filter() is None
    True
    """
    filters: list[dict[str, Any]] = []
    for word in (name or "").split():
        filters.append({"searchTermFilter": {"searchTerm": word, "matchType": "CONTAINS"}})
    if submitter:
        filters.append(
            {"stringFilter": {"name": "CREATED_BY", "operator": "EQUAL", "value": submitter}}
        )
    if status:
        statuses = [status] if isinstance(status, str) else [str(s) for s in status]
        if len(statuses) == 1:
            filters.append(
                {
                    "stringFilter": {
                        "name": "TASK_RUN_STATUS",
                        "operator": "EQUAL",
                        "value": statuses[0],
                    }
                }
            )
        else:
            filters.append(
                {
                    "stringListFilter": {
                        "name": "TASK_RUN_STATUS",
                        "operator": "ANY_EQUALS",
                        "values": statuses,
                    }
                }
            )
    for field_name, when, operator in (
        ("created_after", created_after, "GREATER_THAN_EQUAL_TO"),
        ("created_before", created_before, "LESS_THAN"),
    ):
        if when is None:
            continue
        if not isinstance(when, datetime.datetime) or when.tzinfo is None:
            raise bad_argument(field_name, "be a timezone-aware datetime", when)
        filters.append(
            {"dateTimeFilter": {"name": "CREATED_AT", "operator": operator, "dateTime": when}}
        )
    for parameter, condition in (parameters or {}).items():
        operator, value = condition if isinstance(condition, tuple) else ("=", condition)
        if operator not in _OPERATORS:
            raise bad_argument(
                f"parameters[{parameter!r}]",
                f"use an operator among {sorted(_OPERATORS)}",
                operator,
            )
        text = str(value)
        if not text:
            raise bad_argument(f"parameters[{parameter!r}]", "be a non-empty value", value)
        filters.append(
            {
                "parameterFilter": {
                    "name": str(parameter),
                    "operator": _OPERATORS[operator],
                    "value": text,
                }
            }
        )
    if not filters:
        return None
    if len(filters) > _MAX_FILTERS * _MAX_FILTERS:
        raise ValueError(
            f"SearchJobs takes at most {_MAX_FILTERS * _MAX_FILTERS} conditions (three groups "
            f"of three), but {len(filters)} were given."
        )
    if len(filters) <= _MAX_FILTERS:
        return {"filters": filters, "operator": "AND"}
    groups = [filters[i : i + _MAX_FILTERS] for i in range(0, len(filters), _MAX_FILTERS)]
    return {
        "filters": [{"groupFilter": {"filters": g, "operator": "AND"}} for g in groups],
        "operator": "AND",
    }


def search_jobs(
    farm_id: str | None = None,
    queue_id: str | Sequence[str] | None = None,
    *,
    filters: Mapping[str, Any] | None = None,
    sort: Sequence[Mapping[str, Any]] = NEWEST_FIRST,
    offset: int = 0,
    page_size: int = JOB_PAGE,
    client: DeadlineCloudClient | None = None,
    boto3_session: boto3.Session | None = None,
) -> JobPage:
    """Return one page of a queue's jobs that match ``filters``, sorted on the service: one call.

    SearchJobs is eventually consistent: a job submitted in the last minutes
    (:data:`SEARCH_LAG_SECONDS`) may be missing yet; :func:`fetch_job` always finds it.

    Parameters
    ----------
    farm_id, queue_id
        The queue (or up to ten queues). Default: the ``deadline`` config's.
    filters
        SearchJobs ``filterExpressions``, such as :func:`job_filter` makes.
    sort
        SearchJobs ``sortExpressions``; default newest first.
    offset
        The first result to return, 0 to 10,000.
    page_size
        Jobs to return, 1 to 100.
    client, boto3_session
        As in :func:`list_farms`.

    Returns
    -------
    JobPage

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm import LocalFarm
    >>> with LocalFarm() as farm:
    ...     fx = farm.job_by_name("failing").queue_id
    ...     page = dnb.search_jobs(farm.farm_id, fx, filters=dnb.job_filter(status="FAILED"),
    ...                            client=farm.client())
    >>> [j["name"] for j in page.jobs], page.total, page.more
    (['sq030_crowd_v007_failing'], 1, False)
    """
    c = resolve_client(client, boto3_session)
    queues = [queue_id] if isinstance(queue_id, str) or queue_id is None else list(queue_id)
    ids = resolve_ids(farm_id, queues[0] if queues else None, needs=2)
    queue_ids = [ids.queue_id, *queues[1:]]
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= SEARCH_WINDOW:
        raise bad_argument("offset", f"be a whole number from 0 to {SEARCH_WINDOW}", offset)
    if (
        isinstance(page_size, bool)
        or not isinstance(page_size, int)
        or not 1 <= page_size <= JOB_PAGE
    ):
        raise bad_argument("page_size", f"be a whole number from 1 to {JOB_PAGE}", page_size)
    params: dict[str, Any] = {
        "farmId": ids.farm_id,
        "queueIds": queue_ids,
        "itemOffset": offset,
        "pageSize": page_size,
    }
    if filters:
        params["filterExpressions"] = dict(filters)
    if sort:
        params["sortExpressions"] = [dict(s) for s in sort]
    with ids.errors("SearchJobs"):
        response = c.search_jobs(**params)
    return JobPage(
        [dict(j) for j in response.get("jobs", [])],
        int(response.get("totalResults", 0)),
        response.get("nextItemOffset"),
    )


def list_jobs(
    farm_id: str | None = None,
    queue_id: str | None = None,
    *,
    limit: int | None = JOB_PAGE,
    filters: Mapping[str, Any] | None = None,
    progress: bool = True,
    max_workers: int = DEFAULT_WORKERS,
    client: DeadlineCloudClient | None = None,
    boto3_session: boto3.Session | None = None,
) -> list[dict[str, Any]]:
    """Return a queue's newest jobs (SearchJobs, sorted on the service), newest first.

    The newest 100 come in one call, however big the queue. ``limit=None`` returns every job:
    pages fetched in parallel, past the service's 10,000-result window by asking again for the
    jobs no newer than the oldest one so far, with a progress bar. When the caller may not
    call SearchJobs (or the endpoint lacks it) and no ``filters`` are given, the queue is
    walked with ListJobs instead, as before.

    Parameters
    ----------
    farm_id, queue_id
        The queue. Default: ``defaults.farm_id`` and ``defaults.queue_id`` from the
        ``deadline`` config.
    limit
        The most jobs to return; None for all of them.
    filters
        SearchJobs ``filterExpressions`` (see :func:`job_filter`).
    progress
        Show a progress bar (``tqdm.auto``) when more than a few pages are fetched.
    max_workers
        Pages fetched at once.
    client, boto3_session
        As in :func:`list_farms`.

    Returns
    -------
    list of dict
        JobSearchSummary dicts (``jobId``, ``name``, ``taskRunStatus``, ``createdBy``,
        ``createdAt``, ``jobParameters``, ...), by ``createdAt``, newest first.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm import LocalFarm
    >>> with LocalFarm(queue_jobs=500) as farm:
    ...     queue = farm.job_by_name("render").queue_id
    ...     newest = dnb.list_jobs(farm.farm_id, queue, client=farm.client())
    ...     every = dnb.list_jobs(farm.farm_id, queue, limit=None, client=farm.client())
    >>> len(newest), len(every), newest[0]["createdAt"] >= newest[-1]["createdAt"]
    (100, 502, True)
    """
    c = resolve_client(client, boto3_session)
    ids = resolve_ids(farm_id, queue_id, needs=2)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise bad_argument("limit", "be a whole number, 0 or more, or None", limit)
    if limit == 0:
        return []
    try:
        first = search_jobs(
            *ids.key[:2], filters=filters, page_size=min(limit or JOB_PAGE, JOB_PAGE), client=c
        )
    except (AccessDeniedError, ServiceError) as error:
        if filters or not _search_unavailable(error):
            raise
        return _walk_list_jobs(c, ids, limit)
    jobs = first.jobs
    if (limit is not None and len(jobs) >= limit) or not first.more:
        return jobs[:limit]
    want = SEARCH_WINDOW if limit is None else min(limit, SEARCH_WINDOW)
    with _bar(progress, ids, first.total if limit is None else min(limit, first.total)) as bar:
        bar.update(len(jobs))
        jobs += _window(c, ids, filters, len(jobs), min(want, first.total), max_workers, bar)
        # A job submitted while the pages come shifts the later pages by one: drop repeats.
        jobs = list({j["jobId"]: j for j in jobs}.values())  # first of each, in order
        seen = {j["jobId"] for j in jobs}
        # Past the window: ask again for jobs no newer than the oldest so far; drop repeats.
        while (limit is None or len(jobs) < limit) and first.total >= SEARCH_WINDOW and jobs:
            older = _and(
                filters,
                {
                    "dateTimeFilter": {
                        "name": "CREATED_AT",
                        "operator": "LESS_THAN_EQUAL_TO",
                        "dateTime": jobs[-1]["createdAt"],
                    }
                },
            )
            first = search_jobs(*ids.key[:2], filters=older, client=c)
            bar.total = len(jobs) + first.total  # an estimate: the window repeats a few
            bar.update(len(first.jobs))
            batch = first.jobs
            if first.more:
                batch += _window(
                    c, ids, older, len(batch), min(SEARCH_WINDOW, first.total), max_workers, bar
                )
            new = [j for j in batch if j["jobId"] not in seen]
            if not new:
                break  # nothing older is left (or 10,000 jobs share one createdAt)
            seen.update(j["jobId"] for j in new)
            jobs += new
        bar.finish(len(jobs))
    return jobs if limit is None else jobs[:limit]


def _window(
    c: DeadlineCloudClient,
    ids: Ids,
    filters: Mapping[str, Any] | None,
    start: int,
    stop: int,
    max_workers: int,
    bar: Any,
) -> list[dict[str, Any]]:
    """The results from offset ``start`` to ``stop`` of one search, pages in parallel, in order."""
    offsets = list(range(start, stop, JOB_PAGE))
    if not offsets:
        return []

    def page(offset: int) -> list[dict[str, Any]]:
        found = search_jobs(*ids.key[:2], filters=filters, offset=offset, client=c).jobs
        bar.update(len(found))
        return found

    with ThreadPoolExecutor(min(max_workers, len(offsets)), "deadline-nb-search") as pool:
        return [j for part in pool.map(page, offsets) for j in part]


def _and(filters: Mapping[str, Any] | None, extra: dict[str, Any]) -> dict[str, Any]:
    """``filters`` AND ``extra``, within the API's three filters per group and two levels."""
    if not filters:
        return {"filters": [extra], "operator": "AND"}
    inner = list(filters["filters"])
    if filters["operator"] == "AND" and len(inner) < _MAX_FILTERS:
        return {"filters": [*inner, extra], "operator": "AND"}
    if any("groupFilter" in f for f in inner):
        raise ValueError(
            "These filters use the API's two levels of grouping already: list the queue with "
            "fewer conditions to page past 10,000 jobs."
        )
    return {"filters": [{"groupFilter": dict(filters)}, extra], "operator": "AND"}


def _search_unavailable(error: Exception) -> bool:
    """Whether SearchJobs itself is refused (no permission for it, or an endpoint without it)."""
    code = getattr(error, "code", None)
    return isinstance(error, AccessDeniedError) or code in (
        "UnknownOperationException",
        "UnrecognizedClientException",
    )


def _walk_list_jobs(c: DeadlineCloudClient, ids: Ids, limit: int | None) -> list[dict[str, Any]]:
    """Every job of the queue with ListJobs, sorted here: the way without SearchJobs."""
    jobs = list_all(c.list_jobs, "jobs", "ListJobs", ids)
    jobs.sort(key=lambda j: j["jobId"])
    jobs.sort(key=lambda j: j.get("createdAt") or 0, reverse=True)
    return jobs if limit is None else jobs[:limit]


@contextlib.contextmanager
def _bar(progress: bool, ids: Ids, total: int) -> Iterator[Any]:
    from tqdm.auto import tqdm

    bar = tqdm(
        total=total,
        unit="job",
        desc=ids.queue_id,
        disable=not progress or total <= 5 * JOB_PAGE,
        leave=False,
    )
    lock = threading.Lock()

    class _Locked:
        # Pages of one window arrive in several threads; tqdm's counters are not atomic.
        @property
        def total(self) -> int:
            return int(bar.total or 0)

        @total.setter
        def total(self, value: int) -> None:
            with lock:
                bar.total = value

        def update(self, n: int) -> None:
            with lock:
                bar.update(n)

        def finish(self, n: int) -> None:
            with lock:  # the count without the repeats the windows' edges had
                bar.total = bar.n = n
                bar.refresh()

    try:
        yield _Locked()
    finally:
        bar.close()


def fetch_job(
    farm_id: str | None = None,
    queue_id: str | None = None,
    job_id: str | None = None,
    *,
    client: DeadlineCloudClient | None = None,
    boto3_session: boto3.Session | None = None,
) -> dict[str, Any]:
    """Return a job (GetJob), with ``farmId`` and ``queueId`` added.

    Parameters
    ----------
    farm_id, queue_id, job_id
        The job. Default: ``defaults.farm_id`` and so on from the ``deadline`` config.
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
    c = resolve_client(client, boto3_session)
    ids = resolve_ids(farm_id, queue_id, job_id)
    with ids.errors("GetJob"):
        job = clean(c.get_job(**ids.params))
    return {"farmId": ids.farm_id, "queueId": ids.queue_id, **job}


def fetch_steps(
    farm_id: str | None = None,
    queue_id: str | None = None,
    job_id: str | None = None,
    *,
    client: DeadlineCloudClient | None = None,
    boto3_session: boto3.Session | None = None,
) -> list[dict[str, Any]]:
    """Return a job's steps (ListSteps summaries).

    Parameters
    ----------
    farm_id, queue_id, job_id
        The job. Default: ``defaults.farm_id`` and so on from the ``deadline`` config.
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
    c = resolve_client(client, boto3_session)
    ids = resolve_ids(farm_id, queue_id, job_id)
    return list_all(c.list_steps, "steps", "ListSteps", ids)


def fetch_tasks(
    farm_id: str | None = None,
    queue_id: str | None = None,
    job_id: str | None = None,
    *,
    step_id: str | None = None,
    max_workers: int = DEFAULT_WORKERS,
    client: DeadlineCloudClient | None = None,
    boto3_session: boto3.Session | None = None,
) -> list[dict[str, Any]]:
    """Return a job's (or one step's) tasks, each with its ``stepId``, steps in parallel.

    Parameters
    ----------
    farm_id, queue_id, job_id
        The job. Default: ``defaults.farm_id`` and so on from the ``deadline`` config.
    step_id
        Only this step's tasks.
    max_workers
        Steps listed at once.
    client, boto3_session
        As in :func:`list_farms`.

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
    c = resolve_client(client, boto3_session)
    ids = resolve_ids(farm_id, queue_id, job_id)
    step_ids = (
        [step_id] if step_id is not None else [s["stepId"] for s in fetch_steps(*ids.key, client=c)]
    )

    def one(step: str) -> list[dict[str, Any]]:
        return [task for part, _ in iter_step_tasks(c, ids, step) for task in part]

    if len(step_ids) <= 1:
        return [t for step in step_ids for t in one(step)]
    with ThreadPoolExecutor(min(max_workers, len(step_ids)), "deadline-nb-fetch") as pool:
        return [t for tasks in pool.map(one, step_ids) for t in tasks]


def fetch_sessions(
    farm_id: str | None = None,
    queue_id: str | None = None,
    job_id: str | None = None,
    *,
    client: DeadlineCloudClient | None = None,
    boto3_session: boto3.Session | None = None,
) -> list[dict[str, Any]]:
    """Return a job's sessions (ListSessions summaries: worker, fleet, times, lifecycle).

    Parameters
    ----------
    farm_id, queue_id, job_id
        The job. Default: ``defaults.farm_id`` and so on from the ``deadline`` config.
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
    c = resolve_client(client, boto3_session)
    ids = resolve_ids(farm_id, queue_id, job_id)
    return list_all(c.list_sessions, "sessions", "ListSessions", ids)


def iter_step_tasks(
    c: DeadlineCloudClient, ids: Ids, step_id: str, chunk: int = 20_000
) -> Iterator[tuple[list[dict[str, Any]], list[bytes] | None]]:
    """One step's tasks, with ``stepId`` added, in parts of about ``chunk`` tasks (whole pages),
    as they come, each with the raw ListTasks bodies it came in (None when the client does not
    keep them: :func:`.common.capture_bodies`; their ``tasks`` lack ``stepId``).

    A step of a million tasks need not be in memory as dicts all at once (``load_job`` turns
    each part into a frame and stores it before the next). Yields at least once.
    """
    tasks: list[dict[str, Any]] = []
    bodies: list[bytes] | None = []
    last_body()  # not a body of an earlier call
    with ids.errors("ListTasks"):
        for page in pages(c.list_tasks, "tasks", **ids.params, stepId=step_id):
            body = last_body()
            for task in page:  # the parser's own dicts: completed in place, not copied
                task["stepId"] = step_id
            tasks.extend(page)
            if body is None:
                bodies = None  # one missing: keep none (the cache then encodes the items)
            elif bodies is not None:
                bodies.append(body)
            if len(tasks) >= chunk:
                yield tasks, bodies
                tasks, bodies = [], []
    if tasks or bodies == []:
        yield tasks, bodies
