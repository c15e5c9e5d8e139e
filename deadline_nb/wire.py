"""Responses of Deadline Cloud and CloudWatch Logs, read without botocore's per-field walk.

botocore turns a response's JSON into what boto3 returns by walking the output shape for every
value: a handler looked up by name for each value, a check for unknown union members in every
structure, the serialized name of every member read again for every item. On a 100-action
``BatchGetSessionAction`` that walk costs several times what decoding the JSON costs, and a big
job has thousands of such pages. Here the walk is compiled once per output shape into plain
functions: for each structure a tuple of (member name, serialized name, converter or ``None``
to keep the value as it is), lists and maps with the converter of their members, timestamps
through the configured timestamp parser, blobs through the blob parser, tagged unions and their
unknown members (``SDK_UNKNOWN_MEMBER``) as botocore reads them, documents as they are.

The output is botocore's, to the key order and the types: each scalar converter is chosen from
the handler that the installed botocore's parser class has for that type (botocore 1.34 keeps a
``rest-json`` float as sent, 1.44 calls ``float()``), every case that is not a plain one
(a union with more or less than one member set, a member read from a header, a handler this
module does not know) is handed to botocore itself, and at first use the compiled walk is
checked against botocore's own on a probe model that has every kind of member. A botocore whose
parsers differ keeps its stock parser (one debug line on the ``deadline_nb.wire`` logger). A
response the compiled walk cannot read (a value of the wrong JSON type) is read again by
botocore, which then gives its own answer or raises its own error.

Only the body's walk changes: headers, status code, ``ResponseMetadata``, error responses,
event streams and payload members are botocore's, through its own methods (the parsers here are
subclasses of botocore's :class:`~botocore.parsers.RestJSONParser` and
:class:`~botocore.parsers.JSONParser`).

:func:`decode_body` and :func:`decode_items` read a stored response body later, the way boto3
would have returned it.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, cast

import botocore.model
import botocore.parsers
import botocore.utils

from .errors import bad_argument

if TYPE_CHECKING:
    from botocore.model import OperationModel, ServiceModel, Shape

__all__ = [
    "WIRE_PROTOCOLS",
    "WireParserFactory",
    "decode_body",
    "decode_items",
    "install",
    "install_serializer",
]

logger = logging.getLogger(__name__)

# botocore's parsers module, for the private handlers its type stubs leave out.
_parsers: Any = botocore.parsers

#: A converter: one JSON value in, what boto3 returns for it out.
Converter = Callable[[Any], Any]

# botocore's own parser classes, by the protocols compiled here.
_STOCK: Final[dict[str, type[botocore.parsers.ResponseParser]]] = {
    "rest-json": botocore.parsers.RestJSONParser,
    "json": botocore.parsers.JSONParser,
}

#: The protocols whose response bodies are read by compiled converters.
WIRE_PROTOCOLS: Final = frozenset(_STOCK)

# Compiled output shapes kept per parser configuration; a client uses a few dozen at most, so
# the bound only matters to a process that keeps making new service models.
_MAX_KEPT: Final = 1024


class _Compiler:
    """The converters of one parser configuration (protocol, timestamp and blob parsers).

    ``stock`` is botocore's own parser built with that configuration: its handlers are what
    the converters reproduce, and what they call for every case they leave to botocore.
    """

    def __init__(self, stock: Any, *, sparse_lists: bool) -> None:
        self.stock = stock
        self.sparse_lists = sparse_lists
        self._tops: dict[int, tuple[Shape, Converter | None]] = {}
        # (output shape, member name) -> converter, for decode_items
        self.members: dict[tuple[int, str], tuple[Shape, Converter | None]] = {}

    def top(self, shape: Shape) -> Converter | None:
        """The converter of an operation's output shape, compiled on first use; None for stock.

        Cached by the shape object, which botocore keeps for the life of the client's service
        model (the shape is kept with its converter, so that its id is never reused).
        """
        found = self._tops.get(id(shape))
        if found is not None and found[0] is shape:
            return found[1]
        convert: Converter | None = None
        # An event stream (its initial response) stays botocore's.
        if shape.type_name == "structure" and not getattr(shape, "event_stream_name", None):
            convert = self.compile(shape)
        if len(self._tops) >= _MAX_KEPT:
            self._tops.clear()
        self._tops[id(shape)] = (shape, convert)
        return convert

    def compile(self, shape: Shape) -> Converter | None:
        """The converter of one shape (None: the value is kept as it is)."""
        return self._convert(shape, {})

    def _convert(self, shape: Shape, memo: dict[tuple[Any, ...], Any]) -> Converter | None:
        if "location" in shape.serialization:
            # A member botocore reads from a header, when the body has it too (the top-level
            # walk looks every member up in the body): its own handler, with the header rules.
            return functools.partial(self.stock._parse_shape, shape)
        if shape.type_name in ("structure", "list", "map"):
            return self._container(shape, memo)
        return self._scalar(shape)

    def _handler(self, type_name: str) -> Any:
        """The function botocore's ``_parse_shape`` dispatches a value of this type to."""
        return getattr(type(self.stock), f"_handle_{type_name}", None)

    def _scalar(self, shape: Shape) -> Converter | None:
        stock = self.stock
        handler = self._handler(shape.type_name)
        rest = botocore.parsers.RestJSONParser.__dict__
        if handler is None or handler is _parsers.ResponseParser._default_handle:
            return None
        if handler is _parsers.BaseJSONParser._handle_timestamp:
            return cast(Converter, stock._timestamp_parser)
        if handler is _parsers.BaseJSONParser._handle_blob:
            return cast(Converter, stock._blob_parser)
        # rest-json's coercions of body values (botocore 1.34 has only the integer ones).
        if handler in (rest.get("_handle_integer"), rest.get("_handle_long")):
            return int
        if handler in (rest.get("_handle_float"), rest.get("_handle_double")):
            return float
        if handler is rest.get("_handle_boolean"):
            return cast(Converter, botocore.utils.ensure_boolean)
        if handler is getattr(
            botocore.parsers.BaseRestParser, "_handle_string", None
        ) and not botocore.utils.is_json_value_header(shape):
            return None
        # A handler this module does not know: botocore's own, for this shape.
        return functools.partial(getattr(stock, f"_handle_{shape.type_name}"), shape)

    def _container(self, shape: Shape, memo: dict[tuple[Any, ...], Any]) -> Converter | None:
        meta = shape.metadata
        key = (shape.type_name, shape.name, bool(meta.get("document")), bool(meta.get("union")))
        if key in memo:
            entry = memo[key]
            if isinstance(entry, _Pending):  # a shape that contains itself
                return entry.forward
            return cast("Converter | None", entry)
        pending = _Pending()
        memo[key] = pending
        if shape.type_name == "structure":
            built = self._structure(shape, memo)
        elif shape.type_name == "list":
            built = self._list(shape, memo)
        else:
            built = self._map(shape, memo)
        pending.target = built
        memo[key] = built
        return built

    def _structure(self, shape: Any, memo: dict[tuple[Any, ...], Any]) -> Converter | None:
        if self._handler("structure") is not _parsers.BaseJSONParser._handle_structure:
            return functools.partial(self.stock._parse_shape, shape)
        if shape.is_document_type:
            return None
        members = tuple(
            (name, member.serialization.get("name", name), self._convert(member, memo))
            for name, member in shape.members.items()
        )
        if shape.is_tagged_union:
            return _union(shape, members, self.stock)
        return _structure(members)

    def _list(self, shape: Any, memo: dict[tuple[Any, ...], Any]) -> Converter | None:
        handler = self._handler("list")
        known = (
            _parsers.ResponseParser._handle_list,
            getattr(botocore.parsers.BaseRestParser, "_handle_list", None),
        )
        if handler not in known:
            return functools.partial(self.stock._parse_shape, shape)
        return _list(self._convert(shape.member, memo), sparse=self.sparse_lists)

    def _map(self, shape: Any, memo: dict[tuple[Any, ...], Any]) -> Converter | None:
        if self._handler("map") is not _parsers.BaseJSONParser._handle_map:
            return functools.partial(self.stock._parse_shape, shape)
        return _map(self._convert(shape.key, memo), self._convert(shape.value, memo))


