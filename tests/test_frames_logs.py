"""Session logs as a frame: attribution to actions, sections, hard lines, grep, failures.

The logs are written here the way openjd-sessions and the worker agent write them (the texts are
in deadline_nb/frames/logs.py's docstring, with their sources): section banners, ``Phase:``
subsections, parameter values, the command and pid, the task's output with ``openjd_*`` lines,
and openjd's exit-code line, including the signed form of a Windows crash code.
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deadline_nb as dnb
from deadline_nb import schema
from deadline_nb.errors import DataWarning

from .helpers import FARM, JOB, QUEUE, STEP

T0 = datetime(2026, 11, 26, 22, 0, tzinfo=timezone.utc)
T0_MS = int(T0.timestamp() * 1000)
RULE, DASH = "=" * 46, "-" * 46
WORKERS = {1: "worker-" + "1" * 32, 2: "worker-" + "2" * 32, 3: "worker-" + "3" * 32}


def at(ms: float) -> datetime:
    """T0 + ms (a datetime, as boto3 gives action times)."""
    return T0 + timedelta(milliseconds=ms)


def exit_line(pid: int, code: int) -> str:
    """openjd's _subprocess.py _log_returncode, for the code Python's Popen gives."""
    unsigned = code & 0xFFFFFFFF if code < -0xFFFF else code  # Windows: Popen gives it unsigned
    text = f"Process pid {pid} exited with code: {unsigned} (unsigned) / {hex(unsigned)} (hex)"
    if unsigned >= 0x7FFFFFFF:
        signed = int.from_bytes((unsigned & 0xFFFFFFFF).to_bytes(4, "big"), "big", signed=True)
        text += f" / {signed} (signed)"
    return text


class Session:
    """One session's log events and its actions, written together so that they agree."""

    def __init__(self, number: int = 1, worker: int = 1) -> None:
        self.hex = f"{number:032x}"
        self.id = f"session-{self.hex}"
        self.worker = WORKERS[worker]
        self.events: list[dict[str, Any]] = []
        self.actions: list[dict[str, Any]] = []
        self.expected: list[str | None] = []  # the action of each event (None: between)

    def action_id(self, n: int) -> str:
        return f"sessionaction-{self.hex}-{n}"

    def log(self, ms: int, text: str, owner: int | None = None) -> None:
        self.events.append(
            {"timestamp": T0_MS + ms, "message": text, "ingestionTime": T0_MS + ms + 800}
        )
        self.expected.append(None if owner is None else self.action_id(owner))

    def banner(self, ms: int, title: str, owner: int | None) -> None:
        # what the agent sends for openjd's log_section_banner: the blank line is a space
        for text in (" ", RULE, f"--------- {title}", RULE):
            self.log(ms, text, owner)

    def phase(self, ms: int, title: str, owner: int | None) -> None:
        for text in (DASH, title, DASH):
            self.log(ms, text, owner)

    def start(self, ms: int = 0) -> None:
        """What openjd logs when the session is made: before any banner or action."""
        self.log(ms, "openjd.model Library Version: 0.4.4")
        self.log(ms, "openjd.sessions Library Version: 0.10.1")
        self.log(ms, f"Initializing Open Job Description Session: {self.id}")

    def add_action(
        self,
        n: int,
        definition: dict[str, Any],
        start: float | None,
        end: float | None,
        status: str,
        exit_code: int | None = None,
    ) -> None:
        item: dict[str, Any] = {
            "sessionActionId": self.action_id(n),
            "sessionId": self.id,
            "status": status,
            "definition": definition,
        }
        if start is not None:
            item["startedAt"] = at(start)
        if end is not None:
            item["endedAt"] = at(end)
        if exit_code is not None:
            item["processExitCode"] = exit_code
        self.actions.append(item)

    def env(self, n: int, kind: str, start: int, end: int, name: str = "Rez") -> None:
        title = "Entering Environment" if kind == "envEnter" else "Exiting Environment"
        self.banner(start, f"{title}: {name}", n)
        if end > start:
            self.phase(start + 1, "Phase: Setup", n)
            self.phase(start + 1, "Phase: Running action", n)
            self.log(start + 2, f"Running command /sessions/{self.id}abc/tmp{n}.sh", n)
            self.log(start + 2, "Command started as pid: 101", n)
            self.log(start + 2, "Output:", n)
            self.log(end, exit_line(101, 0), n)
        self.add_action(n, {kind: {"environmentId": f"JOB:{name}"}}, start, end, "SUCCEEDED")

    def task(
        self,
        n: int,
        start: int,
        end: int,
        *,
        frame: int,
        output: Iterable[str] = ("Rendering frame",),
        code: int = 0,
        status: str | None = None,
    ) -> None:
        self.banner(start, "Running Task", n)
        self.log(start + 1, "Parameter values:", n)
        self.log(start + 1, f"Frame(INT) = {frame}", n)
        self.phase(start + 2, "Phase: Setup", n)
        self.log(start + 2, "Writing embedded files for Task to disk.", n)
        self.phase(start + 3, "Phase: Running action", n)
        self.log(start + 3, f"Running command /sessions/{self.id}abc/tmp.sh", n)
        self.log(start + 3, "Command started as pid: 4242", n)
        self.log(start + 3, "Output:", n)
        lines = list(output)
        for i, text in enumerate(lines):
            self.log(start + 4 + i * (end - start - 5) // max(len(lines), 1), text, n)
        self.log(end, exit_line(4242, code), n)
        self.add_action(
            n,
            {
                "taskRun": {
                    "stepId": STEP,
                    "taskId": f"task-{STEP[5:]}-{frame}",
                    "parameters": {"Frame": {"int": str(frame)}},
                }
            },
            start,
            end,
            status or ("SUCCEEDED" if code == 0 else "FAILED"),
            exit_code=code,
        )

    def cleanup(self, ms: int) -> None:
        self.banner(ms, "Session Cleanup", None)
        self.log(ms + 1, f"Deleting working directory: /sessions/{self.id}abc")


def standard_session(number: int = 1, worker: int = 1, *, fail_code: int = 1) -> Session:
    """Start-up lines, enter Rez, three tasks (the second fails), a never-attempted task, the
    agent's line between actions, exit Rez, clean-up."""
    s = Session(number, worker)
    s.start()
    s.env(0, "envEnter", 10, 60)
    s.task(1, 100, 2_000, frame=1, output=["openjd_progress: 50.0", "Rendering frame 1"])
    s.task(
        2,
        2_100,
        4_000,
        frame=2,
        output=["Loading scene", "Error: license server 10.0.0.12:27000 unreachable"],
        code=fail_code,
    )
    s.add_action(3, {"taskRun": {"stepId": STEP, "taskId": "t"}}, None, None, "NEVER_ATTEMPTED")
    s.log(4_050, "Session action queue emptied: stopping")  # between actions: no owner
    s.env(4, "envExit", 4_100, 4_150)
    s.cleanup(4_200)
    return s


def frame_of(*sessions: Session, **kwargs: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    actions = dnb.session_action_frame([a for s in sessions for a in s.actions])
    logs = dnb.log_frame({s.id: s.events for s in sessions}, actions=actions, **kwargs)
    return logs, actions


def caught(function: Any, *args: Any, **kwargs: Any) -> tuple[Any, list[str]]:
    """Call, returning the result and the messages of the DataWarnings it gave."""
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        result = function(*args, **kwargs)
    assert all(issubclass(r.category, DataWarning) for r in records), [
        str(r.message) for r in records
    ]
    return result, [str(r.message) for r in records]


def owners(frame: pd.DataFrame) -> list[str | None]:
    return [None if pd.isna(v) else str(v) for v in frame["sessionActionId"]]


def assert_schema(frame: pd.DataFrame, columns: Any) -> None:
    """The frame has ``columns`` (a schema mapping) first, with their dtypes."""
    assert list(frame.columns[: len(columns)]) == list(columns)
    empty = schema.empty_frame(columns)
    for name in columns:
        expected = empty[name].dtype
        got = frame[name].dtype
        if isinstance(expected, pd.CategoricalDtype) and expected.categories.empty:
            assert isinstance(got, pd.CategoricalDtype), name
        else:
            assert got == expected, (name, got, expected)


# ---------------------------------------------------------------------------------------------
# columns, input forms


def test_columns_and_dtypes_are_the_schemas_for_lines_and_for_none() -> None:
    logs, _ = frame_of(standard_session())
    assert_schema(logs, schema.LOG_COLUMNS)
    assert list(logs.columns) == list(schema.LOG_COLUMNS)
    nothing: list[Any] = [[], {}, {"session-x": []}, {"events": [], "nextForwardToken": "f"}, [[]]]
    for empty in nothing:
        frame = dnb.log_frame(empty)
        assert len(frame) == 0
        assert_schema(frame, schema.LOG_COLUMNS)
        assert list(frame.columns) == list(schema.LOG_COLUMNS)


def test_every_line_gets_its_action_section_and_phase() -> None:
    s = standard_session()
    logs, _ = frame_of(s)
    assert len(logs) == len(s.events)
    assert logs["message"].tolist() == [e["message"] for e in s.events]
    assert owners(logs) == s.expected
    assert logs["lineIndex"].tolist() == list(range(len(s.events)))
    assert (logs["sessionId"] == s.id).all()
    by_message = logs.set_index("message")
    assert pd.isna(by_message.loc[f"Initializing Open Job Description Session: {s.id}", "section"])
    assert by_message.loc["Frame(INT) = 2", "section"] == "Running Task"
    assert pd.isna(by_message.loc["Frame(INT) = 2", "phase"])  # before the task's first phase
    assert by_message.loc["Loading scene", "phase"] == "Phase: Running action"
    setup = logs[logs["message"] == "Writing embedded files for Task to disk."]
    assert len(setup) == 2 and (setup["phase"] == "Phase: Setup").all()
    cleanup = logs[logs["section"] == "Session Cleanup"]
    assert len(cleanup) == 5 and cleanup["sessionActionId"].isna().all()
    assert cleanup["phase"].isna().all()  # a new section ends the phase before it
    assert set(logs["section"].dropna()) == {
        "Entering Environment: Rez",
        "Running Task",
        "Exiting Environment: Rez",
        "Session Cleanup",
    }
    # the never-attempted action has no window, so no line
    assert s.action_id(3) not in set(logs["sessionActionId"].dropna())
    # the agent's line between actions belongs to none, but keeps the section it falls under
    between = logs[logs["message"] == "Session action queue emptied: stopping"].iloc[0]
    assert pd.isna(between["sessionActionId"]) and between["section"] == "Running Task"


def test_input_forms_give_the_same_frame() -> None:
    one, two = standard_session(1), standard_session(2, worker=2)
    actions = dnb.session_action_frame(one.actions + two.actions)
    expected = dnb.log_frame({one.id: one.events, two.id: two.events}, actions=actions)

    def filtered(s: Session, start: int) -> list[dict[str, Any]]:
        return [
            {**e, "logStreamName": s.id, "eventId": f"{start + i:056d}"}
            for i, e in enumerate(s.events)
        ]

    pages: list[dict[str, Any]] = [
        {"events": filtered(two, 0)[:7], "nextToken": "a"},
        {"events": filtered(two, 0)[7:] + filtered(one, 1000), "searchedLogStreams": []},
    ]
    forms: list[Any] = [
        # FilterLogEvents pages, and their events flat
        pages,
        [e for page in pages for e in page["events"]],
        # GetLogEvents responses by session (a response of each page), and lists of them
        {
            one.id: {"events": one.events, "nextForwardToken": "f/9"},
            two.id: [{"events": two.events[:5]}, {"events": two.events[5:]}],
        },
        # what `deadline job logs --output json` prints names its stream
        [{"events": one.events, "logStream": one.id}, {"events": two.events, "logStream": two.id}],
        # sessions in the other order
        {two.id: two.events, one.id: one.events},
    ]
    for form in forms:
        got = dnb.log_frame(form, actions=actions)
        pd.testing.assert_frame_equal(got.drop(columns="eventId"), expected.drop(columns="eventId"))
    single = dnb.log_frame(one.events, session_id=one.id, actions=actions)
    pd.testing.assert_frame_equal(
        single, dnb.log_frame({one.id: one.events}, actions=actions), check_categorical=False
    )
    assert dnb.log_frame(pages)["eventId"].notna().all()
    assert dnb.log_frame({one.id: one.events})["eventId"].isna().all()


def test_frames_of_several_fetches_stack_with_their_categories() -> None:
    one, two = standard_session(1), standard_session(2)
    first, _ = frame_of(one)
    second, _ = frame_of(two)
    both = dnb.frames.concat_frames([first, second])
    assert len(both) == len(first) + len(second)  # every line, though lines share actions
    assert_schema(both, schema.LOG_COLUMNS)
    assert set(both["sessionId"]) == {one.id, two.id}
    assert both["sessionActionId"].notna().sum() == (
        first["sessionActionId"].notna().sum() + second["sessionActionId"].notna().sum()
    )


def test_events_without_a_session_have_none_and_no_action() -> None:
    s = standard_session()
    actions = dnb.session_action_frame(s.actions)
    logs = dnb.log_frame(s.events, actions=actions)
    assert logs["sessionId"].isna().all() and logs["sessionActionId"].isna().all()
    assert logs["message"].tolist() == [e["message"] for e in s.events]


def test_ids_from_the_keywords() -> None:
    s = standard_session()
    logs = dnb.log_frame({s.id: s.events}, farm_id=FARM, queue_id=QUEUE, job_id=JOB)
    assert (logs["farmId"] == FARM).all() and (logs["queueId"] == QUEUE).all()
    assert (logs["jobId"] == JOB).all()
    assert logs["sessionActionId"].isna().all()  # no actions given: nothing attributed


def test_unsorted_and_shuffled_input_gives_the_same_frame() -> None:
    one, two = standard_session(1), standard_session(2)
    expected, actions = frame_of(one, two)
    rng = random.Random(7)
    flat = [{**e, "logStreamName": s.id} for s in (one, two) for e in s.events]
    # A stable sort by time keeps equal times in input order; shuffle only across times.
    by_time: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for e in flat:
        by_time.setdefault((e["logStreamName"], e["timestamp"]), []).append(e)
    keys = list(by_time)
    rng.shuffle(keys)
    shuffled = [e for k in keys for e in by_time[k]]
    assert shuffled != flat
    got = dnb.log_frame(shuffled, actions=actions)
    pd.testing.assert_frame_equal(got, expected)


def test_filter_log_events_repeats_are_one_line_but_equal_lines_without_ids_stay() -> None:
    s = Session()
    for _ in range(4):
        s.log(10, " ")  # a banner's blank lines: equal time, equal text, two real lines
    events = [{**e, "logStreamName": s.id, "eventId": str(i)} for i, e in enumerate(s.events)]
    pages = [{"events": events[:3]}, {"events": events[2:]}]  # event 2 on both pages
    logs = dnb.log_frame(pages)
    assert len(logs) == 4 and logs["eventId"].tolist() == ["0", "1", "2", "3"]
    without_ids = dnb.log_frame({s.id: s.events + s.events[:1]})
    assert len(without_ids) == 5


# ---------------------------------------------------------------------------------------------
# attribution at the edges


def test_window_edges_are_inclusive_in_whole_milliseconds() -> None:
    s = Session()
    # startedAt and endedAt with sub-millisecond parts: the agent truncates line times to ms
    s.add_action(0, {"envEnter": {"environmentId": "JOB:Rez"}}, 100.7, 200.4, "SUCCEEDED")
    for ms, owner in ((99, None), (100, 0), (150, 0), (200, 0), (201, None)):
        s.log(ms, f"at {ms}", owner)
    logs, _ = frame_of(s)
    assert owners(logs) == s.expected


def test_a_shared_millisecond_is_split_at_the_later_actions_banner() -> None:
    s = Session()
    s.env(0, "envEnter", 10, 500)  # ends at ms 500 ...
    s.log(500, "Rez: environment ready", 0)  # ... and logs once more in that millisecond
    s.task(1, 500, 900, frame=1)  # which the task starts in
    s.log(900, "flushing output", 1)
    s.task(2, 900, 1_300, frame=2)  # and the next one starts in the millisecond the first ends
    logs, _ = frame_of(s)
    assert owners(logs) == s.expected


def test_an_action_started_and_ended_in_one_millisecond_keeps_its_banner() -> None:
    s = Session()
    s.env(0, "envEnter", 10, 10)  # an environment with nothing to run: no time at all
    s.task(1, 10, 400, frame=1)
    logs, _ = frame_of(s)
    assert owners(logs) == s.expected
    assert logs.loc[
        logs["message"] == "--------- Entering Environment: Rez", "sessionActionId"
    ].iloc[0] == s.action_id(0)


def test_a_running_action_is_open_until_the_next_one_starts() -> None:
    s = Session()
    s.add_action(0, {"envEnter": {"environmentId": "JOB:Rez"}}, 0, None, "RUNNING")
    s.log(5, "entering", 0)
    s.log(10_000_000, "still entering, hours later", 0)
    logs, _ = frame_of(s)
    assert owners(logs) == s.expected
    # with a later action, the open one ends where it starts
    s.add_action(1, {"taskRun": {"stepId": STEP, "taskId": "t"}}, 20_000_000, None, "RUNNING")
    s.log(20_000_001, "the task", 1)
    logs, _ = frame_of(s)
    assert owners(logs) == s.expected


def test_actions_of_other_sessions_and_without_session_ids_are_handled() -> None:
    one, two = standard_session(1), standard_session(2)
    actions = dnb.session_action_frame(one.actions + two.actions)
    logs = dnb.log_frame({one.id: one.events}, actions=actions)
    assert owners(logs) == one.expected  # two's actions overlap in time but not in session
    no_session = actions.drop(columns=["sessionId", "actionType", "actionIndex"])
    logs = dnb.log_frame({one.id: one.events}, actions=no_session)
    assert owners(logs) == one.expected  # the session is read off the action id
    with pytest.raises(TypeError, match="`actions`"):
        dnb.log_frame({one.id: one.events}, actions=one.actions)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sessionActionId"):
        dnb.log_frame({one.id: one.events}, actions=actions.drop(columns="sessionActionId"))


def test_a_banner_needs_its_lines_together_in_one_session() -> None:
    s = Session()
    s.log(0, RULE)  # a task printing a rule of equals signs is not a banner
    s.log(1, "--------- not a title")
    s.log(2, "progress")
    s.log(3, RULE)
    logs = dnb.log_frame({s.id: s.events})
    assert logs["section"].isna().all()
    # a banner split across two sessions is none either
    a, b = Session(1), Session(2)
    a.log(0, RULE)
    a.log(1, "--------- Running Task")
    b.log(2, RULE)
    logs = dnb.log_frame({a.id: a.events, b.id: b.events})
    assert logs["section"].isna().all()


# ---------------------------------------------------------------------------------------------
# hard lines and bad items


def test_hard_lines_are_kept_exactly() -> None:
    s = Session()
    big = "x" * 256_000  # CloudWatch's largest event: the agent cuts longer lines
    hard = [
        "caf\ufffd au lait \ufffd\ufffd",  # invalid UTF-8 as CloudWatch delivers it
        " ",  # an empty line as the agent sends it
        "",  # and as another tool might
        big,
        big[:1000],  # the rest of a longer line: another event, same timestamp
        "\r 10%|#         |\r 55%|#####     |\r100%|##########|",
        "Summary Statistics for file downloads:\nProcessed 2 files totaling 186.0 B.",
        "tab\there \x00 nul \x1b[31mred\x1b[0m",
        "emoji \U0001f3ac and \u202e right-to-left",
    ]
    for text in hard:
        s.log(7, text)
    logs, warned = caught(dnb.log_frame, {s.id: s.events})
    assert warned == []
    assert logs["message"].tolist() == hard
    assert logs["lineIndex"].tolist() == list(range(len(hard)))
    assert dnb.grep_log_frame(logs, "100%")["lineIndex"].tolist() == [5]


def test_lone_surrogates_and_undecodable_bytes_become_replacement_characters() -> None:
    s = Session()
    s.log(1, "bad \ud800 text")
    s.events.append({"timestamp": T0_MS + 2, "message": b"caf\xe9 \xff"})
    s.events.append({"timestamp": T0_MS + 3, "message": b"fine"})
    logs, warned = caught(dnb.log_frame, {s.id: s.events})
    assert logs["message"].tolist() == ["bad \ufffd text", "caf\ufffd \ufffd", "fine"]
    assert len(warned) == 2
    assert any("lone surrogates" in w and f"{s.id}[0]" in w for w in warned)
    assert any("not UTF-8" in w and f"{s.id}[1]" in w and "[2]" not in w for w in warned)


def test_bad_items_are_named_in_one_warning_each_and_the_rest_kept() -> None:
    s = Session()
    for i in range(6):
        s.log(10 + i, f"good {i}")
    bad_time: list[dict[str, Any]] = [
        {"message": "no time"},
        {"timestamp": "yesterday", "message": "text time"},
        {"timestamp": -5, "message": "negative"},
        {"timestamp": True, "message": "a bool"},
        {"timestamp": 10**20, "message": "beyond 2262"},
    ]
    bad_message = [{"timestamp": T0_MS + 3}, {"timestamp": T0_MS + 4, "message": 12}]
    bad_ingestion = [{"timestamp": T0_MS + 5, "message": "late", "ingestionTime": "soon"}]
    events = [
        *s.events[:3],
        "not an event",
        *bad_time,
        *bad_message,
        *bad_ingestion,
        *s.events[3:],
        None,
    ]
    logs, warned = caught(dnb.log_frame, {s.id: events})
    assert len(logs) == len(events) - 2
    assert len(warned) == 6, warned
    (not_mapping,) = (w for w in warned if "not a mapping" in w)
    assert f"{s.id}[3]" in not_mapping and f"{s.id}[15]" in not_mapping
    (missing_time,) = (w for w in warned if "timestamp is missing" in w)
    assert f"{s.id}[4]" in missing_time
    (bad_times,) = (w for w in warned if "timestamp is not a time" in w)
    assert all(f"{s.id}[{i}]" in bad_times for i in (5, 6, 7, 8)) and "(4 log events:" in bad_times
    (missing_text,) = (w for w in warned if "message is missing" in w)
    assert f"{s.id}[9]" in missing_text and "(1 log event:" in missing_text
    (not_text,) = (w for w in warned if "message is not text (int)" in w)
    assert f"{s.id}[10]" in not_text and "(1 log event:" in not_text
    assert any("ingestionTime is not a time" in w and f"{s.id}[11]" in w for w in warned)
    # lines without a time come last in their session, with no action and no section
    tail = logs.tail(len(bad_time))
    assert tail["timestamp"].isna().all()
    assert sorted(tail["message"]) == sorted(e["message"] for e in bad_time)
    assert logs["message"].isna().sum() == 2
    assert logs.loc[logs["message"] == "late", "ingestionTime"].isna().all()


def test_times_in_every_accepted_form_are_the_same_time() -> None:
    ms = T0_MS + 1_234
    forms = [
        ms,
        float(ms),
        str(ms),
        "2026-11-26T22:00:01.234Z",
        "2026-11-26T23:00:01.234+01:00",
        at(1_234),
        np.int64(ms),
    ]
    events = [{"timestamp": v, "message": f"form {i}"} for i, v in enumerate(forms)]
    logs, warned = caught(dnb.log_frame, events, session_id="session-" + "1" * 32)
    assert warned == []
    assert (logs["timestamp"] == pd.Timestamp(ms, unit="ms", tz="UTC")).all()
    # ingestionTime is optional: missing everywhere is no problem
    assert logs["ingestionTime"].isna().all()


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["one", "two"]),
            st.integers(min_value=0, max_value=5_000),
            st.one_of(
                st.text(max_size=30),
                st.sampled_from([" ", RULE, DASH, "--------- Running Task", "Phase: Setup"]),
            ),
        ),
        max_size=60,
    )
)
def test_any_lines_in_any_order_are_all_kept(lines: list[tuple[str, int, str]]) -> None:
    s1, s2 = Session(1), Session(2)
    s1.task(1, 0, 2_500, frame=1)
    s2.task(1, 1_000, 4_000, frame=1)
    actions = dnb.session_action_frame(s1.actions + s2.actions)
    stream = {"one": s1.id, "two": s2.id}
    events = [
        {"logStreamName": stream[sid], "timestamp": T0_MS + t, "message": m} for sid, t, m in lines
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)  # lone surrogates drawn by hypothesis
        logs = dnb.log_frame(events, actions=actions)
    assert len(logs) == len(lines)
    cleaned = [m.encode("utf-16", "surrogatepass").decode("utf-16", "replace") for _, _, m in lines]
    assert sorted(logs["message"].tolist()) == sorted(cleaned)
    for sid, group in logs.groupby("sessionId", observed=True):
        assert group["lineIndex"].tolist() == list(range(len(group)))
        assert group["timestamp"].is_monotonic_increasing
        inside = group["sessionActionId"].notna()
        window = {s1.id: (0, 2_500), s2.id: (1_000, 4_000)}[str(sid)]
        offsets = (group["timestamp"] - pd.Timestamp(T0)).dt.total_seconds() * 1000
        assert (inside == offsets.between(*window)).all()


