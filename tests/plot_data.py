"""Frames for the plot, summary and trace tests: the local farm's jobs, read without HTTP.

``job_frame(role)`` gives a job's session actions the way ``deadline_nb.load_job`` does: the
``session_action_frame`` columns plus ``stepName``, ``workerId`` and ``fleetId``. ``frame(...)``
builds small hand-made frames from :mod:`tests.helpers`. ``truth(role)`` counts what the model
itself says about a job (its raw ``GetSessionAction`` outputs, steps, tasks and sessions), so that
tests compare what was drawn or summed against the model, not against numbers of one seed.
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Truth:
    """A local-farm job as the model produced it, counted from the raw responses.

    Parameters
    ----------
    actions
        The job's ``GetSessionAction`` outputs.
    steps
        Step names, in creation order.
    step_names
        Step id -> name.
    tasks
        The job's number of tasks.
    workers
        Workers that ran a session of the job.
    """

    actions: tuple[dict[str, Any], ...]
    steps: tuple[str, ...]
    step_names: dict[str, str]
    tasks: int
    workers: int

    @staticmethod
    def kind(action: dict[str, Any]) -> str:
        """The action's type: the one key of its ``definition``."""
        return str(next(iter(action["definition"])))

    def count(
        self,
        *,
        kind: str | None = None,
        status: str | None = None,
        attempted: bool | None = None,
        finished: bool | None = None,
        running: bool | None = None,
        step: str | None = None,
    ) -> int:
        """How many actions match every condition given."""
        return len(self.select(kind, status, attempted, finished, running, step))

    def select(
        self,
        kind: str | None = None,
        status: str | None = None,
        attempted: bool | None = None,
        finished: bool | None = None,
        running: bool | None = None,
        step: str | None = None,
    ) -> list[dict[str, Any]]:
        out = []
        for a in self.actions:
            started, ended = "startedAt" in a, "endedAt" in a
            checks = [
                kind is None or self.kind(a) == kind,
                status is None or a["status"] == status,
                attempted is None or started == attempted,
                finished is None or (started and ended) == finished,
                running is None or (started and not ended) == running,
                step is None or self.step_names.get(self.step_id(a) or "") == step,
            ]
            if all(checks):
                out.append(a)
        return out

    @classmethod
    def step_id(cls, action: dict[str, Any]) -> str | None:
        body = action["definition"][cls.kind(action)]
        return body.get("stepId") if isinstance(body, dict) else None

    def kinds(self, **where: Any) -> set[str]:
        """The action types among the actions that match ``where``."""
        return {self.kind(a) for a in self.select(**where)}

    def statuses(self, **where: Any) -> set[str]:
        """The statuses among the actions that match ``where``."""
        return {str(a["status"]) for a in self.select(**where)}

    def exit_codes(self) -> Counter[int]:
        """Non-zero exit codes and how many actions ended with each."""
        return Counter(
            int(a["processExitCode"])
            for a in self.actions
            if a.get("processExitCode") not in (None, 0)
        )

    def attempts_per_task(self, **where: Any) -> Counter[str]:
        """Task id -> attempted task runs (among those matching ``where``)."""
        runs = self.select(kind="taskRun", attempted=True, **where)
        return Counter(str(a["definition"]["taskRun"]["taskId"]) for a in runs)


@functools.cache
def truth(role: str) -> Truth:
    """The model's own account of the job ``role`` (see :data:`JOBS`)."""
    v = view(role)
    return Truth(
        actions=tuple(actions(role)),
        steps=tuple(str(s["name"]) for s in v.steps),
        step_names={str(s["stepId"]): str(s["name"]) for s in v.steps},
        tasks=sum(len(t) for t in v.tasks.values()),
        workers=len({s["workerId"] for s in v.sessions}),
    )
