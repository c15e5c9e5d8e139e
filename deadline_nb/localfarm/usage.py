"""The farm's usage statistics: ``StartSessionsStatisticsAggregation`` and its results.

What the service documents, and this farm does the same way (botocore's model for ``deadline``,
2023-10-12, and the Deadline Cloud user guide's "Track spending and usage"):

* ``StartSessionsStatisticsAggregation`` starts an asynchronous aggregation over one to ten
  queues or fleets and a time window, grouped by one or two of ``UsageGroupByField``, with one
  to four of ``UsageStatistic``, optionally split into ``Period`` buckets in a ``UTC+hh:mm``
  time zone; it answers an ``aggregationId``.
* ``GetSessionsStatisticsAggregation`` answers its ``status`` (``IN_PROGRESS``, then
  ``COMPLETED``, or ``FAILED``/``TIMEOUT`` with a ``statusMessage``) and, once completed, the
  ``statistics`` a page at a time (``nextToken``).
* A farm runs one aggregation at a time: a start while one is ``IN_PROGRESS`` is answered with a
  ``ThrottlingException`` (as the ``status`` member's documentation says). Results are kept for
  one hour after the start (here: an hour of the farm's clock), then the id is not found.
* Costs are estimates: run time times a rate, times the farm's ``costScaleFactor``; a
  customer-managed fleet's compute at $1 per worker hour (the user guide's assumption); idle
  workers cost nothing.

This farm's usage records come from its sessions, as the API's name says: one ``COMPUTE``
record per session (its run time, start to end, or to the aggregation's start for a running
session), and one ``LICENSE`` record per task run that held the farm's license limit on a
service-managed fleet (product ``arnold``). Instance prices are this farm's own round numbers
(:data:`INSTANCE_PRICES`), not AWS's. Everything is deterministic: the same farm, clock and
request give the same statistics.

Knobs for tests, on :class:`FarmStatistics` (``farm.statistics``): ``seconds`` (how long, in
wall-clock seconds, an aggregation stays ``IN_PROGRESS``) and ``outcome`` (how it ends:
``"COMPLETED"``, ``"FAILED"`` or ``"TIMEOUT"``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final

from ..schema import USAGE_AGGREGATION_STATUSES, USAGE_GROUP_BY
from .exceptions import ApiError, not_found, validation_error
from .ids import stable_hex
from .model import FarmModel

__all__ = [
    "CUSTOMER_MANAGED_RATE",
    "INSTANCE_PRICES",
    "LICENSE_PRICES",
    "RESULTS_SECONDS",
    "SPOT_SHARE",
    "FarmStatistics",
    "usage_records",
]

#: This farm's on-demand price of each instance type, in USD per hour: round numbers of its own,
#: not AWS's prices.
INSTANCE_PRICES: Final[Mapping[str, float]] = MappingProxyType(
    {
        "c6i.8xlarge": 1.36,
        "m6i.8xlarge": 1.54,
        "c6a.8xlarge": 1.22,
        "c5a.8xlarge": 1.23,
        "m6a.8xlarge": 1.38,
        "g5.4xlarge": 1.62,
        "g6.4xlarge": 1.32,
        "c7a.4xlarge": 0.82,
        "c6a.4xlarge": 0.61,
    }
)
#: A spot fleet's instances cost this share of the on-demand price.
SPOT_SHARE: Final = 0.35
#: USD per worker hour of a customer-managed fleet (the user guide's cost assumption).
CUSTOMER_MANAGED_RATE: Final = 1.0
#: USD per hour of usage-based licensing, by product: this farm's own number.
LICENSE_PRICES: Final[Mapping[str, float]] = MappingProxyType({"arnold": 0.5})
#: How long (seconds of the farm's clock) an aggregation's results are kept after its start.
RESULTS_SECONDS: Final = 3600.0

_OUTCOMES: Final = USAGE_AGGREGATION_STATUSES[1:]  # TIMEOUT, FAILED, COMPLETED
_PAGE: Final = 100


@dataclasses.dataclass(frozen=True)
class _Record:
    """One usage record: who used what, when (members named as the API names them)."""

    queueId: str
    fleetId: str
    jobId: str
    jobName: str
    userId: str
    usageType: str
    instanceType: str | None
    licenseProduct: str | None
    begin: float
    end: float
    rate: float  # USD per hour, before the farm's cost scale factor


@dataclasses.dataclass
class _Aggregation:
    aggregation_id: str
    started_wall: float  # time.monotonic() at the start
    started_at: float  # the farm's clock at the start
    seconds: float
    outcome: str
    statistics: list[dict[str, Any]]
    query: dict[str, Any]


def _fleet_rates(model: FarmModel) -> dict[str, tuple[bool, float]]:
    """Fleet id -> (service-managed, share of the on-demand price)."""
    out: dict[str, tuple[bool, float]] = {}
    for fleet in model.fleets:
        managed = fleet["configuration"].get("serviceManagedEc2")
        if managed is None:
            out[fleet["fleetId"]] = (False, 1.0)
        else:
            spot = managed["instanceMarketOptions"]["type"] == "spot"
            out[fleet["fleetId"]] = (True, SPOT_SHARE if spot else 1.0)
    return out


def usage_records(model: FarmModel, at: float) -> list[_Record]:
    """Every usage record of the farm as its clock shows it at ``at``.

    Parameters
    ----------
    model
        The farm.
    at
        Epoch seconds on the farm's clock: a running session counts up to here.

    Returns
    -------
    list
        ``COMPUTE`` records (one per session) and ``LICENSE`` records (one per task run that
        held the license limit on a service-managed fleet).

    Examples
    --------
    >>> from deadline_nb.localfarm.model import FarmModel
    >>> from deadline_nb.localfarm.usage import usage_records
    >>> model = FarmModel(seed=0)
    >>> records = usage_records(model, model.now())
    >>> sorted({r.usageType for r in records})
    ['COMPUTE', 'LICENSE']
    """
    fleets = _fleet_rates(model)
    products = {model.limit_id: "arnold"}
    records: list[_Record] = []
    for spec in model.jobs:
        view = model.view(spec.job_id, at)
        user = str(view.job["createdBy"])
        for session in view.sessions:
            begin = session.get("startedAt")
            if begin is None:
                continue
            end = session.get("endedAt", at)
            managed, share = fleets.get(session["fleetId"], (False, 1.0))
            instance = session.get("hostProperties", {}).get("ec2InstanceType")
            if managed and instance is not None:
                rate = INSTANCE_PRICES.get(instance, 1.0) * share
            else:
                rate, instance = CUSTOMER_MANAGED_RATE, None
            records.append(
                _Record(
                    spec.queue_id,
                    session["fleetId"],
                    spec.job_id,
                    spec.name,
                    user,
                    "COMPUTE",
                    instance,
                    None,
                    float(begin),
                    float(end),
                    rate,
                )
            )
        fleet_of = {s["sessionId"]: s["fleetId"] for s in view.sessions}
        for action in view.actions:
            begin = action.get("startedAt")
            limits = action.get("acquiredLimits") or []
            fleet = fleet_of.get(action["sessionId"], "")
            if begin is None or not fleets.get(fleet, (False, 1.0))[0]:
                continue
            for limit in limits:
                product = products.get(limit["limitId"])
                if product is None:
                    continue
                records.append(
                    _Record(
                        spec.queue_id,
                        fleet,
                        spec.job_id,
                        spec.name,
                        user,
                        "LICENSE",
                        None,
                        product,
                        float(begin),
                        float(action.get("endedAt", at)),
                        LICENSE_PRICES[product] * limit.get("count", 1),
                    )
                )
    return records


def _offset(timezone: str | None) -> float:
    """``UTC+08:00`` -> seconds east of UTC (the pattern is checked on the way in)."""
    if not timezone:
        return 0.0
    sign = -1.0 if timezone[3] == "-" else 1.0
    return sign * (int(timezone[4:6]) * 3600 + int(timezone[7:9]) * 60)


def _bucket_start(t: float, period: str, offset: float) -> float:
    """The start of the ``period`` bucket holding ``t``, in a zone ``offset`` s east of UTC."""
    local = dt.datetime.fromtimestamp(t + offset, dt.timezone.utc)
    if period == "HOURLY":
        local = local.replace(minute=0, second=0, microsecond=0)
    else:
        local = local.replace(hour=0, minute=0, second=0, microsecond=0)
        if period == "WEEKLY":  # weeks start on Monday, as ISO 8601 counts them
            local -= dt.timedelta(days=local.weekday())
        elif period == "MONTHLY":
            local = local.replace(day=1)
    return local.timestamp() - offset


def _next_bucket(start: float, period: str, offset: float) -> float:
    local = dt.datetime.fromtimestamp(start + offset, dt.timezone.utc)
    if period == "HOURLY":
        local += dt.timedelta(hours=1)
    elif period == "DAILY":
        local += dt.timedelta(days=1)
    elif period == "WEEKLY":
        local += dt.timedelta(days=7)
    else:
        local = (local.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return local.timestamp() - offset


def buckets(
    start: float, end: float, period: str | None, timezone: str | None = None
) -> list[tuple[float, float]]:
    """The window ``[start, end)`` cut into ``period`` buckets (the whole window without one).

    Parameters
    ----------
    start, end
        Epoch seconds.
    period
        ``HOURLY``, ``DAILY``, ``WEEKLY``, ``MONTHLY`` or None.
    timezone
        ``UTC+hh:mm`` or ``UTC-hh:mm``: where days, weeks and months begin; UTC by default.

    Returns
    -------
    list of tuple
        ``(begin, end)`` of each bucket, clipped to the window.

    Examples
    --------
    >>> from deadline_nb.localfarm.usage import buckets
    >>> day = 86400.0
    >>> [(b / day, e / day) for b, e in buckets(0.5 * day, 2.25 * day, "DAILY")]
    [(0.5, 1.0), (1.0, 2.0), (2.0, 2.25)]
    """
    if period is None:
        return [(start, end)]
    offset = _offset(timezone)
    out = []
    lo = _bucket_start(start, period, offset)
    while lo < end:
        hi = _next_bucket(lo, period, offset)
        out.append((max(lo, start), min(hi, end)))
        lo = hi
    return out


def aggregate(
    records: Iterable[_Record],
    query: Mapping[str, Any],
    start: float,
    end: float,
    scale: float,
) -> list[dict[str, Any]]:
    """The ``statistics`` of an aggregation: one item per group and bucket, in order.

    Parameters
    ----------
    records
        The farm's usage records (:func:`usage_records`).
    query
        The request: ``resourceIds``, ``groupBy``, ``statistics``, ``period``, ``timezone``.
    start, end
        The window, epoch seconds.
    scale
        The farm's ``costScaleFactor``.

    Returns
    -------
    list of dict
        ``Statistics`` items, times as epoch seconds.

    Examples
    --------
    >>> from deadline_nb.localfarm.model import EPOCH, FarmModel
    >>> from deadline_nb.localfarm.usage import aggregate, usage_records
    >>> model = FarmModel(seed=0)
    >>> query = {"resourceIds": {"queueIds": [q["queueId"] for q in model.queues]},
    ...          "groupBy": ["USAGE_TYPE"], "statistics": ["SUM"]}
    >>> items = aggregate(usage_records(model, model.now()), query, EPOCH, EPOCH + 7 * 86400, 1.0)
    >>> [(i["usageType"], i["count"]) for i in items]
    [('COMPUTE', 126), ('LICENSE', 240)]
    """
    resources = query["resourceIds"]
    key, wanted = (
        ("queueId", resources["queueIds"])
        if "queueIds" in resources
        else (
            "fleetId",
            resources["fleetIds"],
        )
    )
    members = [USAGE_GROUP_BY[g] for g in query["groupBy"]]
    chosen = [r for r in records if getattr(r, key) in wanted and r.begin < end and r.end > start]
    cut = buckets(start, end, query.get("period"), query.get("timezone"))
    groups: dict[tuple[Any, ...], list[tuple[float, float]]] = {}
    names: dict[str, str] = {}
    for record in chosen:
        names[record.jobId] = record.jobName
        for index, (lo, hi) in enumerate(cut):
            seconds = min(record.end, hi) - max(record.begin, lo)
            if seconds <= 0:
                continue
            group = (index, *(getattr(record, m) for m in members))
            groups.setdefault(group, []).append(
                (round(seconds, 3), round(seconds / 3600 * record.rate * scale, 6))
            )
    items = []
    asked = [s.lower() for s in query["statistics"]]
    for group in sorted(groups, key=lambda g: (g[0], *(str(v) for v in g[1:]))):
        values = groups[group]
        item: dict[str, Any] = {m: v for m, v in zip(members, group[1:], strict=True) if v}
        if "jobId" in item:
            item["jobName"] = names[item["jobId"]]
        item["count"] = len(values)
        item["costInUsd"] = _stats([c for _, c in values], asked)
        item["runtimeInSeconds"] = _stats([s for s, _ in values], asked)
        item["aggregationStartTime"], item["aggregationEndTime"] = cut[group[0]]
        items.append(item)
    return items


def _stats(values: list[float], asked: list[str]) -> dict[str, float]:
    every = {
        "sum": round(sum(values), 6),
        "min": min(values),
        "max": max(values),
        "avg": round(sum(values) / len(values), 6),
    }
    return {name: every[name] for name in asked}


class FarmStatistics:
    """The farm's usage aggregations: started, in progress, completed, expired.

    Parameters
    ----------
    model
        The farm.

    Attributes
    ----------
    seconds : float
        How long (wall-clock seconds) an aggregation stays ``IN_PROGRESS``; 0.5 by default.
    outcome : str
        How an aggregation started from now on ends: ``"COMPLETED"`` (the default),
        ``"FAILED"`` or ``"TIMEOUT"``.

    Examples
    --------
    >>> from deadline_nb.localfarm.model import EPOCH, FarmModel
    >>> from deadline_nb.localfarm.usage import FarmStatistics
    >>> model = FarmModel(seed=0)
    >>> stats = FarmStatistics(model)
    >>> stats.seconds = 0.0
    >>> started = stats.start({"farmId": model.farm_id, "startTime": EPOCH,
    ...     "endTime": EPOCH + 86400, "groupBy": ["QUEUE_ID"], "statistics": ["SUM"],
    ...     "resourceIds": {"queueIds": [model.queues[0]["queueId"]]}})
    >>> answer = stats.get({"farmId": model.farm_id, **started})
    >>> answer["status"], len(answer["statistics"])
    ('COMPLETED', 1)
    """

    def __init__(self, model: FarmModel) -> None:
        self.model = model
        self.seconds = 0.5
        self.outcome = "COMPLETED"
        self._lock = threading.Lock()
        self._aggregations: dict[str, _Aggregation] = {}
        self._started = 0

    def _status(self, aggregation: _Aggregation) -> str:
        if time.monotonic() - aggregation.started_wall < aggregation.seconds:
            return "IN_PROGRESS"
        return aggregation.outcome

    def start(self, p: Mapping[str, Any]) -> dict[str, Any]:
        """Answer ``StartSessionsStatisticsAggregation`` (the farm id already checked).

        Parameters
        ----------
        p
            The request, validated against its shape; times as epoch seconds.

        Returns
        -------
        dict
            ``{"aggregationId": ...}``.

        Raises
        ------
        ApiError
            ``ResourceNotFoundException`` for a queue or fleet the farm does not have;
            ``ValidationException`` for an empty or reversed window or a field grouped by
            twice; ``ThrottlingException`` while another aggregation is in progress.
        """
        resources = p["resourceIds"]
        if "queueIds" in resources:
            known = {q["queueId"] for q in self.model.queues}
            for queue_id in resources["queueIds"]:
                if queue_id not in known:
                    raise not_found("queue", queue_id, farmId=p["farmId"])
        else:
            known = {f["fleetId"] for f in self.model.fleets}
            for fleet_id in resources["fleetIds"]:
                if fleet_id not in known:
                    raise not_found("fleet", fleet_id, farmId=p["farmId"])
        start, end = float(p["startTime"]), float(p["endTime"])
        if not start < end:
            raise validation_error(
                "The startTime must be before the endTime.",
                "FIELD_VALIDATION_FAILED",
                ["startTime: not before endTime"],
            )
        if len(set(p["groupBy"])) != len(p["groupBy"]):
            raise validation_error(
                "The groupBy fields must differ.",
                "FIELD_VALIDATION_FAILED",
                ["groupBy: a field is repeated"],
            )
        outcome = self.outcome
        if outcome not in _OUTCOMES:
            raise ValueError(f"outcome must be one of {list(_OUTCOMES)}, not {outcome!r}")
        with self._lock:
            for other in self._aggregations.values():
                if self._status(other) == "IN_PROGRESS":
                    raise ApiError(
                        "ThrottlingException",
                        "An aggregation is already in progress for this farm: only one can "
                        "run at a time.",
                        serviceCode="deadline",
                    )
            self._started += 1
            aggregation_id = stable_hex(self.model.seed, "aggregation", self._started)
            at = self.model.now()
            query = {k: p[k] for k in ("resourceIds", "groupBy", "statistics") if k in p}
            query.update({k: p[k] for k in ("period", "timezone") if k in p})
            statistics = []
            if outcome == "COMPLETED":
                statistics = aggregate(
                    usage_records(self.model, at),
                    query,
                    start,
                    end,
                    float(self.model.farm.get("costScaleFactor", 1.0)),
                )
            self._aggregations[aggregation_id] = _Aggregation(
                aggregation_id, time.monotonic(), at, self.seconds, outcome, statistics, query
            )
        return {"aggregationId": aggregation_id}

    def get(self, p: Mapping[str, Any]) -> dict[str, Any]:
        """Answer ``GetSessionsStatisticsAggregation`` (the farm id already checked).

        Parameters
        ----------
        p
            The request: ``aggregationId``, ``nextToken``, ``maxResults``.

        Returns
        -------
        dict
            ``status``, and ``statusMessage`` or a page of ``statistics`` with ``nextToken``.

        Raises
        ------
        ApiError
            ``ResourceNotFoundException`` for an id never started, or whose results expired.
        """
        with self._lock:
            aggregation = self._aggregations.get(p["aggregationId"])
            if (
                aggregation is not None
                and self.model.now() - aggregation.started_at > RESULTS_SECONDS
            ):
                del self._aggregations[p["aggregationId"]]
                aggregation = None
        if aggregation is None:
            raise not_found("aggregation", p["aggregationId"], farmId=p["farmId"])
        status = self._status(aggregation)
        if status == "IN_PROGRESS":
            return {"status": status}
        if status == "FAILED":
            return {
                "status": status,
                "statusMessage": "The aggregation failed: the results were too large. Reduce "
                "the time frame or the number of queues or fleets, or increase the period.",
            }
        if status == "TIMEOUT":
            return {
                "status": status,
                "statusMessage": "The aggregation timed out. Reduce the time frame or the "
                "number of queues or fleets, or increase the period.",
            }
        return {"status": status, **_page(aggregation, p)}


def _page(aggregation: _Aggregation, p: Mapping[str, Any]) -> dict[str, Any]:
    """One page of a completed aggregation's statistics; the token is the next offset."""
    size = int(p.get("maxResults", _PAGE))
    token = p.get("nextToken")
    offset = 0
    if token:
        prefix = aggregation.aggregation_id + ":"
        tail = token.removeprefix(prefix)
        if (
            not token.startswith(prefix)
            or not tail.isdigit()
            or int(tail) > len(aggregation.statistics)
        ):
            raise validation_error(
                "The nextToken is not valid for this request.",
                "FIELD_VALIDATION_FAILED",
                ["nextToken: not a token of this aggregation"],
            )
        offset = int(tail)
    out: dict[str, Any] = {"statistics": aggregation.statistics[offset : offset + size]}
    if offset + size < len(aggregation.statistics):
        out["nextToken"] = f"{aggregation.aggregation_id}:{offset + size}"
    return out