# ---------------------------------------------------------------------------------------------
# grep, annotate, one action's text


def test_grep_finds_lines_by_regex_text_and_case_and_keeps_the_index() -> None:
    logs, _ = frame_of(standard_session(1), standard_session(2, worker=2))
    hits = dnb.grep_log_frame(logs, r"license server [0-9.]+:[0-9]+")
    assert len(hits) == 2
    assert (logs.loc[hits.index, "message"] == hits["message"]).all()
    assert hits.index.tolist() == sorted(hits.index)
    assert len(dnb.grep_log_frame(logs, "LICENSE", case=False)) == 2
    assert len(dnb.grep_log_frame(logs, "LICENSE")) == 0
    # regex=False takes brackets and dots literally
    assert len(dnb.grep_log_frame(logs, "Frame(INT) = 1", regex=False)) == 2
    assert len(dnb.grep_log_frame(logs, "Frame(INT) = 1")) == 0
    assert len(dnb.grep_log_frame(logs, "^Output:$")) == 8
    with pytest.raises(ValueError, match="`pattern`"):
        dnb.grep_log_frame(logs, "(unclosed")
    with pytest.raises(TypeError, match="`pattern`"):
        dnb.grep_log_frame(logs, 12)  # type: ignore[arg-type]
    # a missing message matches nothing, not even an everything-pattern
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        gappy = dnb.log_frame([{"timestamp": T0_MS, "message": None}], session_id="session-x")
    assert len(dnb.grep_log_frame(gappy, ".*")) == 0
    # a message column that is not Arrow-backed is read too
    plain = logs.assign(message=logs["message"].astype(object))
    assert dnb.grep_log_frame(plain, "license").index.tolist() == hits.index.tolist()


