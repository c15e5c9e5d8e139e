"""One fetch's progress bar and deadline, shared by :mod:`.sync`, :mod:`.actions` and :mod:`.job`.

A :class:`Watch` lives as long as one fetch (a :func:`~deadline_nb.fetch_session_actions` or a
whole :func:`~deadline_nb.load_job`): its bar is shown as soon as the fetch has taken half a
second, even while the first call is still waiting for its answer, and its deadline
(``timeout=``) is checked between calls and while the sync engine waits for its workers.

A call already in flight is not cut short by the deadline: the client's own timeouts bound it
(:func:`deadline_nb.client`: ``read_timeout``, a timed-out call tried twice).
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, Final

from ..errors import ServiceError, bad_argument

if TYPE_CHECKING:
    from .common import Ids

# A fetch over in less than this (a warm cache) shows no bar at all.
_BAR_DELAY: Final = 0.5
# How often a waiting fetch's bar is redrawn, so that its clock moves while nothing arrives.
_TICK: Final = 0.25


def check_timeout(timeout: float | None) -> float | None:
    """Return ``timeout`` if it is None or positive, else raise the package's argument error.

    Examples
    --------
    >>> check_timeout(None), check_timeout(90)
    (None, 90)
    >>> check_timeout(0)
    Traceback (most recent call last):
    ...
    ValueError: The value for `timeout` must be positive or None, but 0 was passed.
    """
    if timeout is not None and not timeout > 0:
        raise bad_argument("timeout", "be positive or None", timeout)
    return timeout


class Watch:
    """A fetch's progress bar (``tqdm.auto``) and its deadline; use it as a context manager.

    Parameters
    ----------
    ids
        The job (or session's job) being fetched, for the bar's label and the error's fields.
    endpoint
        The endpoint the client talks to, named by the error when the deadline passes.
    progress
        Show the bar (after half a second).
    timeout
        Seconds the whole fetch may take; None for no limit.
    unit
        What the bar counts (``"action"``, ``"session"``).

    Examples
    --------
    >>> from deadline_nb.fetch.common import Ids
    >>> with Watch(Ids("farm-1", "queue-1", "job-1"), "http://127.0.0.1:1",
    ...            progress=False, timeout=None) as watch:
    ...     watch.grow(3, done=1)
    ...     watch.advance(2)
    ...     watch.check()
    """

    def __init__(
        self,
        ids: Ids,
        endpoint: str,
        *,
        progress: bool,
        timeout: float | None,
        unit: str = "action",
    ) -> None:
        from tqdm.auto import tqdm

        self.ids = ids
        self.endpoint = endpoint
        self.timeout = check_timeout(timeout)
        self.started = time.monotonic()
        self.deadline = None if timeout is None else self.started + timeout
        # miniters=0: every update may redraw (tqdm still draws at most every 0.1 s), so the
        # ticker's update(0) redraws a bar that is waiting; tqdm's dynamic miniters would
        # soon skip those.
        self._bar: Any = tqdm(
            total=0,
            unit=unit,
            desc=ids.job_id,
            disable=not progress,
            delay=_BAR_DELAY,
            leave=False,
            miniters=0,
        )
        self._lock = threading.Lock()  # the bar is drawn by the ticker and the fetch alike
        self._done = threading.Event()
        self._ticker: threading.Thread | None = None
        if progress:
            self._ticker = threading.Thread(
                target=self._tick, name="deadline-nb-progress", daemon=True
            )

    def __enter__(self) -> Watch:
        if self._ticker is not None:
            self._ticker.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        if self._ticker is not None:
            self._ticker.join()
        with self._lock:
            self._bar.close()

    def _tick(self) -> None:
        # Without this, tqdm draws only when the fetch counts something: a first call that
        # waits (a slow or silent service) would leave the notebook cell blank.
        while not self._done.wait(_TICK):
            with self._lock:
                self._bar.update(0)

    def describe(self, label: str) -> None:
        """Name the bar (the job's name, once GetJob has answered)."""
        with self._lock:
            self._bar.set_description_str(label, refresh=False)

    def grow(self, listed: int, *, done: int = 0) -> None:
        """Count ``listed`` more items to go through, ``done`` of them needing no fetch."""
        with self._lock:
            self._bar.total += listed
            self._bar.update(done)

    def advance(self, fetched: int) -> None:
        """Count ``fetched`` items as fetched."""
        with self._lock:
            self._bar.update(fetched)

    def remaining(self) -> float | None:
        """Seconds left before the deadline (0 when it has passed); None without one."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.monotonic())

    def check(self) -> None:
        """Raise :meth:`expired` when the deadline has passed."""
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise self.expired()

    def expired(self) -> ServiceError:
        """The error of a fetch that ran out of time: one sentence naming the job and endpoint."""
        ids = self.ids
        return ServiceError(
            f"The fetch of job {ids.job_id} from {self.endpoint} did not finish within "
            f"{self.timeout or 0:g} s: pass a larger `timeout` (None for no limit), or rerun (with "
            "the cache it resumes); error.partial holds what it had.",
            **ids.fields,
        )
