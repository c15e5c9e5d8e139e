"""A deterministic model of a studio farm, in the shapes of the Deadline Cloud API.

The model is pure: no I/O, no threads. From a seed it makes one farm with three queues, four fleets
of workers (a fifth, a burst fleet, when ``size`` asks for a big job), and the jobs named in
:data:`JOBS`. Each job is simulated the way the service schedules it: workers take batches of
tasks in sessions (one worker and one step per session), each session enters the job and step
environments, syncs the job's attachments, runs its tasks and exits the environments in reverse
order. Failures, retries, cancellation and reclaimed spot workers happen inside that simulation,
and the statuses of tasks, steps and jobs are *derived* from the session actions it produced, so
they cannot disagree.

Finished jobs are anchored to a fixed date (:data:`EPOCH`), so one seed gives byte-identical
responses on every run. The running job is anchored to the model's clock, which starts at the wall
clock and runs ``speedup`` times faster: its actions start, report progress on the worker agent's
15 s heartbeat and finish as that clock advances.

Everything is stored in the shapes of the API's outputs: dicts with the API's member names, and
timestamps as epoch seconds (floats, to the millisecond), which are easy to compute with. The
server turns them into the ISO 8601 text that the model's ``timestampFormat`` prescribes on the way
out (:func:`deadline_nb.localfarm.shapes.to_wire`).
"""

from __future__ import annotations

import collections
import contextlib
import gc
import hashlib
import heapq
import itertools
import json
import math
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from ..schema import HEARTBEAT_SECONDS
from .shapes import service_model

__all__ = [
    "BIG_JOB",
    "EPOCH",
    "HEARTBEAT_SECONDS",
    "JOBS",
    "FarmModel",
    "JobSpec",
    "JobView",
]

#: Role -> name of the jobs every farm has. Tests, notebooks and the demo look jobs up by these
#: names (``farm.job_by_name(JOBS["failing"])``), so they are part of the public API:
#:
#: - ``render``: a 240-frame render (``Frame`` INT 1-240); mid-shot frames are slower and two
#:   frames are stuck outliers; every task run holds a license limit.
#: - ``simulation``: a fluid simulation in chunks (``Frame`` CHUNK_INT ``1-10``, ``11-20``, ...)
#:   followed by a meshing step that depends on it.
#: - ``failing``: a crowd simulation with task runs that exit 1, 137 (OOM-killed) and
#:   -1073741819 (a Windows access violation), retries, one task out of retries, and a session
#:   whose step environment failed to enter.
#: - ``canceled``: an FX job canceled by its artist halfway through.
#: - ``reclaimed``: a render on spot workers, three of which are reclaimed mid-task.
#: - ``running``: a comp job running *now*: it advances with the model's clock.
JOBS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "render": "sq010_sh020_lighting_v003",
        "simulation": "sq020_fluid_sim_v012",
        "failing": "sq030_crowd_v007_failing",
        "canceled": "sq040_fx_v002_canceled",
        "reclaimed": "sq050_spot_reclaimed",
        "running": "sq060_comp_v021_running",
    }
)

#: Name of the extra job made when the model is given a ``size``: a render with about that many
#: session actions (role ``big``).
BIG_JOB: Final[str] = "sq900_big_render"

#: Finished jobs happen on the days after this instant (2026-03-02T08:00:00Z).
EPOCH: Final[float] = 1772438400.0

ACCOUNT: Final[str] = "123456789012"
REGION: Final[str] = "us-west-2"

#: ``TaskRunStatus`` from botocore's model, in the API's order.
TASK_RUN_STATUSES: Final[tuple[str, ...]] = tuple(
    service_model().shape_for("TaskRunStatus").enum  # type: ignore[attr-defined]
)

_ACTIVE_TASK = ("RUNNING", "ASSIGNED", "STARTING", "SCHEDULED", "INTERRUPTING")


def _hex(*parts: object) -> str:
    """32 hex digits that depend only on ``parts``: ids are stable across runs and processes."""
    text = "\x1f".join(str(p) for p in parts)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _principal(seed: int, user: str) -> str:
    """An IAM Identity Center user id, as the service puts in ``createdBy``."""
    h = _hex(seed, "user", user)
    return f"{h[:10]}-{h[10:18]}-{h[18:22]}-{h[22:26]}-{h[26:30]}-{_hex(seed, 'u2', user)[:12]}"


def _ms(t: float) -> float:
    # Milliseconds, as the service reports them; also keeps the JSON short and exact.
    return round(t, 3)


@dataclass(frozen=True)
class JobSpec:
    """What the model knows about a job before simulating it.

    Parameters
    ----------
    job_id, queue_id
        The job's ids.
    name
        The job's name (see :data:`JOBS`).
    role
        Its key in :data:`JOBS`, or ``"big"``.

    Examples
    --------
    >>> from deadline_nb.localfarm.model import JOBS, FarmModel
    >>> spec = FarmModel(seed=0).job_by_name(JOBS["render"])
    >>> spec.role, spec.job_id.startswith("job-")
    ('render', True)
    """

    job_id: str
    queue_id: str
    name: str
    role: str


