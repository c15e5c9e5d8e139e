"""Queues at studio scale: list_jobs, search_jobs, the picker and explore() on 20,000 jobs.

Real boto3 clients over HTTP to a local farm whose Lighting queue holds 20,002 jobs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import deadline_nb as dnb
from deadline_nb.errors import AccessDeniedError
from deadline_nb.localfarm import JOBS, LocalFarm
from deadline_nb.localfarm.model import EPOCH
from deadline_nb.widgets import JobPicker
from deadline_nb.widgets.picker import MORE, session_choices
from deadline_nb.widgets.shared import ALL

from .conftest import kept_farm
from .fetch_helpers import Recorder

QUEUE_JOBS = 20_000


@pytest.fixture(scope="module")
def big_farm() -> Iterator[LocalFarm]:
    with kept_farm(queue_jobs=QUEUE_JOBS) as farm:
        yield farm


@pytest.fixture
def lighting(big_farm: LocalFarm) -> str:
    return big_farm.job_by_name(JOBS["render"]).queue_id


def truth(farm: LocalFarm, queue_id: str) -> list[Mapping[str, Any]]:
    """Every job of the queue as the farm has it, newest first (read without simulating)."""
    records: list[Mapping[str, Any]] = [r for _, r in farm.model.queue_records(queue_id)]
    return sorted(records, key=lambda r: r["createdAt"], reverse=True)


# ---- the fetch layer


def test_list_jobs_gives_the_newest_hundred_in_one_call(big_farm: LocalFarm, lighting: str) -> None:
    client = big_farm.client()
    recorder = Recorder(client)
    jobs = dnb.list_jobs(big_farm.farm_id, lighting, client=client)
    assert dict(recorder.calls) == {"SearchJobs": 1}
    assert [j["jobId"] for j in jobs] == [r["jobId"] for r in truth(big_farm, lighting)[:100]]
    assert dnb.list_jobs(big_farm.farm_id, lighting, limit=7, client=client)[-1] == jobs[6]
    assert dnb.list_jobs(big_farm.farm_id, lighting, limit=0, client=client) == []
    with pytest.raises(ValueError, match="`limit` must be"):
        dnb.list_jobs(big_farm.farm_id, lighting, limit=-1, client=client)


def test_list_jobs_limit_none_gets_every_job_past_the_window(
    big_farm: LocalFarm, lighting: str
) -> None:
    client = big_farm.client()
    recorder = Recorder(client)
    jobs = dnb.list_jobs(big_farm.farm_id, lighting, limit=None, progress=False, client=client)
    expected = truth(big_farm, lighting)
    assert len(jobs) == len(expected) == QUEUE_JOBS + 2  # the fixed render and reclaimed jobs
    assert {j["jobId"] for j in jobs} == {r["jobId"] for r in expected}
    created = [j["createdAt"] for j in jobs]
    assert created == sorted(created, reverse=True)
    # 10,000 per window, 100 per call: two windows and the start of a third, no ListJobs.
    assert recorder.calls["ListJobs"] == 0
    assert QUEUE_JOBS // 100 <= recorder.calls["SearchJobs"] <= QUEUE_JOBS // 100 + 5


def test_search_jobs_filters_on_the_service(big_farm: LocalFarm, lighting: str) -> None:
    client = big_farm.client()
    recorder = Recorder(client)
    after = datetime.fromtimestamp(EPOCH, timezone.utc) - timedelta(days=60)
    page = dnb.search_jobs(
        big_farm.farm_id,
        lighting,
        filters=dnb.job_filter(
            status=["FAILED", "CANCELED"],
            created_after=after,
            parameters={"Version": (">", 3), "Renderer": "redshift"},
        ),
        client=client,
    )
    assert dict(recorder.calls) == {"SearchJobs": 1}  # four conditions, one call
    expected = [
        r
        for r in truth(big_farm, lighting)
        if r["taskRunStatus"] in ("FAILED", "CANCELED")
        and r["createdAt"] >= after.timestamp()
        and int(r["parameters"].get("Version", {}).get("int", 0)) > 3
        and r["parameters"].get("Renderer", {}).get("string") == "redshift"
    ]
    assert page.total == len(expected) > 0
    assert [j["jobId"] for j in page.jobs] == [r["jobId"] for r in expected[:100]]
    assert page.more == (len(expected) > 100)


def test_job_filter_groups_conditions_three_by_three() -> None:
    many = dnb.job_filter(
        name="sq100 sh020 lighting",
        status="FAILED",
        parameters={"A": 1, "B": ("!=", "x"), "C": ("<=", 2.5)},
    )
    assert many is not None and many["operator"] == "AND"
    groups = [f["groupFilter"] for f in many["filters"]]
    assert [len(g["filters"]) for g in groups] == [3, 3, 1]
    assert groups[2]["filters"][0] == {
        "parameterFilter": {"name": "C", "operator": "LESS_THAN_EQUAL_TO", "value": "2.5"}
    }
    with pytest.raises(ValueError, match="`parameters\\['A'\\]`"):
        dnb.job_filter(parameters={"A": ("~", 1)})
    with pytest.raises(ValueError, match="created_after"):
        dnb.job_filter(created_after=datetime(2026, 1, 1))  # naive: which timezone?
    with pytest.raises(ValueError, match="at most 9"):
        dnb.job_filter(parameters={f"P{i}": i for i in range(10)})


def test_list_jobs_walks_list_jobs_where_search_is_unavailable() -> None:
    with LocalFarm(seed=0, queue_jobs=300) as farm:
        queue = farm.job_by_name(JOBS["render"]).queue_id
        client = farm.client(retries={"total_max_attempts": 1})
        farm.unavailable_operations.add("SearchJobs")
        recorder = Recorder(client)
        jobs = dnb.list_jobs(farm.farm_id, queue, limit=None, progress=False, client=client)
        assert recorder.calls["ListJobs"] == 4 and len(jobs) == 302
        created = [j["createdAt"] for j in jobs]
        assert created == sorted(created, reverse=True)
        # A filtered list cannot be made without the search: it says so.
        with pytest.raises(dnb.errors.AwsError, match="SearchJobs"):
            dnb.list_jobs(
                farm.farm_id, queue, filters=dnb.job_filter(status="FAILED"), client=client
            )
        farm.unavailable_operations.clear()
        farm.denied_queues.add(queue)
        with pytest.raises(AccessDeniedError):
            dnb.list_jobs(farm.farm_id, queue, client=client)


# ---- the picker


def test_picker_first_list_is_one_call_at_scale(big_farm: LocalFarm, lighting: str) -> None:
    client = big_farm.client()
    picker = JobPicker(client, farm_id=big_farm.farm_id)
    recorder = Recorder(client)
    started = time.perf_counter()
    picker.queue_id = lighting
    elapsed = time.perf_counter() - started
    assert dict(recorder.calls) == {"SearchJobs": 1}
    assert elapsed < 5  # ~0.1 s on a quiet machine; a ListJobs walk took 200 calls
    options = picker.job.options
    assert len(options) == 1 + 100 + 1 and options[-1][1] == MORE
    assert "10,000 jobs (newest first)" in options[0][0]
    assert "may be missing" in picker.hint.value and "Refresh" in picker.hint.value
    newest = truth(big_farm, lighting)
    assert [v for _, v in options[1:-1]] == [r["jobId"] for r in newest[:100]]

    # "more…" loads the next hundred, and keeps what was chosen.
    picker.job_id = newest[3]["jobId"]
    recorder.clear()
    picker.job.value = MORE
    assert recorder.calls["SearchJobs"] == 1
    assert len(picker.job.options) == 1 + 200 + 1
    assert picker.job_id == newest[3]["jobId"]
    assert [v for _, v in picker.job.options[101:-1]] == [r["jobId"] for r in newest[100:200]]


def test_picker_searches_by_parameter_status_and_submitter(
    big_farm: LocalFarm, lighting: str
) -> None:
    client = big_farm.client()
    picker = JobPicker(client, farm_id=big_farm.farm_id, queue_id=lighting)
    picker.debounce = 0
    recorder = Recorder(client)
    shot = picker.job.options[1][0].split(" · ")[0].rsplit("_", 2)[0]  # sq123_sh040
    picker.filter.value = f"Shot={shot} Version>=2"
    assert dict(recorder.calls) == {"SearchJobs": 1}  # a parameter filter: one call
    expected = [
        r
        for r in truth(big_farm, lighting)
        if r["parameters"].get("Shot", {}).get("string") == shot
        and int(r["parameters"].get("Version", {}).get("int", 0)) >= 2
    ]
    assert [v for _, v in picker.job.options[1:]] == [r["jobId"] for r in expected[:100]]
    assert f"{len(expected):,} of 10,000 jobs match" in picker.job.options[0][0]

    picker.filter.value = ""
    user = picker.submitter.options[1][1]  # submitters learnt from the jobs listed
    picker.submitter.value = user
    picker.status.value = "CANCELED"
    labels = [label for label, v in picker.job.options[1:] if v != MORE]
    assert labels and all(" · CANCELED · " in label for label in labels)
    listed = truth(big_farm, lighting)
    mine = [r for r in listed if r["createdBy"] == user and r["taskRunStatus"] == "CANCELED"]
    assert [v for _, v in picker.job.options[1:] if v != MORE] == [r["jobId"] for r in mine[:100]]
    picker.since.value = "30"
    cutoff = (datetime.now(timezone.utc) - timedelta(days=30)).timestamp()
    recent = [r["jobId"] for r in mine if r["createdAt"] >= cutoff]
    assert picker.job.options[0][0].startswith(f"— {len(recent)} of 10,000 jobs match")
    assert [v for _, v in picker.job.options[1:] if v != MORE] == recent[:100]


def test_picker_filter_box_waits_for_a_pause(big_farm: LocalFarm, lighting: str) -> None:
    client = big_farm.client()
    picker = JobPicker(client, farm_id=big_farm.farm_id, queue_id=lighting)
    picker.debounce = 60.0  # nothing is sent until flush()
    recorder = Recorder(client)
    for typed in ("s", "sq", "sq1", "sq12", "sq120"):
        picker.filter.value = typed
    assert recorder.calls["SearchJobs"] == 0
    picker.flush()
    assert recorder.calls["SearchJobs"] == 1
    assert all("sq120" in label for label, v in picker.job.options[1:] if v != MORE)

    picker.debounce = 0.05  # the timer sends the last text once
    recorder.clear()
    picker.filter.value = "sq12"
    picker.filter.value = "sq121"
    deadline = time.monotonic() + 10
    while recorder.calls["SearchJobs"] == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)
    assert recorder.calls["SearchJobs"] == 1


def test_a_job_id_typed_in_is_found_even_when_the_search_lags(
    big_farm: LocalFarm, lighting: str
) -> None:
    client = big_farm.client()
    picker = JobPicker(client, farm_id=big_farm.farm_id, queue_id=lighting)
    picker.debounce = 0
    oldest = truth(big_farm, lighting)[-1]  # far past the first page
    recorder = Recorder(client)
    picker.filter.value = oldest["jobId"]
    assert recorder.calls["GetJob"] == 1
    assert picker.job_id == oldest["jobId"]
    assert picker.job.label.startswith(oldest["name"] + " · ")
    assert picker.step.options[0][0] == "all steps (1)"


def test_a_long_session_list_shows_failed_then_newest() -> None:
    t0 = datetime(2026, 3, 2, tzinfo=timezone.utc)
    sessions = [
        {
            "sessionId": f"session-{i:04d}",
            "workerId": f"worker-{i % 64}",
            "lifecycleStatus": "ENDED",
            "startedAt": t0 + timedelta(seconds=30 * i),
            "endedAt": t0 + timedelta(seconds=30 * i + 25),
        }
        for i in range(5_000)
    ]
    failed = ["session-0007", "session-4000"]
    options, head = session_choices(sessions, failed)
    assert head == "all sessions (5,000; 2 failed + 48 newest shown)"
    assert [v for _, v in options[:2]] == ["session-4000", "session-0007"]
    assert options[0][0].startswith("FAILED · worker-")
    assert [v for _, v in options[2:5]] == ["session-4999", "session-4998", "session-4997"]
    assert len(options) == 50
    few, head = session_choices(sessions[:5], ["session-0003"])
    assert head == "all sessions (5)" and [v for _, v in few][:2] == [
        "session-0003",
        "session-0000",
    ]


def test_explore_a_job_of_a_big_queue(big_farm: LocalFarm, lighting: str, tmp_path: Any) -> None:
    client = big_farm.client()
    recorder = Recorder(client)
    ex = dnb.explore(None, client=client, farm_id=big_farm.farm_id, queue_id=lighting)
    try:
        assert ex.picker is not None
        assert recorder.calls["SearchJobs"] == 1 and recorder.calls["ListJobs"] == 0
        failed = next(r for r in truth(big_farm, lighting) if r["taskRunStatus"] == "FAILED")
        ex.picker.job.value = failed["jobId"]
        assert ex.job is not None and ex.job.job_id == failed["jobId"]
        assert "FAILED" in set(ex.job.actions["status"].astype(str))
        # The explorer told the picker which sessions failed: they come first.
        assert ex.picker.session.options[1][0].startswith("FAILED · ")
        assert ex.picker.session.value == ALL
    finally:
        ex.close()