class _Pending:
    """The converter of a structure still being compiled, for the members that contain it."""

    target: Converter | None = None

    def forward(self, value: Any) -> Any:
        target = self.target
        return value if target is None else target(value)


def _structure(members: tuple[tuple[str, str, Converter | None], ...]) -> Converter:
    """botocore's ``_handle_structure`` for one shape: members in the model's order, nulls out."""

    def convert(value: Any) -> Any:
        if value is None:
            return None
        out = {}
        get = value.get
        for name, wire, member in members:
            item = get(wire)
            if item is not None:
                out[name] = item if member is None else member(item)
        return out

    return convert


def _union(
    shape: Any, members: tuple[tuple[str, str, Converter | None], ...], stock: Any
) -> Converter:
    """A tagged union: the one member set, or ``SDK_UNKNOWN_MEMBER`` for a tag botocore lacks.

    The plain case (one key, set, a member's name) is read here. Anything else (no key, two,
    a null, ``__type``, a tag the model lacks) goes through botocore's own check, which differs
    between versions (1.34 counts null members, 1.44 does not) and logs the unknown tag.
    """
    by_wire = {wire: (name, member) for name, wire, member in members}
    # botocore 1.34 compares the tag with member names, 1.44 with serialized names:
    # where the two differ, every value takes botocore's path.
    plain = "__type" not in by_wire and all(name == wire for name, wire, _ in members)
    walk = _structure(members)

    def convert(value: Any) -> Any:
        if value is None:
            return None
        if plain and len(value) == 1:
            for tag in value:
                known = by_wire.get(tag)
                item = value[tag]
                if known is not None and item is not None:
                    name, member = known
                    return {name: item if member is None else member(item)}
        if stock._has_unknown_tagged_union_member(shape, value):
            return stock._handle_unknown_tagged_union_member(stock._get_first_key(value))
        return walk(value)

    return convert


