"""A job's session logs fetched from the local farm's CloudWatch Logs, cached, and grepped.

Real boto3 clients over HTTP on 127.0.0.1: the farm serves each session's stream as the service
does; these tests check that what comes back is what it serves, line for line, in as few calls as
the rules allow, through the cache, under the quota, and with one-sentence errors.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.awsrequest
import pandas as pd
import pytest

import deadline_nb as dnb
from deadline_nb import cli
from deadline_nb.aws import logs_client
from deadline_nb.cache import Cache
from deadline_nb.errors import AccessDeniedError, DataWarning
from deadline_nb.fetch.logs import SETTLE_SECONDS, filter_pattern, log_group_name
from deadline_nb.localfarm import BIG_JOB, JOBS, LocalFarm, ManualClock
from deadline_nb.localfarm.sessionlog import streamless_session
from deadline_nb.localfarm.shapes import check_responses

from .test_localfarm_deadline_cli import deadline_env

FAST = {"GetLogEvents": 200.0, "FilterLogEvents": 200.0}


class LogCalls:
    """Count what a logs client sends per operation, and the events it receives."""

    def __init__(self, client: Any) -> None:
        self.calls: collections.Counter[str] = collections.Counter()
        self.events = 0
        client.meta.events.register("provide-client-params.logs", self._call)
        client.meta.events.register("after-call.logs.GetLogEvents", self._got)

    def _call(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    def _got(self, parsed: dict[str, Any], **_: Any) -> None:
        self.events += len(parsed.get("events", []))

    def clear(self) -> None:
        self.calls.clear()
        self.events = 0


def fast_logs(farm: LocalFarm, **config: Any) -> Any:
    """A checked logs client of the library's, at a pace that keeps the tests quick."""
    return check_responses(logs_client(endpoint_url=farm.endpoint_url, quotas=FAST, **config))


def ids_of(farm: LocalFarm, role: str) -> tuple[str, str, str]:
    spec = farm.job_by_name(JOBS.get(role, role))
    return farm.farm_id, spec.queue_id, spec.job_id


def truth(farm: LocalFarm, role: str) -> dict[str, list[tuple[int, int, str]]]:
    """Every stream of the job, as the farm serves it now: (timestamp, ingestion, message)."""
    farm_id, queue_id, job_id = ids_of(farm, role)
    group = log_group_name(farm_id, queue_id)
    out = {}
    for ref in farm.logs.streams(group):
        if ref.job_id == job_id:
            events, _ = farm.logs.events(group, ref.name)
            out[ref.name] = [(e.timestamp, e.ingestion_time, e.message) for e in events]
    return out


def lines_of(frame: pd.DataFrame) -> dict[str, list[tuple[int, int, str]]]:
    """A log frame's lines by session, in stream order, as :func:`truth` gives them."""
    out: dict[str, list[tuple[int, int, str]]] = {}
    ordered = frame.sort_values(["sessionId", "lineIndex"], kind="stable")
    for session, stamp, ingested, message in zip(
        ordered["sessionId"].astype(object),
        ordered["timestamp"].astype("int64") // 1_000_000,
        ordered["ingestionTime"].astype("int64") // 1_000_000,
        ordered["message"].astype(object),
        strict=True,
    ):
        out.setdefault(session, []).append((int(stamp), int(ingested), message))
    return out


def fetch(farm: LocalFarm, role: str, lc: Any, **options: Any) -> pd.DataFrame:
    options.setdefault("progress", False)
    return dnb.fetch_session_logs(
        *ids_of(farm, role),
        client=dnb.client(endpoint_url=farm.endpoint_url),
        logs_client=lc,
        **options,
    )


# ---- the whole job, line for line