def test_annotate_adds_the_action_step_task_and_worker_so_grep_can_group_by_machine() -> None:
    sessions = [standard_session(1, 1), standard_session(2, 2), standard_session(3, 2)]
    logs, actions = frame_of(*sessions)
    session_rows = dnb.session_frame(
        [
            {
                "sessionId": s.id,
                "workerId": s.worker,
                "fleetId": "fleet-" + "f" * 32,
                "lifecycleStatus": "ENDED",
                "startedAt": T0,
            }
            for s in sessions
        ]
    )
    steps = dnb.step_frame(
        [
            {
                "stepId": STEP,
                "name": "Render",
                "lifecycleStatus": "CREATE_COMPLETE",
                "taskRunStatus": "FAILED",
                "createdAt": T0,
                "createdBy": "ivan",
            }
        ]
    )
    job_actions = dnb.job_action_frame(actions, steps=steps, sessions=session_rows)
    hits = dnb.annotate_log_lines(dnb.grep_log_frame(logs, "license server"), job_actions)
    assert_schema(hits[list(schema.LOG_ANNOTATION_COLUMNS)], schema.LOG_ANNOTATION_COLUMNS)
    assert list(hits.columns) == [
        *schema.LOG_COLUMNS,
        *schema.LOG_ANNOTATION_COLUMNS,
        "param.Frame",
    ]
    assert hits.groupby("workerId", observed=True).size().to_dict() == {
        WORKERS[1]: 1,
        WORKERS[2]: 2,
    }
    assert hits["stepName"].tolist() == ["Render"] * 3
    assert hits["param.Frame"].tolist() == [2, 2, 2] and hits["param.Frame"].dtype == "Int64"
    assert hits["status"].tolist() == ["FAILED"] * 3
    assert hits["processExitCode"].tolist() == [1, 1, 1]
    assert hits["actionType"].tolist() == ["taskRun"] * 3
    # every line of a session has its worker, even those between actions
    everything = dnb.annotate_log_lines(logs, job_actions)
    assert everything["workerId"].notna().all()
    between = everything[everything["sessionActionId"].isna()]
    assert between["stepName"].isna().all() and between["param.Frame"].isna().all()
    # a plain session-action frame: the same columns, missing where it lacks them; the
    # sessions frame still gives the worker
    plain = dnb.annotate_log_lines(logs, actions)
    assert list(plain.columns) == list(everything.columns)
    assert plain["stepName"].isna().all() and plain["workerId"].isna().all()
    with_sessions = dnb.annotate_log_lines(logs, actions, sessions=session_rows)
    assert (with_sessions["workerId"] == everything["workerId"]).all()
    pd.testing.assert_index_equal(with_sessions.index, logs.index)


