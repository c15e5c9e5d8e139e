"""A whole job as frames: :class:`Job` and :func:`load_job`.

:func:`load_job` runs the sync engine for the session actions (:mod:`.sync`), lists steps and
tasks (again only where a step's counts moved) and sessions, and joins them into the frames
of :mod:`deadline_nb.frames`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from .. import schema
from ..aws import DEFAULT_WORKERS
from ..cache import Cache
from ..errors import AwsError
from .actions import action_frame
from .common import (
    CacheArg,
    CacheHandle,
    Ids,
    capture_bodies,
    fewer_collections,
    is_finished,
    job_token,
    resolve_client,
    resolve_ids,
)
from .resources import fetch_steps, iter_step_tasks
from .sync import sync_actions
from .watch import Watch

if TYPE_CHECKING:
    import boto3
    import pandas as pd
    from mypy_boto3_deadline import DeadlineCloudClient

__all__ = ["Job", "load_job"]


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
    logs
        The session logs as a log frame (:func:`deadline_nb.fetch_session_logs`), fetched on
        first use with the job's options, then kept.
    cost
        The job's estimated cost (:func:`deadline_nb.fetch.usage.job_cost`), fetched on first
        use, then kept.
    metrics
        The host metrics of the job's workers over the job's time
        (:func:`deadline_nb.fetch_worker_metrics`), fetched on first use, then kept.
    resources
        :attr:`actions` with what memory and CPU each saw on its worker
        (:func:`deadline_nb.resource_frame` of :attr:`actions` and :attr:`metrics`).
    """

    job: dict[str, Any]
    steps: pd.DataFrame
    tasks: pd.DataFrame
    sessions: pd.DataFrame
    actions: pd.DataFrame
    snapshots: pd.DataFrame
    _options: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False)
    _logs: pd.DataFrame | None = dataclasses.field(default=None, repr=False)
    _cost: pd.DataFrame | None = dataclasses.field(default=None, repr=False)
    _metrics: pd.DataFrame | None = dataclasses.field(default=None, repr=False)
    _resources: pd.DataFrame | None = dataclasses.field(default=None, repr=False)
    _boto3_session: Any = dataclasses.field(default=None, repr=False)

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
        return is_finished(self.job)

    @property
    def logs(self) -> pd.DataFrame:
        """The job's session logs: :func:`deadline_nb.log_frame` of every session's stream.

        Each line is attributed to its action in :attr:`actions`. Fetched on first use (not by
        :func:`load_job`) with the job's own options (client, cache, progress, max_workers,
        timeout), through the cache: an ended session's stream is read once, ever. Then kept on
        this object; :meth:`refresh` gives a new job whose logs are read again where they can
        have changed.

        Examples
        --------
        >>> import deadline_nb as dnb
        >>> from deadline_nb.localfarm import LocalFarm
        >>> with LocalFarm() as farm:
        ...     j = farm.job_by_name("failing")
        ...     job = dnb.load_job(farm.farm_id, j.queue_id, j.job_id,
        ...                        client=farm.client(), cache=False, progress=False)
        ...     logs = job.logs
        >>> bool(logs["sessionActionId"].notna().mean() > 0.9), job.logs is logs
        (True, True)
        """
        if self._logs is None:
            from .logs import job_logs

            self._logs = job_logs(self)
        return self._logs

    @property
    def cost(self) -> pd.DataFrame:
        """The job's estimated cost: one row, the columns of ``schema.USAGE_COLUMNS``.

        The sessions-statistics aggregation grouped by job over the job's lifetime, filtered
        to its queue (:func:`deadline_nb.fetch.usage.job_cost`): ``costInUsd.sum`` is the
        service's estimate in USD, ``runtimeInSeconds.sum`` the run time. Fetched on first use
        (never by :func:`load_job`: it starts an aggregation) with the job's options, then
        kept; a finished job's is cached. :func:`deadline_nb.cost_per_step` spreads it over
        the steps.

        Examples
        --------
        >>> import deadline_nb as dnb
        >>> from deadline_nb.localfarm import LocalFarm
        >>> with LocalFarm() as farm:
        ...     j = farm.job_by_name("failing")
        ...     job = dnb.load_job(farm.farm_id, j.queue_id, j.job_id,
        ...                        client=farm.client(), cache=False, progress=False)
        ...     before = job._cost
        ...     cost = job.cost
        >>> before is None, job.cost is cost, int(cost["count"].iloc[0])
        (True, True, 21)
        """
        if self._cost is None:
            from .usage import job_cost

            self._cost = job_cost(self)
        return self._cost

    @property
    def metrics(self) -> pd.DataFrame:
        """The host metrics of the workers the job ran on, over the job's time.

        :func:`deadline_nb.metrics_frame` of the worker logs: fetched on first use (not by
        :func:`load_job`) with the job's own options, through the cache (a worker's window
        whose sessions have ended is read once, ever), then kept on this object.

        Examples
        --------
        >>> import deadline_nb as dnb
        >>> from deadline_nb.localfarm import LocalFarm
        >>> with LocalFarm() as farm:
        ...     j = farm.job_by_name("failing")
        ...     job = dnb.load_job(farm.farm_id, j.queue_id, j.job_id,
        ...                        client=farm.client(), cache=False, progress=False)
        ...     metrics = job.metrics
        >>> set(metrics["workerId"]) == set(job.sessions["workerId"]), job.metrics is metrics
        (True, True)
        """
        if self._metrics is None:
            from .metrics import job_metrics

            self._metrics = job_metrics(self)
        return self._metrics

    @property
    def resources(self) -> pd.DataFrame:
        """:attr:`actions` with the memory and CPU each action saw on its worker.

        ``resource_frame(job.actions, job.metrics)`` (:func:`deadline_nb.resource_frame`):
        the same rows and columns, then ``schema.RESOURCE_COLUMNS``. Fetches :attr:`metrics`
        on first use, then kept.

        Examples
        --------
        >>> import deadline_nb as dnb
        >>> from deadline_nb.localfarm import LocalFarm
        >>> with LocalFarm() as farm:
        ...     j = farm.job_by_name("failing")
        ...     job = dnb.load_job(farm.farm_id, j.queue_id, j.job_id,
        ...                        client=farm.client(), cache=False, progress=False)
        ...     res = job.resources
        >>> killed = res[res["processExitCode"] == 137]
        >>> bool((killed["memPeakBytes"] >= 0.95 * killed["memTotalBytes"]).all())
        True
        """
        if self._resources is None:
            from .metrics import job_resources

            self._resources = job_resources(self)
        return self._resources

    def action_log(self, session_action_id: str, tail: int | None = None) -> str:
        """Return one of the job's session actions' log lines as text.

        Parameters
        ----------
        session_action_id
            The action.
        tail
            Only its last ``tail`` lines.

        Returns
        -------
        str
            See :func:`deadline_nb.action_log`.

        Examples
        --------
        >>> import deadline_nb as dnb
        >>> from deadline_nb.localfarm import LocalFarm
        >>> with LocalFarm() as farm:
        ...     j = farm.job_by_name("failing")
        ...     job = dnb.load_job(farm.farm_id, j.queue_id, j.job_id,
        ...                        client=farm.client(), cache=False, progress=False)
        ...     first = job.actions["sessionActionId"].iloc[0]
        ...     text = job.action_log(first, tail=3)
        >>> len(text.splitlines())
        3
        """
        from .logs import action_log

        return action_log(self, session_action_id, tail=tail)

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
    timeout: float | None = None,
    client: DeadlineCloudClient | None = None,
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
    timeout
        Seconds the whole load (actions, steps, tasks, sessions) may take, or None (default)
        for no limit; as in :func:`fetch_session_actions`.

    Raises
    ------
    AccessDeniedError, CredentialsError, NoRegionError, NotFoundError, ServiceError
        As in :func:`fetch_session_actions`: ``error.partial`` holds the session actions
        fetched before the failure, also when it came while listing steps or tasks.

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
    from ..frames import job_action_frame, session_frame, step_frame

    c = resolve_client(client, boto3_session)
    ids = resolve_ids(farm_id, queue_id, job_id)
    options = {
        "cache": cache if not isinstance(cache, Cache) else cache.path,
        "refresh": False,
        "progress": progress,
        "max_workers": max_workers,
        "timeout": timeout,
        "client": c,
    }
    watch = Watch(ids, c.meta.endpoint_url, progress=progress, timeout=timeout)
    # Steps and tasks are listed in a thread of their own from the moment GetJob answers,
    # while the session actions come: a big job's tasks take hundreds of calls.
    side = ThreadPoolExecutor(1, "deadline-nb-steps")
    listed: list[Future[tuple[list[dict[str, Any]], pd.DataFrame]]] = []

    def start(job: dict[str, Any]) -> None:
        listed.append(
            side.submit(_steps_and_tasks, c, ids, store, job, refresh, max_workers, watch)
        )

    with fewer_collections(), CacheHandle(cache) as store:
        try:
            with watch:
                synced = sync_actions(
                    c,
                    ids,
                    store,
                    session_id=None,
                    refresh=refresh,
                    watch=watch,
                    max_workers=max_workers,
                    on_job=start,
                    keep=False,  # a frame, not a million dicts
                )
                job = synced.job
                assert job is not None and listed  # a whole job's sync reads it (GetJob)
                sessions = synced.sessions
                if sessions is None:  # the finished job came from the cache
                    sessions = store.items("session", *ids.key) if store is not None else []
                try:
                    steps, tasks = listed[0].result()
                except AwsError as error:
                    # The actions are fetched (and stored): a failure listing steps keeps them.
                    error.partial = (
                        list(synced.fetched.values())
                        if store is None
                        else [
                            a
                            for a in store.actions(*ids.key)
                            if a["sessionActionId"] in synced.covered
                        ]
                    )
                    raise
        finally:
            # A failed fetch returns now. A listing still going ends in its thread, its results
            # unused (by the client's timeouts at worst); once the cache is closed (which waits
            # for a write in progress) its next write fails there, harmlessly.
            side.shutdown(wait=False)
        actions = action_frame(ids, store, synced)
        snapshots = (
            store.snapshots(*ids.key)
            if store is not None
            else schema.empty_frame(schema.SNAPSHOT_COLUMNS)
        )
    frame_ids = ids.frame_ids
    step_df = step_frame(steps, **frame_ids)
    session_df = session_frame(sessions, **frame_ids)
    return Job(
        job=job,
        steps=step_df,
        tasks=tasks,
        sessions=session_df,
        actions=job_action_frame(actions, steps=step_df, sessions=session_df),
        snapshots=snapshots,
        _options=options,
        _boto3_session=boto3_session,
    )


