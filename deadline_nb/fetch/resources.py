"""Farms, queues and jobs for pickers; one job's record, steps, tasks and sessions.

Each function returns the API's items as dicts (``ResponseMetadata`` dropped), all pages of
them. Ids are taken the one way of the package (:mod:`.common`): ``farm_id, queue_id, job_id``
in that order, each left out taken from the ``deadline`` CLI's configured defaults, then
``client=None, boto3_session=None``.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from ..aws import DEFAULT_WORKERS
from .common import Ids, clean, last_body, list_all, pages, resolve_client, resolve_ids

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_deadline import DeadlineCloudClient

__all__ = [
    "fetch_job",
    "fetch_sessions",
    "fetch_steps",
    "fetch_tasks",
    "list_farms",
    "list_jobs",
    "list_queues",
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


def list_jobs(
    farm_id: str | None = None,
    queue_id: str | None = None,
    *,
    client: DeadlineCloudClient | None = None,
    boto3_session: boto3.Session | None = None,
) -> list[dict[str, Any]]:
    """Return a queue's jobs, newest first.

    Parameters
    ----------
    farm_id, queue_id
        The queue. Default: ``defaults.farm_id`` and ``defaults.queue_id`` from the
        ``deadline`` config.
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
    c = resolve_client(client, boto3_session)
    ids = resolve_ids(farm_id, queue_id, needs=2)
    jobs = list_all(c.list_jobs, "jobs", "ListJobs", ids)
    jobs.sort(key=lambda j: j["jobId"])
    jobs.sort(key=lambda j: j.get("createdAt") or 0, reverse=True)
    return jobs


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
            tasks.extend({**t, "stepId": step_id} for t in page)
            if body is None:
                bodies = None  # one missing: keep none (the cache then encodes the items)
            elif bodies is not None:
                bodies.append(body)
            if len(tasks) >= chunk:
                yield tasks, bodies
                tasks, bodies = [], []
    if tasks or bodies == []:
        yield tasks, bodies
