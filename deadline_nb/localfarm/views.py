"""What the API shows of a job: the statuses of its tasks, steps and job, derived from its actions.

Shared by :mod:`.model` (which keeps one :class:`JobView` per finished job, and makes the running
job's again as its clock moves) and :mod:`.responses` (which answers every read from a view). The
statuses are *derived* from the session actions the simulation produced, so they cannot disagree.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from ..schema import HEARTBEAT_SECONDS
from .shapes import service_model
from .simulation import JobBuild, report_progress, to_ms

__all__ = ["TASK_RUN_STATUSES", "JobView", "derive_view", "running_view"]

#: ``TaskRunStatus`` from botocore's model, in the API's order.
TASK_RUN_STATUSES: Final[tuple[str, ...]] = tuple(
    service_model().shape_for("TaskRunStatus").enum  # type: ignore[attr-defined]
)

_ACTIVE_TASK = ("RUNNING", "ASSIGNED", "STARTING", "SCHEDULED", "INTERRUPTING")


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


def derive_view(
    b: JobBuild,
    sessions: list[dict[str, Any]],
    actions: list[dict[str, Any]],
    actions_by_session: dict[str, list[dict[str, Any]]],
) -> JobView:
    """Build a :class:`JobView`: tasks, steps and job fields computed from the actions.

    Parameters
    ----------
    b
        The simulated job.
    sessions, actions, actions_by_session
        What of its sessions and actions to show (all of them for a finished job; what has
        started by an instant for the running one, see :func:`running_view`).

    Returns
    -------
    JobView
        The job as the API shows it.

    Examples
    --------
    >>> from deadline_nb.localfarm.model import FarmModel
    >>> view = FarmModel(seed=0).view(FarmModel(seed=0).job_by_name("failing").job_id)
    >>> view.job["taskRunStatus"], view.job["taskRunStatusCounts"]["FAILED"]
    ('FAILED', 1)
    """
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


def running_view(b: JobBuild, now: float) -> JobView:
    """Return the running job at ``now``: what has started is shown, the next action ASSIGNED.

    Parameters
    ----------
    b
        The running job, simulated in full as if it will succeed.
    now
        The instant, in epoch seconds.

    Returns
    -------
    JobView
        The job as the API shows it at ``now``: actions that ended by then as they ended, the
        one in progress RUNNING with its last heartbeat's progress, nothing after it.

    Examples
    --------
    >>> from deadline_nb.localfarm.clock import ManualClock
    >>> from deadline_nb.localfarm.model import FarmModel
    >>> model = FarmModel(seed=0, clock=ManualClock(1_800_000_000.0))
    >>> view = model.view(model.job_by_name("running").job_id)
    >>> view.job["taskRunStatus"], "RUNNING" in {a["status"] for a in view.actions}
    ('RUNNING', True)
    """
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
                report_progress(
                    running,
                    step_by_id[task_run["stepId"]],
                    tasks_by_id[task_run["taskId"]],
                    started,
                    action["endedAt"],
                    now,
                )
            else:
                beats = math.floor((now - started) / HEARTBEAT_SECONDS)
                running["workerUpdatedAt"] = to_ms(started + beats * HEARTBEAT_SECONDS)
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
    return derive_view(b, sessions, actions, by_session)