def test_a_whole_job_is_what_the_farm_serves_in_one_call_per_small_ended_session(
    farm: LocalFarm, tmp_path: Path
) -> None:
    lc = fast_logs(farm)
    counted = LogCalls(lc)
    expected = truth(farm, "render")
    sessions = farm.model.view(ids_of(farm, "render")[2]).sessions
    silent = streamless_session(farm.model.job_build(ids_of(farm, "render")[2]))
    assert silent is not None and silent not in expected
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        logs = fetch(farm, "render", lc, cache=tmp_path / "c.sqlite3")
    # Line for line, the hard ones too (U+FFFD, carriage returns, a 256,000-byte event, " ").
    assert lines_of(logs) == expected
    messages = logs["message"].astype(object)
    assert messages.str.contains("\ufffd").any() and messages.str.contains("\r").any()
    assert messages.map(lambda m: len(m.encode())).max() == 256_000
    # One GetLogEvents per session, the one without a stream included; nothing else of logs.
    assert counted.calls == {"GetLogEvents": len(sessions)}
    # One warning for the whole fetch, naming the session without a stream.
    found = [w for w in caught if issubclass(w.category, DataWarning)]
    assert len(found) == 1 and silent in str(found[0].message)
    assert "ResourceNotFoundException" in str(found[0].message)
    assert set(logs["jobId"].astype(str)) == {ids_of(farm, "render")[2]}


def test_lines_are_attributed_to_the_farms_actions(farm: LocalFarm) -> None:
    ids = ids_of(farm, "failing")
    actions = dnb.fetch_session_action_frame(
        *ids, client=dnb.client(endpoint_url=farm.endpoint_url), cache=False, progress=False
    )
    logs = fetch(farm, "failing", fast_logs(farm), cache=False, actions=actions)
    truth_actions = farm.model.session_actions(ids[2])
    windows: dict[str, list[tuple[int, int, str]]] = {}
    for action in truth_actions:
        if action.get("startedAt") is not None:
            start, end = int(action["startedAt"] * 1000), int(action["endedAt"] * 1000)
            windows.setdefault(action["sessionId"], []).append(
                (start, end, action["sessionActionId"])
            )
    checked = 0
    for session, stamp, owner in zip(
        logs["sessionId"].astype(object),
        logs["timestamp"].astype("int64") // 1_000_000,
        logs["sessionActionId"].astype(object),
        strict=True,
    ):
        holders = [a for s, e, a in windows.get(session, []) if s <= stamp <= e]
        if len(holders) == 1:
            assert owner == holders[0]
            checked += 1
        elif not holders:
            assert pd.isna(owner)
    assert checked > 0.9 * len(logs)
    # Each task run's own banner is its first line.
    banners = logs[logs["message"] == "--------- Running Task"]
    kinds = actions.set_index("sessionActionId")["actionType"]
    assert set(kinds[banners["sessionActionId"].astype(str)]) == {"taskRun"}


# ---- the cache


def test_cached_ended_sessions_cost_nothing_and_refresh_or_no_cache_behave(
    farm: LocalFarm, tmp_path: Path
) -> None:
    cache = tmp_path / "c.sqlite3"
    lc = fast_logs(farm)
    counted = LogCalls(lc)
    first = fetch(farm, "failing", lc, cache=cache)
    sessions = len(truth(farm, "failing"))
    assert counted.calls["GetLogEvents"] == sessions
    counted.clear()
    again = fetch(farm, "failing", lc, cache=cache)
    assert counted.calls["GetLogEvents"] == 0
    pd.testing.assert_frame_equal(again, first)
    refreshed = fetch(farm, "failing", lc, cache=cache, refresh=True)
    assert counted.calls["GetLogEvents"] == sessions
    pd.testing.assert_frame_equal(refreshed, first)
    counted.clear()
    other = tmp_path / "none.sqlite3"
    bare = fetch(farm, "failing", lc, cache=False)
    assert not other.exists()
    pd.testing.assert_frame_equal(bare, first)
    with Cache(cache) as opened:
        assert len(opened.log_streams(*ids_of(farm, "failing"))) == sessions
        opened.clear(job_id=ids_of(farm, "failing")[2])
        assert opened.log_streams(*ids_of(farm, "failing")) == {}
        assert opened.log_columns(*ids_of(farm, "failing")).total == 0


