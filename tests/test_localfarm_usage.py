"""The local farm's usage statistics: shapes, ground truth, periods, one aggregation per farm."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest

from deadline_nb.localfarm import EPOCH, LocalFarm, ManualClock
from deadline_nb.localfarm.shapes import check_responses
from deadline_nb.localfarm.usage import (
    CUSTOMER_MANAGED_RATE,
    INSTANCE_PRICES,
    LICENSE_PRICES,
    SPOT_SHARE,
)

UTC = dt.timezone.utc
MARCH = dt.datetime(2026, 3, 1, tzinfo=UTC)
APRIL = dt.datetime(2026, 4, 1, tzinfo=UTC)


@pytest.fixture
def farm() -> Iterator[LocalFarm]:
    # A farm of its own: aggregations change a farm's state (one runs at a time).
    with LocalFarm(seed=0, clock=ManualClock(EPOCH + 30 * 86400)) as running:
        running.statistics.seconds = 0.0
        yield running


@pytest.fixture
def client(farm: LocalFarm) -> Any:
    return check_responses(farm.client(retries={"total_max_attempts": 1}))


def queue_ids(farm: LocalFarm) -> list[str]:
    return [q["queueId"] for q in farm.model.queues]


def run(client: Any, farm: LocalFarm, **request: Any) -> list[dict[str, Any]]:
    """Start an aggregation, wait for it, and return every statistic (each page checked)."""
    params = {
        "resourceIds": {"queueIds": queue_ids(farm)},
        "startTime": MARCH,
        "endTime": APRIL,
        "groupBy": ["QUEUE_ID"],
        "statistics": ["SUM", "MIN", "MAX", "AVG"],
        **request,
    }
    aggregation = client.start_sessions_statistics_aggregation(farmId=farm.farm_id, **params)
    ident = aggregation["aggregationId"]
    while True:
        page = client.get_sessions_statistics_aggregation(farmId=farm.farm_id, aggregationId=ident)
        if page["status"] != "IN_PROGRESS":
            break
        time.sleep(0.02)
    assert page["status"] == "COMPLETED"
    items = list(page["statistics"])
    while page.get("nextToken"):
        page = client.get_sessions_statistics_aggregation(
            farmId=farm.farm_id, aggregationId=ident, nextToken=page["nextToken"]
        )
        items.extend(page["statistics"])
    return items


def session_costs(farm: LocalFarm) -> dict[str, float]:
    """Compute cost per queue straight from the sessions and the price table (ground truth)."""
    fleets = {f["fleetId"]: f["configuration"] for f in farm.model.fleets}
    out: dict[str, float] = {}
    for spec in farm.model.jobs:
        view = farm.model.view(spec.job_id)
        for s in view.sessions:
            if not (MARCH.timestamp() <= s["startedAt"] < APRIL.timestamp()):
                continue
            managed = fleets[s["fleetId"]].get("serviceManagedEc2")
            hours = (s["endedAt"] - s["startedAt"]) / 3600
            if managed is None:
                rate = CUSTOMER_MANAGED_RATE
            else:
                share = SPOT_SHARE if managed["instanceMarketOptions"]["type"] == "spot" else 1
                rate = INSTANCE_PRICES[s["hostProperties"]["ec2InstanceType"]] * share
            out[spec.queue_id] = out.get(spec.queue_id, 0.0) + hours * rate
        for a in view.actions:
            if a.get("acquiredLimits") and a.get("startedAt") is not None:
                hours = (a["endedAt"] - a["startedAt"]) / 3600
                out[spec.queue_id] += hours * LICENSE_PRICES["arnold"]
    return out


def test_start_then_get_in_progress_then_completed_pages_fit_the_model(
    farm: LocalFarm, client: Any
) -> None:
    farm.statistics.seconds = 0.3
    started = client.start_sessions_statistics_aggregation(
        farmId=farm.farm_id,
        resourceIds={"queueIds": queue_ids(farm)},
        startTime=MARCH,
        endTime=APRIL,
        groupBy=["JOB_ID"],
        statistics=["SUM"],
        period="DAILY",
    )
    first = client.get_sessions_statistics_aggregation(
        farmId=farm.farm_id, aggregationId=started["aggregationId"]
    )
    assert first["status"] == "IN_PROGRESS" and "statistics" not in first
    time.sleep(0.35)
    page = client.get_sessions_statistics_aggregation(
        farmId=farm.farm_id, aggregationId=started["aggregationId"], maxResults=2
    )
    assert page["status"] == "COMPLETED" and len(page["statistics"]) == 2 and page["nextToken"]
    paginator = client.get_paginator("get_sessions_statistics_aggregation")
    every = paginator.paginate(
        farmId=farm.farm_id,
        aggregationId=started["aggregationId"],
        PaginationConfig={"PageSize": 2},
    ).build_full_result()
    assert every["status"] == "COMPLETED"
    jobs = {s["jobId"] for s in every["statistics"]}
    assert jobs == {spec.job_id for spec in farm.model.jobs if spec.role != "running"}
    assert all(set(s["costInUsd"]) == {"sum"} for s in every["statistics"])  # only SUM asked
    names = {spec.job_id: spec.name for spec in farm.model.jobs}
    assert all(s["jobName"] == names[s["jobId"]] for s in every["statistics"])


def test_costs_are_the_sessions_run_time_times_the_price_table(
    farm: LocalFarm, client: Any
) -> None:
    items = run(client, farm)
    truth = session_costs(farm)
    got = {s["queueId"]: s["costInUsd"]["sum"] for s in items}
    assert got.keys() == truth.keys()
    for queue, cost in truth.items():
        assert got[queue] == pytest.approx(cost, rel=1e-6)
    for s in items:
        c = s["costInUsd"]
        assert c["min"] <= c["avg"] <= c["max"] and c["avg"] * s["count"] == pytest.approx(
            c["sum"], rel=1e-5
        )


def test_cost_scale_factor_scales_every_cost(farm: LocalFarm, client: Any) -> None:
    before = {s["queueId"]: s["costInUsd"]["sum"] for s in run(client, farm)}
    farm.model.farm["costScaleFactor"] = 0.5
    after = {s["queueId"]: s["costInUsd"]["sum"] for s in run(client, farm)}
    assert after == {q: pytest.approx(v * 0.5) for q, v in before.items()}


def test_users_usage_types_instance_types_and_license_products(
    farm: LocalFarm, client: Any
) -> None:
    by_user = run(client, farm, groupBy=["USER_ID"], statistics=["SUM"])
    creators = {
        farm.model.view(s.job_id).job["createdBy"] for s in farm.model.jobs if s.role != "running"
    }
    assert {s["userId"] for s in by_user} == creators
    by_type = run(client, farm, groupBy=["USAGE_TYPE", "LICENSE_PRODUCT"], statistics=["SUM"])
    assert {(s["usageType"], s.get("licenseProduct")) for s in by_type} == {
        ("COMPUTE", None),
        ("LICENSE", "arnold"),
    }
    by_instance = run(client, farm, groupBy=["INSTANCE_TYPE"], statistics=["SUM"])
    types = {s.get("instanceType") for s in by_instance}
    # the customer-managed fleet has no instance type: its group has none either
    assert None in types and {"c6i.8xlarge", "m6i.8xlarge", "c6a.8xlarge"} <= types


def test_daily_weekly_monthly_and_timezone_buckets(farm: LocalFarm, client: Any) -> None:
    daily = run(client, farm, period="DAILY", groupBy=["QUEUE_ID"], statistics=["SUM"])
    starts = sorted({s["aggregationStartTime"] for s in daily})
    assert all(t.hour == 0 and t.minute == 0 for t in starts)
    assert all(
        s["aggregationEndTime"] - s["aggregationStartTime"] == dt.timedelta(days=1) for s in daily
    )
    total = sum(s["costInUsd"]["sum"] for s in run(client, farm, statistics=["SUM"]))
    assert sum(s["costInUsd"]["sum"] for s in daily) == pytest.approx(total)
    shifted = run(
        client, farm, period="DAILY", timezone="UTC+08:00", groupBy=["QUEUE_ID"], statistics=["SUM"]
    )
    assert {s["aggregationStartTime"].hour for s in shifted} == {16}  # midnight in UTC+8
    weekly = run(client, farm, period="WEEKLY", statistics=["SUM"])
    # every job ran from Monday 2 March to Saturday 7 March: one week, Monday to Monday
    assert {(s["aggregationStartTime"], s["aggregationEndTime"]) for s in weekly} == {
        (dt.datetime(2026, 3, 2, tzinfo=UTC), dt.datetime(2026, 3, 9, tzinfo=UTC))
    }
    monthly = run(
        client,
        farm,
        period="MONTHLY",
        startTime=dt.datetime(2026, 2, 20, tzinfo=UTC),
        statistics=["SUM"],
    )
    assert {s["aggregationStartTime"] for s in monthly} == {MARCH}


def test_one_aggregation_per_farm_then_results_expire_after_an_hour(
    farm: LocalFarm, client: Any
) -> None:
    farm.statistics.seconds = 30.0
    params = {
        "farmId": farm.farm_id,
        "resourceIds": {"queueIds": queue_ids(farm)},
        "startTime": MARCH,
        "endTime": APRIL,
        "groupBy": ["QUEUE_ID"],
        "statistics": ["SUM"],
    }
    first = client.start_sessions_statistics_aggregation(**params)
    with pytest.raises(client.exceptions.ThrottlingException, match="already in progress"):
        client.start_sessions_statistics_aggregation(**params)
    farm.statistics._aggregations[first["aggregationId"]].seconds = 0.0  # it completes
    second = client.start_sessions_statistics_aggregation(**params)
    assert second["aggregationId"] != first["aggregationId"]
    farm.model.clock.advance(3601.0)  # type: ignore[attr-defined]
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_sessions_statistics_aggregation(
            farmId=farm.farm_id, aggregationId=first["aggregationId"]
        )


@pytest.mark.parametrize("outcome", ["FAILED", "TIMEOUT"])
def test_failed_and_timed_out_aggregations(farm: LocalFarm, client: Any, outcome: str) -> None:
    farm.statistics.outcome = outcome
    started = client.start_sessions_statistics_aggregation(
        farmId=farm.farm_id,
        resourceIds={"fleetIds": [farm.model.fleets[0]["fleetId"]]},
        startTime=MARCH,
        endTime=APRIL,
        groupBy=["FLEET_ID"],
        statistics=["SUM"],
    )
    page = client.get_sessions_statistics_aggregation(
        farmId=farm.farm_id, aggregationId=started["aggregationId"]
    )
    assert page["status"] == outcome and page["statusMessage"] and "statistics" not in page


def test_bad_requests_get_the_services_errors(farm: LocalFarm, client: Any) -> None:
    base = {
        "farmId": farm.farm_id,
        "resourceIds": {"queueIds": queue_ids(farm)},
        "startTime": MARCH,
        "endTime": APRIL,
        "groupBy": ["QUEUE_ID"],
        "statistics": ["SUM"],
    }
    with pytest.raises(client.exceptions.ValidationException, match="before the endTime"):
        client.start_sessions_statistics_aggregation(**{**base, "endTime": MARCH})
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.start_sessions_statistics_aggregation(
            **{**base, "resourceIds": {"queueIds": ["queue-" + "0" * 32]}}
        )
    with pytest.raises(client.exceptions.ValidationException, match="groupBy"):
        client.start_sessions_statistics_aggregation(
            **{**base, "groupBy": ["QUEUE_ID", "JOB_ID", "USER_ID"]}
        )
    # botocore refuses both members itself; the farm too, for a client that sends them
    body = {
        "resourceIds": {"queueIds": queue_ids(farm), "fleetIds": [farm.model.fleets[0]["fleetId"]]},
        "startTime": "2026-03-01T00:00:00Z",
        "endTime": "2026-04-01T00:00:00Z",
        "groupBy": ["QUEUE_ID"],
        "statistics": ["SUM"],
    }
    status, headers, answer = farm.handle(
        "POST",
        f"/2023-10-12/farms/{farm.farm_id}/sessions-statistics-aggregation",
        json.dumps(body).encode(),
    )
    assert status == 400 and headers["x-amzn-ErrorType"] == "ValidationException"
    assert b"union" in answer
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_sessions_statistics_aggregation(farmId=farm.farm_id, aggregationId="0" * 32)
    farm.denied_operations.add("StartSessionsStatisticsAggregation")
    with pytest.raises(botocore.exceptions.ClientError, match="AccessDenied"):
        client.start_sessions_statistics_aggregation(**base)


def test_the_same_seed_gives_the_same_statistics(client: Any, farm: LocalFarm) -> None:
    first = run(client, farm, groupBy=["JOB_ID", "INSTANCE_TYPE"], period="DAILY")
    with LocalFarm(seed=0, clock=ManualClock(EPOCH + 30 * 86400)) as other:
        other.statistics.seconds = 0.0
        again = run(
            check_responses(other.client()),
            other,
            groupBy=["JOB_ID", "INSTANCE_TYPE"],
            period="DAILY",
        )
    assert first == again and len(first) > 5