def _list(member: Converter | None, *, sparse: bool) -> Converter:
    """A list; ``sparse``: a null item stays null (botocore 1.44) rather than being parsed."""
    if member is None:
        return list
    convert = member
    if sparse:
        return lambda value: [None if item is None else convert(item) for item in value]
    return lambda value: [convert(item) for item in value]


def _map(key: Converter | None, value: Converter | None) -> Converter:
    """A map: every entry, null values included, as botocore's ``_handle_map`` keeps them."""
    if key is None and value is None:
        return lambda raw: {k: v for k, v in raw.items()}
    if key is None:
        convert = cast(Converter, value)
        return lambda raw: {k: convert(v) for k, v in raw.items()}
    convert_key = key
    if value is None:
        return lambda raw: {convert_key(k): v for k, v in raw.items()}
    convert_value = value
    return lambda raw: {convert_key(k): convert_value(v) for k, v in raw.items()}


# ---- the probe: the compiled walk against botocore's own, once per parser class

_PROBE_MODEL: Final[dict[str, Any]] = {
    "Probe": {
        "type": "structure",
        "members": {
            "text": {"shape": "Text"},
            "renamed": {"shape": "Text", "locationName": "wireName"},
            "whole": {"shape": "Whole"},
            "big": {"shape": "Big"},
            "real": {"shape": "Real"},
            "double": {"shape": "Double"},
            "flag": {"shape": "Flag"},
            "when": {"shape": "When"},
            "bytes": {"shape": "Bytes"},
            "doc": {"shape": "Doc"},
            "choice": {"shape": "Choice"},
            "choices": {"shape": "Choices"},
            "byName": {"shape": "ByName"},
            "wholes": {"shape": "Wholes"},
            "whens": {"shape": "Whens"},
            "nested": {"shape": "Probe"},
        },
    },
    "Choice": {
        "type": "structure",
        "union": True,
        "members": {
            "text": {"shape": "Text"},
            "whole": {"shape": "Whole"},
            "inner": {"shape": "Inner"},
        },
    },
    "Inner": {
        "type": "structure",
        "members": {"text": {"shape": "Text"}, "when": {"shape": "When"}},
    },
    "Choices": {"type": "list", "member": {"shape": "Choice"}},
    "ByName": {"type": "map", "key": {"shape": "Text"}, "value": {"shape": "Inner"}},
    "Wholes": {"type": "list", "member": {"shape": "Whole"}},
    "Whens": {"type": "list", "member": {"shape": "When"}},
    "Text": {"type": "string"},
    "Whole": {"type": "integer"},
    "Big": {"type": "long"},
    "Real": {"type": "float"},
    "Double": {"type": "double"},
    "Flag": {"type": "boolean"},
    "When": {"type": "timestamp"},
    "Bytes": {"type": "blob"},
    "Doc": {"type": "structure", "members": {}, "document": True},
}

