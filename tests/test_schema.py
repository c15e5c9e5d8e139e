from __future__ import annotations

from typing import Any

import botocore.session
import pandas as pd

from deadline_nb import schema

MODEL = botocore.session.get_session().get_service_model("deadline")


def shape(name: str) -> Any:
    return MODEL.shape_for(name)


def test_statuses_are_the_api_enum_in_the_api_order() -> None:
    assert list(schema.STATUSES) == shape("SessionActionStatus").enum
    assert len(schema.STATUSES) == 11


def test_terminal_statuses_are_statuses_and_active_ones_are_the_rest() -> None:
    assert set(schema.STATUSES) >= schema.TERMINAL_STATUSES
    assert set(schema.ACTIVE_STATUSES) == set(schema.STATUSES) - schema.TERMINAL_STATUSES
    assert "RUNNING" in schema.ACTIVE_STATUSES and "SUCCEEDED" in schema.TERMINAL_STATUSES


def test_action_types_are_the_definition_union_members_plus_unknown() -> None:
    members = list(shape("SessionActionDefinition").members)
    assert list(schema.ACTION_TYPES) == [*members, "unknown"]


def test_parameter_types_are_the_value_union_members() -> None:
    members = list(shape("TaskParameterValue").members)
    assert list(schema.PARAMETER_TYPES) == [*members, "unknown"]
    assert set(schema.PARAMETER_DTYPES) == set(members)


def test_lifecycle_statuses_follow_the_api() -> None:
    assert list(schema.SESSION_LIFECYCLE_STATUSES) == shape("SessionLifecycleStatus").enum


def test_every_status_and_action_type_has_a_distinct_colour() -> None:
    assert set(schema.STATUS_COLORS) == set(schema.STATUSES)
    assert len(set(schema.STATUS_COLORS.values())) == len(schema.STATUSES)
    assert set(schema.ACTION_TYPE_COLORS) == set(schema.ACTION_TYPES)


def test_empty_frame_has_the_columns_and_dtypes() -> None:
    frame = schema.empty_frame(schema.SESSION_ACTION_COLUMNS)
    assert list(frame.columns) == list(schema.SESSION_ACTION_COLUMNS)
    assert len(frame) == 0
    assert frame["status"].dtype == schema.STATUS
    assert frame["startedAt"].dtype == pd.DatetimeTZDtype("ns", "UTC")
    assert frame["processExitCode"].dtype == pd.Int32Dtype()
