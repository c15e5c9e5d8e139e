"""watch(): follow a running job from a notebook run top to bottom, or from a script.

The explorer's watch mode (:meth:`deadline_nb.widgets.Explorer.start_watch`) polls in a background
thread behind a button; :func:`watch` is the same polling as a blocking loop, for a notebook run
by papermill or a script. Each poll is :meth:`deadline_nb.Job.refresh`; the progress line and
figure are the explorer's (:func:`deadline_nb.widgets.shared.progress_text`,
:func:`deadline_nb.charts.progress_figure`).
"""

from __future__ import annotations

import html
import time
from datetime import datetime, timezone
from typing import Any

from .. import schema
from ..charts import ChartData, progress_figure
from ..errors import bad_argument
from ..fetch import Job
from .shared import png, progress_text, task_counts

__all__ = ["watch"]


def watch(
    job: Job,
    *,
    every: float = schema.HEARTBEAT_SECONDS,
    polls: int | None = None,
    timeout: float | None = None,
    display: bool = True,
    progress: bool = False,
) -> Job:
    """Follow a running job: refresh it every ``every`` seconds and redraw its progress in place.

    Each poll is :meth:`deadline_nb.Job.refresh`: through the cache, so only what changed is
    fetched and the progress snapshots accumulate (``job.snapshots``). In a notebook the
    progress plot and a line with the ETA are drawn once and updated in place; elsewhere the
    line is printed at each poll. Interrupting the kernel (or Ctrl+C) stops the watch and
    returns the last job.

    Parameters
    ----------
    job
        The job, from :func:`deadline_nb.load_job`.
    every
        Seconds between polls (15: the worker agent reports progress on its heartbeat).
    polls
        Stop after this many polls; ``None`` for no limit.
    timeout
        Stop after this many seconds; ``None`` for no limit.
    display
        Draw (or print) the progress; ``False`` to only poll.
    progress
        Show the fetches' progress bars.

    Returns
    -------
    Job
        The last job seen: finished, or as of the last poll.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm import LocalFarm
    >>> with LocalFarm(speedup=60) as farm:
    ...     j = farm.job_by_name("running")
    ...     job = dnb.load_job(farm.farm_id, j.queue_id, j.job_id, client=farm.client(),
    ...                        cache=False, progress=False)
    ...     later = dnb.watch(job, every=0.1, polls=2, display=False)
    >>> later.job_id == job.job_id and not later.finished
    True
    """
    if every <= 0:
        raise bad_argument("every", "be positive", every)
    show = _Display(display)
    started = time.monotonic()
    done = 0
    show(job)
    try:
        while not job.finished and (polls is None or done < polls):
            wait = every
            if timeout is not None:
                left = timeout - (time.monotonic() - started)
                if left <= 0:
                    break
                wait = min(every, left)
            time.sleep(wait)
            job = job.refresh(progress=progress)
            done += 1
            show(job)
    except KeyboardInterrupt:
        show.note("Interrupted: returning the last job seen.")
    return job


class _Display:
    """watch()'s output: a plot and a line updated in place in IPython, printed lines elsewhere."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.shell = None
        self.handles: dict[str, Any] = {}
        if enabled:
            from IPython import get_ipython

            self.shell = get_ipython()

    def __call__(self, job: Job) -> None:
        if not self.enabled:
            return
        line = f"{progress_text(job)} (as of {datetime.now(timezone.utc):%H:%M:%S} UTC)"
        if self.shell is None:
            print(line, flush=True)
            return
        from IPython.display import HTML, Image

        tasks = sum(task_counts(job).values()) or None
        fig = progress_figure(ChartData(job.actions, job.snapshots, job.finished, tasks))
        self._show("line", HTML(f"<b>{html.escape(line)}</b>"))
        self._show("plot", Image(data=png(fig), format="png"))

    def note(self, text: str) -> None:
        if not self.enabled:
            return
        if self.shell is None:
            print(text, flush=True)
        else:
            from IPython.display import HTML

            self._show("note", HTML(html.escape(text)))

    def _show(self, key: str, obj: Any) -> None:
        from IPython.display import display

        handle = self.handles.get(key)
        if handle is None:
            self.handles[key] = display(obj, display_id=True)
        else:
            handle.update(obj)
