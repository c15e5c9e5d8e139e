"""Exceptions and warnings raised by deadline_nb.

Every error the package raises on purpose derives from :class:`DeadlineNbError`, so a notebook can
catch them all in one ``except``; each carries the fields a caller needs to act on it.
"""

from __future__ import annotations

__all__ = ["DataWarning", "DeadlineNbError", "MalformedItemError"]


class DeadlineNbError(Exception):
    """Base class of every error deadline_nb raises on purpose."""


class MalformedItemError(DeadlineNbError, ValueError):
    """An input item cannot be converted at all: it is not a mapping, or lacks its id.

    It is a :class:`ValueError`, so code that catches ``ValueError`` keeps working.

    Parameters
    ----------
    position
        Zero-based position of the item in the input.
    field
        The field that is missing or wrong, or ``None`` when the item itself is wrong.
    reason
        One sentence saying what is wrong.

    Examples
    --------
    >>> err = MalformedItemError(3, "sessionActionId", "it is missing")
    >>> str(err)
    'Item 3 cannot be read: field sessionActionId: it is missing.'
    """

    def __init__(self, position: int, field: str | None, reason: str) -> None:
        self.position = position
        self.field = field
        self.reason = reason
        where = f"field {field}: " if field else ""
        super().__init__(f"Item {position} cannot be read: {where}{reason}.")


class DataWarning(UserWarning):
    """A value in the input was dropped or adjusted; the message names the actions concerned."""
