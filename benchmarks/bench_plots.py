"""Benchmark: plot_timeline against a bare PolyCollection of the same rectangles, side by side.

Run: ``.venv/bin/python benchmarks/bench_plots.py [--sizes 10000 100000 1000000] [--repeats 3]``.

In the same run, on the local farm's big render (``FarmModel(seed=0, size=100_000)``, read
through ``session_action_frame`` and ``job_action_frame`` as ``load_job`` gives it), for each size:

* ``plot_timeline(df)`` then ``save_figure(ax, "x.png")`` (1920 x 1080 PNG at 150 dpi);
* the floor: a bare ``PolyCollection`` of exactly the rectangles and colours plot_timeline drew
  (read back from its collection, outside the timing), on a figure of the same size, saved to PNG
  at the same dpi. What plot_timeline adds over it (lanes, colours, legend, session bands, marks,
  labels, layout) is the ratio printed; the target is at most 2x from 100,000 actions up;
* once, the naive baseline a matplotlib user would write: one ``ax.barh`` call per action, then
  ``savefig`` to PNG, on 10,000 actions (``--baseline 0`` skips it; it takes minutes at 100,000).

Then, on the same 100,000 actions with synthetic worker metrics (the local farm writes none; one
sample a minute, a peak per task run that climbs with the frame):

* ``plot_memory(df)`` + ``save_figure`` against its floor, a bare ``scatter`` of exactly the
  points it drew (read back from its collections), saved the same way;
* ``plot_timeline(df, metrics=m)`` against ``plot_timeline(df)`` (``metrics=None``), both saved,
  with 50 workers x 10,000 samples in ``m``: the difference is what the memory strip costs
  (target: well under a second).

Every timing covers drawing and writing the PNG. The two are run alternately, so that a busy
machine slows both alike; medians of ``--repeats`` runs (one run above 100,000 actions). Sizes
above 100,000 repeat the big job end to end (each copy shifted after the previous one, sessions
renamed), since building a million-action model takes a minute.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.collections import PolyCollection

import deadline_nb as dnb
from deadline_nb import schema
from deadline_nb.localfarm.model import BIG_JOB, FarmModel
from deadline_nb.plots import SLIDE_DPI, SLIDE_SIZE, plot_memory, plot_timeline, save_figure

GIB = 2**30


def big_job(size: int) -> pd.DataFrame:
    """The local farm's big render as load_job gives it: actions with step, worker and fleet."""
    model = FarmModel(seed=0, size=size)
    job = model.job_by_name(BIG_JOB)
    view = model.view(job.job_id)
    actions = dnb.session_action_frame(model.session_actions(job.job_id))
    steps = pd.DataFrame([{"stepId": s["stepId"], "name": s["name"]} for s in view.steps])
    return dnb.frames.job_action_frame(
        actions, steps=steps, sessions=dnb.session_frame(view.sessions)
    )


def repeated(df: pd.DataFrame, size: int) -> pd.DataFrame:
    """``df`` repeated back to back in time until it has ``size`` rows."""
    span = df["endedAt"].max() - df["startedAt"].min() + pd.Timedelta(minutes=10)
    copies: list[pd.DataFrame] = []
    k = 0
    while sum(len(c) for c in copies) < size:
        copy = df.copy()
        for column in ("startedAt", "endedAt", "workerUpdatedAt"):
            copy[column] = copy[column] + span * k
        sessions = copy["sessionId"].cat.categories
        copy["sessionId"] = copy["sessionId"].cat.rename_categories([f"{s}-{k}" for s in sessions])
        copies.append(copy)
        k += 1
    out = pd.concat(copies, ignore_index=True).iloc[:size]
    out["sessionId"] = out["sessionId"].astype("category")  # concat of unlike categories: object
    return out


def naive(df: pd.DataFrame, path: Path) -> None:
    """What a matplotlib user writes: one barh per action."""
    fig, ax = plt.subplots(figsize=(12.8, 7.2))
    done = df[df["startedAt"].notna()]
    lanes = {w: i for i, w in enumerate(done["workerId"].astype(str).unique())}
    for row in done.itertuples():
        ax.barh(
            lanes[str(row.workerId)],
            (row.endedAt - row.startedAt).total_seconds() / 86400,
            left=matplotlib.dates.date2num(row.startedAt),
            color=schema.STATUS_COLORS[str(row.status)],
        )
    ax.xaxis_date()
    fig.savefig(path, dpi=150)
    plt.close(fig)


def ours(df: pd.DataFrame, path: Path) -> None:
    ax = plot_timeline(df)
    save_figure(ax, path)
    plt.close(ax.figure)  # type: ignore[arg-type]


