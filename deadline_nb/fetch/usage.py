"""Usage and cost from Deadline Cloud's sessions statistics: :func:`usage_frame`, a job's cost.

The service aggregates usage asynchronously (botocore's model for ``deadline``, 2023-10-12):
``StartSessionsStatisticsAggregation`` starts an aggregation over one to ten queues or fleets,
a time window, one or two ``groupBy`` fields, one to four statistics and an optional period,
and answers an id; ``GetSessionsStatisticsAggregation`` answers its ``status``
(``IN_PROGRESS``, ``COMPLETED``, ``FAILED``, ``TIMEOUT``) and, once completed, its statistics
a page at a time. A farm runs one aggregation at a time: a start while another is in progress
is answered with a ``ThrottlingException``. Results last an hour after the start.

Start is the one operation this package calls that is not a read: it creates no resource and
nothing anyone pays for, only a computation whose results expire. It is called only by the
functions here, never by :func:`deadline_nb.load_job`.

:func:`fetch_usage_statistics` starts the aggregation, waits for a farm busy with another one
(with backoff, up to ``busy_timeout``, then one sentence saying so), polls with backoff until it
completes (a progress bar while it takes more than half a second), and reads every page. An
aggregation over a window that has ended is kept in the cache and never asked again; one that
reaches now is always asked. :func:`usage_frame` gives the same as a frame
(:data:`deadline_nb.schema.USAGE_COLUMNS`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from .. import schema
from ..aws import aws_errors
from ..errors import AccessDeniedError, NotFoundError, ServiceError, bad_argument
from .common import CacheArg, CacheHandle, resolve_client, resolve_ids

if TYPE_CHECKING:
    import boto3
    import pandas as pd
    from mypy_boto3_deadline import DeadlineCloudClient

    from .job import Job

__all__ = [
    "cost_per_frame",
    "cost_per_step",
    "fetch_usage_statistics",
    "job_cost",
    "parse_instant",
    "usage_frame",
]

_START: Final = "StartSessionsStatisticsAggregation"
_GET: Final = "GetSessionsStatisticsAggregation"
# Polling an aggregation: soon at first (the service often answers within a second), then less
# often, never more than half a second apart: the wait past the end is at most that.
_POLL_FIRST: Final = 0.05
_POLL_MAX: Final = 0.5
# Waiting for a farm busy with another aggregation, which may take a while.
_BUSY_FIRST: Final = 0.25
_BUSY_MAX: Final = 5.0
_BAR_DELAY: Final = 0.5
# How long after a job's end its sessions may still be exiting their environments.
_AFTER: Final = dt.timedelta(hours=1)
_MAX_RESOURCES: Final = 10  # SessionsStatisticsResources*IdsList: one to ten ids
_RELATIVE: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)\s*$", re.IGNORECASE)
_UNITS: Final = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_TIMEZONE: Final = re.compile(r"UTC[-+][01][0-9]:(30|00)")  # the model's Timezone pattern
# What `group_by` takes besides the API's names: the frame's columns and plain words.
_GROUP_ALIASES: Final = {
    **{column.upper(): field for field, column in schema.USAGE_GROUP_BY.items()},
    "QUEUE": "QUEUE_ID",
    "FLEET": "FLEET_ID",
    "JOB": "JOB_ID",
    "USER": "USER_ID",
    "INSTANCE": "INSTANCE_TYPE",
    "LICENSE": "LICENSE_PRODUCT",
}


class _FarmBusy(Exception):
    """Raised inside botocore when the farm answers a start with ThrottlingException."""


def _busy(response: Any = None, **_: Any) -> None:
    # A `needs-retry` handler for Start: the service answers ThrottlingException while the farm
    # runs another aggregation. botocore would retry it blindly (ten attempts in adaptive mode);
    # this ends the call instead, so that the wait below knows why it waits and for how long.
    if response is None:
        return
    parsed = response[1] if isinstance(response, tuple) and len(response) > 1 else None
    if isinstance(parsed, Mapping) and parsed.get("Error", {}).get("Code") == "ThrottlingException":
        raise _FarmBusy


def parse_instant(value: Any, name: str, now: dt.datetime | None = None) -> dt.datetime:
    """Read a time as ``usage_frame`` takes it: a datetime, ISO 8601 text, ``"now"`` or ``"30d"``.

    Parameters
    ----------
    value
        A ``datetime`` (naive means UTC), a ``pandas.Timestamp``, a ``date`` (its midnight,
        UTC), ISO 8601 text (``"2026-03-01"``, ``"2026-03-01T12:00:00+01:00"``), ``"now"``, or
        a duration before now: a number and a unit, ``s``, ``m``/``min``, ``h``, ``d`` or ``w``
        (``"30d"``, ``"12h"``).
    name
        The argument, for the error.
    now
        What now is (default: the clock, UTC).

    Returns
    -------
    datetime.datetime
        Aware, in UTC.

    Raises
    ------
    ValueError
        When the value is none of those.

    Examples
    --------
    >>> import datetime as dt
    >>> from deadline_nb.fetch.usage import parse_instant
    >>> now = dt.datetime(2026, 4, 1, tzinfo=dt.timezone.utc)
    >>> parse_instant("30d", "start", now).isoformat()
    '2026-03-02T00:00:00+00:00'
    >>> parse_instant("2026-03-01T01:00:00+01:00", "start").isoformat()
    '2026-03-01T00:00:00+00:00'
    """
    import pandas as pd

    now = dt.datetime.now(dt.timezone.utc) if now is None else now
    must = "be a datetime, ISO 8601 text, 'now', or a duration before now such as '30d' or '12h'"
    if isinstance(value, str):
        text = value.strip()
        if text.lower() == "now":
            return now
        relative = _RELATIVE.match(text)
        if relative is not None:
            seconds = float(relative.group(1)) * _UNITS[relative.group(2).lower()]
            return now - dt.timedelta(seconds=seconds)
        try:
            value = pd.Timestamp(text)
        except (ValueError, TypeError):
            raise bad_argument(name, must, value) from None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if isinstance(value, pd.Timestamp):
        if value is pd.NaT:
            raise bad_argument(name, must, value)
        value = value.to_pydatetime()
    if not isinstance(value, dt.datetime):
        raise bad_argument(name, must, value)
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def _group_by(group_by: str | Iterable[str]) -> list[str]:
    """``group_by`` as the API's ``UsageGroupByField`` names: one or two, different."""
    items = [group_by] if isinstance(group_by, str) else list(group_by)
    must = (
        f"be one or two different fields of {list(schema.USAGE_GROUP_BY)} (or their columns "
        f"{list(schema.USAGE_GROUP_BY.values())})"
    )
    fields = []
    for item in items:
        key = str(item).strip().upper().replace("-", "_").replace(" ", "_")
        field = key if key in schema.USAGE_GROUP_BY else _GROUP_ALIASES.get(key.replace("_", ""))
        field = field or _GROUP_ALIASES.get(key)
        if field is None:
            raise bad_argument("group_by", must, group_by)
        fields.append(field)
    if not 1 <= len(fields) <= 2 or len(set(fields)) != len(fields):
        raise bad_argument("group_by", must, group_by)
    return fields


