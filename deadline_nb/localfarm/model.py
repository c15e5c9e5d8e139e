"""A deterministic model of a studio farm, in the shapes of the Deadline Cloud API.

The model is the farm's state: no I/O, no threads. From a seed it makes one farm with three
queues, four fleets of workers (a fifth, a burst fleet, when ``size`` asks for a big job), and the
jobs named in :data:`JOBS`. Each job is simulated (:mod:`.simulation`) by the scenario of its role
(:mod:`.scenarios`), and what the API shows of it is derived from the session actions that
produced (:mod:`.views`), so statuses cannot disagree with actions.

Finished jobs are anchored to a fixed date (:data:`EPOCH`), so one seed gives byte-identical
responses on every run. The running job is anchored to the model's clock (:mod:`.clock`): by
default the wall clock from the model's start, ``speedup`` times faster; its actions start, report
progress on the worker agent's 15 s heartbeat and finish as that clock advances.

Everything is stored in the shapes of the API's outputs: dicts with the API's member names, and
timestamps as epoch seconds (floats, to the millisecond), which are easy to compute with. The
server turns them into the ISO 8601 text that the model's ``timestampFormat`` prescribes on the way
out (:func:`deadline_nb.localfarm.shapes.to_wire`).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import math
import random
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from ..errors import bad_argument
from ..schema import HEARTBEAT_SECONDS
from .clock import Clock, WallClock
from .history import HISTORY_JOB_ROLE, history_scenario, plan_history
from .ids import ACCOUNT, REGION, principal_id, stable_hex
from .knobs import check_count
from .queuefill import spread_jobs, tiny_scenario
from .scenarios import BIG_JOB, JOB_ENVS, JOBS, SCENARIOS, Scenario
from .simulation import JobBuild, JobSpec, Worker, to_ms
from .views import JobView, derive_view, running_view

__all__ = [
    "BIG_JOB",
    "EPOCH",
    "HEARTBEAT_SECONDS",
    "HISTORY_JOB_ROLE",
    "JOBS",
    "QUEUE_JOB_ROLE",
    "FarmModel",
    "JobRecord",
    "JobSpec",
    "JobView",
]

#: Finished jobs happen on the days after this instant (2026-03-02T08:00:00Z).
EPOCH: Final[float] = 1772438400.0

#: The role of the jobs that ``queue_jobs`` adds (:mod:`.queuefill`).
QUEUE_JOB_ROLE: Final = "queued"


@dataclass
class _JobEntry:
    spec: JobSpec
    day: float  # when the job was submitted
    scenario: Scenario
    fleet: str
    workers: int
    user: str
    priority: int
    description: str
    build: JobBuild | None = None
    view: JobView | None = None
    view_at: float | None = None
    parameters: Mapping[str, Any] | None = None  # None: the fixed jobs' Frames and SceneFile
    outcome: str | None = None  # a queue job's taskRunStatus, known before it is simulated
    record: JobRecord | None = None


@dataclass(frozen=True)
class _JobPlan:
    role: str  # key of JOBS, or "big"
    queue: str
    day: int | None  # days after EPOCH; None for the running job
    fleet: str
    workers: int
    user: str


# Every job lives on its own day, so a worker never has two jobs' sessions at once.
_JOB_PLAN: Final = (
    _JobPlan("render", "lighting", 0, "cpu", 12, "maya"),
    _JobPlan("simulation", "fx", 1, "onprem", 6, "ivan"),
    _JobPlan("failing", "fx", 2, "onprem", 8, "ivan"),
    _JobPlan("canceled", "fx", 3, "cpu", 8, "sam"),
    _JobPlan("reclaimed", "lighting", 4, "spot", 10, "maya"),
    _JobPlan("big", "lighting", 5, "burst", 64, "lee"),
    _JobPlan("running", "comp", None, "cpu", 8, "noor"),
)

_FLEETS: Final = (
    # key, display name, market, instance types, worker count, host naming
    ("cpu", "Linux CPU (on-demand)", "on-demand", ("c6i.8xlarge", "m6i.8xlarge"), 16),
    ("spot", "Linux CPU (spot)", "spot", ("c6a.8xlarge", "c5a.8xlarge", "m6a.8xlarge"), 10),
    ("gpu", "Linux GPU (on-demand)", "on-demand", ("g5.4xlarge", "g6.4xlarge"), 4),
    ("onprem", "Studio render nodes", None, (), 8),
)
_BURST: Final = ("burst", "Burst spot (big renders)", "spot", ("c7a.4xlarge", "c6a.4xlarge"), 64)

_QUEUES: Final = (
    ("lighting", "Lighting", "Renders for the lighting department"),
    ("fx", "FX", "Simulations and FX renders"),
    ("comp", "Comp", "Nuke comps and slap comps"),
)


class FarmModel:
    """A whole farm: queues, fleets, workers and jobs, deterministic for a seed.

    Jobs are simulated lazily, on first access, and kept: building the 100,000-action job that
    ``size=100_000`` adds takes a couple of seconds, once. Access is thread-safe.

    Parameters
    ----------
    seed
        Changes every id and every random draw; the same seed gives the same farm.
    size
        When positive, add the job :data:`BIG_JOB` with about this many session actions.
    queue_jobs
        Add this many small jobs to the Lighting queue, submitted over the 120 days before the
        fixed jobs by several artists, with job parameters (``Shot``, ``Version``,
        ``Renderer``, ...): a studio's queue (:func:`.queuefill.spread_jobs`). Each is
        simulated only when something looks inside it, so 20,000 cost well under a second.
    history
        Add this many weeks of submissions before the fixed jobs (about 40 jobs a week):
        versions v001, v002, ... of the shots of three shows, by several artists, in the
        Lighting, FX and Comp queues, with a regression from a given week on
        (:mod:`.history`). Each is simulated only when something looks inside it.
    speedup
        How much faster than the wall clock the running job advances (with the default clock).
    start
        Wall-clock instant (epoch seconds) at which the model's clock starts; defaults to now
        (with the default clock).
    clock
        What "now" is for the running job: by default a
        :class:`~deadline_nb.localfarm.clock.WallClock` from ``start`` at ``speedup``; a
        :class:`~deadline_nb.localfarm.clock.ManualClock` stands still until moved (for tests).
        The running job was submitted 50 minutes before the clock's ``start``.

    Examples
    --------
    >>> from deadline_nb.localfarm.model import JOBS, FarmModel
    >>> model = FarmModel(seed=0)
    >>> sorted(q["displayName"] for q in model.queues)
    ['Comp', 'FX', 'Lighting']
    >>> actions = model.session_actions(model.job_by_name(JOBS["failing"]).job_id)
    >>> sorted({a["processExitCode"] for a in actions if a["status"] == "FAILED"})
    [-1073741819, 1, 137]

    With a clock that stands still, the running job moves only when the clock is moved:

    >>> from deadline_nb.localfarm.clock import ManualClock
    >>> clock = ManualClock(1_800_000_000.0)
    >>> model = FarmModel(seed=0, clock=clock)
    >>> def running():
    ...     return sum(a["status"] == "SUCCEEDED" for a in model.session_actions(
    ...         model.job_by_name("running").job_id))
    >>> before = running()
    >>> clock.advance(3600.0)
    >>> running() > before
    True
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        size: int = 0,
        queue_jobs: int = 0,
        history: int = 0,
        speedup: float = 1.0,
        start: float | None = None,
        clock: Clock | None = None,
    ) -> None:
        if clock is None:
            clock = WallClock(start, speedup=speedup)  # checks speedup and start
        elif speedup != 1.0 or start is not None:
            raise bad_argument("clock", "be None when `speedup` or `start` is given", clock)
        self.seed = seed
        self.size = check_count("size", size)
        self.queue_job_count = check_count("queue_jobs", queue_jobs)
        self.history_weeks = check_count("history", history)
        self.clock: Clock = clock
        self._lock = threading.RLock()
        self.farm_id = f"farm-{stable_hex(seed, 'farm')}"
        self.created_by = principal_id(seed, "farm-admin")
        created = EPOCH - 86400 * 90
        self.farm: dict[str, Any] = {
            "farmId": self.farm_id,
            "displayName": "Studio Farm",
            "description": "Local Deadline Cloud farm (deadline_nb.localfarm)",
            "costScaleFactor": 1.0,
            "createdAt": created,
            "createdBy": self.created_by,
        }
        self.limit_id = f"limit-{stable_hex(seed, 'limit', 'arnold')}"
        self.queues: list[dict[str, Any]] = []
        self._queue_ids: dict[str, str] = {}
        for key, name, description in _QUEUES:
            queue_id = f"queue-{stable_hex(seed, 'queue', key)}"
            self._queue_ids[key] = queue_id
            self.queues.append(
                {
                    "farmId": self.farm_id,
                    "queueId": queue_id,
                    "displayName": name,
                    "description": description,
                    "status": "SCHEDULING" if key == "comp" else "IDLE",
                    "defaultBudgetAction": "NONE",
                    "createdAt": created + 3600,
                    "createdBy": self.created_by,
                    "jobAttachmentSettings": {
                        "s3BucketName": "studio-deadline-job-attachments",
                        "rootPrefix": "DeadlineCloud",
                    },
                    "roleArn": f"arn:aws:iam::{ACCOUNT}:role/DeadlineQueueRole-{name}",
                    "jobRunAsUser": {
                        "posix": {"user": "render", "group": "render"},
                        "runAs": "QUEUE_CONFIGURED_USER",
                    },
                    "schedulingConfiguration": {"priorityFifo": {}},
                }
            )
        self.fleets: list[dict[str, Any]] = []
        self.workers: list[dict[str, Any]] = []
        self._fleet_workers: dict[str, list[Worker]] = {}
        self._fleet_ids: dict[str, str] = {}
        fleets = (*_FLEETS, _BURST) if size > 0 else _FLEETS
        for key, name, market, types, count in fleets:
            self._add_fleet(key, name, market, types, count, created + 7200)

        self._jobs: dict[str, _JobEntry] = {}
        self._add_queue_jobs(self.queue_job_count)
        self._add_history_jobs(self.history_weeks)
        if self.queue_job_count and self.history_weeks:
            # Both fill the weeks before the fixed jobs: keep the farm in submission order.
            self._jobs = dict(sorted(self._jobs.items(), key=lambda item: item[1].day))
        for plan in _JOB_PLAN:
            if plan.role == "big" and size <= 0:
                continue
            # Finished jobs on the days after EPOCH; the running one submitted 50 minutes (of
            # the model's clock) before the model started.
            day = clock.start - 3000 if plan.day is None else EPOCH + plan.day * 86400 + 7200
            self._add_job(plan, day)
        # Every job but the big one is simulated now (a few tens of milliseconds), so that what
        # the simulations decide about workers (reclaimed spot workers are STOPPED, the running
        # job's are RUNNING) does not depend on which job a client reads first.
        for entry in self._jobs.values():
            if entry.spec.role not in ("big", QUEUE_JOB_ROLE, HISTORY_JOB_ROLE):
                self._build(entry)
        self._queue_specs: dict[str, list[JobSpec]] = {q: [] for q in self._queue_ids.values()}
        for entry in self._jobs.values():
            self._queue_specs.setdefault(entry.spec.queue_id, []).append(entry.spec)
        self._queue_records: dict[str, list[tuple[str, JobRecord]]] = {}
        for queue_id in self._queue_specs:  # a search's first answer need not make them
            self.queue_records(queue_id)
        busy = {
            s["workerId"]
            for s in self._build(self._jobs[self.job_by_name("running").job_id]).sessions
        }
        for worker in self.workers:
            if worker["workerId"] in busy:
                worker["status"] = "RUNNING"

    # ---- construction helpers

    def _add_fleet(
        self,
        key: str,
        name: str,
        market: str | None,
        types: tuple[str, ...],
        count: int,
        created: float,
    ) -> None:
        fleet_id = f"fleet-{stable_hex(self.seed, 'fleet', key)}"
        self._fleet_ids[key] = fleet_id
        capabilities = {
            "vCpuCount": {"min": 16, "max": 64},
            "memoryMiB": {"min": 32768},
            "osFamily": "LINUX",
            "cpuArchitectureType": "x86_64",
        }
        configuration: dict[str, Any]
        if market is None:
            configuration = {
                "customerManaged": {"mode": "NO_SCALING", "workerCapabilities": capabilities}
            }
        else:
            configuration = {
                "serviceManagedEc2": {
                    "instanceCapabilities": {**capabilities, "allowedInstanceTypes": list(types)},
                    "instanceMarketOptions": {"type": market},
                }
            }
        self.fleets.append(
            {
                "fleetId": fleet_id,
                "farmId": self.farm_id,
                "displayName": name,
                "status": "ACTIVE",
                "autoScalingStatus": "STEADY",
                "targetWorkerCount": count,
                "workerCount": count,
                "minWorkerCount": 0,
                "maxWorkerCount": count * 2,
                "configuration": configuration,
                "roleArn": f"arn:aws:iam::{ACCOUNT}:role/DeadlineFleetRole-{key}",
                "createdAt": created,
                "createdBy": self.created_by,
            }
        )
        rng = random.Random(f"{self.seed}:fleet:{key}")
        workers: list[Worker] = []
        for i in range(count):
            h = stable_hex(self.seed, "worker", key, i)
            ip = f"10.{20 + len(self._fleet_ids)}.{rng.randint(0, 255)}.{rng.randint(2, 254)}"
            host: dict[str, Any] = {"ipAddresses": {"ipV4Addresses": [ip]}}
            if market is None:
                host["hostName"] = f"rn-{i + 1:03d}.studio.internal"
            else:
                host["hostName"] = f"ip-{ip.replace('.', '-')}.{REGION}.compute.internal"
                host["ec2InstanceType"] = types[i % len(types)]
                instance = stable_hex(self.seed, "i", h)[:16]
                host["ec2InstanceArn"] = f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0{instance}"
            worker = Worker(f"worker-{h}", fleet_id, host)
            workers.append(worker)
            self.workers.append(
                {
                    "farmId": self.farm_id,
                    "fleetId": fleet_id,
                    "workerId": worker.worker_id,
                    "hostProperties": host,
                    "status": "IDLE",
                    "createdAt": created + 60 * (i + 1),
                    "createdBy": self.created_by,
                    "log": {
                        "logDriver": "awslogs",
                        "options": {
                            "logGroupName": f"/aws/deadline/{self.farm_id}/{fleet_id}",
                            "logStreamName": worker.worker_id,
                        },
                    },
                }
            )
        self._fleet_workers[fleet_id] = workers

    def _add_job(self, plan: _JobPlan, day: float) -> None:
        name = BIG_JOB if plan.role == "big" else JOBS[plan.role]
        job_id = f"job-{stable_hex(self.seed, 'job', name)}"
        spec = JobSpec(
            job_id=job_id, queue_id=self._queue_ids[plan.queue], name=name, role=plan.role
        )
        self._jobs[job_id] = _JobEntry(
            spec=spec,
            day=day,
            scenario=SCENARIOS[plan.role],
            fleet=plan.fleet,
            workers=plan.workers,
            user=plan.user,
            priority=70 if plan.role == "running" else 50,
            description=f"{name} submitted by {plan.user}",
        )

    def _add_queue_jobs(self, count: int) -> None:
        # Submitted over the 120 days before the fixed jobs, so those stay the newest.
        queue_id = self._queue_ids["lighting"]
        for plan in spread_jobs(self.seed, count, end=EPOCH):
            job_id = f"job-{stable_hex(self.seed, 'queue-job', plan.index)}"
            spec = JobSpec(job_id=job_id, queue_id=queue_id, name=plan.name, role=QUEUE_JOB_ROLE)
            self._jobs[job_id] = _JobEntry(
                spec=spec,
                day=plan.created_at,
                scenario=tiny_scenario(plan),
                fleet="cpu",
                workers=2,
                user=plan.user,
                priority=plan.priority,
                description=f"{plan.name} submitted by {plan.user}",
                parameters=plan.parameters,
                outcome=plan.outcome,
            )

    def _add_history_jobs(self, weeks: int) -> None:
        # Submitted over the weeks before the fixed jobs, so those stay the newest.
        for plan in plan_history(self.seed, weeks):
            job_id = f"job-{stable_hex(self.seed, 'history-job', plan.index)}"
            spec = JobSpec(
                job_id=job_id,
                queue_id=self._queue_ids[plan.queue],
                name=plan.name,
                role=HISTORY_JOB_ROLE,
            )
            self._jobs[job_id] = _JobEntry(
                spec=spec,
                day=plan.created_at,
                scenario=history_scenario(plan),
                fleet=plan.fleet,
                workers=4,
                user=plan.user,
                priority=50,
                description=f"{plan.name} submitted by {plan.user}",
                parameters=plan.parameters,
                outcome=plan.outcome,
            )

    # ---- public ground truth

    @property
    def jobs(self) -> list[JobSpec]:
        """Every job of the farm, in submission order.

        Returns
        -------
        list of JobSpec
            Name, role, job and queue ids of each job.

        Examples
        --------
        >>> from deadline_nb.localfarm.model import FarmModel
        >>> [spec.role for spec in FarmModel(seed=0).jobs][:2]
        ['render', 'simulation']
        """
        return [entry.spec for entry in self._jobs.values()]

    def job_by_name(self, name: str) -> JobSpec:
        """Return the job with this name, or with this role (a key of :data:`JOBS`).

        Parameters
        ----------
        name
            A job name such as ``"sq030_crowd_v007_failing"`` or a role such as ``"failing"``.

        Returns
        -------
        JobSpec
            The job's ids, name and role.

        Raises
        ------
        KeyError
            When no job has that name or role.

        Examples
        --------
        >>> from deadline_nb.localfarm.model import FarmModel
        >>> FarmModel(seed=0).job_by_name("failing").name
        'sq030_crowd_v007_failing'
        """
        for spec in self.jobs:
            if name in (spec.name, spec.role):
                return spec
        known = [spec.name for spec in self.jobs]
        raise KeyError(f"No job named {name!r} in the local farm; the jobs are {known}.")

    def queue_jobs(self, queue_id: str) -> list[JobSpec]:
        """Return the jobs of one queue, in submission order.

        Parameters
        ----------
        queue_id
            The queue's id.

        Returns
        -------
        list of JobSpec
            Its jobs; empty for a queue the farm does not have.

        Examples
        --------
        >>> from deadline_nb.localfarm.model import FarmModel
        >>> model = FarmModel(seed=0)
        >>> comp = next(q for q in model.queues if q["displayName"] == "Comp")
        >>> [spec.role for spec in model.queue_jobs(comp["queueId"])]
        ['running']
        """
        return list(self._queue_specs.get(queue_id, ()))

    def fleet_workers(self, fleet_id: str) -> list[dict[str, Any]]:
        """Return the ``GetWorker`` outputs of one fleet's workers.

        Parameters
        ----------
        fleet_id
            The fleet's id.

        Returns
        -------
        list of dict
            Its workers, in order; empty for a fleet the farm does not have.

        Examples
        --------
        >>> from deadline_nb.localfarm.model import FarmModel
        >>> model = FarmModel(seed=0)
        >>> len(model.fleet_workers(model.fleets[0]["fleetId"]))
        16
        """
        return [w for w in self.workers if w["fleetId"] == fleet_id]

    @property
    def start(self) -> float:
        """The instant, in epoch seconds, the model's clock started.

        Examples
        --------
        >>> from deadline_nb.localfarm.model import FarmModel
        >>> FarmModel(seed=0, start=1_800_000_000.0).start
        1800000000.0
        """
        return self.clock.start

    def now(self) -> float:
        """Return the instant of the model's clock, in epoch seconds (see ``clock``).

        Returns
        -------
        float
            The instant the running job is shown at.

        Examples
        --------
        >>> from deadline_nb.localfarm.model import FarmModel
        >>> model = FarmModel(seed=0, start=0.0, speedup=1.0)
        >>> model.now() > 1e9
        True
        """
        return self.clock.now()

    def view(self, job_id: str, at: float | None = None) -> JobView:
        """Return a job as the API shows it at an instant of the model's clock.

        Parameters
        ----------
        job_id
            The job's id.
        at
            Epoch seconds on the model's clock; defaults to :meth:`now`. Only the running job
            depends on it.

        Returns
        -------
        JobView
            The job, its steps, tasks, sessions and session actions.

        Raises
        ------
        KeyError
            When the farm has no such job.

        Examples
        --------
        >>> from deadline_nb.localfarm.model import JOBS, FarmModel
        >>> model = FarmModel(seed=0)
        >>> model.view(model.job_by_name(JOBS["canceled"]).job_id).job["taskRunStatus"]
        'CANCELED'
        """
        entry = self._jobs[job_id]
        with self._lock:
            if entry.view is None and entry.spec.role != "running":
                with _no_gc():
                    build = self._build(entry)
                    entry.view = derive_view(
                        build, build.sessions, build.actions, build.session_actions
                    )
            if entry.view is not None and entry.spec.role != "running":
                return entry.view
            build = self._build(entry)
            # The running job changes with time: recompute at most once per second of its clock.
            instant = math.floor(self.now() if at is None else at)
            if entry.view is None or entry.view_at != instant:
                entry.view = running_view(build, instant)
                entry.view_at = instant
            return entry.view

    def session_actions(self, job_id: str, at: float | None = None) -> list[dict[str, Any]]:
        """Return a job's session actions as ``BatchGetSessionAction`` items (with farm/queue/job).

        The dicts are fresh copies, safe to modify. Timestamps are epoch seconds (floats); the
        server sends the same instants as ISO 8601 text, which boto3 parses into datetimes.

        Parameters
        ----------
        job_id
            The job's id.
        at
            The instant, as in :meth:`view`.

        Returns
        -------
        list of dict
            Session by session, each session's actions in order.

        Examples
        --------
        >>> from deadline_nb.localfarm.model import JOBS, FarmModel
        >>> model = FarmModel(seed=0)
        >>> action = model.session_actions(model.job_by_name(JOBS["render"]).job_id)[0]
        >>> list(action)[:4]
        ['farmId', 'queueId', 'jobId', 'sessionActionId']
        """
        spec = self._jobs[job_id].spec
        ids = {"farmId": self.farm_id, "queueId": spec.queue_id, "jobId": job_id}
        actions = self.view(job_id, at).actions
        copied: list[dict[str, Any]] = json.loads(json.dumps([{**ids, **a} for a in actions]))
        return copied

    def job_build(self, job_id: str) -> JobBuild:
        """Return a job's simulation in full: every session and action it ever has.

        For a finished job this is what :meth:`view` shows; for the running job it is the whole
        plan, including what has not happened yet on the model's clock. The session logs
        (:mod:`.sessionlog`) are written from it, so that a log can only say what the actions
        did. Do not modify it.

        Parameters
        ----------
        job_id
            The job's id.

        Returns
        -------
        JobBuild
            Its steps (with their tasks), sessions and actions, in the API's shapes.

        Raises
        ------
        KeyError
            When the farm has no such job.

        Examples
        --------
        >>> from deadline_nb.localfarm.model import FarmModel
        >>> model = FarmModel(seed=0)
        >>> build = model.job_build(model.job_by_name("render").job_id)
        >>> len(build.sessions) == len(model.view(build.spec.job_id).sessions)
        True
        """
        entry = self._jobs[job_id]
        with self._lock:
            if entry.build is None:
                with _no_gc():
                    return self._build(entry)
            return entry.build

    def job_fleet(self, job_id: str) -> str:
        """Return the id of the fleet whose workers run a job.

        Parameters
        ----------
        job_id
            The job's id.

        Returns
        -------
        str
            The fleet id.

        Raises
        ------
        KeyError
            When the farm has no such job.

        Examples
        --------
        >>> from deadline_nb.localfarm.model import FarmModel
        >>> model = FarmModel(seed=0)
        >>> fleet = model.job_fleet(model.job_by_name("failing").job_id)
        >>> fleet in {f["fleetId"] for f in model.fleets}
        True
        """
        return self._fleet_ids[self._jobs[job_id].fleet]

    def job_queue(self, job_id: str) -> str:
        """Return the id of the queue a job is in.

        Parameters
        ----------
        job_id
            The job's id.

        Returns
        -------
        str
            The queue id.

        Raises
        ------
        KeyError
            When the farm has no such job.

        Examples
        --------
        >>> from deadline_nb.localfarm.model import FarmModel
        >>> model = FarmModel(seed=0)
        >>> model.job_queue(model.jobs[0].job_id).startswith("queue-")
        True
        """
        return self._jobs[job_id].spec.queue_id

    def has_job(self, job_id: str) -> bool:
        """Return whether the farm has a job with this id.

        Parameters
        ----------
        job_id
            The job's id.

        Returns
        -------
        bool
            ``True`` when it does.

        Examples
        --------
        >>> from deadline_nb.localfarm.model import FarmModel
        >>> FarmModel(seed=0).has_job("job-" + "0" * 32)
        False
        """
        return job_id in self._jobs

    def queue_records(self, queue_id: str) -> list[tuple[str, JobRecord]]:
        """Return ``(queue id, record)`` of every job of a queue, as a search goes through them.

        Made once per queue (with the collector paused: 20,000 records at once would make it
        rescan the whole farm several times) and kept; do not modify the list.

        Parameters
        ----------
        queue_id
            The queue's id.

        Returns
        -------
        list of tuple
            In submission order; empty for a queue the farm does not have.

        Examples
        --------
        >>> from deadline_nb.localfarm.model import FarmModel
        >>> model = FarmModel(seed=0)
        >>> queue_id, record = model.queue_records(model.jobs[0].queue_id)[0]
        >>> record["name"]
        'sq010_sh020_lighting_v003'
        """
        found = self._queue_records.get(queue_id)
        if found is None:
            with _no_gc():
                found = [(queue_id, self.job_record(s.job_id)) for s in self.queue_jobs(queue_id)]
            self._queue_records[queue_id] = found
        return found

    def job_record(self, job_id: str) -> JobRecord:
        """Return a job's ``GetJob`` fields, simulating the job only for the fields that need it.

        Parameters
        ----------
        job_id
            The job's id.

        Returns
        -------
        JobRecord
            A read-only mapping; ``dict(record)`` is the job's ``GetJob`` output now.

        Raises
        ------
        KeyError
            When the farm has no such job.

        Examples
        --------
        >>> from deadline_nb.localfarm.model import FarmModel
        >>> model = FarmModel(seed=0, queue_jobs=100)
        >>> job_id = model.jobs[0].job_id
        >>> dict(model.job_record(job_id)) == model.view(job_id).job
        True
        """
        entry = self._jobs[job_id]
        if entry.record is None:
            known = {} if entry.outcome is None else {"taskRunStatus": entry.outcome}
            entry.record = JobRecord(
                self,
                job_id,
                {
                    **known,
                    "jobId": job_id,
                    "name": entry.spec.name,
                    "priority": entry.priority,
                    "createdAt": to_ms(entry.day),
                    "createdBy": _principal(self.seed, entry.user),
                    "lifecycleStatus": "CREATE_COMPLETE",
                    # The fixed jobs' parameters come from their simulation (the big one's
                    # would take seconds): only a queue job's are known before.
                    **({} if entry.parameters is None else {"parameters": entry.parameters}),
                },
            )
        return entry.record

    # ---- building jobs

    @staticmethod
    def _parameters(entry: _JobEntry, b: JobBuild) -> dict[str, Any]:
        if entry.parameters is not None:
            return {name: dict(value) for name, value in entry.parameters.items()}
        return {
            "Frames": {"string": _frame_range(b)},
            "SceneFile": {"path": f"/mnt/projects/aurora/{b.spec.name.split('_')[0]}/scene"},
        }

    def _build(self, entry: _JobEntry) -> JobBuild:
        if entry.build is not None:
            return entry.build
        spec = entry.spec
        rng = random.Random(f"{self.seed}:{spec.name}")
        created_by = principal_id(self.seed, entry.user)
        b = JobBuild(
            seed=self.seed,
            farm_id=self.farm_id,
            queue_id=spec.queue_id,
            spec=spec,
            rng=rng,
            job_env=f"JOB:{spec.job_id}:{JOB_ENVS.get(spec.role, 'Render Env')}",
            created_at=to_ms(entry.day),
            created_by=created_by,
            manifest_salt=bytes.fromhex(stable_hex(self.seed, "manifest"))[:16],
            fleet=entry.fleet,
            worker_count=entry.workers,
            pool=self._fleet_workers[self._fleet_ids[entry.fleet]],
            limit_id=self.limit_id,
            size=self.size,
        )
        entry.scenario(b)
        for worker in self.workers:
            if worker["workerId"] in b.stopped:
                worker["status"] = "STOPPED"
        b.job_fields = {
            "jobId": spec.job_id,
            "name": spec.name,
            "lifecycleStatus": "CREATE_COMPLETE",
            "lifecycleStatusMessage": "Job creation completed successfully",
            "priority": entry.priority,
            "createdAt": b.created_at,
            "createdBy": created_by,
            "maxFailedTasksCount": 100,
            "maxRetriesPerTask": b.max_retries,
            "maxWorkerCount": entry.workers,
            "description": entry.description,
            "parameters": self._parameters(entry, b),
            "attachments": {
                "manifests": [
                    {
                        "rootPath": f"/mnt/projects/aurora/{spec.name.split('_')[0]}",
                        "rootPathFormat": "posix",
                        "outputRelativeDirectories": ["renders"],
                        "inputManifestPath": f"{self.farm_id}/{spec.queue_id}/Inputs/"
                        f"{stable_hex(self.seed, 'in', spec.name)}/input",
                        "inputManifestHash": stable_hex(self.seed, "inhash", spec.name),
                    }
                ],
                "fileSystem": "COPIED",
            },
        }
        if b.canceled_at is not None:
            b.job_fields["targetTaskRunStatus"] = "CANCELED"
        b.sessions.sort(key=lambda s: (s["startedAt"], s["sessionId"]))
        order = {s["sessionId"]: i for i, s in enumerate(b.sessions)}
        b.actions.sort(key=lambda a: order[a["sessionId"]])  # stable: keeps each session's order
        entry.build = b
        return b


