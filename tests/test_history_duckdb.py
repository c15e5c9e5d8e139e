"""dnb.history(DEST): DuckDB views and questions over a synced history dataset, and their plots.

The dataset is the local farm's history (``LocalFarm(history=WEEKS)``) synced through real boto3
over HTTP with :func:`deadline_nb.sync_history`; the expected answers are computed with pandas
from :func:`deadline_nb.read_history`, or from the farm's documented regression.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import deadline_nb as dnb
from deadline_nb import schema
from deadline_nb.errors import DeadlineNbError
from deadline_nb.history_db import History, MissingDependencyError
from deadline_nb.localfarm.history import (
    REGRESSION_FACTOR,
    REGRESSION_SHOW,
    REGRESSION_STEP,
    regression_start,
)

from .conftest import kept_farm

WEEKS = 6
SINCE = pd.Timestamp(regression_start(WEEKS), unit="s", tz="UTC")


@pytest.fixture(scope="module")
def dest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("history")
    with kept_farm(history=WEEKS) as farm:
        dnb.sync_history(path, farm.farm_id, client=farm.client(), cache=False, progress=False)
    return path


@pytest.fixture
def h(dest: Path) -> Iterator[History]:
    with dnb.history(dest) as opened:
        yield opened


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def _runs(dest: Path) -> pd.DataFrame:
    """Task runs that started, with their job's show and user: pandas from read_history."""
    actions = dnb.read_history(dest, "actions")
    jobs = dnb.read_history(dest, "jobs")
    jobs["show"] = [
        json.loads(p).get("Show", {}).get("string") if isinstance(p, str) else None
        for p in jobs["parameters"]
    ]
    runs = actions[(actions["actionType"] == "taskRun") & actions["startedAt"].notna()]
    return runs.astype({"jobId": str}).merge(
        jobs[["jobId", "show", "createdBy"]].astype({"jobId": str}), on="jobId"
    )


# ---- the views


def test_views_read_every_table_with_text_partitions(h: History, dest: Path) -> None:
    for table in ("jobs", "steps", "tasks", "sessions", "actions"):
        frame = dnb.read_history(dest, table)
        assert h.sql(f"select count(*) from {table}").fetchall() == [(len(frame),)], table
        types = {r[0]: r[1] for r in h.sql(f"describe {table}").fetchall()}
        # Partition values are text even where they look like something else (2026-02).
        assert types["month"] == "VARCHAR" and types["farmId"] == "VARCHAR"
        assert types["startedAt"] == "TIMESTAMP WITH TIME ZONE"
    shows = {r[0] for r in h.sql('select distinct "show" from jobs').fetchall()}
    assert {"aurora", "borealis", "cirrus"} <= shows
    # task_runs: the started taskRun actions, with seconds = their duration.
    runs = _runs(dest)
    mine = h.sql("select sessionActionId, seconds from task_runs").df()
    assert len(mine) == len(runs)
    expected = runs.set_index(runs["sessionActionId"].astype(str))["duration"].dt.total_seconds()
    got = mine.set_index("sessionActionId")["seconds"]
    pd.testing.assert_series_equal(
        got.sort_index(), expected.sort_index(), check_names=False, check_index_type=False
    )


