"""The checks of the local farm's knobs, in one place: shared by the farm and its command line.

Shared by :class:`~deadline_nb.localfarm.server.LocalFarm` (port, latency, throttling and fault
rates, the CloudWatch Logs quota), :class:`~deadline_nb.localfarm.model.FarmModel` (size), the
clocks of :mod:`~deadline_nb.localfarm.clock` (speedup, start) and ``deadline-nb localfarm``
(:mod:`deadline_nb.cli`), which runs the same check on each option as it parses it, so that a
knob is refused with the same sentence from Python and from the shell.

Each check returns the value as the farm keeps it (a ``float`` or an ``int``) or raises the
package's argument error (:func:`deadline_nb.errors.bad_argument`). ``nan`` is refused
everywhere: every comparison with it is false, so it would pass a plain range check and then
break each request. ``inf`` is refused wherever it would stop the farm (an endless latency, a
clock at infinity, a rate that can never be reached).
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Final

from ..errors import bad_argument, bad_argument_type

__all__ = [
    "MAX_PORT",
    "check_count",
    "check_instant",
    "check_port",
    "check_positive",
    "check_quota",
    "check_seconds",
    "check_share",
]

#: The highest TCP port.
MAX_PORT: Final = 65535


def _real(name: str, value: object) -> float:
    # bool is an int to Python, but `latency=True` is a mistake, not one second.
    if isinstance(value, bool) or not isinstance(value, Real):
        raise bad_argument_type(name, "a number", value)
    return float(value)


def _whole(name: str, value: object, must: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise bad_argument_type(name, "a whole number", value)
    if not isinstance(value, Integral):
        raise bad_argument(name, must, value)
    return int(value)


def check_seconds(name: str, value: object) -> float:
    """Return ``value`` as seconds if it is a finite number, 0 or more.

    Parameters
    ----------
    name
        The argument, as the caller spells it.
    value
        What was passed.

    Returns
    -------
    float
        The seconds.

    Examples
    --------
    >>> from deadline_nb.localfarm.knobs import check_seconds
    >>> check_seconds("latency", 0.02)
    0.02
    >>> check_seconds("latency", float("nan"))
    Traceback (most recent call last):
    ...
    ValueError: The value for `latency` must be a finite number of seconds, 0 or more, but nan was passed.
    """  # noqa: E501 - a doctest's expected line cannot wrap
    number = _real(name, value)
    if not (math.isfinite(number) and number >= 0):
        raise bad_argument(name, "be a finite number of seconds, 0 or more", value)
    return number


def check_positive(name: str, value: object, *, or_none: bool = False) -> float:
    """Return ``value`` if it is a finite number above 0.

    Parameters
    ----------
    name
        The argument, as the caller spells it.
    value
        What was passed.
    or_none
        Whether the caller also takes ``None`` (the message then says so; ``None`` itself is
        the caller's to let through).

    Returns
    -------
    float
        The number.

    Examples
    --------
    >>> from deadline_nb.localfarm.knobs import check_positive
    >>> check_positive("speedup", 60)
    60.0
    >>> check_positive("throttle_rate", 0, or_none=True)
    Traceback (most recent call last):
    ...
    ValueError: The value for `throttle_rate` must be a positive finite number or None, but 0 was passed.
    """  # noqa: E501 - a doctest's expected line cannot wrap
    number = _real(name, value)
    if not (math.isfinite(number) and number > 0):
        must = "be a positive finite number" + (" or None" if or_none else "")
        raise bad_argument(name, must, value)
    return number


def check_share(name: str, value: object) -> float:
    """Return ``value`` if it is a share: a number from 0 to 1.

    Parameters
    ----------
    name
        The argument, as the caller spells it.
    value
        What was passed.

    Returns
    -------
    float
        The share.

    Examples
    --------
    >>> from deadline_nb.localfarm.knobs import check_share
    >>> check_share("fault_rate", 0.05)
    0.05
    >>> check_share("fault_rate", 2)
    Traceback (most recent call last):
    ...
    ValueError: The value for `fault_rate` must be between 0 and 1, but 2 was passed.
    """
    number = _real(name, value)
    if not 0.0 <= number <= 1.0:  # false for nan too
        raise bad_argument(name, "be between 0 and 1", value)
    return number


def check_instant(name: str, value: object) -> float:
    """Return ``value`` if it is a finite instant in epoch seconds.

    Parameters
    ----------
    name
        The argument, as the caller spells it.
    value
        What was passed.

    Returns
    -------
    float
        Epoch seconds.

    Examples
    --------
    >>> from deadline_nb.localfarm.knobs import check_instant
    >>> check_instant("start", 1_800_000_000)
    1800000000.0
    """
    number = _real(name, value)
    if not math.isfinite(number):
        raise bad_argument(name, "be a finite number of epoch seconds", value)
    return number


def check_count(name: str, value: object) -> int:
    """Return ``value`` if it is a whole number, 0 or more.

    Parameters
    ----------
    name
        The argument, as the caller spells it.
    value
        What was passed.

    Returns
    -------
    int
        The count.

    Examples
    --------
    >>> from deadline_nb.localfarm.knobs import check_count
    >>> check_count("size", 5_000)
    5000
    >>> check_count("size", -1)
    Traceback (most recent call last):
    ...
    ValueError: The value for `size` must be a whole number, 0 or more, but -1 was passed.
    """
    must = "be a whole number, 0 or more"
    count = _whole(name, value, must)
    if count < 0:
        raise bad_argument(name, must, value)
    return count


def check_port(name: str, value: object) -> int:
    """Return ``value`` if it is a TCP port: a whole number from 0 (any free port) to 65535.

    Parameters
    ----------
    name
        The argument, as the caller spells it.
    value
        What was passed.

    Returns
    -------
    int
        The port.

    Examples
    --------
    >>> from deadline_nb.localfarm.knobs import check_port
    >>> check_port("port", 0)
    0
    >>> check_port("port", 99999)
    Traceback (most recent call last):
    ...
    ValueError: The value for `port` must be a whole number from 0 to 65535, but 99999 was passed.
    """
    must = f"be a whole number from 0 to {MAX_PORT}"
    port = _whole(name, value, must)
    if not 0 <= port <= MAX_PORT:
        raise bad_argument(name, must, value)
    return port


def check_quota(name: str, value: object) -> float | bool | None:
    """Return a requests-per-second quota: ``None`` (none), ``True`` (the service's), or a rate.

    Parameters
    ----------
    name
        The argument, as the caller spells it.
    value
        What was passed: ``None`` or ``False`` for no quota, ``True`` for the service's own
        quotas, or a positive finite number of requests per second.

    Returns
    -------
    float, bool or None
        ``None``, ``True`` or the rate.

    Examples
    --------
    >>> from deadline_nb.localfarm.knobs import check_quota
    >>> check_quota("logs_quota", 25), check_quota("logs_quota", True), check_quota("logs_quota", None)
    (25.0, True, None)
    >>> check_quota("logs_quota", -1)
    Traceback (most recent call last):
    ...
    ValueError: The value for `logs_quota` must be a positive finite number, True or None, but -1 was passed.
    """  # noqa: E501 - a doctest's expected line cannot wrap
    if value is None or value is False:
        return None
    if value is True:
        return True
    if isinstance(value, Real) and not isinstance(value, bool):
        number = float(value)
        if math.isfinite(number) and number > 0:
            return number
        raise bad_argument(name, "be a positive finite number, True or None", value)
    raise bad_argument_type(name, "a number, True or None", value)
