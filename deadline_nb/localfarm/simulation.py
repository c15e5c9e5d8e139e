"""The simulation of one job: workers take batches of tasks in sessions, as the service schedules.

Shared by :mod:`.scenarios`, which scripts each job with these pieces (its steps, how long a task
takes, which runs fail, which workers are reclaimed), by :mod:`.views`, which derives what the API
shows from what the simulation produced, and by :mod:`.model`, which holds the farm the jobs run
on. Pure: no I/O, no clock; every random draw comes from the job's own generator.

A session enters the job and step environments, syncs the job's attachments, runs its tasks and
exits the environments in reverse order. Failures, retries, cancellation and reclaimed spot workers
happen inside the session; the scheduler gives what a session could not finish to a later one.
"""

from __future__ import annotations

import collections
import hashlib
import heapq
import itertools
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..schema import HEARTBEAT_SECONDS
from .ids import stable_hex

__all__ = [
    "JobBuild",
    "JobSpec",
    "Reclaim",
    "Step",
    "Task",
    "Worker",
    "report_progress",
    "run_session",
    "schedule_step",
    "to_ms",
]


def to_ms(t: float) -> float:
    """Round epoch seconds to the millisecond, as the service reports them.

    Parameters
    ----------
    t
        Epoch seconds.

    Returns
    -------
    float
        The same instant to the millisecond (also keeps the JSON short and exact).

    Examples
    --------
    >>> from deadline_nb.localfarm.simulation import to_ms
    >>> to_ms(1772438400.123456)
    1772438400.123
    """
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


@dataclass
class Worker:
    """A worker as one job's simulation sees it (fresh for each job)."""

    worker_id: str
    fleet_id: str
    host: dict[str, Any]
    sessions: int = 0  # sessions this worker has run for the job being simulated
    dead: bool = False


@dataclass
class Task:
    """A task of a step being simulated: its parameters and how often it failed so far."""

    index: int
    task_id: str
    parameters: dict[str, Any]
    label: str  # "57" or "1-10": the parameter value, for progress messages
    failures: int = 0


@dataclass
class Step:
    """A step being simulated: its tasks and how long each takes and what it reports."""

    step_id: str
    name: str
    env_name: str
    param_name: str
    param_type: str  # StepParameterType: INT or CHUNK_INT
    tasks: list[Task]
    duration: Callable[[Task, random.Random], float]
    message: Callable[[Task, float], str]
    limit_id: str | None = None
    chunk_size: int | None = None
    depends_on: str | None = None
    consumers: int = 0


@dataclass
class Reclaim:
    """Where a spot worker disappears: which session, which task run, how far into it."""

    session_number: int  # the worker's n-th session of the job (0-based)
    task_position: int  # the n-th task run of that session
    fraction: float  # how far into the task the worker disappears
    status: str  # INTERRUPTED or RECLAIMED


@dataclass
class JobBuild:
    """Everything one job's simulation produces, before statuses are derived."""

    seed: int
    farm_id: str
    queue_id: str
    spec: JobSpec
    rng: random.Random
    job_env: str
    steps: list[Step] = field(default_factory=list)
    sessions: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    session_actions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    canceled_at: float | None = None
    max_retries: int = 5
    job_fields: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0.0
    created_by: str = ""
    fail: Callable[[Task, random.Random], int | None] = lambda task, rng: None
    # A failure that depends on the worker too (a bad node); None draws nothing, so the jobs
    # that do not set it stay the same draw for draw.
    worker_fail: Callable[[Worker, Task, random.Random], int | None] | None = None
    env_fail_sessions: frozenset[int] = frozenset()
    session_count: int = 0
    manifest_salt: bytes = b""
    fleet: str = "cpu"  # the key of the fleet whose workers run the job
    worker_count: int = 8
    pool: list[Worker] = field(default_factory=list)  # that fleet's workers, to pick from
    limit_id: str | None = None  # the farm's license limit, for the steps that hold it
    size: int = 0  # the farm's ``size``: how many session actions the big job has
    stopped: set[str] = field(default_factory=set)  # workers lost for good in this job

    def log(self, session_id: str) -> dict[str, Any]:
        """Return the ``log`` member of a session of this job."""
        # The session log lives in the queue's CloudWatch log group, one stream per session.
        return {
            "logDriver": "awslogs",
            "options": {
                "logGroupName": f"/aws/deadline/{self.farm_id}/{self.queue_id}",
                "logStreamName": session_id,
            },
            "parameters": {"interval": "15"},
        }


