"""metrics_frame and resource_frame: the agent's host-metrics lines, and the join to actions."""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest

import deadline_nb as dnb
from deadline_nb import schema
from deadline_nb.errors import DataWarning
from deadline_nb.frames.metrics import AGENT_FIGURES, parse_metrics_line

T0 = pd.Timestamp("2026-11-27 10:00", tz="UTC")
MS0 = int(T0.timestamp() * 1000)
GIB = 1024**3


def line(**figures: Any) -> str:
    """A structured host-metrics line, as the agent sends it to CloudWatch."""
    record = {"level": "INFO", "ti": "📊", "type": "Metrics", "subtype": "System"}
    record.update({k.replace("_", "-"): str(v) for k, v in figures.items()})
    return json.dumps(record, ensure_ascii=False)


def sample(
    seconds: float, cpu: float | str = 50.0, used: int = 8 * GIB, **more: Any
) -> dict[str, Any]:
    figures = {
        "cpu_usage_percent": cpu,
        "memory_total_bytes": 64 * GIB,
        "memory_used_bytes": used,
        "memory_used_percent": round(100 * used / (64 * GIB), 1),
        **more,
    }
    return {"timestamp": MS0 + int(seconds * 1000), "message": line(**figures)}


def test_every_agent_figure_has_a_column_of_the_schema() -> None:
    assert set(AGENT_FIGURES.values()) <= set(schema.METRIC_COLUMNS)
    assert list(schema.METRIC_COLUMNS)[:9] == [
        "farmId",
        "fleetId",
        "workerId",
        "timestamp",
        "cpuPercent",
        "memTotalBytes",
        "memUsedBytes",
        "memUsedPercent",
        "swapUsedBytes",
    ]


def test_structured_and_unstructured_lines_give_the_same_figures() -> None:
    text = (
        "[2026-11-27 10:00:00,000][INFO    ] 📊 Metrics.System 📊 cpu-usage-percent 12.5 "
        "memory-total-bytes 68719476736 disk-read-bytes-per-second NOT_SUPPORTED"
    )
    structured = line(
        cpu_usage_percent=12.5,
        memory_total_bytes=68719476736,
        disk_read_bytes_per_second="NOT_SUPPORTED",
    )
    assert parse_metrics_line(text) == parse_metrics_line(structured)
    assert parse_metrics_line("[2026-11-27 10:00:00,000] " + structured) == parse_metrics_line(
        structured
    )
    assert parse_metrics_line('{"level": "INFO", "msg": "Metrics are nice"}') is None
    assert parse_metrics_line("plain text") is None


def test_a_frame_has_the_schema_columns_and_dtypes_sorted_by_worker_then_time() -> None:
    events = {
        "worker-b": [sample(60), sample(0)],
        "worker-a": [sample(120, cpu=70.0)],
    }
    df = dnb.metrics_frame(events, farm_id="farm-1", fleet_id="fleet-1")
    assert list(df.columns) == list(schema.METRIC_COLUMNS)
    assert df.dtypes.astype(str).tolist() == [str(d) for d in schema.METRIC_COLUMNS.values()]
    assert df["workerId"].astype(str).tolist() == ["worker-a", "worker-b", "worker-b"]
    assert df["timestamp"].is_monotonic_increasing is False  # sorted per worker, not overall
    assert df["timestamp"].iloc[1] < df["timestamp"].iloc[2]
    assert df["cpuPercent"].iloc[0] == 70.0
    assert df["fleetId"].astype(str).unique().tolist() == ["fleet-1"]


def test_not_available_figures_are_missing_and_the_others_kept() -> None:
    events = {"worker-1": [sample(0, swap_used_bytes="NOT_AVAILABLE")]}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NOT_AVAILABLE is no problem: no warning
        df = dnb.metrics_frame(events)
    assert df["swapUsedBytes"].isna().all()
    assert df["memUsedBytes"].iloc[0] == 8 * GIB


