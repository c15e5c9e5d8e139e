"""Jobs for the findings tests: local-farm jobs as frames, and the ground truth they were made from.

``simulated_job(role)`` turns a scenario of :mod:`deadline_nb.localfarm.scenarios` into a
:class:`deadline_nb.Job` without a server: the farm's own model and views make the API's
responses, and the package's frame functions read them, as :func:`deadline_nb.load_job` would.
It also simulates ``troubled``, the scenario that is not one of the farm's jobs.
"""

from __future__ import annotations

import random
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

import deadline_nb as dnb
from deadline_nb import schema
from deadline_nb.fetch import Job
from deadline_nb.frames import job_action_frame
from deadline_nb.localfarm.clock import ManualClock
from deadline_nb.localfarm.ids import stable_hex
from deadline_nb.localfarm.model import EPOCH, FarmModel
from deadline_nb.localfarm.scenarios import JOBS, SCENARIOS, TROUBLED_JOB
from deadline_nb.localfarm.simulation import JobBuild, JobSpec, Worker, to_ms
from deadline_nb.localfarm.views import JobView, derive_view

GIB = 2**30


def _aware(value: Any) -> Any:
    if isinstance(value, float) and value > 1e9:
        return datetime.fromtimestamp(value, tz=timezone.utc)
    if isinstance(value, dict):
        return {k: _aware(v) for k, v in value.items()}
    return value


def troubled_build(seed: int = 0) -> JobBuild:
    """Simulate the ``troubled`` scenario on the farm's CPU fleet, deterministic per seed."""
    model = FarmModel(seed=seed, clock=ManualClock(1_800_000_000.0))
    fleet = next(f for f in model.fleets if f["displayName"].startswith("Linux CPU (on"))
    pool = [
        Worker(w["workerId"], w["fleetId"], w["hostProperties"])
        for w in model.fleet_workers(fleet["fleetId"])
    ]
    queue_id = model.queues[0]["queueId"]
    job_id = f"job-{stable_hex(seed, 'job', TROUBLED_JOB)}"
    b = JobBuild(
        seed=seed,
        farm_id=model.farm_id,
        queue_id=queue_id,
        spec=JobSpec(job_id, queue_id, TROUBLED_JOB, "troubled"),
        rng=random.Random(f"{seed}:{TROUBLED_JOB}"),
        job_env=f"JOB:{job_id}:Lookdev Env",
        created_at=to_ms(EPOCH + 7 * 86400 + 7200),
        pool=pool,
    )
    SCENARIOS["troubled"](b)
    b.job_fields = {"jobId": job_id, "name": TROUBLED_JOB, "maxRetriesPerTask": b.max_retries}
    b.sessions.sort(key=lambda s: (s["startedAt"], s["sessionId"]))
    order = {s["sessionId"]: i for i, s in enumerate(b.sessions)}
    b.actions.sort(key=lambda a: order[a["sessionId"]])
    return b


def job_from_view(view: JobView, farm_id: str, queue_id: str) -> Job:
    """A Job of frames from what the API shows of a job, as load_job builds it."""
    ids = {"farm_id": farm_id, "queue_id": queue_id, "job_id": view.job["jobId"]}
    actions = dnb.session_action_frame(view.actions, **ids)
    steps = dnb.step_frame(view.steps, **ids)
    sessions = dnb.session_frame(view.sessions, **ids)
    tasks = dnb.task_frame([t for step in view.tasks.values() for t in step], **ids)
    job = {**_aware(view.job), "farmId": farm_id, "queueId": queue_id}
    return Job(
        job=job,
        steps=steps,
        tasks=tasks,
        sessions=sessions,
        actions=job_action_frame(actions, steps=steps, sessions=sessions),
        snapshots=schema.empty_frame(schema.SNAPSHOT_COLUMNS),
    )


def simulated_job(role: str, seed: int = 0) -> tuple[Job, JobBuild]:
    """A local-farm job as a Job (no server), and the simulation it came from."""
    if role == "troubled":
        b = troubled_build(seed)
        view = derive_view(b, b.sessions, b.actions, b.session_actions)
        return job_from_view(view, b.farm_id, b.queue_id), b
    model = FarmModel(seed=seed, clock=ManualClock(1_800_000_000.0))
    spec = model.job_by_name(JOBS[role])
    return (
        job_from_view(model.view(spec.job_id), model.farm_id, spec.queue_id),
        model.job_build(spec.job_id),
    )


def with_resources(
    actions: pd.DataFrame, peaks: dict[str, float], *, total: int = 64 * GIB, base: float = 40.0
) -> pd.DataFrame:
    """The actions with synthetic resource columns (as ``job.resources`` has them).

    Every attempted action peaks at ``base`` percent of ``total`` bytes, those named in
    ``peaks`` (session action id -> percent) at theirs; never-attempted actions have no samples.
    """
    out = actions.copy()
    attempted = out["startedAt"].notna().to_numpy()
    percent = np.where(attempted, base, np.nan)
    ids = out["sessionActionId"].astype(str).to_numpy()
    for action_id, value in peaks.items():
        percent[ids == action_id] = value
    out["metricSamples"] = pd.array(np.where(attempted, 4, 0), dtype="Int64")
    out["memPeakBytes"] = pd.array(
        [None if np.isnan(p) else round(p / 100 * total) for p in percent], dtype="Int64"
    )
    out["memPeakPercent"] = pd.array([None if np.isnan(p) else p for p in percent], dtype="Float64")
    out["memTotalBytes"] = pd.array(
        [None if np.isnan(p) else total for p in percent], dtype="Int64"
    )
    out["cpuMeanPercent"] = pd.array([None if np.isnan(p) else 50.0 for p in percent], "Float64")
    out["cpuMaxPercent"] = pd.array([None if np.isnan(p) else 90.0 for p in percent], "Float64")
    return out


def cost_frame(total_usd: float) -> pd.DataFrame:
    """A one-row cost frame as ``job.cost`` gives it (the usage frame's cost columns)."""
    return pd.DataFrame(
        {
            "cost.sum": pd.array([total_usd], dtype="Float64"),
            "runtimeInSeconds.sum": pd.array([3600.0], dtype="Float64"),
        }
    )
