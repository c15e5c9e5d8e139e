"""The compiled response parser (:mod:`deadline_nb.wire`) gives botocore's answers, exactly.

Exactly: equal values of the same types (datetime time zones, int or float), dicts with the
same keys in the same order, the same error where botocore raises one. Three ways:

- the same calls through real boto3 clients over HTTP against a local farm whose clock stands
  still: a :func:`deadline_nb.client` (compiled), the same client with botocore's factory and
  the same timestamp parser, and the farm's stock client (botocore's parser and timestamps);
- bodies drawn at random (hypothesis, derandomized) from every output shape of the ``deadline``
  and ``logs`` models, parsed by both parsers, also with values of the wrong JSON type;
- stored bodies read back with :func:`~deadline_nb.wire.decode_body` and
  :func:`~deadline_nb.wire.decode_items`.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import botocore.exceptions
import botocore.model
import botocore.parsers
import botocore.serialize
import botocore.session
import botocore.utils
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deadline_nb import wire
from deadline_nb.timestamps import parse_timestamp
from deadline_nb.wire import WireParserFactory, decode_body, decode_items

if TYPE_CHECKING:
    from deadline_nb.localfarm import LocalFarm

SESSION = botocore.session.get_session()
MODELS = {name: SESSION.get_service_model(name) for name in ("deadline", "logs")}


# ---- what "the same" means


def assert_same(ours: Any, theirs: Any, where: str = "response", *, same_tz: bool = True) -> None:
    """Equal, with the same types and key order all the way down.

    ``same_tz=False``: datetimes need only be the same instant at the same UTC offset (botocore's
    own timestamp parser gives dateutil's UTC, the fast one :data:`datetime.timezone.utc`).
    """
    assert type(ours) is type(theirs), f"{where}: {type(ours).__name__} != {type(theirs).__name__}"
    if isinstance(ours, dict):
        assert list(ours) == list(theirs), f"{where}: keys {list(ours)} != {list(theirs)}"
        for key in ours:
            assert_same(ours[key], theirs[key], f"{where}.{key}", same_tz=same_tz)
    elif isinstance(ours, list):
        assert len(ours) == len(theirs), f"{where}: {len(ours)} items != {len(theirs)}"
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            assert_same(a, b, f"{where}[{i}]", same_tz=same_tz)
    elif isinstance(ours, float):
        assert repr(ours) == repr(theirs), f"{where}: {ours!r} != {theirs!r}"  # nan, -0.0
    elif isinstance(ours, dt.datetime):
        assert ours == theirs, f"{where}: {ours!r} != {theirs!r}"
        assert ours.utcoffset() == theirs.utcoffset(), f"{where}: {ours!r} != {theirs!r}"
        if same_tz:
            assert type(ours.tzinfo) is type(theirs.tzinfo), f"{where}: {ours!r} != {theirs!r}"
    else:
        assert ours == theirs, f"{where}: {ours!r} != {theirs!r}"


def outcome(parse: Callable[[], Any]) -> tuple[str, Any]:
    """("ok", the answer) or ("raised", the exception's type)."""
    try:
        return "ok", parse()
    except Exception as error:
        return "raised", type(error)


def assert_same_outcome(ours: tuple[str, Any], theirs: tuple[str, Any], where: str) -> None:
    assert ours[0] == theirs[0], f"{where}: ours {ours}, botocore's {theirs}"
    if ours[0] == "raised":
        assert ours[1] is theirs[1], f"{where}: ours raised {ours[1]}, botocore {theirs[1]}"
    else:
        assert_same(ours[1], theirs[1], where)


def without_metadata(response: Any) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


# ---- 1. real boto3 clients over HTTP


@pytest.fixture
def frozen() -> Iterator[LocalFarm]:
    """A farm whose clock stands still (every client reads the same answers), with a big job."""
    from deadline_nb.localfarm import LocalFarm, ManualClock

    with LocalFarm(seed=0, size=300, clock=ManualClock()) as running:
        yield running


def stock_factory_client(endpoint_url: str) -> Any:
    """A :func:`deadline_nb.client` with botocore's own factory and the same timestamp parser."""
    import deadline_nb as dnb

    made: Any = dnb.client(endpoint_url=endpoint_url)
    factory = botocore.parsers.ResponseParserFactory()
    factory.set_parser_defaults(timestamp_parser=parse_timestamp)
    made._endpoint._response_parser_factory = factory
    return made


def every_call(farm: LocalFarm) -> Iterator[tuple[str, dict[str, Any]]]:
    """Calls of every operation the farm serves, on every job (ids from the farm's truth)."""
    model = farm.model
    farm_ids = {"farmId": farm.farm_id}
    yield "list_farms", {}
    yield "get_farm", farm_ids
    yield "list_queues", {**farm_ids, "maxResults": 2}
    for queue in model.queues:
        yield "get_queue", {**farm_ids, "queueId": queue["queueId"]}
    yield "list_fleets", {**farm_ids, "maxResults": 3}
    for fleet in model.fleets:
        fleet_ids = {**farm_ids, "fleetId": fleet["fleetId"]}
        yield "get_fleet", fleet_ids
        yield "list_workers", {**fleet_ids, "maxResults": 25}
        for worker in [w for w in model.workers if w["fleetId"] == fleet["fleetId"]][:3]:
            worker_ids = {**fleet_ids, "workerId": worker["workerId"]}
            yield "get_worker", worker_ids
            yield "list_sessions_for_worker", worker_ids
    queue_ids = [q["queueId"] for q in model.queues]
    yield "search_jobs", {**farm_ids, "queueIds": queue_ids, "itemOffset": 0}
    for spec in model.jobs:
        job = {**farm_ids, "queueId": spec.queue_id, "jobId": spec.job_id}
        view = model.view(spec.job_id)
        yield "list_jobs", {**farm_ids, "queueId": spec.queue_id}
        yield "get_job", job
        yield "batch_get_job", {"identifiers": [job]}
        yield "list_steps", job
        yield (
            "batch_get_step",
            {"identifiers": [{**job, "stepId": s["stepId"]} for s in view.steps]},
        )
        for step in view.steps:
            step_ids = {**job, "stepId": step["stepId"]}
            tasks = view.tasks[step["stepId"]]
            yield "get_step", step_ids
            yield "list_tasks", {**step_ids, "maxResults": 100}
            yield "get_task", {**step_ids, "taskId": tasks[-1]["taskId"]}
            yield (
                "batch_get_task",
                {"identifiers": [{**step_ids, "taskId": t["taskId"]} for t in tasks[:100]]},
            )
        yield "list_sessions", job
        yield "get_session", {**job, "sessionId": view.sessions[-1]["sessionId"]}
        yield (
            "batch_get_session",
            {"identifiers": [{**job, "sessionId": s["sessionId"]} for s in view.sessions[:100]]},
        )
        yield "list_session_actions", {**job, "maxResults": 100}
        # One GetSessionAction per status and kind of action, all of them in batches.
        kinds = {(a["status"], next(iter(a["definition"]))): a for a in view.actions}
        for action in kinds.values():
            yield "get_session_action", {**job, "sessionActionId": action["sessionActionId"]}
        for start in range(0, len(view.actions), 100):
            chunk = view.actions[start : start + 100]
            yield (
                "batch_get_session_action",
                {"identifiers": [{**job, "sessionActionId": a["sessionActionId"]} for a in chunk]},
            )


class Bodies:
    """The bodies a client received, in order (botocore's ``before-parse`` event)."""

    def __init__(self, client: Any) -> None:
        self.seen: list[tuple[str, bytes]] = []
        client.meta.events.register("before-parse.deadline.*", self._keep)

    def _keep(self, operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
        self.seen.append((operation_model.name, bytes(response_dict["body"])))


def test_every_operation_through_boto3_gives_botocores_answer(frozen: LocalFarm) -> None:
    import deadline_nb as dnb
    from deadline_nb.localfarm import OPERATIONS

    ours: Any = dnb.client(endpoint_url=frozen.endpoint_url)
    same_tz = stock_factory_client(frozen.endpoint_url)
    stock: Any = frozen.client(fast_timestamps=False)  # botocore's parser and timestamp parser
    # The client under test reads with the compiled parser, the others do not.
    assert type(ours._endpoint._response_parser_factory.create_parser("rest-json")) is (
        wire.WireRestJSONParser
    )
    others: list[Any] = [same_tz, stock]
    for other in others:
        parser = other._endpoint._response_parser_factory.create_parser("rest-json")
        assert type(parser) is botocore.parsers.RestJSONParser
    bodies = {name: Bodies(c) for name, c in (("ours", ours), ("same_tz", same_tz))}
    seen: set[str] = set()
    pages = 0
    for method, kwargs in every_call(frozen):
        while True:
            got = getattr(ours, method)(**kwargs)
            where = f"{method}({kwargs})"
            assert_same(
                without_metadata(got), without_metadata(getattr(same_tz, method)(**kwargs)), where
            )
            theirs = getattr(stock, method)(**kwargs)
            assert_same(without_metadata(got), without_metadata(theirs), where, same_tz=False)
            assert list(got["ResponseMetadata"]) == list(theirs["ResponseMetadata"])
            pages += 1
            seen.add(ours.meta.method_to_api_mapping[method])
            token = got.get("nextToken")
            if not token:
                break
            kwargs = {**kwargs, "nextToken": token}
    # Every operation the farm serves was compared, on the very same bodies; but the usage
    # aggregation's, whose answer changes between the three clients' calls (IN_PROGRESS, then
    # COMPLETED): their output shapes are among test_random_bodies_of_every_output_shape's.
    assert seen == set(OPERATIONS) - {
        "StartSessionsStatisticsAggregation",
        "GetSessionsStatisticsAggregation",
    }
    assert bodies["ours"].seen == bodies["same_tz"].seen and len(bodies["ours"].seen) == pages
    assert pages > 150


def logs_calls(farm: LocalFarm, logs: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Calls of every CloudWatch Logs operation the farm serves, on every queue's log group."""
    yield "describe_log_groups", {}
    for group in farm.logs.groups:
        yield "describe_log_streams", {"logGroupName": group, "limit": 5}
        yield "filter_log_events", {"logGroupName": group, "limit": 200}
        streams = logs.describe_log_streams(logGroupName=group, limit=2)["logStreams"]
        for stream in streams:
            where = {"logGroupName": group, "logStreamName": stream["logStreamName"]}
            yield "get_log_events", {**where, "startFromHead": True, "limit": 100}
            yield "get_log_events", {**where, "limit": 50}


def test_every_logs_operation_through_boto3_gives_botocores_answer(frozen: LocalFarm) -> None:
    from deadline_nb.aws import logs_client
    from deadline_nb.localfarm import LOGS_OPERATIONS

    stock: Any = frozen.logs_client()
    # The client deadline_nb reads logs with (its quotas raised: this farm is ours alone).
    quotas = dict.fromkeys(LOGS_OPERATIONS, 1000.0)
    ours: Any = logs_client(endpoint_url=frozen.endpoint_url, quotas=quotas)
    assert type(ours._endpoint._response_parser_factory.create_parser("json")) is (
        wire.WireJSONParser
    )
    assert type(stock._endpoint._response_parser_factory.create_parser("json")) is (
        botocore.parsers.JSONParser
    )
    seen: set[str] = set()
    pages = 0
    for method, kwargs in logs_calls(frozen, stock):
        for _ in range(2):  # the first two pages
            got = getattr(ours, method)(**kwargs)
            theirs = getattr(stock, method)(**kwargs)
            assert_same(without_metadata(got), without_metadata(theirs), f"{method}({kwargs})")
            pages += 1
            seen.add(ours.meta.method_to_api_mapping[method])
            token = got.get("nextToken") or got.get("nextForwardToken")
            if not token:
                break
            kwargs = {**kwargs, "nextToken": token}
    assert seen == set(LOGS_OPERATIONS)
    assert pages > 20


def test_errors_through_boto3_are_botocores(farm: LocalFarm) -> None:
    import deadline_nb as dnb

    ours: Any = dnb.client(endpoint_url=farm.endpoint_url)
    stock = farm.client(fast_timestamps=False)
    missing = {"farmId": farm.farm_id, "queueId": "queue-" + "0" * 32, "jobId": "job-" + "0" * 32}
    calls: list[tuple[str, dict[str, Any]]] = [
        ("get_job", missing),  # 404 ResourceNotFoundException, with a modeled error shape
        ("get_farm", {"farmId": "farm-nothex"}),  # 400 ValidationException
    ]
    for method, kwargs in calls:
        errors = []
        for made in (ours, stock):
            with pytest.raises(botocore.exceptions.ClientError) as caught:
                getattr(made, method)(**kwargs)
            errors.append(caught.value)
        # Each client makes its own exception classes: the same name, the same response.
        assert type(errors[0]).__name__ == type(errors[1]).__name__
        assert_same(without_metadata(errors[0].response), without_metadata(errors[1].response))


# ---- 2. random bodies from every output shape

MAX_DEPTH = 4
MAX_ITEMS = 3

_json_scalars = (
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=5)
)
ANY_JSON: st.SearchStrategy[Any] = st.recursive(
    _json_scalars,
    lambda inner: (
        st.lists(inner, max_size=MAX_ITEMS)
        | st.dictionaries(st.text(max_size=5), inner, max_size=MAX_ITEMS)
    ),
    max_leaves=8,
)

_instants = st.datetimes(
    min_value=dt.datetime(1971, 1, 1),
    max_value=dt.datetime(2200, 1, 1),
    timezones=st.just(dt.timezone.utc)
    | st.builds(dt.timezone, st.timedeltas(dt.timedelta(hours=-12), dt.timedelta(hours=14))),
)
# What botocore's timestamp parsers read in a JSON body: ISO 8601 as Deadline Cloud sends it
# (milliseconds and "Z"), other ISO 8601 forms, epoch seconds as numbers; and text they refuse.
TIMESTAMPS = st.one_of(
    _instants.map(
        lambda t: t.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds")[:-6] + "Z"
    ),
    _instants.map(lambda t: t.isoformat()),
    _instants.map(lambda t: t.isoformat(timespec="seconds").replace("+00:00", "Z")),
    st.integers(0, 2**32),
    st.floats(0, 2**32, allow_nan=False),
    st.sampled_from(["", "yesterday", "2026-13-01T00:00:00Z"]),
)


def _numbers_as(kind: str) -> st.SearchStrategy[Any]:
    """Numbers as services send them, and what rest-json coerces (text, bools, the other kind)."""
    ints = st.integers(-(2**63), 2**63 - 1)
    floats = st.floats()
    main = ints if kind == "int" else floats
    return st.one_of(main, main, floats if kind == "int" else ints, st.booleans(), main.map(str))


def value_of(shape: Any, depth: int = 0, *, wrong: bool = False) -> st.SearchStrategy[Any]:
    """JSON values for one shape: what the model allows, nulls, unknown keys and union tags.

    ``wrong``: any node may also be any JSON value (a list where a structure is due...).
    """
    proper = _proper(shape, depth, wrong)
    return st.one_of(proper, proper, proper, ANY_JSON) if wrong else proper


def _or_null(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(strategy, strategy, st.none())


def _shuffled(value: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.permutations(list(value.items())).map(dict)


def _proper(shape: Any, depth: int, wrong: bool) -> st.SearchStrategy[Any]:
    kind = shape.type_name
    deeper = depth + 1
    if kind == "structure":
        if shape.metadata.get("document"):
            return ANY_JSON
        if depth >= MAX_DEPTH:
            return st.just({})
        members = {m.serialization.get("name", n): m for n, m in shape.members.items()}
        if shape.metadata.get("union"):
            return _union_of(members, deeper, wrong)
        known = st.fixed_dictionaries(
            {},
            optional={w: _or_null(value_of(m, deeper, wrong=wrong)) for w, m in members.items()},
        )
        unknown = st.dictionaries(
            st.text(min_size=1, max_size=6).filter(lambda k: k not in members),
            ANY_JSON,
            max_size=2,
        )
        return st.builds(lambda a, b: {**a, **b}, known, unknown).flatmap(_shuffled)
    if kind == "list":
        item = value_of(shape.member, deeper, wrong=wrong)
        return st.lists(_or_null(item), max_size=0 if depth >= MAX_DEPTH else MAX_ITEMS)
    if kind == "map":
        entry = _or_null(value_of(shape.value, deeper, wrong=wrong))
        return st.dictionaries(st.text(max_size=6), entry, max_size=MAX_ITEMS)
    if kind == "string":
        return (
            st.sampled_from(shape.enum) | st.text(max_size=6) if shape.enum else st.text(max_size=6)
        )
    if kind in ("integer", "long"):
        return _numbers_as("int")
    if kind in ("float", "double"):
        return _numbers_as("float")
    if kind == "boolean":
        return st.booleans() | st.sampled_from(["true", "false", "TRUE", "no", 1])
    if kind == "timestamp":
        return TIMESTAMPS
    if kind == "blob":
        encoded = st.binary(max_size=12).map(lambda b: base64.b64encode(b).decode())
        return encoded | st.just("not base64!")
    raise AssertionError(f"a shape kind this test does not draw: {kind}")


def _union_of(members: dict[str, Any], depth: int, wrong: bool) -> st.SearchStrategy[Any]:
    names = sorted(members)
    one = st.sampled_from(names).flatmap(
        lambda n: value_of(members[n], depth, wrong=wrong).map(lambda v: {n: v})
    )
    unknown_tag = st.text(min_size=1, max_size=8).filter(lambda t: t not in members)
    forms = [
        one,
        one,
        one,
        st.builds(lambda tag, v: {tag: v}, unknown_tag, ANY_JSON),  # a member newer than us
        one.map(lambda v: {"__type": "Member", **v}),
        st.builds(lambda v, other: {**v, other: None}, one, st.sampled_from(names)),
    ]
    if wrong:  # none set, or two: botocore refuses them
        forms += [st.builds(lambda a, b: {**a, **b}, one, one), st.just({})]
    return st.one_of(*forms).flatmap(_shuffled)


def output_shape(service: str, operation: str) -> Any:
    return MODELS[service].operation_model(operation).output_shape


def output_shapes() -> list[Any]:
    found = []
    for service, model in MODELS.items():
        for name in model.operation_names:
            shape = model.operation_model(name).output_shape
            if shape is not None:
                found.append(pytest.param(service, name, id=f"{service}.{name}"))
    return found


def _factories(timestamp_parser: Any) -> tuple[WireParserFactory, Any]:
    ours = WireParserFactory()
    stock = botocore.parsers.ResponseParserFactory()
    if timestamp_parser is not None:
        ours.set_parser_defaults(timestamp_parser=timestamp_parser)
        stock.set_parser_defaults(timestamp_parser=timestamp_parser)
    return ours, stock


FAST = _factories(parse_timestamp)
DEFAULT = _factories(None)


def parse_both(
    factories: tuple[Any, Any], service: str, operation: str, body: bytes, status: int = 200
) -> tuple[tuple[str, Any], tuple[str, Any]]:
    model = MODELS[service]
    shape = output_shape(service, operation)
    response = {
        "body": body,
        "headers": {"x-amzn-requestid": "request-1", "content-type": "application/json"},
        "status_code": status,
        "context": {"operation_name": operation},
    }
    # Ours must be the compiled parser: a botocore it cannot follow would compare stock to stock.
    assert factories[0].compiler(model.protocol) is not None
    answers = []
    for factory in factories:
        parser = factory.create_parser(model.protocol)
        answers.append(outcome(functools.partial(parser.parse, dict(response), shape)))
    return answers[0], answers[1]


SHAPE_SETTINGS = settings(
    max_examples=20,
    derandomize=True,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)


@pytest.mark.parametrize(("service", "operation"), output_shapes())
@SHAPE_SETTINGS
@given(data=st.data())
def test_random_bodies_of_every_output_shape(service: str, operation: str, data: Any) -> None:
    shape = output_shape(service, operation)
    value = data.draw(value_of(shape), label="body")
    body = json.dumps(value).encode()
    ours, theirs = parse_both(FAST, service, operation, body)
    assert_same_outcome(ours, theirs, f"{service}.{operation}")


@pytest.mark.parametrize(("service", "operation"), output_shapes())
@settings(SHAPE_SETTINGS, max_examples=8)
@given(data=st.data())
def test_values_of_the_wrong_type_get_botocores_answer_or_error(
    service: str, operation: str, data: Any
) -> None:
    shape = output_shape(service, operation)
    body = json.dumps(data.draw(value_of(shape, wrong=True), label="body")).encode()
    ours, theirs = parse_both(FAST, service, operation, body)
    assert_same_outcome(ours, theirs, f"{service}.{operation}")


@pytest.mark.parametrize(
    ("service", "operation"),
    [
        ("deadline", "GetSessionAction"),
        ("deadline", "ListSessionActions"),
        ("deadline", "GetJob"),
        ("logs", "FilterLogEvents"),
        ("logs", "GetQueryResults"),
    ],
)
@settings(SHAPE_SETTINGS, max_examples=15)
@given(data=st.data())
def test_botocores_default_timestamp_parser_too(service: str, operation: str, data: Any) -> None:
    shape = output_shape(service, operation)
    body = json.dumps(data.draw(value_of(shape), label="body")).encode()
    ours, theirs = parse_both(DEFAULT, service, operation, body)
    assert_same_outcome(ours, theirs, f"{service}.{operation}")


@pytest.mark.parametrize(("service", "operation"), output_shapes())
def test_every_output_shape_is_compiled_but_event_streams(service: str, operation: str) -> None:
    shape = output_shape(service, operation)
    compiler = FAST[0].compiler(MODELS[service].protocol)
    assert compiler is not None
    converter = compiler.top(shape)
    # An event stream's initial response stays botocore's (logs' StartLiveTail, GetLogObject).
    assert (converter is None) == bool(shape.event_stream_name)


@pytest.mark.parametrize("body", [b"", b"null", b"[]", b"not json", b'"text"', b"{}"])
@pytest.mark.parametrize(
    ("service", "operation"), [("deadline", "GetJob"), ("logs", "GetLogEvents")]
)
def test_odd_bodies(service: str, operation: str, body: bytes) -> None:
    ours, theirs = parse_both(FAST, service, operation, body)
    assert_same_outcome(ours, theirs, f"{service}.{operation} {body!r}")


@pytest.mark.parametrize("status", [400, 404, 429, 500, 503])
def test_error_responses_are_read_by_botocore_alone(
    monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    def refuse(self: Any, shape: Any) -> Any:
        raise AssertionError("the compiled walk was asked to read an error")

    monkeypatch.setattr(wire._Compiler, "top", refuse)
    body = json.dumps({"message": "no", "resourceId": "job-1", "resourceType": "job"}).encode()
    for service, operation in (("deadline", "GetJob"), ("logs", "GetLogEvents")):
        ours, theirs = parse_both(FAST, service, operation, body, status=status)
        assert_same_outcome(ours, theirs, f"{service}.{operation} {status}")
        assert ours[0] == "ok" and "Error" in ours[1]


def test_an_unknown_union_member_is_botocores_sdk_unknown_member(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = json.dumps(
        {
            "sessionActionId": "sessionaction-" + "a" * 32 + "-0",
            "status": "SUCCEEDED",
            "definition": {"renderTheFuture": {"frames": 3}},
            "sessionId": "session-" + "a" * 32,
        }
    ).encode()
    with caplog.at_level(logging.INFO, logger="botocore.parsers"):
        ours, theirs = parse_both(FAST, "deadline", "GetSessionAction", body)
    assert_same_outcome(ours, theirs, "GetSessionAction")
    assert ours[1]["definition"] == {"SDK_UNKNOWN_MEMBER": {"name": "renderTheFuture"}}
    # botocore's line about it, once per parse: ours reads the tag with botocore's own check.
    logged = [r for r in caplog.records if "renderTheFuture" in r.getMessage()]
    assert len(logged) == 2


def test_a_value_of_the_wrong_type_is_read_again_by_botocore(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = json.dumps({"sessionActions": [{"definition": ["envEnter"]}], "errors": []}).encode()
    with caplog.at_level(logging.DEBUG, logger="deadline_nb.wire"):
        ours, theirs = parse_both(FAST, "deadline", "BatchGetSessionAction", body)
    assert ours[0] == theirs[0] == "raised" and ours[1] is theirs[1]
    assert any("read by botocore" in r.getMessage() for r in caplog.records)


# A rest-json model with what Deadline's and Logs' outputs lack: members read from headers and
# the status code, renamed members, a JSON value in a header, booleans, blobs, a recursive shape.
SYNTHETIC: dict[str, Any] = {
    "Output": {
        "type": "structure",
        "members": {
            "requestId": {
                "shape": "Text",
                "location": "header",
                "locationName": "x-amzn-requestid",
            },
            "meta": {"shape": "Headers", "location": "headers", "locationName": "x-meta-"},
            "status": {"shape": "Whole", "location": "statusCode"},
            "settings": {
                "shape": "Json",
                "location": "header",
                "locationName": "x-settings",
                "jsonvalue": True,
            },
            "tags": {"shape": "Texts", "location": "header", "locationName": "x-tags"},
            "name": {"shape": "Text", "locationName": "Name"},
            "flag": {"shape": "Flag"},
            "data": {"shape": "Bytes"},
            "tree": {"shape": "Tree"},
        },
    },
    "Tree": {
        "type": "structure",
        "members": {"label": {"shape": "Text"}, "children": {"shape": "Trees"}},
    },
    "Trees": {"type": "list", "member": {"shape": "Tree"}},
    "Texts": {"type": "list", "member": {"shape": "Text"}},
    "Headers": {"type": "map", "key": {"shape": "Text"}, "value": {"shape": "Text"}},
    "Text": {"type": "string"},
    "Json": {"type": "string"},
    "Whole": {"type": "integer"},
    "Flag": {"type": "boolean"},
    "Bytes": {"type": "blob"},
}


@pytest.mark.parametrize(
    "body",
    [
        {"Name": "n", "name": "not read", "flag": "true", "data": "aGk=", "tree": {"label": "a"}},
        {"tree": {"children": [{"label": "b", "children": [{"label": "c"}, None]}]}},
        # Header members found in the body too: botocore looks every member up in the body.
        {"x-amzn-requestid": "from-body", "x-settings": "eyJhIjogMX0=", "status": 7},
        {"x-tags": "a, b,c", "Name": None},
        {"x-meta-": {"a": "b"}, "flag": 1, "data": None},
    ],
)
@pytest.mark.parametrize("protocol", ["rest-json", "json"])
def test_headers_status_renamed_members_and_recursion(body: dict[str, Any], protocol: str) -> None:
    shape = botocore.model.ShapeResolver(SYNTHETIC).get_shape_by_name("Output")
    headers = {
        "x-amzn-requestid": "request-1",
        "x-meta-colour": "blue",
        "x-settings": base64.b64encode(b'{"depth": 2}').decode(),
        "x-tags": "red, green",
    }
    response = {"body": json.dumps(body).encode(), "headers": headers, "status_code": 200}
    assert FAST[0].compiler(protocol) is not None
    answers = [
        outcome(functools.partial(factory.create_parser(protocol).parse, dict(response), shape))
        for factory in FAST
    ]
    assert_same_outcome(answers[0], answers[1], protocol)
    assert answers[0][0] == "ok"


# ---- when botocore is not the botocore this module knows


class Shouting(botocore.parsers.RestJSONParser):
    """A parser class whose walk differs from what the compiled one does."""

    def _parse_shape(self, shape: Any, node: Any) -> Any:
        parsed = super()._parse_shape(shape, node)  # type: ignore[misc]
        return parsed.upper() if isinstance(parsed, str) else parsed


class Forgetful(botocore.parsers.RestJSONParser):
    """A parser class without a method the compiled walk relies on."""

    _has_unknown_tagged_union_member = None


@pytest.mark.parametrize("parser_class", [Shouting, Forgetful])
def test_a_botocore_that_reads_otherwise_keeps_its_stock_parser(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, parser_class: type
) -> None:
    monkeypatch.setitem(wire._STOCK, "rest-json", parser_class)
    with caplog.at_level(logging.DEBUG, logger="deadline_nb.wire"):
        factory = WireParserFactory()
        parser = factory.create_parser("rest-json")
    assert type(parser) is botocore.parsers.RestJSONParser
    assert factory.compiler("rest-json") is None
    assert any(parser_class.__name__ in r.getMessage() for r in caplog.records)
    # The other protocol is not affected.
    assert type(factory.create_parser("json")) is wire.WireJSONParser


def test_a_changed_timestamp_parser_recompiles() -> None:
    factory = WireParserFactory()
    shape = output_shape("deadline", "GetSessionAction")
    first = factory.compiler("rest-json")
    assert first is not None and first.top(shape) is not None
    assert first.stock._timestamp_parser is botocore.utils.parse_timestamp
    factory.set_parser_defaults(timestamp_parser=parse_timestamp)
    second = factory.compiler("rest-json")
    assert second is not None and second is not first
    assert second.stock._timestamp_parser is parse_timestamp
    parser: Any = factory.create_parser("rest-json")
    assert parser._compiler is second and parser._timestamp_parser is parse_timestamp


# ---- 3. stored bodies


def test_decode_body_and_decode_items_give_what_the_call_gave(frozen: LocalFarm) -> None:
    import deadline_nb as dnb

    ours: Any = dnb.client(endpoint_url=frozen.endpoint_url)
    stock: Any = frozen.client(fast_timestamps=False)
    bodies = Bodies(ours)
    model = MODELS["deadline"]
    lists = 0
    for method, kwargs in every_call(frozen):
        got = without_metadata(getattr(ours, method)(**kwargs))
        theirs = without_metadata(getattr(stock, method)(**kwargs))
        operation, body = bodies.seen[-1]
        # A client reads as that client would have: ours and botocore's stock one.
        assert_same(decode_body(ours, operation, body), got, operation)
        assert_same(decode_body(stock, operation, body), theirs, operation)
        # A service model or a service's name reads as deadline_nb.client does.
        assert_same(decode_body(model, operation, body), got, operation)
        assert_same(decode_body("deadline", operation, body.decode()), got, operation)
        # One list alone is the list decode_body gives.
        for key, member in output_shape("deadline", operation).members.items():
            if member.type_name == "list":
                items = decode_items("deadline", operation, body, key)
                assert_same(items, got.get(key, []), f"{operation}.{key}")
                lists += 1
    assert lists > 50


def test_decode_items_of_an_empty_or_odd_body() -> None:
    assert decode_items("deadline", "BatchGetSessionAction", b"{}", "sessionActions") == []
    assert decode_items("deadline", "BatchGetSessionAction", b"", "sessionActions") == []
    with pytest.raises(AttributeError):  # botocore's error for a body that is not an object
        decode_items("deadline", "BatchGetSessionAction", b"[1]", "errors")
    body = b'{"sessionActions": null, "errors": [null]}'
    assert decode_items("deadline", "BatchGetSessionAction", body, "sessionActions") == []
    assert (
        decode_items("deadline", "BatchGetSessionAction", body, "errors")
        == (decode_body("deadline", "BatchGetSessionAction", body)["errors"])
    )
    wrong = b'{"sessionActions": [{"definition": ["envEnter"]}]}'
    with pytest.raises(TypeError):
        decode_items("deadline", "BatchGetSessionAction", wrong, "sessionActions")


def test_decode_refuses_what_is_not_an_operation_or_a_list() -> None:
    with pytest.raises(ValueError, match=r"operation_name.*deadline.*'GetNothing'"):
        decode_body("deadline", "GetNothing", b"{}")
    with pytest.raises(ValueError, match=r"key.*list in GetJob's output.*'name'"):
        decode_items("deadline", "GetJob", b"{}", "name")
    with pytest.raises(ValueError, match=r"key.*'nextToken'"):
        decode_items("deadline", "ListJobs", b"{}", "nextToken")
    with pytest.raises(ValueError, match="client_or_service_model"):
        decode_body(42, "GetJob", b"{}")


def test_decode_body_of_the_logs_service() -> None:
    body = json.dumps(
        {
            "events": [{"timestamp": 1772438400000, "message": "Running Task", "eventId": "1"}],
            "searchedLogStreams": [{"logStreamName": "session-1", "searchedCompletely": True}],
            "nextToken": "t",
        }
    ).encode()
    decoded = decode_body("logs", "FilterLogEvents", body)
    assert decoded["events"] == [
        {"timestamp": 1772438400000, "message": "Running Task", "eventId": "1"}
    ]
    assert list(decoded) == ["events", "searchedLogStreams", "nextToken"]
    assert decode_items("logs", "FilterLogEvents", body, "events") == decoded["events"]


def test_compiled_shapes_are_kept_per_client(farm: LocalFarm) -> None:
    import deadline_nb as dnb

    made: Any = dnb.client(endpoint_url=farm.endpoint_url)
    factory = made._endpoint._response_parser_factory
    made.get_farm(farmId=farm.farm_id)
    compiler = factory.compiler("rest-json")
    shape = made.meta.service_model.operation_model("GetFarm").output_shape
    converter = compiler.top(shape)
    made.get_farm(farmId=farm.farm_id)
    assert compiler.top(shape) is converter is not None
    assert [kept for kept, _ in compiler._tops.values()] == [shape]
    # Another client has its own service model, shapes and compiled converters.
    other: Any = dnb.client(endpoint_url=farm.endpoint_url)
    other.get_farm(farmId=farm.farm_id)
    assert other._endpoint._response_parser_factory.compiler("rest-json") is not compiler


# ---------------------------------------------------------------------------------------------
# requests: bodies of ids by json.dumps


def _deadline_model() -> botocore.model.ServiceModel:
    return botocore.session.get_session().get_service_model("deadline")


def _plain_value(shape: botocore.model.Shape) -> st.SearchStrategy[Any]:
    """Values botocore accepts for a plain shape: any text, any int, lists, partial structures."""
    kind = shape.type_name
    if kind == "string":
        return st.text(max_size=12)
    if kind in ("integer", "long"):
        return st.integers(-(2**40), 2**40)
    if kind == "boolean":
        return st.booleans()
    if kind == "list":
        return st.lists(_plain_value(shape.member), max_size=4)  # type: ignore[attr-defined]
    members = shape.members  # type: ignore[attr-defined]
    return st.fixed_dictionaries(
        {}, optional={name: _plain_value(m) for name, m in members.items()}
    )


_PLAIN_OPERATIONS = sorted(
    name
    for name in _deadline_model().operation_names
    if wire._plain_body(_deadline_model().operation_model(name))
)


def test_the_plain_body_operations_are_the_batch_gets() -> None:
    # BatchGetSessionAction is the one a big job sends a thousand of; a creating or updating
    # operation (timestamps, floats, documents, path members) must never be among them.
    assert "BatchGetSessionAction" in _PLAIN_OPERATIONS
    assert "BatchGetTask" in _PLAIN_OPERATIONS
    assert all(name.startswith("BatchGet") for name in _PLAIN_OPERATIONS), _PLAIN_OPERATIONS
    model = _deadline_model()
    for name in ("CreateJob", "SearchJobs", "ListSessionActions", "GetSessionAction"):
        assert not wire._plain_body(model.operation_model(name)), name


@pytest.mark.parametrize("operation", _PLAIN_OPERATIONS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_plain_body_is_written_to_botocores_bytes(operation: str, data: Any) -> None:
    model = _deadline_model().operation_model(operation)
    assert model.input_shape is not None
    params = data.draw(_plain_value(model.input_shape))
    stock = botocore.serialize.create_serializer("rest-json", include_validation=False)
    fast = wire._PlainBodySerializer(stock)
    assert fast.serialize_to_request(params, model) == stock.serialize_to_request(params, model)


def test_every_other_operation_is_still_validated() -> None:
    import boto3

    c: Any = boto3.client(
        "deadline", region_name="us-west-2", aws_access_key_id="x", aws_secret_access_key="x"
    )
    assert wire.install_serializer(c)
    assert wire.install_serializer(c)  # twice: still one wrapper
    assert not isinstance(c._serializer._inner, wire._PlainBodySerializer)
    with pytest.raises(botocore.exceptions.ParamValidationError, match="farmId"):
        c.get_job(farmId=7, queueId="queue-1", jobId="job-1")


def test_the_librarys_client_batch_gets_through_the_fast_body(farm: LocalFarm) -> None:
    import deadline_nb as dnb

    c: Any = dnb.client(endpoint_url=farm.endpoint_url)
    assert isinstance(c._serializer, wire._PlainBodySerializer)
    job = farm.job_by_name("render")
    where = {"farmId": farm.farm_id, "queueId": job.queue_id, "jobId": job.job_id}
    listed = c.list_session_actions(**where, maxResults=5)["sessionActions"]
    ids = [{**where, "sessionActionId": a["sessionActionId"]} for a in listed]
    ids.append({**where, "sessionActionId": "sessionaction-" + "0" * 32 + "-0"})
    got = c.batch_get_session_action(identifiers=ids)
    assert [a["sessionActionId"] for a in got["sessionActions"]] == [
        a["sessionActionId"] for a in listed
    ]
    assert [e["sessionActionId"] for e in got["errors"]] == [ids[-1]["sessionActionId"]]
