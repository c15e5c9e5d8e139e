"""The local farm's ``history`` knob: weeks of versioned submissions, read as a client reads them.

Every call goes through real boto3 over HTTP, and every response is checked against botocore's
model (``check_responses``). What the tests compare (frame times, versions, dates) is read from
the API, not taken from the farm's plans.
"""

from __future__ import annotations

import io
import re
import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pandas as pd
import pytest

import deadline_nb as dnb
from deadline_nb import cli
from deadline_nb.localfarm import JOBS, LocalFarm
from deadline_nb.localfarm.history import (
    HISTORY_END,
    REGRESSION_FACTOR,
    REGRESSION_SHOW,
    REGRESSION_STEP,
    WEEK,
    regression_start,
)
from deadline_nb.localfarm.model import HISTORY_JOB_ROLE, FarmModel
from deadline_nb.localfarm.shapes import check_responses

from .conftest import kept_farm

WEEKS = 6
_NAME = re.compile(r"^(sq\d{3}_sh\d{3})_([a-z]+)_v(\d{3})$")


@pytest.fixture(scope="module")
def history_farm() -> Iterator[LocalFarm]:
    with kept_farm(history=WEEKS) as farm:
        yield farm


@pytest.fixture(scope="module")
def client(history_farm: LocalFarm) -> Any:
    return check_responses(history_farm.client(retries={"total_max_attempts": 1}))


@pytest.fixture(scope="module")
def listed(history_farm: LocalFarm, client: Any) -> dict[str, list[dict[str, Any]]]:
    """Queue display name -> every job of that queue, through ListJobs."""
    found: dict[str, list[dict[str, Any]]] = {}
    for queue in client.list_queues(farmId=history_farm.farm_id)["queues"]:
        jobs: list[dict[str, Any]] = []
        for page in client.get_paginator("list_jobs").paginate(
            farmId=history_farm.farm_id, queueId=queue["queueId"]
        ):
            jobs.extend(page["jobs"])
        found[queue["displayName"]] = jobs
    return found