def _steps_and_tasks(
    c: DeadlineCloudClient,
    ids: Ids,
    store: Cache | None,
    job: Mapping[str, Any],
    refresh: bool,
    max_workers: int,
    watch: Watch,
) -> tuple[list[dict[str, Any]], pd.DataFrame]:
    """Steps, and their tasks as a frame; a finished step whose counts have not moved is not
    listed again.

    A step's tasks are turned into a frame (and stored) about 20,000 at a time as they come,
    so that a million tasks are never all in memory as dicts.
    """
    from ..frames import concat_frames, task_frame

    frame_ids = ids.frame_ids
    finished = store is not None and not refresh and is_finished(job)
    if finished and store is not None and store.listing(*ids.key, "steps") == job_token(job):
        tasks = store.items("task", *ids.key)
        return store.items("step", *ids.key), task_frame(tasks, **frame_ids)
    watch.check()
    steps = fetch_steps(*ids.key, client=c)
    watch.check()
    done = store.listings(*ids.key) if store is not None and not refresh else {}
    stale = [s for s in steps if done.get(s["stepId"]) != job_token(s) or not is_finished(s)]
    if store is not None:
        capture_bodies(c)

    def one(step_id: str) -> list[pd.DataFrame]:
        parts = []
        for tasks, bodies in iter_step_tasks(c, ids, step_id):
            if store is not None:  # as the service sent them: no encoding
                store.put(
                    "task",
                    *ids.key,
                    tasks,
                    "taskId",
                    parent_field="stepId",
                    bodies=bodies,
                    operation="ListTasks",
                )
            parts.append(task_frame(tasks, **frame_ids))
        return parts

    listed: dict[str, list[pd.DataFrame]] = {}
    if stale:
        step_ids = [s["stepId"] for s in stale]
        with ThreadPoolExecutor(min(max_workers, len(step_ids)), "deadline-nb-fetch") as pool:
            listed = dict(zip(step_ids, pool.map(one, step_ids), strict=True))
        watch.check()
    if store is not None:
        store.put("step", *ids.key, steps, "stepId")
        store.set_listings(*ids.key, {s["stepId"]: job_token(s) for s in stale if is_finished(s)})
        store.set_listing(*ids.key, "steps", job_token(job) if is_finished(job) else None)
    # The tasks of the steps not listed now come from the cache; all in the steps' order.
    parts = []
    for step in steps:
        step_id = step["stepId"]
        if step_id in listed:
            parts.extend(listed[step_id])
        elif store is not None:
            parts.append(task_frame(store.items("task", *ids.key, parent=step_id), **frame_ids))
    if not parts:
        return steps, task_frame([], **frame_ids)
    return steps, parts[0] if len(parts) == 1 else concat_frames(parts)
