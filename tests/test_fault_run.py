"""The standing fault run: a big job fetched through a farm that throttles, fails and is slow.

The farm throttles each operation past 20 requests a second, answers 5% of requests with a
500, fails 5% of the items of each batch, and waits 20 ms before every answer: the weather of a
busy studio account, all at once. Through it the library fetches the big job without the cache,
then into a fresh cache, then again from that cache; each time every action of the farm's truth
must come back exactly once, with the truth's fields.

The farm is seeded, so its faults are one sequence; which request meets which fault still
depends on thread timing, which is why the retries are the library's defaults and the
assertions are about the result, never about how many retries it took.
"""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

import deadline_nb as dnb
from deadline_nb.localfarm import LocalFarm

from .fetch_helpers import Recorder, by_id

#: About this many session actions in the big job: a hundred-odd batches and list pages, enough
#: for every kind of fault to happen many times, in well under half a minute on two cores.
SIZE = 5_000


class Weather:
    """Count the error codes of every attempt a client makes, retried ones included."""

    def __init__(self, client: Any) -> None:
        self.codes: collections.Counter[str] = collections.Counter()
        client.meta.events.register("response-received.deadline", self._received)

    def _received(self, parsed_response: Any = None, **_: Any) -> None:
        code = ((parsed_response or {}).get("Error") or {}).get("Code")
        if code:
            self.codes[code] += 1


def _fetch(farm: LocalFarm, cache: Any) -> tuple[list[dict[str, Any]], Recorder, Weather]:
    job = farm.job_by_name("big")
    client = dnb.client(endpoint_url=farm.endpoint_url)
    recorder, weather = Recorder(client), Weather(client)
    actions = dnb.fetch_session_actions(
        farm.farm_id, job.queue_id, job.job_id, client=client, cache=cache, progress=False
    )
    return actions, recorder, weather


def _assert_exactly_the_truth(actions: list[dict[str, Any]], truth: list[dict[str, Any]]) -> None:
    counts = collections.Counter(a["sessionActionId"] for a in actions)
    duplicated = sorted(i for i, n in counts.items() if n > 1)
    assert not duplicated, f"{len(duplicated)} actions came back twice: {duplicated[:5]}"
    missing = sorted({a["sessionActionId"] for a in truth} - set(counts))
    assert not missing, f"{len(missing)} actions were lost: {missing[:5]}"
    assert len(actions) == len(truth)
    assert by_id(actions) == by_id(truth)  # and each with the truth's fields


def test_a_big_job_through_throttling_faults_and_latency_loses_and_duplicates_nothing(
    tmp_path: Path,
) -> None:
    with LocalFarm(
        seed=7,
        size=SIZE,
        latency=0.02,
        throttle_rate=20.0,
        fault_rate=0.05,
        item_fault_rate=0.05,
    ) as farm:
        truth = farm.model.session_actions(farm.job_by_name("big").job_id)
        assert len(truth) >= SIZE * 0.9

        farm.reset_calls()
        uncached, recorder, weather = _fetch(farm, cache=False)
        _assert_exactly_the_truth(uncached, truth)
        # The weather happened: throttles and 500s (retried by botocore, so the farm answered
        # more requests than the library made calls), and items failed inside batches (retried
        # by the library, so it asked for more ids than the job has).
        assert weather.codes["ThrottlingException"] > 0
        assert weather.codes["InternalServerErrorException"] > 0
        assert sum(farm.calls.values()) > recorder.total
        assert len(recorder.batched) > len(truth)

        cache = tmp_path / "cache.sqlite3"
        cached, _, weather = _fetch(farm, cache=cache)
        _assert_exactly_the_truth(cached, truth)
        assert weather.codes["InternalServerErrorException"] > 0

        # Everything in the cache is finished: the next fetch reads it, and asks the farm for
        # no session action at all.
        again, recorder, _ = _fetch(farm, cache=cache)
        _assert_exactly_the_truth(again, truth)
        assert recorder.calls["BatchGetSessionAction"] == 0
        assert recorder.calls["GetSessionAction"] == 0
