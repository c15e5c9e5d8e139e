"""What the picker, the explorer and watch() share: output helpers and the progress line.

Shared by :mod:`deadline_nb.widgets.picker`, :mod:`deadline_nb.widgets.explorer` and
:mod:`deadline_nb.widgets.watching`: the value of an empty dropdown entry, times as text, the HTML
of a message line, figures as PNG, the one-line progress and ETA of a job (on the rule of
:class:`deadline_nb.summary.Completion`, the same as the progress plot's projection), and whether
a client talks to a local farm.
"""

from __future__ import annotations

import html
import io
from typing import TYPE_CHECKING, Any, Final

import pandas as pd

from ..aws import is_local_endpoint
from ..summary import Completion
from ..text import format_seconds

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..fetch import Job

__all__ = [
    "ALL",
    "DPI",
    "client_is_local",
    "error_html",
    "note_html",
    "png",
    "progress_text",
    "task_counts",
    "time_text",
]

#: The value of a dropdown entry that selects nothing ("all steps", "choose a job").
ALL: Final = ""
#: Resolution of the PNGs shown in the notebook (exports use save_figure's own).
DPI: Final = 90


def time_text(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A time as UTC text in ``fmt``; ``"?"`` when missing, the value as it is when not a time.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> time_text(datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)), time_text(None)
    ('2026-03-02 09:30', '?')
    """
    if value is None or value is pd.NaT:
        return "?"
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        return str(value)
    if pd.isna(stamp):
        return "?"
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.strftime(fmt)


def error_html(message: str) -> str:
    """A message line saying what went wrong, escaped.

    Examples
    --------
    >>> error_html("Access <denied>")
    '<span style="color:#b3261e">⚠ Access &lt;denied&gt;</span>'
    """
    return f'<span style="color:#b3261e">⚠ {html.escape(message)}</span>'


def note_html(message: str) -> str:
    """A message line saying what happened, escaped; empty for no message.

    Examples
    --------
    >>> note_html("Loading farms…"), note_html("")
    ('<span style="color:#555">Loading farms…</span>', '')
    """
    return f'<span style="color:#555">{html.escape(message)}</span>' if message else ""


def png(fig: Figure) -> bytes:
    """A figure as PNG bytes at :data:`DPI`.

    Examples
    --------
    >>> from deadline_nb.charts import figure
    >>> png(figure((2.0, 1.0)))[:4]
    b'\\x89PNG'
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def client_is_local(client: Any) -> bool:
    """Whether a ``deadline`` client talks to a local farm (then no ``deadline`` CLI defaults).

    The picker looks this up on this module at call time, so a test can replace it here.

    Examples
    --------
    >>> client_is_local(object())
    False
    """
    meta = getattr(client, "meta", None)
    return is_local_endpoint(getattr(meta, "endpoint_url", None))


def task_counts(job: Job) -> dict[str, int]:
    """The job's tasks by run status, from GetJob's ``taskRunStatusCounts``.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> task_counts(SimpleNamespace(job={"taskRunStatusCounts": {"SUCCEEDED": 3, "FAILED": 1}}))
    {'SUCCEEDED': 3, 'FAILED': 1}
    """
    return {str(k): int(v) for k, v in (job.job.get("taskRunStatusCounts") or {}).items()}


def progress_text(job: Job) -> str:
    """One line: tasks done of the job's total, running, and the ETA at the recent rate.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm import LocalFarm
    >>> with LocalFarm() as farm:
    ...     j = farm.job_by_name("render")
    ...     job = dnb.load_job(farm.farm_id, j.queue_id, j.job_id, client=farm.client(),
    ...                        cache=False, progress=False)
    >>> progress_text(job)
    'sq010_sh020_lighting_v003: SUCCEEDED · 240 of 240 tasks succeeded (100%) · finished'
    """
    counts = task_counts(job)
    total = sum(counts.values())
    done = counts.get("SUCCEEDED", 0)
    status = job.job.get("taskRunStatus", "?")
    parts = [f"{job.name}: {status}"]
    if total:
        parts.append(f"{done:,} of {total:,} tasks succeeded ({done / total:.0%})")
    if counts.get("RUNNING"):
        parts.append(f"{counts['RUNNING']:,} running")
    if counts.get("FAILED"):
        parts.append(f"{counts['FAILED']:,} failed")
    if job.finished:
        parts.append("finished")
        return " · ".join(parts)
    # The same rule, on the same numbers, as the progress plot's projection beside this line.
    progress = Completion(job.actions, tasks=total or None)
    eta = progress.eta
    if eta is None:
        parts.append("ETA unknown (too few tasks finished yet)")
    else:
        when = pd.Timestamp(eta, tz="UTC")
        left = (eta - progress.asof) / 1e9
        parts.append(f"ETA {time_text(when, '%Y-%m-%d %H:%M')} UTC (in {format_seconds(left)})")
    return " · ".join(parts)