def test_action_log_text_is_one_actions_lines_in_order_and_its_tail() -> None:
    s = standard_session()
    logs, _ = frame_of(s)
    expected = [
        e["message"] for e, o in zip(s.events, s.expected, strict=True) if o == s.action_id(2)
    ]
    assert dnb.action_log_text(logs, s.action_id(2)) == "\n".join(expected)
    assert dnb.action_log_text(logs, s.action_id(2), tail=2) == "\n".join(expected[-2:])
    shuffled = logs.sample(frac=1.0, random_state=3)
    assert dnb.action_log_text(shuffled, s.action_id(2)) == "\n".join(expected)
    stamped = dnb.action_log_text(logs, s.action_id(2), tail=1, timestamps=True)
    assert stamped == "2026-11-26T22:00:04.000Z " + exit_line(4242, 1)
    assert dnb.action_log_text(logs, s.action_id(3)) == ""  # never attempted: no lines
    with pytest.raises(ValueError, match="`tail`"):
        dnb.action_log_text(logs, s.action_id(2), tail=0)


# ---------------------------------------------------------------------------------------------
# normalised lines and failure endings


@pytest.mark.parametrize(
    ("line", "normalized"),
    [
        (
            "Error: license server 10.0.0.12:27000 unreachable",
            "Error: license server <n> unreachable",
        ),
        ("Rendered 1,024 buckets in 12.5s", "Rendered <n> buckets in <n>s"),
        ("Cannot read /mnt/show/sq010/tex/wood.1001.tx", "Cannot read <path>"),
        (r"Cannot read C:\show\sq010\wood.tx: denied", "Cannot read <path> denied"),
        ("Cannot read ~/cache/x.abc or ./local/y.usd", "Cannot read <path> or <path>"),
        ("Transfer rate: 733.0 B/s", "Transfer rate: <n> B/s"),
        (
            f"failed in session-{'ab' * 16} on worker-{'cd' * 16}",
            "failed in session-<id> on worker-<id>",
        ),
        (f"action sessionaction-{'ab' * 16}-12 failed", "action sessionaction-<id> failed"),
        ("request 123e4567-e89b-12d3-a456-426614174000 denied", "request <id> denied"),
        ("crash at 0x7ffe1234 (code 0xC0000005)", "crash at <hex> (code <hex>)"),
        ("checksum deadbeefcafe mismatch", "checksum <hex> mismatch"),
        ("hash 0123456789abcdef0 and 12345678901", "hash <hex> and <n>"),
        ("decade facade accede", "decade facade accede"),
        ("frame shot010_v002", "frame shot<n>_v<n>"),
        ("\r 10%|#  |\r100%|###|", "<n>%|###|"),
        ("trailing spaces   ", "trailing spaces"),
        ("no numbers here", "no numbers here"),
    ],
)
def test_normalize_blanks_what_changes_between_runs(line: str, normalized: str) -> None:
    assert dnb.normalize_log_line(line) == normalized
    assert dnb.normalize_log_lines(pd.Series([line, None])).tolist() == [normalized, pd.NA]


