"""The cache under stress: two writers interleaved at the worst moment, damaged files, modes.

Interleavings are forced (events at the exact point, through wrapped fetch functions), never
left to timing luck.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import deadline_nb as dnb
from deadline_nb import schema
from deadline_nb.cache import Cache
from deadline_nb.errors import DataWarning
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


# ---- 2. a damaged cache file is set aside, and the fetch goes on from the server


def _fetch(farm: LocalFarm, path: Path) -> list[dict[str, Any]]:
    return dnb.fetch_session_actions(
        *_ids(farm, "failing"), client=farm.client(), cache=path, progress=False
    )


def _truth(farm: LocalFarm) -> set[str]:
    return {a["sessionActionId"] for a in farm.model.session_actions(_ids(farm, "failing")[2])}


def _garbage(path: Path) -> None:
    path.write_bytes(b"this is not a deadline_nb cache, nor any database\n" * 200)


def _damaged_pages(path: Path) -> None:
    with Cache(path) as store:
        pass
    del store
    size = path.stat().st_size
    page = 4096
    pages = size // page
    assert pages > 8, pages
    with path.open("r+b") as f:  # pages in the middle of the file, none of the first
        for n in range(pages // 4, 3 * pages // 4):
            f.seek(n * page)
            f.write(bytes([0xA5]) * page)


def _other_version(path: Path) -> None:
    with Cache(path):
        pass
    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE meta SET value = '1' WHERE key = 'version'")
    db.close()


@pytest.mark.parametrize("damage", [_garbage, _damaged_pages, _other_version])
def test_a_damaged_cache_is_set_aside_and_the_fetch_succeeds(
    farm: LocalFarm, cache_path: Path, damage: Callable[[Path], None]
) -> None:
    _fetch(farm, cache_path)  # a cache full of this job
    damage(cache_path)
    before = cache_path.read_bytes()
    with pytest.warns(DataWarning) as caught:
        actions = _fetch(farm, cache_path)
    assert {a["sessionActionId"] for a in actions} == _truth(farm)
    # A file of an older deadline_nb is not damaged: it is named, and said to be, older.
    older = damage is _other_version
    [aside] = list(
        cache_path.parent.glob(cache_path.name + (".older-" if older else ".corrupt-") + "*[0-9]")
    )
    messages = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    assert len(messages) == 1
    assert str(cache_path) in messages[0] and str(aside) in messages[0]
    assert ("older format" in messages[0]) == older
    assert aside.read_bytes() == before  # kept as it was, for whoever wants to look
    # The fresh cache works: the rerun is complete and quiet.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = _fetch(farm, cache_path)
    assert {a["sessionActionId"] for a in again} == _truth(farm)


def test_an_empty_file_is_a_new_cache(farm: LocalFarm, cache_path: Path) -> None:
    cache_path.touch()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        actions = _fetch(farm, cache_path)
    assert {a["sessionActionId"] for a in actions} == _truth(farm)
    assert not list(cache_path.parent.glob("*.corrupt-*"))


def test_a_page_damaged_after_opening_is_set_aside_at_first_use(
    farm: LocalFarm, cache_path: Path
) -> None:
    _fetch(farm, cache_path)
    with Cache(cache_path) as store:
        _damaged_pages_under(store, cache_path)
        with pytest.warns(DataWarning, match="could not be read"):
            actions = dnb.fetch_session_actions(
                *_ids(farm, "failing"), client=farm.client(), cache=store, progress=False
            )
        assert store.restarts == 1
    # Everything, although the damage showed only after the fetch had read what it had.
    assert {a["sessionActionId"] for a in actions} == _truth(farm)


def _damaged_pages_under(store: Cache, path: Path) -> None:
    store.close()  # let go of the file, damage it, and open it again: nothing is read yet
    _damaged_pages(path)
    store.__init__(path)  # type: ignore[misc]


def test_two_caches_opening_one_damaged_file_at_once_do_not_crash(
    farm: LocalFarm, cache_path: Path
) -> None:
    _fetch(farm, cache_path)
    _damaged_pages(cache_path)
    start = threading.Barrier(2)
    failures: list[BaseException] = []
    results: list[set[str]] = []

    def notebook() -> None:
        try:
            start.wait(_WAIT)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DataWarning)
                results.append({a["sessionActionId"] for a in _fetch(farm, cache_path)})
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=notebook) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(_WAIT)
    assert not failures, failures
    assert results == [_truth(farm)] * 2
    assert len(list(cache_path.parent.glob(cache_path.name + ".corrupt-*[0-9]"))) == 1
    with Cache(cache_path) as store:  # the fresh file is sound
        assert store._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert store.count("action", *_ids(farm, "failing")) == len(_truth(farm))


# ---- 3. the file is private, even one that was not


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")
def test_an_existing_cache_file_is_made_private(cache_path: Path) -> None:
    with Cache(cache_path) as store:
        store.put("job", "f", "q", "j", [{"jobId": "j"}], "jobId")
        for suffix in ("", "-wal", "-shm"):
            os.chmod(str(cache_path) + suffix, 0o644)
        with Cache(cache_path):
            for suffix in ("", "-wal", "-shm"):
                assert stat.S_IMODE(os.stat(str(cache_path) + suffix).st_mode) == 0o600, suffix


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")
def test_a_cache_file_that_cannot_be_made_private_warns_once(
    cache_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Cache(cache_path).close()
    os.chmod(cache_path, 0o644)

    def refuse(path: Any, mode: int) -> None:
        raise PermissionError(1, "Operation not permitted", str(path))

    monkeypatch.setattr(os, "chmod", refuse)
    with pytest.warns(DataWarning, match="readable by other users") as caught:
        Cache(cache_path).close()
        Cache(cache_path).close()
    messages = [str(w.message) for w in caught]
    # One warning per file (its -wal and -shm, which SQLite makes with its mode, have their own).
    assert sum(f"{cache_path} is readable" in m for m in messages) == 1
    assert len(messages) == len(set(messages))


def test_an_older_answer_never_overwrites_an_ended_action(cache_path: Path) -> None:
    """Notebook A's RUNNING answer lands after notebook B stored the same action SUCCEEDED."""
    ids = ("farm-1", "queue-1", "job-1")
    action_id = "sessionaction-" + "a" * 32 + "-0"
    running = {
        "sessionActionId": action_id,
        "status": "RUNNING",
        "progressPercent": 60.0,
        "definition": {"taskRun": {"taskId": "task-1", "stepId": "step-1"}},
    }
    succeeded = {**running, "status": "SUCCEEDED", "progressPercent": 100.0}
    a, b = Cache(cache_path), Cache(cache_path)
    try:
        b.put_actions(*ids, [succeeded])
        snapshots = a.put_actions(*ids, [running])  # fetched before X ended, written after
        assert snapshots == 0
        for reader in (a, b, Cache(cache_path)):
            stored = reader.actions(*ids)
            assert [(s["status"], s["progressPercent"]) for s in stored] == [("SUCCEEDED", 100.0)]
        # Running over running still updates, and an end over running too.
        other = {**running, "sessionActionId": "sessionaction-" + "b" * 32 + "-0"}
        a.put_actions(*ids, [other])
        a.put_actions(*ids, [{**other, "progressPercent": 80.0}])
        assert {s["sessionActionId"]: s["progressPercent"] for s in a.actions(*ids)}[
            other["sessionActionId"]
        ] == 80.0
    finally:
        a.close()
        b.close()
