"""usage_frame, Job.cost and its estimates, plot_usage, `deadline-nb usage`, the report's card."""

from __future__ import annotations

import datetime as dt
import io
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import pytest

import deadline_nb as dnb
from deadline_nb import schema
from deadline_nb.cli import build_parser, main, run_usage
from deadline_nb.errors import AccessDeniedError, DataWarning, MalformedItemError, ServiceError
from deadline_nb.fetch.usage import parse_instant
from deadline_nb.localfarm import LocalFarm

UTC = dt.timezone.utc
MARCH, APRIL = "2026-03-01", "2026-04-01"


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


@pytest.fixture
def farm() -> Iterator[LocalFarm]:
    with LocalFarm(seed=0) as running:  # its own: aggregations change a farm's state
        running.statistics.seconds = 0.1
        yield running


def queues(farm: LocalFarm) -> dict[str, str]:
    return {q["displayName"]: q["queueId"] for q in farm.model.queues}


def usage(farm: LocalFarm, **options: Any) -> pd.DataFrame:
    params: dict[str, Any] = {
        "queue_ids": list(queues(farm).values()),
        "start": MARCH,
        "end": APRIL,
        "cache": False,
        "progress": False,
        "client": farm.client(),
        **options,
    }
    return dnb.usage_frame(farm.farm_id, **params)


def check_schema(df: pd.DataFrame) -> None:
    assert list(df.columns) == list(schema.USAGE_COLUMNS)
    for name, dtype in schema.USAGE_COLUMNS.items():
        assert str(df[name].dtype) == str(pd.Series([], dtype=dtype).dtype), name  # type: ignore[call-overload]


def test_usage_frame_by_user_daily_has_the_schema_and_the_services_numbers(
    farm: LocalFarm,
) -> None:
    df = usage(farm, group_by=["user"], period="daily")
    check_schema(df)
    assert df["userId"].notna().all() and df["jobId"].isna().all()
    assert (df["endTime"] - df["startTime"] == pd.Timedelta(days=1)).all()
    assert df["startTime"].is_monotonic_increasing
    total = usage(farm, group_by="QUEUE_ID", statistics="sum")
    assert df[schema.USAGE_COST].sum() == pytest.approx(total[schema.USAGE_COST].sum())
    assert total["costInUsd.min"].isna().all()  # not asked for
    creators = {farm.model.view(s.job_id).job["createdBy"] for s in farm.model.jobs}
    assert set(df["userId"]) <= creators


def test_job_grouping_brings_job_names_and_fleets_work_too(farm: LocalFarm) -> None:
    df = usage(farm, group_by=["JOB_ID", "usageType"])
    names = {s.job_id: s.name for s in farm.model.jobs}
    assert all(names[j] == n for j, n in zip(df["jobId"], df["jobName"], strict=True))
    assert set(df["usageType"]) == {"COMPUTE", "LICENSE"}
    fleets = dnb.usage_frame(
        farm.farm_id,
        fleet_ids=[f["fleetId"] for f in farm.model.fleets],
        start=MARCH,
        end=APRIL,
        group_by="fleet",
        cache=False,
        progress=False,
        client=farm.client(),
    )
    assert fleets[schema.USAGE_COST].sum() == pytest.approx(df[schema.USAGE_COST].sum())


@pytest.mark.parametrize(
    ("option", "value", "named"),
    [
        ("group_by", ["user", "job", "queue"], "group_by"),
        ("group_by", "color", "group_by"),
        ("group_by", ["user", "USER_ID"], "group_by"),
        ("statistics", ["SUM", "MEDIAN"], "statistics"),
        ("statistics", [], "statistics"),
        ("period", "fortnightly", "period"),
        ("timezone", "Europe/Paris", "timezone"),
        ("start", "yesterday-ish", "start"),
        ("start", "2026-05-01", "start"),  # after the end
        ("queue_ids", [f"queue-{i:032x}" for i in range(11)], "queue_ids"),
        ("busy_timeout", -1, "busy_timeout"),
    ],
)
def test_bad_arguments_fail_before_any_call(
    farm: LocalFarm, option: str, value: Any, named: str
) -> None:
    farm.reset_calls()
    with pytest.raises(ValueError, match=f"`{named}`"):
        usage(farm, **{option: value})
    assert sum(farm.calls.values()) == 0


def test_queue_and_fleet_ids_together_are_refused(farm: LocalFarm) -> None:
    with pytest.raises(ValueError, match="`fleet_ids` must be None"):
        usage(farm, fleet_ids=[farm.model.fleets[0]["fleetId"]])


