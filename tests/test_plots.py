"""Tests of deadline_nb.plots: what was drawn (artists, colours, labels, limits), not pixels."""

from __future__ import annotations

import hashlib
import itertools
import re
import subprocess
import sys
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import matplotlib as mpl
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.text import Annotation
from PIL import Image

from deadline_nb import plots, schema
from deadline_nb.errors import DataWarning
from deadline_nb.plots import save_figure
from deadline_nb.summary import exit_code_name
from tests import helpers as h
from tests import plot_data


def _untyped(plot: Callable[..., Axes]) -> Callable[..., Any]:
    # The tests read artists back (paths, offsets, data), which matplotlib's stubs type as
    # "array-like or str"; typing every read would bury what each test checks.
    return plot


plot_timeline = _untyped(plots.plot_timeline)
plot_frame_times = _untyped(plots.plot_frame_times)
plot_durations = _untyped(plots.plot_durations)
plot_progress = _untyped(plots.plot_progress)
plot_concurrency = _untyped(plots.plot_concurrency)
plot_status = _untyped(plots.plot_status)
plot_exit_codes = _untyped(plots.plot_exit_codes)

ALL_PLOTS = [
    plot_timeline,
    plot_frame_times,
    plot_durations,
    plot_progress,
    plot_concurrency,
    plot_status,
    plot_exit_codes,
]


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


