"""Frames against adversarial input: the same action twice, unreadable files, nasty text.

* The same action in one input twice (a ListSessionActions page beside a BatchGetSessionAction
  result of the same actions) gives one row per action, the most complete and most recent item,
  and one warning; the companions keep the same item; ``concat_frames`` keeps the newest row.
* ``read_json`` raises a ``ValueError`` naming the file (and the line where known) for every
  file it cannot read: truncated or fake gzip, nesting too deep, bytes that are not text.
* Property tests: inputs drawn from botocore's model, then dirtied with lone surrogates, NUL and
  control characters, and actions repeated as summaries: never a crash, one row per action, text
  columns that encode as UTF-8, and the same frame from both readers.
"""

from __future__ import annotations

import copy
import gzip
import io
import json
import warnings
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import deadline_nb as dnb
from deadline_nb import frames, schema
from deadline_nb.errors import DataWarning
from deadline_nb.localfarm import LocalFarm

from .helpers import FARM, JOB, QUEUE, T0, action_id, session_actions, task_run
from .test_frames_properties import MIXED, SETTINGS, kept_items


@pytest.fixture(autouse=True, params=["compiled", "numpy"])
def reader(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run every test here with each reader of the input: both must give the same frames."""
    with frames.use_reader(request.param):
        yield request.param


# The fields a ListSessionActions summary has (botocore's SessionActionSummary).
SUMMARY_FIELDS = (
    "sessionActionId",
    "status",
    "startedAt",
    "endedAt",
    "workerUpdatedAt",
    "progressPercent",
    "manifests",
    "definition",
)


def summary_of(item: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The ListSessionActions summary of a full item (no sessionId, exit code, message...)."""
    summary = {k: copy.deepcopy(v) for k, v in item.items() if k in SUMMARY_FIELDS}
    summary.update(changes)
    return summary


def batch_item(item: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The BatchGetSessionAction item of a GetSessionAction response."""
    return {**copy.deepcopy(item), "farmId": FARM, "queueId": QUEUE, "jobId": JOB, **changes}


def caught(function: Any, *args: Any, **kwargs: Any) -> tuple[Any, list[str]]:
    """Call, returning the result and the messages of the DataWarnings it gave."""
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        result = function(*args, **kwargs)
    assert all(issubclass(r.category, DataWarning) for r in records), [
        str(r.message) for r in records
    ]
    return result, [str(r.message) for r in records]


# ---------------------------------------------------------------------------------------------
# the same action twice


def test_a_list_page_beside_its_batch_get_gives_one_row_per_action_and_one_warning() -> None:
    full = [batch_item(a) for a in session_actions()]
    summaries = [summary_of(a) for a in session_actions()]
    frame, messages = caught(dnb.session_action_frame, [*summaries, *full])
    assert frame["sessionActionId"].tolist() == [a["sessionActionId"] for a in full]
    assert frame["status"].value_counts()["SUCCEEDED"] == 5  # not 10
    # The full items were kept: they carry the exit codes the summaries lack.
    assert frame["processExitCode"].tolist()[2:5] == [0, 0, -1073741819]
    assert frame["farmId"].unique().tolist() == [FARM]
    duplicates = [m for m in messages if "more than once" in m]
    assert len(messages) == len(duplicates) == 1
    assert "6 actions" in duplicates[0] and action_id(0) in duplicates[0]
    expected = dnb.session_action_frame(full)
    pd.testing.assert_frame_equal(frame, expected)


def test_the_full_item_wins_whichever_comes_first() -> None:
    full = [batch_item(a) for a in session_actions()]
    summaries = [summary_of(a) for a in session_actions()]
    before, _ = caught(dnb.session_action_frame, [*summaries, *full])
    after, _ = caught(dnb.session_action_frame, [*full, *summaries])
    pd.testing.assert_frame_equal(before, after)


def test_a_terminal_status_wins_over_a_running_one() -> None:
    running = task_run(2, status="RUNNING", progressPercent=40.0, progressMessage="40%")
    done = task_run(2, status="SUCCEEDED", exit_code=0)
    # Even when the running one looks newer: the action cannot run again after it ended.
    running["workerUpdatedAt"] = T0 + timedelta(days=1)
    for items in ([running, done], [done, running]):
        frame, messages = caught(dnb.session_action_frame, items)
        assert frame["status"].tolist() == ["SUCCEEDED"]
        assert frame["processExitCode"].tolist() == [0]
        assert len(messages) == 1


def test_among_equals_the_later_update_wins_then_the_later_item() -> None:
    early = task_run(2, status="RUNNING", progressPercent=10.0)
    late = task_run(2, status="RUNNING", progressPercent=60.0)
    late["workerUpdatedAt"] = early["workerUpdatedAt"] + timedelta(seconds=15)
    # A time given as the AWS CLI prints it compares with a datetime.
    early_text = {**early, "workerUpdatedAt": early["workerUpdatedAt"].isoformat()}
    for items in ([early, late], [late, early], [late, early_text], [early_text, late]):
        frame, _ = caught(dnb.session_action_frame, items)
        assert frame["progressPercent"].tolist() == [60.0]
    # The same update time, and the same end: the later in the input wins.
    first = task_run(3, status="SUCCEEDED", progressMessage="first")
    second = task_run(3, status="SUCCEEDED", progressMessage="second")
    frame, _ = caught(dnb.session_action_frame, [first, second])
    assert frame["progressMessage"].tolist() == ["second"]
    # The later end wins where the update times are equal.
    longer = task_run(4, seconds=60.0)
    longer["endedAt"] += timedelta(seconds=5)
    frame, _ = caught(dnb.session_action_frame, [longer, task_run(4, seconds=60.0)])
    assert frame["endedAt"].tolist() == [pd.Timestamp(longer["endedAt"])]


def test_duplicates_keep_the_kept_items_order_and_parameters() -> None:
    a = task_run(2, frame=7)
    b = task_run(3, frame=8)
    newer_a = task_run(2, frame=7, status="FAILED", exit_code=1)
    frame, _ = caught(dnb.session_action_frame, [a, b, newer_a])
    assert frame["sessionActionId"].tolist() == [action_id(3), action_id(2)]
    assert frame["param.Frame"].tolist() == [8, 7]
    assert frame["status"].tolist() == ["SUCCEEDED", "FAILED"]
    assert frame.index.equals(pd.RangeIndex(2))


def test_a_dropped_duplicate_gives_no_warning_of_its_own() -> None:
    # The summary's bad percentage is not in the frame: no warning about it.
    bad = summary_of(task_run(2), progressPercent=250.0)
    frame, messages = caught(dnb.session_action_frame, [bad, task_run(2)])
    assert len(frame) == 1
    assert len(messages) == 1 and "more than once" in messages[0]


def test_both_readers_give_the_same_frame_from_duplicates() -> None:
    full = [batch_item(a) for a in session_actions()]
    items = [*[summary_of(a) for a in session_actions()], *full, full[3]]
    made = {}
    for name in frames.READERS:
        with frames.use_reader(name):
            made[name], _ = caught(dnb.session_action_frame, items)
    for frame in made.values():
        pd.testing.assert_frame_equal(frame, made[frames.READERS[0]])


def test_no_duplicates_no_warning_and_the_same_frame() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = dnb.session_action_frame(session_actions())
    assert len(frame) == 6


def test_the_companions_agree_with_the_kept_item() -> None:
    old = task_run(
        2,
        status="RUNNING",
        exit_code=None,
        parameters={"Frame": {"int": "1"}},
        manifests=[{"outputManifestPath": "old/manifest"}],
    )
    new = task_run(
        2,
        parameters={"Frame": {"int": "1"}},
        acquiredLimits=[{"limitId": "limit-" + "f" * 32, "count": 1}],
        manifests=[{"outputManifestPath": "new/manifest", "outputManifestHash": "ab"}],
    )
    summary = summary_of(new)  # a summary carries manifests too, but not the limits
    for items in ([old, new, summary], [summary, new, old]):
        params, messages = caught(dnb.parameter_frame, items)
        assert params["sessionActionId"].tolist() == [action_id(2)]
        assert len(messages) == 1 and "more than once" in messages[0]
        limits, _ = caught(dnb.limit_frame, items)
        assert limits["count"].tolist() == [1]
        manifests, _ = caught(dnb.manifest_frame, items)
        assert manifests["outputManifestPath"].tolist() == ["new/manifest"]


def test_concat_of_two_fetches_of_one_job_keeps_the_newest_row_per_action() -> None:
    running = [task_run(n, status="RUNNING", progressPercent=10.0 * n) for n in range(3)]
    later = [task_run(n, status="SUCCEEDED") for n in range(2)]
    first = dnb.session_action_frame(running)
    second = dnb.session_action_frame(later)
    for pair in ([first, second], [second, first]):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            both = frames.concat_frames(pair)
        assert sorted(both["sessionActionId"]) == [action_id(n) for n in range(3)]
        status = dict(zip(both["sessionActionId"], both["status"], strict=True))
        assert status == {
            action_id(0): "SUCCEEDED",
            action_id(1): "SUCCEEDED",
            action_id(2): "RUNNING",
        }
    # A long form has many rows per action: they all stay.
    params = dnb.parameter_frame(running)
    assert len(frames.concat_frames([params, params])) == 2 * len(params)


def test_a_cached_refresh_of_a_running_job_keeps_one_row_per_action(tmp_path: Path) -> None:
    from deadline_nb.localfarm import ManualClock

    clock = ManualClock()
    cache = tmp_path / "cache.sqlite3"
    with LocalFarm(seed=0, clock=clock) as farm:
        job = farm.job_by_name("running")
        ids = (farm.farm_id, job.queue_id, job.job_id)
        c = farm.client()
        with warnings.catch_warnings():
            warnings.simplefilter("error", DataWarning)
            first = dnb.fetch_session_action_frame(*ids, client=c, cache=cache, progress=False)
            clock.advance(90.0)
            second = dnb.fetch_session_action_frame(*ids, client=c, cache=cache, progress=False)
        truth = farm.model.session_actions(job.job_id)
    assert second["sessionActionId"].is_unique
    assert len(second) == len(truth) >= len(first)


def test_a_real_list_page_beside_a_real_batch_get(farm: LocalFarm, client: Any) -> None:
    job = farm.job_by_name("failing")
    ids = {"farmId": farm.farm_id, "queueId": job.queue_id, "jobId": job.job_id}
    page = client.list_session_actions(**ids, maxResults=20)
    wanted = [{**ids, "sessionActionId": a["sessionActionId"]} for a in page["sessionActions"]]
    batch = client.batch_get_session_action(identifiers=wanted)
    frame, messages = caught(dnb.session_action_frame, [page, batch])
    assert len(frame) == len(page["sessionActions"])
    assert frame["sessionActionId"].is_unique
    assert len([m for m in messages if "more than once" in m]) == 1
    alone, _ = caught(dnb.session_action_frame, batch)
    pd.testing.assert_frame_equal(frame, alone)


# ---------------------------------------------------------------------------------------------
# read_json: every unreadable file is a ValueError naming it


def test_a_truncated_gzip_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "actions.json.gz"
    whole = gzip.compress(json.dumps(session_actions(), default=str).encode())
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ValueError, match=r"actions\.json\.gz") as error:
        dnb.read_json(path)
    assert "gzip" in str(error.value)


def test_a_gz_name_on_a_plain_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "plain.json.gz"
    path.write_text("{}")
    with pytest.raises(ValueError, match=r"plain\.json\.gz.*gzip"):
        dnb.read_json(path)


def test_a_gzip_without_the_gz_name_is_read(tmp_path: Path) -> None:
    path = tmp_path / "actions.json"
    path.write_bytes(gzip.compress(b'{"sessionActionId": "x"}'))
    assert dnb.read_json(path) == [{"sessionActionId": "x"}]


def test_deep_nesting_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match=r"deep\.json.*nest"):
        dnb.read_json(path)
    lines = tmp_path / "deep.jsonl"
    lines.write_text('{"sessionActionId": "x"}\n' + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(ValueError, match=r"deep\.jsonl.*line 2"):
        dnb.read_json(lines)


def test_binary_bytes_name_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "binary.json"
    path.write_bytes(b'{"a": 1}\n{"b": "\xff\xfe\x00"}\n')
    with pytest.raises(ValueError, match=r"binary\.json.*line 2") as error:
        dnb.read_json(path)
    assert "UTF-8" in str(error.value)
    with pytest.raises(ValueError, match="line 2"):
        dnb.read_json(io.BytesIO(path.read_bytes()))


def test_utf16_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    # What Windows PowerShell 5's `>` writes: UTF-16 with a byte order mark.
    text = json.dumps({"sessionActions": [{"sessionActionId": "x", "progressMessage": "é"}]})
    for encoding in ("utf-16", "utf-16-le", "utf-16-be"):
        path = tmp_path / f"{encoding}.json"
        data = text.encode(encoding)
        if encoding != "utf-16":
            data = "\ufeff".encode(encoding) + data
        path.write_bytes(data)
        assert dnb.read_json(path) == [{"sessionActionId": "x", "progressMessage": "é"}]


def test_utf16_without_a_byte_order_mark_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nobom.json"
    path.write_bytes(json.dumps({"sessionActionId": "é"}).encode("utf-16-le"))
    with pytest.raises(ValueError, match=r"nobom\.json"):
        dnb.read_json(path)


def test_each_read_json_error_is_one_line(tmp_path: Path) -> None:
    cases = {
        "a.json.gz": b"not gzip",
        "b.json": b"\xff\xff",
        "c.json": b"[" * 100_000,
        "d.jsonl": b"{}\n{oops\n",
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(ValueError) as error:
            dnb.read_json(path)
        message = str(error.value)
        assert name in message and "\n" not in message, message
        assert type(error.value) is ValueError


# ---------------------------------------------------------------------------------------------
# properties: valid responses, dirtied

# Text that every reader must survive: lone surrogates (json.loads accepts "\ud800"), NUL, C0
# and C1 controls, and ordinary text around them.
NASTY_CHARACTERS = ["a", "é", " ", "\x00", "\x07", "\x1b", "\x7f", "\x85", "\ud800", "\udfff"]
NASTY_TEXT = st.one_of(
    st.sampled_from(["\ud800", "\x00", "a\udc00b", "\x1b[31mred\x1b[0m", "\x00\ud800\x00"]),
    st.text(alphabet=st.sampled_from(NASTY_CHARACTERS), max_size=8),
)
SURROGATES = range(0xD800, 0xE000)


@st.composite
def dirty_actions(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Valid responses (any mix) with nasty text in their text fields, some actions twice."""
    items = copy.deepcopy(draw(MIXED))
    for item in items:
        if draw(st.booleans()):
            item["progressMessage"] = draw(NASTY_TEXT)
        ((member, body),) = item["definition"].items()
        if member in ("envEnter", "envExit") and draw(st.booleans()):
            body["environmentId"] = draw(NASTY_TEXT)
        if member == "taskRun":
            parameters = body.setdefault("parameters", {})
            for value in parameters.values():
                ((kind, _),) = value.items()
                if kind in ("string", "path") and draw(st.booleans()):
                    value[kind] = draw(NASTY_TEXT)
            if draw(st.booleans()):
                parameters[draw(NASTY_TEXT)] = {"string": draw(NASTY_TEXT)}
        for manifest in item.get("manifests", []):
            if draw(st.booleans()):
                manifest["outputManifestPath"] = draw(NASTY_TEXT)
    # The same action twice: a summary of a drawn item, somewhere in the list.
    for item in draw(st.lists(st.sampled_from(items), max_size=3)) if items else []:
        position = draw(st.integers(0, len(items)))
        items.insert(position, summary_of(item))
    return items


def quietly_on_data(function: Any, *args: Any) -> tuple[Any, list[str]]:
    """Call; DataWarnings are expected (and returned), any other warning fails the test."""
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        result = function(*args)
    others = [str(r.message) for r in records if not issubclass(r.category, DataWarning)]
    assert not others, others
    return result, sorted(str(r.message) for r in records)


def text_values(frame: pd.DataFrame) -> Iterator[tuple[str, str]]:
    """Every text value of a frame (strings and categories), with its column."""
    for name in frame.columns:
        dtype = frame[name].dtype
        if isinstance(dtype, pd.CategoricalDtype):
            values = [c for c in dtype.categories if isinstance(c, str)]
        elif isinstance(dtype, pd.StringDtype) or pd.api.types.is_object_dtype(dtype):
            values = [v for v in frame[name].dropna() if isinstance(v, str)]
        else:
            continue
        yield from ((name, v) for v in values)


def assert_utf8(frame: pd.DataFrame) -> None:
    """Every text value, and every column name, encodes as UTF-8: no lone surrogate."""
    for name in frame.columns:
        name.encode("utf-8")  # a parameter name is a column name
    for name, value in text_values(frame):
        assert not any(ord(c) in SURROGATES for c in value), (name, value)
        value.encode("utf-8")


@SETTINGS
@given(dirty_actions())
def test_dirty_input_never_crashes_and_gives_one_row_per_action(
    items: list[dict[str, Any]],
) -> None:
    frame, _ = quietly_on_data(dnb.session_action_frame, items)
    ids = list(dict.fromkeys(item["sessionActionId"] for item in items))
    assert len(frame) == len(ids)
    assert sorted(frame["sessionActionId"]) == sorted(ids)
    for name, dtype in schema.SESSION_ACTION_COLUMNS.items():
        assert frame[name].dtype == dtype, name
    for function in (dnb.parameter_frame, dnb.limit_frame, dnb.manifest_frame):
        long_form, _ = quietly_on_data(function, items)
        assert set(long_form["sessionActionId"]) <= set(ids)


@SETTINGS
@given(dirty_actions())
def test_dirty_input_gives_text_columns_in_utf8(items: list[dict[str, Any]]) -> None:
    frame, _ = quietly_on_data(dnb.session_action_frame, items)
    assert_utf8(frame)
    for function in (dnb.parameter_frame, dnb.limit_frame, dnb.manifest_frame):
        long_form, _ = quietly_on_data(function, items)
        assert_utf8(long_form)


@SETTINGS
@given(dirty_actions())
def test_dirty_input_gives_the_same_frame_and_warnings_from_both_readers(
    items: list[dict[str, Any]],
) -> None:
    made = {}
    for name in frames.READERS:
        with frames.use_reader(name):
            made[name] = quietly_on_data(dnb.session_action_frame, items)
    first, first_messages = made[frames.READERS[0]]
    for frame, messages in made.values():
        pd.testing.assert_frame_equal(frame, first)
        assert messages == first_messages


@SETTINGS
@given(dirty_actions())
def test_the_companions_keep_the_row_the_frame_keeps(items: list[dict[str, Any]]) -> None:
    frame, _ = quietly_on_data(dnb.session_action_frame, items)
    manifests, _ = quietly_on_data(dnb.manifest_frame, items)
    # A summary of an item has the item's manifests: the kept item's count is the frame's.
    kept = {item["sessionActionId"]: item for item in kept_items(items)}
    counts = manifests.groupby("sessionActionId", observed=True).size().to_dict()
    for action in frame["sessionActionId"]:
        assert counts.get(action, 0) == len(kept[action].get("manifests", []))
