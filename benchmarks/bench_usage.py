"""Benchmark usage_frame: a month of a queue's usage, daily, by user, from the local farm.

The service computes an aggregation asynchronously; the client can only be as fast as that.
This prints, for several runs, the service's own aggregation time (how long the local farm keeps
the aggregation IN_PROGRESS, ``farm.statistics.seconds``) and the whole ``usage_frame`` call
(start, polling with backoff, every page, the frame), and the difference: the client's own
cost, which must stay under 1 s.

Run: ``.venv/bin/python benchmarks/bench_usage.py [--seconds S] [--runs N]``
"""

from __future__ import annotations

import argparse
import statistics
import time

import deadline_nb as dnb
from deadline_nb.localfarm import LocalFarm

TARGET_OVERHEAD = 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="the service's time (s)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with LocalFarm(seed=0) as farm:
        farm.statistics.seconds = args.seconds
        lighting = next(q["queueId"] for q in farm.model.queues if q["displayName"] == "Lighting")
        client = dnb.client(endpoint_url=farm.endpoint_url)
        # One untimed run first: the farm builds its jobs' views on first use, once.
        seconds, farm.statistics.seconds = farm.statistics.seconds, 0.0
        dnb.usage_frame(
            farm.farm_id,
            queue_ids=[lighting],
            start="2026-03-01",
            end="2026-04-01",
            cache=False,
            progress=False,
            client=client,
        )
        farm.statistics.seconds = seconds
        overheads = []
        for run in range(args.runs):
            began = time.perf_counter()
            usage = dnb.usage_frame(
                farm.farm_id,
                queue_ids=[lighting],
                start="2026-03-01",
                end="2026-04-01",
                group_by="user",
                period="DAILY",
                cache=False,  # each run asks the service again
                progress=False,
                client=client,
            )
            took = time.perf_counter() - began
            overheads.append(took - args.seconds)
            print(
                f"run {run + 1}: service {args.seconds:.2f} s, usage_frame {took:.3f} s "
                f"({len(usage)} rows), client's own {took - args.seconds:.3f} s"
            )
        worst = max(overheads)
        print(
            f"client's own time: median {statistics.median(overheads):.3f} s, worst {worst:.3f} s "
            f"(target <= {TARGET_OVERHEAD:.1f} s): {'OK' if worst <= TARGET_OVERHEAD else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