_PROBE_VALUES: Final[tuple[Any, ...]] = (
    {
        "text": "a",
        "wireName": "b",
        "renamed": "not read: the member's wire name is wireName",
        "whole": 3,
        "big": 2**40,
        "real": 1,
        "double": 2.5,
        "flag": True,
        "when": "2026-03-02T08:00:00.250Z",
        "bytes": "aGk=",
        "doc": {"any": [1, None, {"thing": "x"}]},
        "choice": {"inner": {"text": "t", "when": 1772438400}},
        "choices": [{"whole": 1}, {"text": "x", "__type": "T"}],
        "byName": {"k": {"text": "v", "extra": 1}, "empty": {}},
        "wholes": [1, 2],
        "whens": [1772438400.5, "2026-03-02T08:00:00Z"],
        "nested": {"text": "deep", "nested": {"whole": 1, "choice": {"text": "x"}}},
        "unknown": {"dropped": True},
    },
    # What rest-json coerces and json keeps (or the other way round, in another botocore).
    {"whole": 2.7, "big": True, "real": 3, "double": "1.5", "flag": "true", "text": ""},
    {"flag": "False", "real": -0, "whole": -(2**63), "wholes": []},
    # Nulls: dropped members, null list items and map values, union members set to null.
    {"text": None, "choices": [None, {"whole": 1}], "byName": {"n": None}},
    {"wholes": [None, 1]},
    {"whens": [None]},
    {"choice": {"whole": None, "text": "x"}},
    {"choice": {"inner": None, "text": "x"}},
    {"choice": {}},
    {"choice": {"text": "x", "whole": 1}},
    {"choice": {"__type": "x"}},
    # Values of the wrong JSON type: botocore's answer or error either way.
    {"wholes": "12"},
    {"byName": {"k": "v"}},
    {"choices": {"whole": 1}},
    {"nested": []},
)