@dataclass(frozen=True)
class JobView:
    """One job at one instant, as the API shows it.

    All dicts are in the shape of the named operation's output, timestamps as epoch seconds (the
    server sends them as ISO 8601 text). Do not modify them: the server serves them as they are.

    Parameters
    ----------
    job
        ``GetJob`` output.
    steps
        ``GetStep`` outputs, in creation order.
    tasks
        Step id -> its ``GetTask`` outputs, in task order.
    sessions
        ``GetSession`` outputs, ordered by ``startedAt``.
    actions
        ``GetSessionAction`` outputs, session by session, each session's in order.
    step_by_id, task_by_id, session_by_id, action_by_id
        Lookups by id.
    actions_by_session, actions_by_task
        Session id / task id -> actions, in order.
    task_step
        Task id -> step id.

    Examples
    --------
    >>> from deadline_nb.localfarm.model import JOBS, FarmModel
    >>> model = FarmModel(seed=0)
    >>> view = model.view(model.job_by_name(JOBS["render"]).job_id)
    >>> view.job["taskRunStatus"], len(view.tasks[view.steps[0]["stepId"]])
    ('SUCCEEDED', 240)
    """

    job: dict[str, Any]
    steps: list[dict[str, Any]]
    tasks: dict[str, list[dict[str, Any]]]
    sessions: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    step_by_id: dict[str, dict[str, Any]]
    task_by_id: dict[str, dict[str, Any]]
    session_by_id: dict[str, dict[str, Any]]
    action_by_id: dict[str, dict[str, Any]]
    actions_by_session: dict[str, list[dict[str, Any]]]
    actions_by_task: dict[str, list[dict[str, Any]]]
    task_step: dict[str, str]


# --------------------------------------------------------------------------------------------
# Simulation internals


@dataclass
class _Worker:
    worker_id: str
    fleet_id: str
    host: dict[str, Any]
    sessions: int = 0  # sessions this worker has run for the job being simulated
    dead: bool = False


@dataclass
class _Task:
    index: int
    task_id: str
    parameters: dict[str, Any]
    label: str  # "57" or "1-10": the parameter value, for progress messages
    failures: int = 0


@dataclass
class _Step:
    step_id: str
    name: str
    env_name: str
    param_name: str
    param_type: str  # StepParameterType: INT or CHUNK_INT
    tasks: list[_Task]
    duration: Callable[[_Task, random.Random], float]
    message: Callable[[_Task, float], str]
    limit_id: str | None = None
    chunk_size: int | None = None
    depends_on: str | None = None
    consumers: int = 0


@dataclass
class _Reclaim:
    session_number: int  # the worker's n-th session of the job (0-based)
    task_position: int  # the n-th task run of that session
    fraction: float  # how far into the task the worker disappears
    status: str  # INTERRUPTED or RECLAIMED


@dataclass
class _Build:
    """Everything one job's simulation produces, before statuses are derived."""

    seed: int
    farm_id: str
    queue_id: str
    spec: JobSpec
    rng: random.Random
    job_env: str
    steps: list[_Step] = field(default_factory=list)
    sessions: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    session_actions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    canceled_at: float | None = None
    max_retries: int = 5
    job_fields: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0.0
    created_by: str = ""
    fail: Callable[[_Task, random.Random], int | None] = lambda task, rng: None
    env_fail_sessions: frozenset[int] = frozenset()
    session_count: int = 0
    manifest_salt: bytes = b""
    fleet: str = "cpu"  # the key of the fleet whose workers run the job
    worker_count: int = 8

    def log(self, session_id: str) -> dict[str, Any]:
        # The session log lives in the queue's CloudWatch log group, one stream per session.
        return {
            "logDriver": "awslogs",
            "options": {
                "logGroupName": f"/aws/deadline/{self.farm_id}/{self.queue_id}",
                "logStreamName": session_id,
            },
            "parameters": {"interval": "15"},
        }