def run_session(
    b: JobBuild,
    step: Step,
    worker: Worker,
    batch: list[Task],
    start: float,
    *,
    env_fail: bool,
    reclaim: Reclaim | None,
) -> tuple[float, list[tuple[Task, str]]]:
    """Simulate one session of ``worker`` on ``batch``; return its end and each task's fate.

    The session and its actions are appended to ``b``. Fates: ``SUCCEEDED``; ``FAILED`` (the
    task run failed); ``REQUEUE`` (never attempted or cut short by the worker's loss: the
    scheduler gives it to another session); ``CANCELED``.

    Parameters
    ----------
    b
        The job being simulated.
    step
        The step the session runs (one step per session).
    worker
        The worker that runs it.
    batch
        The tasks it was given.
    start
        When it starts, in epoch seconds.
    env_fail
        Whether its step environment fails to enter.
    reclaim
        Where the worker disappears, if it does.

    Returns
    -------
    tuple
        The session's end (epoch seconds) and ``(task, fate)`` for each task of the batch.

    Examples
    --------
    >>> import random
    >>> from deadline_nb.localfarm.simulation import (
    ...     JobBuild, JobSpec, Step, Task, Worker, run_session)
    >>> b = JobBuild(seed=0, farm_id="farm-1", queue_id="queue-1", rng=random.Random(0),
    ...              spec=JobSpec("job-1", "queue-1", "demo", "render"), job_env="JOB:job-1:Env")
    >>> task = Task(0, "task-1-0", {"Frame": {"int": "1"}}, "1")
    >>> step = Step("step-1", "Render", "Arnold", "Frame", "INT", [task],
    ...             duration=lambda task, rng: 60.0, message=lambda task, pct: f"{pct:.0f}%")
    >>> end, fates = run_session(b, step, Worker("worker-1", "fleet-1", {}), [task], 0.0,
    ...                          env_fail=False, reclaim=None)
    >>> [next(iter(a["definition"])) for a in b.actions]
    ['envEnter', 'envEnter', 'syncInputJobAttachments', 'taskRun', 'envExit', 'envExit']
    >>> fates[0][1], b.actions[3]["progressMessage"]
    ('SUCCEEDED', '100%')
    """
    rng = b.rng
    b.session_count += 1
    session_hex = stable_hex(b.seed, "session", b.spec.name, b.session_count)
    session_id = f"session-{session_hex}"
    actions: list[dict[str, Any]] = []
    fates: list[tuple[Task, str]] = []
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
            action.update(startedAt=to_ms(begin), endedAt=to_ms(b.canceled_at), status="CANCELED")
            action["workerUpdatedAt"] = to_ms(b.canceled_at)
            t = b.canceled_at
            return begin, b.canceled_at, True
        ended = to_ms(end)
        action.update(startedAt=to_ms(begin), endedAt=ended, workerUpdatedAt=ended)
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
        if exit_code is None and not is_reclaimed and b.worker_fail is not None:
            exit_code = b.worker_fail(worker, task, rng)
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
                report_progress(action, step, task, begin, begin + duration, end)
                action["workerUpdatedAt"] = action["endedAt"]  # the agent reports the cancel
            fates.append((task, "CANCELED"))
            continue
        if is_reclaimed:
            assert reclaim is not None
            action["status"] = reclaim.status
            # The worker stopped answering: its last heartbeat is all the service has.
            report_progress(action, step, task, begin, begin + duration / reclaim.fraction, end)
            state = "dead"
            worker.dead = True
            fates.append((task, "REQUEUE"))
            continue
        if exit_code is not None:
            action["status"] = "FAILED"
            action["processExitCode"] = exit_code
            report_progress(action, step, task, begin, begin + duration * 3.0, end)
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
        "startedAt": to_ms(start),
        "lifecycleStatus": "ENDED",
        "endedAt": to_ms(end),
        "updatedAt": to_ms(end),
        "updatedBy": worker.worker_id,
        "log": b.log(session_id),
        # GetSession's workerLog: the worker's own log, with its host metrics.
        "workerLog": {
            "logDriver": "awslogs",
            "options": {
                "logGroupName": f"/aws/deadline/{b.farm_id}/{worker.fleet_id}",
                "logStreamName": worker.worker_id,
            },
        },
        "hostProperties": worker.host,
    }
    b.sessions.append(session)
    b.actions.extend(actions)
    b.session_actions[session_id] = actions
    return end, fates