@pytest.fixture(autouse=True)
def _no_show(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a plot function called plt.show()")

    monkeypatch.setattr(plt, "show", refuse)


def gid(ax: Axes, name: str) -> Any:
    found = [c for c in ax.collections if c.get_gid() == name]
    assert len(found) == 1, f"expected one collection {name!r}, got {len(found)}"
    return found[0]


def has_gid(ax: Axes, name: str) -> bool:
    return any(c.get_gid() == name for c in ax.collections)


def rgba(color: str) -> tuple[float, float, float, float]:
    return mpl.colors.to_rgba(color)


def attempted(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["startedAt"].notna()]


def day_number(ts: pd.Timestamp) -> float:
    return float(mdates.date2num(ts.to_pydatetime()))


def drawn_labels(ax: Any, axis: str = "y") -> list[str]:
    ax.figure.canvas.draw()
    ticks = ax.get_yticklabels() if axis == "y" else ax.get_xticklabels()
    return [t.get_text() for t in ticks if t.get_text()]


def empty_frames() -> list[pd.DataFrame]:
    return [plot_data.frame([]), pd.DataFrame(), plot_data.job_frame("failing").iloc[:0]]


# ---------------------------------------------------------------------------------------------
# shared contract


@pytest.mark.parametrize("plot", ALL_PLOTS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("which", [0, 1, 2], ids=["schema", "no-columns", "job-columns"])
def test_every_plot_draws_an_empty_labelled_axes_for_an_empty_frame(plot: Any, which: int) -> None:
    df = empty_frames()[which]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)  # worker lanes on a frame with no workerId
        ax = plot(df)
    assert isinstance(ax, Axes)
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert [t for t in ax.texts if t.get_gid() == "empty"]
    assert not any(len(c.get_paths()) for c in ax.collections)


@pytest.mark.parametrize("plot", ALL_PLOTS, ids=lambda f: f.__name__)
def test_every_plot_draws_on_the_given_axes_and_leaves_rcparams_alone(plot: Any) -> None:
    before = dict(mpl.rcParams)
    fig, ax = plt.subplots()
    out = plot(plot_data.job_frame("failing"), ax=ax)
    assert out is ax
    assert len(plt.get_fignums()) == 1  # no figure of its own
    fig.canvas.draw()
    assert dict(mpl.rcParams) == before


@pytest.mark.parametrize("plot", ALL_PLOTS, ids=lambda f: f.__name__)
def test_every_plot_draws_an_all_never_attempted_frame_without_error(plot: Any) -> None:
    df = plot_data.frame([h.task_run(n, status="NEVER_ATTEMPTED") for n in range(3)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        ax = plot(df)
    ax.figure.canvas.draw()
    if plot in (plot_status,):
        # never-attempted task runs are still task runs: counted, in their own colour
        bars = [c for c in ax.containers if c.get_label() == "NEVER_ATTEMPTED"]
        assert [p.get_width() for p in bars[0]] == [3]
    else:
        assert [t for t in ax.texts if t.get_gid() == "empty"]


# ---------------------------------------------------------------------------------------------
# plot_timeline


def test_timeline_draws_one_rectangle_per_attempted_action_as_one_collection() -> None:
    df = plot_data.job_frame("failing")
    ax = plot_timeline(df)
    rects = gid(ax, "actions")
    assert (
        len(rects.get_paths())
        == len(attempted(df))
        == plot_data.truth("failing").count(attempted=True)
    )
    assert len(df) > len(attempted(df))  # the never-attempted ones are not drawn
    assert len(ax.patches) == 0  # a collection, not an artist per action


def test_timeline_colours_rectangles_by_status_from_the_schema() -> None:
    df = plot_data.job_frame("failing")
    rects = gid(plot_timeline(df), "actions")
    expected = np.array([rgba(schema.STATUS_COLORS[s]) for s in attempted(df)["status"]])
    np.testing.assert_allclose(rects.get_facecolors(), expected)
    truth = plot_data.truth("failing")
    assert (attempted(df)["status"] == "FAILED").sum() == truth.count(status="FAILED") > 0


def test_timeline_colours_by_action_type_and_by_step() -> None:
    df = plot_data.job_frame("simulation")
    by_type = gid(plot_timeline(df, hue="actionType"), "actions")
    expected = [rgba(schema.ACTION_TYPE_COLORS[t]) for t in attempted(df)["actionType"]]
    np.testing.assert_allclose(by_type.get_facecolors(), expected)
    by_step = gid(plot_timeline(df, hue="step"), "actions").get_facecolors()
    tab10 = mpl.colormaps["tab10"]
    # steps in order of first appearance: Simulate, then Mesh; env actions take their session's
    steps = attempted(df)["stepName"].astype(object)
    sessions = attempted(df)["sessionId"].astype(object)
    step_of_session = steps.groupby(sessions).agg(lambda s: s.dropna().iloc[0])
    names = sessions.map(step_of_session)
    colors = {"Simulate": tab10(0), "Mesh": tab10(1)}
    np.testing.assert_allclose(by_step, [colors[n] for n in names])


def test_timeline_makes_setup_actions_thinner_than_task_runs() -> None:
    df = plot_data.job_frame("render")
    rects = gid(plot_timeline(df), "actions")
    heights = np.array([np.ptp(p.vertices[:, 1]) for p in rects.get_paths()])
    types = attempted(df)["actionType"].astype(str).to_numpy()
    assert set(np.round(heights[types == "taskRun"], 6)) == {0.8}
    assert set(np.round(heights[types == "syncInputJobAttachments"], 6)) == {0.5}
    assert set(np.round(heights[np.isin(types, ["envEnter", "envExit"])], 6)) == {0.3}


def test_timeline_rectangles_span_start_to_end_in_their_worker_lane() -> None:
    df = plot_data.job_frame("failing")
    ax = plot_timeline(df)
    rects = gid(ax, "actions").get_paths()
    labels = drawn_labels(ax)
    done = attempted(df)
    for i in (0, 17, len(done) - 1):
        row = done.iloc[i]
        xs, ys = rects[i].vertices[:, 0], rects[i].vertices[:, 1]
        assert xs.min() == pytest.approx(day_number(row["startedAt"]), abs=1e-9)
        assert xs.max() == pytest.approx(day_number(row["endedAt"]), abs=1e-9)
        lane = round(float(ys.mean()))
        assert labels[lane] == f"worker-{str(row['workerId'])[7:15]}"
    assert len(labels) == done["workerId"].nunique()


def test_timeline_marks_failed_attempts() -> None:
    df = plot_data.job_frame("failing")
    failed = attempted(df)[attempted(df)["status"] == "FAILED"]
    marks = gid(plot_timeline(df, hue="actionType"), "failed")
    assert len(marks.get_offsets()) == len(failed)
    np.testing.assert_allclose(
        sorted(marks.get_offsets()[:, 0]), sorted(day_number(t) for t in failed["endedAt"])
    )


def test_timeline_draws_running_actions_to_their_last_update_with_an_open_end() -> None:
    df = plot_data.job_frame("running")
    running = attempted(df)[df["endedAt"].isna()]
    assert len(running) == plot_data.truth("running").count(running=True) > 0
    ax = plot_timeline(df)
    rects = gid(ax, "actions").get_paths()
    positions = np.flatnonzero(attempted(df)["endedAt"].isna().to_numpy())
    for i, (_, row) in zip(positions, running.iterrows(), strict=True):
        assert rects[i].vertices[:, 0].max() == pytest.approx(
            day_number(row["workerUpdatedAt"]), abs=1e-9
        )
    assert len(gid(ax, "open").get_offsets()) == len(running)


def test_timeline_shades_session_spans_so_idle_gaps_show() -> None:
    df = plot_data.job_frame("failing")
    bands = gid(plot_timeline(df), "sessions").get_paths()
    assert len(bands) == df["sessionId"].nunique()
    # between two sessions of one worker, neither band covers the gap
    spans = sorted((p.vertices[:, 0].min(), p.vertices[:, 0].max()) for p in bands)
    assert any(b[0] > a[1] for a, b in itertools.pairwise(spans))


def test_timeline_lanes_by_session_and_by_step() -> None:
    df = plot_data.job_frame("simulation")
    by_session = plot_timeline(df, lanes="session")
    assert len(drawn_labels(by_session)) == df["sessionId"].nunique()
    by_step = plot_timeline(df, lanes="step")
    assert drawn_labels(by_step) == list(plot_data.truth("simulation").steps)
    assert by_step.get_ylabel() == "Step"


def test_timeline_without_worker_ids_falls_back_to_sessions_with_one_warning() -> None:
    df = plot_data.frame(plot_data.actions("failing"))
    with pytest.warns(DataWarning, match="workerId") as record:
        ax = plot_timeline(df)
    assert len(record) == 1
    assert record[0].filename == __file__  # points at the caller's line
    assert ax.get_ylabel() == "Session"
    assert len(gid(ax, "actions").get_paths()) == plot_data.truth("failing").count(attempted=True)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"lanes": "x"},
            "The value for `lanes` must be one of ['worker', 'session', 'step'], "
            "but 'x' was passed.",
        ),
        (
            {"hue": "worker"},
            "The value for `hue` must be one of ['status', 'actionType', 'step'], "
            "but 'worker' was passed.",
        ),
        (
            {"color": "status"},
            "The value for `color` must be one matplotlib colour such as 'C0' or '#1f77b4' "
            "(`hue` colours by a column), but 'status' was passed.",
        ),
        (
            {"hue": "status", "palette": "no-such-map"},
            "The value for `palette` must be a colormap name, a list of colours, or a mapping "
            "of hue values to colours, but 'no-such-map' was passed.",
        ),
        ({"tz": "Mars/Olympus"}, "The value for `tz` must be 'UTC', 'local' or an IANA"),
    ],
)
def test_timeline_names_the_wrong_argument(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        plot_timeline(plot_data.job_frame("failing"), **kwargs)


def test_timeline_color_draws_every_rectangle_in_one_colour() -> None:
    df = plot_data.job_frame("failing")
    ax = plot_timeline(df, color="tab:purple")  # seaborn's color=: one colour, no hue
    faces = gid(ax, "actions").get_facecolors()
    np.testing.assert_allclose(faces, [rgba("tab:purple")] * len(attempted(df)))
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert not set(legend) & set(schema.STATUSES)  # no hue, so no status entries
    assert "failed attempt" in legend  # the marks keep their own meaning
    np.testing.assert_allclose(
        gid(ax, "failed").get_facecolors()[0], rgba(schema.STATUS_COLORS["FAILED"])
    )


def test_timeline_hue_with_color_draws_the_groups_in_shades_of_it() -> None:
    df = plot_data.job_frame("simulation")
    faces = gid(plot_timeline(df, hue="actionType", color="tab:blue"), "actions").get_facecolors()
    types = attempted(df)["actionType"].astype(str).to_numpy()
    shades = {tuple(np.round(faces[types == t][0], 6)) for t in set(types)}
    assert len(shades) == len(set(types))  # one shade per group
    for t in set(types):
        assert (np.ptp(faces[types == t], axis=0) == 0).all()  # the same within a group
    # the last group (in the legend's order) is the colour itself; the others are lighter
    assert any(np.allclose(f, rgba("tab:blue")) for f in faces)
    assert all(np.all(f[:3] >= np.array(rgba("tab:blue")[:3]) - 1e-9) for f in faces)


def test_timeline_palette_maps_hue_values_to_colours() -> None:
    df = plot_data.job_frame("failing")
    rects = gid(plot_timeline(df, palette={"FAILED": "black"}), "actions")
    status = attempted(df)["status"].astype(str).to_numpy()
    expected = [rgba("black" if s == "FAILED" else schema.STATUS_COLORS[s]) for s in status]
    np.testing.assert_allclose(rects.get_facecolors(), expected)
    listed = gid(plot_timeline(df, hue="actionType", palette=["red", "blue"]), "actions")
    assert {mpl.colors.to_hex(c) for c in listed.get_facecolors()} == {"#ff0000", "#0000ff"}


def test_timeline_of_one_action() -> None:
    df = plot_data.frame([h.task_run(2, seconds=90)], workerId=["worker-" + "9" * 32])
    ax = plot_timeline(df)
    (path,) = gid(ax, "actions").get_paths()
    left, right = ax.get_xlim()
    assert left < path.vertices[:, 0].min() < path.vertices[:, 0].max() < right
    assert drawn_labels(ax) == ["worker-99999999"]


def test_timeline_reads_times_in_any_zone_the_same() -> None:
    items = h.session_actions()
    workers = ["worker-" + "9" * 32] * len(items)
    utc = plot_data.frame(items, workerId=workers)
    mixed = utc.copy()
    mixed["startedAt"] = mixed["startedAt"].dt.tz_convert("Asia/Tokyo")
    mixed["endedAt"] = mixed["endedAt"].dt.tz_convert("America/New_York")
    # an object column mixing zones, as after a hand-made edit, and a naive one (read as UTC)
    mixed["workerUpdatedAt"] = [
        t.tz_convert("Europe/Paris") if i % 2 else t for i, t in enumerate(utc["workerUpdatedAt"])
    ]
    naive = utc.copy()
    naive["startedAt"] = naive["startedAt"].dt.tz_localize(None)
    expected = [p.vertices for p in gid(plot_timeline(utc), "actions").get_paths()]
    for frame in (mixed, naive):
        got = [p.vertices for p in gid(plot_timeline(frame), "actions").get_paths()]
        np.testing.assert_allclose(np.array(got), np.array(expected))


def test_timeline_time_axis_follows_tz() -> None:
    # task runs from 22:03 UTC: 07:03 the next day in Tokyo
    items = [h.task_run(n) for n in range(2, 6)]
    df = plot_data.frame(items, workerId=["worker-" + "9" * 32] * 4)
    utc = drawn_labels(plot_timeline(df), "x")
    tokyo_ax = plot_timeline(df, tz="Asia/Tokyo")
    tokyo = drawn_labels(tokyo_ax, "x")
    assert any(label.startswith("22:") for label in utc)
    assert any(label.startswith("07:") for label in tokyo)
    assert not any(label.startswith("22:") for label in tokyo)
    assert tokyo_ax.get_xlabel() == "Time (Asia/Tokyo)"
    assert "local" in plot_timeline(df, tz="local").get_xlabel()


def _many_workers(count: int) -> pd.DataFrame:
    items, workers = [], []
    for w in range(count):
        session = f"{w + 1:032x}"
        for n in range(3):
            items.append(h.task_run(n + w % 7, session_hex=session))
            workers.append(f"worker-{hashlib.md5(str(w).encode()).hexdigest()}")
    return plot_data.frame(items, workerId=workers)


def _overlaps(ax: Any) -> list[tuple[str, str]]:
    ax.figure.canvas.draw()
    labels = [t for t in ax.get_yticklabels() if t.get_text()]
    boxes = sorted(
        (t.get_window_extent() for t in labels),
        key=lambda b: b.y0,
    )
    return [(str(a), str(b)) for a, b in itertools.pairwise(boxes) if b.y0 < a.y1]


def test_timeline_labels_every_one_of_200_lanes_without_overlap() -> None:
    ax = plot_timeline(_many_workers(200))
    labels = drawn_labels(ax)
    assert len(labels) == len(set(labels)) == 200
    assert all(len(label) == len("worker-") + 8 for label in labels)
    assert _overlaps(ax) == []
    assert min(t.get_fontsize() for t in ax.get_yticklabels()) >= 6


def test_timeline_lane_labels_keep_as_many_digits_as_tell_workers_apart() -> None:
    items = [h.task_run(2, session_hex="1" * 32), h.task_run(3, session_hex="2" * 32)]
    workers = ["worker-" + "ab" * 4 + "0" * 24, "worker-" + "ab" * 4 + "1" * 24]
    ax = plot_timeline(plot_data.frame(items, workerId=workers))
    assert drawn_labels(ax) == ["worker-abababab0000", "worker-abababab1111"]


def test_timeline_thins_lane_labels_on_a_small_axes_rather_than_overlap_them() -> None:
    _, ax = plt.subplots(figsize=(6, 4))
    plot_timeline(_many_workers(200), ax=ax)
    labels = drawn_labels(ax)
    assert 5 < len(labels) < 200
    assert _overlaps(ax) == []


def test_timeline_passes_kwargs_to_the_collection() -> None:
    rects = gid(plot_timeline(plot_data.job_frame("failing"), alpha=0.5), "actions")
    assert rects.get_alpha() == 0.5


# ---------------------------------------------------------------------------------------------
# plot_frame_times


def _points(ax: Any) -> tuple[np.ndarray, np.ndarray]:
    """Offsets and face colours of every attempt point (first attempts and retries)."""
    offsets = [c.get_offsets() for c in ax.collections if c.get_gid() in ("attempts", "retries")]
    colors = [c.get_facecolors() for c in ax.collections if c.get_gid() in ("attempts", "retries")]
    return np.concatenate(offsets), np.concatenate(colors)


def test_frame_times_shows_every_attempt_with_retries_apart() -> None:
    df = plot_data.job_frame("failing")
    runs = df[(df["actionType"] == "taskRun") & df["endedAt"].notna()]
    ax = plot_frame_times(df)
    offsets, colors = _points(ax)
    truth = plot_data.truth("failing")
    assert len(offsets) == len(runs) == truth.count(kind="taskRun", finished=True)
    retries = runs.groupby("taskId").size().sub(1).sum()
    expected = sum(n - 1 for n in truth.attempts_per_task(finished=True).values())
    assert len(gid(ax, "retries").get_offsets()) == retries == expected > 0
    failed = rgba(schema.STATUS_COLORS["FAILED"])
    assert sum(np.allclose(c, failed) for c in colors) == (runs["status"] == "FAILED").sum()
    assert ax.get_xlabel() == "Frame"
    assert ax.get_ylabel() == "Time per frame (min)"


def test_frame_times_annotates_the_slowest_and_fastest_successful_frames() -> None:
    df = plot_data.job_frame("render")
    runs = df[df["actionType"] == "taskRun"]
    slowest = runs.loc[runs["duration"].idxmax(), "param.Frame"]
    fastest = runs.loc[runs["duration"].idxmin(), "param.Frame"]
    notes = {
        a.get_text().split(":")[0]: a
        for a in plot_frame_times(df).texts
        if isinstance(a, Annotation)
    }
    assert set(notes) == {"slowest", "fastest"}
    assert f"Frame {slowest} " in notes["slowest"].get_text()
    assert f"Frame {fastest} " in notes["fastest"].get_text()
    assert notes["slowest"].xy[0] == slowest


def test_frame_times_shares_a_chunk_among_its_frames() -> None:
    df = plot_data.job_frame("simulation")
    first = df[(df["param.Frame"] == "1-10") & (df["stepName"] == "Simulate")].iloc[0]
    ax = plot_frame_times(df)
    (line,) = [ln for ln in ax.lines if ln.get_label() == "Simulate"]
    x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
    share = first["duration"].total_seconds() / 10 / 60  # minutes per frame
    np.testing.assert_allclose(y[(x >= 1) & (x <= 10)], [share] * 10)
    assert list(x[:12]) == list(range(1, 13))
    assert "chunks shared" in ax.get_title()


def test_frame_times_reads_stepped_ranges_with_openjd() -> None:
    items = [
        h.task_run(2, parameters={"Frame": {"chunkInt": "1-9:2"}}, seconds=50.0),
        h.task_run(3, parameters={"Frame": {"chunkInt": "20"}}, seconds=10.0),
    ]
    ax = plot_frame_times(plot_data.frame(items))
    offsets, _ = _points(ax)
    assert sorted(offsets[:, 0]) == [1, 3, 5, 7, 9, 20]
    np.testing.assert_allclose(sorted(offsets[:, 1]), [10.0] * 6)
    assert ax.get_ylabel() == "Time per frame (s)"


def test_frame_times_places_text_parameters_in_order() -> None:
    items = [
        h.task_run(n, parameters={"Shot": {"string": name}}, seconds=60.0 * (n + 1))
        for n, name in enumerate(["sh030", "sh010", "sh020"])
    ]
    ax = plot_frame_times(plot_data.frame(items), parameter="Shot")
    assert drawn_labels(ax, "x") == ["sh030", "sh010", "sh020"]


def test_frame_times_names_a_missing_parameter() -> None:
    with pytest.raises(ValueError, match=r"`parameter` must be one of .*\['Frame'\].*'Shot'"):
        plot_frame_times(plot_data.job_frame("render"), parameter="Shot")


# ---------------------------------------------------------------------------------------------
# plot_durations


def test_durations_by_step_gives_medians_and_p95() -> None:
    df = plot_data.job_frame("simulation")
    ax = plot_durations(df)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    steps = list(plot_data.truth("simulation").steps)
    assert [label.split(" (")[0] for label in labels] == steps
    runs = df[df["actionType"] == "taskRun"]
    for label, name in zip(labels, steps, strict=True):
        seconds = runs[runs["stepName"] == name]["duration"].dt.total_seconds()
        assert f"n={len(seconds)}" in label
        assert "median " in label and "p95 " in label
    minutes = runs.groupby("stepName", observed=True, sort=False)["duration"].quantile(0.95)
    p95 = gid(ax, "p95").get_offsets()[:, 0]
    np.testing.assert_allclose(p95, [minutes[n].total_seconds() / 60 for n in steps])
    medians = [ln.get_xdata()[0] for ln in ax.lines if ln.get_gid() == "median"]
    np.testing.assert_allclose(
        medians,
        [runs[runs["stepName"] == n]["duration"].median().total_seconds() / 60 for n in steps],
    )


def test_durations_by_action_type_uses_a_log_axis_for_seconds_next_to_minutes() -> None:
    df = plot_data.job_frame("render")
    ax = plot_durations(df, hue="actionType")
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "Duration (s)"
    boxes = [p for p in ax.patches if p.get_facecolor()[3] > 0]
    kinds = plot_data.truth("render").kinds(finished=True)
    faces = [mpl.colors.to_hex(p.get_facecolor()[:3]) for p in boxes]
    assert faces == [schema.ACTION_TYPE_COLORS[t] for t in schema.ACTION_TYPES if t in kinds]
    assert len(boxes) == len(kinds) > 1


def test_durations_names_a_wrong_hue_color_or_palette() -> None:
    df = plot_data.job_frame("render")
    with pytest.raises(ValueError, match=r"`hue` must be one of \['step', 'actionType'\], but 'x'"):
        plot_durations(df, hue="x")
    with pytest.raises(ValueError, match=r"`color` must be one matplotlib colour .* 'step' was"):
        plot_durations(df, color="step")
    with pytest.raises(ValueError, match=r"`palette` must be .*, but 3 was passed"):
        plot_durations(df, palette=3)


def test_durations_color_draws_every_box_in_it() -> None:
    df = plot_data.job_frame("simulation")
    boxes = [p for p in plot_durations(df, color="tab:olive").patches if p.get_facecolor()[3] > 0]
    assert len(boxes) == len(plot_data.truth("simulation").steps) == 2  # still one box per step
    assert {mpl.colors.to_hex(p.get_facecolor()[:3]) for p in boxes} == {
        mpl.colors.to_hex("tab:olive")
    }


# ---------------------------------------------------------------------------------------------
# plot_progress


def test_progress_of_running_actions_shows_percent_and_an_eta() -> None:
    df = plot_data.job_frame("running")
    running = df[df["startedAt"].notna() & df["endedAt"].isna()]
    ax = plot_progress(df)  # auto: there are running actions
    bars = [
        p
        for p in ax.patches
        if mpl.colors.to_hex(p.get_facecolor()) == schema.STATUS_COLORS["RUNNING"]
    ]
    np.testing.assert_allclose(
        [b.get_width() for b in bars], running["progressPercent"].to_numpy(float)
    )
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == len(running) == plot_data.truth("running").count(running=True)
    row = running.iloc[0]
    elapsed = row["workerUpdatedAt"] - row["startedAt"]
    eta = row["workerUpdatedAt"] + elapsed * (100 - row["progressPercent"]) / row["progressPercent"]
    assert f"ETA {eta:%H:%M:%S}" in texts[0]
    assert ax.get_xlim() == (0.0, 100.0)
    tokyo = plot_progress(df, tz="Asia/Tokyo").texts[0].get_text()
    assert f"ETA {eta.tz_convert('Asia/Tokyo'):%H:%M:%S}" in tokyo


def test_progress_completed_counts_tasks_and_projects_an_eta_while_running() -> None:
    df = plot_data.job_frame("running")
    ax = plot_progress(df, kind="completed")
    (done,) = [ln for ln in ax.lines if ln.get_gid() == "completed"]
    succeeded = ((df["actionType"] == "taskRun") & (df["status"] == "SUCCEEDED")).sum()
    assert max(done.get_ydata()) == succeeded
    tasks = df.loc[df["actionType"] == "taskRun", "taskId"].nunique()
    assert f"{succeeded:,} of {tasks:,}" in ax.get_title()
    (projection,) = [ln for ln in ax.lines if ln.get_gid() == "projection"]
    assert list(projection.get_ydata()) == [succeeded, tasks]
    assert projection.get_label().startswith("ETA ")


def test_progress_completed_counts_against_the_jobs_tasks_when_given() -> None:
    df = plot_data.job_frame("running")
    total = plot_data.truth("running").tasks
    taken = df.loc[df["actionType"] == "taskRun", "taskId"].nunique()
    assert taken < total  # a running job's frame has only the tasks a worker has taken
    ax = plot_progress(df, kind="completed", tasks=total)
    assert f" of {total:,} " in ax.get_title()
    (projection,) = [ln for ln in ax.lines if ln.get_gid() == "projection"]
    assert projection.get_ydata()[-1] == total
    limit = [ln for ln in ax.lines if str(ln.get_label()) == f"{total:,} tasks"]
    assert len(limit) == 1


def test_progress_of_a_finished_job_has_no_projection() -> None:
    ax = plot_progress(plot_data.job_frame("failing"))  # auto: nothing running
    assert [ln.get_gid() for ln in ax.lines if ln.get_gid()] == ["completed", "failed"]
    (failed,) = [ln for ln in ax.lines if ln.get_gid() == "failed"]
    truth = plot_data.truth("failing")
    assert max(failed.get_ydata()) == truth.count(kind="taskRun", status="FAILED", finished=True)


def _snapshots(df: pd.DataFrame) -> pd.DataFrame:
    """Three cache snapshots of each running action, on the worker's 15 s heartbeat."""
    running = df[df["startedAt"].notna() & df["endedAt"].isna()]
    rows = []
    for _, r in running.iterrows():
        for k, share in enumerate((0.25, 0.5, 1.0)):
            at = r["startedAt"] + (r["workerUpdatedAt"] - r["startedAt"]) * share
            rows.append(
                {
                    "sessionActionId": r["sessionActionId"],
                    "observedAt": at + timedelta(seconds=3),
                    "status": "RUNNING",
                    "progressPercent": r["progressPercent"] * share,
                    "progressMessage": f"step {k}",
                    "workerUpdatedAt": at,
                }
            )
    out = pd.DataFrame(rows)
    return out.astype(dict(schema.SNAPSHOT_COLUMNS))


def test_progress_with_snapshots_draws_each_action_over_time() -> None:
    df = plot_data.job_frame("running")
    snaps = _snapshots(df)
    ax = plot_progress(df, snapshots=snaps)
    lines = gid(ax, "snapshots")
    assert isinstance(lines, LineCollection)
    segments = lines.get_segments()
    running_count = plot_data.truth("running").count(running=True)
    assert len(segments) == running_count
    # each line starts at 0% when the action started, and ends at its last snapshot
    first = df[df["sessionActionId"] == sorted(snaps["sessionActionId"])[0]].iloc[0]
    seg = segments[0]
    assert seg[0, 1] == 0 and seg[0, 0] == pytest.approx(day_number(first["startedAt"]), abs=1e-9)
    assert seg[-1, 1] == pytest.approx(first["progressPercent"])
    running = np.array([rgba(schema.STATUS_COLORS["RUNNING"])] * running_count)
    np.testing.assert_allclose(np.asarray(lines.get_colors()), running)


def test_progress_names_a_wrong_kind_and_handles_no_running_actions() -> None:
    with pytest.raises(ValueError, match=r"`kind` must be one of \['auto', 'running'"):
        plot_progress(plot_data.job_frame("running"), kind="eta")
    ax = plot_progress(plot_data.job_frame("failing"), kind="running")
    assert [t.get_text() for t in ax.texts] == ["No running actions"]
    ax = plot_progress(plot_data.job_frame("failing"), kind="snapshots")
    assert [t.get_text() for t in ax.texts] == ["No progress snapshots"]


# ---------------------------------------------------------------------------------------------
# plot_concurrency


def _overlapping() -> pd.DataFrame:
    """Two sessions on two workers: runs at [0, 60], [100, 200] (session 1) and [30, 130]."""
    a, b = "a" * 32, "b" * 32
    items = [
        h.task_run(0, seconds=60, session_hex=a),
        h.task_run(1, seconds=100, session_hex=a),  # starts at 100 s
        {**h.task_run(0, seconds=100, session_hex=b), "startedAt": h.T0 + timedelta(seconds=30)},
    ]
    items[2]["endedAt"] = items[2]["startedAt"] + timedelta(seconds=100)
    return plot_data.frame(items, workerId=["worker-" + "1" * 32] * 2 + ["worker-" + "2" * 32])


def test_concurrency_counts_actions_running_at_once_and_utilisation() -> None:
    ax = plot_concurrency(_overlapping())
    # busy 60 + 100 + 100 = 260 s; sessions 200 s + 100 s = 300 s
    assert "(peak 2)" in ax.get_title()
    assert "utilisation 86.7%" in ax.get_title()
    (area,) = ax.collections
    top = area.get_paths()[0].vertices[:, 1].max()
    assert top == 2


def test_concurrency_stacks_one_area_per_group_in_schema_colours() -> None:
    df = plot_data.job_frame("render")
    ax = plot_concurrency(df, hue="actionType")
    kinds = plot_data.truth("render").kinds(attempted=True)
    in_order = [t for t in schema.ACTION_TYPES if t in kinds]
    faces = [mpl.colors.to_hex(c.get_facecolor()[0][:3]) for c in ax.collections]
    assert faces == [schema.ACTION_TYPE_COLORS[t] for t in in_order]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == in_order
    by_status = plot_concurrency(plot_data.job_frame("failing"), hue="status")
    statuses = plot_data.truth("failing").statuses(attempted=True)
    assert [t.get_text() for t in by_status.get_legend().get_texts()] == [
        s for s in schema.STATUSES if s in statuses
    ]


def test_concurrency_color_draws_one_area_of_all_actions() -> None:
    df = plot_data.job_frame("render")
    stacked = plot_concurrency(df)
    ax = plot_concurrency(df, color="0.3")
    (area,) = ax.collections
    np.testing.assert_allclose(area.get_facecolor()[0], rgba("0.3"))
    assert ax.get_title() == stacked.get_title()  # the same counts, in one colour
    shaded = plot_concurrency(df, hue="status", color="C1")
    assert len(shaded.collections) == 1  # the render's actions all succeeded: one shade
    np.testing.assert_allclose(shaded.collections[0].get_facecolor()[0], rgba("C1"))


def test_concurrency_names_a_wrong_hue() -> None:
    with pytest.raises(
        ValueError, match=r"`hue` must be one of \['actionType', 'status', 'step'\]"
    ):
        plot_concurrency(plot_data.job_frame("render"), hue="worker")


def test_concurrency_peak_matches_the_worker_count_of_a_busy_job() -> None:
    df = plot_data.job_frame("render")
    ax = plot_concurrency(df)
    assert f"(peak {plot_data.truth('render').workers})" in ax.get_title()


# ---------------------------------------------------------------------------------------------
# plot_status and plot_exit_codes


def test_status_counts_task_runs_per_step_by_status() -> None:
    df = plot_data.job_frame("failing")
    ax = plot_status(df)
    runs = df[df["actionType"] == "taskRun"]
    counts = runs["status"].value_counts()
    for container in ax.containers:
        status = container.get_label()
        (bar,) = container
        assert bar.get_width() == counts[status]
        assert mpl.colors.to_hex(bar.get_facecolor()) == schema.STATUS_COLORS[status]
    assert [t.get_text() for t in ax.get_yticklabels()] == list(plot_data.truth("failing").steps)


def test_status_draws_one_bar_per_step() -> None:
    ax = plot_status(plot_data.job_frame("simulation"))
    truth = plot_data.truth("simulation")
    assert [t.get_text() for t in ax.get_yticklabels()] == list(truth.steps)
    (succeeded,) = ax.containers
    assert [b.get_width() for b in succeeded] == [
        truth.count(kind="taskRun", status="SUCCEEDED", step=s) for s in truth.steps
    ]


def test_exit_codes_are_counted_and_named() -> None:
    df = plot_data.job_frame("failing")
    ax = plot_exit_codes(df)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    counts = plot_data.truth("failing").exit_codes()
    order = sorted(counts, key=lambda c: (-counts[c], c))  # most frequent first
    assert {-1073741819, 137} <= set(order)  # the crash codes the failing job is made with
    assert labels == [f"{c} · {exit_code_name(c)}" for c in order]
    assert "-1073741819 · 0xC0000005 access violation" in labels
    assert any(label.startswith("137 · SIGKILL") for label in labels)
    (failed,) = ax.containers
    assert failed.get_label() == "FAILED"
    assert [b.get_width() for b in failed] == [counts[c] for c in order]


def test_exit_codes_of_a_job_with_none_is_an_empty_axes() -> None:
    ax = plot_exit_codes(plot_data.job_frame("render"))
    assert [t.get_text() for t in ax.texts] == ["No non-zero exit codes"]
    assert ax.get_title() == "Non-zero exit codes"


# ---------------------------------------------------------------------------------------------
# save_figure


def test_save_figure_png_is_slide_sized_with_job_metadata(tmp_path: Path) -> None:
    df = plot_data.job_frame("failing")
    ax = plot_timeline(df)
    size = tuple(ax.figure.get_size_inches())
    out = save_figure(
        ax, tmp_path / "timeline.png", title="sq030 crowd", metadata={"Shot": "sh010"}
    )
    assert out == tmp_path / "timeline.png"
    with Image.open(out) as image:
        assert image.size == (1920, 1080)
        text = dict(image.text)
    job = str(df["jobId"].iloc[0])
    assert text["Job"] == job
    assert text["Title"] == "sq030 crowd"
    assert text["Shot"] == "sh010"
    assert pd.Timestamp(text["Creation Time"]).tzinfo is not None
    assert tuple(ax.figure.get_size_inches()) == size  # the figure keeps its own size


def test_save_figure_svg_parses_and_records_the_job(tmp_path: Path) -> None:
    df = plot_data.job_frame("failing")
    out = save_figure(plot_status(df).figure, tmp_path / "status.svg", metadata={"Shot": "sh010"})
    root = ET.parse(out).getroot()
    assert root.tag.endswith("svg")
    text = out.read_text()
    assert str(df["jobId"].iloc[0]) in text
    assert "Shot: sh010" in text


def test_save_figure_pdf_has_a_header_and_the_job(tmp_path: Path) -> None:
    df = plot_data.job_frame("failing")
    out = save_figure(plot_exit_codes(df), tmp_path / "codes.pdf", title="codes")
    data = out.read_bytes()
    assert data.startswith(b"%PDF-")
    assert str(df["jobId"].iloc[0]).encode() in data


def test_save_figure_rasterizes_a_big_timeline_in_vector_output(tmp_path: Path) -> None:
    df = plot_data.frame(
        [h.task_run(n % 1000, session_hex=f"{n // 1000 + 1:032x}") for n in range(25_000)]
    )
    with pytest.warns(DataWarning):
        ax = plot_timeline(df)
    assert gid(ax, "actions").get_rasterized()
    out = save_figure(ax, tmp_path / "big.svg")
    assert out.stat().st_size < 5_000_000  # 25,000 vector paths would be far more


def test_save_figure_names_a_wrong_suffix(tmp_path: Path) -> None:
    ax = plot_status(plot_data.job_frame("failing"))
    with pytest.raises(ValueError, match=r"`path` must end in one of \['.png', '.svg', '.pdf'\]"):
        save_figure(ax, tmp_path / "status.jpg")


def test_plots_summary_and_trace_never_import_boto3_or_fetch() -> None:
    code = (
        "import sys, deadline_nb.plots, deadline_nb.summary, deadline_nb.trace; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore') "
        "or m in ('deadline_nb.fetch', 'deadline_nb.aws', 'deadline_nb.cache')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
