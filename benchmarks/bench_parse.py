"""Benchmark: botocore's response parser against the compiled one (deadline_nb.wire).

Run: ``.venv/bin/python benchmarks/bench_parse.py [--size 5000] [--runs 15]``.

Takes two real bodies from the local farm's big job (``LocalFarm(size=...)``, over HTTP, no
latency): a ``ListSessionActions`` page of 100 summaries and a ``BatchGetSessionAction``
answer of the same 100 actions. Then times, in the same run and interleaved (so that a busy
machine slows every variant alike), the parse of each body from its HTTP response dict as
botocore's endpoint does it (a new parser per response):

* botocore's stock parser (``dateutil`` timestamps): what a plain boto3 client does;
* botocore's parser with the fast timestamp parser: what :func:`deadline_nb.client` did before;
* the compiled parser (:class:`deadline_nb.wire.WireParserFactory`): what it does now;
* :func:`deadline_nb.wire.decode_body` and :func:`~deadline_nb.wire.decode_items` of the
  stored body, and ``json.loads`` alone (the floor: every parser decodes the JSON first).

Prints the median µs per item of each, and the ratios to the compiled parser. Every variant's
answer is checked to be the compiled one's first.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import botocore.parsers

import deadline_nb as dnb
from deadline_nb.localfarm import BIG_JOB, LocalFarm
from deadline_nb.timestamps import parse_timestamp
from deadline_nb.wire import WireParserFactory, decode_body, decode_items

PAGE = 100


def record(size: int) -> tuple[Any, dict[str, bytes]]:
    """The client's service model and the raw bodies of one list page and one batch get."""
    bodies: dict[str, bytes] = {}

    def keep(operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
        bodies[operation_model.name] = bytes(response_dict["body"])

    with LocalFarm(seed=0, size=size) as farm:
        client: Any = dnb.client(endpoint_url=farm.endpoint_url)
        client.meta.events.register("before-parse.deadline.*", keep)
        job = farm.job_by_name(BIG_JOB)
        ids = {"farmId": farm.farm_id, "queueId": job.queue_id, "jobId": job.job_id}
        # A page from the middle of the job: task runs, environments, a few failures.
        first = client.list_session_actions(**ids, maxResults=PAGE)
        page = client.list_session_actions(**ids, maxResults=PAGE, nextToken=first["nextToken"])
        client.batch_get_session_action(
            identifiers=[
                {**ids, "sessionActionId": a["sessionActionId"]} for a in page["sessionActions"]
            ]
        )
        return client.meta.service_model, bodies


def factories() -> dict[str, botocore.parsers.ResponseParserFactory]:
    stock = botocore.parsers.ResponseParserFactory()
    fast_timestamps = botocore.parsers.ResponseParserFactory()
    fast_timestamps.set_parser_defaults(timestamp_parser=parse_timestamp)
    compiled = WireParserFactory()
    compiled.set_parser_defaults(timestamp_parser=parse_timestamp)
    return {
        "botocore (stock)": stock,
        "botocore + fast timestamps": fast_timestamps,
        "compiled (deadline_nb.wire)": compiled,
    }


def variants(model: Any, operation: str, body: bytes) -> dict[str, Callable[[], Any]]:
    """Each way of reading the body, as a call that returns the operation's output."""
    shape = model.operation_model(operation).output_shape
    response = {
        "body": body,
        "headers": {"x-amzn-requestid": "request-1", "content-type": "application/json"},
        "status_code": 200,
        "context": {"operation_name": operation},
    }

    def parse_with(factory: botocore.parsers.ResponseParserFactory) -> Callable[[], Any]:
        def run() -> Any:
            parsed = factory.create_parser("rest-json").parse(dict(response), shape)
            parsed.pop("ResponseMetadata")
            return parsed

        return run

    out = {name: parse_with(factory) for name, factory in factories().items()}
    out["decode_body"] = lambda: decode_body(model, operation, body)
    out["decode_items"] = lambda: decode_items(model, operation, body, "sessionActions")
    out["json.loads alone"] = lambda: json.loads(body)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=5000, help="session actions in the big job")
    parser.add_argument("--runs", type=int, default=15, help="timed runs of each variant")
    args = parser.parse_args()
    model, bodies = record(args.size)
    compiled = "compiled (deadline_nb.wire)"
    for operation in ("ListSessionActions", "BatchGetSessionAction"):
        body = bodies[operation]
        items = len(json.loads(body)["sessionActions"])
        ways = variants(model, operation, body)
        answer = ways[compiled]()
        for name, way in ways.items():
            got = way()
            expected = answer["sessionActions"] if name == "decode_items" else answer
            if name != "json.loads alone" and got != expected:
                raise SystemExit(f"{name} reads {operation} otherwise than the compiled parser")
        times: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(args.runs):
            for name, way in ways.items():
                start = time.perf_counter()
                way()
                times[name].append(time.perf_counter() - start)
        print(f"\n{operation}: {items} items, {len(body):,} bytes, median of {args.runs} runs")
        base = statistics.median(times[compiled])
        for name, spent in times.items():
            median = statistics.median(spent)
            print(f"  {name:<30} {median / items * 1e6:8.2f} µs/item  {median / base:6.2f}x")


if __name__ == "__main__":
    main()