class JobRecord(Mapping[str, Any]):
    """A job's ``GetJob`` fields, the cheap ones known without simulating the job.

    Name, ids, submitter, submission time, priority and parameters are answered from what the
    model planned; any other field (statuses, counts, start and end times) from the job's view,
    simulated on first use. A search can so filter and sort 20,000 jobs by name or parameter
    and simulate only the page it returns.

    Parameters
    ----------
    model
        The farm.
    job_id
        The job.
    cheap
        The fields known without a simulation.

    Examples
    --------
    >>> from deadline_nb.localfarm.model import FarmModel
    >>> model = FarmModel(seed=0, queue_jobs=10)
    >>> record = model.job_record(model.jobs[0].job_id)
    >>> record["name"] == model.jobs[0].name, record["taskRunStatus"] in ("SUCCEEDED", "FAILED",
    ...     "CANCELED")
    (True, True)
    """

    __slots__ = ("_cheap", "_job_id", "_model")

    def __init__(self, model: FarmModel, job_id: str, cheap: Mapping[str, Any]) -> None:
        self._model = model
        self._job_id = job_id
        self._cheap = cheap

    def __getitem__(self, key: str) -> Any:
        if key in self._cheap:
            return self._cheap[key]
        return self._model.view(self._job_id).job[key]

    def get(self, key: str, default: Any = None) -> Any:
        """The field, or ``default`` (a search asks for fields many jobs lack, 20,000 times)."""
        if key in self._cheap:
            return self._cheap[key]
        return self._model.view(self._job_id).job.get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._model.view(self._job_id).job)

    def __len__(self) -> int:
        return len(self._model.view(self._job_id).job)

    def is_cheap(self, key: str) -> bool:
        """Whether ``key`` is answered without simulating the job."""
        return key in self._cheap


@functools.lru_cache(maxsize=256)
def _principal(seed: int, user: str) -> str:
    return principal_id(seed, user)


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a big job is built.

    Building 100,000 actions allocates a few hundred thousand dicts that all stay alive; the
    collector would scan them again and again for nothing (a quarter of the build time).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _frame_range(b: JobBuild) -> str:
    values = [t.label for step in b.steps for t in step.tasks[:1] + step.tasks[-1:]]
    first, last = values[0].split("-")[0], values[-1].split("-")[-1]
    return f"{first}-{last}"