def _run_session(
    b: _Build,
    step: _Step,
    worker: _Worker,
    batch: list[_Task],
    start: float,
    *,
    env_fail: bool,
    reclaim: _Reclaim | None,
) -> tuple[float, list[tuple[_Task, str]]]:
    """Simulate one session; return its end and each task's fate.

    Fates: ``SUCCEEDED``; ``FAILED`` (the task run failed); ``REQUEUE`` (never attempted or cut
    short by the worker's loss: the scheduler gives it to another session); ``CANCELED``.
    """
    rng = b.rng
    b.session_count += 1
    session_hex = _hex(b.seed, "session", b.spec.name, b.session_count)
    session_id = f"session-{session_hex}"
    actions: list[dict[str, Any]] = []
    fates: list[tuple[_Task, str]] = []
    first = worker.sessions == 0
    worker.sessions += 1
    step_env = f"STEP:{step.step_id}:{step.env_name}"
    entered: list[str] = []
    # "ok": running normally; "failed": a failure ends the session (exits still run);
    # "dead": the worker is gone (nothing more runs); "canceled": the job was canceled.
    state = "ok"
    t = start
    position = 0
    task_runs = 0

    def new(definition: dict[str, Any]) -> dict[str, Any]:
        nonlocal position
        action: dict[str, Any] = {
            "sessionActionId": f"sessionaction-{session_hex}-{position}",
            "sessionId": session_id,
            "status": "NEVER_ATTEMPTED",
            "definition": definition,
        }
        position += 1
        actions.append(action)
        return action

    def run(action: dict[str, Any], duration: float) -> tuple[float, float, bool]:
        """Place an action in time; return (start, end, cut_by_cancel)."""
        nonlocal t
        begin = t + rng.uniform(0.15, 1.2)  # the agent's overhead between actions
        end = begin + duration
        if b.canceled_at is not None and end > b.canceled_at:
            if begin >= b.canceled_at:
                t = b.canceled_at
                return begin, begin, True
            action.update(startedAt=_ms(begin), endedAt=_ms(b.canceled_at), status="CANCELED")
            action["workerUpdatedAt"] = _ms(b.canceled_at)
            t = b.canceled_at
            return begin, b.canceled_at, True
        ended = _ms(end)
        action.update(startedAt=_ms(begin), endedAt=ended, workerUpdatedAt=ended)
        t = end
        return begin, end, False

    envs = [(b.job_env, (40.0, 160.0) if first else (2.0, 9.0)), (step_env, (2.0, 12.0))]
    for env_index, (env, (lo, hi)) in enumerate(envs):
        action = new({"envEnter": {"environmentId": env}})
        if state != "ok":
            continue
        _, _, cut = run(action, rng.uniform(lo, hi))
        if cut:
            state = "canceled"
            continue
        failed = env_fail and env_index == 1
        action["status"] = "FAILED" if failed else "SUCCEEDED"
        action["processExitCode"] = 1 if failed else 0
        action["progressPercent"] = 0.0 if failed else 100.0
        if failed:
            action["progressMessage"] = f"Environment {step.env_name!r} failed to enter"
            state = "failed"
        else:
            entered.append(env)

    action = new({"syncInputJobAttachments": {"stepId": step.step_id}})
    if state == "ok":
        sync = rng.uniform(8.0, 75.0) if first else rng.uniform(0.8, 4.0)
        _, _, cut = run(action, sync)
        if cut:
            state = "canceled"
        else:
            action.update(status="SUCCEEDED", processExitCode=0, progressPercent=100.0)

    for task in batch:
        definition = {
            "taskRun": {
                "taskId": task.task_id,
                "stepId": step.step_id,
                "parameters": task.parameters,
            }
        }
        action = new(definition)
        if state != "ok":
            fates.append((task, "CANCELED" if state == "canceled" else "REQUEUE"))
            continue
        duration = step.duration(task, rng)
        is_reclaimed = (
            reclaim is not None
            and reclaim.session_number == worker.sessions - 1
            and reclaim.task_position == task_runs
        )
        exit_code = None if is_reclaimed else b.fail(task, rng)
        if exit_code is not None:
            duration *= rng.uniform(0.05, 0.7)  # a failure cuts the run short
        if is_reclaimed:
            assert reclaim is not None
            duration *= reclaim.fraction
        begin, end, cut = run(action, duration)
        task_runs += 1
        if step.limit_id is not None and action.get("startedAt") is not None:
            action["acquiredLimits"] = [{"limitId": step.limit_id, "count": 1}]
        if cut:
            state = "canceled"
            if action["status"] == "CANCELED":
                _progress(action, step, task, begin, begin + duration, end)
                action["workerUpdatedAt"] = action["endedAt"]  # the agent reports the cancel
            fates.append((task, "CANCELED"))
            continue
        if is_reclaimed:
            assert reclaim is not None
            action["status"] = reclaim.status
            # The worker stopped answering: its last heartbeat is all the service has.
            _progress(action, step, task, begin, begin + duration / reclaim.fraction, end)
            state = "dead"
            worker.dead = True
            fates.append((task, "REQUEUE"))
            continue
        if exit_code is not None:
            action["status"] = "FAILED"
            action["processExitCode"] = exit_code
            _progress(action, step, task, begin, begin + duration * 3.0, end)
            action["workerUpdatedAt"] = action["endedAt"]  # the agent reports the failure
            state = "failed"
            fates.append((task, "FAILED"))
            continue
        action.update(status="SUCCEEDED", processExitCode=0, progressPercent=100.0)
        action["progressMessage"] = step.message(task, 100.0)
        action["manifests"] = [
            {
                "outputManifestPath": (
                    f"{b.farm_id}/{b.queue_id}/{b.spec.job_id}/{step.step_id}/{task.task_id}/"
                    f"{int(end)}_{action['sessionActionId']}_output"
                ),
                "outputManifestHash": hashlib.blake2b(
                    action["sessionActionId"].encode(), digest_size=16, salt=b.manifest_salt
                ).hexdigest(),
            }
        ]
        fates.append((task, "SUCCEEDED"))

    for env in reversed([e for e, _ in envs]):
        action = new({"envExit": {"environmentId": env}})
        if state == "dead" or env not in entered:
            continue
        # Exits run even after a failure or a cancel: the agent always tears down what it set up.
        cancel, b.canceled_at = b.canceled_at, None
        run(action, rng.uniform(0.5, 4.0))
        b.canceled_at = cancel
        action.update(status="SUCCEEDED", processExitCode=0, progressPercent=100.0)

    end = t + rng.uniform(0.5, 2.0)
    session = {
        "sessionId": session_id,
        "fleetId": worker.fleet_id,
        "workerId": worker.worker_id,
        "startedAt": _ms(start),
        "lifecycleStatus": "ENDED",
        "endedAt": _ms(end),
        "updatedAt": _ms(end),
        "updatedBy": worker.worker_id,
        "log": b.log(session_id),
        "hostProperties": worker.host,
    }
    b.sessions.append(session)
    b.actions.extend(actions)
    b.session_actions[session_id] = actions
    return end, fates


