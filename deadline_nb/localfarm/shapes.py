"""botocore's service models for ``deadline`` and ``logs``, and a validator of values against them.

The local farm takes everything it can from the model that boto3 itself uses: request paths and
methods, input members and where they travel (path, query string, body), id patterns, enums, and
the members of error bodies. The same validator checks requests on the way in (a malformed id gets
the service's 400 ``ValidationException``) and, in the tests, every response on the way out, in
the spirit of botocore's ``Stubber``: a fake that is checked against the model cannot drift from
the real API.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import re
from collections.abc import Mapping
from typing import Any

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape

__all__ = [
    "ResponseShapeError",
    "check_responses",
    "format_timestamp",
    "logs_service_model",
    "operation_model",
    "output_shape",
    "parse_timestamp",
    "service_model",
    "to_wire",
    "validate",
]


@functools.lru_cache(maxsize=1)
def service_model() -> ServiceModel:
    """Return botocore's model of the Deadline Cloud API (loaded once, offline).

    Returns
    -------
    botocore.model.ServiceModel
        The ``deadline`` service model shipped with the installed botocore.

    Examples
    --------
    >>> from deadline_nb.localfarm.shapes import service_model
    >>> service_model().api_version
    '2023-10-12'
    """
    return botocore.session.get_session().get_service_model("deadline")


@functools.lru_cache(maxsize=1)
def logs_service_model() -> ServiceModel:
    """Return botocore's model of the CloudWatch Logs API (loaded once, offline).

    The local farm serves the session logs from it (:mod:`.logs`): operation names, input
    members and their constraints, output shapes.

    Returns
    -------
    botocore.model.ServiceModel
        The ``logs`` service model shipped with the installed botocore.

    Examples
    --------
    >>> from deadline_nb.localfarm.shapes import logs_service_model
    >>> logs_service_model().metadata["targetPrefix"]
    'Logs_20140328'
    """
    return botocore.session.get_session().get_service_model("logs")


@functools.cache
def operation_model(name: str) -> OperationModel:
    """Return the model of one operation, such as ``"GetSessionAction"``.

    Parameters
    ----------
    name
        The operation's name in the API (CamelCase).

    Returns
    -------
    botocore.model.OperationModel
        Its HTTP binding, input and output shapes.

    Examples
    --------
    >>> from deadline_nb.localfarm.shapes import operation_model
    >>> operation_model("GetFarm").http["method"]
    'GET'
    """
    return service_model().operation_model(name)


def output_shape(name: str) -> Shape:
    """Return the output shape of one operation, such as ``"GetSessionAction"``.

    Parameters
    ----------
    name
        The operation's name in the API (CamelCase).

    Returns
    -------
    botocore.model.Shape
        The structure its successful responses have.

    Examples
    --------
    >>> from deadline_nb.localfarm.shapes import output_shape
    >>> output_shape("GetFarm").name
    'GetFarmResponse'
    """
    shape = operation_model(name).output_shape
    if shape is None:
        raise ValueError(f"The operation {name!r} has no output.")
    return shape


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


_NUMBER_TYPES = ("integer", "long", "float", "double")


def validate(shape: Shape, value: Any, *, path: str = "", raw: bool = True) -> list[str]:
    """Check a value against a botocore shape; return one message per problem.

    Structures must have their required members and no member the shape does not know; unions
    exactly one member; strings their pattern (whole match), length and enum; numbers their
    range; lists and maps their length. ``raw=True`` checks JSON as it travels (timestamps are
    epoch seconds); ``raw=False`` checks what boto3 returns (timestamps are ``datetime``).

    Parameters
    ----------
    shape
        The botocore shape, such as ``operation_model("GetJob").output_shape``.
    value
        The value to check.
    path
        Where the value sits, for the messages (the caller's prefix).
    raw
        Whether the value is wire JSON rather than boto3's parsed result.

    Returns
    -------
    list of str
        ``"<path>: <problem>"`` messages; empty when the value is valid.

    Examples
    --------
    >>> from deadline_nb.localfarm.shapes import operation_model, validate
    >>> shape = operation_model("GetFarm").input_shape
    >>> validate(shape, {"farmId": "farm-123"})
    ['farmId: does not match the pattern farm-[0-9a-f]{32}']
    """
    errors: list[str] = []
    _validate(shape, value, path, raw, errors)
    return errors


def parse_timestamp(value: str | float) -> float | None:
    """Return epoch seconds for a wire timestamp (epoch seconds or ISO 8601), or None.

    Parameters
    ----------
    value
        A number of seconds, or ISO 8601 text such as ``"2026-03-02T08:00:00Z"``.

    Returns
    -------
    float or None
        Seconds since the epoch; ``None`` when the text is not a timestamp.

    Examples
    --------
    >>> from deadline_nb.localfarm.shapes import parse_timestamp
    >>> parse_timestamp("2026-03-02T08:00:00Z")
    1772438400.0
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    try:
        parsed = _dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_dt.timezone.utc)
    return parsed.timestamp()


