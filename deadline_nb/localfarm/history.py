"""Weeks of a studio's submissions: versions of the same shots, across shows, users and queues.

:func:`plan_history` plans the jobs of ``weeks`` weeks before :data:`HISTORY_END` (names,
submission times, submitters, queues, steps, frames, how each ends) from a seed, without
simulating any of them. :class:`~deadline_nb.localfarm.model.FarmModel` (``history=weeks``) adds
the plans to its queues and simulates a job only when a client looks inside it
(:func:`history_scenario`), as it does for ``queue_jobs`` (:mod:`.queuefill`).

Each shot of each show is submitted again and again by its department as versions v001, v002,
..., with the same steps and the same frames every time, so two versions compare frame by frame.
A frame takes about the same time in every version (its shot, step and frame set it; a version
adds a little noise), except that from week :func:`regression_week` on the
:data:`REGRESSION_STEP` step of the :data:`REGRESSION_SHOW` show takes
:data:`REGRESSION_FACTOR` times as long: a regression for a history query to find. A few versions
fail (a frame of their last step fails every try), a few succeed after a retry, a few are
canceled by their artist while their last step runs.

The history ends at :data:`HISTORY_END` (the model's fixed epoch, when the farm's fixed jobs
start), not at the wall clock, so that one seed gives the same history in every run.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

from .ids import stable_hex
from .scenarios import Scenario
from .simulation import JobBuild, Step, Task, Worker, schedule_step, to_ms

__all__ = [
    "HISTORY_END",
    "HISTORY_JOB_ROLE",
    "REGRESSION_FACTOR",
    "REGRESSION_SHOW",
    "REGRESSION_STEP",
    "REGRESSION_WEEKS_BEFORE_END",
    "SHOWS",
    "WEEK",
    "HistoryJobPlan",
    "frame_seconds",
    "history_scenario",
    "plan_history",
    "regression_start",
    "regression_week",
]

#: The history ends here: 2026-03-02T08:00:00Z, a Monday, the model's ``EPOCH`` (where the
#: farm's fixed jobs start). Week ``w`` of a ``weeks``-week history starts at
#: ``HISTORY_END - (weeks - w) * WEEK``.
HISTORY_END: Final[float] = 1772438400.0
#: Seconds in a week.
WEEK: Final[float] = 7 * 86400.0
#: The role (:class:`~deadline_nb.localfarm.simulation.JobSpec`) of the history's jobs.
HISTORY_JOB_ROLE: Final = "history"

#: The show whose step gets slower.
REGRESSION_SHOW: Final = "aurora"
#: The step that gets slower (in every department of that show that has it).
REGRESSION_STEP: Final = "Render"
#: How much longer each frame of that step takes once the regression is in.
REGRESSION_FACTOR: Final = 1.6
#: The regression starts this many weeks before the end of the history (see
#: :func:`regression_week` for histories of fewer weeks).
REGRESSION_WEEKS_BEFORE_END: Final = 3

#: Show -> sequence -> shots. Sequences are under 100 so that no name is one that
#: ``queue_jobs`` makes (sequences 100 to 990); ``sq010`` is left to the fixed render job.
SHOWS: Final[Mapping[str, Mapping[str, tuple[str, ...]]]] = {
    "aurora": {"sq030": ("sh010", "sh020", "sh030"), "sq040": ("sh010", "sh020")},
    "borealis": {"sq050": ("sh010", "sh020", "sh030"), "sq060": ("sh010",)},
    "cirrus": {"sq070": ("sh010", "sh020"), "sq080": ("sh010", "sh020")},
}


@dataclass(frozen=True)
class _Department:
    queue: str  # key of the model's queues
    fleet: str  # key of the model's fleets
    users: tuple[str, ...]
    steps: tuple[tuple[str, str, float], ...]  # name, environment, median seconds per frame
    weekly: float  # how many versions of one shot a week, on average


_DEPARTMENTS: Final[Mapping[str, _Department]] = {
    "lighting": _Department(
        "lighting",
        "cpu",
        ("maya", "lee", "ana"),
        (("Render", "Arnold", 240.0), ("Denoise", "Arnold", 40.0)),
        1.6,
    ),
    "fx": _Department(
        "fx",
        "onprem",
        ("ivan", "sam", "kofi"),
        (("Simulate", "Houdini", 90.0), ("Mesh", "Houdini", 45.0), ("Render", "Karma", 180.0)),
        1.0,
    ),
    "comp": _Department("comp", "cpu", ("noor", "yuki"), (("Comp", "Nuke", 50.0),), 1.3),
}

# Which departments work on a shot: lighting on all, fx on every other, comp on two in three.
_OUTCOMES: Final = (("SUCCEEDED", 0.84), ("RETRIED", 0.07), ("FAILED", 0.05), ("CANCELED", 0.04))
_EXIT_CODES: Final = (1, 137, -1073741819)  # failed, OOM-killed, a Windows access violation
_MIN_FRAME_SECONDS: Final = 30.0  # so that a cancel within 25 s of a step's start stops it all


@dataclass(frozen=True)
class HistoryJobPlan:
    """One job of the history, before it is simulated.

    Parameters
    ----------
    index
        Its position in the history (oldest first); it makes the job's id.
    name
        Such as ``sq030_sh040_lighting_v007``.
    show, shot, department, version
        What it renders: ``shot`` is ``sq030_sh040``; ``version`` counts from 1 per shot and
        department.
    queue, fleet
        Keys of the model's queues and fleets.
    created_at
        Submission time, epoch seconds to the millisecond.
    week
        Its week, 0 for the oldest.
    user
        The submitter's name.
    outcome
        ``SUCCEEDED``, ``FAILED`` or ``CANCELED``: the job's ``taskRunStatus`` once simulated.
    retried
        Whether a frame fails once and succeeds on its retry (the outcome is then
        ``SUCCEEDED``).
    regressed
        Whether its :data:`REGRESSION_STEP` frames take :data:`REGRESSION_FACTOR` times longer.
    steps
        ``(name, environment, median seconds per frame)`` of each step, in order; each step
        depends on the one before.
    frames
        How many frames each step renders (``Frame`` 1001 on).
    parameters
        Its job parameters in the API's shape (``{"Shot": {"string": "sq030_sh040"}, ...}``).

    Examples
    --------
    >>> from deadline_nb.localfarm.history import plan_history
    >>> plan = plan_history(0, 2)[0]
    >>> sorted(plan.parameters)
    ['Department', 'Frames', 'SceneFile', 'Shot', 'Show', 'Version']
    """

    index: int
    name: str
    show: str
    shot: str
    department: str
    version: int
    queue: str
    fleet: str
    created_at: float
    week: int
    user: str
    outcome: str
    retried: bool
    regressed: bool
    steps: tuple[tuple[str, str, float], ...]
    frames: int
    parameters: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


def regression_week(weeks: int) -> int:
    """Return the week (0 for the oldest) from which the regressed step is slower.

    :data:`REGRESSION_WEEKS_BEFORE_END` weeks before the end, but never the first week, so that
    a history of two weeks or more has jobs before and after it; a one-week history has none
    after it.

    Parameters
    ----------
    weeks
        How many weeks the history has.

    Returns
    -------
    int
        The first slower week.

    Examples
    --------
    >>> from deadline_nb.localfarm.history import regression_week
    >>> regression_week(8), regression_week(2), regression_week(1)
    (5, 1, 1)
    """
    return max(1, weeks - REGRESSION_WEEKS_BEFORE_END)


def regression_start(weeks: int) -> float:
    """Return the instant (epoch seconds) from which the regressed step is slower.

    Jobs submitted at or after it have the regression.

    Parameters
    ----------
    weeks
        How many weeks the history has.

    Returns
    -------
    float
        The start of week :func:`regression_week`.

    Examples
    --------
    >>> from deadline_nb.localfarm.history import HISTORY_END, WEEK, regression_start
    >>> (HISTORY_END - regression_start(8)) / WEEK
    3.0
    """
    return HISTORY_END - (weeks - regression_week(weeks)) * WEEK


def _working_instant(rng: random.Random, start: float, span: float) -> float:
    """An instant in ``[start, start + span)``, more often on weekday afternoons."""
    while True:
        t = start + rng.random() * span
        hour = (t % 86400.0) / 3600.0
        weekday = (int(t // 86400.0) + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
        weight = (0.25 if weekday >= 5 else 1.0) * (0.3 + 0.7 * math.exp(-(((hour - 15) / 5) ** 2)))
        if rng.random() < weight:
            return t


def plan_history(seed: int, weeks: int) -> list[HistoryJobPlan]:
    """Plan the jobs submitted over the ``weeks`` weeks before :data:`HISTORY_END`, oldest first.

    Every shot of :data:`SHOWS` is worked on by lighting (Lighting queue: ``Render`` then
    ``Denoise``), some by fx (FX queue: ``Simulate``, ``Mesh``, ``Render``) and comp (Comp
    queue: ``Comp``); each department submits versions of its shots a few times a week. The
    same arguments give the same plans.

    Parameters
    ----------
    seed
        Changes every draw (frames per shot, submission times, users, outcomes).
    weeks
        How many weeks, 0 or more: about 40 jobs a week.

    Returns
    -------
    list of HistoryJobPlan
        By ``created_at``, oldest first; versions of a shot rise with time.

    Examples
    --------
    >>> from deadline_nb.localfarm.history import plan_history
    >>> plans = plan_history(0, 8)
    >>> plans == plan_history(0, 8), len({p.show for p in plans}), len({p.queue for p in plans})
    (True, 3, 3)
    >>> all(4 <= p.frames <= 30 and 1 <= len(p.steps) <= 3 for p in plans)
    True
    """
    rng = random.Random(f"{seed}:history")
    start = HISTORY_END - weeks * WEEK
    slower_from = regression_start(weeks)
    # (show, shot, department, frames, submission times)
    lines: list[tuple[str, str, str, int, list[float]]] = []
    for show, sequences in SHOWS.items():
        for sequence, shots in sequences.items():
            for shot in shots:
                frames = rng.randint(4, 30)
                departments = ["lighting"]
                if rng.random() < 0.5:
                    departments.append("fx")
                if rng.random() < 0.67:
                    departments.append("comp")
                for department in departments:
                    count = sum(
                        _poisson(rng, _DEPARTMENTS[department].weekly) for _ in range(weeks)
                    )
                    times = sorted(
                        to_ms(_working_instant(rng, start, weeks * WEEK)) for _ in range(count)
                    )
                    lines.append((show, f"{sequence}_{shot}", department, frames, times))
    submissions = sorted(
        ((t, n, version) for n, line in enumerate(lines) for version, t in enumerate(line[4], 1)),
    )
    plans: list[HistoryJobPlan] = []
    for index, (created, n, version) in enumerate(submissions):
        show, shot, department, frames, _ = lines[n]
        dept = _DEPARTMENTS[department]
        draw = rng.random()
        outcome = "CANCELED"
        edge = 0.0
        for name, weight in _OUTCOMES:
            edge += weight
            if draw < edge:
                outcome = name
                break
        name = f"{shot}_{department}_v{version:03d}"
        plans.append(
            HistoryJobPlan(
                index=index,
                name=name,
                show=show,
                shot=shot,
                department=department,
                version=version,
                queue=dept.queue,
                fleet=dept.fleet,
                created_at=created,
                week=min(weeks - 1, int((created - start) // WEEK)),
                user=dept.users[rng.randrange(len(dept.users))],
                outcome="SUCCEEDED" if outcome == "RETRIED" else outcome,
                retried=outcome == "RETRIED",
                regressed=show == REGRESSION_SHOW and created >= slower_from,
                steps=dept.steps,
                frames=frames,
                parameters={
                    "Show": {"string": show},
                    "Shot": {"string": shot},
                    "Department": {"string": department},
                    "Version": {"int": str(version)},
                    "Frames": {"string": f"1001-{1000 + frames}"},
                    "SceneFile": {"path": f"/mnt/projects/{show}/{shot.split('_')[0]}/{name}.ma"},
                },
            )
        )
    return plans


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method: a handful of draws for a mean of one or two.
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def frame_seconds(seed: int, plan: HistoryJobPlan, step: str, median: float, frame: int) -> float:
    """Return the time one frame of a step takes in every version (before noise and regression).

    It depends only on the shot, department, step and frame: a mid-shot bump (the action is
    there) and a draw of its own per frame.

    Parameters
    ----------
    seed
        The farm's seed.
    plan
        The job (its shot and department count, not its version).
    step
        The step's name.
    median
        The step's median seconds per frame.
    frame
        The frame's number (1001 on).

    Returns
    -------
    float
        Seconds.

    Examples
    --------
    >>> from deadline_nb.localfarm.history import frame_seconds, plan_history
    >>> plans = [p for p in plan_history(0, 8) if p.name.endswith("_lighting_v001")][:1]
    >>> frame_seconds(0, plans[0], "Render", 240.0, 1001) >= 30.0
    True
    """
    draw = random.Random(f"{seed}:frame:{plan.shot}:{plan.department}:{step}:{frame}")
    shot = random.Random(f"{seed}:shot:{plan.show}:{plan.shot}:{plan.department}:{step}")
    position = (frame - 1001) / max(1, plan.frames - 1)
    bump = 1.0 + 0.5 * math.exp(-(((position - 0.5) / 0.2) ** 2))
    seconds = median * shot.lognormvariate(0.0, 0.25) * bump * draw.lognormvariate(0.0, 0.15)
    return max(_MIN_FRAME_SECONDS, seconds)


def _duration(times: Mapping[int, float], slower: float) -> Callable[[Task, random.Random], float]:
    def duration(task: Task, rng: random.Random) -> float:
        # The frame's own time, a little noise per version, and the regression if it is in.
        return times[int(task.label)] * slower * rng.lognormvariate(0.0, 0.06)

    return duration


def _message(step: str) -> Callable[[Task, float], str]:
    verb = {
        "Render": "Rendering",
        "Denoise": "Denoising",
        "Simulate": "Simulating",
        "Mesh": "Meshing",
        "Comp": "Comping",
    }.get(step, step)

    def message(task: Task, percent: float) -> str:
        return f"{verb} frame {task.label}: {percent:.0f}%"

    return message


def history_scenario(plan: HistoryJobPlan) -> Scenario:
    """Return the scenario that simulates a planned history job.

    Its steps run one after the other (each depends on the one before) on two to four workers
    of its fleet. A ``FAILED`` plan fails one frame of its last step on every try (two
    retries); a retried plan fails one frame of its first step once; a ``CANCELED`` plan is
    canceled within 25 s of its last step's start, before any of that step's frames can finish.
    So the job's ``taskRunStatus`` is always the plan's ``outcome``, which lets a search filter
    on it without simulating the job.

    Parameters
    ----------
    plan
        The job.

    Returns
    -------
    callable
        A scenario: it fills a :class:`~deadline_nb.localfarm.simulation.JobBuild`.

    Examples
    --------
    >>> from deadline_nb.localfarm.model import FarmModel
    >>> model = FarmModel(seed=0, history=2)
    >>> spec = next(s for s in model.jobs if s.role == "history")
    >>> [s["name"] for s in model.view(spec.job_id).steps][:1]
    ['Render']
    """

    def scenario(b: JobBuild) -> None:
        rng = b.rng
        steps: list[Step] = []
        for name, env, median in plan.steps:
            step_hex = stable_hex(b.seed, "step", b.spec.job_id, name)
            times = {
                1001 + i: frame_seconds(b.seed, plan, name, median, 1001 + i)
                for i in range(plan.frames)
            }
            slower = REGRESSION_FACTOR if plan.regressed and name == REGRESSION_STEP else 1.0
            step = Step(
                step_id=f"step-{step_hex}",
                name=name,
                env_name=env,
                param_name="Frame",
                param_type="INT",
                tasks=[
                    Task(i, f"task-{step_hex}-{i}", {"Frame": {"int": str(frame)}}, str(frame))
                    for i, frame in enumerate(times)
                ],
                duration=_duration(times, slower),
                message=_message(name),
            )
            if steps:
                step.depends_on = steps[-1].step_id
                steps[-1].consumers = 1
            steps.append(step)
        b.steps.extend(steps)
        failing = steps[-1].tasks[rng.randrange(plan.frames)].task_id
        retrying = steps[0].tasks[rng.randrange(plan.frames)].task_id
        code = _EXIT_CODES[rng.randrange(len(_EXIT_CODES))]
        if plan.outcome == "FAILED":
            b.max_retries = 2
            b.fail = lambda task, rng: code if task.task_id == failing else None
        elif plan.retried:
            b.max_retries = 2
            # Only its first run fails: the retry succeeds.
            b.fail = lambda task, rng: (
                code if task.task_id == retrying and not task.failures else None
            )
        chosen = rng.sample(b.pool, min(rng.randint(2, 4), len(b.pool)))
        workers = [Worker(w.worker_id, w.fleet_id, w.host) for w in chosen]
        free = dict.fromkeys((w.worker_id for w in workers), 0.0)
        at = b.created_at + rng.uniform(60.0, 240.0)
        for i, step in enumerate(steps):
            if i == len(steps) - 1 and plan.outcome == "CANCELED":
                b.canceled_at = to_ms(at + rng.uniform(1.0, 25.0))
            at = schedule_step(b, step, workers, free, at, batch=(1, 4)) + rng.uniform(5.0, 30.0)

    return scenario
