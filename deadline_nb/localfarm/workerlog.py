"""The worker logs of the local farm: the agent's host-metrics lines, made when they are read.

Each worker has a stream ``<workerId>`` in its fleet's group ``/aws/deadline/<farmId>/<fleetId>``
(the worker agent's ``docs/logging.md``; ``GetWorker``'s ``log`` names it). The real agent
sends its worker log in the structured form only (``log_sync/cloudwatch.py``: ``%(json)s``),
so every line here is one JSON object: a start line, then a ``Metrics``/``System`` record
(``log_messages.py``, ``MetricsLogEvent``; figures from ``metrics.py``, ``HostMetricsLogger``)
every :data:`INTERVAL_SECONDS` (the agent's default ``host_metrics_logging_interval_seconds``)
from the worker's creation, as long as it lives. :mod:`deadline_nb.frames.metrics` has the
sources.

A stream spans months at one line a minute, so nothing is stored: an event is computed from
its position (the sample's instant, then what the worker was doing then, from the simulations
of the jobs of its fleet), and :class:`WorkerLog` hands out the events as lazy sequences that
the CloudWatch Logs handlers page through like a session's. Deterministic for a seed.

What the figures say, consistent with the simulation and the session logs:

- idle: memory at the host's baseline (4-5 %), CPU a few percent;
- a task run: CPU near 100 %, memory climbing over its first quarter to a peak that is higher
  the longer the task ran compared with the step's others (heavy frames use more memory);
- a task run killed by the out-of-memory killer (exit code 137, the ``failing`` job): memory
  climbing to the host's total in its last minute (as its session log's ``memory: ... GB
  resident`` lines do), swap filling on hosts that have swap;
- environment actions and attachment syncs: a little memory, some CPU, network while syncing.

Two workers of the ``canceled`` job's fleet show what customer-managed hosts can do: one sends
its log without host metrics (``host_metrics_logging = false``), one sends no worker log at all
(:func:`quiet_workers`).
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, overload

from .sessionlog import EVENT_OVERHEAD, LogEvent

if TYPE_CHECKING:
    from .model import FarmModel

__all__ = ["INTERVAL_SECONDS", "WorkerLog", "quiet_workers", "worker_log"]

#: Seconds between two host-metrics lines: the agent's default.
INTERVAL_SECONDS: Final = 60.0

_GIB: Final = 1024**3
# Memory of the instance types the farm's fleets use (GiB), as EC2 lists them.
_MEMORY_GIB: Final[Mapping[str, int]] = {
    "c6i.8xlarge": 64,
    "m6i.8xlarge": 128,
    "c6a.8xlarge": 64,
    "c5a.8xlarge": 64,
    "m6a.8xlarge": 128,
    "g5.4xlarge": 64,
    "g6.4xlarge": 64,
    "c7a.4xlarge": 32,
    "c6a.4xlarge": 32,
}
_ONPREM_GIB: Final = 64  # the studio's render nodes; their jobs' OOM lines top out near 64 GB
_ONPREM_SWAP: Final = 8 * _GIB  # EC2 instances have no swap; the studio's nodes have some
_HORIZON_S: Final = 20 * 365 * 86400.0  # a living worker's stream, as a sequence, ends here
_MASK: Final = (1 << 64) - 1


def _mix(x: int) -> int:
    """splitmix64: a cheap, well-spread hash for per-sample noise."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def _unit(code: int, k: int, salt: int) -> float:
    return _mix(code * 1_000_003 + k * 7919 + salt) / 2.0**64


@dataclass(frozen=True)
class _Busy:
    """What a worker did from ``start`` to ``end`` (epoch seconds)."""

    start: float
    end: float
    kind: str  # "task", "oom", "env", "sync"
    weight: float  # task runs: how heavy, 0 to 1


def quiet_workers(model: FarmModel) -> tuple[str | None, str | None]:
    """Return the worker that logs no host metrics and the one with no worker log at all.

    Both ran sessions of the ``canceled`` job, on the on-demand CPU fleet: preferably workers
    no other job used, so that the other jobs keep all their samples.

    Examples
    --------
    >>> from deadline_nb.localfarm.model import FarmModel
    >>> from deadline_nb.localfarm.workerlog import quiet_workers
    >>> silent, missing = quiet_workers(FarmModel(seed=0))
    >>> silent != missing and None not in (silent, missing)
    True
    """
    spec = next((j for j in model.jobs if j.role == "canceled"), None)
    if spec is None:
        return None, None
    mine = list(dict.fromkeys(s["workerId"] for s in model.job_build(spec.job_id).sessions))
    others: set[str] = set()
    for job in model.jobs:
        if job.job_id != spec.job_id and job.role != "big":
            others.update(s["workerId"] for s in model.job_build(job.job_id).sessions)
    ordered = [w for w in mine if w not in others] + [w for w in mine if w in others]
    if len(ordered) < 2:
        return None, None
    return ordered[-1], ordered[0]