def test_a_malformed_line_gives_one_warning_naming_it_and_the_rest_load() -> None:
    broken = '{"level": "INFO", "type": "Metrics", "subtype": "System", "cpu-usage-perc'
    events = {"worker-1": [sample(0), {"timestamp": MS0 + 60_000, "message": broken}, sample(120)]}
    with pytest.warns(DataWarning) as caught:
        df = dnb.metrics_frame(events)
    assert len(caught) == 1
    assert f"worker-1 at {MS0 + 60_000}" in str(caught[0].message)
    assert len(df) == 2


def test_a_figure_that_is_not_a_number_is_missing_with_a_warning() -> None:
    events = {"worker-1": [sample(0, cpu="lots")]}
    with pytest.warns(DataWarning, match="cpu-usage-percent is not a number"):
        df = dnb.metrics_frame(events)
    assert df["cpuPercent"].isna().all() and df["memUsedBytes"].notna().all()


def test_a_log_without_metrics_gives_an_empty_frame_with_the_columns() -> None:
    events = {"worker-1": [{"timestamp": MS0, "message": '{"level": "INFO", "msg": "hello"}'}]}
    df = dnb.metrics_frame(events)
    assert len(df) == 0 and list(df.columns) == list(schema.METRIC_COLUMNS)


def test_filter_log_events_name_their_worker() -> None:
    events = [dict(sample(0), logStreamName="worker-9")]
    assert dnb.metrics_frame(events)["workerId"].tolist() == ["worker-9"]
    with pytest.raises(ValueError, match="worker_id"):
        dnb.metrics_frame([sample(0)])


# ---- resource_frame


def actions_frame(rows: Sequence[tuple[str | None, float | None, float | None]]) -> pd.DataFrame:
    def at(s: float | None) -> Any:
        return pd.NaT if s is None else T0 + pd.Timedelta(seconds=s)

    return pd.DataFrame(
        {
            "sessionActionId": [f"sessionaction-{'a' * 32}-{i}" for i in range(len(rows))],
            "workerId": pd.Categorical([w for w, _, _ in rows]),
            "startedAt": pd.Series([at(s) for _, s, _ in rows], dtype=schema.TIME),
            "endedAt": pd.Series([at(e) for _, _, e in rows], dtype=schema.TIME),
        }
    )


def test_resources_are_the_samples_inside_each_window() -> None:
    metrics = dnb.metrics_frame(
        {
            "worker-1": [
                sample(0, cpu=10, used=4 * GIB),
                sample(60, cpu=90, used=30 * GIB),
                sample(120, cpu=80, used=20 * GIB),
            ],
            "worker-2": [sample(60, cpu=5, used=1 * GIB)],
        }
    )
    actions = actions_frame(
        [
            ("worker-1", 30, 130),  # samples at 60 and 120
            ("worker-1", 61, 119),  # between two samples: 0, all NA
            ("worker-2", 0, 60),  # the window's end holds its sample
            ("worker-1", None, None),  # never started: NA
            ("worker-3", 0, 100),  # a worker with no samples at all: NA
            (None, 0, 100),  # no worker: NA
        ]
    )
    out = dnb.resource_frame(actions, metrics)
    assert list(out.columns) == list(actions.columns) + list(schema.RESOURCE_COLUMNS)
    assert out["metricSamples"].tolist() == [2, 0, 1, pd.NA, pd.NA, pd.NA]
    assert out["memPeakBytes"].iloc[0] == 30 * GIB
    assert out["memTotalBytes"].iloc[0] == 64 * GIB
    assert out["cpuMeanPercent"].iloc[0] == 85.0 and out["cpuMaxPercent"].iloc[0] == 90.0
    assert out.loc[1, list(schema.RESOURCE_COLUMNS)[1:]].isna().all()
    assert out["memPeakBytes"].iloc[2] == 1 * GIB
    for column, dtype in schema.RESOURCE_COLUMNS.items():
        assert str(out[column].dtype) == str(dtype)
    pd.testing.assert_frame_equal(out[list(actions.columns)], actions)


def test_samples_out_of_order_are_sorted_and_joined_alike() -> None:
    ordered = [sample(0, used=2 * GIB), sample(60, used=9 * GIB), sample(120, used=3 * GIB)]
    shuffled = [ordered[2], ordered[0], ordered[1]]
    a = dnb.metrics_frame({"worker-1": ordered})
    b = dnb.metrics_frame({"worker-1": shuffled})
    pd.testing.assert_frame_equal(a, b)
    actions = actions_frame([("worker-1", 0, 120)])
    assert dnb.resource_frame(actions, b)["memPeakBytes"].iloc[0] == 9 * GIB


