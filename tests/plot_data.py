"""Frames for the plot, summary and trace tests: the local farm's jobs, read without HTTP.

``job_frame(role)`` gives a job's session actions the way ``deadline_nb.load_job`` does: the
``session_action_frame`` columns plus ``stepName``, ``workerId`` and ``fleetId``. ``frame(...)``
builds small hand-made frames from :mod:`tests.helpers`.
"""

from __future__ import annotations

import functools
from typing import Any

import pandas as pd

import deadline_nb as dnb
from deadline_nb.localfarm.model import JOBS, FarmModel, JobView

# The running job moves with the clock: pin the model's start so every test sees the same job.
_START = 1_800_000_000.0


@functools.lru_cache(maxsize=1)
def model() -> FarmModel:
    return FarmModel(seed=0, start=_START)


def view(role: str) -> JobView:
    m = model()
    # the running job at a fixed instant of its clock, so its running actions do not move
    at = _START if role == "running" else None
    return m.view(m.job_by_name(JOBS[role]).job_id, at)


def actions(role: str) -> list[dict[str, Any]]:
    m = model()
    at = _START if role == "running" else None
    return m.session_actions(m.job_by_name(JOBS[role]).job_id, at)


def job_frame(role: str) -> pd.DataFrame:
    """A local-farm job's actions with ``stepName``, ``workerId`` and ``fleetId``, as load_job."""
    v = view(role)
    df = dnb.session_action_frame(actions(role))
    sessions = dnb.session_frame(v.sessions)
    steps = pd.DataFrame([{"stepId": s["stepId"], "name": s["name"]} for s in v.steps])
    return dnb.frames.job_action_frame(df, steps=steps, sessions=sessions)


def frame(items: list[dict[str, Any]], **extra_columns: Any) -> pd.DataFrame:
    """A session-action frame from hand-made items, with optional extra columns (workerId...)."""
    df = dnb.session_action_frame(items)
    for name, values in extra_columns.items():
        df[name] = pd.Categorical(values)
    return df