def _same(a: Any, b: Any) -> bool:
    """Equal, with the same types all the way down and the same key order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


# What the compiled walk calls on botocore's parsers (the rest it only compares with).
_USED: Final = (
    "_parse_shape",
    "_has_unknown_tagged_union_member",
    "_handle_unknown_tagged_union_member",
    "_get_first_key",
    "_do_parse",
    "_parse_body_as_json",
    "_handle_list",
)


def _probe(stock_cls: type[botocore.parsers.ResponseParser]) -> bool | None:
    """How ``stock_cls`` reads null list items (True: kept), or None when the compiled walk
    does not give its answers on the probe model.

    Unknown union tags are left out: botocore logs each one it meets, and reads them with its
    own code here too.
    """
    missing = [name for name in _USED if not callable(getattr(stock_cls, name, None))]
    if missing:
        logger.debug("botocore's %s has no %s", stock_cls.__name__, ", ".join(missing))
        return None
    resolver = botocore.model.ShapeResolver(_PROBE_MODEL)
    probe = resolver.get_shape_by_name("Probe")
    stock: Any = stock_cls()
    mark = object()

    class Marking(stock_cls):  # type: ignore[misc,valid-type]
        def _parse_shape(self, shape: Any, node: Any) -> Any:
            return mark

    # botocore 1.44 keeps a null list item as None; 1.34 parses it as the member's shape.
    wholes = resolver.get_shape_by_name("Wholes")
    sparse = cast(Any, Marking())._handle_list(wholes, [None]) == [None]
    convert = _Compiler(stock, sparse_lists=sparse).compile(probe)
    if convert is None:
        return None
    for value in _PROBE_VALUES:
        try:
            expected = stock._parse_shape(probe, value)
        except Exception:
            expected = mark
        try:
            got = convert(value)
        except Exception:
            got = mark
        if (got is mark) != (expected is mark) or (got is not mark and not _same(got, expected)):
            logger.debug("compiled walk != botocore's for %r: %r, not %r", value, got, expected)
            return None
    return sparse


_CHECKED: dict[type[Any], bool | None] = {}


def _sparse_lists(stock_cls: type[botocore.parsers.ResponseParser]) -> bool | None:
    """Whether ``stock_cls`` keeps null list items; None when it cannot be compiled.

    Checked once per class and process (two threads may both check it first: same answer).
    """
    if stock_cls in _CHECKED:
        return _CHECKED[stock_cls]
    _CHECKED[stock_cls] = sparse = _check(stock_cls)
    return sparse


def _check(stock_cls: type[botocore.parsers.ResponseParser]) -> bool | None:
    try:
        sparse = _probe(stock_cls)
    except Exception:  # an internal botocore moved or renamed: its stock parser, still correct
        logger.debug("botocore's %s cannot be compiled", stock_cls.__name__, exc_info=True)
        return None
    if sparse is None:
        logger.debug(
            "botocore %s's %s reads bodies differently: its stock parser is kept",
            botocore.__version__,
            stock_cls.__name__,
        )
    return sparse


# ---- the parsers and their factory


class _CompiledBody:
    """What the two parsers add to botocore's: the body's walk, compiled.

    ``_do_parse`` is botocore's path for a response that is not an error; the first
    ``_parse_shape`` it makes with the output shape itself is the body's walk (header members
    are other shapes; a payload member is another shape), and only that one is compiled.
    """

    _compiler: _Compiler | None = None
    _body_shape: Any = None

    def _do_parse(self, response: Any, shape: Any) -> Any:
        if self._compiler is not None and response["status_code"] < 300:
            self._body_shape = shape
        try:
            return cast(Any, super())._do_parse(response, shape)
        finally:
            self._body_shape = None

    def _parse_shape(self, shape: Any, node: Any) -> Any:
        if shape is not None and shape is self._body_shape:
            self._body_shape = None
            convert = cast(_Compiler, self._compiler).top(shape)
            if convert is not None:
                try:
                    return convert(node)
                except Exception:  # a value of the wrong type: botocore's answer, or its error
                    logger.debug("response body for %s read by botocore", shape.name)
        return cast(Any, super())._parse_shape(shape, node)


class WireRestJSONParser(_CompiledBody, botocore.parsers.RestJSONParser):
    """botocore's ``rest-json`` parser (Deadline Cloud) with the body's walk compiled."""

    def __init__(self, *args: Any, compiler: _Compiler | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._compiler = compiler


class WireJSONParser(_CompiledBody, botocore.parsers.JSONParser):
    """botocore's ``json`` parser (CloudWatch Logs) with the body's walk compiled."""

    def __init__(self, *args: Any, compiler: _Compiler | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._compiler = compiler


_WIRE: Final[dict[str, type[_CompiledBody]]] = {
    "rest-json": WireRestJSONParser,
    "json": WireJSONParser,
}


class WireParserFactory(botocore.parsers.ResponseParserFactory):
    """botocore's parser factory, giving compiled parsers for ``rest-json`` and ``json``.

    Other protocols, and these two on a botocore whose parsers this module cannot reproduce,
    get botocore's stock parsers. The defaults (``timestamp_parser``, ``blob_parser``) are set
    as on botocore's factory, and each parser configuration compiles its shapes once.

    Examples
    --------
    >>> from deadline_nb.wire import WireParserFactory
    >>> factory = WireParserFactory()
    >>> type(factory.create_parser("rest-json")).__name__
    'WireRestJSONParser'
    >>> type(factory.create_parser("rest-xml")).__name__
    'RestXMLParser'
    """

    def __init__(self) -> None:
        super().__init__()
        self._wire_defaults: dict[str, Any] = {}
        self._compilers: dict[str, _Compiler | None] = {}

    def set_parser_defaults(self, **kwargs: Any) -> None:
        """Set the arguments every parser is made with, as botocore's factory does.

        Parameters
        ----------
        **kwargs
            ``timestamp_parser``, ``blob_parser``: see
            :meth:`botocore.parsers.ResponseParserFactory.set_parser_defaults`.

        Examples
        --------
        >>> from deadline_nb.timestamps import parse_timestamp
        >>> from deadline_nb.wire import WireParserFactory
        >>> factory = WireParserFactory()
        >>> factory.set_parser_defaults(timestamp_parser=parse_timestamp)
        >>> factory.create_parser("json")._timestamp_parser is parse_timestamp
        True
        """
        super().set_parser_defaults(**kwargs)
        self._wire_defaults.update(kwargs)
        self._compilers = {}  # compiled with the old defaults

    def create_parser(self, protocol_name: str) -> botocore.parsers.ResponseParser:
        """Return a parser for one response of this protocol.

        Parameters
        ----------
        protocol_name
            The service's protocol, such as ``"rest-json"``.

        Returns
        -------
        botocore.parsers.ResponseParser
            A compiled parser for ``rest-json`` and ``json``, else botocore's.

        Examples
        --------
        >>> from deadline_nb.wire import WireParserFactory
        >>> type(WireParserFactory().create_parser("json")).__name__
        'WireJSONParser'
        """
        compiler = self.compiler(protocol_name)
        if compiler is None:
            return super().create_parser(protocol_name)
        wire = cast(Any, _WIRE[protocol_name])
        parser: botocore.parsers.ResponseParser = wire(compiler=compiler, **self._wire_defaults)
        return parser

    def compiler(self, protocol_name: str) -> _Compiler | None:
        """Return the compiled converters for a protocol, or None where botocore's parser stays.

        Parameters
        ----------
        protocol_name
            The service's protocol.

        Returns
        -------
        object or None
            The converters of this factory's parser configuration (compiled shape by shape
            as responses come), shared by every parser it makes for the protocol.

        Examples
        --------
        >>> from deadline_nb.wire import WireParserFactory
        >>> factory = WireParserFactory()
        >>> factory.compiler("rest-json") is factory.compiler("rest-json")
        True
        >>> factory.compiler("rest-xml") is None
        True
        """
        try:
            return self._compilers[protocol_name]
        except KeyError:
            pass
        stock_cls = _STOCK.get(protocol_name)
        sparse = None if stock_cls is None else _sparse_lists(stock_cls)
        compiler = None
        if stock_cls is not None and sparse is not None:
            compiler = _Compiler(stock_cls(**self._wire_defaults), sparse_lists=sparse)
        self._compilers[protocol_name] = compiler
        return compiler


def install(client: Any, **defaults: Any) -> bool:
    """Give one boto3 client a :class:`WireParserFactory`, leaving every other client alone.

    botocore builds each response's parser from the endpoint's factory, which the client's
    botocore session handed it; a factory of the client's own leaves the user's session, and
    every other client in the process, parsing the stock way.

    Parameters
    ----------
    client
        A boto3 client.
    **defaults
        Parser defaults, such as ``timestamp_parser=``.

    Returns
    -------
    bool
        False when this botocore keeps the factory elsewhere (the client is left as it was).

    Examples
    --------
    >>> import boto3
    >>> from deadline_nb.wire import install
    >>> logs = boto3.client("logs", region_name="us-west-2", aws_access_key_id="x",
    ...                     aws_secret_access_key="x")
    >>> install(logs)
    True
    """
    endpoint = getattr(client, "_endpoint", None)
    if not isinstance(
        getattr(endpoint, "_response_parser_factory", None),
        botocore.parsers.ResponseParserFactory,
    ):  # pragma: no cover - a botocore that moved it: keep the stock parser, still correct
        logger.debug("botocore's endpoint has no parser factory; the stock parser stays")
        return False
    factory = WireParserFactory()
    factory.set_parser_defaults(**defaults)
    endpoint._response_parser_factory = factory  # type: ignore[union-attr]
    return True


# ---- stored bodies


@functools.lru_cache(maxsize=8)
def _service_model(name: str) -> ServiceModel:
    import botocore.session

    return botocore.session.get_session().get_service_model(name)


@functools.lru_cache(maxsize=1)
def _default_factory() -> WireParserFactory:
    from .timestamps import parse_timestamp

    factory = WireParserFactory()
    factory.set_parser_defaults(timestamp_parser=parse_timestamp)
    return factory


def _source(source: Any) -> tuple[ServiceModel, botocore.parsers.ResponseParserFactory]:
    """The service model and parser factory of a client, a service model or a service's name."""
    if isinstance(source, str):
        return _service_model(source), _default_factory()
    if isinstance(source, botocore.model.ServiceModel):
        return source, _default_factory()
    meta = getattr(source, "meta", None)
    model = getattr(meta, "service_model", None)
    if not isinstance(model, botocore.model.ServiceModel):
        raise bad_argument(
            "client_or_service_model", "be a boto3 client, a service model or its name", source
        )
    factory = getattr(getattr(source, "_endpoint", None), "_response_parser_factory", None)
    if not isinstance(factory, botocore.parsers.ResponseParserFactory):  # pragma: no cover
        factory = botocore.parsers.ResponseParserFactory()
    return model, factory