def _activity(model: FarmModel, fleet_id: str, worker_id: str) -> list[_Busy]:
    busy: list[_Busy] = []
    for spec in model.jobs:
        if model.job_fleet(spec.job_id) != fleet_id:
            continue
        build = model.job_build(spec.job_id)
        sessions = [s for s in build.sessions if s["workerId"] == worker_id]
        if not sessions:
            continue
        # How heavy each task run was: its duration's rank among its step's runs.
        by_step: dict[str, list[float]] = {}
        for action in build.actions:
            run = action["definition"].get("taskRun")
            if run is not None and action.get("startedAt") and action.get("endedAt"):
                span = float(action["endedAt"]) - float(action["startedAt"])
                by_step.setdefault(run["stepId"], []).append(span)
        for spans in by_step.values():
            spans.sort()
        for session in sessions:
            for action in build.session_actions[session["sessionId"]]:
                if action.get("startedAt") is None:
                    continue
                start = float(action["startedAt"])
                end = float(action.get("endedAt") or action.get("workerUpdatedAt") or start)
                definition = action["definition"]
                if "taskRun" in definition:
                    spans = by_step.get(definition["taskRun"]["stepId"], [])
                    rank = bisect.bisect_left(spans, end - start) / max(1, len(spans) - 1)
                    oom = action.get("processExitCode") == 137
                    busy.append(_Busy(start, end, "oom" if oom else "task", min(rank, 1.0)))
                elif "syncInputJobAttachments" in definition:
                    busy.append(_Busy(start, end, "sync", 0.0))
                else:
                    busy.append(_Busy(start, end, "env", 0.0))
    busy.sort(key=lambda b: b.start)
    return busy


class _Lazy(Sequence[Any]):
    """A sequence whose items are computed from their index."""

    def __init__(self, length: int, item: Any) -> None:
        self._length = length
        self._item = item

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, index: int) -> Any: ...

    @overload
    def __getitem__(self, index: slice) -> list[Any]: ...

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [self._item(i) for i in range(*index.indices(self._length))]
        if index < 0:
            index += self._length
        if not 0 <= index < self._length:
            raise IndexError(index)
        return self._item(index)

    def __iter__(self) -> Iterator[Any]:
        return (self._item(i) for i in range(self._length))


