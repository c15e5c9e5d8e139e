"""The local farm's SearchJobs and its ``queue_jobs`` knob: a studio-sized queue, searched.

Every call goes through real boto3 over HTTP, and every response is checked against botocore's
model (``check_responses``): the farm cannot answer what the service could not.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from deadline_nb.localfarm import JOBS, LocalFarm
from deadline_nb.localfarm.model import EPOCH, QUEUE_JOB_ROLE, FarmModel
from deadline_nb.localfarm.queuefill import SUBMITTERS, spread_jobs
from deadline_nb.localfarm.shapes import check_responses

from .conftest import kept_farm

QUEUE_JOBS = 20_000


@pytest.fixture(scope="module")
def big_farm() -> Iterator[LocalFarm]:
    with kept_farm(queue_jobs=QUEUE_JOBS) as farm:
        yield farm


@pytest.fixture(scope="module")
def search(big_farm: LocalFarm) -> Any:
    client = check_responses(big_farm.client(retries={"total_max_attempts": 1}))
    queue = big_farm.job_by_name(JOBS["render"]).queue_id

    def call(**params: Any) -> dict[str, Any]:
        params.setdefault("itemOffset", 0)
        return dict(client.search_jobs(farmId=big_farm.farm_id, queueIds=[queue], **params))

    call.client = client  # type: ignore[attr-defined]
    return call


def group(*filters: dict[str, Any], operator: str = "AND") -> dict[str, Any]:
    return {"filters": list(filters), "operator": operator}


# ---- the knob


def test_queue_jobs_are_many_cheap_and_spread_over_120_days() -> None:
    started = time.perf_counter()
    model = FarmModel(seed=1, queue_jobs=QUEUE_JOBS)
    elapsed = time.perf_counter() - started
    assert elapsed < 10  # about half a second on a quiet machine; nothing is simulated
    queued = [s for s in model.jobs if s.role == QUEUE_JOB_ROLE]
    assert len(queued) == QUEUE_JOBS
    lighting = model.job_by_name(JOBS["render"]).queue_id
    assert {s.queue_id for s in queued} == {lighting}
    records = [model.job_record(s.job_id) for s in queued]
    created = [r["createdAt"] for r in records]
    assert created == sorted(created)
    assert created[0] >= EPOCH - 120 * 86400 and created[-1] < EPOCH
    assert created[-1] - created[0] > 110 * 86400
    assert len({r["createdBy"] for r in records}) == len(SUBMITTERS)
    assert {"Shot", "Version", "Renderer", "Frames", "SceneFile"} == set(records[0]["parameters"])


def test_a_queue_jobs_record_is_what_its_simulation_shows() -> None:
    model = FarmModel(seed=2, queue_jobs=600)
    for spec in model.jobs:
        # The fields a search reads without simulating (status included) agree with the view.
        assert dict(model.job_record(spec.job_id)) == model.view(spec.job_id).job, spec.name
    statuses = {model.view(s.job_id).job["taskRunStatus"] for s in model.jobs[:600]}
    assert statuses == {"SUCCEEDED", "FAILED", "CANCELED"}


def test_spread_jobs_is_deterministic_and_reusable() -> None:
    one = spread_jobs(5, 300, end=EPOCH, days=30)
    assert one == spread_jobs(5, 300, end=EPOCH, days=30)
    assert one != spread_jobs(6, 300, end=EPOCH, days=30)
    assert all(EPOCH - 30 * 86400 <= p.created_at < EPOCH for p in one)
    assert spread_jobs(5, 0, end=EPOCH) == []


def test_queue_jobs_is_checked_like_the_other_knobs() -> None:
    with pytest.raises(ValueError, match="`queue_jobs` must be a whole number, 0 or more"):
        LocalFarm(queue_jobs=-1)
    with pytest.raises(ValueError, match="queue_jobs"):
        LocalFarm(queue_jobs=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="queue_jobs"):
        LocalFarm(queue_jobs="many")  # type: ignore[arg-type]


# ---- SearchJobs: paging and the 10,000 window


def test_newest_first_by_default_and_paged_by_offset(search: Any, big_farm: LocalFarm) -> None:
    first = search(pageSize=100)
    assert len(first["jobs"]) == 100 and first["nextItemOffset"] == 100
    assert first["totalResults"] == 10_000  # 20,002 jobs; the model caps the count there
    created = [j["createdAt"] for j in first["jobs"]]
    assert created == sorted(created, reverse=True)
    second = search(pageSize=100, itemOffset=100)
    assert second["jobs"][0]["createdAt"] <= created[-1]
    assert not {j["jobId"] for j in first["jobs"]} & {j["jobId"] for j in second["jobs"]}
    # Summaries carry the job's parameters as jobParameters, and its queue.
    job = first["jobs"][-1]
    assert (
        "Shot" in job["jobParameters"] and job["queueId"] == big_farm.job_by_name("render").queue_id
    )


def test_results_stop_at_the_window(search: Any) -> None:
    last = search(itemOffset=9_950, pageSize=100)
    assert len(last["jobs"]) == 50 and "nextItemOffset" not in last
    assert search(itemOffset=10_000)["jobs"] == []
    with pytest.raises(search.client.exceptions.ValidationException, match="10000"):
        search(itemOffset=10_001)
    with pytest.raises(search.client.exceptions.ValidationException):
        search(pageSize=101)


# ---- filters


def test_parameter_filters_compare_by_the_parameters_type(search: Any, big_farm: LocalFarm) -> None:
    model = big_farm.model
    queue = big_farm.job_by_name("render").queue_id
    records = [r for _, r in model.queue_records(queue) if "Version" in r.get("parameters", {})]
    expected = {
        r["jobId"]
        for r in records
        if int(r["parameters"]["Version"]["int"]) >= 9
        and r["parameters"]["Renderer"]["string"] == "karma"
    }
    found = search(
        pageSize=100,
        filterExpressions=group(
            {
                "parameterFilter": {
                    "name": "Version",
                    "operator": "GREATER_THAN_EQUAL_TO",
                    "value": "9",
                }
            },
            {"parameterFilter": {"name": "Renderer", "operator": "EQUAL", "value": "karma"}},
        ),
    )
    assert found["totalResults"] == len(expected) > 0
    # As numbers: "9" <= "10" although "10" < "9" as text.
    versions = [int(j["jobParameters"]["Version"]["int"]) for j in found["jobs"]]
    assert min(versions) >= 9 and max(versions) >= 10
    if found["totalResults"] <= 100:
        assert {j["jobId"] for j in found["jobs"]} == expected
    with pytest.raises(search.client.exceptions.ValidationException, match="not a number"):
        search(
            filterExpressions=group(
                {"parameterFilter": {"name": "Version", "operator": "EQUAL", "value": "v9"}}
            )
        )


def test_search_terms_fuzzy_or_contains(search: Any, big_farm: LocalFarm) -> None:
    name = search(pageSize=1)["jobs"][0]["name"]  # such as sq123_sh040_lighting_v007
    shot = "_".join(name.split("_")[:2])
    contains = search(
        pageSize=100,
        filterExpressions=group(
            {"searchTermFilter": {"searchTerm": shot.upper(), "matchType": "CONTAINS"}}
        ),
    )
    assert contains["totalResults"] >= 1
    assert all(shot in j["name"] for j in contains["jobs"])
    # FUZZY_MATCH (the default): a portion of the term, here any one of its words.
    fuzzy = search(
        pageSize=100,
        filterExpressions=group({"searchTermFilter": {"searchTerm": f"{shot} zzznothing"}}),
    )
    assert fuzzy["totalResults"] == contains["totalResults"]
    exact = search(
        filterExpressions=group(
            {"searchTermFilter": {"searchTerm": f"{shot} zzznothing", "matchType": "CONTAINS"}}
        )
    )
    assert exact["totalResults"] == 0


def test_groups_statuses_submitters_and_dates(search: Any, big_farm: LocalFarm) -> None:
    model = big_farm.model
    queue = big_farm.job_by_name("render").queue_id
    records = [r for _, r in model.queue_records(queue)]
    user = records[0]["createdBy"]
    since = EPOCH - 30 * 86400
    expected = {
        r["jobId"]
        for r in records
        if r["createdBy"] == user
        and r["taskRunStatus"] in ("FAILED", "CANCELED")
        and r["createdAt"] >= since
    }
    found = search(
        pageSize=100,
        filterExpressions=group(
            {"stringFilter": {"name": "CREATED_BY", "operator": "EQUAL", "value": user}},
            {
                "groupFilter": group(
                    {
                        "stringFilter": {
                            "name": "TASK_RUN_STATUS",
                            "operator": "EQUAL",
                            "value": "FAILED",
                        }
                    },
                    {
                        "stringListFilter": {
                            "name": "TASK_RUN_STATUS",
                            "operator": "ANY_EQUALS",
                            "values": ["CANCELED"],
                        }
                    },
                    operator="OR",
                )
            },
            {
                "dateTimeFilter": {
                    "name": "CREATED_AT",
                    "operator": "GREATER_THAN_EQUAL_TO",
                    "dateTime": datetime.fromtimestamp(since, timezone.utc),
                }
            },
        ),
    )
    assert found["totalResults"] == len(expected) > 0
    assert {j["jobId"] for j in found["jobs"]} <= expected


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        (
            {"stringFilter": {"name": "NAME", "operator": "GREATER_THAN", "value": "a"}},
            "stringFilter",
        ),
        (
            {"stringListFilter": {"name": "NAME", "operator": "EQUAL", "values": ["a"]}},
            "stringListFilter",
        ),
        (
            {
                "dateTimeFilter": {
                    "name": "CREATED_AT",
                    "operator": "NOT_EQUAL",
                    "dateTime": datetime(2026, 1, 1, tzinfo=timezone.utc),
                }
            },
            "dateTimeFilter",
        ),
        (
            {
                "dateTimeFilter": {
                    "name": "NAME",
                    "operator": "LESS_THAN",
                    "dateTime": datetime(2026, 1, 1, tzinfo=timezone.utc),
                }
            },
            "date-time field",
        ),
        ({"stringFilter": {"name": "COLOUR", "operator": "EQUAL", "value": "red"}}, "COLOUR"),
        (
            {
                "groupFilter": group(
                    {
                        "groupFilter": group(
                            {"searchTermFilter": {"searchTerm": "sq"}},
                        )
                    }
                )
            },
            "two levels",
        ),
    ],
)
def test_what_the_model_says_a_filter_does_not_take_is_refused(
    search: Any, expression: dict[str, Any], says: str
) -> None:
    with pytest.raises(search.client.exceptions.ValidationException, match=says):
        search(filterExpressions=group(expression))


def test_four_filters_in_a_group_are_refused_by_the_model(search: Any) -> None:
    term = {"searchTermFilter": {"searchTerm": "sq"}}
    with pytest.raises(search.client.exceptions.ValidationException, match="length 4"):
        search(filterExpressions=group(term, term, term, term))


# ---- sorts


def test_sorts_by_several_fields_and_by_parameter(search: Any) -> None:
    found = search(
        pageSize=100,
        sortExpressions=[
            {"fieldSort": {"name": "PRIORITY", "sortOrder": "DESCENDING"}},
            {"parameterSort": {"name": "Version", "sortOrder": "ASCENDING"}},
        ],
    )
    keys = [(-j["priority"], int(j["jobParameters"]["Version"]["int"])) for j in found["jobs"]]
    assert keys == sorted(keys)
    assert found["jobs"][0]["priority"] == 90
    user = found["jobs"][-1]["createdBy"]
    mine = search(pageSize=5, sortExpressions=[{"userJobsFirst": {"userIdentityId": user}}])
    assert all(j["createdBy"] == user for j in mine["jobs"])


def test_a_search_is_answered_quickly_at_scale(search: Any) -> None:
    search(
        pageSize=100, sortExpressions=[{"fieldSort": {"name": "NAME", "sortOrder": "ASCENDING"}}]
    )
    started = time.perf_counter()
    later = datetime.fromtimestamp(EPOCH, timezone.utc) - timedelta(days=1)
    search(
        pageSize=100,
        filterExpressions=group(
            {"dateTimeFilter": {"name": "CREATED_AT", "operator": "LESS_THAN", "dateTime": later}},
            {"parameterFilter": {"name": "Renderer", "operator": "EQUAL", "value": "arnold"}},
        ),
    )
    # A filter on cheap fields simulates only the page it returns (about 0.2 s here).
    assert time.perf_counter() - started < 10
