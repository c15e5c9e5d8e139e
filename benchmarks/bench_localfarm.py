"""Benchmark the local farm: the server must never be what a benchmark measures.

Prints, from one boto3 client on this machine:

- GetSessionAction calls per second (median of several runs), next to the same client against a
  naive stdlib ``http.server`` (headers and body written separately, Nagle on) serving the same
  farm: the trap the local farm avoids;
- BatchGetSessionAction of 100 items, median and p95 latency, next to the server's own time to
  answer it (model lookup and JSON, no HTTP);
- both from ``farm.client()`` (ISO 8601 timestamps parsed with the standard library) and from a
  stock client (botocore's ``dateutil`` parser, the cost every boto3 user pays against AWS);
- the time to build a 100,000-action job, next to the time to build the whole default farm.

Targets (issue 3): >= 400 GetSessionAction/s; BatchGetSessionAction(100) <= 30 ms; a
100,000-action job built in <= 5 s.

Run: ``.venv/bin/python benchmarks/bench_localfarm.py``
"""

from __future__ import annotations

import http.server
import json
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config

from deadline_nb.localfarm import BIG_JOB, JOBS, FarmModel, LocalFarm

RUNS = 5
CALLS_PER_RUN = 300
NAIVE_CALLS = 25
BATCHES = 60


class _NaiveHandler(http.server.BaseHTTPRequestHandler):
    """What a first stdlib server looks like: send_header, end_headers, then write the body."""

    protocol_version = "HTTP/1.1"
    farm: LocalFarm

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, headers, payload = self.farm.handle(self.command, self.path, body)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()  # first write: the headers
        self.wfile.write(payload)  # second write: the body waits for the client's delayed ACK

    do_GET = do_POST = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _rate(call: Callable[[], object], count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        call()
    return count / (time.perf_counter() - started)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _batch_ms(client: Any, identifiers: list[Any]) -> list[float]:
    latencies = []
    for _ in range(BATCHES):
        began = time.perf_counter()
        result = client.batch_get_session_action(identifiers=identifiers)
        latencies.append((time.perf_counter() - began) * 1000)
        assert len(result["sessionActions"]) == 100
    return latencies


def main() -> None:
    started = time.perf_counter()
    FarmModel(seed=0)
    default_build = time.perf_counter() - started

    with LocalFarm(seed=0) as farm:
        spec = farm.job_by_name(JOBS["render"])
        ids = {"farmId": farm.farm_id, "queueId": spec.queue_id, "jobId": spec.job_id}
        actions = [a["sessionActionId"] for a in farm.model.view(spec.job_id).actions]
        client = farm.client()  # parses ISO 8601 timestamps with the standard library
        stock = farm.client(fast_timestamps=False)  # botocore's dateutil parser
        for warm in (client, stock):
            warm.get_farm(farmId=farm.farm_id)  # connect

        def rates_of(c: Any) -> list[float]:
            cycle = iter(actions * (RUNS * CALLS_PER_RUN // len(actions) + 1))
            return [
                _rate(
                    lambda: c.get_session_action(**ids, sessionActionId=next(cycle)),
                    CALLS_PER_RUN,
                )
                for _ in range(RUNS)
            ]

        rates, stock_rates = rates_of(client), rates_of(stock)

        # The same farm behind the naive handler, on another port, read by the same client.
        handler = type("Handler", (_NaiveHandler,), {"farm": farm})
        naive = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        naive.daemon_threads = True
        thread = threading.Thread(target=naive.serve_forever, daemon=True)
        thread.start()
        try:
            naive_client: Any = boto3.session.Session(
                aws_access_key_id="x", aws_secret_access_key="x", region_name="us-west-2"
            ).client(
                "deadline",
                endpoint_url=f"http://127.0.0.1:{naive.server_address[1]}",
                config=Config(inject_host_prefix=False),
            )
            naive_client.get_farm(farmId=farm.farm_id)
            naive_rate = _rate(
                lambda: naive_client.get_session_action(**ids, sessionActionId=actions[0]),
                NAIVE_CALLS,
            )
            naive_client.close()
        finally:
            naive.shutdown()
            naive.server_close()
            thread.join(timeout=5)

        identifiers: list[Any] = [{**ids, "sessionActionId": a} for a in actions[:100]]
        latencies = _batch_ms(client, identifiers)
        stock_latencies = _batch_ms(stock, identifiers)
        # What the server itself spends on one batch: dispatch, lookups and JSON, no HTTP.
        body = json.dumps({"identifiers": identifiers}).encode()
        server_ms = []
        for _ in range(BATCHES):
            began = time.perf_counter()
            status, _, _ = farm.handle("POST", "/2023-10-12/batch-get-session-action", body)
            server_ms.append((time.perf_counter() - began) * 1000)
            assert status == 200
        client.close()
        stock.close()

    big = FarmModel(seed=0, size=100_000)
    started = time.perf_counter()
    view = big.view(big.job_by_name(BIG_JOB).job_id)
    big_build = time.perf_counter() - started

    def batch(values: list[float]) -> str:
        return f"median {statistics.median(values):.1f}, p95 {_percentile(values, 0.95):.1f}"

    rows = [
        ("figure", "local farm", "baseline", "target"),
        (
            "GetSessionAction calls/s, farm.client()",
            f"{statistics.median(rates):.0f} (median of {RUNS}x{CALLS_PER_RUN})",
            f"{naive_rate:.0f} (naive http.server, Nagle on)",
            ">= 400",
        ),
        (
            "GetSessionAction calls/s, stock boto3 client",
            f"{statistics.median(stock_rates):.0f} (median of {RUNS}x{CALLS_PER_RUN})",
            "",
            ">= 400",
        ),
        (
            "BatchGetSessionAction x100 ms, farm.client()",
            batch(latencies),
            f"server side alone: median {statistics.median(server_ms):.1f}",
            "<= 30",
        ),
        (
            "BatchGetSessionAction x100 ms, stock client",
            batch(stock_latencies),
            "(botocore parses ~300 ISO timestamps)",
            "<= 30",
        ),
        (
            f"build the {len(view.actions):,}-action job, s",
            f"{big_build:.2f}",
            f"whole default farm: {default_build:.2f}",
            "<= 5",
        ),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