def test_normalized_lines_compare_equal_only_for_the_same_error() -> None:
    lines = pd.Series(
        [
            "Error: license server 10.0.0.12:27000 unreachable",
            "Error: license server 10.0.0.14:27001 unreachable",
            "Error: license server 10.0.0.12:27000 refused",
        ],
        index=[7, 8, 9],
    )
    out = dnb.normalize_log_lines(lines)
    assert out.index.tolist() == [7, 8, 9] and str(out.dtype) == "string"
    assert out[7] == out[8] != out[9]
    assert [dnb.normalize_log_line(v) for v in lines] == out.tolist()
    with pytest.raises(TypeError, match="`text`"):
        dnb.normalize_log_line(None)  # type: ignore[arg-type]


def failing_job() -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """Failed actions ending the ways their exit codes say, and what each should end with."""
    ends: dict[str, str] = {}
    sessions = []
    for number, worker in ((1, 1), (2, 2), (3, 3)):
        s = Session(number, worker)
        s.task(
            1,
            0,
            1_000,
            frame=number,
            output=["Loading scene", f"Error: license server 10.0.0.{number}:27000 unreachable"],
            code=1,
        )
        ends[s.action_id(1)] = f"Error: license server 10.0.0.{number}:27000 unreachable"
        sessions.append(s)
    oom = Session(4, 2)
    oom.task(
        1, 0, 1_000, frame=4, output=["[arnold] memory 61.9 GB", "[arnold] bucket 12"], code=137
    )
    ends[oom.action_id(1)] = "[arnold] bucket 12"
    segv = Session(5, 2)
    segv.task(1, 0, 1_000, frame=5, output=[], code=139)  # crashed before printing anything
    ends[segv.action_id(1)] = exit_line(4242, 139)
    windows = Session(6, 1)
    windows.task(
        1,
        0,
        1_000,
        frame=6,
        output=[
            "openjd_status: loading",
            "openjd_fail: Access violation in texture cache",
            "Fatal error: attempting to save",
            "openjd_progress: 40.0",
        ],
        code=-1073741819,
    )
    ends[windows.action_id(1)] = "openjd_fail: Access violation in texture cache"
    killed = Session(7, 3)
    killed.task(1, 0, 1_000, frame=7, output=["Rendering"], code=-9, status="FAILED")
    ends[killed.action_id(1)] = "Rendering"
    quiet = Session(8, 3)  # failed without a single line in the log
    quiet.add_action(1, {"taskRun": {"stepId": STEP, "taskId": "t"}}, 0, 10, "FAILED", 1)
    fine = Session(9, 1)
    fine.task(1, 0, 1_000, frame=9, output=["Error: harmless warning"], code=0)
    logs, actions = frame_of(*sessions, oom, segv, windows, killed, quiet, fine)
    return logs, actions, ends