def test_hidden_files_and_jobs_without_a_jobs_file_are_left_out(dest: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(dest, copy)
    jobs_file = next((copy / "jobs").rglob("*.parquet"))
    partitions = jobs_file.parent.relative_to(copy / "jobs")
    actions_file = copy / "actions" / partitions / jobs_file.name
    count = pq.read_metadata(actions_file).num_rows
    assert count > 0
    # A half-written temporary file (hidden) next to it: never read.
    (actions_file.parent / f".{actions_file.name}.1-x.tmp").write_bytes(b"not parquet")
    (actions_file.parent / ".hidden.parquet").write_bytes(b"not parquet")
    with dnb.history(copy) as h:
        before = h.sql("select count(*) from actions").fetchall()[0][0]
        jobs_file.unlink()  # as if a sync stopped before writing the jobs row
        h.refresh()
        after = h.sql("select count(*) from actions").fetchall()[0][0]
        assert before - after == count
        assert not h.sql(f"select * from jobs where jobId = '{jobs_file.stem}'").df().size


def test_an_older_file_lacking_a_column_gives_nulls(dest: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(dest, copy)
    old = next((copy / "actions").rglob("*.parquet"))
    table = pq.read_table(old)
    pq.write_table(table.drop_columns(["workerId", "progressMessage"]), old)
    with dnb.history(copy) as h:
        rows = h.sql(
            "select workerId, progressMessage from actions where jobId = ?", params=[old.stem]
        ).df()
        assert len(rows) == table.num_rows and rows["workerId"].isna().all()
        others = h.sql("select count(workerId) from actions where jobId <> ?", params=[old.stem])
        assert others.fetchall()[0][0] > 0
        assert not h.trend().empty


def test_empty_dataset_gives_empty_frames_with_the_columns(tmp_path: Path) -> None:
    with dnb.history(tmp_path) as h:
        trend = h.trend(by=["show", "stepName"])
        assert trend.empty
        assert list(trend.columns) == ["show", "stepName", *schema.TREND_COLUMNS]
        assert trend["week"].dtype == schema.TIME
        retries = h.retries(by="createdBy")
        assert retries.empty and list(retries.columns) == ["createdBy", *schema.RETRY_COLUMNS]
        cost = h.cost(rate=2.0)
        assert cost.empty and list(cost.columns) == ["createdBy", *schema.COST_COLUMNS]
        columns = {r[0] for r in h.sql("describe actions").fetchall()}
        assert set(schema.SESSION_ACTION_COLUMNS) <= columns
        with pytest.raises(LookupError, match="no job with the id or name 'job-x'"):
            h.compare_jobs("job-x", "job-y")


def test_bad_arguments_name_the_argument(h: History) -> None:
    with pytest.raises(ValueError, match="`by` must be among"):
        h.trend(by="shot")
    with pytest.raises(ValueError, match="`rate` must be a number"):
        h.cost(rate=-1)


def test_missing_duckdb_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "duckdb", None)  # import duckdb now raises ImportError
    with pytest.raises(MissingDependencyError, match=r"pip install 'deadline-nb\[history\]'"):
        dnb.history(tmp_path)
    assert issubclass(MissingDependencyError, DeadlineNbError)


# ---- the questions


def _after_over_before(trend: pd.DataFrame) -> float:
    """Median of the weekly medians after the regression's week over those before it.

    The week the regression starts in is left out: it holds runs of both sides.
    """
    week = SINCE.floor("D") - pd.Timedelta(days=SINCE.weekday())
    before = trend.loc[trend["week"] < week, "medianSeconds"]
    after = trend.loc[trend["week"] > week, "medianSeconds"]
    assert len(before) >= 2 and len(after) >= 1
    return statistics.median(after) / statistics.median(before)


def test_trend_shows_the_regression(h: History) -> None:
    trend = h.trend(by=["show", "stepName"])
    assert list(trend.columns) == ["show", "stepName", *schema.TREND_COLUMNS]
    for name, dtype in schema.TREND_COLUMNS.items():
        assert trend[name].dtype == dtype, name
    assert (trend["week"].dt.day_of_week == 0).all()  # ISO weeks start on Monday
    assert (trend["p90Seconds"] >= trend["medianSeconds"]).all()
    # One shot's versions render the same frames: its weekly medians compare.
    shot = "sq030_sh010_lighting_%"
    slowed = h.trend(show=REGRESSION_SHOW, step=REGRESSION_STEP, jobs=shot)
    assert _after_over_before(slowed) == pytest.approx(REGRESSION_FACTOR, rel=0.2)
    flat = h.trend(show=REGRESSION_SHOW, step="Denoise", jobs=shot)
    assert _after_over_before(flat) == pytest.approx(1.0, abs=0.2)
    other = h.trend(show="borealis", step=REGRESSION_STEP, jobs="sq050_sh010_lighting_%")
    assert _after_over_before(other) == pytest.approx(1.0, abs=0.2)
    # The filters are the grouping's rows.
    only = trend[(trend["show"] == REGRESSION_SHOW) & (trend["stepName"] == "Denoise")]
    mine = h.trend(show=REGRESSION_SHOW, step="Denoise")
    assert mine["runs"].tolist() == only["runs"].tolist()


def test_trend_agrees_with_pandas(h: History, dest: Path) -> None:
    runs = _runs(dest)
    ok = runs[(runs["status"] == "SUCCEEDED") & runs["endedAt"].notna()].copy()
    ok["seconds"] = ok["duration"].dt.total_seconds()
    start = ok["startedAt"].dt.tz_convert("UTC")
    ok["week"] = start.dt.floor("D") - pd.to_timedelta(start.dt.day_of_week, unit="D")
    expected = (
        ok.groupby(["week", "stepName"], observed=True)["seconds"]
        .agg(["count", "median", lambda s: s.quantile(0.9)])
        .reset_index()
        .astype({"stepName": str})
        .sort_values(["week", "stepName"])
    )
    trend = h.trend().sort_values(["week", "stepName"]).reset_index(drop=True)
    assert trend["runs"].tolist() == expected["count"].tolist()
    np.testing.assert_allclose(trend["medianSeconds"], expected["median"])
    np.testing.assert_allclose(trend["p90Seconds"], expected["<lambda_0>"])


@pytest.mark.parametrize("by", ["show", "createdBy", "queueId"])
def test_retries_agree_with_pandas(h: History, dest: Path, by: str) -> None:
    runs = _runs(dest)
    per_task = runs.groupby([by, "jobId", "taskId"], observed=True, dropna=False).agg(
        runs=("sessionActionId", "size"), failed=("status", lambda s: int((s == "FAILED").sum()))
    )
    expected = (
        per_task.reset_index()
        .groupby(by, dropna=False, observed=True)
        .agg(
            jobs=("jobId", "nunique"),
            tasks=("taskId", "size"),
            runs=("runs", "sum"),
            failedRuns=("failed", "sum"),
        )
    )
    expected["retries"] = expected["runs"] - expected["tasks"]
    got = h.retries(by=by)
    assert list(got.columns) == [by, *schema.RETRY_COLUMNS]
    # Jobs without a show are one group, null: the same key on both sides.
    got = got.set_index(got[by].astype(object).where(got[by].notna(), "(none)"))
    expected.index = expected.index.astype(object).where(expected.index.notna(), "(none)")
    for column in ("jobs", "tasks", "runs", "retries", "failedRuns"):
        assert got[column].to_dict() == expected[column].to_dict(), column
    assert (got["failedRuns"] > 0).any() and (got["retries"] > 0).any()
    np.testing.assert_allclose(got["failureRate"], got["failedRuns"] / got["runs"])


def test_cost_per_user_and_month(h: History, dest: Path) -> None:
    sessions = dnb.read_history(dest, "sessions")
    jobs = dnb.read_history(dest, "jobs")
    done = sessions[sessions["startedAt"].notna() & sessions["endedAt"].notna()].astype(
        {"jobId": str}
    )
    done = done.merge(jobs[["jobId", "createdBy"]].astype({"jobId": str}), on="jobId")
    done["month"] = done["startedAt"].dt.strftime("%Y-%m")
    done["hours"] = (done["endedAt"] - done["startedAt"]).dt.total_seconds() / 3600
    expected = done.groupby(["createdBy", "month"], observed=True)["hours"].sum()
    cost = h.cost(rate=0.5)
    assert cost["sessions"].sum() == len(done)
    got = cost.set_index(["createdBy", "month"])
    for key, hours in expected.items():
        assert got.loc[key, "workerHours"] == pytest.approx(hours)
        assert got.loc[key, "estimatedCost"] == pytest.approx(hours * 0.5)
    assert cost["month"].dtype == schema.STRING


def test_compare_two_versions_across_the_regression(h: History) -> None:
    versions = h.sql(
        "select name, createdAt from jobs where name like 'sq030_sh010_lighting_v%' "
        "and taskRunStatus = 'SUCCEEDED' order by createdAt"
    ).df()
    before = versions[versions["createdAt"] < SINCE]["name"].iloc[0]
    after = versions[versions["createdAt"] >= SINCE]["name"].iloc[-1]
    compare = h.compare_jobs(before, after, threshold=1.3)
    assert list(compare.columns) == ["stepName", "param.Frame", *list(schema.COMPARE_COLUMNS)[1:]]
    assert compare.attrs["nameA"] == before and compare.attrs["nameB"] == after
    render = compare[compare["stepName"] == REGRESSION_STEP]
    denoise = compare[compare["stepName"] == "Denoise"]
    assert len(render) == len(denoise) > 0
    assert render["ratio"].median() == pytest.approx(REGRESSION_FACTOR, rel=0.15)
    assert denoise["ratio"].median() == pytest.approx(1.0, abs=0.15)
    assert render["slower"].mean() > 0.7 and denoise["slower"].mean() < 0.3
    np.testing.assert_allclose(compare["ratio"], compare["secondsB"] / compare["secondsA"])
    # Frames in order within each step.
    frames = render["param.Frame"].astype(int).tolist()
    assert frames == sorted(frames)
    diff = h.parameter_diff(before, after).set_index("name")
    assert set(diff.index) == {"Version", "SceneFile"}
    assert int(diff.loc["Version", "valueB"]) > int(diff.loc["Version", "valueA"])


def test_jobs_are_found_by_id_or_name(h: History) -> None:
    with pytest.raises(LookupError, match="no job with the id or name 'nope'"):
        h.job("nope")
    name = h.sql("select name from jobs where name is not null limit 1").fetchall()[0][0]
    assert h.job(name)["name"] == name


# ---- the plots


def _trend_frame() -> pd.DataFrame:
    weeks = pd.date_range("2026-01-05", periods=6, freq="7D", tz="UTC")
    return pd.DataFrame(
        {
            "stepName": ["Render"] * 6 + ["Denoise"] * 6,
            "week": list(weeks) * 2,
            "runs": [10] * 12,
            "medianSeconds": [240.0] * 3 + [384.0] * 3 + [40.0] * 6,
            "p90Seconds": [300.0] * 3 + [480.0] * 3 + [50.0] * 6,
            "meanSeconds": [250.0] * 3 + [390.0] * 3 + [41.0] * 6,
        }
    )


def test_plot_trend_draws_a_line_per_step_and_marks_the_regression() -> None:
    trend = _trend_frame()
    mark = datetime(2026, 1, 26, tzinfo=timezone.utc)
    ax = dnb.plot_trend(trend, mark=mark)
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"Render", "Denoise", "marked"}
    # Minutes: the largest value is over 180 s.
    np.testing.assert_allclose(
        np.asarray(lines["Render"].get_ydata(), dtype=float), np.array([4, 4, 4, 6.4, 6.4, 6.4])
    )
    marked = [line for line in ax.get_lines() if line.get_gid() == "mark"]
    assert len(marked) == 1
    assert np.asarray(marked[0].get_xdata(), dtype=float)[0] == pytest.approx(
        mdates.date2num(mark.replace(tzinfo=None))
    )
    assert marked[0].get_color() == schema.STATUS_COLORS["FAILED"]
    assert len(ax.collections) == 2  # the p90 bands
    assert "min" in ax.get_ylabel()


