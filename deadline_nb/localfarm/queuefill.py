"""Many small jobs for one queue, spread over weeks: the queue of a studio, not of a demo.

:func:`spread_jobs` plans ``count`` jobs (names, submission times, submitters, priorities, job
parameters, how each ends) from a seed, in a few milliseconds per thousand, without simulating
any of them. :class:`~deadline_nb.localfarm.model.FarmModel` (``queue_jobs=N``) adds the plans
to a queue and simulates a job only when a client looks inside it (:func:`tiny_scenario`: one
step of one to four frames), so that a queue of 20,000 jobs is built in well under a second and
what the API shows of each job is still derived from its session actions.

The generator is a function of its own so that other ways of filling a farm (weeks of
submissions of versioned shots) can reuse it or its pieces.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from .ids import stable_hex
from .scenarios import Scenario
from .simulation import JobBuild, Step, Task, Worker, schedule_step, to_ms

__all__ = ["DEPARTMENTS", "RENDERERS", "SUBMITTERS", "QueueJobPlan", "spread_jobs", "tiny_scenario"]

#: Who submits the queue's jobs (the farm's principal ids are made from these names).
SUBMITTERS: Final[tuple[str, ...]] = ("maya", "ivan", "sam", "noor", "lee", "ana", "kofi", "yuki")
#: The department part of the generated job names.
DEPARTMENTS: Final[tuple[str, ...]] = ("lighting", "fx", "comp", "layout", "anim")
#: Values of the ``Renderer`` job parameter.
RENDERERS: Final[tuple[str, ...]] = ("arnold", "karma", "redshift")

# How generated jobs end: mostly well, some failed, a few canceled.
_OUTCOMES: Final = (("SUCCEEDED", 0.8), ("FAILED", 0.12), ("CANCELED", 0.08))
_EDGES: Final = tuple(
    (outcome, sum(w for _, w in _OUTCOMES[: i + 1])) for i, (outcome, _) in enumerate(_OUTCOMES)
)
_PRIORITIES: Final = (50, 50, 50, 50, 30, 70, 90)


@dataclass(frozen=True)
class QueueJobPlan:
    """One generated job, before it is simulated.

    Parameters
    ----------
    index
        Its position in the generated list (oldest first); it makes the job's id.
    name
        Such as ``sq123_sh040_lighting_v007``.
    created_at
        Submission time, epoch seconds to the millisecond.
    user
        The submitter's name (one of :data:`SUBMITTERS`).
    priority
        0 to 100.
    outcome
        ``SUCCEEDED``, ``FAILED`` or ``CANCELED``: how its simulation is scripted to end.
    frames
        How many frames (tasks) its one step renders, 1 to 4.
    parameters
        Its job parameters in the API's shape (``{"Shot": {"string": "sq123_sh040"}, ...}``).

    Examples
    --------
    >>> from deadline_nb.localfarm.queuefill import spread_jobs
    >>> plan = spread_jobs(0, 1, end=1772438400.0)[0]
    >>> sorted(plan.parameters)
    ['Frames', 'Renderer', 'SceneFile', 'Shot', 'Version']
    """

    index: int
    name: str
    created_at: float
    user: str
    priority: int
    outcome: str
    frames: int
    parameters: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


def spread_jobs(
    seed: int,
    count: int,
    *,
    end: float,
    days: float = 120.0,
    submitters: tuple[str, ...] = SUBMITTERS,
) -> list[QueueJobPlan]:
    """Plan ``count`` jobs submitted over the ``days`` before ``end``, oldest first.

    Submissions follow a working week: more on weekdays and in the afternoon. Shots are reused
    with rising versions, so that a name or a ``Shot`` parameter matches many jobs, as in a real
    queue. The same arguments give the same plans.

    Parameters
    ----------
    seed
        Changes every draw.
    count
        How many jobs, 0 or more.
    end
        The newest submission is before this instant (epoch seconds).
    days
        How far back the oldest submission may be.
    submitters
        The names of who submits.

    Returns
    -------
    list of QueueJobPlan
        By ``created_at``, oldest first.

    Examples
    --------
    >>> from deadline_nb.localfarm.queuefill import spread_jobs
    >>> plans = spread_jobs(0, 1000, end=1772438400.0)
    >>> len(plans), plans[0].created_at <= plans[-1].created_at < 1772438400.0
    (1000, True)
    >>> len({p.user for p in plans}) > 4
    True
    """
    rng = random.Random(f"{seed}:queue-jobs")
    span = days * 86400.0
    start = end - span
    times: list[float] = []
    while len(times) < count:
        t = start + rng.random() * span
        hour = (t % 86400.0) / 3600.0
        weekday = int(t // 86400.0 + 3) % 7  # 1970-01-01 was a Thursday (3); Monday is 0
        weight = (0.35 if weekday >= 5 else 1.0) * (0.3 + 0.7 * math.exp(-(((hour - 15) / 5) ** 2)))
        if rng.random() < weight:
            times.append(to_ms(t))
    times.sort()
    shots: list[tuple[int, int]] = []
    versions: dict[tuple[int, int], int] = {}
    plans: list[QueueJobPlan] = []
    for i, created in enumerate(times):
        # A new shot now and then; otherwise a new version of a recent one.
        if not shots or rng.random() < 0.15:
            shots.append((rng.randint(100, 990), rng.randrange(10, 400, 10)))
        shot = shots[-1 - min(len(shots) - 1, int(rng.expovariate(0.3)))]
        version = versions.get(shot, 0) + 1
        versions[shot] = version
        department = DEPARTMENTS[(shot[0] + shot[1]) % len(DEPARTMENTS)]
        draw = rng.random()
        outcome = next((o for o, edge in _EDGES if draw < edge), _OUTCOMES[-1][0])
        frames = rng.randint(1, 4)
        shot_name = f"sq{shot[0]:03d}_sh{shot[1]:03d}"
        plans.append(
            QueueJobPlan(
                index=i,
                name=f"{shot_name}_{department}_v{version:03d}",
                created_at=created,
                user=submitters[rng.randrange(len(submitters))],
                priority=rng.choice(_PRIORITIES),
                outcome=outcome,
                frames=frames,
                parameters={
                    "Frames": {"string": f"1001-{1000 + frames}"},
                    "SceneFile": {"path": f"/mnt/projects/aurora/sq{shot[0]:03d}/{shot_name}.ma"},
                    "Shot": {"string": shot_name},
                    "Version": {"int": str(version)},
                    "Renderer": {"string": RENDERERS[rng.randrange(len(RENDERERS))]},
                },
            )
        )
    return plans


def tiny_scenario(plan: QueueJobPlan) -> Scenario:
    """Return the scenario that simulates a planned job: one step of ``plan.frames`` frames.

    A ``FAILED`` plan fails its first frame on every try (with one retry); a ``CANCELED`` plan
    is canceled while it waits for a worker. So the job's ``taskRunStatus`` is always the plan's
    ``outcome``, which lets a search filter on it without simulating the job.

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
    >>> model = FarmModel(seed=0, queue_jobs=50)
    >>> spec = model.jobs[0]
    >>> model.view(spec.job_id).job["taskRunStatus"] in ("SUCCEEDED", "FAILED", "CANCELED")
    True
    """

    def scenario(b: JobBuild) -> None:
        step_hex = stable_hex(b.seed, "step", b.spec.job_id, "Render")
        tasks = [
            Task(i, f"task-{step_hex}-{i}", {"Frame": {"int": str(1001 + i)}}, str(1001 + i))
            for i in range(plan.frames)
        ]
        step = Step(
            step_id=f"step-{step_hex}",
            name="Render",
            env_name="Arnold",
            param_name="Frame",
            param_type="INT",
            tasks=tasks,
            duration=lambda task, rng: 90.0 * rng.lognormvariate(0.0, 0.3),
            message=lambda task, pct: f"Rendering frame {task.label}: {pct:.0f}%",
        )
        b.steps.append(step)
        start = b.created_at + b.rng.uniform(60.0, 240.0)
        if plan.outcome == "FAILED":
            b.max_retries = 1
            b.fail = lambda task, rng: 1 if task.index == 0 else None
        elif plan.outcome == "CANCELED":
            b.canceled_at = to_ms(start - 30.0)
        chosen = b.rng.sample(b.pool, min(2, len(b.pool)))
        workers = [Worker(w.worker_id, w.fleet_id, w.host) for w in chosen]
        schedule_step(
            b,
            step,
            workers,
            dict.fromkeys((w.worker_id for w in workers), 0.0),
            start,
            batch=(1, 4),
        )

    return scenario