def test_failure_lines_give_each_failed_actions_ending_by_the_documented_rule() -> None:
    logs, actions, ends = failing_job()
    out = dnb.failure_lines(logs, actions)
    assert list(out.columns) == list(schema.FAILURE_LINE_COLUMNS)
    assert_schema(out, schema.FAILURE_LINE_COLUMNS)
    failed = actions.loc[actions["status"] == "FAILED", "sessionActionId"].tolist()
    assert out["sessionActionId"].tolist() == failed  # actions' order; the success is not there
    got = dict(zip(out["sessionActionId"], out["line"], strict=True))
    assert {k: v for k, v in got.items() if not pd.isna(v)} == ends
    sources = dict(zip(out["sessionActionId"], out["source"].astype(str), strict=True))
    assert sorted(sources.values()) == sorted(
        ["output"] * 5 + ["exit code", "openjd_fail", "no lines"]
    )
    quiet = out[out["source"] == "no lines"].iloc[0]
    assert pd.isna(quiet["line"]) and pd.isna(quiet["normalized"]) and pd.isna(quiet["timestamp"])
    windows = out[out["source"] == "openjd_fail"].iloc[0]
    assert windows["processExitCode"] == -1073741819
    assert windows["timestamp"] > pd.Timestamp(T0)
    # the report's sentence: how many failed actions end with the same error
    counts = out["normalized"].value_counts()
    assert counts["Error: license server <n> unreachable"] == 3
    assert counts.iloc[0] == 3
    # a job's actions give the workers: one machine has two of the failures
    job_actions = actions.assign(
        workerId=pd.Categorical(
            [
                WORKERS[{1: 1, 2: 2, 3: 3, 4: 2, 5: 2, 6: 1, 7: 3, 8: 3, 9: 1}[n]]
                for n in actions["sessionId"].str[-1].astype(int)
            ]
        )
    )
    by_worker = dnb.failure_lines(logs, job_actions).groupby("workerId", observed=True).size()
    assert by_worker.to_dict() == {WORKERS[1]: 2, WORKERS[2]: 3, WORKERS[3]: 3}
    interrupted = dnb.failure_lines(logs, actions, statuses=("SUCCEEDED",))
    assert interrupted["line"].tolist() == ["Error: harmless warning"]
    none = dnb.failure_lines(logs, actions, statuses=("CANCELED",))
    assert len(none) == 0 and list(none.columns) == list(schema.FAILURE_LINE_COLUMNS)
    # no log at all (the stream was never written, or has expired): every failure says so
    unlogged = dnb.failure_lines(dnb.log_frame([]), actions)
    assert (unlogged["source"] == "no lines").all() and len(unlogged) == len(out)
    assert unlogged["line"].isna().all() and unlogged["timestamp"].isna().all()