def test_plot_trend_on_given_axes_and_empty() -> None:
    _fig, ax = plt.subplots()
    assert dnb.plot_trend(_trend_frame(), y="p90Seconds", band=False, ax=ax) is ax
    assert not ax.collections
    empty = dnb.plot_trend(_trend_frame().iloc[0:0])
    assert any(t.get_gid() == "empty" for t in empty.texts)
    with pytest.raises(ValueError, match="`y` must be one of"):
        dnb.plot_trend(_trend_frame(), y="runs")


def test_plot_compare_rings_the_slower_frames() -> None:
    compare = pd.DataFrame(
        {
            "stepName": pd.array(["Render"] * 3 + ["Denoise"] * 3, dtype=schema.STRING),
            "param.Frame": pd.array(["1001", "1002", "1003"] * 2, dtype=schema.STRING),
            "secondsA": [100.0, 100.0, 100.0, 50.0, 50.0, 50.0],
            "secondsB": [160.0, 150.0, 100.0, 50.0, 51.0, 49.0],
        }
    )
    compare["ratio"] = compare["secondsB"] / compare["secondsA"]
    compare["slower"] = (compare["ratio"] >= 1.2).astype("boolean")
    compare.attrs.update(nameA="v001", nameB="v009", threshold=1.2)
    ax = dnb.plot_compare(compare)
    points, rings = ax.collections
    np.testing.assert_allclose(
        np.asarray(points.get_offsets(), dtype=float)[:, 0], [1001, 1002, 1003] * 2
    )
    np.testing.assert_allclose(
        np.asarray(rings.get_offsets(), dtype=float), np.array([[1001, 1.6], [1002, 1.5]])
    )
    assert rings.get_gid() == "slower"
    assert [line.get_gid() for line in ax.get_lines()][-1] == "threshold"
    assert "v009 against v001" in ax.get_title()
    empty = dnb.plot_compare(compare.iloc[0:0])
    assert any(t.get_gid() == "empty" for t in empty.texts)
    with pytest.raises(ValueError, match="`parameter` must be one of"):
        dnb.plot_compare(compare, parameter="Shot")