def _statistics(statistics: str | Iterable[str]) -> list[str]:
    items = [statistics] if isinstance(statistics, str) else list(statistics)
    names = [str(s).strip().upper() for s in items]
    must = f"be one to four different statistics of {list(schema.USAGE_STATISTICS)}"
    if (
        not 1 <= len(names) <= 4
        or len(set(names)) != len(names)
        or any(n not in schema.USAGE_STATISTICS for n in names)
    ):
        raise bad_argument("statistics", must, statistics)
    return [s for s in schema.USAGE_STATISTICS if s in names]  # the API's order: one cache key


def _ids(name: str, ids: str | Iterable[str] | None) -> list[str] | None:
    if ids is None:
        return None
    listed = [ids] if isinstance(ids, str) else [str(i) for i in ids]
    if not 1 <= len(listed) <= _MAX_RESOURCES:
        raise bad_argument(name, f"hold one to {_MAX_RESOURCES} ids", ids)
    return listed


def _request(
    queue_ids: list[str] | None,
    fleet_ids: list[str] | None,
    start: dt.datetime,
    end: dt.datetime,
    group_by: list[str],
    statistics: list[str],
    period: str | None,
    timezone: str | None,
) -> dict[str, Any]:
    resources = {"queueIds": queue_ids} if queue_ids is not None else {"fleetIds": fleet_ids}
    request: dict[str, Any] = {
        "resourceIds": resources,
        "startTime": start,
        "endTime": end,
        "groupBy": group_by,
        "statistics": statistics,
    }
    if period is not None:
        request["period"] = period
    if timezone is not None:
        request["timezone"] = timezone
    return request