def test_exit_code_lines_are_openjds_including_the_signed_windows_form() -> None:
    assert exit_line(7, 1) == "Process pid 7 exited with code: 1 (unsigned) / 0x1 (hex)"
    assert exit_line(7, -1073741819) == (
        "Process pid 7 exited with code: 3221225477 (unsigned) / 0xc0000005 (hex)"
        " / -1073741819 (signed)"
    )
    assert dnb.normalize_log_line(exit_line(7, -1073741819)) == (
        "Process pid <n> exited with code: <n> (unsigned) / <hex> (hex) / -<n> (signed)"
    )


def test_last_error_line_reads_text_and_skips_the_bookkeeping() -> None:
    text = "\n".join(
        [
            " ",
            RULE,
            "--------- Running Task",
            RULE,
            "Parameter values:",
            "Frame(INT) = 12",
            DASH,
            "Phase: Running action",
            DASH,
            "Running command /tmp/x.sh",
            "Command started as pid: 12",
            "Output:",
            "Error: scene not found",
            "openjd_progress: 10.0",
            "   ",
            'INTERRUPT: Sending signal "kill" to process group 12',
            exit_line(12, 137),
        ]
    )
    assert dnb.last_error_line(text) == "Error: scene not found"
    # nothing printed: the parameter values are not the error, the exit code line is
    nothing = text.replace("Error: scene not found\n", "")
    assert dnb.last_error_line(nothing) == exit_line(12, 137)
    # without a Running action phase, every line counts
    assert dnb.last_error_line(["Syncing inputs using Job Attachments", "Traceback: boom"]) == (
        "Traceback: boom"
    )
    assert dnb.last_error_line(pd.Series(["openjd_fail: no GPU", "later output"])) == (
        "openjd_fail: no GPU"
    )
    assert dnb.last_error_line([]) is None
    assert dnb.last_error_line([" ", RULE]) is None