def test_many_file_shapes_read_the_same_in_one_union(
    dest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with dnb.history(dest) as h:
        branches = h.sql("select sql from duckdb_views() where view_name = 'actions'")
        assert "UNION ALL" in branches.fetchall()[0][0]  # files of several shapes
        grouped = h.trend(by=["show", "stepName"])
        counts = h.sql("select count(*), count(workerId) from actions").fetchall()
    # Past the limit of branches: one union_by_name read, the same answers.
    monkeypatch.setattr("deadline_nb.history_db._MAX_GROUPS", 1)
    with dnb.history(dest) as h:
        assert (
            "union_by_name"
            in h.sql("select sql from duckdb_views() where view_name = 'actions'").fetchall()[0][0]
        )
        assert h.sql("select count(*), count(workerId) from actions").fetchall() == counts
        pd.testing.assert_frame_equal(h.trend(by=["show", "stepName"]), grouped)


def test_a_pyarrow_filesystem_reads_the_same(dest: Path, tmp_path: Path) -> None:
    import pyarrow.fs as pafs

    copy = tmp_path / "copy"
    shutil.copytree(dest, copy)
    # A job whose jobs file is missing, and a hidden file: left out here too.
    jobs_file = next((copy / "jobs").rglob("*.parquet"))
    jobs_file.unlink()
    (jobs_file.parent / ".hidden.parquet").write_bytes(b"not parquet")
    with dnb.history(copy) as local, dnb.history(copy, filesystem=pafs.LocalFileSystem()) as fs:
        assert fs.files("actions") == local.files("actions")
        assert not any(jobs_file.stem in p for p in fs.files("actions"))
        for table in ("jobs", "actions", "sessions"):
            query = f"select count(*) from {table}"
            assert fs.sql(query).fetchall() == local.sql(query).fetchall(), table
        pd.testing.assert_frame_equal(
            fs.trend(by=["show", "stepName"]), local.trend(by=["show", "stepName"])
        )
        pd.testing.assert_frame_equal(fs.retries(by="createdBy"), local.retries(by="createdBy"))
        types = {r[0]: r[1] for r in fs.sql("describe actions").fetchall()}
        assert types["month"] == "VARCHAR" and types["duration"] == "INTERVAL"


def test_an_s3_dataset_through_pyarrow(dest: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """S3 over HTTP on 127.0.0.1 (moto's server), read with pyarrow's S3 filesystem.

    The bucket is filled through pyarrow too: the library (and so the tests' boto3 clients)
    only ever read.
    """
    import pyarrow.fs as pafs
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        filesystem = pafs.S3FileSystem(
            access_key="test",
            secret_key="test",
            endpoint_override=f"{host}:{port}",
            scheme="http",
            region="us-east-1",
            allow_bucket_creation=True,
        )
        filesystem.create_dir("studio")  # the bucket
        pafs.copy_files(
            str(dest),
            "studio/history",
            source_filesystem=pafs.LocalFileSystem(),
            destination_filesystem=filesystem,
        )
        with (
            dnb.history("s3://studio/history", filesystem=filesystem) as remote,
            dnb.history(dest) as local,
        ):
            assert len(remote.files("actions")) == len(local.files("actions")) > 0
            query = "select count(*), count(distinct jobId) from actions"
            assert remote.sql(query).fetchall() == local.sql(query).fetchall()
            pd.testing.assert_frame_equal(remote.trend(), local.trend())
        # Without filesystem=: the S3 filesystem the sync writes with, from the boto3 chain
        # (fake credentials here) and the endpoint variable botocore reads.
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://{host}:{port}")
        with dnb.history("s3://studio/history") as chained, dnb.history(dest) as local:
            assert chained.sql(query).fetchall() == local.sql(query).fetchall()
            pd.testing.assert_frame_equal(chained.retries(), local.retries())
    finally:
        server.stop()
