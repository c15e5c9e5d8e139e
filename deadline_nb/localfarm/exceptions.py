"""The errors the local farm answers with, shaped like the service's.

Shared by :mod:`.routes` (a request that cannot be parsed), :mod:`.responses` (an id the farm does
not have, a bad token or filter) and :mod:`.server` (throttling, injected faults, denied access):
each raises an :class:`ApiError`, and the server turns it into the status code, the
``x-amzn-ErrorType`` header and the JSON body that AWS sends, from which botocore raises the
matching exception class.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .shapes import service_model

__all__ = ["ApiError", "not_found", "validation_error"]


class ApiError(Exception):
    """An error the server answers with, shaped like the service's.

    Parameters
    ----------
    code
        The error shape's name, such as ``"ResourceNotFoundException"``.
    message
        The ``message`` member.
    headers
        Extra response headers (``Retry-After``).
    **fields
        Other modeled members of the error's body (``resourceId``, ``reason``, ...).

    Examples
    --------
    >>> from deadline_nb.localfarm.exceptions import ApiError
    >>> ApiError("ValidationException", "bad", reason="OTHER").status
    400
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        status: int | None = None,
        **fields: Any,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.fields = fields
        if status is None:  # a modeled error: its status is in the service model
            shape = service_model().shape_for(code)
            status = shape.metadata.get("error", {}).get("httpStatusCode", 400)
        self.status: int = status

    def body(self) -> dict[str, Any]:
        """Return the JSON body: the message and the modeled fields.

        Returns
        -------
        dict
            ``{"message": ..., **fields}``.

        Examples
        --------
        >>> from deadline_nb.localfarm.exceptions import ApiError
        >>> ApiError("ThrottlingException", "slow down").body()
        {'message': 'slow down'}
        """
        return {"message": self.message, **self.fields}


def not_found(kind: str, resource_id: str, **context: str) -> ApiError:
    """Return the ``ResourceNotFoundException`` for an id the farm does not have.

    Parameters
    ----------
    kind
        The resource type, as the service names it: ``"job"``, ``"session-action"``...
    resource_id
        The id asked for.
    **context
        The ids around it (``farmId``, ``queueId``...), for the error's ``context``.

    Returns
    -------
    ApiError
        To be raised.

    Examples
    --------
    >>> from deadline_nb.localfarm.exceptions import not_found
    >>> error = not_found("job", "job-1", farmId="farm-1")
    >>> error.status, error.fields["context"]
    (404, {'farmId': 'farm-1'})
    """
    return ApiError(
        "ResourceNotFoundException",
        f"Resource of type {kind} with id {resource_id} does not exist.",
        resourceId=resource_id,
        resourceType=kind,
        context=context,
    )


def validation_error(message: str, reason: str = "OTHER", fields: Iterable[str] = ()) -> ApiError:
    """Return a ``ValidationException``, with one ``fieldList`` entry per ``"name: problem"``.

    Parameters
    ----------
    message
        The ``message`` member.
    reason
        The ``reason`` member: ``"CANNOT_PARSE"``, ``"FIELD_VALIDATION_FAILED"``, ``"OTHER"``...
    fields
        ``"<member>: <problem>"`` texts, one per field in error.

    Returns
    -------
    ApiError
        To be raised.

    Examples
    --------
    >>> from deadline_nb.localfarm.exceptions import validation_error
    >>> error = validation_error("bad", "CANNOT_PARSE", ["maxResults: not an integer"])
    >>> error.status, error.fields["fieldList"][0]["name"]
    (400, 'maxResults')
    """
    field_list = [{"name": f.split(":", 1)[0], "message": f} for f in fields]
    extra: dict[str, Any] = {"fieldList": field_list} if field_list else {}
    return ApiError("ValidationException", message, reason=reason, **extra)
