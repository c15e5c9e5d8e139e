"""Requests as they arrive over HTTP: which operation a method and path are, and its parameters.

Everything comes from botocore's service model: each operation's method and URI template, and
where each input member travels (path, query string or JSON body). A request is parsed into the
operation's input as boto3 would have built it, and validated against the input shape, so a
malformed id gets the service's 400 ``ValidationException``. Used by :mod:`.server`.
"""

from __future__ import annotations

import collections
import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from botocore.model import Shape

from .exceptions import ApiError, validation_error
from .shapes import operation_model, output_shape, validate

__all__ = ["Route", "find_route", "parse_request", "route_table"]


class Route:
    """One operation's HTTP binding: its path pattern, input and output shapes, members."""

    __slots__ = ("members", "name", "output", "pattern", "shape")

    def __init__(self, name: str) -> None:
        op = operation_model(name)
        self.name = name
        assert op.input_shape is not None  # every operation served has an input
        self.shape: Shape = op.input_shape
        self.output: Shape = output_shape(name)
        uri = op.http["requestUri"].split("?", 1)[0]
        parts = re.split(r"(\{[^}]+\})", uri)
        regex = "".join(
            f"(?P<{p[1:-1].rstrip('+')}>[^/]+)" if p.startswith("{") else re.escape(p)
            for p in parts
        )
        self.pattern = re.compile(regex)
        # member name -> (location, wire name, type) for the members outside the body
        self.members: dict[str, tuple[str | None, str, str]] = {
            member: (
                shape.serialization.get("location"),
                shape.serialization.get("name", member),
                shape.type_name,
            )
            for member, shape in self.shape.members.items()
        }


def route_table(operations: Iterable[str]) -> dict[str, list[Route]]:
    """Return the routes of ``operations``, by HTTP method.

    Parameters
    ----------
    operations
        Operation names, such as ``("GetFarm", "ListFarms")``.

    Returns
    -------
    dict
        HTTP method -> the routes that use it.

    Examples
    --------
    >>> from deadline_nb.localfarm.routes import route_table
    >>> [route.name for route in route_table(["GetFarm", "ListFarms"])["GET"]]
    ['GetFarm', 'ListFarms']
    """
    routes: dict[str, list[Route]] = collections.defaultdict(list)
    for name in operations:
        routes[operation_model(name).http["method"]].append(Route(name))
    return dict(routes)


def find_route(
    table: dict[str, list[Route]], method: str, target: str
) -> tuple[Route, re.Match[str], dict[str, list[str]]]:
    """Return the route a request is for, the match of its path, and its query string.

    Parameters
    ----------
    table
        Routes by method, from :func:`route_table`.
    method
        The HTTP method.
    target
        The request target: path and query string.

    Returns
    -------
    tuple
        The route, the match of its path pattern, and the parsed query string.

    Raises
    ------
    ApiError
        ``ValidationException`` (``UNKNOWN_OPERATION``) when no route has that path.

    Examples
    --------
    >>> from deadline_nb.localfarm.routes import find_route, route_table
    >>> route, match, query = find_route(
    ...     route_table(["GetFarm"]), "GET", "/2023-10-12/farms/farm-1?x=1")
    >>> route.name, match["farmId"], query
    ('GetFarm', 'farm-1', {'x': ['1']})
    """
    parts = urlsplit(target)
    for route in table.get(method, ()):
        match = route.pattern.fullmatch(parts.path)
        if match is not None:
            return route, match, parse_qs(parts.query, keep_blank_values=True)
    raise ApiError(
        "ValidationException",
        f"No operation at {method} {parts.path}.",
        reason="UNKNOWN_OPERATION",
    )


def parse_request(
    route: Route, match: re.Match[str], query: dict[str, list[str]], body: bytes
) -> dict[str, Any]:
    """Return a request's parameters, as boto3 passed them, validated against the input shape.

    Parameters
    ----------
    route, match, query
        From :func:`find_route`.
    body
        The request's body (JSON, or empty).

    Returns
    -------
    dict
        The operation's input: path, query string and body members, by member name.

    Raises
    ------
    ApiError
        ``ValidationException`` when the body is not JSON or a member breaks the input shape.

    Examples
    --------
    >>> from deadline_nb.localfarm.routes import find_route, parse_request, route_table
    >>> farm = "farm-" + "0" * 32
    >>> found = find_route(route_table(["ListQueues"]), "GET",
    ...                    f"/2023-10-12/farms/{farm}/queues?maxResults=5")
    >>> parse_request(*found, b"") == {"farmId": farm, "maxResults": 5}
    True
    """
    params: dict[str, Any] = {}
    if body:
        try:
            decoded = json.loads(body)
        except ValueError as error:
            raise validation_error(f"Could not parse the body: {error}", "CANNOT_PARSE") from None
        if not isinstance(decoded, dict):
            raise validation_error("The body must be a JSON object.", "CANNOT_PARSE")
        params.update(decoded)
    for member, (location, wire, type_name) in route.members.items():
        if location == "uri":
            params[member] = unquote(match.group(wire))
        elif location == "querystring" and wire in query:
            raw = query[wire][-1]
            if type_name in ("integer", "long"):
                try:
                    params[member] = int(raw)
                except ValueError:
                    raise validation_error(
                        f"{member}: {raw!r} is not an integer.",
                        "CANNOT_PARSE",
                        [f"{member}: not an integer"],
                    ) from None
            else:
                params[member] = raw
    errors = validate(route.shape, params, raw=True)
    if errors:
        raise validation_error(
            f"{len(errors)} validation error(s) detected: " + "; ".join(errors),
            "FIELD_VALIDATION_FAILED",
            errors,
        )
    return params
