from __future__ import annotations

import copy
import gzip
import io
import json
import re
import warnings
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
import pytest

import deadline_nb as dnb
from deadline_nb import frames, schema
from deadline_nb.errors import DataWarning, MalformedItemError
from deadline_nb.frames import actions as action_reader

from .helpers import (
    FARM,
    JOB,
    QUEUE,
    SESSION,
    STEP,
    STEP2,
    T0,
    action_id,
    env_action,
    session_actions,
    task_run,
)


@pytest.fixture(autouse=True, params=["compiled", "numpy"])
def reader(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run every test here with each reader of the input: both must give the same frames.

    Function-scoped: the reader is set for each single test, so that a test which switches
    readers cannot leave the next one on the wrong reader.
    """
    with frames.use_reader(request.param):
        yield request.param


def frame_quietly(actions: Any, **kwargs: Any) -> pd.DataFrame:
    """Convert, failing the test on any warning: well-formed input must convert silently."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return dnb.session_action_frame(actions, **kwargs)


def assert_schema(frame: pd.DataFrame) -> None:
    fixed = list(schema.SESSION_ACTION_COLUMNS)
    assert list(frame.columns[: len(fixed)]) == fixed
    for name, dtype in schema.SESSION_ACTION_COLUMNS.items():
        assert frame[name].dtype == dtype, name
    params = list(frame.columns[len(fixed) :])
    assert params == sorted(params)
    assert all(p.startswith(schema.PARAMETER_PREFIX) for p in params)


def deep_mapping(value: Any) -> Any:
    """Wrap every dict in a read-only Mapping: forces the general (non-dict) code path."""
    if isinstance(value, dict):
        return MappingProxyType({k: deep_mapping(v) for k, v in value.items()})
    if isinstance(value, list):
        return [deep_mapping(v) for v in value]
    return value


# ---------------------------------------------------------------------------------------------
# columns, dtypes, values


def test_zero_actions_give_the_fixed_columns_and_dtypes() -> None:
    frame = frame_quietly([])
    assert len(frame) == 0
    assert list(frame.columns) == list(schema.SESSION_ACTION_COLUMNS)
    assert_schema(frame)


def test_a_session_converts_with_every_column_right() -> None:
    frame = frame_quietly(session_actions(), farm_id=FARM, queue_id=QUEUE, job_id=JOB)
    assert_schema(frame)
    assert len(frame) == 6
    assert frame["actionType"].tolist() == [
        "envEnter",
        "syncInputJobAttachments",
        "taskRun",
        "taskRun",
        "taskRun",
        "envExit",
    ]
    assert frame["farmId"].unique().tolist() == [FARM]
    assert frame["jobId"].unique().tolist() == [JOB]
    assert frame["sessionId"].unique().tolist() == [SESSION]
    assert frame["actionIndex"].tolist() == [0, 1, 2, 3, 4, 5]
    assert frame["environmentId"].tolist()[0] == f"JOB:{JOB}:Render Env"
    assert pd.isna(frame["environmentId"][2])
    assert frame["stepId"].tolist()[1:5] == [STEP] * 4
    assert pd.isna(frame["stepId"][0])
    assert frame["taskId"][2] == f"task-{STEP[5:]}-2"
    assert pd.isna(frame["taskId"][1])
    assert frame["startedAt"][2] == pd.Timestamp(T0 + timedelta(seconds=200))
    assert frame["duration"][3] == pd.Timedelta(seconds=95.5)
    assert frame["processExitCode"][4] == -1073741819
    assert frame["param.Frame"].tolist()[2:5] == [1, 2, 3]
    assert frame["param.Frame"].isna().tolist() == [True, True, False, False, False, True]


def test_status_is_ordered_in_the_api_order() -> None:
    statuses = ["RECLAIMED", "SUCCEEDED", "ASSIGNED", "FAILED"]
    frame = frame_quietly([task_run(i, status=s, exit_code=None) for i, s in enumerate(statuses)])
    assert frame["status"].cat.ordered
    assert list(frame["status"].cat.categories) == list(schema.STATUSES)
    assert frame.sort_values("status")["status"].tolist() == [
        "ASSIGNED",
        "SUCCEEDED",
        "FAILED",
        "RECLAIMED",
    ]


def test_action_index_is_the_integer_after_the_last_dash() -> None:
    frame = frame_quietly([task_run(10), task_run(9), task_run(100)])
    assert frame["actionIndex"].tolist() == [10, 9, 100]
    assert frame.sort_values("actionIndex")["actionIndex"].tolist() == [9, 10, 100]


def test_ids_come_from_the_item_before_the_keywords() -> None:
    other_farm = "farm-" + "f" * 32
    batch_item = {**task_run(0), "farmId": other_farm, "queueId": QUEUE, "jobId": JOB}
    frame = frame_quietly([batch_item, task_run(1)], farm_id=FARM, queue_id=QUEUE, job_id=JOB)
    assert frame["farmId"].tolist() == [other_farm, FARM]


def test_ids_are_missing_when_neither_item_nor_keyword_has_them() -> None:
    frame = frame_quietly([task_run(0)])
    assert frame["farmId"].isna().all() and frame["jobId"].isna().all()


def test_session_id_is_derived_from_the_action_id_for_summaries() -> None:
    summary = task_run(0, session_hex="9" * 32)
    del summary["sessionId"]
    frame = frame_quietly([summary])
    assert frame["sessionId"][0] == "session-" + "9" * 32


def test_running_action_has_progress_and_no_end() -> None:
    running = task_run(
        0,
        status="RUNNING",
        progressPercent=42.5,
        progressMessage="Rendering frame 57: 43% (tile 12/28)",
    )
    frame = frame_quietly([running])
    assert frame["progressPercent"][0] == 42.5
    assert frame["progressMessage"][0] == "Rendering frame 57: 43% (tile 12/28)"
    assert pd.isna(frame["endedAt"][0]) and pd.isna(frame["duration"][0])
    assert frame["workerUpdatedAt"][0] == pd.Timestamp(T0 + timedelta(seconds=60))


def test_never_attempted_action_has_no_times() -> None:
    frame = frame_quietly([task_run(0, status="NEVER_ATTEMPTED")])
    assert frame[["startedAt", "endedAt", "duration", "processExitCode"]].isna().all(axis=None)


def test_parameter_columns_by_type() -> None:
    params = {
        "Frame": {"int": "12"},
        "Scale": {"float": "0.5"},
        "Camera": {"string": "shotCam"},
        "Scene": {"path": "/mnt/show/sh010.ma"},
        "Chunk": {"chunkInt": "1-10"},
    }
    frame = frame_quietly([task_run(0, parameters=params)])
    assert frame["param.Frame"].dtype == pd.Int64Dtype()
    assert frame["param.Scale"].dtype == pd.Float64Dtype()
    for name in ("Camera", "Scene", "Chunk"):
        assert frame[f"param.{name}"].dtype == schema.STRING
    assert frame["param.Chunk"][0] == "1-10"
    assert frame["param.Scene"][0] == "/mnt/show/sh010.ma"
    assert list(frame.columns[-5:]) == [f"param.{n}" for n in sorted(params)]


def test_steps_with_different_parameters_leave_the_others_missing() -> None:
    actions = [
        task_run(0, parameters={"Frame": {"int": "1"}}),
        task_run(1, parameters={"Shot": {"string": "sh010"}}, step=STEP2),
        task_run(2, parameters={"Frame": {"int": "2"}}),
    ]
    frame = frame_quietly(actions)
    assert frame["param.Frame"].tolist()[0] == 1 and pd.isna(frame["param.Frame"][1])
    assert frame["param.Shot"].isna().tolist() == [True, False, True]


def test_float_like_3e10_is_read_exactly() -> None:
    frame = frame_quietly([task_run(0, parameters={"Scale": {"float": "3e10"}})])
    assert frame["param.Scale"][0] == 3e10


def test_item_forms_and_time_forms_give_the_same_frame() -> None:
    """boto3 datetimes, CLI ISO strings (with and without fractions) and epoch seconds."""
    actions = session_actions()
    as_iso = [
        {
            k: (v.isoformat().replace("+00:00", "Z") if isinstance(v, datetime) else v)
            for k, v in a.items()
        }
        for a in actions
    ]
    as_epoch = [
        {k: (v.timestamp() if isinstance(v, datetime) else v) for k, v in a.items()}
        for a in actions
    ]
    expected = frame_quietly(actions)
    pd.testing.assert_frame_equal(frame_quietly(as_iso), expected)
    pd.testing.assert_frame_equal(frame_quietly(as_epoch), expected)


def test_offsets_other_than_utc_are_converted_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    action = task_run(0)
    action["startedAt"] = datetime(2026, 11, 27, 0, 0, tzinfo=plus_two)
    action["endedAt"] = "2026-11-27T01:00:00+02:00"
    frame = frame_quietly([action])
    assert frame["startedAt"][0] == pd.Timestamp("2026-11-26T22:00:00Z")
    assert frame["duration"][0] == pd.Timedelta(hours=1)


def test_single_response_page_and_list_of_pages_are_accepted() -> None:
    actions = session_actions()
    response = {**actions[0], "ResponseMetadata": {"HTTPStatusCode": 200}}
    assert len(frame_quietly(response)) == 1
    pages = [{"sessionActions": actions[:3], "errors": []}, {"sessionActions": actions[3:]}]
    pd.testing.assert_frame_equal(frame_quietly(pages), frame_quietly(actions))
    pd.testing.assert_frame_equal(frame_quietly(pages[0]), frame_quietly(actions[:3]))


def test_mixed_get_batch_and_list_forms() -> None:
    get = task_run(0)
    batch = {
        **task_run(1),
        "farmId": FARM,
        "queueId": QUEUE,
        "jobId": JOB,
        "acquiredLimits": [{"limitId": "limit-" + "2" * 32, "count": 1}],
    }
    summary = {k: v for k, v in task_run(2).items() if k not in ("sessionId", "processExitCode")}
    frame = frame_quietly([get, batch, summary], farm_id=FARM, queue_id=QUEUE, job_id=JOB)
    assert_schema(frame)
    assert frame["processExitCode"].isna().tolist() == [False, False, True]
    assert frame["sessionId"].nunique() == 1


def test_general_path_gives_the_same_frame_as_the_fast_path() -> None:
    """Mappings that are not dicts take the Python path; the result must not differ."""
    actions = [
        *session_actions(),
        task_run(6, parameters={"Frame": {"int": "7"}, "Scale": {"float": "1.5"}}),
        task_run(7, status="RUNNING", progressPercent=10.0, progressMessage="10%"),
    ]
    fast = frame_quietly(copy.deepcopy(actions))
    general = frame_quietly(deep_mapping(actions))
    pd.testing.assert_frame_equal(general, fast)


def test_input_is_not_modified() -> None:
    actions = session_actions()
    before = copy.deepcopy(actions)
    frame_quietly(actions)
    assert actions == before


def test_memory_is_small_per_row() -> None:
    frame = frame_quietly([task_run(i, frame=i) for i in range(2000)], job_id=JOB)
    # Arrow strings and categories: well under what object columns would take (about 700).
    assert frame.memory_usage(deep=True).sum() / len(frame) < 300


# ---------------------------------------------------------------------------------------------
# input that is wrong in part


def only_warning(record: list[warnings.WarningMessage]) -> str:
    data = [w for w in record if issubclass(w.category, DataWarning)]
    assert len(data) == 1, [str(w.message) for w in data]
    return str(data[0].message)


def test_unknown_definition_member_gives_unknown_type_and_names_the_action() -> None:
    actions = session_actions()
    actions[1] = {**actions[1], "definition": {"SDK_UNKNOWN_MEMBER": {"name": "newThing"}}}
    with pytest.warns(DataWarning) as record:
        frame = dnb.session_action_frame(actions)
    message = only_warning(record.list)
    assert action_id(1) in message and "newThing" in message
    assert frame["actionType"][1] == "unknown"
    assert pd.isna(frame["stepId"][1])
    assert frame["actionType"][2] == "taskRun"  # the rest is untouched


def test_unknown_parameter_value_member_is_missing_for_that_action_only() -> None:
    actions = [
        task_run(0, frame=1),
        task_run(1, parameters={"Frame": {"SDK_UNKNOWN_MEMBER": {"name": "intList"}}}),
        task_run(2, frame=3),
    ]
    with pytest.warns(DataWarning) as record:
        frame = dnb.session_action_frame(actions)
    assert action_id(1) in only_warning(record.list)
    assert frame["param.Frame"].dtype == pd.Int64Dtype()
    assert frame["param.Frame"].tolist()[0] == 1 and frame["param.Frame"].tolist()[2] == 3
    assert pd.isna(frame["param.Frame"][1])
    long = dnb.parameter_frame(actions)
    assert long.loc[long["sessionActionId"] == action_id(1), "type"].tolist() == ["unknown"]


def test_int_beyond_int64_is_missing_and_its_text_kept_in_parameter_frame() -> None:
    huge = "99999999999999999999"  # 20 characters, as the API allows
    actions = [task_run(0, frame=5), task_run(1, parameters={"Frame": {"int": huge}})]
    with pytest.warns(DataWarning) as record:
        frame = dnb.session_action_frame(actions)
    message = only_warning(record.list)
    assert action_id(1) in message and "int64" in message
    assert frame["param.Frame"].dtype == pd.Int64Dtype()
    assert frame["param.Frame"][0] == 5 and pd.isna(frame["param.Frame"][1])
    long = dnb.parameter_frame(actions)
    row = long[long["sessionActionId"] == action_id(1)].iloc[0]
    assert row["value"] == huge and pd.isna(row["intValue"])
    assert row["floatValue"] is pd.NA or pd.isna(row["floatValue"])


def test_float_that_overflows_is_missing_with_a_warning() -> None:
    actions = [
        task_run(0, parameters={"Scale": {"float": "1e999"}}),
        task_run(1, parameters={"Scale": {"float": "2.5"}}),
    ]
    with pytest.warns(DataWarning) as record:
        frame = dnb.session_action_frame(actions)
    assert action_id(0) in only_warning(record.list)
    assert pd.isna(frame["param.Scale"][0]) and frame["param.Scale"][1] == 2.5


def test_int_and_float_of_one_name_give_a_float_column() -> None:
    actions = [
        task_run(0, parameters={"Scale": {"int": "2"}}),
        task_run(1, parameters={"Scale": {"float": "0.25"}}, step=STEP2),
    ]
    frame = frame_quietly(actions)
    assert frame["param.Scale"].dtype == pd.Float64Dtype()
    assert frame["param.Scale"].tolist() == [2.0, 0.25]


def test_int_and_chunk_of_one_name_give_text_and_a_warning_naming_the_parameter() -> None:
    actions = [
        task_run(0, parameters={"Frame": {"int": "5"}}),
        task_run(1, parameters={"Frame": {"chunkInt": "1-10"}}, step=STEP2),
    ]
    with pytest.warns(DataWarning) as record:
        frame = dnb.session_action_frame(actions)
    message = only_warning(record.list)
    assert "'Frame'" in message and "chunkInt" in message
    assert frame["param.Frame"].dtype == schema.STRING
    assert frame["param.Frame"].tolist() == ["5", "1-10"]


def test_naive_datetimes_are_taken_as_utc_with_one_warning() -> None:
    actions = session_actions()
    for a in actions[:2]:
        a["startedAt"] = a["startedAt"].replace(tzinfo=None)
        a["endedAt"] = a["endedAt"].replace(tzinfo=None).isoformat()
    with pytest.warns(DataWarning) as record:
        frame = dnb.session_action_frame(actions)
    message = only_warning(record.list)
    assert "UTC" in message and action_id(0) in message and action_id(1) in message
    pd.testing.assert_frame_equal(frame, frame_quietly(session_actions()))


def test_end_before_start_keeps_the_times_and_drops_the_duration() -> None:
    actions = session_actions()
    actions[3]["endedAt"] = actions[3]["startedAt"] - timedelta(seconds=5)
    with pytest.warns(DataWarning) as record:
        frame = dnb.session_action_frame(actions)
    assert action_id(3) in only_warning(record.list)
    assert pd.isna(frame["duration"][3])
    assert frame["endedAt"][3] < frame["startedAt"][3]
    assert frame["duration"][2] == pd.Timedelta(seconds=60)


def test_missing_optional_fields_are_missing_without_warnings() -> None:
    bare = {
        "sessionActionId": action_id(0),
        "status": "ASSIGNED",
        "definition": {"taskRun": {"stepId": STEP, "parameters": {}}},
    }
    frame = frame_quietly([bare])
    assert_schema(frame)
    assert (
        frame[["startedAt", "progressPercent", "progressMessage", "taskId"]].isna().all(axis=None)
    )


def test_unknown_status_is_missing_and_named() -> None:
    actions = session_actions()
    actions[2]["status"] = "TELEPORTED"
    with pytest.warns(DataWarning) as record:
        frame = dnb.session_action_frame(actions)
    message = only_warning(record.list)
    assert "TELEPORTED" in message and action_id(2) in message
    assert pd.isna(frame["status"][2]) and frame["status"][3] == "SUCCEEDED"


def test_wrong_types_lose_only_the_value() -> None:
    actions = session_actions()
    actions[2]["processExitCode"] = "137"
    actions[3]["progressPercent"] = 250.0
    actions[4]["startedAt"] = ["not", "a", "time"]
    with pytest.warns(DataWarning) as record:
        frame = dnb.session_action_frame(actions)
    messages = " ".join(str(w.message) for w in record.list)
    for n in (2, 3, 4):
        assert action_id(n) in messages
    assert pd.isna(frame["processExitCode"][2]) and frame["processExitCode"][4] == -1073741819
    assert pd.isna(frame["progressPercent"][3])
    assert pd.isna(frame["startedAt"][4]) and frame["endedAt"].notna()[4]


def test_one_broken_action_does_not_sink_ten_thousand() -> None:
    actions = [task_run(i, frame=i) for i in range(10_000)]
    actions[7_777]["status"] = 42
    actions[8_888]["definition"] = {"SDK_UNKNOWN_MEMBER": {"name": "x"}}
    with pytest.warns(DataWarning) as record:
        frame = dnb.session_action_frame(actions)
    assert len(frame) == 10_000
    assert frame["status"].isna().sum() == 1 and pd.isna(frame["status"][7_777])
    assert (frame["actionType"] == "unknown").sum() == 1
    assert frame["param.Frame"].notna().sum() == 9_999
    assert len([w for w in record.list if issubclass(w.category, DataWarning)]) == 2


def test_many_bad_values_give_one_warning_that_counts_them() -> None:
    actions = [task_run(i, status="WEIRD") for i in range(50)]
    with pytest.warns(DataWarning) as record:
        dnb.session_action_frame(actions)
    message = only_warning(record.list)
    assert "50 actions" in message and "and 45 more" in message


@pytest.mark.parametrize(
    ("bad", "field", "words"),
    [
        (["not", "a", "mapping"], None, "expected a mapping, got list"),
        ({"status": "SUCCEEDED"}, "sessionActionId", "it is missing"),
        ({"sessionActionId": 12}, "sessionActionId", "expected a string, got int"),
        ({"sessionActionId": "sessionaction-xyz-1"}, "sessionActionId", "is not of the form"),
        ({"sessionActionId": action_id(0)[:-2] + "-01"}, "sessionActionId", "is not of the"),
    ],
)
def test_malformed_item_raises_naming_its_position_and_field(
    bad: Any, field: str | None, words: str
) -> None:
    actions: list[Any] = [*session_actions(), bad]
    with pytest.raises(ValueError, match=r"Item 6 ") as info:
        dnb.session_action_frame(actions)
    assert isinstance(info.value, MalformedItemError)
    assert info.value.position == 6 and info.value.field == field
    assert words in str(info.value)


def test_a_string_or_a_frame_is_refused_with_a_hint() -> None:
    with pytest.raises(TypeError, match="read_json"):
        dnb.session_action_frame("actions.json")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="DataFrame"):
        dnb.session_action_frame(pd.DataFrame())