def _progress(
    action: dict[str, Any], step: _Step, task: _Task, begin: float, full_end: float, now: float
) -> None:
    """Set the heartbeat fields of an action that ran from ``begin`` until ``now``."""
    beats = math.floor((now - begin) / HEARTBEAT_SECONDS)
    updated = begin + beats * HEARTBEAT_SECONDS
    percent = min(99.0, max(0.0, 100.0 * (updated - begin) / max(full_end - begin, 1e-9)))
    percent = round(percent, 1)
    action["workerUpdatedAt"] = _ms(updated)
    action["progressPercent"] = percent
    action["progressMessage"] = step.message(task, percent)


def _schedule_step(
    b: _Build,
    step: _Step,
    workers: list[_Worker],
    free_at: dict[str, float],
    start: float,
    *,
    batch: tuple[int, int],
    reclaims: Mapping[str, _Reclaim] | None = None,
) -> float:
    """Run a step's tasks on the workers until none is left; return when the last session ended.

    A greedy list scheduler: the worker that frees up first takes the next batch. Tasks that a
    session could not finish come back after that session ended, so a retry is always a new
    action in a later session.
    """
    rng = b.rng
    queue = collections.deque(step.tasks)
    retry: list[tuple[float, int, _Task]] = []
    order = itertools.count()
    heap = [(max(free_at[w.worker_id], start), i, w) for i, w in enumerate(workers) if not w.dead]
    heapq.heapify(heap)
    end = start
    for w in workers:
        w.sessions = 0
    step_session = 0
    while (queue or retry) and heap:
        t, i, worker = heapq.heappop(heap)
        if b.canceled_at is not None and t >= b.canceled_at:
            break
        size = rng.randint(*batch)
        taken: list[_Task] = []
        while retry and retry[0][0] <= t and len(taken) < size:
            taken.append(heapq.heappop(retry)[2])
        while queue and len(taken) < size:
            taken.append(queue.popleft())
        if not taken:
            heapq.heappush(heap, (retry[0][0], i, worker))
            continue
        env_fail = step_session in b.env_fail_sessions
        step_session += 1
        reclaim = (reclaims or {}).get(worker.worker_id)
        finished, fates = _run_session(
            b, step, worker, taken, t, env_fail=env_fail, reclaim=reclaim
        )
        end = max(end, finished)
        for task, fate in fates:
            if fate == "FAILED":
                task.failures += 1
                if task.failures <= b.max_retries:
                    heapq.heappush(retry, (finished, next(order), task))
            elif fate == "REQUEUE":
                heapq.heappush(retry, (finished, next(order), task))
        free_at[worker.worker_id] = finished
        if not worker.dead:
            heapq.heappush(heap, (finished + rng.uniform(1.0, 8.0), i, worker))
    return end


# --------------------------------------------------------------------------------------------
# Deriving the statuses of tasks, steps and the job from the actions


def _counts(statuses: Iterable[str]) -> dict[str, int]:
    counts = dict.fromkeys(TASK_RUN_STATUSES, 0)
    for status in statuses:
        counts[status] += 1
    return counts


def _aggregate(counts: Mapping[str, int]) -> str:
    """The status a step or job shows for its tasks' statuses."""
    if any(counts[s] for s in _ACTIVE_TASK):
        return "RUNNING" if counts["RUNNING"] else "ASSIGNED"
    if counts["READY"]:
        return "READY"
    if counts["PENDING"]:
        return "PENDING"
    for status in ("FAILED", "CANCELED", "SUSPENDED", "NOT_COMPATIBLE"):
        if counts[status]:
            return status
    return "SUCCEEDED"


