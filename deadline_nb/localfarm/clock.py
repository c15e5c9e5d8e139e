"""The local farm's clocks: what "now" is for the job that is running.

Finished jobs are anchored to a fixed date and never change; the running job is anchored to its
clock's :attr:`~Clock.start` and shows what has happened by :meth:`~Clock.now`. A
:class:`~deadline_nb.localfarm.model.FarmModel` (and a
:class:`~deadline_nb.localfarm.server.LocalFarm`) takes a clock, so that a test can freeze time
or move it on by exact steps instead of patching the model:

- :class:`WallClock` (the default) starts at the wall clock and runs ``speedup`` times faster;
- :class:`ManualClock` stands still until :meth:`ManualClock.advance` or :meth:`ManualClock.set`
  moves it.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

from .knobs import check_instant, check_positive, check_seconds

__all__ = ["Clock", "ManualClock", "WallClock"]


@runtime_checkable
class Clock(Protocol):
    """What a farm needs of a clock: the instant it started and the instant it is now.

    Both are epoch seconds. The running job was submitted 50 minutes before :attr:`start`.
    """

    @property
    def start(self) -> float:
        """The instant, in epoch seconds, the farm's clock started."""
        ...

    def now(self) -> float:
        """Return the current instant on this clock, in epoch seconds."""
        ...


class WallClock:
    """The wall clock from ``start`` on, running ``speedup`` times faster.

    Parameters
    ----------
    start
        Wall-clock instant (epoch seconds) at which the clock starts; defaults to now.
    speedup
        How much faster than the wall clock it runs.

    Examples
    --------
    >>> from deadline_nb.localfarm.clock import WallClock
    >>> clock = WallClock(speedup=60.0)
    >>> clock.now() >= clock.start
    True
    """

    def __init__(self, start: float | None = None, *, speedup: float = 1.0) -> None:
        self.speedup = check_positive("speedup", speedup)
        self._start = time.time() if start is None else check_instant("start", start)

    @property
    def start(self) -> float:
        """The instant, in epoch seconds, the clock started."""
        return self._start

    def now(self) -> float:
        """Return the clock's instant: ``start`` plus the wall time since, times ``speedup``.

        Returns
        -------
        float
            Epoch seconds.

        Examples
        --------
        >>> from deadline_nb.localfarm.clock import WallClock
        >>> WallClock(start=0.0).now() > 1e9
        True
        """
        return self._start + (time.time() - self._start) * self.speedup

    def __repr__(self) -> str:
        return f"WallClock(start={self._start!r}, speedup={self.speedup!r})"


class ManualClock:
    """A clock that stands still until it is told to move: for tests and reproducible demos.

    Parameters
    ----------
    start
        The instant (epoch seconds) it starts at and shows until moved; defaults to now.

    Examples
    --------
    >>> from deadline_nb.localfarm.clock import ManualClock
    >>> clock = ManualClock(1_800_000_000.0)
    >>> clock.advance(90.0)
    >>> clock.now() - clock.start
    90.0
    """

    def __init__(self, start: float | None = None) -> None:
        self._start = time.time() if start is None else check_instant("start", start)
        self._now = self._start

    @property
    def start(self) -> float:
        """The instant, in epoch seconds, the clock started."""
        return self._start

    def now(self) -> float:
        """Return the instant the clock shows.

        Returns
        -------
        float
            Epoch seconds.

        Examples
        --------
        >>> from deadline_nb.localfarm.clock import ManualClock
        >>> ManualClock(100.0).now()
        100.0
        """
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock on by ``seconds`` (never back).

        Parameters
        ----------
        seconds
            How far to move it; 0 or more.

        Examples
        --------
        >>> from deadline_nb.localfarm.clock import ManualClock
        >>> clock = ManualClock(100.0)
        >>> clock.advance(15.0)
        >>> clock.now()
        115.0
        """
        self._now += check_seconds("seconds", seconds)

    def set(self, at: float) -> None:
        """Show the instant ``at`` from now on.

        Parameters
        ----------
        at
            Epoch seconds; may be before the current instant, to look at the past again.

        Examples
        --------
        >>> from deadline_nb.localfarm.clock import ManualClock
        >>> clock = ManualClock(100.0)
        >>> clock.set(40.0)
        >>> clock.now()
        40.0
        """
        self._now = check_instant("at", at)

    def __repr__(self) -> str:
        return f"ManualClock(start={self._start!r}, now={self._now!r})"