# ---------------------------------------------------------------------------------------------
# long-form companions


def test_parameter_frame_joins_back_on_session_action_id() -> None:
    actions = [
        task_run(
            0,
            parameters={
                "Frame": {"int": "1"},
                "Chunk": {"chunkInt": "1-5"},
                "Scale": {"float": "0.5"},
            },
        ),
        env_action(1),
    ]
    long = dnb.parameter_frame(actions)
    assert list(long.columns) == list(schema.PARAMETER_COLUMNS)
    for name, dtype in schema.PARAMETER_COLUMNS.items():
        assert long[name].dtype == dtype, name
    assert long["name"].tolist() == ["Chunk", "Frame", "Scale"]
    assert long["type"].tolist() == ["chunkInt", "int", "float"]
    assert long["value"].tolist() == ["1-5", "1", "0.5"]
    assert long["intValue"].tolist()[1] == 1 and long["floatValue"].tolist()[2] == 0.5
    joined = long.merge(dnb.session_action_frame(actions), on="sessionActionId")
    assert len(joined) == 3 and (joined["actionType"] == "taskRun").all()


def test_limit_and_manifest_frames() -> None:
    limit = "limit-" + "2" * 32
    actions = [
        task_run(
            0,
            acquiredLimits=[{"limitId": limit, "count": 1}],
            manifests=[
                {"outputManifestPath": "m/0", "outputManifestHash": "h0"},
                {"outputManifestPath": "m/1", "outputManifestHash": "h1"},
            ],
        ),
        task_run(1),
    ]
    limits = dnb.limit_frame(actions)
    assert list(limits.columns) == list(schema.LIMIT_COLUMNS)
    assert limits.to_dict("records") == [
        {"sessionActionId": action_id(0), "limitId": limit, "count": 1}
    ]
    manifests = dnb.manifest_frame(actions)
    assert list(manifests.columns) == list(schema.MANIFEST_COLUMNS)
    assert manifests["manifestIndex"].tolist() == [0, 1]
    assert manifests["outputManifestPath"].tolist() == ["m/0", "m/1"]
    for name, dtype in schema.MANIFEST_COLUMNS.items():
        assert manifests[name].dtype == dtype