def _operation(model: ServiceModel, operation_name: str) -> OperationModel:
    try:
        return model.operation_model(operation_name)
    except botocore.model.OperationNotFoundError:
        raise bad_argument(
            "operation_name", f"be an operation of {model.service_name}", operation_name
        ) from None


def _protocol(model: ServiceModel) -> str:
    return str(getattr(model, "resolved_protocol", None) or model.protocol)


def decode_body(
    client_or_service_model: Any, operation_name: str, body: bytes | str
) -> dict[str, Any]:
    """Return what boto3 returns for a stored response body, without ``ResponseMetadata``.

    Parameters
    ----------
    client_or_service_model
        A boto3 client (its own parser settings are used: a client from
        :func:`deadline_nb.client` gives its timestamps in :data:`datetime.timezone.utc`, a
        stock one in dateutil's UTC), a botocore service model, or a service's name such as
        ``"deadline"`` (both read as :func:`deadline_nb.client` reads).
    operation_name
        The operation that answered, such as ``"BatchGetSessionAction"``.
    body
        The response's body as it came over HTTP (JSON text, as bytes or str).

    Returns
    -------
    dict
        The operation's output, members in the model's order, as a successful call returns
        it. Members the service sends as headers are not in a body, so not here either.

    Raises
    ------
    ValueError
        When the operation is not one of the service's.

    Examples
    --------
    >>> from deadline_nb.wire import decode_body
    >>> body = b'{"sessionActions": [{"sessionActionId": "sessionaction-1-0", "status": "READY",'
    >>> body += b' "definition": {"taskRun": {"taskId": "task-1", "stepId": "step-1"}},'
    >>> body += b' "progressPercent": 0, "startedAt": "2026-03-02T08:00:00Z"}]}'
    >>> action = decode_body("deadline", "ListSessionActions", body)["sessionActions"][0]
    >>> action["startedAt"].isoformat(), action["progressPercent"], action["definition"]
    ('2026-03-02T08:00:00+00:00', 0.0, {'taskRun': {'taskId': 'task-1', 'stepId': 'step-1'}})
    """
    model, factory = _source(client_or_service_model)
    operation = _operation(model, operation_name)
    raw = body.encode() if isinstance(body, str) else bytes(body)
    parser = factory.create_parser(_protocol(model))
    response = {
        "body": raw,
        "headers": {},
        "status_code": 200,
        "context": {"operation_name": operation_name},
    }
    parsed: dict[str, Any] = parser.parse(response, cast(Any, operation.output_shape))
    parsed.pop("ResponseMetadata", None)
    return parsed