def drawn_rectangles(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The (N, 4, 2) vertices and (N, 4) face colours plot_timeline draws for ``df``."""
    ax = plot_timeline(df)
    # matplotlib's stubs type a collection's paths and colours loosely: read them as arrays
    rects: Any = next(c for c in ax.collections if c.get_gid() == "actions")
    verts = np.array([p.vertices[:4] for p in rects.get_paths()])
    colors = np.asarray(rects.get_facecolors())
    plt.close(ax.figure)  # type: ignore[arg-type]
    return verts, colors


def bare(verts: np.ndarray, colors: np.ndarray, path: Path) -> None:
    """The floor: the same rectangles as one PolyCollection, same size, dpi and PNG."""
    fig = plt.figure(figsize=SLIDE_SIZE)
    ax = fig.add_subplot()
    # The same rectangle style as plot_timeline's at this size: no outline.
    polygons: Any = verts  # an (N, 4, 2) array: PolyCollection takes it, its stubs name a list
    collection = PolyCollection(polygons, facecolors=colors, edgecolors="none", linewidths=0)
    ax.add_collection(collection)
    ax.autoscale_view()
    fig.savefig(path, dpi=SLIDE_DPI)
    plt.close(fig)


def timed(fn: Callable[[], None]) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def side_by_side(df: pd.DataFrame, path: Path, repeats: int) -> tuple[float, float]:
    """Medians of plot_timeline + save_figure and of the bare PolyCollection, run alternately."""
    verts, colors = drawn_rectangles(df)
    ours_s: list[float] = []
    bare_s: list[float] = []
    for _ in range(repeats):
        bare_s.append(timed(lambda: bare(verts, colors, path)))
        ours_s.append(timed(lambda: ours(df, path)))
    return statistics.median(ours_s), statistics.median(bare_s)


def with_resources(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with synthetic resource columns: a sample a minute, a peak climbing with the frame."""
    out = df.copy()
    seconds = out["duration"].dt.total_seconds().to_numpy(dtype=np.float64, na_value=np.nan)
    samples = np.where(np.isfinite(seconds), seconds // 60.0, 0).astype(np.int64)
    codes = out["workerId"].cat.codes.to_numpy()
    total = np.where(codes % 2 == 0, 32.0, 64.0) * GIB
    frame = out["param.Frame"].astype("Float64").to_numpy(dtype=np.float64, na_value=0.0)
    peak = total * (0.3 + 0.4 * frame / max(float(frame.max()), 1.0))
    killed = (out["processExitCode"] == 137).fillna(False).to_numpy(dtype=bool)
    peak[killed] = total[killed]
    sampled = samples > 0
    out["metricSamples"] = pd.array(samples, dtype="Int64")
    out["memPeakBytes"] = pd.array(np.where(sampled, peak, np.nan)).astype("Int64")
    out["memPeakPercent"] = pd.array(np.where(sampled, 100.0 * peak / total, np.nan))
    out["memTotalBytes"] = pd.array(np.where(sampled, total, np.nan)).astype("Int64")
    out["cpuMeanPercent"] = pd.array(np.where(sampled, 80.0, np.nan))
    out["cpuMaxPercent"] = pd.array(np.where(sampled, 100.0, np.nan))
    return out


def worker_metrics(df: pd.DataFrame, workers: int, samples: int) -> pd.DataFrame:
    """``workers`` of the job's workers x ``samples`` random-walk samples across its span."""
    rng = np.random.default_rng(0)
    names = df["workerId"].dropna().astype(str).unique()[:workers]
    start = df["startedAt"].min()
    step = (df["endedAt"].max() - start) / samples
    times = pd.DatetimeIndex([start + step * i for i in range(samples)])
    percent = np.clip(40.0 + np.cumsum(rng.normal(0.0, 1.0, (len(names), samples)), axis=1), 0, 100)
    total = 64 * GIB
    n = len(names) * samples
    return pd.DataFrame(
        {
            "farmId": pd.Categorical(["farm-0"] * n),
            "fleetId": pd.Categorical(["fleet-0"] * n),
            "workerId": pd.Categorical(np.repeat(names, samples)),
            "timestamp": np.tile(times, len(names)),
            "cpuPercent": pd.array(np.clip(rng.normal(70.0, 20.0, n), 0, 100), dtype="Float64"),
            "memTotalBytes": pd.array(np.full(n, total), dtype="Int64"),
            "memUsedBytes": pd.array((percent.ravel() / 100 * total).astype(np.int64)),
            "memUsedPercent": pd.array(percent.ravel(), dtype="Float64"),
            "swapUsedBytes": pd.array(np.zeros(n, dtype=np.int64)),
        }
    )


def memory_ours(df: pd.DataFrame, path: Path) -> None:
    ax = plot_memory(df)
    save_figure(ax, path)
    plt.close(ax.figure)  # type: ignore[arg-type]


def drawn_points(df: pd.DataFrame) -> np.ndarray:
    """The (N, 2) points plot_memory draws for ``df``."""
    ax = plot_memory(df)
    # matplotlib's stubs type the offsets loosely: read them as one array
    offsets: list[Any] = [
        np.asarray(c.get_offsets())
        for c in ax.collections
        if c.get_gid() in ("attempts", "retries", "killed")
    ]
    plt.close(ax.figure)  # type: ignore[arg-type]
    return np.concatenate(offsets)


def bare_scatter(points: np.ndarray, path: Path) -> None:
    """The floor: the same points as one scatter, same size, dpi and PNG."""
    fig = plt.figure(figsize=SLIDE_SIZE)
    ax = fig.add_subplot()
    ax.scatter(points[:, 0], points[:, 1], s=26)
    fig.savefig(path, dpi=SLIDE_DPI)
    plt.close(fig)


def timeline_with(df: pd.DataFrame, metrics: pd.DataFrame | None, path: Path) -> None:
    ax = plot_timeline(df, metrics=metrics)
    save_figure(ax, path)
    plt.close(ax.figure)  # type: ignore[arg-type]


def memory_benchmarks(job: pd.DataFrame, path: Path, repeats: int) -> None:
    """plot_memory against a bare scatter; the timeline's memory strip against none."""
    df = with_resources(job)
    points = drawn_points(df)
    ours_s: list[float] = []
    bare_s: list[float] = []
    for _ in range(repeats):
        bare_s.append(timed(lambda: bare_scatter(points, path)))
        ours_s.append(timed(lambda: memory_ours(df, path)))
    seconds, floor = statistics.median(ours_s), statistics.median(bare_s)
    print(
        f"plot_memory + save_figure PNG:   {len(points):>9,} runs     {seconds:6.2f} s"
        f"  (median of {repeats})"
    )
    print(
        f"bare scatter + savefig:          {len(points):>9,} runs     {floor:6.2f} s"
        f"  (plot_memory / bare = {seconds / floor:.2f}x)"
    )
    metrics = worker_metrics(job, 50, 10_000)
    workers = metrics["workerId"].nunique()
    plain_s: list[float] = []
    strip_s: list[float] = []
    for _ in range(repeats):
        plain_s.append(timed(lambda: timeline_with(job, None, path)))
        strip_s.append(timed(lambda: timeline_with(job, metrics, path)))
    plain, strip = statistics.median(plain_s), statistics.median(strip_s)
    print(
        f"plot_timeline(metrics=None):     {len(job):>9,} actions  {plain:6.2f} s"
        f"  (median of {repeats})"
    )
    print(
        f"plot_timeline(metrics=m):        {len(job):>9,} actions  {strip:6.2f} s"
        f"  (memory strip of {workers} workers x 10,000 samples: +{strip - plain:.2f} s;"
        " target well under 1 s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--baseline", type=int, default=10_000, help="actions for ax.barh")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory", type=int, default=1, help="0 skips the memory plots")
    args = parser.parse_args()
    warnings.simplefilter("ignore", dnb.errors.DataWarning)

    start = time.perf_counter()
    job = big_job(100_000)
    print(
        f"local farm big job: {len(job):,} actions on {job['workerId'].nunique()} workers, "
        f"{job['sessionId'].nunique():,} sessions (built in {time.perf_counter() - start:.1f} s)"
    )
    targets = {100_000: 3.0, 1_000_000: 20.0}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "timeline.png"
        baseline = None
        if args.baseline:
            sample = job.iloc[: args.baseline]
            baseline = (len(sample), timed(lambda: naive(sample, path)))
            print(
                f"baseline, ax.barh loop + savefig: {len(sample):>9,} actions  {baseline[1]:6.2f} s"
            )
        for size in args.sizes:
            df = job.iloc[:size] if size <= len(job) else repeated(job, size)
            runs = args.repeats if size <= 100_000 else 1
            seconds, floor = side_by_side(df, path, runs)
            notes = [f"median of {runs}"]
            if size in targets:
                notes.append(f"target <= {targets[size]:.0f} s")
            if baseline is not None and size == baseline[0]:
                notes.append(f"{baseline[1] / seconds:.0f}x faster than the barh loop")
            print(
                f"plot_timeline + save_figure PNG: {len(df):>9,} actions  {seconds:6.2f} s"
                f"  ({'; '.join(notes)})"
            )
            # The 2x target is for big timelines: below about 100,000 actions the fixed costs of
            # labels, legend and layout, which a bare collection does not have, weigh more.
            target = "; target <= 2x" if size >= 100_000 else ""
            print(
                f"bare PolyCollection + savefig:   {len(df):>9,} actions  {floor:6.2f} s"
                f"  (plot_timeline / bare = {seconds / floor:.2f}x{target})"
            )
        if args.memory:
            memory_benchmarks(job, path, args.repeats)


if __name__ == "__main__":
    main()