def test_an_empty_window_gives_an_empty_frame_with_the_columns(farm: LocalFarm) -> None:
    farm.reset_calls()
    same = usage(farm, start=MARCH, end=MARCH)
    assert len(same) == 0 and sum(farm.calls.values()) == 0
    check_schema(same)
    quiet = usage(farm, start="2025-01-01", end="2025-02-01", group_by="user", period="DAILY")
    assert len(quiet) == 0 and farm.calls["StartSessionsStatisticsAggregation"] == 1
    check_schema(quiet)


def test_a_role_without_the_statistics_permission_gets_one_sentence(farm: LocalFarm) -> None:
    farm.denied_operations.add("StartSessionsStatisticsAggregation")
    with pytest.raises(AccessDeniedError) as caught:
        usage(farm)
    message = str(caught.value)
    assert message.count(". ") == 0 and message.startswith("Access denied")
    assert "deadline:StartSessionsStatisticsAggregation" in message
    assert "deadline:GetSessionsStatisticsAggregation" in message and farm.farm_id in message
    assert caught.value.operation == "StartSessionsStatisticsAggregation"


@pytest.mark.parametrize("outcome", ["FAILED", "TIMEOUT"])
def test_an_aggregation_that_fails_or_times_out_says_so(farm: LocalFarm, outcome: str) -> None:
    farm.statistics.outcome = outcome
    with pytest.raises(ServiceError, match=f"ended {outcome}") as caught:
        usage(farm)
    assert caught.value.code == outcome and "shorter window" in str(caught.value)


def test_a_busy_farm_is_waited_for_then_the_wait_gives_up_saying_so(farm: LocalFarm) -> None:
    c: Any = farm.client()
    request: dict[str, Any] = {
        "farmId": farm.farm_id,
        "resourceIds": {"queueIds": list(queues(farm).values())},
        "startTime": dt.datetime(2026, 3, 1, tzinfo=UTC),
        "endTime": dt.datetime(2026, 4, 1, tzinfo=UTC),
        "groupBy": ["QUEUE_ID"],
        "statistics": ["SUM"],
    }
    # Someone else's aggregation, running 1 s: ours waits for it, then runs.
    farm.statistics.seconds = 1.0
    c.start_sessions_statistics_aggregation(**request)
    farm.statistics.seconds = 0.1
    farm.reset_calls()
    began = time.monotonic()
    df = usage(farm, busy_timeout=30)
    assert len(df) and time.monotonic() - began >= 0.8
    # waited with backoff (0.25, 0.5, 1 s...), not ten blind retries in a burst
    assert 2 <= farm.calls["StartSessionsStatisticsAggregation"] <= 5
    # Another one that runs a minute: the wait ends at busy_timeout with one sentence.
    farm.statistics.seconds = 60.0
    c.start_sessions_statistics_aggregation(**request)
    began = time.monotonic()
    with pytest.raises(ServiceError, match="busy with another usage aggregation") as caught:
        usage(farm, busy_timeout=0.6)
    assert 0.5 <= time.monotonic() - began < 3.0
    assert caught.value.code == "ThrottlingException" and "busy_timeout" in str(caught.value)


def test_an_ended_window_is_cached_and_one_that_reaches_now_is_not(
    farm: LocalFarm, tmp_path: Path
) -> None:
    cache = tmp_path / "cache.sqlite3"
    first = usage(farm, cache=cache, group_by="user")
    farm.reset_calls()
    again = usage(farm, cache=cache, group_by="user")
    pd.testing.assert_frame_equal(first, again)
    assert sum(farm.calls.values()) == 0
    usage(farm, cache=cache, group_by="user", refresh=True)
    assert farm.calls["StartSessionsStatisticsAggregation"] == 1
    farm.reset_calls()
    for _ in range(2):
        usage(farm, cache=cache, start="400d", end="now")
    assert farm.calls["StartSessionsStatisticsAggregation"] == 2
    with dnb.Cache(cache) as store:
        store.clear(farm_id=farm.farm_id)
    farm.reset_calls()
    usage(farm, cache=cache, group_by="user")
    assert farm.calls["StartSessionsStatisticsAggregation"] == 1


