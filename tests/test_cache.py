"""The cache survives being killed mid-fetch and two processes using it at once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

import deadline_nb as dnb
import deadline_nb.cache as cache_module
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


def _blobs(cache: Cache) -> list[tuple[int, int]]:
    return [
        (int(i), int(n)) for i, n in cache._db.execute("SELECT id, live FROM blobs ORDER BY id")
    ]


@pytest.mark.parametrize("json_rows", [True, False], ids=["sqlite-json", "executemany"])
def test_what_the_cache_stored_as_sent_reads_back_as_boto3_gave_it(
    farm: LocalFarm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, json_rows: bool
) -> None:
    # Session actions and tasks are stored as the service's raw bodies, and decoded on the way
    # out: a new Cache (nothing in memory) must give back exactly what the fetch returned,
    # same keys in the same order, same types (aware datetimes, ints and floats). Rows are
    # written in one step through SQLite's JSON functions, or (a SQLite without them) row by
    # row: both must store the same.
    monkeypatch.setattr(cache_module, "_json_rows", lambda: json_rows)
    path = tmp_path / "c.sqlite3"
    spec = farm.job_by_name("failing")
    ids = (farm.farm_id, spec.queue_id, spec.job_id)
    c = farm.client()
    fetched = dnb.fetch_session_actions(*ids, client=c, cache=path, progress=False)
    tasks = dnb.fetch_tasks(*ids, client=c)
    dnb.load_job(*ids, client=c, cache=path, progress=False)
    with Cache(path) as cache:
        forms = {f for (f,) in cache._db.execute("SELECT DISTINCT format FROM blobs")}
        assert {"BatchGetSessionAction", "ListTasks"} <= forms  # raw bodies, not re-encoded
        stored = {a["sessionActionId"]: a for a in cache.actions(*ids)}
        stored_tasks = {t["taskId"]: t for t in cache.items("task", *ids)}
    assert len(stored) == len(fetched)
    for action in fetched:
        back = stored[action["sessionActionId"]]
        assert list(back.items()) == list(action.items())
        assert [type(v) for v in back.values()] == [type(v) for v in action.values()]
    assert len(stored_tasks) == len(tasks)
    for task in tasks:
        assert list(stored_tasks[task["taskId"]].items()) == list(task.items())


def _write_a_history(cache: Cache) -> None:
    """Writes of every kind of row: ended, in flight, a session not the id's, replaced, raw."""
    import json

    head = "sessionaction-" + "a" * 32
    actions: list[dict[str, Any]] = [
        {"sessionActionId": f"{head}-0", "status": "SUCCEEDED", "sessionId": "session-" + "a" * 32},
        {"sessionActionId": f"{head}-1", "status": "RUNNING", "progressPercent": 12.5,
         "progressMessage": "naïve \"quoted\"\nline ✓ 🎬"},
        {"sessionActionId": f"{head}-2", "status": "FAILED", "sessionId": "session-other"},
        {"sessionActionId": f"{head}-3", "status": "CANCELED"},
    ]  # fmt: skip
    cache.put_actions("f", "q", "j", actions, observed_at=1.0)
    cache.put_actions(
        "f", "q", "j", [{**actions[1], "status": "SUCCEEDED"}, actions[3]], observed_at=2.0
    )
    step = "step-" + "b" * 32
    tasks = [{"taskId": f"task-{'b' * 32}-{n}", "runStatus": "SUCCEEDED"} for n in range(3)]
    tasks.append({"taskId": "task-odd", "runStatus": "FAILED"})
    bodies = [json.dumps({"tasks": tasks[:2]}).encode(), json.dumps({"tasks": tasks[2:]}).encode()]
    given = [{**t, "stepId": step} for t in tasks]
    for _ in range(2):  # listed again: the same rows, the first blob released
        cache.put(
            "task", "f", "q", "j", given, "taskId", parent_field="stepId", bodies=bodies,
            operation="ListTasks",
        )  # fmt: skip
    cache.put("session", "f", "q", "j", [{"sessionId": "session-ü"}], "sessionId")
    cache.set_listings("f", "q", "j", {"session-ü": "ended", "step-x": "token"})


def test_rows_written_in_one_step_are_the_rows_written_one_by_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The usual rows go to SQLite as one JSON list in one statement (see _insert_rows): what
    # is stored must be exactly what executemany stores, row for row.
    dumps = {}
    for json_rows in (True, False):
        monkeypatch.setattr(cache_module, "_json_rows", lambda j=json_rows: j)
        with Cache(tmp_path / f"{json_rows}.sqlite3") as cache:
            _write_a_history(cache)
            dumps[json_rows] = {  # all but the listings' times
                table: cache._db.execute(f"SELECT {what} FROM {table} ORDER BY 1, 2, 3").fetchall()
                for table, what in (
                    ("items", "*"),
                    ("blobs", "*"),
                    ("listings", "job, scope, token"),
                    ("snapshots", "*"),
                )
            }
            back = [
                a["progressMessage"] for a in cache.actions("f", "q", "j") if "progressMessage" in a
            ]
    assert dumps[True]["items"] and dumps[True] == dumps[False]
    assert back == ['naïve "quoted"\nline ✓ 🎬']
    items = {row[2]: row for row in dumps[True]["items"]}
    assert items["sessionaction-" + "a" * 32 + "-2"][3] == "session-other"  # kept: not the id's
    assert items["sessionaction-" + "a" * 32 + "-0"][3] is None  # the id's own session
    assert (
        items["task-odd"][3] == "step-" + "b" * 32 and items["task-" + "b" * 32 + "-0"][3] is None
    )
    assert [row[4] for row in dumps[True]["items"] if row[1] == "action"] == [1, 1, 1, 1]
    assert {live for _, _, live, *_ in dumps[True]["blobs"]} == {1, 2, 4}


