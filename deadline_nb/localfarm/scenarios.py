"""The jobs of the local farm, one scenario each, chosen by role from :data:`SCENARIOS`.

A scenario scripts one job with the pieces of :mod:`.simulation`: its steps and tasks, how long a
task takes and what progress it reports, which runs fail and with which exit code, when the job is
canceled, which spot workers are reclaimed. :class:`~deadline_nb.localfarm.model.FarmModel` looks
the scenario of each job up by its role (a key of :data:`JOBS`, or ``"big"``) and runs it on a
fresh :class:`~deadline_nb.localfarm.simulation.JobBuild`; every random draw comes from that
build's generator, so one seed gives the same jobs in every run.
"""

from __future__ import annotations

import collections
import math
import random
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Final

from .ids import stable_hex
from .simulation import JobBuild, Reclaim, Step, Task, Worker, schedule_step, to_ms

__all__ = ["BIG_JOB", "JOBS", "JOB_ENVS", "SCENARIOS", "TROUBLED_JOB", "Scenario"]


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

#: Name of a job that is simulated only when asked (role ``troubled``, not one of the farm's
#: jobs, so that the farm's listings stay as they are): a look-dev job with three problems for
#: :func:`deadline_nb.diagnose` to find, see :func:`_troubled`.
TROUBLED_JOB: Final[str] = "sq070_lookdev_v004_troubled"


#: Role -> the name of the job environment its sessions enter first.
JOB_ENVS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "render": "Render Env",
        "simulation": "Houdini Env",
        "failing": "Crowd Env",
        "canceled": "Houdini Env",
        "reclaimed": "Render Env",
        "running": "Comp Env",
        "big": "Render Env",
        "troubled": "Lookdev Env",
    }
)


def _tiles(verb: str, tiles: int, unit: str = "tile") -> Callable[[Task, float], str]:
    def message(task: Task, percent: float) -> str:
        done = min(tiles, max(1, math.ceil(percent / 100.0 * tiles)))
        return f"{verb} {task.label}: {percent:.0f}% ({unit} {done}/{tiles})"

    return message


def _pick_workers(b: JobBuild) -> list[Worker]:
    chosen = b.rng.sample(b.pool, min(b.worker_count, len(b.pool)))
    # Fresh copies: a worker reclaimed in one job's simulation is not dead in another's.
    return [Worker(w.worker_id, w.fleet_id, w.host) for w in chosen]


def _add_step(
    b: JobBuild,
    name: str,
    env_name: str,
    values: list[str],
    *,
    param_type: str = "INT",
    duration: Callable[[Task, random.Random], float],
    message: Callable[[Task, float], str],
    limit: bool = False,
    chunk_size: int | None = None,
) -> Step:
    step_hex = stable_hex(b.seed, "step", b.spec.name, name)
    kind = "chunkInt" if param_type == "CHUNK_INT" else "int"
    tasks = [
        Task(i, f"task-{step_hex}-{i}", {"Frame": {kind: value}}, value)
        for i, value in enumerate(values)
    ]
    step = Step(
        step_id=f"step-{step_hex}",
        name=name,
        env_name=env_name,
        param_name="Frame",
        param_type=param_type,
        tasks=tasks,
        duration=duration,
        message=message,
        limit_id=b.limit_id if limit else None,
        chunk_size=chunk_size,
    )
    b.steps.append(step)
    return step


def _first_start(b: JobBuild) -> float:
    # Inputs upload and the scheduler's first pass take a few minutes after submission.
    return b.created_at + b.rng.uniform(120.0, 420.0)


def _render(b: JobBuild) -> None:
    """A 240-frame render: slower frames mid-shot, two stuck outliers, a license limit."""
    outliers = set(b.rng.sample(range(100, 221), 2))

    def duration(task: Task, rng: random.Random) -> float:
        frame = int(task.label)
        # Mid-shot the camera is inside the forest: frames take up to twice as long.
        shape = 1.0 + 1.1 * math.exp(-(((frame - 125) / 42.0) ** 2))
        seconds = 420.0 * shape * rng.lognormvariate(0.0, 0.08)
        if frame in outliers:
            seconds *= rng.uniform(8.0, 11.0)  # stuck on a texture cache lock
        return seconds

    step = _add_step(
        b,
        "Render",
        "Arnold",
        [str(f) for f in range(1, 241)],
        duration=duration,
        message=_tiles("Rendering frame", 28),
        limit=True,
    )
    workers = _pick_workers(b)
    free = {w.worker_id: 0.0 for w in workers}
    schedule_step(b, step, workers, free, _first_start(b), batch=(4, 10))