def test_an_expired_or_refused_token_resumes_by_time_without_repeating_lines(
    farm: LocalFarm, tmp_path: Path
) -> None:
    cache = tmp_path / "c.sqlite3"
    lc = fast_logs(farm)
    whole = fetch(farm, "failing", lc, cache=cache)
    ids = ids_of(farm, "failing")
    with Cache(cache) as opened:
        stream = next(iter(opened.log_streams(*ids)))
        key = opened._key(*ids)
        db = opened._db
        # Half the stream kept, as a fetch stopped halfway left it, with a token the service
        # no longer takes; another stream with a token two days old.
        rows = db.execute(
            "SELECT page FROM log_pages WHERE job=? AND session=?", (key, stream)
        ).fetchall()
        assert rows
    with Cache(cache) as opened:
        db = opened._db
        db.execute("DELETE FROM log_streams WHERE job=? AND session=?", (key, stream))
        db.execute("DELETE FROM log_pages WHERE job=? AND session=?", (key, stream))
        events = [
            {"timestamp": t, "ingestionTime": i, "message": m}
            for t, i, m in truth(farm, "failing")[stream]
        ]
        half = len(events) // 2
        # Cut inside a run of events at one millisecond, the hard case of a resume by time.
        while half < len(events) - 1 and events[half]["timestamp"] != events[half - 1]["timestamp"]:
            half += 1
        opened.put_log_page(
            *ids, stream, events[:half], token="f/" + "9" * 56 + "/s", complete=False
        )
        later = sorted(opened.log_streams(*ids))[-1]
        db.execute(
            "UPDATE log_streams SET complete=0, read_at=? WHERE job=? AND session=?",
            (time.time() - 2 * 86400, key, later),
        )
    again = fetch(farm, "failing", lc, cache=cache)
    pd.testing.assert_frame_equal(again, whole)


