"""Benchmark: session_action_frame against pandas.json_normalize on the same actions.

Run: ``make bench`` (or ``.venv/bin/python benchmarks/bench_frames.py [--sizes 100000 1000000]``).

Builds realistic BatchGetSessionAction items (the mix of a real job: per session an env enter,
an attachment sync, several task runs with 4 parameters, limits and output manifests, an env
exit; aware datetimes as boto3 returns them), then times, in the same run:

* the baseline a user would write: ``pandas.json_normalize(actions)`` (which gives object columns
  and no types at all), and
* ``deadline_nb.session_action_frame(actions)`` (typed columns).

Prints medians of several repeats, the speed-up, and deep memory per row of our frame.
``--reader numpy`` times the NumPy reader instead of the compiled one (the default where built).
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
import warnings
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pandas as pd

import deadline_nb as dnb
from deadline_nb.frames import READERS, use_reader

STATUS_MIX = ["SUCCEEDED"] * 90 + ["FAILED"] * 4 + ["RUNNING"] * 3 + ["NEVER_ATTEMPTED"] * 3


def make_actions(count: int, seed: int = 0) -> list[dict[str, Any]]:
    """Return ``count`` BatchGetSessionAction items shaped like a real job's."""
    rng = random.Random(seed)
    farm = "farm-" + "1" * 32
    queue = "queue-" + "2" * 32
    job = "job-" + "3" * 32
    steps = [f"step-{i:032x}" for i in range(1, 4)]
    t0 = datetime(2026, 11, 26, 20, 0, tzinfo=timezone.utc)
    out: list[dict[str, Any]] = []
    session = 0
    frame = 1
    while len(out) < count:
        session += 1
        hexid = f"{session:032x}"
        step = steps[session % len(steps)]
        clock = t0 + timedelta(seconds=rng.uniform(0, 36000))
        plan: list[dict[str, Any]] = [
            {"envEnter": {"environmentId": f"JOB:{job}:Render Env"}},
            {"syncInputJobAttachments": {"stepId": step}},
        ]
        for _ in range(rng.randint(4, 12)):
            plan.append(
                {
                    "taskRun": {
                        "stepId": step,
                        "taskId": f"task-{step[5:]}-{frame}",
                        "parameters": {
                            "Frame": {"int": str(frame)},
                            "Camera": {"string": rng.choice(["shotCam", "witnessCam"])},
                            "Scale": {"float": f"{rng.uniform(0.5, 2):.3f}"},
                            "Scene": {"path": f"/mnt/show/sq010/sh{frame % 40:03d}/lighting.ma"},
                        },
                    }
                }
            )
            frame += 1
        plan.append({"envExit": {"environmentId": f"JOB:{job}:Render Env"}})
        for n, definition in enumerate(plan):
            if len(out) >= count:
                break
            status = rng.choice(STATUS_MIX)
            seconds = rng.lognormvariate(4.5, 0.6) if "taskRun" in definition else 5.0
            item: dict[str, Any] = {
                "farmId": farm,
                "queueId": queue,
                "jobId": job,
                "sessionActionId": f"sessionaction-{hexid}-{n}",
                "sessionId": f"session-{hexid}",
                "status": status,
                "definition": definition,
            }
            if status != "NEVER_ATTEMPTED":
                item["startedAt"] = clock
                item["workerUpdatedAt"] = clock + timedelta(seconds=seconds)
                if status == "RUNNING":
                    item["progressPercent"] = round(rng.uniform(0, 100), 1)
                    item["progressMessage"] = f"Rendering {rng.randint(1, 100)}%"
                else:
                    item["endedAt"] = clock + timedelta(seconds=seconds)
                    item["processExitCode"] = 0 if status == "SUCCEEDED" else 137
                    item["progressPercent"] = 100.0
                clock += timedelta(seconds=seconds)
            if "taskRun" in definition:
                item["acquiredLimits"] = [{"limitId": "limit-" + "4" * 32, "count": 1}]
                if status == "SUCCEEDED":
                    item["manifests"] = [
                        {
                            "outputManifestPath": f"manifests/{hexid}_{n}_output",
                            "outputManifestHash": f"{rng.getrandbits(64):016x}",
                        }
                    ]
            out.append(item)
    return out


def median_time(
    func: Callable[[list[dict[str, Any]]], Any], actions: list[dict[str, Any]], repeat: int
) -> tuple[float, Any]:
    """Median wall time of ``func(actions)`` over ``repeat`` runs, and the last result."""
    times = []
    result = None
    for _ in range(repeat):
        result = None
        gc.collect()
        start = time.perf_counter()
        result = func(actions)
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--baseline-max",
        type=int,
        default=100_000,
        help="largest size at which json_normalize is also timed",
    )
    parser.add_argument(
        "--reader",
        choices=READERS,
        default=READERS[0],
        help="reader of session_action_frame (default: %(default)s)",
    )
    args = parser.parse_args()
    warnings.simplefilter("error")  # realistic input must convert without a single warning
    print(f"pandas {pd.__version__}; {args.reader} reader; medians of {args.repeat} runs")
    print(
        f"{'actions':>9} {'json_normalize':>15} {'session_action_frame':>21} {'speed-up':>9}"
        f" {'bytes/row':>10}"
    )
    for size in args.sizes:
        actions = make_actions(size)
        repeat = args.repeat if size <= 200_000 else max(3, args.repeat // 2)
        with use_reader(args.reader):
            ours, frame = median_time(dnb.session_action_frame, actions, repeat)
        per_row = frame.memory_usage(deep=True).sum() / len(frame)
        if size <= args.baseline_max:
            base, _ = median_time(pd.json_normalize, actions, repeat)
            base_text = f"{base:14.3f}s"
            speed = f"{base / ours:8.1f}x"
        else:
            base_text, speed = f"{'(skipped)':>15}", f"{'':>9}"
        print(f"{size:>9,} {base_text} {ours:20.3f}s {speed} {per_row:10.0f}")
        del actions, frame
        gc.collect()


if __name__ == "__main__":
    main()