def _versions(jobs: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(shot, department) -> its jobs by version, for the jobs named like history jobs."""
    lines: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for job in jobs:
        match = _NAME.match(job["name"])
        if match and job["name"] != JOBS["render"]:
            lines[match[1], match[2]].append(job)
    for versions in lines.values():
        versions.sort(key=lambda j: j["name"])
    return lines


def _get(client: Any, farm: LocalFarm, queue_id: str, job_id: str) -> dict[str, Any]:
    return dict(client.get_job(farmId=farm.farm_id, queueId=queue_id, jobId=job_id))


def _load(farm: LocalFarm, queue_id: str, job_id: str) -> Any:
    return dnb.load_job(
        farm.farm_id, queue_id, job_id, client=farm.client(), cache=False, progress=False
    )


# ---- what the history holds


def test_history_spans_weeks_shows_users_and_queues(
    history_farm: LocalFarm, client: Any, listed: dict[str, list[dict[str, Any]]]
) -> None:
    queues = {q["displayName"]: q["queueId"] for q in history_farm.model.queues}
    jobs = [
        (name, j)
        for name, found in listed.items()
        for j in found
        if _NAME.match(j["name"]) and j["name"] != JOBS["render"]
    ]
    assert {name for name, _ in jobs} >= {"Lighting", "FX"}
    created = [j["createdAt"].timestamp() for _, j in jobs]
    assert min(created) >= HISTORY_END - WEEKS * WEEK and max(created) < HISTORY_END
    assert max(created) - min(created) > (WEEKS - 1) * WEEK
    assert len({j["createdBy"] for _, j in jobs}) >= 5
    statuses = {j["taskRunStatus"] for _, j in jobs}
    assert statuses == {"SUCCEEDED", "FAILED", "CANCELED"}
    # The Show parameter, as GetJob gives it: three shows.
    shows = set()
    for name, job in jobs[:: max(1, len(jobs) // 40)] + jobs[-3:]:
        full = _get(client, history_farm, queues[name], job["jobId"])
        assert {"Show", "Shot", "Version", "Frames"} <= set(full["parameters"])
        shows.add(full["parameters"]["Show"]["string"])
    assert len(shows) == 3
    # Some jobs succeeded only after a retry.
    retried = [
        j for _, j in jobs if j["taskRunStatus"] == "SUCCEEDED" and j["taskFailureRetryCount"] > 0
    ]
    assert retried


def test_versions_of_a_shot_have_the_same_steps_and_frames(
    history_farm: LocalFarm, client: Any, listed: dict[str, list[dict[str, Any]]]
) -> None:
    queue_id = next(q["queueId"] for q in history_farm.model.queues if q["displayName"] == "FX")
    lines = _versions(listed["FX"])
    (shot, department), versions = max(lines.items(), key=lambda item: len(item[1]))
    assert department == "fx" and len(versions) >= 3
    numbers = [int(_NAME.match(j["name"])[3]) for j in versions]  # type: ignore[index]
    assert numbers == list(range(1, len(versions) + 1))
    created = [j["createdAt"] for j in versions]
    assert created == sorted(created)  # a later version is a later submission
    shapes = set()
    for job in versions:
        full = _get(client, history_farm, queue_id, job["jobId"])
        assert full["parameters"]["Shot"] == {"string": shot}
        assert full["parameters"]["Version"] == {"int": str(int(job["name"][-3:]))}
        steps = client.list_steps(farmId=history_farm.farm_id, queueId=queue_id,
                                  jobId=job["jobId"])["steps"]  # fmt: skip
        frames = []
        for step in steps:
            tasks = client.list_tasks(
                farmId=history_farm.farm_id,
                queueId=queue_id,
                jobId=job["jobId"],
                stepId=step["stepId"],
            )["tasks"]
            frames.append(tuple(sorted(int(t["parameters"]["Frame"]["int"]) for t in tasks)))
        shape = (full["parameters"]["Frames"]["string"], tuple(s["name"] for s in steps), *frames)
        shapes.add(shape)
    assert len(shapes) == 1
    frames_text, names, *frame_lists = shapes.pop()
    assert names == ("Simulate", "Mesh", "Render")
    first, last = (int(x) for x in frames_text.split("-"))
    assert all(f == tuple(range(first, last + 1)) for f in frame_lists)
    assert 4 <= last - first + 1 <= 30


def test_load_job_reads_a_history_job(
    history_farm: LocalFarm, listed: dict[str, list[dict[str, Any]]]
) -> None:
    queue_id = next(
        q["queueId"] for q in history_farm.model.queues if q["displayName"] == "Lighting"
    )
    failed = next(
        j for j in listed["Lighting"] if _NAME.match(j["name"]) and j["taskRunStatus"] == "FAILED"
    )
    job = _load(history_farm, queue_id, failed["jobId"])
    assert job.job["name"] == failed["name"]
    assert job.job["parameters"]["Show"]["string"] in ("aurora", "borealis", "cirrus")
    assert set(job.steps["name"]) == {"Render", "Denoise"}
    runs = job.actions[job.actions["actionType"] == "taskRun"]
    assert set(runs["stepName"].dropna()) <= {"Render", "Denoise"}
    assert (runs["status"] == "FAILED").any()
    assert runs["param.Frame"].notna().all()
    # Both steps render the same frames.
    frames = job.tasks.groupby("stepId", observed=True)["taskId"].count()
    assert len(frames) == 2 and frames.nunique() == 1


# ---- the regression


def _frame_ratios(
    farm: LocalFarm, queue_id: str, jobs: list[dict[str, Any]], steps: tuple[str, ...]
) -> dict[str, float]:
    """Step -> median over frames of (time after the regression / time before), frame by frame.

    Frame by frame, so that a shot's slow frames do not weigh on the comparison.
    """
    since = regression_start(WEEKS)
    # step -> frame -> [(after the regression?, seconds)]
    seconds: dict[str, dict[int, list[tuple[bool, float]]]] = defaultdict(lambda: defaultdict(list))
    for listed_job in jobs:
        if listed_job["taskRunStatus"] != "SUCCEEDED":
            continue
        job = _load(farm, queue_id, listed_job["jobId"])
        after = listed_job["createdAt"].timestamp() >= since
        runs = job.actions[
            (job.actions["actionType"] == "taskRun") & (job.actions["status"] == "SUCCEEDED")
        ]
        for step, frame, duration in zip(
            runs["stepName"], runs["param.Frame"], runs["duration"], strict=True
        ):
            seconds[step][int(frame)].append((after, duration / pd.Timedelta(seconds=1)))
    ratios = {}
    for step in steps:
        per_frame = [
            statistics.median(t for a, t in times if a)
            / statistics.median(t for a, t in times if not a)
            for times in seconds[step].values()
            if any(a for a, _ in times) and not all(a for a, _ in times)
        ]
        assert len(per_frame) >= 4, step
        ratios[step] = statistics.median(per_frame)
    return ratios


def test_the_regressed_step_is_slower_from_its_week(
    history_farm: LocalFarm, listed: dict[str, list[dict[str, Any]]]
) -> None:
    queue_id = next(
        q["queueId"] for q in history_farm.model.queues if q["displayName"] == "Lighting"
    )
    lines = _versions(listed["Lighting"])
    since = regression_start(WEEKS)
    # The first lighting shot of the regressed show (its sequences come first) and of another.
    by_show = {REGRESSION_SHOW: "sq030_sh010", "borealis": "sq050_sh010"}
    ratios: dict[tuple[str, str], float] = {}
    for show, shot in by_show.items():
        versions = lines[shot, "lighting"]
        created = [j["createdAt"].timestamp() for j in versions]
        assert min(created) < since <= max(created), show  # versions on both sides
        found = _frame_ratios(history_farm, queue_id, versions, (REGRESSION_STEP, "Denoise"))
        ratios.update({(show, step): ratio for step, ratio in found.items()})
    assert ratios[REGRESSION_SHOW, REGRESSION_STEP] == pytest.approx(REGRESSION_FACTOR, rel=0.15)
    for key in ((REGRESSION_SHOW, "Denoise"), ("borealis", REGRESSION_STEP)):
        assert ratios[key] == pytest.approx(1.0, abs=0.15), key


# ---- searching it


def test_search_jobs_by_created_at_over_the_history(
    history_farm: LocalFarm, client: Any, listed: dict[str, list[dict[str, Any]]]
) -> None:
    queue_id = next(
        q["queueId"] for q in history_farm.model.queues if q["displayName"] == "Lighting"
    )
    since = regression_start(WEEKS)
    until = since + WEEK
    expected = {
        j["jobId"] for j in listed["Lighting"] if since <= j["createdAt"].timestamp() < until
    }
    found: list[dict[str, Any]] = []
    offset: int | None = 0
    while offset is not None:
        page = client.search_jobs(
            farmId=history_farm.farm_id,
            queueIds=[queue_id],
            itemOffset=offset,
            pageSize=25,
            filterExpressions={
                "filters": [
                    {
                        "dateTimeFilter": {
                            "name": "CREATED_AT",
                            "operator": "GREATER_THAN_EQUAL_TO",
                            "dateTime": datetime.fromtimestamp(since, timezone.utc),
                        }
                    },
                    {
                        "dateTimeFilter": {
                            "name": "CREATED_AT",
                            "operator": "LESS_THAN",
                            "dateTime": datetime.fromtimestamp(until, timezone.utc),
                        }
                    },
                ],
                "operator": "AND",
            },
        )
        found.extend(page["jobs"])
        offset = page.get("nextItemOffset")
    assert len(expected) > 10
    assert {j["jobId"] for j in found} == expected
    assert all(j["jobParameters"]["Show"]["string"] for j in found)


# ---- the model: determinism, cost, the fixed jobs


def test_history_is_deterministic_per_seed() -> None:
    def picture(model: FarmModel) -> list[tuple[str, str, Any, str]]:
        specs = [s for s in model.jobs if s.role == HISTORY_JOB_ROLE]
        shown = [model.view(s.job_id) for s in specs[:: max(1, len(specs) // 8)]]
        return [
            (v.job["name"], v.job["taskRunStatus"], v.job["createdAt"], repr(v.actions))
            for v in shown
        ]

    one = picture(FarmModel(seed=3, history=3))
    assert one == picture(FarmModel(seed=3, history=3))
    assert one != picture(FarmModel(seed=4, history=3))
    assert not [s for s in FarmModel(seed=3).jobs if s.role == HISTORY_JOB_ROLE]


def test_history_leaves_the_fixed_jobs_as_they_are() -> None:
    plain = FarmModel(seed=0)
    with_history = FarmModel(seed=0, history=2, queue_jobs=20)
    for role in JOBS:
        if role == "running":
            continue
        job_id = plain.job_by_name(role).job_id
        assert plain.view(job_id) == with_history.view(job_id), role
    # Both knobs fill the weeks before the fixed jobs: the farm stays in submission order.
    lighting = plain.job_by_name("render").queue_id
    days = [with_history.job_record(s.job_id)["createdAt"] for s in with_history.jobs]
    assert days[:-6] == sorted(days[:-6])
    assert {s.role for s in with_history.queue_jobs(lighting)} >= {"queued", HISTORY_JOB_ROLE}


def test_history_records_agree_with_their_simulation() -> None:
    model = FarmModel(seed=5, history=2)
    specs = [s for s in model.jobs if s.role == HISTORY_JOB_ROLE]
    assert len(specs) > 40
    for spec in specs:
        # What a search reads without simulating (status included) is what the job shows.
        assert dict(model.job_record(spec.job_id)) == model.view(spec.job_id).job, spec.name


def test_bad_history_is_one_sentence() -> None:
    with pytest.raises(ValueError, match="`history` must be a whole number, 0 or more"):
        FarmModel(seed=0, history=-1)
    with pytest.raises(TypeError, match="`history`"):
        LocalFarm(history="2")  # type: ignore[arg-type]


# ---- the command line


def test_cli_history_and_queue_jobs_options() -> None:
    args = cli.build_parser().parse_args(
        ["localfarm", "--port", "0", "--history", "2", "--queue-jobs", "7"]
    )
    assert (args.history, args.queue_jobs) == (2, 7)
    stop = threading.Event()
    out = io.StringIO()
    thread = threading.Thread(
        target=cli.run_localfarm, args=(args,), kwargs={"out": out, "stop": stop}
    )
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while "Press Ctrl-C" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.02)
        text = out.getvalue()
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert "jobs  7 more of role queued" in text
    counted = re.search(r"jobs  (\d+) more of role history", text)
    assert counted and int(counted[1]) > 40
    assert JOBS["failing"] in text


def test_cli_refuses_a_bad_history(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(["localfarm", "--history", "-2"])
    assert caught.value.code == 2
    assert "`history` must be a whole number" in capsys.readouterr().err
