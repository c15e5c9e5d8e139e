"""A client-side rate limiter, shared by every thread and every fetch of the process.

CloudWatch Logs limits each account, in each region, to a few requests a second per operation,
and the limit is shared by everyone using the account: a fetch that sends faster is throttled
and waits out backoffs that cost more than pacing itself would. So each operation gets one
token bucket per region (and endpoint) in the process, at the operation's quota, and every
request a :func:`deadline_nb.aws.logs_client` sends (retries included) takes a token first.
Throttling that still happens (another process, another user of the account) is waited out by
the client's retries.

The quotas (:data:`LOGS_QUOTAS`), as checked in public sources: ``GetLogEvents`` 10 requests a
second per account per Region, "This quota can't be changed" (the CloudWatch Logs quotas page,
as quoted in 2019 and 2021 by projects reading logs); ``FilterLogEvents`` 5 (the same page in
2020, and AWS's knowledge-center article on CloudWatch Logs throttling, 2023);
``DescribeLogStreams`` 25 and ``DescribeLogGroups`` 10 (the quotas page as quoted in 2024, up
from 5). Newer figures may be higher: pass ``quotas=`` to :func:`deadline_nb.aws.logs_client`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from .errors import bad_argument

__all__ = ["LOGS_QUOTAS", "TokenBucket", "shared_bucket"]

#: Requests per second CloudWatch Logs allows per account and region, per read operation.
LOGS_QUOTAS: Final[Mapping[str, float]] = MappingProxyType(
    {
        "GetLogEvents": 10.0,
        "FilterLogEvents": 5.0,
        "DescribeLogStreams": 25.0,
        "DescribeLogGroups": 10.0,
    }
)


class TokenBucket:
    """Requests at ``rate`` a second at most, in bursts of at most ``burst``; thread-safe.

    Each caller reserves the next free slot under a lock and sleeps outside it, so that
    threads go in the order they asked and none spins. With ``burst=1`` (the default) requests
    are evenly spaced: in any window of ``t`` seconds at most ``1 + rate * t`` go out, which a
    service's own bucket at the same rate (which allows a burst of a second's worth) accepts.

    Parameters
    ----------
    rate
        Requests per second, positive.
    burst
        Requests that may go out at once after a quiet spell (at least 1).

    Examples
    --------
    >>> from deadline_nb.ratelimit import TokenBucket
    >>> bucket = TokenBucket(100.0)
    >>> waits = [bucket.acquire() for _ in range(3)]
    >>> waits[0] == 0.0 and 0.0 < waits[2] <= 0.03
    True
    """

    def __init__(self, rate: float, burst: float = 1.0) -> None:
        self._lock = threading.Lock()
        self._rate = self._check(rate)
        if not burst >= 1:
            raise bad_argument("burst", "be at least 1", burst)
        self._burst = float(burst)
        # The theoretical time at which the bucket is full again (GCRA's "TAT").
        self._full_at = time.monotonic()

    @staticmethod
    def _check(rate: float) -> float:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate < 1e9:
            raise bad_argument("rate", "be a positive number of requests per second", rate)
        return float(rate)

    @property
    def rate(self) -> float:
        """Requests per second."""
        return self._rate

    @rate.setter
    def rate(self, rate: float) -> None:
        checked = self._check(rate)
        with self._lock:
            self._rate = checked

    def reserve(self) -> float:
        """Take the next slot; return the seconds to wait before using it (0 for now)."""
        with self._lock:
            now = time.monotonic()
            interval = 1.0 / self._rate
            # A slot is free when the bucket would not overflow: up to `burst` slots ahead.
            start = max(now, self._full_at - (self._burst - 1.0) * interval)
            self._full_at = max(self._full_at, now) + interval
            return start - now

    def acquire(self) -> float:
        """Wait for a slot; return how long that took, in seconds."""
        wait = self.reserve()
        if wait > 0:
            time.sleep(wait)
        return wait


_BUCKETS: dict[tuple[str, str], TokenBucket] = {}
_BUCKETS_LOCK = threading.Lock()


def shared_bucket(scope: str, operation: str, rate: float, *, replace: bool = False) -> TokenBucket:
    """Return the process's bucket for ``operation`` in ``scope``, made at ``rate`` if new.

    Every client of one scope (an account's region, or a local endpoint) shares one bucket per
    operation, so that two fetches running at once stay under the quota together. A bucket that
    exists already keeps its rate, unless ``replace``: a quota given on purpose (``quotas=``)
    is the account's from then on, for every client of the scope.

    Parameters
    ----------
    scope
        Who shares the quota: the region and endpoint, as :func:`deadline_nb.aws.logs_client`
        names them.
    operation
        The API operation, such as ``"GetLogEvents"``.
    rate
        Requests per second.
    replace
        Set an existing bucket to ``rate``.

    Returns
    -------
    TokenBucket

    Examples
    --------
    >>> from deadline_nb.ratelimit import shared_bucket
    >>> shared_bucket("doc|", "GetLogEvents", 10) is shared_bucket("doc|", "GetLogEvents", 10)
    True
    """
    key = (scope, operation)
    with _BUCKETS_LOCK:
        bucket = _BUCKETS.get(key)
        if bucket is None:
            bucket = _BUCKETS[key] = TokenBucket(rate)
        elif replace and bucket.rate != rate:
            bucket.rate = rate
        return bucket