def report_progress(
    action: dict[str, Any], step: Step, task: Task, begin: float, full_end: float, now: float
) -> None:
    """Set the heartbeat fields of an action that ran from ``begin`` until ``now``.

    The worker agent reports progress only on its heartbeat, so ``workerUpdatedAt`` is the last
    heartbeat before ``now``, and the percentage is how far that heartbeat was from ``begin`` to
    ``full_end`` (capped at 99: only the end reports 100).

    Parameters
    ----------
    action
        The action, updated in place.
    step, task
        What it runs (``step.message`` writes the progress message).
    begin
        When it started, in epoch seconds.
    full_end
        When it would have ended had it run to the end.
    now
        The instant it is reported at.

    Examples
    --------
    >>> from deadline_nb.localfarm.simulation import Step, Task, report_progress
    >>> task = Task(0, "task-1-0", {"Frame": {"int": "7"}}, "7")
    >>> step = Step("step-1", "Render", "Arnold", "Frame", "INT", [task],
    ...             duration=lambda task, rng: 60.0,
    ...             message=lambda task, pct: f"frame {task.label}: {pct:.0f}%")
    >>> action = {}
    >>> report_progress(action, step, task, 0.0, 60.0, 40.0)
    >>> action
    {'workerUpdatedAt': 30.0, 'progressPercent': 50.0, 'progressMessage': 'frame 7: 50%'}
    """
    beats = math.floor((now - begin) / HEARTBEAT_SECONDS)
    updated = begin + beats * HEARTBEAT_SECONDS
    percent = min(99.0, max(0.0, 100.0 * (updated - begin) / max(full_end - begin, 1e-9)))
    percent = round(percent, 1)
    action["workerUpdatedAt"] = to_ms(updated)
    action["progressPercent"] = percent
    action["progressMessage"] = step.message(task, percent)


def schedule_step(
    b: JobBuild,
    step: Step,
    workers: list[Worker],
    free_at: dict[str, float],
    start: float,
    *,
    batch: tuple[int, int],
    reclaims: Mapping[str, Reclaim] | None = None,
) -> float:
    """Run a step's tasks on the workers until none is left; return when the last session ended.

    A greedy list scheduler: the worker that frees up first takes the next batch. Tasks that a
    session could not finish come back after that session ended, so a retry is always a new
    action in a later session.

    Parameters
    ----------
    b
        The job being simulated.
    step
        The step whose tasks to run.
    workers
        The workers that run them.
    free_at
        Worker id -> when it is free; updated, so that a next step starts where this one ended.
    start
        When the step can start, in epoch seconds.
    batch
        The least and most tasks a session takes.
    reclaims
        Worker id -> where that worker disappears.

    Returns
    -------
    float
        When the step's last session ended, in epoch seconds.

    Examples
    --------
    >>> import random
    >>> from deadline_nb.localfarm.simulation import (
    ...     JobBuild, JobSpec, Step, Task, Worker, schedule_step)
    >>> b = JobBuild(seed=0, farm_id="farm-1", queue_id="queue-1", rng=random.Random(0),
    ...              spec=JobSpec("job-1", "queue-1", "demo", "render"), job_env="JOB:job-1:Env")
    >>> tasks = [Task(i, f"task-1-{i}", {"Frame": {"int": str(i)}}, str(i)) for i in range(4)]
    >>> step = Step("step-1", "Render", "Arnold", "Frame", "INT", tasks,
    ...             duration=lambda task, rng: 60.0, message=lambda task, pct: f"{pct:.0f}%")
    >>> workers = [Worker("worker-1", "fleet-1", {}), Worker("worker-2", "fleet-1", {})]
    >>> end = schedule_step(b, step, workers, {"worker-1": 0.0, "worker-2": 0.0}, 0.0,
    ...                     batch=(2, 2))
    >>> len(b.sessions), sorted({s["workerId"] for s in b.sessions}), end > 120
    (2, ['worker-1', 'worker-2'], True)
    """
    rng = b.rng
    queue = collections.deque(step.tasks)
    retry: list[tuple[float, int, Task]] = []
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
        taken: list[Task] = []
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
        finished, fates = run_session(b, step, worker, taken, t, env_fail=env_fail, reclaim=reclaim)
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