def decode_items(
    client_or_service_model: Any, operation_name: str, body: bytes | str, key: str
) -> list[Any]:
    """Return one list of a stored response body, as boto3 returns it, and nothing else.

    The same as ``decode_body(...).get(key, [])``, without converting the other members: for
    reading back the ``sessionActions`` of stored ``BatchGetSessionAction`` pages.

    Parameters
    ----------
    client_or_service_model
        A boto3 client, a botocore service model, or a service's name: see
        :func:`decode_body`.
    operation_name
        The operation that answered.
    body
        The response's body (JSON text, as bytes or str).
    key
        A list member of the operation's output, such as ``"sessionActions"``.

    Returns
    -------
    list
        Its items; empty when the body has none.

    Raises
    ------
    ValueError
        When the operation is not the service's, or ``key`` is not a list in its output.

    Examples
    --------
    >>> from deadline_nb.wire import decode_items
    >>> body = b'{"sessionActions": [], "errors": [{"code": "ResourceNotFoundException",'
    >>> body += b' "sessionActionId": "sessionaction-1-0", "farmId": "f", "queueId": "q",'
    >>> body += b' "jobId": "j", "message": "gone"}]}'
    >>> [e["code"] for e in decode_items("deadline", "BatchGetSessionAction", body, "errors")]
    ['ResourceNotFoundException']
    """
    model, factory = _source(client_or_service_model)
    operation = _operation(model, operation_name)
    output: Any = operation.output_shape
    member = None if output is None else output.members.get(key)
    if member is None or member.type_name != "list" or "location" in member.serialization:
        raise bad_argument("key", f"be a list in {operation_name}'s output", key)
    protocol = _protocol(model)
    compiler = factory.compiler(protocol) if isinstance(factory, WireParserFactory) else None
    if compiler is None:
        items: list[Any] = decode_body(client_or_service_model, operation_name, body).get(key, [])
        return items
    raw = body.encode() if isinstance(body, str) else bytes(body)
    data = compiler.stock._parse_body_as_json(raw)
    if not isinstance(data, dict):  # botocore's answer, or its error, for the whole body
        odd: list[Any] = decode_body(client_or_service_model, operation_name, raw).get(key, [])
        return odd
    value = data.get(member.serialization.get("name", key))
    if value is None:
        return []
    convert = _member_converter(compiler, output, key)
    try:
        converted: list[Any] = list(value) if convert is None else convert(value)
    except Exception:  # a value of the wrong type: botocore's answer, or its error
        converted = decode_body(client_or_service_model, operation_name, raw).get(key, [])
    return converted


def _member_converter(compiler: _Compiler, output: Any, key: str) -> Converter | None:
    """The converter of one member of an output shape, kept with the shape's own."""
    cache = compiler.members
    found = cache.get((id(output), key))
    if found is not None and found[0] is output:
        return found[1]
    convert = compiler.compile(output.members[key])
    if len(cache) >= _MAX_KEPT:
        cache.clear()
    cache[(id(output), key)] = (output, convert)
    return convert