class WorkerLog:
    """A worker's log: the events, timestamps and sizes a reader pages through, made on demand.

    Event 0 is the agent's start line; event ``k`` (from 1) the host-metrics sample taken
    ``k`` intervals after the worker's creation (a little later: each host has its own phase).

    Parameters
    ----------
    worker
        The ``GetWorker`` output.
    activity
        What the worker did, in time order.
    code
        A stable number for the worker, for its noise.
    end
        When the worker's log ends (epoch seconds), or None while it lives.
    metrics
        Whether it logs host metrics.
    interval
        Seconds between samples.

    Examples
    --------
    >>> from deadline_nb.localfarm.model import FarmModel
    >>> from deadline_nb.localfarm.workerlog import worker_log
    >>> model = FarmModel(seed=0)
    >>> worker = model.workers[0]
    >>> log = worker_log(model, worker["fleetId"], worker["workerId"])
    >>> '"type": "Metrics"' in log.events[1].message
    True
    """

    def __init__(
        self,
        worker: Mapping[str, Any],
        activity: Sequence[_Busy],
        code: int,
        end: float | None,
        *,
        metrics: bool = True,
        interval: float = INTERVAL_SECONDS,
    ) -> None:
        self.worker = worker
        self._busy = list(activity)
        self._starts = [b.start for b in self._busy]
        self._code = code
        self._interval = interval
        self._metrics = metrics
        created = float(worker["createdAt"])
        self._first_ms = math.floor(created * 1000)
        self._phase_ms = int(_unit(code, 0, 1) * 1000 * min(interval, 30.0))
        host = worker.get("hostProperties") or {}
        kind = host.get("ec2InstanceType")
        self._total = (_MEMORY_GIB.get(kind, 64) if kind else _ONPREM_GIB) * _GIB
        self._swap = 0 if kind else _ONPREM_SWAP
        self._disk = (500 if kind else 2000) * 1000**3
        last = created + _HORIZON_S if end is None else end
        count = 1 + (int((last - created) / interval) if metrics else 1)
        self.events: Sequence[LogEvent] = _Lazy(count, self._event)
        self.timestamps: Sequence[int] = _Lazy(count, self._timestamp)
        self.sizes: Sequence[int] = _Lazy(
            count, lambda i: len(self._event(i).message.encode()) + EVENT_OVERHEAD
        )

    def visible(self, now_ms: int | None) -> int:
        """Return how many events have happened by ``now_ms`` (all of them for ``None``).

        Examples
        --------
        >>> from deadline_nb.localfarm.model import FarmModel
        >>> from deadline_nb.localfarm.workerlog import worker_log
        >>> model = FarmModel(seed=0)
        >>> log = worker_log(model, model.workers[0]["fleetId"], model.workers[0]["workerId"])
        >>> log.visible(log.timestamps[3])
        4
        """
        if now_ms is None:
            return len(self.timestamps)
        return bisect.bisect_right(self.timestamps, now_ms)

    def _timestamp(self, i: int) -> int:
        if i == 0:
            return self._first_ms
        return self._first_ms + self._phase_ms + round(i * self._interval * 1000)

    def _event(self, i: int) -> LogEvent:
        ts = self._timestamp(i)
        ingested = ts + 500 + int(_unit(self._code, i, 2) * 2000)
        if i == 0:
            record: dict[str, Any] = {"level": "INFO", "msg": "👋 Worker Agent starting"}
        elif not self._metrics:
            record = {
                "level": "INFO",
                "msg": "Worker successfully bootstrapped and is now running.",
            }
        else:
            record = {
                "level": "INFO",
                "ti": "📊",
                "type": "Metrics",
                "subtype": "System",
                **self._figures(i, ts / 1000),
            }
        return LogEvent(ts, ingested, json.dumps(record, ensure_ascii=False))

    def _doing(self, t: float) -> _Busy | None:
        at = bisect.bisect_right(self._starts, t) - 1
        if at >= 0 and self._busy[at].start <= t <= self._busy[at].end:
            return self._busy[at]
        return None

    def _figures(self, i: int, t: float) -> dict[str, str]:
        def u(salt: int) -> float:
            return _unit(self._code, i, salt)

        busy = self._doing(t)
        base = 0.04 + 0.01 * u(3)
        frac, cpu, swap = base, 0.5 + 2.5 * u(4), 0.0
        recv, sent, read, write = u(5) * 20_000, u(6) * 15_000, u(7) * 50_000, u(8) * 80_000
        if busy is not None:
            span = max(1.0, busy.end - busy.start)
            into = t - busy.start
            if busy.kind == "task":
                peak = 0.2 + 0.55 * busy.weight + 0.04 * u(9)
                frac = base + (peak - base) * min(1.0, into / (0.25 * span)) ** 0.7
                cpu = 88.0 + 11.5 * u(10)
                read, write = 40e6 * u(11), 25e6 * u(12)
            elif busy.kind == "oom":
                # The last minute before the kill holds the top: the host's whole memory.
                climb = min(1.0, into / max(1.0, span - INTERVAL_SECONDS)) ** 1.5
                frac = base + (0.985 + 0.01 * u(9) - base) * climb
                cpu = 92.0 + 7.5 * u(10)
                swap = self._swap * max(0.0, (frac - 0.9) / 0.1)
            elif busy.kind == "sync":
                frac = base + 0.03 * u(9)
                cpu = 15.0 + 20.0 * u(10)
                recv, write = 150e6 + 100e6 * u(11), 120e6 * u(12)
            else:
                frac = base + 0.02 * u(9)
                cpu = 8.0 + 20.0 * u(10)
        frac = min(frac, 0.995)
        used = int(self._total * frac)
        disk_used = int(self._disk * (0.3 + 0.05 * u(13)))
        return {
            "cpu-usage-percent": str(round(min(cpu, 100.0), 1)),
            "memory-total-bytes": str(self._total),
            "memory-used-bytes": str(used),
            "memory-used-percent": str(round(100.0 * used / self._total, 1)),
            "swap-used-bytes": str(int(swap)),
            "total-disk-bytes": str(self._disk),
            "total-disk-used-bytes": str(disk_used),
            # The agent's own arithmetic: a fraction rounded to 0.1, despite the name.
            "total-disk-used-percent": str(round(disk_used / self._disk, 1)),
            "user-disk-available-bytes": str(self._disk - disk_used),
            "network-sent-bytes-per-second": str(round(sent)),
            "network-recv-bytes-per-second": str(round(recv)),
            "disk-read-bytes-per-second": str(round(read)),
            "disk-write-bytes-per-second": str(round(write)),
        }


def worker_log(
    model: FarmModel, fleet_id: str, worker_id: str, *, interval: float = INTERVAL_SECONDS
) -> WorkerLog:
    """Return a worker's log (:class:`WorkerLog`): cheap to make, its events made when read.

    Parameters
    ----------
    model
        The farm.
    fleet_id, worker_id
        The worker.
    interval
        Seconds between host-metrics lines (default: the agent's).

    Raises
    ------
    KeyError
        When the farm has no such worker.

    Examples
    --------
    >>> from deadline_nb.localfarm.model import FarmModel
    >>> from deadline_nb.localfarm.workerlog import worker_log
    >>> model = FarmModel(seed=0)
    >>> w = model.workers[0]
    >>> log = worker_log(model, w["fleetId"], w["workerId"])
    >>> log.timestamps[2] - log.timestamps[1]
    60000
    """
    worker = next(
        (w for w in model.workers if w["workerId"] == worker_id and w["fleetId"] == fleet_id),
        None,
    )
    if worker is None:
        raise KeyError(f"No worker {worker_id!r} in fleet {fleet_id!r}.")
    activity = _activity(model, fleet_id, worker_id)
    end = None
    if worker.get("status") == "STOPPED" and activity:
        end = max(b.end for b in activity) + interval
    silent, _ = quiet_workers(model)
    code = _mix(int(worker_id.rsplit("-", 1)[-1][:15], 16))
    return WorkerLog(worker, activity, code, end, metrics=worker_id != silent, interval=interval)