@functools.lru_cache(maxsize=65536)
def format_timestamp(seconds: float) -> str:
    """Return epoch seconds as the service's ISO 8601 text, in UTC with milliseconds.

    Parameters
    ----------
    seconds
        Seconds since the epoch.

    Returns
    -------
    str
        Such as ``"2026-03-02T08:00:00.000Z"``.

    Examples
    --------
    >>> from deadline_nb.localfarm.shapes import format_timestamp
    >>> format_timestamp(1772438400.25)
    '2026-03-02T08:00:00.250Z'
    """
    moment = _dt.datetime.fromtimestamp(seconds, tz=_dt.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _WirePlan:
    """For one structure shape: which members are ISO 8601 timestamps, which contain some."""

    __slots__ = ("nested", "timestamps")

    def __init__(self, timestamps: frozenset[str], nested: dict[str, Shape]) -> None:
        self.timestamps = timestamps
        self.nested = nested


_PLANS: dict[str, _WirePlan] = {}


def _has_iso_timestamp(shape: Shape, seen: frozenset[str] = frozenset()) -> bool:
    if shape.type_name == "timestamp":
        return bool(shape.serialization.get("timestampFormat") == "iso8601")
    if shape.name in seen:
        return False
    seen = seen | {shape.name}
    if shape.type_name == "structure":
        members = shape.members  # type: ignore[attr-defined]
        return any(_has_iso_timestamp(m, seen) for m in members.values())
    if shape.type_name == "list":
        return _has_iso_timestamp(shape.member, seen)  # type: ignore[attr-defined]
    if shape.type_name == "map":
        return _has_iso_timestamp(shape.value, seen)  # type: ignore[attr-defined]
    return False


_CONTAINS: dict[str, bool] = {}


def _contains_iso(shape: Shape) -> bool:
    found = _CONTAINS.get(shape.name)
    if found is None:
        found = _CONTAINS[shape.name] = _has_iso_timestamp(shape)
    return found


def _plan(shape: Shape) -> _WirePlan:
    plan = _PLANS.get(shape.name)
    if plan is None:
        members = shape.members  # type: ignore[attr-defined]
        timestamps = frozenset(
            name
            for name, member in members.items()
            if member.type_name == "timestamp"
            and member.serialization.get("timestampFormat") == "iso8601"
        )
        nested = {
            name: member
            for name, member in members.items()
            if member.type_name in ("structure", "list", "map") and _contains_iso(member)
        }
        plan = _PLANS[shape.name] = _WirePlan(timestamps, nested)
    return plan


def to_wire(value: Any, shape: Shape) -> Any:
    """Return ``value`` as the service sends it: ISO 8601 text for the timestamps that the model
    says travel that way (all of Deadline Cloud's), everything else unchanged.

    The local farm keeps timestamps as epoch seconds, which are easy to compute with; they are
    turned into text only on the way out. Parts without timestamps are shared, not copied.

    Parameters
    ----------
    value
        A response (or part of one) with timestamps as epoch seconds.
    shape
        Its botocore shape.

    Returns
    -------
    Any
        The value with its ISO 8601 timestamps as text.

    Examples
    --------
    >>> from deadline_nb.localfarm.shapes import output_shape, to_wire
    >>> to_wire({"farmId": "farm-1", "createdAt": 1772438400.0}, output_shape("GetFarm"))
    {'farmId': 'farm-1', 'createdAt': '2026-03-02T08:00:00.000Z'}
    """
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        plan = _plan(shape)
        if not plan.timestamps and not plan.nested:
            return value
        out = dict(value)
        for name in plan.timestamps:
            when = out.get(name)
            if isinstance(when, (int, float)):
                out[name] = format_timestamp(when)
        for name, member in plan.nested.items():
            if name in out:
                out[name] = to_wire(out[name], member)
        return out
    if kind == "list" and isinstance(value, list):
        member = shape.member  # type: ignore[attr-defined]
        if not _contains_iso(member):
            return value
        return [to_wire(item, member) for item in value]
    if kind == "map" and isinstance(value, dict):
        member = shape.value  # type: ignore[attr-defined]
        return {key: to_wire(item, member) for key, item in value.items()}
    if (
        kind == "timestamp"
        and isinstance(value, (int, float))
        and shape.serialization.get("timestampFormat") == "iso8601"
    ):
        return format_timestamp(value)
    return value


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _validate(shape: Shape, value: Any, path: str, raw: bool, errors: list[str]) -> None:
    where = path or "(root)"
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        if not isinstance(value, Mapping):
            errors.append(f"{where}: expected an object, got {type(value).__name__}")
            return
        members = shape.members  # type: ignore[attr-defined]
        for name in shape.required_members:
            if name not in value:
                errors.append(f"{_join(path, name)}: required member is missing")
        for name, item in value.items():
            if name == "ResponseMetadata" and not raw and not path:
                continue
            if name not in members:
                errors.append(f"{_join(path, name)}: not a member of {shape.name}")
                continue
            _validate(members[name], item, _join(path, name), raw, errors)
        if meta.get("union") and len(value) != 1:
            errors.append(f"{where}: a union must have exactly one member, has {sorted(value)}")
    elif kind == "list":
        if not isinstance(value, list):
            errors.append(f"{where}: expected a list, got {type(value).__name__}")
            return
        _check_length(meta, len(value), where, errors)
        member = shape.member  # type: ignore[attr-defined]
        for index, item in enumerate(value):
            _validate(member, item, f"{path}[{index}]", raw, errors)
    elif kind == "map":
        if not isinstance(value, Mapping):
            errors.append(f"{where}: expected a map, got {type(value).__name__}")
            return
        _check_length(meta, len(value), where, errors)
        for key, item in value.items():
            _validate(shape.key, key, f"{path}<key>", raw, errors)  # type: ignore[attr-defined]
            _validate(shape.value, item, f"{path}[{key!r}]", raw, errors)  # type: ignore[attr-defined]
    elif kind == "string":
        if not isinstance(value, str):
            errors.append(f"{where}: expected a string, got {type(value).__name__}")
            return
        _check_length(meta, len(value), where, errors)
        if "enum" in meta and value not in meta["enum"]:
            errors.append(f"{where}: {value!r} is not one of {meta['enum']}")
        pattern = meta.get("pattern")
        if pattern is not None and not _compiled(pattern).fullmatch(value):
            errors.append(f"{where}: does not match the pattern {pattern}")
    elif kind in _NUMBER_TYPES:
        integral = kind in ("integer", "long")
        ok_type = int if integral else (int, float)
        if isinstance(value, bool) or not isinstance(value, ok_type):
            errors.append(f"{where}: expected a {kind}, got {type(value).__name__}")
            return
        if "min" in meta and value < meta["min"]:
            errors.append(f"{where}: {value} is less than the minimum {meta['min']}")
        if "max" in meta and value > meta["max"]:
            errors.append(f"{where}: {value} is more than the maximum {meta['max']}")
    elif kind == "timestamp":
        if raw and shape.serialization.get("timestampFormat") == "iso8601":
            # A few members travel as ISO 8601 text (SearchJobs' dateTimeFilter).
            if not isinstance(value, str) or parse_timestamp(value) is None:
                errors.append(f"{where}: expected an ISO 8601 timestamp, got {value!r}")
            return
        expected: tuple[type, ...] = (int, float) if raw else (_dt.datetime,)
        if isinstance(value, bool) or not isinstance(value, expected):
            errors.append(f"{where}: expected a timestamp, got {type(value).__name__}")
        elif isinstance(value, _dt.datetime) and value.tzinfo is None:
            errors.append(f"{where}: a timestamp without a time zone")
    elif kind == "boolean" and not isinstance(value, bool):
        errors.append(f"{where}: expected a boolean, got {type(value).__name__}")


def _check_length(meta: Mapping[str, Any], length: int, where: str, errors: list[str]) -> None:
    if "min" in meta and length < meta["min"]:
        errors.append(f"{where}: length {length} is less than the minimum {meta['min']}")
    if "max" in meta and length > meta["max"]:
        errors.append(f"{where}: length {length} is more than the maximum {meta['max']}")


class ResponseShapeError(AssertionError):
    """A response does not fit botocore's shape for its operation (an ``AssertionError``)."""


def check_responses(client: Any) -> Any:
    """Make a boto3 ``deadline`` or ``logs`` client check every response against botocore's model.

    A test helper shipped with the local farm, in the spirit of botocore's Stubber: each
    response is checked twice, as JSON off the wire (no member the shape does not know, ISO 8601
    timestamps) and as boto3 parsed it (required members present, enums and id patterns
    respected); an error response against its error shape and status code (for ``logs``, a JSON
    1.1 error: ``__type`` and ``message``, status 400, or 500 when the service is unavailable).
    A response that breaks the model raises :class:`ResponseShapeError` from the call that
    received it.

    Parameters
    ----------
    client
        A boto3 ``deadline`` or ``logs`` client, such as ``LocalFarm.client()``.

    Returns
    -------
    Any
        The same client, now checking.

    Examples
    --------
    >>> from deadline_nb.localfarm import LocalFarm
    >>> from deadline_nb.localfarm.shapes import check_responses
    >>> with LocalFarm() as farm:
    ...     client = check_responses(farm.client())
    ...     client.get_farm(farmId=farm.farm_id)["displayName"]
    'Studio Farm'
    """
    model_of = client.meta.service_model
    service = model_of.service_name

    def after_call(http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        status = http_response.status_code
        body = json.loads(http_response.content) if http_response.content else {}
        if status == 200:
            shape = model_of.operation_model(model.name).output_shape
            problems = validate(shape, body, raw=True)
            problems += [f"parsed {p}" for p in validate(shape, parsed, raw=False)]
        elif service == "logs":
            code = http_response.headers.get("x-amzn-ErrorType", "").split(":")[0]
            problems = []
            if body.get("__type") != code or not isinstance(body.get("message"), str):
                problems.append(f"error body {body!r} is not a JSON 1.1 error of type {code}")
            if set(body) - {"__type", "message"}:
                problems.append(f"error body has members {sorted(body)}")
            if status != (500 if code == "ServiceUnavailableException" else 400):
                problems.append(f"status {status} is not the service's for {code}")
        else:
            code = http_response.headers.get("x-amzn-ErrorType", "").split(":")[0]
            error = service_model().shape_for(code)
            problems = validate(error, body, raw=True)
            if status != error.metadata["error"]["httpStatusCode"]:
                problems.append(f"status {status} is not the modeled one for {code}")
        if problems:
            raise ResponseShapeError(f"{model.name}: " + "; ".join(problems[:10]))

    client.meta.events.register(f"after-call.{model_of.service_id.hyphenize()}", after_call)
    return client