def _derive(
    b: _Build,
    sessions: list[dict[str, Any]],
    actions: list[dict[str, Any]],
    actions_by_session: dict[str, list[dict[str, Any]]],
) -> JobView:
    """Build a :class:`JobView`: tasks, steps and job fields computed from the actions."""
    actions_by_task: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for action in actions:
        task_run = action["definition"].get("taskRun")
        if task_run is not None:
            actions_by_task[task_run["taskId"]].append(action)

    canceled = b.canceled_at is not None
    tasks: dict[str, list[dict[str, Any]]] = {}
    task_by_id: dict[str, dict[str, Any]] = {}
    task_step: dict[str, str] = {}
    step_dicts: list[dict[str, Any]] = []
    job_statuses: list[str] = []
    job_retries = 0
    job_started: list[float] = []
    job_ended: list[float] = []
    finished_steps: set[str] = set()
    for step in b.steps:
        step_tasks: list[dict[str, Any]] = []
        retries = 0
        blocked = step.depends_on is not None and step.depends_on not in finished_steps
        for task in step.tasks:
            runs = actions_by_task.get(task.task_id, ())
            failures = 0
            for a in runs:
                if a["status"] == "FAILED":
                    failures += 1
            item: dict[str, Any] = {
                "taskId": task.task_id,
                "createdAt": b.created_at,
                "createdBy": b.created_by,
                "failureRetryCount": min(failures, b.max_retries),
                "parameters": task.parameters,
            }
            if runs:
                latest = runs[-1]
                status = latest["status"]
                if status == "SUCCEEDED":
                    run_status = "SUCCEEDED"
                elif status in ("RUNNING", "ASSIGNED", "SCHEDULED"):
                    run_status = status
                elif status == "FAILED" and failures > b.max_retries:
                    run_status = "FAILED"
                else:
                    run_status = "CANCELED" if canceled else "READY"
                started = [a["startedAt"] for a in runs if "startedAt" in a]
                if started:
                    item["startedAt"] = started[0]
                if run_status in ("SUCCEEDED", "FAILED", "CANCELED"):
                    ended = [a["endedAt"] for a in runs if "endedAt" in a]
                    if ended:  # a task canceled before it ever ran has no end either
                        item["endedAt"] = ended[-1]
                item["latestSessionActionId"] = latest["sessionActionId"]
                updated = latest.get("endedAt", latest.get("workerUpdatedAt"))
                item["updatedAt"] = updated if updated is not None else b.created_at
                item["updatedBy"] = b.created_by
            else:
                run_status = "CANCELED" if canceled else ("PENDING" if blocked else "READY")
            if run_status == "CANCELED":
                item["targetRunStatus"] = "CANCELED"
                item["updatedAt"] = b.canceled_at
                item["updatedBy"] = b.created_by
            item["runStatus"] = run_status
            retries += item["failureRetryCount"]
            step_tasks.append(item)
            task_by_id[task.task_id] = item
            task_step[task.task_id] = step.step_id
        tasks[step.step_id] = step_tasks
        counts = _counts(t["runStatus"] for t in step_tasks)
        step_status = _aggregate(counts)
        if step_status in ("SUCCEEDED", "FAILED", "CANCELED"):
            finished_steps.add(step.step_id)
        parameter: dict[str, Any] = {"name": step.param_name, "type": step.param_type}
        if step.chunk_size is not None:
            parameter["chunks"] = {
                "defaultTaskCount": step.chunk_size,
                "rangeConstraint": "CONTIGUOUS",
            }
        step_dict: dict[str, Any] = {
            "stepId": step.step_id,
            "name": step.name,
            "lifecycleStatus": "CREATE_COMPLETE",
            "taskRunStatus": step_status,
            "taskRunStatusCounts": counts,
            "taskFailureRetryCount": retries,
            "createdAt": b.created_at,
            "createdBy": b.created_by,
            "dependencyCounts": {
                "dependenciesResolved": int(step.depends_on in finished_steps),
                "dependenciesUnresolved": int(
                    step.depends_on is not None and step.depends_on not in finished_steps
                ),
                "consumersResolved": step.consumers if step.step_id in finished_steps else 0,
                "consumersUnresolved": 0 if step.step_id in finished_steps else step.consumers,
            },
            "requiredCapabilities": {
                "attributes": [
                    {"name": "attr.worker.os.family", "anyOf": ["linux"]},
                    {"name": "attr.worker.cpu.arch", "anyOf": ["x86_64"]},
                ],
                "amounts": [
                    {"name": "amount.worker.vcpu", "min": 16.0},
                    {"name": "amount.worker.memory", "min": 32768.0},
                ],
            },
            "parameterSpace": {"parameters": [parameter]},
        }
        started = [t["startedAt"] for t in step_tasks if "startedAt" in t]
        if started:
            step_dict["startedAt"] = min(started)
            job_started.append(min(started))
        if step_status in ("SUCCEEDED", "FAILED", "CANCELED"):
            ended = [t["endedAt"] for t in step_tasks if t.get("endedAt") is not None]
            if ended:
                step_dict["endedAt"] = max(ended)
                job_ended.append(max(ended))
        if canceled:
            step_dict["targetTaskRunStatus"] = "CANCELED"
        step_dicts.append(step_dict)
        job_statuses.extend(t["runStatus"] for t in step_tasks)
        job_retries += retries

    counts = _counts(job_statuses)
    job_status = _aggregate(counts)
    job = dict(b.job_fields)
    job.update(taskRunStatus=job_status, taskRunStatusCounts=counts)
    job["taskFailureRetryCount"] = job_retries
    if job_started:
        job["startedAt"] = min(job_started)
    ended_at = max(job_ended) if job_ended else b.canceled_at
    if job_status in ("SUCCEEDED", "FAILED", "CANCELED") and ended_at is not None:
        job["endedAt"] = ended_at
        job["updatedAt"] = ended_at
        job["updatedBy"] = b.created_by
    return JobView(
        job=job,
        steps=step_dicts,
        tasks=tasks,
        sessions=sessions,
        actions=actions,
        step_by_id={s["stepId"]: s for s in step_dicts},
        task_by_id=task_by_id,
        session_by_id={s["sessionId"]: s for s in sessions},
        action_by_id={a["sessionActionId"]: a for a in actions},
        actions_by_session=actions_by_session,
        actions_by_task=dict(actions_by_task),
        task_step=task_step,
    )


# --------------------------------------------------------------------------------------------
# The farm


