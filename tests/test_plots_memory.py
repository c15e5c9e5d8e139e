"""Tests of plot_memory and the timeline's memory/CPU strips: what was drawn, not pixels.

The frames are the local farm's jobs (read with ``load_job`` over HTTP, or from the model as
``load_job`` gives them) with synthetic worker metrics from :mod:`tests.memory_data`: a peak that
climbs with the frame, the worker's total for the runs killed with exit code 137.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import matplotlib as mpl
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection

import deadline_nb as dnb
from deadline_nb import plots, schema
from deadline_nb.charts import CHARTS, ChartData, resources_sampled
from tests import memory_data as md
from tests import plot_data

if TYPE_CHECKING:
    from deadline_nb.localfarm import LocalFarm


def _untyped(plot: Callable[..., Axes]) -> Callable[..., Any]:
    # The tests read artists back (offsets, paths), which matplotlib's stubs type loosely.
    return plot


plot_memory = _untyped(plots.plot_memory)
plot_timeline = _untyped(plots.plot_timeline)
GIB = float(2**30)


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def gid(ax: Any, name: str) -> Any:
    return next(c for c in [*ax.collections, *ax.lines, *ax.texts] if c.get_gid() == name)


def has_gid(ax: Any, name: str) -> bool:
    return any(c.get_gid() == name for c in [*ax.collections, *ax.lines, *ax.texts])


def markers(ax: Any) -> pd.DataFrame:
    """Every marker drawn: x, y (GiB) and which collection holds it."""
    rows = [
        (float(x), float(y), c.get_gid())
        for c in ax.collections
        if c.get_gid() in ("attempts", "retries", "killed")
        for x, y in c.get_offsets()
    ]
    return pd.DataFrame(rows, columns=["x", "y", "gid"])


def sampled_runs(df: pd.DataFrame) -> pd.DataFrame:
    """The task runs plot_memory should draw: started, with samples and a peak."""
    runs = df[(df["actionType"] == "taskRun") & df["startedAt"].notna()]
    return runs[(runs["metricSamples"] > 0).fillna(False) & runs["memPeakBytes"].notna()]


def load(farm: LocalFarm, role: str) -> dnb.Job:
    spec = farm.job_by_name(role)
    return dnb.load_job(
        farm.farm_id,
        spec.queue_id,
        spec.job_id,
        client=farm.client(),
        cache=False,
        progress=False,
    )


# ---- plot_memory


@pytest.mark.parametrize("role", ["failing", "render"])
def test_memory_draws_one_marker_per_sampled_task_run_of_a_loaded_job(
    farm: LocalFarm, role: str
) -> None:
    df = md.resources(load(farm, role).actions)
    ax = plot_memory(df)
    drawn = markers(ax).sort_values(["x", "y"], ignore_index=True)
    runs = sampled_runs(df)
    expected = pd.DataFrame(
        {
            "x": runs["param.Frame"].astype(float).to_numpy(),
            "y": runs["memPeakBytes"].astype(float).to_numpy() / GIB,
        }
    ).sort_values(["x", "y"], ignore_index=True)
    assert len(drawn) == len(runs) > 0
    np.testing.assert_allclose(drawn[["x", "y"]].to_numpy(), expected.to_numpy())
    assert ax.get_ylabel() == "Peak memory (GiB)"
    assert ax.get_xlabel() == "Frame"


def test_memory_draws_each_workers_total_as_a_line() -> None:
    df = md.resources(plot_data.job_frame("failing"))
    ax = plot_memory(df)
    totals = sorted(line.get_ydata()[0] for line in ax.lines if line.get_gid() == "total")
    workers = sampled_runs(df)["workerId"].astype(str).unique()
    expected = sorted({md.worker_totals(df)[w] / GIB for w in workers})
    assert totals == expected == [32.0, 64.0]
    # the lines span the Axes and the y axis reaches above the highest one
    assert all(line.get_xdata()[0] == 0 for line in ax.lines if line.get_gid() == "total")
    assert ax.get_ylim()[1] > max(totals)


def test_memory_marks_137_kills_on_their_workers_total_line() -> None:
    df = md.resources(plot_data.job_frame("failing"))
    ax = plot_memory(df)
    killed = np.asarray(gid(ax, "killed").get_offsets())
    runs = sampled_runs(df)
    runs = runs[runs["processExitCode"] == md.KILLED]
    assert len(runs) == 2  # the failing job's frame 8 was killed twice
    expected = np.column_stack(
        [
            runs["param.Frame"].astype(float),
            [md.worker_totals(df)[str(w)] / GIB for w in runs["workerId"]],
        ]
    )
    np.testing.assert_allclose(killed[np.lexsort(killed.T[::-1])], expected)
    totals = {line.get_ydata()[0] for line in ax.lines if line.get_gid() == "total"}
    assert set(killed[:, 1]) <= totals  # on the line: the run used all its worker had
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "killed (137)" in labels
    assert "2 killed" in ax.get_title()


def test_memory_leaves_out_runs_too_short_to_sample_and_counts_them() -> None:
    df = md.resources(plot_data.job_frame("failing"), interval=300.0)
    ax = plot_memory(df)
    runs = df[(df["actionType"] == "taskRun") & df["startedAt"].notna()]
    short = int((runs["metricSamples"] == 0).sum())
    assert 0 < short < len(runs)
    assert gid(ax, "unsampled").get_text() == f"{short} runs too short to sample"
    drawn = markers(ax)
    assert len(drawn) == len(runs) - short
    assert (drawn["y"] > 0).all()  # never drawn as zero


def test_memory_colours_by_status_from_the_schema_and_marks_retries() -> None:
    df = md.resources(plot_data.job_frame("failing"))
    ax = plot_memory(df)
    failed = mpl.colors.to_rgba(schema.STATUS_COLORS["FAILED"])
    done = mpl.colors.to_rgba(schema.STATUS_COLORS["SUCCEEDED"])
    runs = sampled_runs(df)
    expected_failed = int(((runs["status"] == "FAILED") & (runs["processExitCode"] != 137)).sum())
    colours = [
        tuple(c)
        for col in ax.collections
        if col.get_gid() in ("attempts", "retries")
        for c in col.get_facecolors()
    ]
    assert colours.count(failed) == expected_failed > 0
    assert colours.count(done) == int((runs["status"] == "SUCCEEDED").sum())
    # retries: later attempts of a task, in start order
    ordered = runs.sort_values("startedAt")
    later = int(ordered.groupby("taskId", observed=True).cumcount().gt(0).sum())
    killed_later = int(
        (
            ordered.groupby("taskId", observed=True).cumcount().gt(0)
            & (ordered["processExitCode"] == 137)
        ).sum()
    )
    assert len(gid(ax, "retries").get_offsets()) == later - killed_later


def test_memory_hue_step_keeps_failures_rimmed_in_the_failed_colour() -> None:
    df = md.resources(plot_data.job_frame("failing"))
    ax = plot_memory(df, hue="step")
    assert ax.get_legend().get_title().get_text() == "Step"
    failed = mpl.colors.to_rgba(schema.STATUS_COLORS["FAILED"])
    attempts = gid(ax, "attempts")
    rims = [tuple(c) for c in attempts.get_edgecolors()]
    offsets = np.asarray(attempts.get_offsets())
    assert failed in rims
    # every rimmed marker is a failed run's
    runs = sampled_runs(df)
    failed_frames = set(runs.loc[runs["status"] == "FAILED", "param.Frame"].astype(float))
    assert {x for (x, _), rim in zip(offsets, rims, strict=True) if rim == failed} <= failed_frames


def test_memory_selects_one_step_by_name_or_id_and_names_a_wrong_one() -> None:
    df = md.resources(plot_data.job_frame("failing"))
    step_id = str(df.loc[df["stepName"] == "Crowd Sim", "stepId"].iloc[0])
    by_name = markers(plot_memory(df, step="Crowd Sim"))
    by_id = markers(plot_memory(df, step=step_id))
    assert len(by_name) == len(by_id) == len(sampled_runs(df))
    with pytest.raises(ValueError, match=r"`step` must name one of the frame's steps"):
        plot_memory(df, step="Lighting")


def test_memory_of_an_empty_frame_is_an_empty_labelled_axes() -> None:
    empty = md.resources(plot_data.job_frame("failing")).iloc[:0]
    ax = plot_memory(empty)
    assert gid(ax, "empty").get_text() == "No task runs"
    assert ax.get_ylabel() == "Peak memory (GiB)"
    # a plain empty actions frame too: nothing to say the columns are missing about
    assert has_gid(plot_memory(dnb.session_action_frame([])), "empty")


def test_memory_with_no_run_sampled_says_so_with_the_count() -> None:
    df = md.resources(plot_data.job_frame("failing"), interval=10_000.0)
    ax = plot_memory(df)
    runs = int(((df["actionType"] == "taskRun") & df["startedAt"].notna()).sum())
    assert gid(ax, "empty").get_text() == (
        f"No task run was sampled: {runs} runs too short to sample"
    )
    assert markers(ax).empty


def test_memory_names_what_a_plain_actions_frame_lacks() -> None:
    with pytest.raises(ValueError, match=r"no `metricSamples` column.*job\.resources"):
        plot_memory(plot_data.job_frame("failing"))
    df = md.resources(plot_data.job_frame("failing"))
    with pytest.raises(ValueError, match=r"`parameter` must be one of .*\['Frame'\]"):
        plot_memory(df, parameter="Shot")


def test_memory_draws_on_the_given_axes_and_passes_kwargs() -> None:
    df = md.resources(plot_data.job_frame("render"))
    _fig, (left, right) = plt.subplots(1, 2)
    assert plot_memory(df, ax=right, alpha=0.5) is right
    assert not left.collections and gid(right, "attempts").get_alpha() == 0.5


def test_memory_places_a_chunk_at_its_first_frame() -> None:
    df = md.resources(plot_data.job_frame("simulation"))
    chunks = sampled_runs(df)["param.Frame"]
    assert chunks.str.contains("-").all()  # the simulation job's frames are chunks
    firsts = sorted(float(str(c).split("-")[0]) for c in chunks)
    assert sorted(markers(plot_memory(df))["x"]) == firsts


# ---- the timeline's strips


def job_metrics(role: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    df = plot_data.job_frame(role)
    return df, md.metrics(df)


def strip(ax: Any, name: str) -> Any:
    return next(a for a in ax.get_figure().axes if a.get_gid() == name)


def test_timeline_without_metrics_draws_no_strip() -> None:
    df, _ = job_metrics("failing")
    ax = plot_timeline(df)
    assert ax.get_figure().axes == [ax]


def test_timeline_memory_strip_draws_one_line_per_worker_under_the_lanes() -> None:
    df, metrics = job_metrics("failing")
    ax = plot_timeline(df, metrics=metrics)
    memory = strip(ax, "memory")
    lines = gid(memory, "workers")
    assert isinstance(lines, LineCollection)
    workers = df.loc[df["startedAt"].notna(), "workerId"].nunique()
    assert len(lines.get_paths()) == workers == 8
    # the same time axis, under the lanes; the times are only labelled under the strip
    assert memory.get_shared_x_axes().joined(memory, ax)
    assert memory.get_position().y1 <= ax.get_position().y0
    assert memory.get_xlabel() == "Time (UTC)" and ax.get_xlabel() == ""
    assert memory.get_ylim() == (0.0, 100.0)


def test_timeline_strip_lines_are_the_workers_samples() -> None:
    df, metrics = job_metrics("failing")
    ax = plot_timeline(df, metrics=metrics)
    paths = [p.vertices for p in gid(strip(ax, "memory"), "workers").get_paths()]
    drawn = sorted((len(v), round(float(np.nanmax(v[:, 1])), 6)) for v in paths)
    per_worker = metrics.groupby("workerId", observed=True)["memUsedPercent"]
    sizes, highest = per_worker.size(), per_worker.max()
    expected = sorted((int(n), round(float(top), 6)) for n, top in zip(sizes, highest, strict=True))
    assert drawn == expected  # a few hundred samples each: drawn as they are
    # x in matplotlib dates of the samples' times
    first = metrics["timestamp"].min()
    assert min(float(np.nanmin(v[:, 0])) for v in paths) == pytest.approx(
        mdates.date2num(first.to_pydatetime())
    )


def test_timeline_strip_draws_the_workers_that_hit_the_ceiling_in_the_failed_colour() -> None:
    df, metrics = job_metrics("failing")
    ax = plot_timeline(df, metrics=metrics)
    memory = strip(ax, "memory")
    lines = gid(memory, "workers")
    colours = np.asarray(lines.get_colors())
    failed = np.array(mpl.colors.to_rgba(schema.STATUS_COLORS["FAILED"])[:3])
    high = [bool(np.allclose(c[:3], failed)) for c in colours]
    tops = [float(np.nanmax(p.vertices[:, 1])) for p in lines.get_paths()]
    assert high == [t >= 95.0 for t in tops]
    killed_workers = df.loc[df["processExitCode"] == 137, "workerId"].nunique()
    assert sum(high) == killed_workers == 1
    assert high[-1]  # drawn on top
    assert gid(memory, "note").get_text() == "8 workers; 1 reached 95%"


def test_timeline_memory_and_cpu_strips_in_the_order_asked() -> None:
    df, metrics = job_metrics("failing")
    ax = plot_timeline(df, metrics=metrics, strips=["cpu", "memory"])
    cpu, memory = strip(ax, "cpu"), strip(ax, "memory")
    assert ax.get_position().y0 >= cpu.get_position().y1 >= memory.get_position().y1
    assert cpu.get_xlabel() == "" and memory.get_xlabel() == "Time (UTC)"
    tops = sorted(float(np.nanmax(p.vertices[:, 1])) for p in gid(cpu, "workers").get_paths())
    assert tops == [90.0] * 8  # CPU busy during task runs


def test_timeline_strip_breaks_a_line_where_a_worker_logged_nothing() -> None:
    df, metrics = job_metrics("failing")
    worker = metrics["workerId"].iloc[0]
    mine = metrics.index[metrics["workerId"] == worker]
    # an hour-long hole in one worker's samples (its agent stopped), and one NOT_AVAILABLE value
    holed = metrics.drop(mine[10:20])
    holed.loc[mine[30], "memUsedPercent"] = pd.NA
    holed.loc[mine[30], ["memUsedBytes", "memTotalBytes"]] = pd.NA
    ax = plot_timeline(df, metrics=holed)
    paths = gid(strip(ax, "memory"), "workers").get_paths()
    broken = [p.vertices for p in paths if np.isnan(p.vertices[:, 1]).any()]
    assert len(paths) == 8 and len(broken) == 1
    assert int(np.isnan(broken[0][:, 1]).sum()) == 2


def test_timeline_strip_reads_memory_from_bytes_where_the_percentage_is_missing() -> None:
    df, metrics = job_metrics("failing")
    ax = plot_timeline(df, metrics=metrics.drop(columns=["memUsedPercent"]))
    tops = sorted(
        float(np.nanmax(p.vertices[:, 1])) for p in gid(strip(ax, "memory"), "workers").get_paths()
    )
    assert tops == pytest.approx(
        sorted(metrics.groupby("workerId", observed=True)["memUsedPercent"].max())
    )


def test_timeline_strip_keeps_each_peak_of_a_long_series_at_slide_resolution() -> None:
    df = plot_data.job_frame("render")
    start = df["startedAt"].min()
    span = (df["endedAt"].max() - start).total_seconds()
    workers = df["workerId"].dropna().astype(str).unique()
    many = md.many_metrics(len(workers), 10_000, start=start, interval=span / 10_000)
    names = dict(zip(many["workerId"].cat.categories, workers, strict=True))
    many["workerId"] = many["workerId"].cat.rename_categories(names)
    spike = many.index[many["workerId"] == workers[0]][5_000]
    many.loc[spike, "memUsedPercent"] = 100.0
    ax = plot_timeline(df, metrics=many)
    paths = gid(strip(ax, "memory"), "workers").get_paths()
    assert len(paths) == len(workers)
    # at most two samples per bin of the time axis, and the highest of each worker kept
    assert max(len(p.vertices) for p in paths) <= 2 * 1_501
    tops = sorted(float(np.nanmax(p.vertices[:, 1])) for p in paths)
    expected = sorted(many.groupby("workerId", observed=True)["memUsedPercent"].max().astype(float))
    assert tops == pytest.approx(expected) and max(tops) == 100.0


def test_timeline_strip_of_other_workers_says_so() -> None:
    df, metrics = job_metrics("failing")
    others = metrics.copy()
    others["workerId"] = others["workerId"].cat.rename_categories(lambda w: f"{w}-other")
    ax = plot_timeline(df, metrics=others)
    assert gid(strip(ax, "memory"), "empty").get_text() == "No samples of these workers"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"strips": "disk"}, r"`strips` must be one of \['memory', 'cpu'\]"),
        ({"strips": []}, r"`strips` must name strips among"),
    ],
)
def test_timeline_names_a_wrong_strip(kwargs: dict[str, Any], message: str) -> None:
    df, metrics = job_metrics("failing")
    with pytest.raises(ValueError, match=message):
        plot_timeline(df, metrics=metrics, **kwargs)


def test_timeline_names_a_metrics_frame_without_the_column_a_strip_reads() -> None:
    df, metrics = job_metrics("failing")
    with pytest.raises(ValueError, match=r"`metrics` has no `cpuPercent` column"):
        plot_timeline(df, metrics=metrics.drop(columns=["cpuPercent"]), strips="cpu")
    with pytest.raises(ValueError, match=r"`metrics` has no `timestamp` column"):
        plot_timeline(df, metrics=metrics.drop(columns=["timestamp"]))


def test_timeline_strip_on_an_axes_of_subplots_and_on_a_hand_placed_axes() -> None:
    df, metrics = job_metrics("failing")
    fig, (left, right) = plt.subplots(1, 2, layout="constrained")
    ax = plot_timeline(df, metrics=metrics, ax=left)
    assert ax is left and len(fig.axes) == 3
    assert strip(ax, "memory").get_position().x1 <= right.get_position().x0
    placed = plt.figure().add_axes((0.1, 0.4, 0.8, 0.5))
    ax = plot_timeline(df, metrics=metrics, ax=placed)
    assert [a.get_gid() for a in ax.child_axes] == ["memory"]


# ---- the chart registry


def test_memory_chart_applies_only_to_a_resources_frame_with_samples() -> None:
    df = plot_data.job_frame("failing")
    resources = md.resources(df)
    chart = CHARTS["memory"]
    assert not chart.applies(ChartData(df)) and not resources_sampled(df)
    assert chart.on_slide(ChartData(df)) is None
    assert not chart.applies(ChartData(md.resources(df, interval=10_000.0)))
    assert chart.applies(ChartData(resources))
    fig = chart.on_slide(ChartData(resources))
    assert fig is not None
    assert len(markers(fig.axes[0])) == len(sampled_runs(resources))
    # the other charts read the resources frame like any actions frame
    for name in ("timeline", "frame_times", "durations", "status"):
        assert CHARTS[name].on_slide(ChartData(resources)) is not None


def test_timeline_chart_draws_the_memory_strip_when_given_metrics() -> None:
    df, metrics = job_metrics("failing")
    fig = CHARTS["timeline"].on_screen(ChartData(df, metrics=metrics))
    assert fig is not None
    assert [a.get_gid() for a in fig.axes][1:] == ["memory"]
    plain = CHARTS["timeline"].on_screen(ChartData(df))
    assert plain is not None and len(plain.axes) == 1