def test_job_cost_is_fetched_on_first_use_and_spread_over_steps_and_frames(
    farm: LocalFarm,
) -> None:
    spec = farm.job_by_name("render")
    farm.reset_calls()
    job = dnb.load_job(
        farm.farm_id, spec.queue_id, spec.job_id, client=farm.client(), cache=False, progress=False
    )
    assert job._cost is None and farm.calls["StartSessionsStatisticsAggregation"] == 0
    cost = job.cost
    check_schema(cost)
    assert (
        len(cost) == 1 and cost["jobId"][0] == spec.job_id and cost["queueId"][0] == spec.queue_id
    )
    by_job = usage(farm, group_by="JOB_ID", statistics="SUM")
    expected = by_job.loc[by_job["jobId"] == spec.job_id, schema.USAGE_COST].sum()
    assert cost[schema.USAGE_COST][0] == pytest.approx(expected)
    assert job.cost is cost and farm.calls["StartSessionsStatisticsAggregation"] == 2
    steps = dnb.cost_per_step(job)
    assert steps["share"].sum() == pytest.approx(1.0)
    assert steps["estCostUsd"].sum() == pytest.approx(expected)
    frames = dnb.cost_per_frame(job)
    assert len(frames) == 240 and frames["estCostUsd"].sum() == pytest.approx(expected)
    with pytest.raises(ValueError, match="`parameter`"):
        dnb.cost_per_frame(job, parameter="Shot")


def test_a_job_with_no_usage_costs_zero(farm: LocalFarm) -> None:
    spec = farm.job_by_name("failing")
    job = dnb.load_job(
        farm.farm_id, spec.queue_id, spec.job_id, client=farm.client(), cache=False, progress=False
    )
    job.job = {**job.job}
    job.job.pop("startedAt")  # as a job that never started
    assert job.cost["count"][0] == 0 and job.cost[schema.USAGE_COST][0] == 0.0


def test_parse_instant_reads_datetimes_text_and_durations() -> None:
    now = dt.datetime(2026, 4, 1, 12, tzinfo=UTC)
    assert parse_instant("12h", "start", now) == dt.datetime(2026, 4, 1, tzinfo=UTC)
    assert parse_instant("2w", "start", now) == now - dt.timedelta(days=14)
    assert parse_instant(dt.datetime(2026, 3, 1), "start") == dt.datetime(2026, 3, 1, tzinfo=UTC)
    assert parse_instant(dt.date(2026, 3, 1), "start") == dt.datetime(2026, 3, 1, tzinfo=UTC)
    assert parse_instant(pd.Timestamp("2026-03-01T02:00+02:00"), "end").hour == 0
    assert parse_instant("now", "end", now) == now
    with pytest.raises(ValueError, match="`start`"):
        parse_instant(3.5, "start")


def test_statistics_frame_reads_json_and_warns_about_what_it_drops() -> None:
    with pytest.warns(DataWarning, match="costInUsd.sum is not a number"):
        df = dnb.statistics_frame(
            [
                {
                    "userId": "u",
                    "count": 2,
                    "costInUsd": {"sum": "lots"},
                    "runtimeInSeconds": {"sum": 10},
                    "aggregationStartTime": 1772409600,
                    "aggregationEndTime": "2026-03-03T00:00:00Z",
                }
            ]
        )
    assert df["costInUsd.sum"].isna().all() and df["runtimeInSeconds.sum"][0] == 10.0
    assert df["startTime"][0] == pd.Timestamp("2026-03-02", tz="UTC")
    with pytest.raises(MalformedItemError, match="Item 0"):
        dnb.statistics_frame(["not a mapping"])  # type: ignore[list-item]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_schema(dnb.statistics_frame([]))


def test_plot_usage_stacks_each_period_by_group(farm: LocalFarm) -> None:
    df = usage(farm, group_by="user", period="DAILY")
    ax = dnb.plot_usage(df, hue="userId")
    assert {c.get_label() for c in ax.containers} == set(df["userId"].astype(str))
    drawn = sum(bar.get_height() for c in ax.containers for bar in c)
    assert drawn == pytest.approx(df[schema.USAGE_COST].sum())
    assert len(ax.get_xticks()) == df["startTime"].nunique()
    assert "Estimated cost by user" in ax.get_title()
    hours = dnb.plot_usage(df, y="runtime", ax=plt.figure().add_subplot())
    drawn = sum(bar.get_height() for c in hours.containers for bar in c)
    assert drawn == pytest.approx(df[schema.USAGE_RUNTIME].sum() / 3600)