def test_a_blob_goes_when_nothing_points_at_it(tmp_path: Path) -> None:
    def action(n: int, status: str) -> dict[str, object]:
        return {"sessionActionId": f"sessionaction-{'b' * 32}-{n}", "status": status}

    with Cache(tmp_path / "c.sqlite3") as cache:
        cache.put_actions("f", "q", "j", [action(0, "RUNNING"), action(1, "RUNNING")])
        assert _blobs(cache) == [(1, 2)]
        cache.put_actions("f", "q", "j", [action(0, "SUCCEEDED")])
        assert _blobs(cache) == [(1, 1), (2, 1)]  # the first still holds action 1
        cache.put_actions("f", "q", "j", [action(1, "FAILED"), action(1, "FAILED")])
        assert _blobs(cache) == [(2, 1), (3, 1)]  # one id given twice is one item
        # An older answer for an ended action is not stored: no blob is left for it.
        cache.put_actions("f", "q", "j", [action(1, "RUNNING")])
        assert _blobs(cache) == [(2, 1), (3, 1)]
        assert {a["status"] for a in cache.actions("f", "q", "j")} == {"SUCCEEDED", "FAILED"}
        cache.clear(job_id="j")
        assert _blobs(cache) == []


def test_the_writer_stores_in_order_and_reports_its_failure(tmp_path: Path) -> None:
    from deadline_nb.cache import Writer

    def action(n: int, status: str) -> dict[str, object]:
        return {"sessionActionId": f"sessionaction-{'c' * 32}-{n}", "status": status}

    with Cache(tmp_path / "c.sqlite3") as cache:
        # The writer waits on its first write while the line fills.
        with Writer(cache, "f", "q", "j", backlog=3000) as writer, cache._lock:
            for n in range(2500):
                writer.put_actions([action(n, "RUNNING")])
            writer.put_actions([action(7, "SUCCEEDED")])  # the later answer wins
        stored = {a["sessionActionId"]: a["status"] for a in cache.actions("f", "q", "j")}
        assert len(stored) == 2500 and stored[action(7, "")["sessionActionId"]] == "SUCCEEDED"
        # Batches waiting in line are written together, up to 1000 actions a write.
        assert len(_blobs(cache)) <= 5
    closed = Writer(cache, "f", "q", "j")  # its cache is closed: the write fails
    closed.put_actions([action(0, "RUNNING")])
    with pytest.raises(sqlite3.ProgrammingError):
        closed.close()
    with pytest.raises(sqlite3.ProgrammingError):
        closed.put_actions([action(1, "RUNNING")])


def test_the_writer_gathers_what_comes_within_its_wait_into_one_write(tmp_path: Path) -> None:
    from deadline_nb.cache import Writer

    def action(n: int) -> dict[str, object]:
        return {"sessionActionId": f"sessionaction-{'c' * 32}-{n}", "status": "SUCCEEDED"}

    with Cache(tmp_path / "c.sqlite3") as cache:
        started = time.monotonic()
        with Writer(cache, "f", "q", "j", gather=60.0) as writer:
            for n in range(5):
                writer.put_actions([action(n)])
        # Closing writes what it has at once: it does not wait the minute out.
        assert time.monotonic() - started < 30
        assert _blobs(cache) == [(1, 5)] and cache.count("action", "f", "q", "j") == 5
        with Writer(cache, "f", "q", "j", gather=60.0) as writer:
            for start in (5, 605, 1205):
                writer.put_actions([action(n) for n in range(start, start + 600)])
        # A write takes batches until it holds 1,000 actions (a batch is never split).
        assert [live for _, live in _blobs(cache)] == [5, 1200, 600]


