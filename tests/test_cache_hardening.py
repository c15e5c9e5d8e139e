"""The cache under stress: two writers interleaved at the worst moment, damaged files, modes.

Interleavings are forced (events at the exact point, through wrapped fetch functions), never
left to timing luck.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import deadline_nb as dnb
from deadline_nb import schema
from deadline_nb.cache import Cache
from deadline_nb.fetch import actions as fetch_actions
from deadline_nb.frames import session_action_frame, sort_actions
from deadline_nb.localfarm import LocalFarm, ManualClock

_WAIT = 60.0  # seconds an event may take before the test gives up (a hang is a failure)


@pytest.fixture
def cache_path(tmp_path: Path) -> Path:
    return tmp_path / "cache.sqlite3"


@pytest.fixture
def running() -> Iterator[tuple[LocalFarm, ManualClock]]:
    clock = ManualClock()
    with LocalFarm(seed=0, clock=clock) as farm:
        yield farm, clock


def _ids(farm: LocalFarm, role: str) -> tuple[str, str, str]:
    job = farm.job_by_name(role)
    return farm.farm_id, job.queue_id, job.job_id


def _statuses(frame: pd.DataFrame) -> dict[str, str]:
    return dict(zip(frame["sessionActionId"], frame["status"].astype(str), strict=True))


def _wait(event: threading.Event) -> None:
    assert event.wait(_WAIT), "the forced interleaving did not happen"


# ---- 1. a stored frame is never newer-looking than, or different from, its raw responses


def test_a_frame_stored_while_another_notebook_wrote_is_not_stale(
    running: tuple[LocalFarm, ManualClock],
    cache_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    farm, clock = running
    ids = _ids(farm, "running")
    c = farm.client()

    def frame() -> pd.DataFrame:
        return dnb.fetch_session_action_frame(*ids, client=c, cache=cache_path, progress=False)

    frame()  # yesterday's run: a stored frame that covers everything written so far
    clock.advance(30.0)  # some running actions report new progress

    a_synced, b_synced, a_stored = threading.Event(), threading.Event(), threading.Event()
    real_sync = fetch_actions.sync_actions
    real_frame = fetch_actions.action_frame

    def sync(*args: Any, **kwargs: Any) -> Any:
        synced = real_sync(*args, **kwargs)
        if threading.current_thread().name == "A":
            a_synced.set()  # A has listed and stored X as RUNNING
            _wait(b_synced)
        else:
            b_synced.set()  # B has stored X as SUCCEEDED
            _wait(a_stored)
        return synced

    def build(*args: Any, **kwargs: Any) -> Any:
        result = real_frame(*args, **kwargs)
        if threading.current_thread().name == "A":
            a_stored.set()
        return result

    monkeypatch.setattr(fetch_actions, "sync_actions", sync)
    monkeypatch.setattr(fetch_actions, "action_frame", build)

    frames: dict[str, pd.DataFrame] = {}
    failures: list[BaseException] = []

    def notebook(name: str) -> Callable[[], None]:
        def run() -> None:
            try:
                frames[name] = frame()
            except BaseException as error:  # reported by the main thread
                failures.append(error)
                for event in (a_synced, b_synced, a_stored):
                    event.set()

        return run

    a = threading.Thread(target=notebook("A"), name="A")
    a.start()
    _wait(a_synced)
    with Cache(cache_path) as store:
        seen_running = {
            x["sessionActionId"] for x in store.actions(*ids) if x["status"] == "RUNNING"
        }
    assert seen_running
    clock.advance(600.0)  # X succeeds (a comp frame takes about 240 s)
    truth = {x["sessionActionId"]: x["status"] for x in farm.model.session_actions(ids[2])}
    succeeded = {x for x in seen_running if truth[x] == "SUCCEEDED"}
    assert succeeded
    b = threading.Thread(target=notebook("B"), name="B")
    b.start()
    a.join(_WAIT)
    b.join(_WAIT)
    assert not failures, failures
    monkeypatch.undo()

    for name in ("A", "B"):
        shown = _statuses(frames[name])
        assert {x: shown[x] for x in succeeded} == dict.fromkeys(succeeded, "SUCCEEDED"), name
    with Cache(cache_path) as store:
        raw = store.actions(*ids)
        kept = store.frame(*ids)
    assert kept is not None
    rebuilt = sort_actions(
        session_action_frame(raw, farm_id=ids[0], queue_id=ids[1], job_id=ids[2])
    )
    pd.testing.assert_frame_equal(
        sort_actions(kept[1]).reset_index(drop=True), rebuilt.reset_index(drop=True)
    )

    clock.advance(10 * 86400.0)  # the job finishes
    job = dnb.load_job(*ids, client=c, cache=cache_path, progress=False)
    fresh = dnb.load_job(*ids, client=c, cache=False, progress=False)
    assert set(job.actions["status"].astype(str)) <= schema.TERMINAL_STATUSES
    assert _statuses(job.actions) == _statuses(fresh.actions)
    assert {x: _statuses(job.actions)[x] for x in succeeded} == dict.fromkeys(
        succeeded, "SUCCEEDED"
    )