def test_plot_usage_by_job_name_with_names_from_a_jobs_list(farm: LocalFarm) -> None:
    df = usage(farm, group_by="JOB_ID", period="DAILY")
    jobs = [{"jobId": s.job_id, "name": f"shot {i}"} for i, s in enumerate(farm.model.jobs)]
    ax = dnb.plot_usage(df.assign(jobName=None), hue="jobName", names=pd.DataFrame(jobs))
    assert {c.get_label() for c in ax.containers} == {
        j["name"] for j in jobs if j["jobId"] in set(df["jobId"])
    }
    with pytest.raises(ValueError, match="`hue`"):
        dnb.plot_usage(df, hue="userId")  # not grouped by user
    types = usage(farm, group_by="usageType")
    ax = dnb.plot_usage(types, hue="usageType")
    colors = {c.get_label(): c[0].get_facecolor() for c in ax.containers}
    assert plt.matplotlib.colors.to_hex(colors["LICENSE"]) == schema.USAGE_TYPE_COLORS["LICENSE"]


def test_plot_usage_of_no_usage_is_an_empty_labelled_axes() -> None:
    ax = dnb.plot_usage(dnb.statistics_frame([]))
    assert [t.get_text() for t in ax.texts] == ["No usage"] and not ax.containers


def test_cli_usage_prints_a_table_or_writes_a_file(farm: LocalFarm, tmp_path: Path) -> None:
    base = [
        "usage",
        "--farm-id",
        farm.farm_id,
        "--endpoint-url",
        farm.endpoint_url,
        "--queue-id",
        queues(farm)["Lighting"],
        "--since",
        MARCH,
        "--until",
        APRIL,
        "--no-cache",
        "--quiet",
    ]
    buffer = io.StringIO()
    assert (
        run_usage(
            build_parser().parse_args([*base, "--by", "user", "--period", "daily"]), out=buffer
        )
        == 0
    )
    lines = buffer.getvalue().splitlines()
    assert lines[0].split() == ["period", "userId", "count", "costUsd", "hours"]
    assert [line.split()[0] for line in lines[1:]] == ["2026-03-02", "2026-03-06"]
    out = tmp_path / "usage.csv"
    args = build_parser().parse_args([*base, "--by", "user,job", "--out", str(out)])
    assert run_usage(args, out=io.StringIO()) == 0
    written = pd.read_csv(out)
    assert {"userId", "jobId", "jobName", "costInUsd.sum"} <= set(written.columns)
    assert written["jobId"].notna().all() and written["userId"].notna().all()


def test_cli_usage_bad_by_is_exit_2(farm: LocalFarm, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(
            [
                "usage",
                "--farm-id",
                farm.farm_id,
                "--endpoint-url",
                farm.endpoint_url,
                "--queue-id",
                queues(farm)["FX"],
                "--by",
                "colour",
                "--no-cache",
                "--quiet",
            ]
        )
    assert caught.value.code == 2 and "`group_by`" in capsys.readouterr().err


def test_the_report_shows_the_cost_only_when_known_or_asked(
    farm: LocalFarm, tmp_path: Path
) -> None:
    spec = farm.job_by_name("simulation")
    job = dnb.load_job(
        farm.farm_id, spec.queue_id, spec.job_id, client=farm.client(), cache=False, progress=False
    )
    farm.reset_calls()
    page = dnb.write_report(job, tmp_path / "plain", charts=["status"], logs=False, metrics=False)
    assert "cost (estimate)" not in page.read_text() and sum(farm.calls.values()) == 0
    page = dnb.write_report(job, tmp_path / "asked", charts=["status"], logs=False, cost=True)
    text = page.read_text()
    usd = float(job.cost[schema.USAGE_COST][0])
    assert f"<b>${usd:,.2f}</b><span>cost (estimate)</span>" in text
    assert "Estimated cost by step" in text and "Simulate" in text and "Mesh" in text
    # already fetched: shown without asking
    assert (
        "cost (estimate)"
        in dnb.write_report(job, tmp_path / "known", logs=False, charts=[]).read_text()
    )
    other = dnb.load_job(
        farm.farm_id, spec.queue_id, spec.job_id, client=farm.client(), cache=False, progress=False
    )
    farm.denied_operations.add("StartSessionsStatisticsAggregation")
    text = dnb.write_report(
        other, tmp_path / "denied", logs=False, charts=[], cost=True
    ).read_text()
    assert "<b>n/a</b><span>cost (estimate)</span>" in text
    assert "The estimated cost could not be read: Access denied" in text
