"""A job's worker host metrics from the worker logs, through the cache, as a metrics frame.

Where they are: each fleet's log group ``/aws/deadline/<farmId>/<fleetId>``, one stream per
worker named by its id (the worker agent's ``docs/logging.md``; ``GetWorker``'s ``log`` and
``GetSession``'s ``workerLog`` in botocore's ``deadline`` model). The agent logs a host-metrics
line every 60 s by default (:mod:`deadline_nb.frames.metrics` has the format and the sources).

What is read: only the workers the job's sessions ran on, and of each worker's stream only the
window of those sessions (the first session's start to the last one's end, each widened by two
intervals), with ``GetLogEvents`` ``startTime``/``endTime``; the reading itself is the session
logs' (:class:`.logs.StreamReader`: the same pages, tokens, rate limiter and errors).

What is kept (:mod:`deadline_nb.cache`, its log tables, under the key ``(farmId, fleetId,
jobId)``): each page as it comes. A worker's window is final once every session of the job on
that worker has ended (more than :data:`.logs.SETTLE_SECONDS` ago): read once, never again.
Otherwise (a session still running) it is read again from where the last read stopped.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from ..aws import DEFAULT_WORKERS
from ..cache import Cache
from ..errors import AccessDeniedError, DataWarning
from .common import CacheArg, CacheHandle, Ids, fewer_collections, resolve_client, resolve_ids
from .logs import (
    SETTLE_SECONDS,
    StreamReader,
    StreamSpec,
    epoch_ms,
    job_sessions,
    log_group_name,
    logs_client_for,
)
from .watch import Watch

if TYPE_CHECKING:
    import boto3
    import pandas as pd
    from mypy_boto3_deadline import DeadlineCloudClient

    from .job import Job

__all__ = ["fetch_worker_metrics", "job_metrics", "job_resources", "worker_windows"]

#: How far before the first session and after the last one a worker's stream is read: two of
#: the agent's default intervals, so that the samples around the job's edges are there.
WINDOW_MARGIN_MS: Final = 120_000


def worker_windows(
    sessions: Iterable[Mapping[str, Any]], *, now: float | None = None
) -> dict[str, list[StreamSpec]]:
    """The worker streams to read for a job's sessions: fleet id -> one spec per worker.

    Each spec covers the job's sessions on that worker; it is final when they have all ended
    long enough ago (:data:`.logs.SETTLE_SECONDS`).

    Examples
    --------
    >>> spans = worker_windows([
    ...     {"fleetId": "fleet-1", "workerId": "worker-1", "startedAt": 100.0, "endedAt": 200.0,
    ...      "lifecycleStatus": "ENDED"},
    ...     {"fleetId": "fleet-1", "workerId": "worker-1", "startedAt": 300.0, "endedAt": None,
    ...      "lifecycleStatus": "STARTED"}], now=400.0)
    >>> spec = spans["fleet-1"][0]
    >>> spec.session_id, spec.started_ms, spec.end_ms, spec.final
    ('worker-1', 100000, None, False)
    """
    clock = time.time() if now is None else now
    spans: dict[tuple[str, str], list[tuple[int | None, int | None, bool]]] = {}
    for session in sessions:
        fleet, worker = session.get("fleetId"), session.get("workerId")
        if not isinstance(fleet, str) or not isinstance(worker, str):
            continue
        started, ended = epoch_ms(session.get("startedAt")), epoch_ms(session.get("endedAt"))
        done = ended is not None or str(session.get("lifecycleStatus")) == "ENDED"
        spans.setdefault((fleet, worker), []).append((started, ended, done))
    out: dict[str, list[StreamSpec]] = {}
    for (fleet, worker), items in sorted(spans.items()):
        starts = [s for s, _, _ in items if s is not None]
        ends = [e for _, e, _ in items if e is not None]
        done = all(d for _, _, d in items) and len(ends) == len(items)
        end = max(ends) if done and ends else None
        final = end is not None and end <= (clock - SETTLE_SECONDS) * 1000
        out.setdefault(fleet, []).append(
            StreamSpec(
                worker,
                min(starts) if starts else None,
                final,
                end_ms=None if end is None else end + WINDOW_MARGIN_MS,
                margin_ms=WINDOW_MARGIN_MS,
            )
        )
    return out


def _sessions_of(frame: pd.DataFrame) -> list[dict[str, Any]]:
    columns = ["fleetId", "workerId", "startedAt", "endedAt", "lifecycleStatus"]
    present = [c for c in columns if c in frame.columns]
    records = frame[present].astype(object).where(frame[present].notna(), None)
    return [dict(zip(present, row, strict=True)) for row in records.itertuples(index=False)]


def _read(
    lc: Any,
    ids: Ids,
    store: Cache | None,
    windows: Mapping[str, Sequence[StreamSpec]],
    *,
    refresh: bool,
    watch: Watch,
    max_workers: int,
    stacklevel: int,
) -> pd.DataFrame:
    import pandas as pd

    from .. import schema
    from ..frames.metrics import metrics_frame, metrics_frame_from_arrays

    parts: list[pd.DataFrame] = []
    missing: list[str] = []
    with watch:
        for fleet, specs in windows.items():
            group = log_group_name(ids.farm_id, fleet)
            key = (ids.farm_id, fleet, ids.job_id)
            reader = StreamReader(lc, ids, store, watch, refresh=refresh, group=group, key=key)
            try:
                reader.run(specs, max_workers)
            except AccessDeniedError as error:
                raise AccessDeniedError(
                    f"Access denied: your AWS identity may not read the worker logs in the log "
                    f"group {group}; ask your AWS admin to grant it logs:{error.operation} on "
                    "that group, or use a profile that has it (profile=...).",
                    operation=error.operation,
                    code=error.code,
                    farm_id=ids.farm_id,
                    queue_id=ids.queue_id or None,
                    job_id=ids.job_id,
                ) from error.__cause__
            missing += [f"{w} ({group})" for w in reader.missing]
            workers = [s.session_id for s in specs]
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                if store is None:
                    part = metrics_frame(
                        {w: reader.events.get(w, []) for w in workers},
                        farm_id=ids.farm_id,
                        fleet_id=fleet,
                    )
                else:
                    stored = store.log_columns(*key, session_ids=workers)
                    part = metrics_frame_from_arrays(
                        stored.session_ids,
                        stored.counts,
                        stored.timestamps,
                        stored.messages,
                        farm_id=ids.farm_id,
                        fleet_id=fleet,
                    )
            for w in caught:  # the frame's own warnings, pointed at the caller
                warnings.warn(w.message, w.category, stacklevel=stacklevel)
            parts.append(part)
    if missing:
        warnings.warn(
            f"{len(missing)} worker{'s have' if len(missing) > 1 else ' has'} no worker log "
            f"stream (ResourceNotFoundException), so their resources are missing: "
            f"{', '.join(missing[:5])}{' and more' if len(missing) > 5 else ''}.",
            DataWarning,
            stacklevel=stacklevel,
        )
    frame = (
        pd.concat(parts, ignore_index=True) if parts else schema.empty_frame(schema.METRIC_COLUMNS)
    )
    if len(parts) > 1:
        for column in ("farmId", "fleetId", "workerId"):
            frame[column] = frame[column].astype(object).astype("category")
        frame = frame.sort_values(["workerId", "timestamp"], kind="stable", ignore_index=True)
        frame = frame.astype(dict(schema.METRIC_COLUMNS))
    read = {s.session_id for specs in windows.values() for s in specs}
    silent = sorted(
        read - set(frame["workerId"].astype(object)) - {m.split(" ")[0] for m in missing}
    )
    if silent:
        warnings.warn(
            f"{len(silent)} worker log{'s hold' if len(silent) > 1 else ' holds'} no host "
            "metrics over the job's time (the agent's host_metrics_logging may be off, or "
            "the hosts are customer-managed and do not send them), so their resources are "
            f"missing: {', '.join(silent[:5])}{' and more' if len(silent) > 5 else ''}.",
            DataWarning,
            stacklevel=stacklevel,
        )
    return frame


def fetch_worker_metrics(
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
    logs_client: Any = None,
    boto3_session: boto3.Session | None = None,
) -> pd.DataFrame:
    """Return the host metrics of the workers a job ran on, over the job's time, as a frame.

    Each worker's stream (``/aws/deadline/<farmId>/<fleetId>``, stream ``<workerId>``) is read
    with ``GetLogEvents`` over the window of the job's sessions on it only, workers in
    parallel at the pace the account's quota allows; with the cache, a window whose sessions
    have all ended is read once and kept. The module docstring has the rules.

    Parameters
    ----------
    farm_id, queue_id, job_id
        The job. Default: ``defaults.farm_id`` and so on from the ``deadline`` config.
    cache, refresh, progress, max_workers, timeout
        As in :func:`deadline_nb.fetch_session_logs`; the bar counts workers.
    client, boto3_session
        A ``deadline`` client, or a session to make the clients from.
    logs_client
        A CloudWatch Logs client (default: :func:`deadline_nb.aws.logs_client`, with the
        credentials the ``deadline`` client implies, and its endpoint when it is local).

    Returns
    -------
    pandas.DataFrame
        :func:`deadline_nb.metrics_frame` of the samples (``schema.METRIC_COLUMNS``).

    Raises
    ------
    AccessDeniedError
        When the credentials may not read a fleet's log group; the message names the group and
        the IAM action to grant (``logs:GetLogEvents``).
    CredentialsError, NoRegionError, NotFoundError, ServiceError
        As :func:`deadline_nb.fetch_session_logs`.

    Warns
    -----
    DataWarning
        Once for the workers whose stream does not exist, once for those whose log holds no
        host metrics (customer-managed hosts may not send them), once per kind of unreadable
        line: their samples are missing, the rest load.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm import LocalFarm
    >>> with LocalFarm() as farm:
    ...     j = farm.job_by_name("failing")
    ...     metrics = dnb.fetch_worker_metrics(farm.farm_id, j.queue_id, j.job_id,
    ...                                        client=farm.client(), cache=False,
    ...                                        progress=False)
    >>> bool(metrics["memUsedPercent"].max() > 95)
    True
    """
    c = resolve_client(client, boto3_session)
    ids = resolve_ids(farm_id, queue_id, job_id)
    lc = logs_client_for(
        c, logs_client, boto3_session, Ids(ids.farm_id, "", ids.job_id), max_workers
    )
    watch = Watch(ids, c.meta.endpoint_url, progress=progress, timeout=timeout, unit="worker")
    with fewer_collections(), CacheHandle(cache) as store:
        items = job_sessions(c, ids, store, refresh)
        return _read(
            lc,
            ids,
            store,
            worker_windows(items),
            refresh=refresh,
            watch=watch,
            max_workers=max_workers,
            stacklevel=3,
        )


def job_metrics(job: Job, *, refresh: bool = False) -> pd.DataFrame:
    """The metrics frame of a :class:`~deadline_nb.Job`, fetched with the job's own options.

    What ``job.metrics`` returns (and keeps). Shared with :mod:`.job`.
    """
    options = job._options
    ids = Ids(job.farm_id, job.queue_id, job.job_id)
    c = options.get("client") or resolve_client(None, job._boto3_session)
    max_workers = int(options.get("max_workers", DEFAULT_WORKERS))
    lc = logs_client_for(c, None, job._boto3_session, Ids(ids.farm_id, "", ids.job_id), max_workers)
    watch = Watch(
        ids,
        c.meta.endpoint_url,
        progress=bool(options.get("progress", True)),
        timeout=options.get("timeout"),
        unit="worker",
    )
    with CacheHandle(options.get("cache", True)) as store:
        return _read(
            lc,
            ids,
            store,
            worker_windows(_sessions_of(job.sessions)),
            refresh=refresh,
            watch=watch,
            max_workers=max_workers,
            stacklevel=5,
        )


def job_resources(job: Job) -> pd.DataFrame:
    """``resource_frame(job.actions, job.metrics)``: what ``job.resources`` returns.

    Shared with :mod:`.job`.
    """
    from ..frames.metrics import resource_frame

    return resource_frame(job.actions, job.metrics)