def test_a_frame_built_in_chunks_equals_one_built_at_once(
    farm: LocalFarm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # load_job keeps frames of a few thousand actions, not every action's dict, while it
    # fetches (a million dicts would not fit); the frame must not depend on the chunks.
    import deadline_nb.fetch.sync as sync

    monkeypatch.setattr(sync, "_CHUNK", 7)
    spec = farm.job_by_name("failing")
    ids = (farm.farm_id, spec.queue_id, spec.job_id)
    chunked = dnb.load_job(*ids, client=farm.client(), cache=tmp_path / "c", progress=False)
    whole = dnb.load_job(*ids, client=farm.client(), cache=False, progress=False)
    assert len(chunked.actions) == len(farm.model.session_actions(spec.job_id))
    import pandas as pd

    pd.testing.assert_frame_equal(chunked.actions, whole.actions)
    # The rerun reads the frame the first one stored.
    again = dnb.load_job(*ids, client=farm.client(), cache=tmp_path / "c", progress=False)
    pd.testing.assert_frame_equal(again.actions, whole.actions)


def test_items_of_a_parent_whether_their_ids_name_it_or_not(tmp_path: Path) -> None:
    # A task "task-<hex>-<n>" names its step "step-<hex>": its row keeps no parent and is found
    # by its id; one whose id does not name its step keeps it in the row. Both are found.
    step = "step-" + "d" * 32
    tasks = [
        {"taskId": "task-" + "d" * 32 + "-0", "stepId": step},
        {"taskId": "task-" + "d" * 32 + "-10", "stepId": step},
        {"taskId": "task-odd", "stepId": step},
        {"taskId": "task-" + "e" * 32 + "-0", "stepId": "step-" + "e" * 32},
        {"taskId": "task-" + "d" * 32 + "-1", "stepId": "step-" + "e" * 32},  # misnamed
    ]
    with Cache(tmp_path / "c.sqlite3") as cache:
        cache.put("task", "f", "q", "j", tasks, "taskId", parent_field="stepId")
        kept = dict(cache._db.execute("SELECT id, parent FROM items WHERE kind='task'"))
        assert kept["task-" + "d" * 32 + "-0"] is None and kept["task-odd"] == step
        mine = cache.items("task", "f", "q", "j", parent=step)
        assert [t["taskId"] for t in mine] == [t["taskId"] for t in tasks[:3]]
        other = cache.items("task", "f", "q", "j", parent="step-" + "e" * 32)
        assert [t["taskId"] for t in other] == [t["taskId"] for t in tasks[3:]]


_JOB = ("farm-1", "queue-1", "job-1")


def _task_actions(letter: str, status: str, indexes: Iterable[int]) -> list[dict[str, Any]]:
    """Session actions of one session running one task, with these indexes."""
    run = {"taskRun": {"taskId": f"task-{letter * 32}-0", "stepId": f"step-{letter * 32}"}}
    head = f"sessionaction-{letter * 32}"
    return [
        {"sessionActionId": f"{head}-{n}", "status": status, "definition": run} for n in indexes
    ]


def _frame_after_fetch(ours: Cache, mine: list[dict[str, Any]]) -> Any:
    """The job frame load_job builds after fetching ``mine`` (kept as a frame, not dicts)."""
    from deadline_nb.fetch.actions import action_frame
    from deadline_nb.fetch.common import Ids
    from deadline_nb.fetch.sync import Synced

    ids = Ids(*_JOB)
    synced = Synced(
        {},
        frames=[dnb.session_action_frame(mine, **ids.frame_ids)],
        covered={str(a["sessionActionId"]) for a in mine},
    )
    return action_frame(ids, ours, synced)


def test_an_action_another_notebook_replaced_during_a_fetch_is_the_stored_one(
    tmp_path: Path,
) -> None:
    # load_job keeps its own frames (not dicts) of what it fetched; an action that another
    # notebook stored a newer answer for meanwhile comes from the cache, the others from them.
    mine = _task_actions("f", "RUNNING", range(3))
    path = tmp_path / "c.sqlite3"
    with Cache(path) as ours, Cache(path) as other:
        ours.put_actions(*_JOB, mine, remember=False)
        other.put_actions(*_JOB, [{**mine[1], "status": "SUCCEEDED"}])
        frame = _frame_after_fetch(ours, mine)
        assert frame["status"].astype(str).tolist() == ["RUNNING", "SUCCEEDED", "RUNNING"]
        # What was stored is that same frame, read back by the next build.
        assert ours.frame(*_JOB)[1]["status"].astype(str).tolist() == [  # type: ignore[index]
            "RUNNING",
            "SUCCEEDED",
            "RUNNING",
        ]


def test_an_action_another_notebook_added_during_a_fetch_joins_the_frame(
    tmp_path: Path,
) -> None:
    # The rows this fetch wrote are named by their write numbers, not read one by one; the
    # rows another notebook wrote meanwhile, between this fetch's writes, must still be read.
    mine = _task_actions("e", "SUCCEEDED", range(4))
    path = tmp_path / "c.sqlite3"
    with Cache(path) as ours, Cache(path) as other:
        ours.put_actions(*_JOB, mine[:2], remember=False)
        other.put_actions(*_JOB, _task_actions("e", "FAILED", [9]))
        ours.put_actions(*_JOB, mine[2:], remember=False)
        frame = _frame_after_fetch(ours, mine)
        assert frame["actionIndex"].tolist() == [0, 1, 2, 3, 9]
        assert frame["status"].astype(str).tolist()[-1] == "FAILED"
        stored = ours.frame(*_JOB)
        assert stored is not None and stored[1]["actionIndex"].tolist() == [0, 1, 2, 3, 9]