@dataclass
class _JobEntry:
    spec: JobSpec
    day: float  # when the job was submitted
    builder: Callable[[_Build], None]
    fleet: str
    workers: int
    user: str
    priority: int
    description: str
    build: _Build | None = None
    view: JobView | None = None
    view_at: float | None = None


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
    speedup
        How much faster than the wall clock the running job advances.
    start
        Wall-clock instant (epoch seconds) at which the model's clock starts; defaults to now.

    Examples
    --------
    >>> from deadline_nb.localfarm.model import JOBS, FarmModel
    >>> model = FarmModel(seed=0)
    >>> sorted(q["displayName"] for q in model.queues)
    ['Comp', 'FX', 'Lighting']
    >>> actions = model.session_actions(model.job_by_name(JOBS["failing"]).job_id)
    >>> sorted({a["processExitCode"] for a in actions if a["status"] == "FAILED"})
    [-1073741819, 1, 137]
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        size: int = 0,
        speedup: float = 1.0,
        start: float | None = None,
    ) -> None:
        if speedup <= 0:
            raise ValueError(
                f"The value for `speedup` must be positive, but {speedup!r} was passed."
            )
        if size < 0:
            raise ValueError(f"The value for `size` must be 0 or more, but {size!r} was passed.")
        self.seed = seed
        self.size = size
        self.speedup = float(speedup)
        self.start = time.time() if start is None else float(start)
        self._lock = threading.RLock()
        self.farm_id = f"farm-{_hex(seed, 'farm')}"
        self.created_by = _principal(seed, "farm-admin")
        created = EPOCH - 86400 * 90
        self.farm: dict[str, Any] = {
            "farmId": self.farm_id,
            "displayName": "Studio Farm",
            "description": "Local Deadline Cloud farm (deadline_nb.localfarm)",
            "costScaleFactor": 1.0,
            "createdAt": created,
            "createdBy": self.created_by,
        }
        self.limit_id = f"limit-{_hex(seed, 'limit', 'arnold')}"
        self.queues: list[dict[str, Any]] = []
        self._queue_ids: dict[str, str] = {}
        for key, name, description in _QUEUES:
            queue_id = f"queue-{_hex(seed, 'queue', key)}"
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
        self._fleet_workers: dict[str, list[_Worker]] = {}
        self._fleet_ids: dict[str, str] = {}
        fleets = (*_FLEETS, _BURST) if size > 0 else _FLEETS
        for key, name, market, types, count in fleets:
            self._add_fleet(key, name, market, types, count, created + 7200)

        self._jobs: dict[str, _JobEntry] = {}
        for plan in _JOB_PLAN:
            if plan.role == "big" and size <= 0:
                continue
            # Finished jobs on the days after EPOCH; the running one submitted 50 minutes (of
            # the model's clock) before the model started.
            day = self.start - 3000 if plan.day is None else EPOCH + plan.day * 86400 + 7200
            self._add_job(plan, day)
        # Every job but the big one is simulated now (a few tens of milliseconds), so that what
        # the simulations decide about workers (reclaimed spot workers are STOPPED, the running
        # job's are RUNNING) does not depend on which job a client reads first.
        for entry in self._jobs.values():
            if entry.spec.role != "big":
                self._build(entry)
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
        fleet_id = f"fleet-{_hex(self.seed, 'fleet', key)}"
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
        workers: list[_Worker] = []
        for i in range(count):
            h = _hex(self.seed, "worker", key, i)
            ip = f"10.{20 + len(self._fleet_ids)}.{rng.randint(0, 255)}.{rng.randint(2, 254)}"
            host: dict[str, Any] = {"ipAddresses": {"ipV4Addresses": [ip]}}
            if market is None:
                host["hostName"] = f"rn-{i + 1:03d}.studio.internal"
            else:
                host["hostName"] = f"ip-{ip.replace('.', '-')}.{REGION}.compute.internal"
                host["ec2InstanceType"] = types[i % len(types)]
                host["ec2InstanceArn"] = (
                    f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0{_hex(self.seed, 'i', h)[:16]}"
                )
            worker = _Worker(f"worker-{h}", fleet_id, host)
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
        job_id = f"job-{_hex(self.seed, 'job', name)}"
        spec = JobSpec(
            job_id=job_id, queue_id=self._queue_ids[plan.queue], name=name, role=plan.role
        )
        self._jobs[job_id] = _JobEntry(
            spec=spec,
            day=day,
            builder=getattr(self, f"_build_{plan.role}"),
            fleet=plan.fleet,
            workers=plan.workers,
            user=plan.user,
            priority=70 if plan.role == "running" else 50,
            description=f"{name} submitted by {plan.user}",
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
        return [spec for spec in self.jobs if spec.queue_id == queue_id]

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

    def now(self) -> float:
        """Return the model's clock: epoch seconds, running ``speedup`` times the wall clock.

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
        return self.start + (time.time() - self.start) * self.speedup

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
                    entry.view = _derive(
                        build, build.sessions, build.actions, build.session_actions
                    )
            if entry.view is not None and entry.spec.role != "running":
                return entry.view
            build = self._build(entry)
            # The running job changes with time: recompute at most once per second of its clock.
            instant = math.floor(self.now() if at is None else at)
            if entry.view is None or entry.view_at != instant:
                entry.view = _running_view(build, instant)
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

    # ---- building jobs

    def _build(self, entry: _JobEntry) -> _Build:
        if entry.build is not None:
            return entry.build
        spec = entry.spec
        rng = random.Random(f"{self.seed}:{spec.name}")
        created_by = _principal(self.seed, entry.user)
        b = _Build(
            seed=self.seed,
            farm_id=self.farm_id,
            queue_id=spec.queue_id,
            spec=spec,
            rng=rng,
            job_env=f"JOB:{spec.job_id}:{_JOB_ENVS.get(spec.role, 'Render Env')}",
            created_at=_ms(entry.day),
            created_by=created_by,
            manifest_salt=bytes.fromhex(_hex(self.seed, "manifest"))[:16],
            fleet=entry.fleet,
            worker_count=entry.workers,
        )
        entry.builder(b)
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
            "parameters": {
                "Frames": {"string": _frame_range(b)},
                "SceneFile": {"path": f"/mnt/projects/aurora/{spec.name.split('_')[0]}/scene"},
            },
            "attachments": {
                "manifests": [
                    {
                        "rootPath": f"/mnt/projects/aurora/{spec.name.split('_')[0]}",
                        "rootPathFormat": "posix",
                        "outputRelativeDirectories": ["renders"],
                        "inputManifestPath": f"{self.farm_id}/{spec.queue_id}/Inputs/"
                        f"{_hex(self.seed, 'in', spec.name)}/input",
                        "inputManifestHash": _hex(self.seed, "inhash", spec.name),
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

    def _workers(self, b: _Build) -> list[_Worker]:
        pool = self._fleet_workers[self._fleet_ids[b.fleet]]
        chosen = b.rng.sample(pool, min(b.worker_count, len(pool)))
        # Fresh copies: a worker reclaimed in one job's simulation is not dead in another's.
        return [_Worker(w.worker_id, w.fleet_id, w.host) for w in chosen]

    def _step(
        self,
        b: _Build,
        name: str,
        env_name: str,
        values: list[str],
        *,
        param_type: str = "INT",
        duration: Callable[[_Task, random.Random], float],
        message: Callable[[_Task, float], str],
        limit: bool = False,
        chunk_size: int | None = None,
    ) -> _Step:
        step_hex = _hex(self.seed, "step", b.spec.name, name)
        kind = "chunkInt" if param_type == "CHUNK_INT" else "int"
        tasks = [
            _Task(i, f"task-{step_hex}-{i}", {"Frame": {kind: value}}, value)
            for i, value in enumerate(values)
        ]
        step = _Step(
            step_id=f"step-{step_hex}",
            name=name,
            env_name=env_name,
            param_name="Frame",
            param_type=param_type,
            tasks=tasks,
            duration=duration,
            message=message,
            limit_id=self.limit_id if limit else None,
            chunk_size=chunk_size,
        )
        b.steps.append(step)
        return step

    def _start(self, b: _Build) -> float:
        # Inputs upload and the scheduler's first pass take a few minutes after submission.
        return b.created_at + b.rng.uniform(120.0, 420.0)

    def _build_render(self, b: _Build) -> None:
        outliers = set(b.rng.sample(range(100, 221), 2))

        def duration(task: _Task, rng: random.Random) -> float:
            frame = int(task.label)
            # Mid-shot the camera is inside the forest: frames take up to twice as long.
            shape = 1.0 + 1.1 * math.exp(-(((frame - 125) / 42.0) ** 2))
            seconds = 420.0 * shape * rng.lognormvariate(0.0, 0.08)
            if frame in outliers:
                seconds *= rng.uniform(8.0, 11.0)  # stuck on a texture cache lock
            return seconds

        step = self._step(
            b,
            "Render",
            "Arnold",
            [str(f) for f in range(1, 241)],
            duration=duration,
            message=_tiles("Rendering frame", 28),
            limit=True,
        )
        workers = self._workers(b)
        free = {w.worker_id: 0.0 for w in workers}
        _schedule_step(b, step, workers, free, self._start(b), batch=(4, 10))

    def _build_simulation(self, b: _Build) -> None:
        chunks = [f"{i}-{i + 9}" for i in range(1, 241, 10)]
        sim = self._step(
            b,
            "Simulate",
            "Houdini",
            chunks,
            param_type="CHUNK_INT",
            duration=lambda task, rng: 1500.0 * rng.lognormvariate(0.0, 0.15),
            message=lambda task, pct: f"Simulating frames {task.label}: {pct:.0f}%",
            chunk_size=10,
        )
        meshes = [f"{i}-{i + 19}" for i in range(1, 241, 20)]
        mesh = self._step(
            b,
            "Mesh",
            "Houdini",
            meshes,
            param_type="CHUNK_INT",
            duration=lambda task, rng: 600.0 * rng.lognormvariate(0.0, 0.2),
            message=lambda task, pct: f"Meshing frames {task.label}: {pct:.0f}%",
            chunk_size=20,
        )
        mesh.depends_on = sim.step_id
        sim.consumers = 1
        workers = self._workers(b)
        free = {w.worker_id: 0.0 for w in workers}
        end = _schedule_step(b, sim, workers, free, self._start(b), batch=(2, 5))
        _schedule_step(b, mesh, workers, free, end + b.rng.uniform(5.0, 30.0), batch=(2, 4))

    def _build_failing(self, b: _Build) -> None:
        b.max_retries = 2
        # Scripted failures, so every seed shows each exit code; plus a few random ones.
        scripted = {7: (137, 137), 23: (-1073741819,) * 3, 41: (1,)}
        seen: dict[int, int] = collections.Counter()

        def fail(task: _Task, rng: random.Random) -> int | None:
            attempt = seen[task.index]
            seen[task.index] += 1
            codes = scripted.get(task.index, ())
            if attempt < len(codes):
                return codes[attempt]
            if task.index not in scripted and rng.random() < 0.04:
                return 1
            return None

        b.fail = fail
        b.env_fail_sessions = frozenset({4})
        step = self._step(
            b,
            "Crowd Sim",
            "Golaem",
            [str(f) for f in range(1, 61)],
            duration=lambda task, rng: 300.0 * rng.lognormvariate(0.0, 0.25),
            message=lambda task, pct: f"Simulating agents, frame {task.label}: {pct:.0f}%",
        )
        workers = self._workers(b)
        free = {w.worker_id: 0.0 for w in workers}
        _schedule_step(b, step, workers, free, self._start(b), batch=(3, 6))

    def _build_canceled(self, b: _Build) -> None:
        step = self._step(
            b,
            "Pyro",
            "Houdini",
            [str(f) for f in range(1, 121)],
            duration=lambda task, rng: 540.0 * rng.lognormvariate(0.0, 0.2),
            message=_tiles("Rendering pyro frame", 16),
        )
        start = self._start(b)
        # The artist spotted a wrong cache version about 40% of the way through.
        b.canceled_at = _ms(start + 0.4 * 120 * 540.0 / 8)
        workers = self._workers(b)
        free = {w.worker_id: 0.0 for w in workers}
        _schedule_step(b, step, workers, free, start, batch=(4, 8))

    def _build_reclaimed(self, b: _Build) -> None:
        step = self._step(
            b,
            "Render",
            "Arnold",
            [str(f) for f in range(1, 181)],
            duration=lambda task, rng: 360.0 * rng.lognormvariate(0.0, 0.12),
            message=_tiles("Rendering frame", 24),
        )
        workers = self._workers(b)
        reclaims = {
            workers[0].worker_id: _Reclaim(1, 2, 0.6, "RECLAIMED"),
            workers[3].worker_id: _Reclaim(0, 1, 0.3, "INTERRUPTED"),
            workers[6].worker_id: _Reclaim(2, 0, 0.8, "RECLAIMED"),
        }
        free = {w.worker_id: 0.0 for w in workers}
        _schedule_step(b, step, workers, free, self._start(b), batch=(3, 7), reclaims=reclaims)
        gone = set(reclaims)
        for worker in self.workers:
            if worker["workerId"] in gone:
                worker["status"] = "STOPPED"

    def _build_big(self, b: _Build) -> None:
        # About 22 actions per session: 5 around the task runs and 17 task runs on average.
        frames = max(1, round(self.size * 17 / 22))
        step = self._step(
            b,
            "Render",
            "Arnold",
            [str(f) for f in range(1, frames + 1)],
            duration=lambda task, rng: 150.0 * rng.lognormvariate(0.0, 0.15),
            message=_tiles("Rendering frame", 16),
            limit=True,
        )
        workers = self._workers(b)
        free = {w.worker_id: 0.0 for w in workers}
        _schedule_step(b, step, workers, free, self._start(b), batch=(12, 22))

    def _build_running(self, b: _Build) -> None:
        # Planned in full as if it will succeed; what is visible depends on the clock.
        step = self._step(
            b,
            "Comp",
            "Nuke",
            [str(f) for f in range(1001, 1481)],
            duration=lambda task, rng: 240.0 * rng.lognormvariate(0.0, 0.2),
            message=_tiles("Comp frame", 12, unit="layer"),
        )
        workers = self._workers(b)
        free = {w.worker_id: 0.0 for w in workers}
        _schedule_step(b, step, workers, free, self._start(b), batch=(6, 12))


_JOB_ENVS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "render": "Render Env",
        "simulation": "Houdini Env",
        "failing": "Crowd Env",
        "canceled": "Houdini Env",
        "reclaimed": "Render Env",
        "running": "Comp Env",
        "big": "Render Env",
    }
)


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


def _tiles(verb: str, tiles: int, unit: str = "tile") -> Callable[[_Task, float], str]:
    def message(task: _Task, percent: float) -> str:
        done = min(tiles, max(1, math.ceil(percent / 100.0 * tiles)))
        return f"{verb} {task.label}: {percent:.0f}% ({unit} {done}/{tiles})"

    return message


def _frame_range(b: _Build) -> str:
    values = [t.label for step in b.steps for t in step.tasks[:1] + step.tasks[-1:]]
    first, last = values[0].split("-")[0], values[-1].split("-")[-1]
    return f"{first}-{last}"


def _running_view(b: _Build, now: float) -> JobView:
    """The running job at ``now``: what has started is shown, the next action is ASSIGNED."""
    step_by_id = {s.step_id: s for s in b.steps}
    tasks_by_id = {t.task_id: t for s in b.steps for t in s.tasks}
    sessions: list[dict[str, Any]] = []
    actions: list[dict[str, Any]] = []
    by_session: dict[str, list[dict[str, Any]]] = {}
    for session in b.sessions:
        if session["startedAt"] > now:
            continue
        shown: list[dict[str, Any]] = []
        for action in b.session_actions[session["sessionId"]]:
            started = action.get("startedAt")
            if started is None or started > now:
                # The scheduler has handed the worker its next action; nothing after it exists.
                shown.append(
                    {
                        "sessionActionId": action["sessionActionId"],
                        "sessionId": action["sessionId"],
                        "status": "ASSIGNED",
                        "definition": action["definition"],
                    }
                )
                break
            if action["endedAt"] <= now:
                shown.append(action)
                continue
            running = {
                k: v
                for k, v in action.items()
                if k not in ("endedAt", "processExitCode", "manifests", "progressMessage")
            }
            running["status"] = "RUNNING"
            task_run = action["definition"].get("taskRun")
            if task_run is not None:
                _progress(
                    running,
                    step_by_id[task_run["stepId"]],
                    tasks_by_id[task_run["taskId"]],
                    started,
                    action["endedAt"],
                    now,
                )
            else:
                beats = math.floor((now - started) / HEARTBEAT_SECONDS)
                running["workerUpdatedAt"] = _ms(started + beats * HEARTBEAT_SECONDS)
                running["progressPercent"] = 0.0
            shown.append(running)
            break
        if session["endedAt"] <= now:
            sessions.append(session)
        else:
            live = {k: v for k, v in session.items() if k != "endedAt"}
            live["lifecycleStatus"] = "STARTED"
            live["updatedAt"] = session["startedAt"]
            sessions.append(live)
        by_session[session["sessionId"]] = shown
        actions.extend(shown)
    return _derive(b, sessions, actions, by_session)