# ---------------------------------------------------------------------------------------------
# requests: a body of ids, written by json.dumps

# Shape types whose JSON botocore writes as the value itself: json.dumps gives the same text.
# Floats (NaN and infinities are spelled out), timestamps, blobs, maps (their keys have shapes),
# and documents are not among them.
_PLAIN_TYPES: Final = frozenset({"string", "integer", "long", "boolean"})


def _plain(shape: Shape, seen: frozenset[str] = frozenset()) -> bool:
    """Whether botocore serializes values of ``shape`` to exactly what ``json.dumps`` writes."""
    if shape.type_name in _PLAIN_TYPES:
        return True
    if shape.name in seen:  # a recursive shape: say no rather than reason about it
        return False
    seen = seen | {shape.name}
    if shape.type_name == "list":
        return _plain(cast("botocore.model.ListShape", shape).member, seen)
    if shape.type_name != "structure" or getattr(shape, "is_document_type", False):
        return False
    if getattr(shape, "is_tagged_union", False):
        return False
    members = cast("botocore.model.StructureShape", shape).members
    # a member renamed on the wire ("name") would need botocore's walk
    return all("name" not in m.serialization and _plain(m, seen) for m in members.values())


@functools.lru_cache(maxsize=256)
def _plain_body(operation: OperationModel) -> bool:
    """Whether every member of the operation's input goes in a JSON body of plain values."""
    shape = operation.input_shape
    if shape is None or operation.metadata.get("protocol") != "rest-json":
        return False
    if shape.serialization.get("payload") or operation.http.get("authPath"):
        return False
    members = shape.members
    if not members or any(
        "location" in m.serialization or "name" in m.serialization for m in members.values()
    ):
        return False
    return _plain(shape)


class _PlainBodySerializer:
    """botocore's request serializer, with the bodies of plain-body operations by ``json.dumps``.

    A ``BatchGetSessionAction`` of 100 ids costs botocore about 1.7 ms to write (a handler
    looked up for every value of every id) and 0.9 ms to validate: 2.6 s of a 100,000-action
    job's fetch, on the interpreter lock its fetch threads share. For an operation whose every
    input member goes in the JSON body and whose every value is a string, number, boolean,
    list or structure, ``json.dumps`` of the parameters is the body botocore would write. The
    rest of the request (method, path, host prefix, headers) is still botocore's: it serializes
    the operation with no parameters, and only the body is replaced.

    Such requests are not validated on this side: the library builds them from ids the service
    returned, and the service validates every request. Every other operation goes through the
    client's own serializer, validation included.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        # under botocore's ParamValidationDecorator, the serializer that writes requests
        self._writer = getattr(inner, "_serializer", inner)

    def serialize_to_request(
        self, parameters: dict[str, Any], operation_model: OperationModel
    ) -> dict[str, Any]:
        if not _plain_body(operation_model):
            return cast(
                "dict[str, Any]", self._inner.serialize_to_request(parameters, operation_model)
            )
        request = cast("dict[str, Any]", self._writer.serialize_to_request({}, operation_model))
        body = {k: v for k, v in parameters.items() if v is not None}
        request["body"] = json.dumps(body).encode("utf-8")
        request["headers"].setdefault("Content-Type", "application/json")
        return request


def install_serializer(client: Any) -> bool:
    """Give one boto3 client fast bodies for requests that are lists of ids.

    ``BatchGetSessionAction`` and the like (every input member in a JSON body of strings,
    numbers, lists and structures) are written by ``json.dumps``, to the same bytes botocore
    writes, and not validated on this side; every other operation is the client's own.

    Parameters
    ----------
    client
        A boto3 client.

    Returns
    -------
    bool
        False when this botocore keeps its serializer elsewhere (the client is left as it was).

    Examples
    --------
    >>> import boto3
    >>> from deadline_nb.wire import install_serializer
    >>> c = boto3.client("deadline", region_name="us-west-2", aws_access_key_id="x",
    ...                  aws_secret_access_key="x")
    >>> install_serializer(c)
    True
    """
    inner = getattr(client, "_serializer", None)
    if not callable(getattr(inner, "serialize_to_request", None)):  # pragma: no cover
        logger.debug("botocore's client has no serializer here; the stock one stays")
        return False
    if not isinstance(inner, _PlainBodySerializer):
        client._serializer = _PlainBodySerializer(inner)
    return True
