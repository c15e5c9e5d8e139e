"""Builders of API-shaped session actions for the tests (what boto3 returns)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

FARM = "farm-" + "a" * 32
QUEUE = "queue-" + "b" * 32
JOB = "job-" + "c" * 32
STEP = "step-" + "d" * 32
STEP2 = "step-" + "e" * 32
SESSION = "session-" + "1" * 32
T0 = datetime(2026, 11, 26, 22, 0, tzinfo=timezone.utc)

# The column that identifies a row of each table of a history dataset: rows are compared in
# this order, and none may appear twice.
HISTORY_KEYS = {
    "jobs": "jobId",
    "steps": "stepId",
    "tasks": "taskId",
    "sessions": "sessionId",
    "actions": "sessionActionId",
}


def action_id(n: int, session_hex: str = "1" * 32) -> str:
    return f"sessionaction-{session_hex}-{n}"


def task_run(
    n: int,
    *,
    frame: int | None = None,
    parameters: dict[str, Any] | None = None,
    status: str = "SUCCEEDED",
    seconds: float = 60.0,
    step: str = STEP,
    exit_code: int | None = 0,
    session_hex: str = "1" * 32,
    **extra: Any,
) -> dict[str, Any]:
    """A GetSessionAction response for a task run, as boto3 returns it."""
    if parameters is None:
        parameters = {"Frame": {"int": str(frame if frame is not None else n)}}
    item: dict[str, Any] = {
        "sessionActionId": action_id(n, session_hex),
        "sessionId": f"session-{session_hex}",
        "status": status,
        "definition": {
            "taskRun": {"stepId": step, "taskId": f"task-{step[5:]}-{n}", "parameters": parameters}
        },
    }
    if status != "NEVER_ATTEMPTED":
        item["startedAt"] = T0 + timedelta(seconds=100 * n)
        item["workerUpdatedAt"] = item["startedAt"] + timedelta(seconds=seconds)
        if status not in ("RUNNING", "ASSIGNED", "SCHEDULED"):
            item["endedAt"] = item["startedAt"] + timedelta(seconds=seconds)
            if exit_code is not None:
                item["processExitCode"] = exit_code
    item.update(extra)
    return item


def env_action(n: int, kind: str = "envEnter", *, session_hex: str = "1" * 32) -> dict[str, Any]:
    return {
        "sessionActionId": action_id(n, session_hex),
        "sessionId": f"session-{session_hex}",
        "status": "SUCCEEDED",
        "startedAt": T0 + timedelta(seconds=100 * n),
        "endedAt": T0 + timedelta(seconds=100 * n + 5),
        "processExitCode": 0,
        "definition": {kind: {"environmentId": f"JOB:{JOB}:Render Env"}},
    }


def sync_action(n: int, *, session_hex: str = "1" * 32) -> dict[str, Any]:
    return {
        "sessionActionId": action_id(n, session_hex),
        "sessionId": f"session-{session_hex}",
        "status": "SUCCEEDED",
        "startedAt": T0 + timedelta(seconds=100 * n),
        "endedAt": T0 + timedelta(seconds=100 * n + 12),
        "definition": {"syncInputJobAttachments": {"stepId": STEP}},
    }


def session_actions() -> list[dict[str, Any]]:
    """One session as the service forms it: enter, sync, three task runs, exit."""
    return [
        env_action(0, "envEnter"),
        sync_action(1),
        task_run(2, frame=1),
        task_run(3, frame=2, seconds=95.5),
        task_run(4, frame=3, status="FAILED", exit_code=-1073741819),
        env_action(5, "envExit"),
    ]


def job_options(farm: Any, role: str) -> list[str]:
    """The command line's job and endpoint options for a local farm's job, by role."""
    job = farm.job_by_name(role)
    return [
        "--farm-id",
        farm.farm_id,
        "--queue-id",
        job.queue_id,
        "--job-id",
        job.job_id,
        "--endpoint-url",
        farm.endpoint_url,
    ]
