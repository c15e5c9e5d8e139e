"""The cache survives being killed mid-fetch and two processes using it at once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import deadline_nb as dnb
from deadline_nb.cache import Cache
from deadline_nb.localfarm import BIG_JOB, LocalFarm

from .fetch_helpers import Recorder, by_id


def fetch_in_child(endpoint: str, ids: tuple[str, str, str], cache: Path) -> subprocess.Popen[str]:
    code = (
        "import sys, deadline_nb as dnb\n"
        f"actions = dnb.fetch_session_actions({ids[0]!r}, {ids[1]!r}, {ids[2]!r}, "
        f"client=dnb.client(endpoint_url={endpoint!r}), cache={str(cache)!r}, "
        "progress=False, max_workers=2)\n"
        "print(len(actions))\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def stored_actions(cache: Path, job_id: str) -> int:
    if not cache.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{cache}?mode=ro", uri=True, timeout=1) as db:
            row = db.execute(
                "SELECT count(*) FROM items JOIN jobs ON items.job = jobs.key "
                "WHERE kind='action' AND jobs.job_id=?",
                (job_id,),
            ).fetchone()
    except sqlite3.OperationalError:  # the child has not created the tables yet
        return 0
    return int(row[0])


def test_sigkill_mid_fetch_leaves_a_cache_the_next_fetch_completes(tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite3"
    with LocalFarm(seed=0, size=3000, latency=0.02) as farm:
        spec = farm.job_by_name(BIG_JOB)
        ids = (farm.farm_id, spec.queue_id, spec.job_id)
        truth = farm.model.session_actions(spec.job_id)
        child = fetch_in_child(farm.endpoint_url, ids, cache)
        try:
            deadline = time.monotonic() + 60
            while stored_actions(cache, spec.job_id) < 500 and time.monotonic() < deadline:
                assert child.poll() is None, child.communicate()
                time.sleep(0.01)
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.kill()
            child.communicate()
        assert child.returncode == -signal.SIGKILL

        with Cache(cache) as opened:
            assert opened._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            kept = {a["sessionActionId"] for a in opened.actions(*ids)}
        assert 500 <= len(kept) < len(truth)

        c = dnb.client(endpoint_url=farm.endpoint_url)
        recorder = Recorder(c)
        actions = dnb.fetch_session_actions(*ids, client=c, cache=cache, progress=False)
    assert by_id(actions) == by_id(truth)
    assert not kept & set(recorder.batched)  # nothing stored was fetched again
    assert len(recorder.batched) == len(truth) - len(kept)


def test_opening_a_new_cache_at_once_from_many_connections(tmp_path: Path) -> None:
    """Switching a new file to WAL takes an exclusive lock that SQLite refuses at once (no busy
    wait) when two connections race for it; four notebooks started together must not fail.
    Threads each open their own connection, which races the same way processes do; a few
    percent of rounds fail without the retry, so 200 rounds catch it almost surely."""
    errors: list[str] = []
    for round_ in range(200):
        path = tmp_path / f"race-{round_}.sqlite3"
        barrier = threading.Barrier(8)

        def open_close(path: Path = path, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            try:
                Cache(path).close()
            except sqlite3.Error as error:
                errors.append(repr(error))

        threads = [threading.Thread(target=open_close) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert errors == []


def test_two_processes_share_one_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite3"
    with LocalFarm(seed=0, latency=0.01) as farm:
        roles = ["render", "reclaimed", "failing", "failing"]
        specs = [farm.job_by_name(role) for role in roles]
        children = [
            fetch_in_child(farm.endpoint_url, (farm.farm_id, s.queue_id, s.job_id), cache)
            for s in specs
        ]
        try:
            outputs = [child.communicate(timeout=120) for child in children]
        finally:
            for child in children:
                child.kill()
        for child, (_, err) in zip(children, outputs, strict=True):
            assert child.returncode == 0, err
        with Cache(cache) as opened:
            assert opened._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            for spec, (out, _) in zip(specs, outputs, strict=True):
                truth = farm.model.session_actions(spec.job_id)
                assert int(out) == len(truth)
                stored = opened.actions(farm.farm_id, spec.queue_id, spec.job_id)
                assert by_id(stored) == by_id(truth)


def test_a_cache_from_another_format_is_refused_with_a_way_out(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    Cache(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = '999' WHERE key = 'version'")
    with pytest.raises(RuntimeError, match="DEADLINE_NB_CACHE"):
        Cache(path)


def test_clear_forgets_one_job_only(tmp_path: Path) -> None:
    with Cache(tmp_path / "c.sqlite3") as cache:
        cache.put("job", "farm-1", "queue-1", "job-1", [{"jobId": "job-1"}], "jobId")
        cache.put("job", "farm-1", "queue-1", "job-2", [{"jobId": "job-2"}], "jobId")
        cache.clear(job_id="job-1")
        assert cache.items("job", "farm-1", "queue-1", "job-1") == []
        assert cache.items("job", "farm-1", "queue-1", "job-2") == [{"jobId": "job-2"}]


def test_items_keep_the_order_they_were_stored_in(tmp_path: Path) -> None:
    steps = [{"stepId": "step-b"}, {"stepId": "step-a"}, {"stepId": "step-c"}]
    with Cache(tmp_path / "c.sqlite3") as cache:
        cache.put("step", "f", "q", "j", steps, "stepId")
        assert cache.items("step", "f", "q", "j") == steps


def test_stored_datetimes_come_back_aware_and_equal(tmp_path: Path) -> None:
    from datetime import datetime, timedelta, timezone

    when = datetime(2026, 11, 26, 22, 0, 0, 250000, tzinfo=timezone(timedelta(hours=-8)))
    action = {
        "sessionActionId": "sessionaction-" + "a" * 32 + "-0",
        "status": "SUCCEEDED",
        "startedAt": when,
        "progressMessage": "2026-11-26T22:00:00Z is text, not a time",
    }
    with Cache(tmp_path / "c.sqlite3") as cache:
        cache.put_actions("f", "q", "j", [action])
        (back,) = cache.actions("f", "q", "j")
    assert back["startedAt"] == when and back["startedAt"].tzinfo is not None
    assert back["progressMessage"] == action["progressMessage"]
