"""Exceptions and warnings raised by deadline_nb.

Every error the package raises on purpose derives from :class:`DeadlineNbError`, so a notebook can
catch them all in one ``except``; each carries the fields a caller needs to act on it.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any, Final, TypeVar

__all__ = [
    "AccessDeniedError",
    "AwsError",
    "CredentialsError",
    "DataWarning",
    "DeadlineNbError",
    "DestinationError",
    "MalformedItemError",
    "NoRegionError",
    "NotFoundError",
    "Problems",
    "ServiceError",
    "bad_argument",
    "bad_argument_type",
    "check_one_of",
    "short_tracebacks",
]


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


#: How many ids one warning names before it says "and N more".
NAMED_IN_WARNING: Final = 5


class Problems:
    """Collect dropped values, so that each kind of problem gives one warning, not one per row.

    Shared by the frame readers and the fetch layer: whoever drops something adds the id of the
    item concerned, and :meth:`emit` warns once per kind of problem, naming the first few ids.

    Parameters
    ----------
    noun
        What the ids are, for the message: ``"action"``, ``"session"``...

    Examples
    --------
    >>> import warnings
    >>> problems = Problems("session")
    >>> problems.add("lifecycleStatus is unknown and was dropped", "session-1")
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     problems.emit()
    >>> str(caught[0].message)
    'lifecycleStatus is unknown and was dropped (1 session: session-1).'
    """

    def __init__(self, noun: str = "action") -> None:
        self._ids: dict[str, list[str]] = {}
        self._noun = noun

    def add(self, what: str, item_id: str) -> None:
        """Note that ``what`` happened to the item ``item_id``."""
        self._ids.setdefault(what, []).append(item_id)

    def emit(self, stacklevel: int = 3) -> None:
        """Warn once per kind of problem noted, with a :class:`DataWarning`."""
        for what, ids in self._ids.items():
            unique = list(dict.fromkeys(ids))
            named = ", ".join(unique[:NAMED_IN_WARNING])
            more = len(unique) - NAMED_IN_WARNING
            tail = f" and {more} more" if more > 0 else ""
            noun = self._noun if len(unique) == 1 else f"{self._noun}s"
            warnings.warn(
                f"{what} ({len(unique)} {noun}: {named}{tail}).",
                DataWarning,
                stacklevel=stacklevel,
            )


# ---------------------------------------------------------------------------------------------
# argument checks: one wording everywhere (seaborn's)

_V = TypeVar("_V")


def bad_argument(name: str, must: str, value: object) -> ValueError:
    """The error for an argument with a wrong value, in the package's one wording.

    Parameters
    ----------
    name
        The argument, as the caller spells it (``"lanes"``, ``"--out"``).
    must
        What it must be, completing "must ...": ``"be positive"``.
    value
        What was passed.

    Returns
    -------
    ValueError
        To be raised by the caller: ``raise bad_argument(...)``.

    Examples
    --------
    >>> str(bad_argument("every", "be positive", -1))
    'The value for `every` must be positive, but -1 was passed.'
    """
    return ValueError(f"The value for `{name}` must {must}, but {value!r} was passed.")


def bad_argument_type(name: str, must: str, value: object) -> TypeError:
    """The error for an argument of a wrong type, in the same wording as :func:`bad_argument`.

    Parameters
    ----------
    name
        The argument, as the caller spells it.
    must
        What it must be, completing "must be ...": ``"a matplotlib Figure or Axes"``.
    value
        What was passed; the message names its type.

    Returns
    -------
    TypeError
        To be raised by the caller.

    Examples
    --------
    >>> str(bad_argument_type("fig_or_ax", "a matplotlib Figure or Axes", 3))
    'The value for `fig_or_ax` must be a matplotlib Figure or Axes, but int was passed.'
    """
    return TypeError(
        f"The value for `{name}` must be {must}, but {type(value).__name__} was passed."
    )


def check_one_of(name: str, value: _V, options: Iterable[_V]) -> _V:
    """Return ``value`` if it is one of ``options``, else raise :func:`bad_argument`'s error.

    Parameters
    ----------
    name
        The argument, as the caller spells it.
    value
        What was passed.
    options
        The values allowed, in the order the message lists them.

    Returns
    -------
    object
        ``value``, unchanged.

    Examples
    --------
    >>> check_one_of("lanes", "worker", ["worker", "session"])
    'worker'
    >>> check_one_of("lanes", "x", ["worker", "session"])
    Traceback (most recent call last):
    ...
    ValueError: The value for `lanes` must be one of ['worker', 'session'], but 'x' was passed.
    """
    allowed = list(options)
    if value not in allowed:
        raise bad_argument(name, f"be one of {allowed}", value)
    return value


class AwsError(DeadlineNbError):
    """An AWS call failed in a way the user can act on; the botocore error is ``__cause__``.

    Parameters
    ----------
    message
        One sentence that says what happened and what to do.
    operation
        The API operation, such as ``"ListSessionActions"``.
    code
        The AWS error code, such as ``"AccessDeniedException"``, when there is one.
    farm_id, queue_id, job_id
        The ids the call was about, when known.

    Examples
    --------
    >>> err = AwsError("Something failed.", operation="GetJob", code="X", job_id="job-1")
    >>> err.operation, err.code, err.job_id
    ('GetJob', 'X', 'job-1')
    """

    def __init__(
        self,
        message: str,
        *,
        operation: str | None = None,
        code: str | None = None,
        farm_id: str | None = None,
        queue_id: str | None = None,
        job_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.operation = operation
        self.code = code
        self.farm_id = farm_id
        self.queue_id = queue_id
        self.job_id = job_id
        #: What the failed fetch had already got (raw dicts), so that nothing fetched is lost.
        self.partial: list[dict[str, Any]] = []


class AccessDeniedError(AwsError, PermissionError):
    """The credentials in use may not read this farm or queue (``AccessDeniedException``)."""


class CredentialsError(AwsError):
    """No AWS credentials were found, or they have expired."""


class NoRegionError(AwsError):
    """No AWS region is configured for the client."""


class NotFoundError(AwsError, LookupError):
    """A farm, queue, job, step, session or action does not exist (``ResourceNotFoundException``).

    ``resource_type`` and ``resource_id`` say which, as the service reported it.
    """

    resource_type: str | None = None
    resource_id: str | None = None


class ServiceError(AwsError):
    """Any other AWS failure that retries did not cure: throttling, service or network errors."""


class DestinationError(DeadlineNbError):
    """A dataset's destination (a folder or ``s3://bucket/prefix``) cannot be written.

    Parameters
    ----------
    message
        One sentence naming the destination and the reason.
    dest
        The destination as the caller gave it.
    reason
        Why, in a few words: ``"the bucket does not exist"``, ``"access denied"``, ...

    Examples
    --------
    >>> err = DestinationError("No.", dest="s3://b/p", reason="access denied")
    >>> err.dest, err.reason
    ('s3://b/p', 'access denied')
    """

    def __init__(self, message: str, *, dest: str, reason: str) -> None:
        super().__init__(message)
        self.dest = dest
        self.reason = reason


def short_tracebacks(shell: Any = None) -> bool:
    """In IPython or Jupyter, show deadline_nb's errors as their one sentence, not a traceback.

    An expired login should read "Your AWS credentials have expired...", not sixty lines of
    botocore. The full traceback stays one ``%tb`` away. ``import deadline_nb`` calls this when
    it runs inside IPython; set ``DEADLINE_NB_FULL_TRACEBACKS=1`` to keep IPython's usual display.

    Parameters
    ----------
    shell
        The IPython shell; default the running one.

    Returns
    -------
    bool
        Whether the display was installed (False outside IPython, or when switched off).

    Examples
    --------
    >>> from deadline_nb.errors import short_tracebacks
    >>> short_tracebacks()  # not inside IPython here
    False
    """
    import os
    import sys

    if os.environ.get("DEADLINE_NB_FULL_TRACEBACKS"):
        return False
    if shell is None:
        ipython = sys.modules.get("IPython")
        shell = ipython.get_ipython() if ipython is not None else None
    if shell is None or not hasattr(shell, "set_custom_exc"):
        return False

    def show(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None) -> None:
        # What IPython's own display sets, so that %tb and %debug still find this error.
        sys.last_type, sys.last_value, sys.last_traceback = etype, value, tb
        print(
            f"{etype.__name__}: {value}\n(deadline_nb: run %tb for the full traceback)",
            file=sys.stderr,
        )

    shell.set_custom_exc((DeadlineNbError,), show)
    return True