def _simulation(b: JobBuild) -> None:
    """A fluid simulation in chunks of 10 frames, then meshing in chunks of 20 that waits for it."""
    chunks = [f"{i}-{i + 9}" for i in range(1, 241, 10)]
    sim = _add_step(
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
    mesh = _add_step(
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
    workers = _pick_workers(b)
    free = {w.worker_id: 0.0 for w in workers}
    end = schedule_step(b, sim, workers, free, _first_start(b), batch=(2, 5))
    schedule_step(b, mesh, workers, free, end + b.rng.uniform(5.0, 30.0), batch=(2, 4))


def _failing(b: JobBuild) -> None:
    """A crowd simulation whose task runs exit 1, 137 and -1073741819, with retries."""
    b.max_retries = 2
    # Scripted failures, so every seed shows each exit code; plus a few random ones.
    scripted = {7: (137, 137), 23: (-1073741819,) * 3, 41: (1,)}
    seen: dict[int, int] = collections.Counter()

    def fail(task: Task, rng: random.Random) -> int | None:
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
    step = _add_step(
        b,
        "Crowd Sim",
        "Golaem",
        [str(f) for f in range(1, 61)],
        duration=lambda task, rng: 300.0 * rng.lognormvariate(0.0, 0.25),
        message=lambda task, pct: f"Simulating agents, frame {task.label}: {pct:.0f}%",
    )
    workers = _pick_workers(b)
    free = {w.worker_id: 0.0 for w in workers}
    schedule_step(b, step, workers, free, _first_start(b), batch=(3, 6))


def _canceled(b: JobBuild) -> None:
    """An FX render its artist canceled about 40% of the way through."""
    step = _add_step(
        b,
        "Pyro",
        "Houdini",
        [str(f) for f in range(1, 121)],
        duration=lambda task, rng: 540.0 * rng.lognormvariate(0.0, 0.2),
        message=_tiles("Rendering pyro frame", 16),
    )
    start = _first_start(b)
    # The artist spotted a wrong cache version about 40% of the way through.
    b.canceled_at = to_ms(start + 0.4 * 120 * 540.0 / 8)
    workers = _pick_workers(b)
    free = {w.worker_id: 0.0 for w in workers}
    schedule_step(b, step, workers, free, start, batch=(4, 8))


def _reclaimed(b: JobBuild) -> None:
    """A render on spot workers, three of which are reclaimed (or interrupted) mid-task."""
    step = _add_step(
        b,
        "Render",
        "Arnold",
        [str(f) for f in range(1, 181)],
        duration=lambda task, rng: 360.0 * rng.lognormvariate(0.0, 0.12),
        message=_tiles("Rendering frame", 24),
    )
    workers = _pick_workers(b)
    reclaims = {
        workers[0].worker_id: Reclaim(1, 2, 0.6, "RECLAIMED"),
        workers[3].worker_id: Reclaim(0, 1, 0.3, "INTERRUPTED"),
        workers[6].worker_id: Reclaim(2, 0, 0.8, "RECLAIMED"),
    }
    free = {w.worker_id: 0.0 for w in workers}
    schedule_step(b, step, workers, free, _first_start(b), batch=(3, 7), reclaims=reclaims)
    b.stopped.update(reclaims)  # the model shows these workers STOPPED


def _big(b: JobBuild) -> None:
    """A render with about ``b.size`` session actions, on the burst fleet."""
    # About 22 actions per session: 5 around the task runs and 17 task runs on average.
    frames = max(1, round(b.size * 17 / 22))
    step = _add_step(
        b,
        "Render",
        "Arnold",
        [str(f) for f in range(1, frames + 1)],
        duration=lambda task, rng: 150.0 * rng.lognormvariate(0.0, 0.15),
        message=_tiles("Rendering frame", 16),
        limit=True,
    )
    workers = _pick_workers(b)
    free = {w.worker_id: 0.0 for w in workers}
    schedule_step(b, step, workers, free, _first_start(b), batch=(12, 22))


def _troubled(b: JobBuild) -> None:
    """A look-dev job with three problems: a bad node, a slowing simulation, a setup-heavy step.

    - One worker (the first picked) is a bad node: 60 % of its task runs crash with exit 139
      (SIGSEGV); the other workers fail none. Its tasks succeed when retried elsewhere.
    - ``Cloth Sim``'s frames take longer and longer: 180 s times ``1 + frame / 40`` (the cloth
      collides with more and more of the set), so frame 120 takes four times frame 1.
    - ``Slate`` runs 40 tasks of a few seconds, one per session: entering the environments and
      syncing the attachments take most of its session time.
    """
    workers = _pick_workers(b)
    bad = workers[0].worker_id

    def worker_fail(worker: Worker, task: Task, rng: random.Random) -> int | None:
        return 139 if worker.worker_id == bad and rng.random() < 0.6 else None

    b.worker_fail = worker_fail
    sim = _add_step(
        b,
        "Cloth Sim",
        "Houdini",
        [str(f) for f in range(1, 121)],
        duration=lambda task, rng: (
            180.0 * (1.0 + int(task.label) / 40.0) * rng.lognormvariate(0.0, 0.1)
        ),
        message=lambda task, pct: f"Simulating cloth, frame {task.label}: {pct:.0f}%",
    )
    slate = _add_step(
        b,
        "Slate",
        "Nuke",
        [str(f) for f in range(1, 41)],
        duration=lambda task, rng: rng.uniform(4.0, 12.0),
        message=lambda task, pct: f"Slate {task.label}: {pct:.0f}%",
    )
    free = {w.worker_id: 0.0 for w in workers}
    end = schedule_step(b, sim, workers, free, _first_start(b), batch=(3, 6))
    schedule_step(b, slate, workers, free, end + b.rng.uniform(5.0, 30.0), batch=(1, 1))


def _running(b: JobBuild) -> None:
    """A comp planned in full as if it will succeed; the clock decides what is visible."""
    # Planned in full as if it will succeed; what is visible depends on the clock.
    step = _add_step(
        b,
        "Comp",
        "Nuke",
        [str(f) for f in range(1001, 1481)],
        duration=lambda task, rng: 240.0 * rng.lognormvariate(0.0, 0.2),
        message=_tiles("Comp frame", 12, unit="layer"),
    )
    workers = _pick_workers(b)
    free = {w.worker_id: 0.0 for w in workers}
    schedule_step(b, step, workers, free, _first_start(b), batch=(6, 12))


#: What a scenario is: it fills a job's build with its steps and simulated sessions.
Scenario = Callable[[JobBuild], None]

#: Role -> the scenario that simulates the job of that role.
SCENARIOS: Final[Mapping[str, Scenario]] = MappingProxyType(
    {
        "render": _render,
        "simulation": _simulation,
        "failing": _failing,
        "canceled": _canceled,
        "reclaimed": _reclaimed,
        "big": _big,
        "running": _running,
        "troubled": _troubled,
    }
)
