"""Property-based tests: responses drawn from botocore's own service model for ``deadline``.

Whatever the model allows in a GetSessionAction, BatchGetSessionAction or ListSessionActions
response must convert, with one row per item and the documented dtypes. The strategies are built
from the model's shapes (required members, enums, patterns, lengths, ranges, tagged unions), so a
new member or enum value in a newer botocore is exercised without editing this file.
"""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import botocore.session
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deadline_nb as dnb
from deadline_nb import frames, schema
from deadline_nb.errors import DataWarning

MODEL = botocore.session.get_session().get_service_model("deadline")
# Keep lists and strings short: the property is about shapes, not sizes.
MAX_LIST = 4
MAX_TEXT = 12
EPOCH = datetime(2020, 1, 1, tzinfo=timezone.utc)


@pytest.fixture(autouse=True, params=["compiled", "numpy"])
def reader(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run every test here with each reader of the input: both must give the same frames.

    Function-scoped: the reader is set for each single test, so that a test which switches
    readers cannot leave the next one on the wrong reader.
    """
    with frames.use_reader(request.param):
        yield request.param


def _text(shape: Any) -> st.SearchStrategy[str]:
    if shape.enum:
        return st.sampled_from(shape.enum)
    pattern = shape.metadata.get("pattern")
    low = shape.metadata.get("min", 0)
    high = min(shape.metadata.get("max", MAX_TEXT), MAX_TEXT) if not pattern else None
    if pattern:
        strategy = st.from_regex(pattern, fullmatch=True)
        return strategy.filter(lambda s: low <= len(s) <= shape.metadata.get("max", 10**6))
    return st.text(min_size=low, max_size=max(low, high or 0))


def from_shape(shape: Any) -> st.SearchStrategy[Any]:
    """A hypothesis strategy for any value the model allows for ``shape``."""
    kind = shape.type_name
    if kind == "structure":
        members = {name: from_shape(member) for name, member in shape.members.items()}
        if shape.metadata.get("union"):
            return st.one_of(
                [st.fixed_dictionaries({name: strategy}) for name, strategy in members.items()]
            )
        required = {n: s for n, s in members.items() if n in shape.required_members}
        optional = {n: s for n, s in members.items() if n not in shape.required_members}
        return st.fixed_dictionaries(required, optional=optional)
    if kind == "list":
        low = shape.metadata.get("min", 0)
        return st.lists(from_shape(shape.member), min_size=low, max_size=max(low, MAX_LIST))
    if kind == "map":
        return st.dictionaries(_text(shape.key), from_shape(shape.value), max_size=MAX_LIST)
    if kind == "string":
        return _text(shape)
    if kind in ("integer", "long"):
        return st.integers(
            shape.metadata.get("min", -(2**31)), shape.metadata.get("max", 2**31 - 1)
        )
    if kind in ("float", "double"):
        return st.floats(
            shape.metadata.get("min"),
            shape.metadata.get("max"),
            allow_nan=False,
            allow_infinity=False,
        )
    if kind == "timestamp":
        # boto3 gives aware datetimes in UTC, to the millisecond.
        return st.integers(0, 10**11).map(lambda ms: EPOCH + timedelta(milliseconds=ms))
    if kind == "boolean":
        return st.booleans()
    raise AssertionError(f"shape type {kind} not handled")


def output_shape(operation: str) -> Any:
    return MODEL.operation_model(operation).output_shape


def items_of(operation: str) -> st.SearchStrategy[list[dict[str, Any]]]:
    output = output_shape(operation)
    if operation == "GetSessionAction":
        return from_shape(output).map(lambda response: [response])
    return from_shape(output.members["sessionActions"])


ANY_ITEMS = st.one_of(
    items_of("GetSessionAction"),
    items_of("BatchGetSessionAction"),
    items_of("ListSessionActions"),
).flatmap(lambda first: st.just(first))
MIXED = st.lists(
    st.one_of(
        items_of("GetSessionAction"),
        items_of("BatchGetSessionAction"),
        items_of("ListSessionActions"),
    ),
    max_size=3,
).map(lambda lists: [item for items in lists for item in items])

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    # The reader fixture is set once per test on purpose: the reader need not change between
    # examples, only stay the test's own.
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)


def convert(items: list[dict[str, Any]]) -> pd.DataFrame:
    # Valid responses may still carry values this package documents as dropped (an int beyond
    # int64, an end before a start, a parameter typed differently in two steps): those warn.
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # anything else is a bug
        warnings.simplefilter("ignore", DataWarning)
        return dnb.session_action_frame(items)


_FULL_ONLY = ("sessionId", "processExitCode", "progressMessage", "acquiredLimits", "farmId")
_OLDEST = datetime.min.replace(tzinfo=timezone.utc)


def kept_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items a frame keeps: one per sessionActionId, by the documented preferences.

    A full item over a summary, a terminal status, the later ``workerUpdatedAt``, the later
    ``endedAt``, the later item; the items kept stay in input order. Written out plainly here
    (boto3 input only: aware datetimes) to check the package's vectorised version.
    """

    def rank(position: int) -> tuple[Any, ...]:
        item = items[position]
        return (
            any(item.get(f) is not None for f in _FULL_ONLY),
            item["status"] in schema.TERMINAL_STATUSES,
            item.get("workerUpdatedAt") or _OLDEST,
            item.get("endedAt") or _OLDEST,
            position,
        )

    best: dict[str, int] = {}
    for position, item in enumerate(items):
        action = item["sessionActionId"]
        if action not in best or rank(position) > rank(best[action]):
            best[action] = position
    return [items[p] for p in sorted(best.values())]


def check(items: list[dict[str, Any]], frame: pd.DataFrame) -> None:
    # One row per action: an action drawn twice (the ids are short patterns) keeps one item.
    items = kept_items(items)
    assert len(frame) == len(items)
    for name, dtype in schema.SESSION_ACTION_COLUMNS.items():
        assert frame[name].dtype == dtype, name
    for column in frame.columns[len(schema.SESSION_ACTION_COLUMNS) :]:
        assert column.startswith(schema.PARAMETER_PREFIX)
        assert frame[column].dtype in (pd.Int64Dtype(), pd.Float64Dtype(), schema.STRING)
    for row, item in enumerate(items):
        assert frame["sessionActionId"][row] == item["sessionActionId"]
        assert frame["actionIndex"][row] == int(item["sessionActionId"].rsplit("-", 1)[1])
        assert frame["status"][row] == item["status"]
        expected_session = item.get("sessionId") or "session-" + item["sessionActionId"][14:46]
        assert frame["sessionId"][row] == expected_session
        (member,) = item["definition"]
        assert frame["actionType"][row] == member
        if "processExitCode" in item:
            assert frame["processExitCode"][row] == item["processExitCode"]
        else:
            assert pd.isna(frame["processExitCode"][row])
        if "startedAt" in item:
            assert frame["startedAt"][row] == pd.Timestamp(item["startedAt"])
        if "progressPercent" in item:
            assert frame["progressPercent"][row] == item["progressPercent"]


@SETTINGS
@given(MIXED)
def test_every_valid_response_converts_one_row_per_item(items: list[dict[str, Any]]) -> None:
    check(items, convert(items))


@SETTINGS
@given(ANY_ITEMS)
def test_cli_json_of_any_response_gives_the_same_frame(items: list[dict[str, Any]]) -> None:
    buffer = io.StringIO()
    dnb.write_json(items, buffer)
    buffer.seek(0)
    from_file = convert(dnb.read_json(buffer))
    pd.testing.assert_frame_equal(from_file, convert(items))
    # and as the CLI prints it: one JSON document, times as ISO strings with an offset
    text = json.dumps({"sessionActions": items}, default=lambda v: v.isoformat())
    pd.testing.assert_frame_equal(convert(dnb.read_json(io.StringIO(text))), convert(items))


@SETTINGS
@given(ANY_ITEMS)
def test_long_forms_convert_every_valid_response(items: list[dict[str, Any]]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # An action drawn twice is warned about, by design; anything else is a bug.
        warnings.filterwarnings("ignore", "sessionActionId appears more than once", DataWarning)
        params = dnb.parameter_frame(items)
        limits = dnb.limit_frame(items)
        manifests = dnb.manifest_frame(items)
    # The companions keep the item the action frame keeps, when an action is drawn twice.
    kept = kept_items(items)
    expected_params = sum(
        len(item["definition"].get("taskRun", {}).get("parameters") or {}) for item in kept
    )
    assert len(params) == expected_params
    assert len(limits) == sum(len(item.get("acquiredLimits", [])) for item in kept)
    assert len(manifests) == sum(len(item.get("manifests", [])) for item in kept)
    ids = set(convert(items)["sessionActionId"]) if items else set()
    assert set(params["sessionActionId"]) <= ids


@SETTINGS
@given(from_shape(output_shape("ListSessions").members["sessions"]))
def test_every_valid_session_summary_converts(sessions: list[dict[str, Any]]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        frame = dnb.session_frame(sessions)
    assert len(frame) == len(sessions)
    for name, dtype in schema.SESSION_COLUMNS.items():
        assert frame[name].dtype == dtype, name
    assert frame["workerId"].tolist() == [s["workerId"] for s in sessions]