def fetch_usage_statistics(
    farm_id: str | None = None,
    *,
    queue_ids: str | Iterable[str] | None = None,
    fleet_ids: str | Iterable[str] | None = None,
    start: Any,
    end: Any = "now",
    group_by: str | Iterable[str] = ("QUEUE_ID",),
    statistics: str | Iterable[str] = schema.USAGE_STATISTICS,
    period: str | None = None,
    timezone: str | None = None,
    busy_timeout: float = 300.0,
    timeout: float = 600.0,
    cache: CacheArg = True,
    refresh: bool = False,
    progress: bool = True,
    client: DeadlineCloudClient | None = None,
    boto3_session: boto3.Session | None = None,
) -> list[dict[str, Any]]:
    """Run a sessions-statistics aggregation and return its statistics, as boto3 gives them.

    Parameters are those of :func:`usage_frame`.

    Returns
    -------
    list of dict
        The ``statistics`` items of every page (from the cache: times as ISO 8601 text).

    Examples
    --------
    >>> from deadline_nb.fetch import fetch_usage_statistics
    >>> from deadline_nb.localfarm import LocalFarm
    >>> with LocalFarm() as farm:
    ...     items = fetch_usage_statistics(farm.farm_id,
    ...         queue_ids=[q["queueId"] for q in farm.model.queues],
    ...         start="2026-03-01", end="2026-04-01", group_by="USAGE_TYPE",
    ...         cache=False, progress=False, client=farm.client())
    >>> sorted(item["usageType"] for item in items)
    ['COMPUTE', 'LICENSE']
    """
    fields = _group_by(group_by)
    stats = _statistics(statistics)
    if period is not None:
        period = str(period).strip().upper()
        if period not in schema.USAGE_PERIODS:
            raise bad_argument("period", f"be None or one of {list(schema.USAGE_PERIODS)}", period)
    if timezone is not None and not _TIMEZONE.fullmatch(str(timezone)):
        raise bad_argument("timezone", "be UTC+hh:mm or UTC-hh:mm, such as 'UTC+08:00'", timezone)
    for name, value in (("busy_timeout", busy_timeout), ("timeout", timeout)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise bad_argument(name, "be a number of seconds, 0 or more", value)
    queues = _ids("queue_ids", queue_ids)
    fleets = _ids("fleet_ids", fleet_ids)
    if queues is not None and fleets is not None:
        raise bad_argument("fleet_ids", "be None when `queue_ids` is given", fleet_ids)
    now = dt.datetime.now(dt.timezone.utc)
    begin = parse_instant(start, "start", now)
    finish = parse_instant(end, "end", now)
    if begin > finish:
        raise bad_argument("start", f"be before `end` ({finish.isoformat()})", start)
    if queues is None and fleets is None:
        ids = resolve_ids(farm_id, None, needs=2)
        farm, queues = ids.farm_id, [ids.queue_id]
    else:
        farm = resolve_ids(farm_id, needs=1).farm_id
    if begin == finish:  # an empty window has no usage: nothing to ask
        return []
    request = _request(queues, fleets, begin, finish, fields, stats, period, timezone)
    key = json.dumps(
        {**request, "startTime": begin.isoformat(), "endTime": finish.isoformat()},
        sort_keys=True,
        separators=(",", ":"),
    )
    ended = finish <= now
    c = resolve_client(client, boto3_session)
    with CacheHandle(cache if ended else False) as store:
        if store is not None and not refresh:
            kept = store.aggregation(farm, key)
            if kept is not None:
                return kept
        items = _aggregate(c, farm, request, busy_timeout, timeout, progress)
        if store is not None:
            store.put_aggregation(farm, key, items)
    return items


def _denied(error: AccessDeniedError, operation: str, farm_id: str) -> AccessDeniedError:
    denied = AccessDeniedError(
        f"Access denied: your AWS identity may not call {operation} on farm {farm_id}, which "
        "reading usage and cost needs (deadline:StartSessionsStatisticsAggregation and "
        "deadline:GetSessionsStatisticsAggregation); ask your AWS admin to grant both, or use "
        "a profile that has them (profile=...).",
        operation=operation,
        code=error.code,
        farm_id=farm_id,
    )
    return denied


def _call(operation: str, farm_id: str, call: Any, **params: Any) -> dict[str, Any]:
    """One call, its AWS errors as the package's; a denial names the permissions missing."""
    try:
        with aws_errors(operation, farm_id=farm_id):
            result: dict[str, Any] = call(farmId=farm_id, **params)
            return result
    except AccessDeniedError as error:
        raise _denied(error, operation, farm_id) from error.__cause__
    except NotFoundError as error:
        if error.resource_type == "aggregation" or "aggregationId" in params:
            raise NotFoundError(
                f"The usage aggregation {params.get('aggregationId')} of farm {farm_id} is not "
                "there any more (its results last about an hour after it starts): run it again.",
                operation=operation,
                code=error.code,
                farm_id=farm_id,
            ) from error.__cause__
        raise


def _aggregate(
    c: DeadlineCloudClient,
    farm_id: str,
    request: Mapping[str, Any],
    busy_timeout: float,
    timeout: float,
    progress: bool,
) -> list[dict[str, Any]]:
    """Start the aggregation (waiting while the farm is busy), poll it, read every page."""
    from tqdm.auto import tqdm

    bar: Any = tqdm(
        total=None,
        desc=f"usage of farm {farm_id}",
        disable=not progress,
        delay=_BAR_DELAY,
        leave=False,
        bar_format="{desc}: {elapsed} {postfix}",
    )
    try:
        aggregation_id = _start(c, farm_id, request, busy_timeout, bar)
        bar.set_postfix_str("IN_PROGRESS")
        deadline = time.monotonic() + timeout
        delay = _POLL_FIRST
        while True:
            page = _call(
                _GET, farm_id, c.get_sessions_statistics_aggregation, aggregationId=aggregation_id
            )
            status = str(page.get("status"))
            bar.set_postfix_str(status)
            if status == "COMPLETED":
                break
            if status in ("FAILED", "TIMEOUT"):
                message = str(page.get("statusMessage") or "no message").rstrip(".")
                raise ServiceError(
                    f"The usage aggregation of farm {farm_id} ended {status} ({message}): ask "
                    "for a shorter window, fewer queues or fleets, or a longer period.",
                    operation=_GET,
                    code=status,
                    farm_id=farm_id,
                )
            if status != "IN_PROGRESS":
                raise ServiceError(
                    f"The usage aggregation of farm {farm_id} has a status this version does "
                    f"not know ({status}); upgrade deadline_nb.",
                    operation=_GET,
                    code=status,
                    farm_id=farm_id,
                )
            left = deadline - time.monotonic()
            if left <= 0:
                raise ServiceError(
                    f"The usage aggregation {aggregation_id} of farm {farm_id} was still "
                    f"IN_PROGRESS after {timeout:g} s; pass a longer timeout, or ask for less.",
                    operation=_GET,
                    code="IN_PROGRESS",
                    farm_id=farm_id,
                )
            time.sleep(min(delay, left))
            delay = min(delay * 1.5, _POLL_MAX)
        items = list(page.get("statistics", []))
        token = page.get("nextToken")
        while token:
            page = _call(
                _GET,
                farm_id,
                c.get_sessions_statistics_aggregation,
                aggregationId=aggregation_id,
                nextToken=token,
            )
            items.extend(page.get("statistics", []))
            token = page.get("nextToken")
        return items
    finally:
        bar.close()


def _start(
    c: DeadlineCloudClient,
    farm_id: str,
    request: Mapping[str, Any],
    busy_timeout: float,
    bar: Any,
) -> str:
    """Start the aggregation; while the farm runs another, wait with backoff, up to a limit."""
    event = f"needs-retry.deadline.{_START}"
    hook = "deadline-nb-usage-busy"
    started = time.monotonic()
    delay = _BUSY_FIRST
    while True:
        # Only around this call: the caller's own calls on their client stay botocore's.
        c.meta.events.register_first(event, _busy, unique_id=hook)
        try:
            answer = _call(_START, farm_id, c.start_sessions_statistics_aggregation, **request)
            return str(answer["aggregationId"])
        except _FarmBusy:
            waited = time.monotonic() - started
            if waited >= busy_timeout:
                raise ServiceError(
                    f"The farm {farm_id} is busy with another usage aggregation (a farm runs "
                    f"one at a time) and still was after {waited:.1f} s of waiting; try again "
                    "later, or pass a longer busy_timeout.",
                    operation=_START,
                    code="ThrottlingException",
                    farm_id=farm_id,
                ) from None
            bar.set_postfix_str("waiting: the farm is busy with another aggregation")
            time.sleep(min(delay, busy_timeout - waited))
            delay = min(delay * 2, _BUSY_MAX)
        finally:
            c.meta.events.unregister(event, unique_id=hook)


def usage_frame(
    farm_id: str | None = None,
    *,
    queue_ids: str | Iterable[str] | None = None,
    fleet_ids: str | Iterable[str] | None = None,
    start: Any,
    end: Any = "now",
    group_by: str | Iterable[str] = ("QUEUE_ID",),
    statistics: str | Iterable[str] = schema.USAGE_STATISTICS,
    period: str | None = None,
    timezone: str | None = None,
    busy_timeout: float = 300.0,
    timeout: float = 600.0,
    cache: CacheArg = True,
    refresh: bool = False,
    progress: bool = True,
    client: DeadlineCloudClient | None = None,
    boto3_session: boto3.Session | None = None,
) -> pd.DataFrame:
    """Return a farm's usage and estimated cost, one row per group and period.

    Parameters
    ----------
    farm_id
        The farm. Default: ``defaults.farm_id`` of the ``deadline`` config.
    queue_ids, fleet_ids
        One to ten queues, or one to ten fleets (not both). Neither: the configured
        ``defaults.queue_id``.
    start, end
        The window: datetimes (naive means UTC), ISO 8601 text, ``"now"``, or a duration
        before now such as ``"30d"`` (for ``start``). ``end`` defaults to now. The same
        instant twice is an empty window: an empty frame, no call.
    group_by
        One or two of ``QUEUE_ID``, ``FLEET_ID``, ``JOB_ID``, ``USER_ID``, ``USAGE_TYPE``,
        ``INSTANCE_TYPE``, ``LICENSE_PRODUCT`` (or the columns, ``"userId"``, or plain words,
        ``"user"``).
    statistics
        One to four of ``SUM``, ``MIN``, ``MAX``, ``AVG``: which of the cost and runtime
        columns are filled (the others are NA). All four by default.
    period
        ``HOURLY``, ``DAILY``, ``WEEKLY`` or ``MONTHLY`` for a row per period; None (the
        default) for one row per group over the whole window.
    timezone
        ``UTC+hh:mm`` or ``UTC-hh:mm``: where the periods' days begin (the service's UTC by
        default).
    busy_timeout
        Seconds to wait for a farm busy with another aggregation (a farm runs one at a time)
        before giving up with a :class:`~deadline_nb.errors.ServiceError` that says so.
    timeout
        Seconds the aggregation may stay ``IN_PROGRESS``.
    cache, refresh, progress, client, boto3_session
        As in :func:`deadline_nb.fetch_session_actions`. Only a window that has ended is
        cached (it cannot change); ``refresh=True`` asks again anyway.

    Returns
    -------
    pandas.DataFrame
        The columns of :data:`deadline_nb.schema.USAGE_COLUMNS`, sorted by ``startTime`` and
        group: ``costInUsd.sum`` is the service's estimated cost in USD, ``runtimeInSeconds.sum``
        the run time.

    Raises
    ------
    ValueError
        For a bad argument, before any call.
    AccessDeniedError
        When the identity may not call the statistics operations; the sentence names both
        permissions.
    ServiceError
        When the aggregation ends ``FAILED`` or ``TIMEOUT``, stays in progress past
        ``timeout``, or the farm stays busy past ``busy_timeout``.
    NotFoundError, CredentialsError, NoRegionError
        As in :func:`deadline_nb.fetch_session_actions`.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm import LocalFarm
    >>> with LocalFarm() as farm:
    ...     lighting = next(q["queueId"] for q in farm.model.queues
    ...                     if q["displayName"] == "Lighting")
    ...     usage = dnb.usage_frame(farm.farm_id, queue_ids=[lighting], start="2026-03-01",
    ...         end="2026-04-01", group_by="user", period="DAILY",
    ...         cache=False, progress=False, client=farm.client())
    >>> usage["startTime"].dt.strftime("%m-%d").tolist()
    ['03-02', '03-06']
    >>> round(float(usage["costInUsd.sum"].sum()), 2)
    88.82
    """
    from ..frames.usage import statistics_frame

    return statistics_frame(
        fetch_usage_statistics(
            farm_id,
            queue_ids=queue_ids,
            fleet_ids=fleet_ids,
            start=start,
            end=end,
            group_by=group_by,
            statistics=statistics,
            period=period,
            timezone=timezone,
            busy_timeout=busy_timeout,
            timeout=timeout,
            cache=cache,
            refresh=refresh,
            progress=progress,
            client=client,
            boto3_session=boto3_session,
        )
    )


def job_cost(job: Job) -> pd.DataFrame:
    """The job's estimated cost: the aggregation grouped by job over its lifetime, in its queue.

    Parameters
    ----------
    job
        A job from :func:`deadline_nb.load_job`; its client, cache and progress options are
        used.

    Returns
    -------
    pandas.DataFrame
        One row (the job), the columns of :data:`deadline_nb.schema.USAGE_COLUMNS` with
        ``queueId``, ``jobId`` and ``jobName`` filled. A job that never started, or that the
        service has no usage for, has ``count`` 0 and cost and runtime sums of 0.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm import LocalFarm
    >>> with LocalFarm() as farm:
    ...     j = farm.job_by_name("render")
    ...     job = dnb.load_job(farm.farm_id, j.queue_id, j.job_id,
    ...                        client=farm.client(), cache=False, progress=False)
    ...     cost = job.cost
    >>> len(cost), cost["jobName"].iloc[0], round(float(cost["costInUsd.sum"].iloc[0]), 2)
    (1, 'sq010_sh020_lighting_v003', 80.37)
    """
    from ..frames.usage import statistics_frame

    record = job.job
    started = record.get("startedAt")
    options = job._options
    found: list[dict[str, Any]] = []
    window: tuple[Any, Any] = (started, started)
    if started is not None:
        # From submission (a session can start before the job's first task run) to an hour
        # past the end (its sessions exit their environments after the last task): grouped by
        # job, the wider window adds nothing of other jobs.
        begin = parse_instant(record.get("createdAt", started), "createdAt")
        begin = begin.replace(microsecond=0)  # whole seconds: a stable cache key
        now = dt.datetime.now(dt.timezone.utc)
        ended = record.get("endedAt") if job.finished else None
        finish = now
        if ended is not None:
            finish = min(now, parse_instant(ended, "endedAt").replace(microsecond=0) + _AFTER)
        window = (begin, finish)
        items = fetch_usage_statistics(
            job.farm_id,
            queue_ids=[job.queue_id],
            start=begin,
            end=finish,
            group_by=("JOB_ID",),
            cache=options.get("cache", True),
            progress=options.get("progress", True),
            client=options.get("client"),
            boto3_session=job._boto3_session if options.get("client") is None else None,
        )
        found = [item for item in items if item.get("jobId") == job.job_id]
    if not found:
        found = [
            {
                "count": 0,
                "costInUsd": {"sum": 0.0},
                "runtimeInSeconds": {"sum": 0.0},
                "aggregationStartTime": window[0],
                "aggregationEndTime": window[1],
            }
        ]
    found = [{**found[0], "queueId": job.queue_id, "jobId": job.job_id, "jobName": job.name}]
    frame: pd.DataFrame = statistics_frame(found)
    return frame


def _job_cost_usd(job: Job) -> float | None:
    import pandas as pd

    value = job.cost[schema.USAGE_COST].iloc[0]
    return None if pd.isna(value) else float(value)


def cost_per_step(job: Job) -> pd.DataFrame:
    """The job's estimated cost spread over its steps, by their share of task-run time.

    Fetches ``job.cost`` on first use. An estimate of an estimate: see
    :func:`deadline_nb.frames.usage.step_costs`.

    Parameters
    ----------
    job
        A job from :func:`deadline_nb.load_job`.

    Returns
    -------
    pandas.DataFrame
        ``stepId``, ``stepName``, ``taskRuns``, ``taskRunSeconds``, ``share``, ``estCostUsd``.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm import LocalFarm
    >>> with LocalFarm() as farm:
    ...     j = farm.job_by_name("simulation")
    ...     job = dnb.load_job(farm.farm_id, j.queue_id, j.job_id,
    ...                        client=farm.client(), cache=False, progress=False)
    ...     steps = dnb.cost_per_step(job)
    >>> steps["stepName"].tolist(), round(float(steps["share"].sum()), 6)
    (['Simulate', 'Mesh'], 1.0)
    """
    from ..frames.usage import step_costs

    return step_costs(job.actions, _job_cost_usd(job))


def cost_per_frame(job: Job, parameter: str = "Frame") -> pd.DataFrame:
    """The job's estimated cost spread over its frames (a task parameter), by task-run time.

    Parameters
    ----------
    job
        A job from :func:`deadline_nb.load_job`.
    parameter
        The task parameter that names a frame (``param.<parameter>``).

    Returns
    -------
    pandas.DataFrame
        One row per value of the parameter with a finished task run: the parameter's column,
        ``taskRuns``, ``taskRunSeconds`` and ``estCostUsd``, in the parameter's order.

    Raises
    ------
    ValueError
        When the job's actions have no such parameter.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm import LocalFarm
    >>> with LocalFarm() as farm:
    ...     j = farm.job_by_name("render")
    ...     job = dnb.load_job(farm.farm_id, j.queue_id, j.job_id,
    ...                        client=farm.client(), cache=False, progress=False)
    ...     frames = dnb.cost_per_frame(job)
    >>> len(frames), bool(abs(frames["estCostUsd"].sum() - job.cost["costInUsd.sum"][0]) < 1e-6)
    (240, True)
    """
    import numpy as np
    import pandas as pd

    from ..frames.usage import action_costs

    column = f"{schema.PARAMETER_PREFIX}{parameter}"
    actions = job.actions
    if column not in actions.columns:
        known = [
            c.removeprefix(schema.PARAMETER_PREFIX)
            for c in actions.columns
            if c.startswith(schema.PARAMETER_PREFIX)
        ]
        raise bad_argument("parameter", f"be one of the job's task parameters {known}", parameter)
    costs = action_costs(actions, _job_cost_usd(job))
    seconds = actions["duration"].dt.total_seconds()
    chosen = costs.notna().to_numpy(dtype=bool)
    table = pd.DataFrame(
        {
            parameter: actions[column].to_numpy()[chosen],
            "seconds": seconds.to_numpy(dtype=np.float64, na_value=np.nan)[chosen],
            "cost": costs.to_numpy(dtype=np.float64, na_value=np.nan)[chosen],
        }
    )
    grouped = table.groupby(parameter, sort=True).agg(
        taskRuns=("seconds", "size"), taskRunSeconds=("seconds", "sum"), estCostUsd=("cost", "sum")
    )
    out = grouped.reset_index()
    out[parameter] = out[parameter].astype(actions[column].dtype)
    return out.astype(
        {
            "taskRuns": pd.Int64Dtype(),
            "taskRunSeconds": pd.Float64Dtype(),
            "estCostUsd": pd.Float64Dtype(),
        }
    )