def test_long_forms_of_nothing_have_their_columns() -> None:
    for func, columns in (
        (dnb.parameter_frame, schema.PARAMETER_COLUMNS),
        (dnb.limit_frame, schema.LIMIT_COLUMNS),
        (dnb.manifest_frame, schema.MANIFEST_COLUMNS),
    ):
        empty = func([])
        assert list(empty.columns) == list(columns) and len(empty) == 0
        assert all(empty[c].dtype == d for c, d in columns.items())


def session(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "sessionId": f"session-{n:032x}",
        "fleetId": "fleet-" + "3" * 32,
        "workerId": f"worker-{n:032x}",
        "startedAt": T0,
        "lifecycleStatus": "ENDED",
        "endedAt": T0 + timedelta(hours=1),
        **extra,
    }


def test_session_frame_columns_and_host_properties() -> None:
    with_host = session(
        1,
        hostProperties={"hostName": "render-042", "ec2InstanceType": "c5.4xlarge"},
        log={"logDriver": "awslogs"},
    )
    running = session(2, lifecycleStatus="STARTED")
    del running["endedAt"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = dnb.session_frame({"sessions": [with_host, running]}, farm_id=FARM, job_id=JOB)
    assert list(frame.columns) == list(schema.SESSION_COLUMNS)
    for name, dtype in schema.SESSION_COLUMNS.items():
        assert frame[name].dtype == dtype, name
    assert frame["hostName"].tolist()[0] == "render-042" and pd.isna(frame["hostName"][1])
    assert frame["instanceType"][0] == "c5.4xlarge"
    assert frame["duration"][0] == pd.Timedelta(hours=1) and pd.isna(frame["duration"][1])
    assert frame["farmId"].tolist() == [FARM, FARM]
    assert frame["lifecycleStatus"].cat.ordered
    assert len(dnb.session_frame([])) == 0
    with pytest.raises(ValueError, match=r"Item 0 .*sessionId"):
        dnb.session_frame([{"workerId": "worker-x"}])


# ---------------------------------------------------------------------------------------------
# files


def cli_json(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the AWS CLI prints: ISO-8601 strings for times."""
    return json.loads(json.dumps(actions, default=lambda v: v.isoformat()))


@pytest.mark.parametrize("form", ["object", "list", "page", "pages", "jsonl", "batch"])
def test_read_json_forms(form: str, tmp_path: Path) -> None:
    actions = cli_json(session_actions())
    if form == "object":
        text, expected = json.dumps(actions[0]), actions[:1]
    elif form == "list":
        text, expected = json.dumps(actions), actions
    elif form == "page":
        text, expected = json.dumps({"sessionActions": actions, "nextToken": "x"}), actions
    elif form == "pages":
        text = json.dumps([{"sessionActions": actions[:2]}, {"sessionActions": actions[2:]}])
        expected = actions
    elif form == "jsonl":
        text, expected = "\n".join(json.dumps(a) for a in actions) + "\n", actions
    else:
        batch = [{**a, "farmId": FARM, "queueId": QUEUE, "jobId": JOB} for a in actions]
        text, expected = json.dumps({"sessionActions": batch, "errors": []}), batch
    path = tmp_path / "actions.json"
    path.write_text(text)
    assert dnb.read_json(path) == expected
    assert dnb.read_json(str(path)) == expected
    assert dnb.read_json(io.StringIO(text)) == expected
    assert dnb.read_json(io.BytesIO(text.encode())) == expected


def test_read_json_of_cli_output_gives_the_boto3_frame(tmp_path: Path) -> None:
    path = tmp_path / "get.json"
    path.write_text(json.dumps({"sessionActions": cli_json(session_actions())}, indent=4))
    pd.testing.assert_frame_equal(
        frame_quietly(dnb.read_json(path)), frame_quietly(session_actions())
    )


def test_write_json_round_trip_gzip(tmp_path: Path) -> None:
    actions = session_actions()
    path = tmp_path / "actions.jsonl.gz"
    assert dnb.write_json(actions, path) == len(actions)
    with gzip.open(path, "rt") as handle:
        assert len(handle.read().splitlines()) == len(actions)
    pd.testing.assert_frame_equal(frame_quietly(dnb.read_json(path)), frame_quietly(actions))


def test_read_json_names_the_bad_line_and_reports_batch_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"sessionActionId": "a"}\n{oops\n')
    with pytest.raises(ValueError, match="line 2"):
        dnb.read_json(path)
    page = {
        "sessionActions": [],
        "errors": [
            {"sessionActionId": action_id(3), "code": "ResourceNotFoundException", "message": "x"}
        ],
    }
    with pytest.warns(DataWarning, match=action_id(3)):
        assert dnb.read_json(io.StringIO(json.dumps(page))) == []


def test_parquet_round_trip_keeps_every_dtype(tmp_path: Path) -> None:
    actions = [
        *session_actions(),
        task_run(
            6,
            status="RUNNING",
            progressPercent=5.0,
            progressMessage="5%",
            parameters={
                "Frame": {"int": "9"},
                "Chunk": {"chunkInt": "1-3"},
                "Scale": {"float": "2"},
            },
        ),
    ]
    frame = frame_quietly(actions, farm_id=FARM, queue_id=QUEUE, job_id=JOB)
    path = tmp_path / "actions.parquet"
    frame.to_parquet(path)
    back = dnb.read_parquet(path)
    pd.testing.assert_frame_equal(back, frame)
    assert back["status"].cat.ordered
    if int(pd.__version__.split(".")[0]) >= 3:  # pandas 3 keeps Arrow strings by itself
        pd.testing.assert_frame_equal(pd.read_parquet(path), frame)


def test_importing_the_package_is_light() -> None:
    import subprocess
    import sys

    code = "import sys, deadline_nb; print('pandas' in sys.modules, 'boto3' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_numpy_scalars_from_other_frames_are_accepted() -> None:
    action = task_run(0)
    action["processExitCode"] = np.int64(3)
    action["progressPercent"] = np.float32(12.5)
    frame = frame_quietly([action])
    assert frame["processExitCode"][0] == 3 and frame["progressPercent"][0] == 12.5


def test_mapping_subclass_items_are_accepted() -> None:
    class Item(dict[str, Any]):
        pass

    items: list[Mapping[str, Any]] = [Item(a) for a in session_actions()]
    pd.testing.assert_frame_equal(frame_quietly(items), frame_quietly(session_actions()))


def test_session_end_before_start_drops_only_its_duration() -> None:
    backwards = session(1, endedAt=T0 - timedelta(minutes=1))
    with pytest.warns(DataWarning, match=r"1 session: session-0+1"):
        frame = dnb.session_frame([backwards, session(2)])
    assert pd.isna(frame["duration"][0]) and frame["duration"][1] == pd.Timedelta(hours=1)


def test_long_forms_lose_only_the_malformed_value() -> None:
    actions = [
        task_run(0, parameters={"Frame": {"int": "twelve"}, "Scale": {"float": "1.5.2"}}),
        task_run(1, frame=7, manifests=[{"outputManifestPath": 42, "outputManifestHash": "h"}]),
    ]
    long = dnb.parameter_frame(actions)
    assert long["value"].tolist() == ["twelve", "1.5.2", "7"]
    assert long["intValue"].isna().tolist() == [True, True, False]
    assert long["floatValue"].isna().tolist() == [True, True, False]
    with pytest.warns(DataWarning, match=action_id(1)):
        manifests = dnb.manifest_frame(actions)
    assert pd.isna(manifests["outputManifestPath"][0]) and manifests["outputManifestHash"][0] == "h"


def test_the_compiled_reader_is_built_and_takes_boto3_input(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert "compiled" in frames.READERS, "deadline_nb.frames._speedups was not compiled at install"

    def fail(*args: Any) -> None:
        raise AssertionError("the NumPy reader was used")

    # The NumPy reader is private to the reader module: only replacing it shows it was not run.
    monkeypatch.setattr(action_reader, "_read_numpy", fail)
    with frames.use_reader("compiled"):
        frame = frame_quietly(session_actions())
    assert len(frame) == 6


def test_both_readers_agree_on_zones_naive_times_and_warnings() -> None:
    from dateutil.tz import tzoffset, tzutc

    actions = session_actions()
    actions[0]["startedAt"] = actions[0]["startedAt"].replace(tzinfo=tzutc())
    actions[1]["startedAt"] = datetime(2026, 11, 27, 1, 0, tzinfo=tzoffset(None, 7200))
    actions[2]["endedAt"] = actions[2]["endedAt"].replace(tzinfo=None)
    actions[3]["status"] = "TELEPORTED"
    actions[4]["definition"]["taskRun"]["parameters"] = {"Frame": {"int": "9" * 20}}
    results = []
    for name in ("compiled", "numpy"):
        with frames.use_reader(name), pytest.warns(DataWarning) as record:
            results.append((dnb.session_action_frame(copy.deepcopy(actions)), record))
    (first, first_warnings), (second, second_warnings) = results
    pd.testing.assert_frame_equal(first, second)
    assert sorted(str(w.message) for w in first_warnings.list) == sorted(
        str(w.message) for w in second_warnings.list
    )
    assert first["startedAt"][1] == pd.Timestamp("2026-11-26T23:00:00Z")


def other_reader(reader: str) -> str:
    return "numpy" if reader == "compiled" else "compiled"


def test_use_reader_switches_back_however_the_block_is_left(reader: str) -> None:
    with pytest.raises(KeyError), frames.use_reader(other_reader(reader)):
        assert frames.current_reader() == other_reader(reader)
        raise KeyError("the block is left by an error")
    assert frames.current_reader() == reader


def test_use_reader_names_the_readers_it_knows() -> None:
    message = "The value for `reader` must be one of ['compiled', 'numpy'], but 'arrow' was passed."
    with pytest.raises(ValueError, match=re.escape(message)):
        frames.use_reader("arrow")


def test_a_test_may_leave_the_other_reader_on(reader: str) -> None:
    """The first of two: this leaves the other reader on, as a test that forgets to switch back."""
    frames.use_reader(other_reader(reader)).__enter__()  # never left
    assert frames.current_reader() == other_reader(reader)


def test_each_test_reads_with_its_own_reader(reader: str) -> None:
    """The second: right after a test that left the other reader on, this test's is in effect.

    With the reader set once per module instead of once per test, the other reader would leak
    in here and this would fail.
    """
    assert frames.current_reader() == reader


def test_a_date_beyond_what_nanoseconds_hold_loses_only_that_value() -> None:
    actions = session_actions()
    actions[2]["endedAt"] = datetime(2300, 1, 1, tzinfo=timezone.utc)
    with pytest.warns(DataWarning) as record:
        frame = dnb.session_action_frame(actions)
    assert action_id(2) in only_warning(record.list)
    assert pd.isna(frame["endedAt"][2]) and pd.isna(frame["duration"][2])
    assert frame["endedAt"].notna().sum() == 5