def fetch_logs_in_child(endpoint: str, ids: tuple[str, str, str], cache: Path) -> Any:
    code = (
        "import deadline_nb as dnb\n"
        "from deadline_nb.aws import logs_client\n"
        f"lc = logs_client(endpoint_url={endpoint!r}, quotas={{'GetLogEvents': 20}})\n"
        f"dnb.fetch_session_logs({ids[0]!r}, {ids[1]!r}, {ids[2]!r}, "
        f"client=dnb.client(endpoint_url={endpoint!r}), logs_client=lc, cache={str(cache)!r}, "
        "progress=False, max_workers=2)\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def stored_streams(cache: Path) -> int:
    if not cache.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{cache}?mode=ro", uri=True, timeout=1) as db:
            return int(db.execute("SELECT count(*) FROM log_streams").fetchone()[0])
    except sqlite3.OperationalError:  # the tables are not made yet
        return 0


def test_sigkill_mid_fetch_then_the_rerun_reads_only_the_rest(tmp_path: Path) -> None:
    cache = tmp_path / "c.sqlite3"
    with LocalFarm(seed=0, size=2000, latency=0.02) as big:
        ids = ids_of(big, BIG_JOB)
        expected = truth(big, BIG_JOB)
        child = fetch_logs_in_child(big.endpoint_url, ids, cache)
        try:
            deadline = time.monotonic() + 120
            while stored_streams(cache) < 20 and time.monotonic() < deadline:
                assert child.poll() is None, child.communicate()
                time.sleep(0.01)
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.kill()
            child.communicate()
        assert child.returncode == -signal.SIGKILL
        with Cache(cache) as opened:
            assert opened._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            kept = {s for s, st in opened.log_streams(*ids).items() if st.complete}
        assert 20 <= len(kept) < len(expected)
        lc = fast_logs(big)
        counted = LogCalls(lc)
        logs = fetch(big, BIG_JOB, lc, cache=cache)
    assert lines_of(logs) == expected
    assert counted.calls["GetLogEvents"] == len(expected) - len(kept)


def test_a_running_session_fetches_only_what_is_new_as_the_clock_moves(tmp_path: Path) -> None:
    clock = ManualClock(1_800_000_000.0)
    cache = tmp_path / "c.sqlite3"
    with LocalFarm(seed=0, clock=clock) as running:
        lc = fast_logs(running)
        counted = LogCalls(lc)
        before = fetch(running, "running", lc, cache=cache)
        assert lines_of(before) == truth(running, "running")
        seen = len(before)
        for _ in range(3):
            clock.advance(120.0)
            counted.clear()
            after = fetch(running, "running", lc, cache=cache)
            expected = truth(running, "running")
            assert lines_of(after) == expected
            # Only the new lines came over the wire (the farm's clock is past this machine's:
            # no session of it counts as settled, each resumes from its token).
            assert counted.events == len(after) - seen
            assert counted.calls["GetLogEvents"] <= 2 * len(expected)
            seen = len(after)
        assert seen > len(before)


def test_settled_means_ended_a_while_ago_by_this_machines_clock() -> None:
    from deadline_nb.fetch.logs import _session_info

    now = time.time()
    assert _session_info("s", "ENDED", None, now - SETTLE_SECONDS - 60).final
    assert not _session_info("s", "ENDED", None, now - 10).final
    assert not _session_info("s", "STARTED", None, None).final


# ---- errors and hard input


class _Raw:
    """What botocore reads a response body from."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        return iter([self.body])


def answer(status: int, body: dict[str, Any]) -> Any:
    """A response as the service would send it, handed to botocore by a before-send hook."""
    headers = botocore.awsrequest.HTTPHeaders()
    headers["Content-Type"] = "application/x-amz-json-1.1"
    return botocore.awsrequest.AWSResponse(
        "https://logs.example", status, headers, _Raw(json.dumps(body).encode())
    )


def test_access_denied_names_the_log_group_and_the_action_to_grant(farm: LocalFarm) -> None:
    lc = logs_client(endpoint_url=farm.endpoint_url, quotas=FAST)
    denied = {
        "__type": "AccessDeniedException",
        "message": "User: arn:aws:sts::123456789012:assumed-role/Artist/x is not authorized",
    }
    lc.meta.events.register("before-send.logs.GetLogEvents", lambda **_: answer(400, denied))
    with pytest.raises(AccessDeniedError) as caught:
        fetch(farm, "failing", lc, cache=False)
    text = str(caught.value)
    group = log_group_name(*ids_of(farm, "failing")[:2])
    assert group in text and "logs:GetLogEvents" in text
    assert text.count(". ") == 0 and text.endswith(".")
    assert caught.value.code == "AccessDeniedException"
    assert caught.value.operation == "GetLogEvents"


def test_lone_surrogates_and_empty_answers_never_crash(farm: LocalFarm, tmp_path: Path) -> None:
    lc = logs_client(endpoint_url=farm.endpoint_url, quotas=FAST)
    body = {
        "events": [
            {"timestamp": 1772438400000, "message": "bad \ud800 text", "ingestionTime": 1},
            {"timestamp": 1772438400001, "message": " ", "ingestionTime": 1},
            {"timestamp": 1772438400002, "message": "x" * 256_000, "ingestionTime": 1},
            {"timestamp": 1772438400003, "message": "10%\r50%\r100%", "ingestionTime": 1},
        ],
        "nextForwardToken": "f/1/s",
        "nextBackwardToken": "b/1/s",
    }
    lc.meta.events.register("before-send.logs.GetLogEvents", lambda **_: answer(200, body))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        logs = fetch(farm, "failing", lc, cache=tmp_path / "c.sqlite3")
    sessions = len(truth(farm, "failing"))
    assert len(logs) == 4 * sessions
    assert set(logs["message"].str.slice(0, 5)) == {"bad \ufffd", " ", "xxxxx", "10%\r5"}
    assert any("U+FFFD" in str(w.message) for w in caught)


def test_throttling_under_the_quota_knob_is_waited_out(tmp_path: Path) -> None:
    with LocalFarm(seed=0, logs_quota=8) as limited:
        lc = check_responses(
            logs_client(endpoint_url=limited.endpoint_url, quotas={"GetLogEvents": 40})
        )
        logs = fetch(limited, "failing", lc, cache=False)
        sessions = len(truth(limited, "failing"))
        assert lines_of(logs) == truth(limited, "failing")
        # Sent faster than the farm allows: some were throttled, and retried.
        assert limited.calls["GetLogEvents"] > sessions


def test_the_rate_limiter_keeps_a_burst_of_threads_under_the_rate(farm: LocalFarm) -> None:
    rate = 20.0
    group = log_group_name(*ids_of(farm, "failing")[:2])
    stream = next(iter(truth(farm, "failing")))
    # Two clients of one endpoint share the quota; a third made later without quotas too.
    clients = [
        logs_client(endpoint_url=farm.endpoint_url, quotas={"GetLogEvents": rate}),
        logs_client(endpoint_url=farm.endpoint_url, quotas={"GetLogEvents": rate}),
        logs_client(endpoint_url=farm.endpoint_url),
    ]
    sent: list[float] = []
    lock = threading.Lock()

    def stamp(**_: Any) -> None:
        with lock:
            sent.append(time.monotonic())

    for c in clients:  # registered after the pacing: the moment each request really goes
        c.meta.events.register("before-send.logs", stamp)

    def burst(c: Any) -> None:
        for _ in range(10):
            c.get_log_events(logGroupName=group, logStreamName=stream, limit=1)

    threads = [threading.Thread(target=burst, args=(clients[i % 3],)) for i in range(6)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    assert len(sent) == 60
    # 60 requests at 20 a second take about 3 s; never more than 20 (+1) in any second.
    assert elapsed >= 59 / rate * 0.95
    sent.sort()
    most = max(sum(1 for t in sent if s <= t < s + 1.0) for s in sent)
    assert most <= rate + 1


# ---- grep


PATTERNS = [
    ("EDAC", True, True),
    ("License checkout failed", False, True),
    (r"exited with code: [1-9]", True, True),
    ("edac mc0", True, False),
    (r"(?i)killed\s+glm", True, True),
]
SAME = ["sessionId", "sessionActionId", "timestamp", "message", "workerId", "stepName", "taskId"]


@pytest.fixture(scope="module")
def failing_job(farm: LocalFarm) -> dnb.Job:
    return dnb.load_job(
        *ids_of(farm, "failing"),
        client=dnb.client(endpoint_url=farm.endpoint_url),
        cache=False,
        progress=False,
    )


@pytest.mark.parametrize(("pattern", "regex", "case"), PATTERNS)
def test_the_service_and_the_cached_logs_grep_the_same_lines(
    farm: LocalFarm, failing_job: dnb.Job, pattern: str, regex: bool, case: bool
) -> None:
    farm.reset_calls()
    served = dnb.grep_logs(failing_job, pattern, regex=regex, case=case, server=True)
    calls = dict(farm.calls)
    local = dnb.grep_logs(failing_job, pattern, regex=regex, case=case, server=False)
    assert len(local) > 0
    params = [c for c in local.columns if c.startswith("param.")]
    key = ["sessionId", "timestamp", "message"]

    def norm(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[SAME + params].sort_values(key).reset_index(drop=True).astype(object)

    pd.testing.assert_frame_equal(norm(served), norm(local))
    if filter_pattern(pattern, regex=regex, case=case) is not None:
        # One FilterLogEvents for the job's 21 streams, nothing read in full.
        assert calls == {"FilterLogEvents": 1}
        assert (served["lineIndex"] == -1).all() and served["eventId"].notna().all()


def test_the_service_grep_finds_the_stream_that_does_not_exist_and_answers_all_the_same(
    farm: LocalFarm,
) -> None:
    job = dnb.load_job(
        *ids_of(farm, "render"),
        client=dnb.client(endpoint_url=farm.endpoint_url),
        cache=False,
        progress=False,
    )
    silent = streamless_session(farm.model.job_build(job.job_id))
    farm.reset_calls()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        served = dnb.grep_logs(job, "Deleting working directory", regex=False, server=True)
    # The list of 35 names is refused while it holds the one without a stream: halved down to
    # it, a few calls rather than one per stream.
    assert 1 < farm.calls["FilterLogEvents"] <= 2 * 6 + 1
    found = [w for w in caught if issubclass(w.category, DataWarning)]
    assert len(found) == 1 and silent is not None and silent in str(found[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        local = dnb.grep_logs(job, "Deleting working directory", regex=False, server=False)
    key = ["sessionId", "timestamp", "message"]
    assert len(served) == len(local) == len(job.sessions) - 1
    pd.testing.assert_frame_equal(
        served[SAME].sort_values(key).reset_index(drop=True).astype(object),
        local[SAME].sort_values(key).reset_index(drop=True).astype(object),
    )


def test_grep_logs_by_worker_finds_the_bad_worker(failing_job: dnb.Job) -> None:
    actions = failing_job.actions
    failures = collections.Counter(
        actions.loc[actions["status"] == "FAILED", "workerId"].astype(str)
    )
    (worst, most), (_, second) = failures.most_common(2)
    assert most > second
    hits = dnb.grep_logs(failing_job, "EDAC")
    by_worker = hits.groupby("workerId", observed=True).size()
    assert list(by_worker.index) == [worst]


def test_grep_logs_refuses_a_pattern_re2_cannot_run_before_any_call(
    farm: LocalFarm, failing_job: dnb.Job
) -> None:
    farm.reset_calls()
    with pytest.raises(ValueError, match="`pattern`"):
        dnb.grep_logs(failing_job, "a(?=b)")
    assert sum(farm.calls.values()) == 0


def test_filter_patterns_are_supersets_the_service_accepts() -> None:
    from deadline_nb.localfarm.logs import compile_filter

    line = "Error: license server 10.0.0.12 (port 27000) unreachable"
    made = filter_pattern("license server 10.0.0.12 (port", regex=False)
    assert made == r"%10\.0\.0\.12%"
    assert filter_pattern("xxx.y", regex=False) == r"%xxx\.y%"
    assert filter_pattern("ab") is None and filter_pattern("(foo|bar)") is None
    assert filter_pattern("a|bcdef") is None  # an alternation: no text every match has
    assert filter_pattern("LICENSE", case=False) == "%[Ll][Ii][Cc][Ee][Nn][Ss][Ee]%"
    for pattern, regex, case in [*PATTERNS, ("license server 10.0.0.12 (port", False, True)]:
        spelled = filter_pattern(pattern, regex=regex, case=case)
        assert spelled is not None
        compile_filter(spelled)  # the farm refuses what the service's syntax refuses
    assert compile_filter(made)(line) and compile_filter("%[Ll][Ii][Cc]%")(line)


# ---- one action's text, and the command lines


def test_action_log_tail_and_the_job_method(failing_job: dnb.Job) -> None:
    actions = failing_job.actions
    action = actions.loc[actions["processExitCode"] == 137, "sessionActionId"].iloc[0]
    whole = dnb.action_log(failing_job, action)
    lines = whole.split("\n")
    assert lines[-1].startswith("Process pid ") and "exited with code: 137" in lines[-1]
    assert dnb.action_log(failing_job, action, tail=3) == "\n".join(lines[-3:])
    assert failing_job.action_log(action, tail=1) == lines[-1]
    with pytest.raises(ValueError, match="`session_action_id`"):
        dnb.action_log(failing_job, "sessionaction-" + "0" * 32 + "-0")
    with pytest.raises(ValueError, match="`tail`"):
        dnb.action_log(failing_job, action, tail=0)


def test_the_official_cli_prints_the_same_lines_as_action_log(
    farm: LocalFarm, failing_job: dnb.Job, tmp_path: Path
) -> None:
    actions = failing_job.actions
    action = actions.loc[actions["processExitCode"] == 1, "sessionActionId"].iloc[0]
    executable = Path(sys.executable).with_name("deadline")
    result = subprocess.run(
        [
            str(executable),
            "job",
            "logs",
            "--farm-id",
            failing_job.farm_id,
            "--queue-id",
            failing_job.queue_id,
            "--job-id",
            failing_job.job_id,
            "--session-action-id",
            action,
            "--limit",
            "10000",
            "--output",
            "json",
        ],
        env=deadline_env(farm, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    printed = [e["message"] for e in json.loads(result.stdout)["events"]]
    logs = failing_job.logs
    mine = logs.loc[logs["sessionActionId"] == action, "message"].astype(str).tolist()
    # The official CLI strips trailing whitespace from each message.
    assert printed == [m.rstrip() for m in mine]
    assert dnb.action_log(failing_job, action) == "\n".join(mine)


def test_the_logs_subcommand(
    farm: LocalFarm, failing_job: dnb.Job, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    options = [
        "logs",
        "--farm-id",
        failing_job.farm_id,
        "--queue-id",
        failing_job.queue_id,
        "--job-id",
        failing_job.job_id,
        "--endpoint-url",
        farm.endpoint_url,
        "--quiet",
    ]
    os.environ["DEADLINE_NB_CACHE"], saved = (
        str(tmp_path / "c.sqlite3"),
        os.environ.get("DEADLINE_NB_CACHE", ""),
    )
    try:
        action = failing_job.actions["sessionActionId"].iloc[3]
        assert cli.main([*options, "--session-action-id", action, "--tail", "4"]) == 0
        assert capsys.readouterr().out == dnb.action_log(failing_job, action, tail=4) + "\n"

        assert cli.main([*options, "--failed", "--tail", "1"]) == 0
        out = capsys.readouterr().out.splitlines()
        failed = failing_job.actions[failing_job.actions["status"] == "FAILED"]
        assert sum(line.startswith("== sessionaction-") for line in out) == len(failed)
        assert all(line.startswith(("== ", "Process pid ")) for line in out)

        assert cli.main([*options, "--grep", "EDAC"]) == 0
        out = capsys.readouterr().out.splitlines()
        assert out and all("EDAC" in line and " worker-" in line for line in out)

        for bad, word in (
            (["--grep", "a(?=b)"], "`--grep`"),
            (["--session-action-id", "sessionaction-x-1"], "`--session-action-id`"),
            (["--tail", "0"], "--tail"),
            (["--failed", "--session-action-id", action], "not allowed with"),
        ):
            with pytest.raises(SystemExit) as exited:
                cli.main([*options, *bad])
            assert exited.value.code == 2
            assert word in capsys.readouterr().err
    finally:
        os.environ["DEADLINE_NB_CACHE"] = saved


# ---- credentials


def test_the_logs_client_takes_the_queue_role_with_a_monitor_login(
    monkeypatch: pytest.MonkeyPatch, deadline_defaults: Any
) -> None:
    import boto3
    import deadline.client.api as api

    deadline_defaults("farm-1", "queue-1", "job-1")
    asked: list[dict[str, Any]] = []
    queue_session = boto3.Session(
        aws_access_key_id="queue", aws_secret_access_key="role", region_name="eu-west-1"
    )

    def queue_role(**kwargs: Any) -> Any:
        asked.append(kwargs)
        return queue_session

    monkeypatch.setattr(api, "get_user_and_identity_store_id", lambda *a, **k: ("u-1", "d-1"))
    monkeypatch.setattr(api, "get_queue_user_boto3_session", queue_role)
    deadline = dnb.client(region="eu-west-1")
    made = logs_client(
        region="eu-west-1", farm_id="farm-1", queue_id="queue-1", deadline_client=deadline
    )
    assert asked == [{"deadline": deadline, "farm_id": "farm-1", "queue_id": "queue-1"}]
    assert made._request_signer._credentials.access_key == "queue"
    # Without such a login: the profile's own credentials, as the official CLI does.
    monkeypatch.setattr(api, "get_user_and_identity_store_id", lambda *a, **k: (None, None))
    asked.clear()
    logs_client(region="eu-west-1", farm_id="farm-1", queue_id="queue-1")
    assert asked == []


def test_a_local_endpoint_needs_no_credentials(farm: LocalFarm, no_aws_config: None) -> None:
    made = logs_client(endpoint_url=farm.endpoint_url)
    assert made.meta.endpoint_url == farm.endpoint_url
    assert made.describe_log_groups()["logGroups"]
    with pytest.raises(ValueError, match="`quotas`"):
        logs_client(endpoint_url=farm.endpoint_url, quotas={"GetLogEvents": 0})