def test_no_metrics_leave_every_resource_missing() -> None:
    actions = actions_frame([("worker-1", 0, 100)])
    out = dnb.resource_frame(actions, schema.empty_frame(schema.METRIC_COLUMNS))
    assert out[list(schema.RESOURCE_COLUMNS)].isna().all().all()


def test_actions_without_workers_warn_and_stay_missing() -> None:
    actions = actions_frame([("worker-1", 0, 100)]).drop(columns=["workerId"])
    with pytest.warns(DataWarning, match="workerId"):
        out = dnb.resource_frame(actions, dnb.metrics_frame({"worker-1": [sample(10)]}))
    assert out["metricSamples"].isna().all()


def test_the_join_matches_a_per_action_filter_on_random_data() -> None:
    rng = np.random.default_rng(7)
    events: dict[str, list[dict[str, Any]]] = {}
    for w in range(5):
        events[f"worker-{w}"] = [
            sample(60 * k + w, cpu=float(rng.integers(0, 100)), used=int(rng.integers(1, 60)) * GIB)
            for k in range(200)
        ]
    metrics = dnb.metrics_frame(events)
    rows = []
    for _ in range(300):
        start = float(rng.uniform(0, 12000))
        rows.append((f"worker-{rng.integers(0, 5)}", start, start + float(rng.uniform(0, 400))))
    actions = actions_frame(rows)
    out = dnb.resource_frame(actions, metrics)
    for i, (worker, start, end) in enumerate(rows):
        assert start is not None and end is not None
        inside = metrics[
            (metrics["workerId"] == worker)
            & (metrics["timestamp"] >= T0 + pd.Timedelta(seconds=start))
            & (metrics["timestamp"] <= T0 + pd.Timedelta(seconds=end))
        ]
        assert out["metricSamples"].iloc[i] == len(inside)
        if len(inside):
            assert out["memPeakBytes"].iloc[i] == inside["memUsedBytes"].max()
            assert out["cpuMaxPercent"].iloc[i] == inside["cpuPercent"].max()
            assert out["cpuMeanPercent"].iloc[i] == pytest.approx(inside["cpuPercent"].mean())
        else:
            assert pd.isna(out["memPeakBytes"].iloc[i])


def test_summarize_gains_peak_memory_per_step_only_with_resource_columns() -> None:
    from deadline_nb.summary import RESOURCE_SUMMARY_COLUMNS, SUMMARY_COLUMNS

    actions = actions_frame([("worker-1", 0, 100), ("worker-1", 100, 300), ("worker-2", 0, 50)])
    actions["actionType"] = pd.Categorical(["taskRun"] * 3, categories=list(schema.ACTION_TYPES))
    actions["stepName"] = ["Render", "Render", "Comp"]
    actions["taskId"] = ["task-a", "task-b", "task-c"]
    actions["status"] = pd.Categorical(["SUCCEEDED"] * 3, dtype=schema.STATUS)
    plain = dnb.summarize(actions)
    assert list(plain.columns) == list(SUMMARY_COLUMNS)
    metrics = dnb.metrics_frame(
        {
            "worker-1": [sample(50, used=5 * GIB), sample(200, used=40 * GIB)],
            "worker-2": [],
        }
    )
    table = dnb.summarize(dnb.resource_frame(actions, metrics))
    assert list(table.columns) == [*SUMMARY_COLUMNS, *RESOURCE_SUMMARY_COLUMNS]
    assert table.loc["Render", "memPeakBytes"] == 40 * GIB
    assert table.loc["Render", "sampledTaskRuns"] == 2
    assert table["memPeakBytes"].isna()["Comp"] and table.loc["Comp", "sampledTaskRuns"] == 0
    assert table.loc["All steps", "memPeakBytes"] == 40 * GIB
    pd.testing.assert_frame_equal(table[list(SUMMARY_COLUMNS)], plain)
