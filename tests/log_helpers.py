"""A job's session logs read from the local farm, as the report and explorer tests give them.

What ``Job.logs`` holds once the fetch layer has read it: :func:`deadline_nb.log_frame` over every
session's stream, with the job's actions. Here each stream is read with a plain boto3 ``logs``
client against the farm, the way the official ``deadline`` CLI reads a session's log: the group
``/aws/deadline/<farmId>/<queueId>``, the stream named by the session id (``deadline/client/api/
_job_monitoring.py``), GetLogEvents forward from the head (``startFromHead=True``), following
``nextForwardToken`` until the service gives back the token it was passed (botocore's ``logs``
model: "If you have reached the end of the stream, it returns the same token you passed in").
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import deadline_nb as dnb

if TYPE_CHECKING:
    import pandas as pd

    from deadline_nb.localfarm import LocalFarm


def stream_events(logs: Any, group: str, stream: str) -> list[dict[str, Any]] | None:
    """Every event of one stream, oldest first; None when the stream does not exist."""
    events: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        try:
            page = logs.get_log_events(
                logGroupName=group,
                logStreamName=stream,
                startFromHead=True,
                **({"nextToken": token} if token else {}),
            )
        except logs.exceptions.ResourceNotFoundException:
            return None  # a session whose stream was never made (or has expired)
        events.extend(page["events"])
        if page["nextForwardToken"] == token:
            return events
        token = page["nextForwardToken"]


def job_log_frame(farm: LocalFarm, job: dnb.Job) -> pd.DataFrame:
    """The job's log frame: every session's stream from the farm, attributed to its actions."""
    logs = farm.logs_client()
    group = f"/aws/deadline/{job.farm_id}/{job.queue_id}"
    sessions = sorted(job.actions["sessionId"].dropna().astype(str).unique())
    events: dict[str, list[dict[str, Any]]] = {}
    for session_id in sessions:
        found = stream_events(logs, group, session_id)
        if found is not None:
            events[session_id] = found
    return dnb.log_frame(
        events,
        actions=job.actions,
        farm_id=job.farm_id,
        queue_id=job.queue_id,
        job_id=job.job_id,
    )


def with_logs(farm: LocalFarm, job: dnb.Job) -> dnb.Job:
    """A copy of ``job`` whose ``logs`` are already read (from the farm), as after first use."""
    return dataclasses.replace(job, _logs=job_log_frame(farm, job))
