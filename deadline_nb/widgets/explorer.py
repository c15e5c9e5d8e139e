"""Pickers and an explorer for JupyterLab (ipywidgets 8): from nothing to a job's timeline.

A TD should not copy 40-character ids between browser tabs. :class:`JobPicker` offers the farms,
queues and jobs they can see, by name (jobs newest first, with status, submitter and time), then
the job's steps and sessions; :func:`explore` adds filters (status, step, action type, time
range) and tabs with the timeline, frame times, durations, progress and a table of the slowest
and failed actions, a Refresh button (incremental, through the cache), an Export button, and a
watch mode that follows a running job. :func:`watch` is the same polling as a blocking loop, for
a notebook run by papermill or a script.

This module only composes: lists and jobs come from :mod:`deadline_nb.fetch` (and
:meth:`deadline_nb.Job.refresh`), pictures from :mod:`deadline_nb.plots`. The package imports it
on first use of one of its names, so ``import deadline_nb`` does not import ipywidgets.

Plots are drawn on figures of their own (``matplotlib.figure.Figure``, not pyplot's), rendered to
PNG and put into ``ipywidgets.Output`` widgets: the same in JupyterLab, in papermill, from a
background thread, and with any matplotlib backend. Only the visible tab is drawn; the others
are drawn when they are opened.
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final, TypeVar

import ipywidgets as widgets
import numpy as np
import pandas as pd
import traitlets
from matplotlib.figure import Figure

from . import schema
from .errors import DeadlineNbError
from .fetch import (
    CacheArg,
    Job,
    fetch_sessions,
    fetch_steps,
    list_farms,
    list_jobs,
    list_queues,
    load_job,
)
from .plots import plot_durations, plot_frame_times, plot_progress, plot_timeline, save_figure
from .summary import Completion, exit_code_name
from .text import format_seconds

_all__ = ["Explorer", "JobPicker", "explore", "watch"]

logger = logging.getLogger("deadline_nb")

#: The value of a dropdown entry that selects nothing ("all steps", "choose a job").
ALL: Final = ""
#: The Explorer's tabs: attribute-style name, title.
TABS: Final[tuple[tuple[str, str], ...]] = (
    ("timeline", "Timeline"),
    ("frame_times", "Frame times"),
    ("durations", "Durations"),
    ("progress", "Progress"),
    ("table", "Slowest & failed"),
)
#: Tabs that are charts (exported as PNG and SVG).
CHARTS: Final[tuple[str, ...]] = ("timeline", "frame_times", "durations", "progress")
_SLOWEST: Final = 20  # task runs in the "slowest" table
_RANGE_STEPS: Final = 120  # positions of the time-range slider
_DPI: Final = 90  # of the PNGs shown in the notebook (exports use save_figure's own)
_ID_KEYS: Final = ("farm_id", "queue_id", "job_id", "step_id", "session_id")

_T = TypeVar("_T")


# ---------------------------------------------------------------------------------------------
# small helpers


def _time_text(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
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


def _who(created_by: Any) -> str:
    """A submitter as a person reads it: an ARN's session name, else the id, shortened."""
    text = str(created_by or "?")
    if text.startswith("arn:"):
        text = text.rsplit("/", 1)[-1]
    return text if len(text) <= 18 else text[:17] + "…"


def _unique_labels(options: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Make repeated labels (two farms with one name) distinct with the end of their ids."""
    counts: dict[str, int] = {}
    for label, _ in options:
        counts[label] = counts.get(label, 0) + 1
    return [
        (f"{label} ({value[-6:]})" if counts[label] > 1 and value else label, value)
        for label, value in options
    ]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "job"


def _error_html(message: str) -> str:
    return f'<span style="color:#b3261e">⚠ {html.escape(message)}</span>'


def _note_html(message: str) -> str:
    return f'<span style="color:#555">{html.escape(message)}</span>' if message else ""


def _figure(size: tuple[float, float]) -> Figure:
    # Not pyplot's: nothing global to close, safe to draw from the watch thread.
    return Figure(figsize=size, layout="constrained")


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI)
    return buffer.getvalue()


def _image_output(fig: Figure) -> dict[str, Any]:
    width, height = fig.get_size_inches()
    return {
        "output_type": "display_data",
        "data": {
            "image/png": base64.b64encode(_png(fig)).decode("ascii"),
            "text/plain": f"<Figure size {width * _DPI:.0f}x{height * _DPI:.0f}>",
        },
        "metadata": {},
    }


def _text_output(text: str) -> dict[str, Any]:
    return {"output_type": "stream", "name": "stdout", "text": text + "\n"}


def _table_output(tables: Sequence[tuple[str, pd.DataFrame]]) -> dict[str, Any]:
    parts = []
    plain = []
    for title, table in tables:
        parts.append(f"<h4>{html.escape(title)}</h4>")
        parts.append(table.to_html(index=False, na_rep="", max_rows=200) if len(table) else "")
        plain.append(f"{title}\n{table.to_string(index=False) if len(table) else ''}")
    return {
        "output_type": "display_data",
        "data": {"text/html": "\n".join(parts), "text/plain": "\n\n".join(plain)},
        "metadata": {},
    }


def _string_column(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series(pd.NA, index=frame.index, dtype="string")
    return frame[column].astype("string")


def _counts(values: pd.Series) -> list[tuple[str, int]]:
    counts = values.dropna().value_counts(sort=False)
    return [(str(k), int(v)) for k, v in counts.items() if v]


def _client_is_local(client: Any) -> bool:
    from .aws import is_local_endpoint

    meta = getattr(client, "meta", None)
    return is_local_endpoint(getattr(meta, "endpoint_url", None))


# ---------------------------------------------------------------------------------------------
# progress and ETA, shared by watch() and the Explorer


def _task_counts(job: Job) -> dict[str, int]:
    return {str(k): int(v) for k, v in (job.job.get("taskRunStatusCounts") or {}).items()}


def _progress_text(job: Job) -> str:
    """One line: tasks done of the job's total, running, and the ETA at the recent rate."""
    counts = _task_counts(job)
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
        parts.append(f"ETA {_time_text(when, '%Y-%m-%d %H:%M')} UTC (in {format_seconds(left)})")
    return " · ".join(parts)


def _progress_figure(
    actions: pd.DataFrame, snapshots: pd.DataFrame | None, job: Job | None = None
) -> Figure:
    """Tasks completed (with the projection), over each action's progress or the running ones.

    With ``job`` (when ``actions`` are all of its actions), tasks are counted against the job's
    total.
    """
    if snapshots is not None and len(snapshots) and len(actions):
        snapshots = snapshots[snapshots["sessionActionId"].isin(actions["sessionActionId"])]
    has_snapshots = snapshots is not None and len(snapshots) > 0
    running = bool((_string_column(actions, "status") == "RUNNING").fillna(False).any())
    lower = "snapshots" if has_snapshots else "running" if running else None
    fig = _figure((10.0, 7.5 if lower else 4.5))
    axes = fig.subplots(2 if lower else 1, 1, squeeze=False)[:, 0]
    total = sum(_task_counts(job).values()) if job is not None else None
    plot_progress(actions, kind="completed", tasks=total or None, ax=axes[0])
    if lower:
        plot_progress(actions, kind=lower, snapshots=snapshots, ax=axes[1])
    return fig


# ---------------------------------------------------------------------------------------------
# the picker


class JobPicker(widgets.VBox):
    """Cascading dropdowns: farm, then queue, then job, then step and session.

    Farms are listed when the picker is made; a farm's queues when it is chosen, a queue's jobs
    (newest first, as "name · status · submitter · time", narrowed by the filter box) when it is
    chosen, a job's steps and sessions when it is chosen. While a list loads, its dropdown says
    so and the line under the picker names what is loading. A list that fails (a queue the
    caller may not read) says why in that line, in one sentence, and leaves the rest usable.

    Parameters
    ----------
    client
        A ``deadline`` client; default :func:`deadline_nb.client` (AWS, as configured).
    farm_id, queue_id, job_id, step_id, session_id
        What to select at first. With none given and a client to AWS (not a local farm), the
        ``deadline`` CLI's defaults (:func:`deadline_nb.aws.config_defaults`). An id that is
        not in its list (the caller may not list farms) is added to it as it is.
    **kwargs
        Passed to :class:`ipywidgets.VBox` (``layout=...``).

    Attributes
    ----------
    value : dict
        ``farm_id``, ``queue_id``, ``job_id``, ``step_id`` and ``session_id``, each ``None``
        when nothing is chosen; a traitlet, so ``picker.observe(callback, names="value")``.
    farm, queue, job, step, session : ipywidgets.Dropdown
        The dropdowns; their values are ids (``""`` for none).
    filter : ipywidgets.Text
        Narrows the job list to labels that contain each word typed.
    message : ipywidgets.HTML
        What is loading, or what went wrong.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm import JOBS, LocalFarm
    >>> with LocalFarm() as farm:
    ...     render = farm.job_by_name(JOBS["render"])
    ...     picker = dnb.JobPicker(farm.client(), farm_id=farm.farm_id,
    ...                            queue_id=render.queue_id, job_id=render.job_id)
    ...     picker.value["job_id"] == render.job_id, picker.job.label.split(" · ")[0]
    (True, 'sq010_sh020_lighting_v003')
    """

    value = traitlets.Dict()

    def __init__(
        self,
        client: Any = None,
        *,
        farm_id: str | None = None,
        queue_id: str | None = None,
        job_id: str | None = None,
        step_id: str | None = None,
        session_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        if client is None:
            from .aws import client as make_client

            client = make_client()
        self.client = client
        wide = widgets.Layout(width="24em")
        self.farm = widgets.Dropdown(description="Farm", layout=wide)
        self.queue = widgets.Dropdown(description="Queue", layout=wide)
        self.job = widgets.Dropdown(description="Job", layout=widgets.Layout(width="49em"))
        self.filter = widgets.Text(
            description="Filter",
            placeholder="words in the name, status, submitter, date",
            continuous_update=False,
            layout=wide,
        )
        self.step = widgets.Dropdown(description="Step", layout=wide)
        self.session = widgets.Dropdown(description="Session", layout=wide)
        self.message = widgets.HTML()
        self._jobs: list[dict[str, Any]] = []
        self._quiet = 0
        super().__init__(
            [
                widgets.HBox([self.farm, self.queue]),
                widgets.HBox([self.filter]),
                self.job,
                widgets.HBox([self.step, self.session]),
                self.message,
            ],
            **kwargs,
        )
        self._set_options(self.queue, [("— choose a farm —", ALL)])
        self._set_options(self.job, [("— choose a queue —", ALL)])
        self._clear_job_details()
        self.value = self._ids()
        self.farm.observe(self._on_farm, names="value")
        self.queue.observe(self._on_queue, names="value")
        self.job.observe(self._on_job, names="value")
        self.filter.observe(self._on_filter, names="value")
        self.step.observe(self._on_detail, names="value")
        self.session.observe(self._on_detail, names="value")
        given = (farm_id, queue_id, job_id, step_id, session_id)
        if not any(given) and not _client_is_local(client):
            from .aws import config_defaults

            defaults = config_defaults()
            farm_id, queue_id, job_id = (
                defaults["farm_id"],
                defaults["queue_id"],
                defaults["job_id"],
            )
        self._load_farms()
        self.select(
            farm_id=farm_id,
            queue_id=queue_id,
            job_id=job_id,
            step_id=step_id,
            session_id=session_id,
        )

    # ---- ids

    @property
    def farm_id(self) -> str | None:
        """The chosen farm's id; set it to choose one (its queues are listed).

        Examples
        --------
        >>> import deadline_nb as dnb
        >>> from deadline_nb.localfarm import LocalFarm
        >>> with LocalFarm() as farm:
        ...     picker = dnb.JobPicker(farm.client())
        ...     picker.farm_id == farm.farm_id  # the only farm is chosen by itself
        True
        """
        return self.farm.value or None

    @farm_id.setter
    def farm_id(self, farm_id: str | None) -> None:
        self._set_id(self.farm, farm_id, self._farm_changed)

    @property
    def queue_id(self) -> str | None:
        """The chosen queue's id; set it to choose one (its jobs are listed).

        Examples
        --------
        >>> import deadline_nb as dnb
        >>> from deadline_nb.localfarm import LocalFarm
        >>> with LocalFarm() as farm:
        ...     picker = dnb.JobPicker(farm.client())
        ...     picker.queue_id = farm.job_by_name("render").queue_id
        ...     picker.queue.label
        'Lighting'
        """
        return self.queue.value or None

    @queue_id.setter
    def queue_id(self, queue_id: str | None) -> None:
        self._set_id(self.queue, queue_id, self._queue_changed)

    @property
    def job_id(self) -> str | None:
        """The chosen job's id; set it to choose one (its steps and sessions are listed).

        Examples
        --------
        >>> import deadline_nb as dnb
        >>> from deadline_nb.localfarm import LocalFarm
        >>> with LocalFarm() as farm:
        ...     failing = farm.job_by_name("failing")
        ...     picker = dnb.JobPicker(farm.client(), queue_id=failing.queue_id)
        ...     picker.job_id = failing.job_id
        ...     picker.value["job_id"] == failing.job_id
        True
        """
        return self.job.value or None

    @job_id.setter
    def job_id(self, job_id: str | None) -> None:
        self._set_id(self.job, job_id, self._job_changed)

    @property
    def step_id(self) -> str | None:
        """The chosen step's id, or ``None`` for all steps; settable.

        Examples
        --------
        >>> import deadline_nb as dnb
        >>> from deadline_nb.localfarm import LocalFarm
        >>> with LocalFarm() as farm:
        ...     sim = farm.job_by_name("simulation")
        ...     picker = dnb.JobPicker(farm.client(), queue_id=sim.queue_id, job_id=sim.job_id)
        ...     [label.split(" · ")[0] for label, _ in picker.step.options[1:]]
        ['Simulate', 'Mesh']
        """
        return self.step.value or None

    @step_id.setter
    def step_id(self, step_id: str | None) -> None:
        self._choose(self.step, step_id)
        self._update_value()

    @property
    def session_id(self) -> str | None:
        """The chosen session's id, or ``None`` for all sessions; settable.

        Examples
        --------
        >>> import deadline_nb as dnb
        >>> from deadline_nb.localfarm import LocalFarm
        >>> with LocalFarm() as farm:
        ...     sim = farm.job_by_name("simulation")
        ...     picker = dnb.JobPicker(farm.client(), queue_id=sim.queue_id, job_id=sim.job_id)
        ...     picker.session_id = picker.session.options[1][1]
        ...     picker.value["session_id"].startswith("session-")
        True
        """
        return self.session.value or None

    @session_id.setter
    def session_id(self, session_id: str | None) -> None:
        self._choose(self.session, session_id)
        self._update_value()

    def _set_id(
        self, dropdown: widgets.Dropdown, value: str | None, changed: Callable[[], None]
    ) -> None:
        if value and value == dropdown.value:
            return
        if value and dropdown is not self.farm and not self.farm.value:
            raise ValueError("Choose a farm first: set farm_id (or pass it to select()).")
        if value and dropdown is self.job and not self.queue.value:
            raise ValueError("Choose a queue first: set queue_id (or pass it to select()).")
        self._choose(dropdown, value)
        changed()
        self._update_value()

    def select(
        self,
        *,
        farm_id: str | None = None,
        queue_id: str | None = None,
        job_id: str | None = None,
        step_id: str | None = None,
        session_id: str | None = None,
    ) -> None:
        """Choose ids in code, in order, listing what each one needs (as a papermill cell would).

        Parameters
        ----------
        farm_id, queue_id, job_id, step_id, session_id
            The ids; ``None`` leaves that dropdown as it is (a new farm, queue or job clears
            what comes after it). An id that is not in its list is added to it as it is.

        Examples
        --------
        >>> import deadline_nb as dnb
        >>> from deadline_nb.localfarm import LocalFarm
        >>> with LocalFarm() as farm:
        ...     sim = farm.job_by_name("simulation")
        ...     picker = dnb.JobPicker(farm.client())
        ...     picker.select(queue_id=sim.queue_id, job_id=sim.job_id)
        ...     picker.job.label.split(" · ")[:2]
        ['sq020_fluid_sim_v012', 'SUCCEEDED']
        """
        if farm_id and farm_id != self.farm.value:
            self._choose(self.farm, farm_id)
            self._farm_changed()
        if queue_id and queue_id != self.queue.value:
            if not self.farm.value:
                raise ValueError("Choose a farm first: pass farm_id=... with queue_id=....")
            self._choose(self.queue, queue_id)
            self._queue_changed()
        if job_id and job_id != self.job.value:
            if not self.queue.value:
                raise ValueError("Choose a queue first: pass queue_id=... with job_id=....")
            self._choose(self.job, job_id)
            self._job_changed()
        if step_id:
            self._choose(self.step, step_id)
        if session_id:
            self._choose(self.session, session_id)
        self._update_value()

    # ---- plumbing

    @contextlib.contextmanager
    def _quietly(self) -> Iterator[None]:
        self._quiet += 1
        try:
            yield
        finally:
            self._quiet -= 1

    def _set_options(
        self, dropdown: widgets.Dropdown, options: list[tuple[str, str]], value: str = ALL
    ) -> None:
        values = [v for _, v in options]
        with self._quietly():
            dropdown.options = _unique_labels(options)
            dropdown.value = value if value in values else values[0]

    def _choose(self, dropdown: widgets.Dropdown, value: str | None) -> None:
        value = value or ALL
        options = list(dropdown.options)
        if value not in [v for _, v in options]:
            # A job hidden by the filter keeps its label; any other id is shown as it is.
            listed = [j for j in self._jobs if j["jobId"] == value] if dropdown is self.job else []
            label = self.job_label(listed[0]) if listed else f"{value} (not listed)"
            options.append((label, value))
        self._set_options(dropdown, options, value)

    def _say(self, message: str, *, error: bool = False) -> None:
        self.message.value = _error_html(message) if error else _note_html(message)

    def _list(self, dropdown: widgets.Dropdown, what: str, call: Callable[[], _T]) -> _T | None:
        """Run one list call, showing that it loads, and its error (if any) in one line."""
        self._set_options(dropdown, [(f"loading {what}…", ALL)])
        dropdown.disabled = True
        self._say(f"Loading {what}…")
        try:
            items = call()
        except DeadlineNbError as error:
            self._set_options(dropdown, [(f"({what}: unavailable)", ALL)])
            self._say(str(error), error=True)
            return None
        finally:
            dropdown.disabled = False
        self._say("")
        return items

    def _ids(self) -> dict[str, str | None]:
        return {
            key: dropdown.value or None
            for key, dropdown in zip(
                _ID_KEYS, (self.farm, self.queue, self.job, self.step, self.session), strict=True
            )
        }

    def _update_value(self) -> None:
        self.value = self._ids()

    # ---- the cascade

    def _load_farms(self) -> None:
        farms = self._list(self.farm, "farms", lambda: list_farms(client=self.client))
        if farms is None:
            return
        options = [(str(f.get("displayName") or f["farmId"]), str(f["farmId"])) for f in farms]
        only = options[0][1] if len(options) == 1 else ALL
        self._set_options(self.farm, [(f"— choose one of {len(options)} farms —", ALL), *options])
        if only:
            self._choose(self.farm, only)
            self._farm_changed()

    def _on_farm(self, change: Mapping[str, Any]) -> None:
        if not self._quiet:
            self._farm_changed()
            self._update_value()

    def _farm_changed(self) -> None:
        self._jobs = []
        self._set_options(self.job, [("— choose a queue —", ALL)])
        self._clear_job_details()
        farm_id = self.farm.value
        if not farm_id:
            self._set_options(self.queue, [("— choose a farm —", ALL)])
            return
        queues = self._list(self.queue, "queues", lambda: list_queues(farm_id, client=self.client))
        if queues is None:
            return
        options = [(f"{q.get('displayName') or q['queueId']}", str(q["queueId"])) for q in queues]
        self._set_options(self.queue, [(f"— choose one of {len(options)} queues —", ALL), *options])
        if len(options) == 1:
            self._choose(self.queue, options[0][1])
            self._queue_changed()

    def _on_queue(self, change: Mapping[str, Any]) -> None:
        if not self._quiet:
            self._queue_changed()
            self._update_value()

    def _queue_changed(self) -> None:
        self._jobs = []
        self._clear_job_details()
        farm_id, queue_id = self.farm.value, self.queue.value
        if not (farm_id and queue_id):
            self._set_options(self.job, [("— choose a queue —", ALL)])
            return
        queue_name = self.queue.label or queue_id
        jobs = self._list(
            self.job,
            f"jobs of {queue_name}",
            lambda: list_jobs(farm_id, queue_id, client=self.client),
        )
        if jobs is None:
            return
        self._jobs = jobs
        self._apply_filter()

    def _apply_filter(self) -> None:
        words = self.filter.value.lower().split()
        labelled = [(self.job_label(j), str(j["jobId"])) for j in self._jobs]
        options = [
            (label, job_id) for label, job_id in labelled if all(w in label.lower() for w in words)
        ]
        if words:
            head = f"— {len(options)} of {len(self._jobs)} jobs match {self.filter.value!r} —"
        else:
            head = f"— choose one of {len(self._jobs)} jobs (newest first) —"
        current = self.job.value
        self._set_options(self.job, [(head, ALL), *options], current)
        if self.job.value != current:
            self._job_changed()

    def _on_filter(self, change: Mapping[str, Any]) -> None:
        if self._jobs:
            self._apply_filter()
            self._update_value()

    def _on_job(self, change: Mapping[str, Any]) -> None:
        if not self._quiet:
            self._job_changed()
            self._update_value()

    def _clear_job_details(self) -> None:
        self._set_options(self.step, [("all steps", ALL)])
        self._set_options(self.session, [("all sessions", ALL)])

    def _job_changed(self) -> None:
        self._clear_job_details()
        farm_id, queue_id, job_id = self.farm.value, self.queue.value, self.job.value
        if not (farm_id and queue_id and job_id):
            return
        steps = self._list(
            self.step, "steps", lambda: fetch_steps(farm_id, queue_id, job_id, client=self.client)
        )
        if steps is not None:
            self._set_options(
                self.step,
                [
                    (f"all steps ({len(steps)})", ALL),
                    *[
                        (
                            f"{s.get('name', s['stepId'])} · {s.get('taskRunStatus', '?')}",
                            s["stepId"],
                        )
                        for s in steps
                    ],
                ],
            )
        else:
            return
        sessions = self._list(
            self.session,
            "sessions",
            lambda: fetch_sessions(farm_id, queue_id, job_id, client=self.client),
        )
        if sessions is not None:
            sessions = sorted(sessions, key=lambda s: (str(s.get("startedAt")), s["sessionId"]))
            self._set_options(
                self.session,
                [
                    (f"all sessions ({len(sessions)})", ALL),
                    *[(self.session_label(s), str(s["sessionId"])) for s in sessions],
                ],
            )

    def _on_detail(self, change: Mapping[str, Any]) -> None:
        if not self._quiet:
            self._update_value()

    # ---- labels

    @staticmethod
    def job_label(job: Mapping[str, Any]) -> str:
        """Return a job's label: name, status, submitter and submission time (UTC).

        Parameters
        ----------
        job
            A ListJobs summary (or a GetJob response).

        Returns
        -------
        str

        Examples
        --------
        >>> from datetime import datetime, timezone
        >>> from deadline_nb.widgets import JobPicker
        >>> JobPicker.job_label({"jobId": "job-1", "name": "sq010_lighting", "taskRunStatus":
        ...     "FAILED", "createdBy": "arn:aws:sts::1:assumed-role/Artist/noor",
        ...     "createdAt": datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)})
        'sq010_lighting · FAILED · noor · 2026-03-02 09:30 UTC'
        """
        return " · ".join(
            [
                str(job.get("name") or job.get("jobId")),
                str(job.get("taskRunStatus") or job.get("lifecycleStatus") or "?"),
                _who(job.get("createdBy")),
                f"{_time_text(job.get('createdAt'))} UTC",
            ]
        )

    @staticmethod
    def session_label(session: Mapping[str, Any]) -> str:
        """Return a session's label: worker, start and end times (UTC), lifecycle status.

        Parameters
        ----------
        session
            A ListSessions summary.

        Returns
        -------
        str

        Examples
        --------
        >>> from datetime import datetime, timezone
        >>> from deadline_nb.widgets import JobPicker
        >>> JobPicker.session_label({"sessionId": "session-1", "workerId": "worker-2",
        ...     "lifecycleStatus": "ENDED",
        ...     "startedAt": datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc),
        ...     "endedAt": datetime(2026, 3, 2, 10, 5, tzinfo=timezone.utc)})
        'worker-2 · 03-02 09:30–10:05 · ENDED'
        """
        start = _time_text(session.get("startedAt"), "%m-%d %H:%M")
        end = _time_text(session.get("endedAt"), "%H:%M") if session.get("endedAt") else "…"
        return " · ".join(
            [
                str(session.get("workerId") or session["sessionId"]),
                f"{start}–{end}",
                str(session.get("lifecycleStatus") or "?"),
            ]
        )


# ---------------------------------------------------------------------------------------------
# the explorer


class Explorer(widgets.VBox):
    """A job (or a frame) in one widget: picker, filters, plots in tabs, refresh, export, watch.

    Made by :func:`explore`, which documents the arguments. Everything the buttons do is a
    method too, so a notebook (or a test) can do it in code.

    Attributes
    ----------
    job : Job or None
        The job shown (``None`` for a frame, or before one is picked).
    frame : pandas.DataFrame
        The session actions that pass the filters (what the plots draw and Export writes).
    picker : JobPicker or None
        The picker, when the explorer has a client.
    status, step, action_type : ipywidgets.Dropdown
        Filters; ``""`` is "any". With a picker, ``step`` is the picker's step dropdown.
    time_range : ipywidgets.SelectionRangeSlider
        Keeps the actions that ran (at least partly) within the range.
    tabs : ipywidgets.Tab
        One ``ipywidgets.Output`` per tab of :data:`TABS`.
    figures : dict
        The figure last drawn for each chart tab that has been drawn.
    table : pandas.DataFrame
        The slowest and failed actions (the last tab's table), with a ``reason`` column.
    message, progress : ipywidgets.HTML
        What happened last (loading, errors, exports), and the job's progress and ETA.
    polls : int
        Polls the watch mode has made.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm.model import JOBS, FarmModel
    >>> model = FarmModel(seed=0)
    >>> df = dnb.session_action_frame(
    ...     model.session_actions(model.job_by_name(JOBS["failing"]).job_id))
    >>> ex = dnb.Explorer(df)
    >>> ex.status.value = "FAILED"
    >>> set(ex.frame["status"]) == {"FAILED"}
    True
    >>> ex.close()
    """

    def __init__(
        self,
        job_or_frame: Job | pd.DataFrame | None = None,
        *,
        client: Any = None,
        cache: CacheArg = True,
        farm_id: str | None = None,
        queue_id: str | None = None,
        job_id: str | None = None,
        watch: bool = False,
        every: float = schema.HEARTBEAT_SECONDS,
        **kwargs: Any,
    ) -> None:
        self.job: Job | None = None
        self.picker: JobPicker | None = None
        self.every = float(every)
        self.polls = 0
        self.figures: dict[str, Figure] = {}
        self.table = pd.DataFrame()
        self._cache = cache
        self._client = client
        self._source = schema.empty_frame(schema.SESSION_ACTION_COLUMNS)
        self._snapshots: pd.DataFrame | None = None
        self._stale: set[str] = set(dict(TABS))
        self._lock = threading.RLock()
        self._quiet = 0
        self._watch_thread: threading.Thread | None = None
        self._watch_stop = threading.Event()
        self._watch_when_loaded = bool(watch)
        self._polled = threading.Condition()

        if isinstance(job_or_frame, pd.DataFrame):
            frame: pd.DataFrame | None = job_or_frame
            job = None
        elif isinstance(job_or_frame, Job):
            frame, job = None, job_or_frame
        elif job_or_frame is None:
            frame = job = None
            if client is None:
                from .aws import client as make_client

                client = self._client = make_client()
        else:
            raise TypeError(
                "The value for `job_or_frame` must be a Job (dnb.load_job), a DataFrame of "
                f"session actions, or None, but {type(job_or_frame).__name__} was passed."
            )

        if frame is None and client is not None:
            ids = (
                {"farm_id": job.farm_id, "queue_id": job.queue_id, "job_id": job.job_id}
                if job is not None
                else {"farm_id": farm_id, "queue_id": queue_id, "job_id": job_id}
            )
            self.picker = JobPicker(client, **ids)

        self.message = widgets.HTML()
        self.progress = widgets.HTML()
        narrow = widgets.Layout(width="20em")
        self.status = widgets.Dropdown(description="Status", layout=narrow)
        self.action_type = widgets.Dropdown(description="Action", layout=narrow)
        self.step = (
            self.picker.step
            if self.picker is not None
            else widgets.Dropdown(description="Step", layout=narrow)
        )
        self.time_range = widgets.SelectionRangeSlider(
            options=[("–", 0), ("– ", 1)],
            index=(0, 1),
            description="Time",
            continuous_update=False,
            readout=False,  # too narrow for two times: time_label says which
            layout=widgets.Layout(width="32em"),
        )
        self.time_label = widgets.HTML()
        self.outputs = {name: widgets.Output() for name, _ in TABS}
        self.tabs = widgets.Tab(
            children=[self.outputs[name] for name, _ in TABS], titles=[t for _, t in TABS]
        )
        self.refresh_button = widgets.Button(
            description="Refresh", icon="refresh", tooltip="Fetch what changed (through the cache)"
        )
        self.watch_button = widgets.ToggleButton(
            description="Watch",
            icon="eye",
            tooltip=f"Refresh every {self.every:g} s until the job finishes",
        )
        self.export_button = widgets.Button(
            description="Export", icon="download", tooltip="Write the charts and the frame"
        )
        self.folder = widgets.Text(
            description="to folder", value="exports", layout=widgets.Layout(width="24em")
        )
        filters = [self.status, self.action_type]
        if self.picker is None:
            filters.insert(1, self.step)
        children: list[widgets.Widget] = []
        if self.picker is not None:
            children.append(self.picker)
        children += [
            widgets.HBox(filters),
            widgets.HBox([self.time_range, self.time_label]),
            widgets.HBox([self.refresh_button, self.watch_button, self.export_button, self.folder]),
            self.progress,
            self.message,
            self.tabs,
        ]
        super().__init__(children, **kwargs)

        for control in (self.status, self.action_type, self.time_range):
            control.observe(self._on_filter, names="value")
        self.time_range.observe(self._show_range, names="value")
        if self.picker is None:
            self.step.observe(self._on_filter, names="value")
        else:
            self.picker.observe(self._on_pick, names="value")
        self.tabs.observe(self._on_tab, names="selected_index")
        self.refresh_button.on_click(self._on_refresh)
        self.export_button.on_click(self._on_export)
        self.watch_button.observe(self._on_watch, names="value")

        if frame is not None:
            self.refresh_button.disabled = self.watch_button.disabled = True
            self._set_source(frame, None)
        elif job is not None:
            self._set_job(job)
        elif self.picker is not None and self.picker.job_id:
            self._load(self.picker.farm_id, self.picker.queue_id, self.picker.job_id)
        else:
            self.refresh_button.disabled = self.watch_button.disabled = True
            self._set_source(self._source, None)
            self._say("Choose a job above.")

    # ---- public

    @property
    def frame(self) -> pd.DataFrame:
        """The session actions that pass the filters.

        Examples
        --------
        >>> import deadline_nb as dnb
        >>> from deadline_nb.localfarm.model import JOBS, FarmModel
        >>> model = FarmModel(seed=0)
        >>> df = dnb.session_action_frame(
        ...     model.session_actions(model.job_by_name(JOBS["render"]).job_id))
        >>> ex = dnb.explore(df)
        >>> ex.action_type.value = "taskRun"
        >>> len(ex.frame), len(df)
        (240, 415)
        >>> ex.close()
        """
        with self._lock:
            return self._filtered()

    @property
    def watching(self) -> bool:
        """Whether the watch mode is polling.

        Examples
        --------
        >>> import deadline_nb as dnb
        >>> dnb.Explorer(dnb.session_action_frame([])).watching
        False
        """
        thread = self._watch_thread
        return thread is not None and thread.is_alive()

    def refresh(self) -> Job:
        """Load the job again, fetching only what changed (:meth:`deadline_nb.Job.refresh`).

        The filters are kept; the plots are drawn again.

        Returns
        -------
        Job
            The refreshed job (also :attr:`job`).

        Raises
        ------
        ValueError
            When there is no job (the explorer shows a frame, or nothing is picked yet).
        AwsError
            As :func:`deadline_nb.load_job`; the Refresh button shows it in the widget instead.

        Examples
        --------
        >>> import deadline_nb as dnb
        >>> from deadline_nb.localfarm import LocalFarm
        >>> with LocalFarm() as farm:
        ...     j = farm.job_by_name("failing")
        ...     job = dnb.load_job(farm.farm_id, j.queue_id, j.job_id, client=farm.client(),
        ...                        cache=False, progress=False)
        ...     ex = dnb.explore(job)
        ...     ex.refresh().job_id == job.job_id
        True
        >>> ex.close()
        """
        with self._lock:
            if self.job is None:
                raise ValueError("There is no job to refresh: pick one, or pass a dnb.Job.")
            self._say(f"Refreshing {self.job.name}…")
            job = self.job.refresh(progress=False)
            self._set_job(job)
            self._say(f"Refreshed at {datetime.now(timezone.utc):%H:%M:%S} UTC.")
            return job

    def export(self, folder: str | Path | None = None) -> list[Path]:
        """Write the charts (PNG and SVG) and the filtered frame (Parquet and CSV) to a folder.

        Every chart tab is drawn with the current filters and saved with
        :func:`deadline_nb.save_figure` (slide size, the job's id in the files' metadata); a
        chart that cannot be drawn for this frame (frame times without task parameters) is
        left out and named in :attr:`message`.

        Parameters
        ----------
        folder
            Where to write (made if needed); default the folder box's value.

        Returns
        -------
        list of pathlib.Path
            The files written, also listed in :attr:`message`.

        Examples
        --------
        >>> import tempfile
        >>> import deadline_nb as dnb
        >>> from deadline_nb.localfarm.model import JOBS, FarmModel
        >>> model = FarmModel(seed=0)
        >>> df = dnb.session_action_frame(
        ...     model.session_actions(model.job_by_name(JOBS["failing"]).job_id))
        >>> ex = dnb.explore(df)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     sorted(p.suffix for p in ex.export(tmp))
        ['.csv', '.parquet', '.png', '.png', '.png', '.png', '.svg', '.svg', '.svg', '.svg']
        >>> ex.close()
        """
        with self._lock:
            target = Path(folder if folder is not None else self.folder.value).expanduser()
            target.mkdir(parents=True, exist_ok=True)
            stem = _slug(self.job.name) if self.job is not None else "actions"
            title = self.job.name if self.job is not None else None
            frame = self._filtered()
            written: list[Path] = []
            skipped: list[str] = []
            for name in CHARTS:
                drawn = self._draw(name, frame)
                if not isinstance(drawn, Figure):
                    skipped.append(f"{dict(TABS)[name]} ({drawn})")
                    continue
                for suffix in (".png", ".svg"):
                    written.append(
                        save_figure(drawn, target / f"{stem}_{name}{suffix}", title=title)
                    )
            parquet = target / f"{stem}_actions.parquet"
            frame.to_parquet(parquet, index=False)
            csv = target / f"{stem}_actions.csv"
            frame.to_csv(csv, index=False)
            written += [parquet, csv]
            names = ", ".join(html.escape(p.name) for p in written)
            note = f"<br>Left out: {html.escape('; '.join(skipped))}" if skipped else ""
            self.message.value = (
                f"Exported {len(frame):,} actions and {len(written) - 2} chart files to "
                f"<code>{html.escape(str(target))}</code>: {names}{note}"
            )
            return written

    def start_watch(self, every: float | None = None) -> None:
        """Refresh every ``every`` seconds in a background thread until the job finishes.

        Each poll goes through the cache (so progress snapshots accumulate), updates the
        progress line and draws the visible tab again. The polling stops by itself when the
        job finishes, on an error (shown in the widget), or when the widget is closed.

        Parameters
        ----------
        every
            Seconds between polls; default the explorer's ``every`` (15 s: the worker agent
            reports progress on its heartbeat, so polling faster shows nothing new).

        Raises
        ------
        ValueError
            When there is no job to watch (a frame), or ``every`` is not positive.

        Examples
        --------
        >>> import deadline_nb as dnb
        >>> from deadline_nb.localfarm import LocalFarm
        >>> with LocalFarm(speedup=60) as farm:
        ...     j = farm.job_by_name("running")
        ...     job = dnb.load_job(farm.farm_id, j.queue_id, j.job_id, client=farm.client(),
        ...                        cache=False, progress=False)
        ...     ex = dnb.explore(job)
        ...     ex.start_watch(every=0.1)
        ...     ex.wait_for_polls(1)
        ...     ex.stop_watch()
        True
        >>> ex.watching
        False
        >>> ex.close()
        """
        if every is not None:
            if every <= 0:
                raise ValueError(
                    f"The value for `every` must be positive, but {every!r} was passed."
                )
            self.every = float(every)
        if self.job is None:
            raise ValueError("There is no job to watch: pick one, or pass a dnb.Job.")
        if self.watching:
            return
        if self.job.finished:
            self._say(f"{self.job.name} has finished: there is nothing to watch.")
            self._set_watch_button(False)
            return
        self._watch_stop = threading.Event()
        self._watch_thread = threading.Thread(
            target=self._watch_loop, args=(self._watch_stop,), name="deadline-nb-watch", daemon=True
        )
        self._set_watch_button(True)
        self._say(f"Watching {self.job.name}: a refresh every {self.every:g} s.")
        self._watch_thread.start()

    def stop_watch(self) -> None:
        """Stop the watch mode (and wait for a poll in flight to finish).

        Examples
        --------
        >>> import deadline_nb as dnb
        >>> ex = dnb.Explorer(dnb.session_action_frame([]))
        >>> ex.stop_watch()  # not watching: nothing to do
        >>> ex.watching
        False
        """
        self._watch_stop.set()
        thread = self._watch_thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        self._set_watch_button(False)

    def wait_for_polls(self, count: int, timeout: float | None = 60.0) -> bool:
        """Wait until the watch mode has made ``count`` polls in all, or has stopped.

        Parameters
        ----------
        count
            Polls to wait for (:attr:`polls`).
        timeout
            Seconds to wait at most; ``None`` for no limit.

        Returns
        -------
        bool
            Whether that many polls were made.

        Examples
        --------
        >>> import deadline_nb as dnb
        >>> dnb.Explorer(dnb.session_action_frame([])).wait_for_polls(1, timeout=0)
        False
        """
        with self._polled:
            self._polled.wait_for(lambda: self.polls >= count or not self.watching, timeout)
            return self.polls >= count

    def close(self) -> None:
        """Stop the watch mode and close the widget and its children.

        Examples
        --------
        >>> import deadline_nb as dnb
        >>> ex = dnb.Explorer(dnb.session_action_frame([]))
        >>> ex.close()
        >>> ex.comm is None
        True
        """
        self.stop_watch()
        for child in self._descendants():
            child.close()
        super().close()

    # ---- plumbing

    def _descendants(self) -> list[widgets.Widget]:
        found: list[widgets.Widget] = []
        todo: list[Any] = list(self.children)
        while todo:
            widget = todo.pop()
            if isinstance(widget, widgets.Widget):
                found.append(widget)
                todo.extend(getattr(widget, "children", ()))
        return found

    def _say(self, message: str, *, error: bool = False) -> None:
        self.message.value = _error_html(message) if error else _note_html(message)

    @contextlib.contextmanager
    def _quietly(self) -> Iterator[None]:
        self._quiet += 1
        try:
            yield
        finally:
            self._quiet -= 1

    def _set_watch_button(self, on: bool) -> None:
        with self._quietly():
            self.watch_button.value = on

    def _load(self, farm_id: str | None, queue_id: str | None, job_id: str | None) -> None:
        self.stop_watch()
        self._say(f"Loading job {job_id}…")
        try:
            job = load_job(
                farm_id, queue_id, job_id, client=self._client, cache=self._cache, progress=False
            )
        except DeadlineNbError as error:
            # Show nothing rather than the previous job under the new job's name.
            with self._lock:
                self.job = None
                self.progress.value = ""
                self.refresh_button.disabled = self.watch_button.disabled = True
                self._set_source(schema.empty_frame(schema.SESSION_ACTION_COLUMNS), None)
            self._say(str(error), error=True)
            return
        self._set_job(job)
        self._say("")

    def _set_job(self, job: Job) -> None:
        with self._lock:
            previous, self.job = self.job, job
            self.refresh_button.disabled = self.watch_button.disabled = False
            if previous is None or previous.job_id != job.job_id:  # keep a folder typed in
                self.folder.value = str(Path("exports") / _slug(job.name))
            self.progress.value = html.escape(_progress_text(job))
            self._set_source(job.actions, job.snapshots, job.steps)
        if self._watch_when_loaded:
            self._watch_when_loaded = False
            self.start_watch()

    def _set_source(
        self, frame: pd.DataFrame, snapshots: pd.DataFrame | None, steps: pd.DataFrame | None = None
    ) -> None:
        with self._lock:
            self._source = frame
            self._snapshots = snapshots
            with self._quietly():
                self._set_choices(
                    self.status, "any status", _counts(_string_column(frame, "status"))
                )
                self._set_choices(
                    self.action_type, "any action", _counts(_string_column(frame, "actionType"))
                )
                if self.picker is None:
                    self._set_step_choices(frame, steps)
                self._set_time_range(frame)
            self._redraw()

    def _set_choices(
        self, dropdown: widgets.Dropdown, everything: str, counts: list[tuple[str, int]]
    ) -> None:
        current = dropdown.value
        options = [(everything, ALL), *[(f"{k} ({n:,})", k) for k, n in counts]]
        if current and current not in [v for _, v in options]:
            options.append((f"{current} (0)", current))
        dropdown.options = options
        dropdown.value = current or ALL

    def _set_step_choices(self, frame: pd.DataFrame, steps: pd.DataFrame | None) -> None:
        names: dict[str, str] = {}
        if steps is not None and len(steps) and "stepId" in steps.columns:
            labels = steps["name"] if "name" in steps.columns else steps["stepId"]
            names = {str(i): str(n) for i, n in zip(steps["stepId"], labels, strict=True)}
        ids = _string_column(frame, "stepId")
        if "stepName" in frame.columns:
            pairs = pd.DataFrame({"id": ids, "name": _string_column(frame, "stepName")}).dropna()
            names.update(zip(pairs["id"], pairs["name"], strict=True))
        counts = dict(_counts(ids))
        for step_id in counts:
            names.setdefault(step_id, step_id)
        current = self.step.value if self.step.value in names else ALL
        self.step.options = [
            ("all steps", ALL),
            *[(f"{name} ({counts.get(i, 0):,})", i) for i, name in names.items()],
        ]
        self.step.value = current

    def _set_time_range(self, frame: pd.DataFrame) -> None:
        start, end = self._times(frame)
        slider = self.time_range
        old = slider.value
        full = not old or old == (slider.options[0][1], slider.options[-1][1])
        lo, hi = start.min(), end.max()
        if pd.isna(lo) or pd.isna(hi):
            slider.options = [("–", 0), ("– ", 1)]
            slider.index = (0, 1)
            slider.disabled = True
            self._show_range()
            return
        lo_ns, hi_ns = int(pd.Timestamp(lo).value), int(pd.Timestamp(hi).value)
        span = max(hi_ns - lo_ns, 1)
        fmt = "%m-%d %H:%M" if span >= 3600e9 * 2 else "%m-%d %H:%M:%S"
        points: dict[str, int] = {}
        for ns in np.linspace(lo_ns, hi_ns, _RANGE_STEPS + 1).astype(np.int64):
            points.setdefault(pd.Timestamp(int(ns), tz="UTC").strftime(fmt), int(ns))
        options = list(points.items())
        options[-1] = (options[-1][0], hi_ns)
        if len(options) < 2:
            options = [(options[0][0], lo_ns), (options[0][0] + " ", hi_ns)]
        values = [v for _, v in options]
        slider.disabled = False
        slider.options = options
        if full:
            slider.index = (0, len(options) - 1)
        else:
            first = max(int(np.searchsorted(values, old[0], side="right")) - 1, 0)
            last = min(int(np.searchsorted(values, old[1])), len(values) - 1)
            slider.index = (first, max(first, last))
        self._show_range()

    def _show_range(self, change: Mapping[str, Any] | None = None) -> None:
        slider = self.time_range
        if slider.disabled:
            self.time_label.value = _note_html("no action has started")
            return
        lo, hi = (pd.Timestamp(int(v), tz="UTC") for v in slider.value)
        fmt = "%Y-%m-%d %H:%M:%S"
        same_day = lo.date() == hi.date()
        self.time_label.value = _note_html(
            f"{lo.strftime(fmt)} – {hi.strftime('%H:%M:%S' if same_day else fmt)} UTC"
        )

    @staticmethod
    def _times(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
        if not len(frame) or "startedAt" not in frame.columns:
            empty = pd.Series([], dtype=schema.TIME)
            return empty, empty
        start = frame["startedAt"]
        end = frame["endedAt"].fillna(frame["workerUpdatedAt"]).fillna(start)
        return start, end

    def _filtered(self) -> pd.DataFrame:
        frame = self._source
        if not len(frame):
            return frame
        keep = np.ones(len(frame), dtype=bool)
        for dropdown, column in (
            (self.status, "status"),
            (self.action_type, "actionType"),
            (self.step, "stepId"),
        ):
            if dropdown.value:
                keep &= (_string_column(frame, column) == dropdown.value).fillna(False).to_numpy()
        if self.picker is not None and self.picker.session_id:
            keep &= (
                (_string_column(frame, "sessionId") == self.picker.session_id)
                .fillna(False)
                .to_numpy()
            )
        slider = self.time_range
        values = [v for _, v in slider.options]
        if not slider.disabled and tuple(slider.value) != (values[0], values[-1]):
            lo, hi = (pd.Timestamp(int(v), tz="UTC") for v in slider.value)
            start, end = self._times(frame)
            keep &= (start.notna() & (start <= hi) & (end >= lo)).to_numpy()
        return frame[keep] if not keep.all() else frame

    def _on_filter(self, change: Mapping[str, Any]) -> None:
        if not self._quiet:
            self._redraw()

    def _on_pick(self, change: Mapping[str, Any]) -> None:
        ids = change["new"]
        current = (
            (self.job.farm_id, self.job.queue_id, self.job.job_id) if self.job is not None else None
        )
        wanted = (ids.get("farm_id"), ids.get("queue_id"), ids.get("job_id"))
        if ids.get("job_id") and wanted != current:
            self._load(*wanted)
        else:
            self._redraw()

    def _on_tab(self, change: Mapping[str, Any]) -> None:
        self._draw_visible()

    def _on_refresh(self, button: widgets.Button) -> None:
        try:
            self.refresh()
        except (DeadlineNbError, ValueError) as error:
            self._say(str(error), error=True)

    def _on_export(self, button: widgets.Button) -> None:
        try:
            self.export()
        except (DeadlineNbError, OSError, ValueError) as error:
            self._say(f"Export failed: {error}", error=True)

    def _on_watch(self, change: Mapping[str, Any]) -> None:
        if self._quiet:
            return
        if change["new"]:
            try:
                self.start_watch()
            except ValueError as error:
                self._say(str(error), error=True)
                self._set_watch_button(False)
        else:
            self.stop_watch()
            self._say("Stopped watching.")

    def _watch_loop(self, stop: threading.Event) -> None:
        try:
            while not stop.wait(self.every):
                try:
                    job = self.refresh()
                except DeadlineNbError as error:
                    self._say(f"Watching stopped: {error}", error=True)
                    return
                except Exception as error:  # a thread must not die silently: say why
                    logger.exception("watch: refresh failed")
                    self._say(f"Watching stopped: {type(error).__name__}: {error}", error=True)
                    return
                with self._polled:
                    self.polls += 1
                    self._polled.notify_all()
                if job.finished:
                    self._say(f"{job.name} has finished; watching stopped.")
                    return
        finally:
            self._set_watch_button(False)
            with self._polled:
                self._polled.notify_all()

    # ---- drawing

    def _redraw(self) -> None:
        with self._lock:
            self._stale = set(dict(TABS))
            self._draw_visible()

    def _draw_visible(self) -> None:
        with self._lock:
            index = self.tabs.selected_index
            name = TABS[index or 0][0]
            if name not in self._stale:
                return
            self._stale.discard(name)
            frame = self._filtered()
            output = self.outputs[name]
            if name == "table":
                self.table = _slowest_and_failed(frame)
                failed = self.table[self.table["reason"] == "failed"].drop(columns="reason")
                slowest = self.table[self.table["reason"] != "failed"].drop(columns="reason")
                output.outputs = (
                    _table_output(
                        [
                            (f"Failed actions ({len(failed):,})", failed),
                            (f"Slowest {len(slowest):,} finished task runs", slowest),
                        ]
                    ),
                )
                return
            drawn = self._draw(name, frame)
            if isinstance(drawn, Figure):
                self.figures[name] = drawn
                output.outputs = (_image_output(drawn),)
            else:
                self.figures.pop(name, None)
                output.outputs = (_text_output(drawn),)

    def _draw(self, name: str, frame: pd.DataFrame) -> Figure | str:
        """One chart of ``frame`` on a figure of its own, or the sentence saying why not."""
        try:
            if name == "timeline":
                by_worker = "workerId" in frame.columns and frame["workerId"].notna().any()
                lanes = "worker" if by_worker else "session"
                count = (
                    frame["workerId" if by_worker else "sessionId"].nunique() if len(frame) else 0
                )
                fig = _figure((11.0, min(max(2.0 + 0.16 * count, 4.0), 16.0)))
                plot_timeline(frame, lanes=lanes, ax=fig.add_subplot())
            elif name == "frame_times":
                params = [c for c in frame.columns if c.startswith(schema.PARAMETER_PREFIX)]
                if not params:
                    return "No task parameters in these actions: nothing to put on the x axis."
                column = "param.Frame" if "param.Frame" in params else params[0]
                fig = _figure((11.0, 5.0))
                plot_frame_times(
                    frame, parameter=column[len(schema.PARAMETER_PREFIX) :], ax=fig.add_subplot()
                )
            elif name == "durations":
                fig = _figure((11.0, 5.0))
                plot_durations(frame, ax=fig.add_subplot())
            elif name == "progress":
                # Against the job's task count only when nothing is filtered out.
                whole = self.job if frame is self._source else None
                fig = _progress_figure(frame, self._snapshots, whole)
            else:  # pragma: no cover - TABS and this function change together
                raise ValueError(f"No chart is named {name!r}.")
        except DeadlineNbError as error:
            return str(error)
        except Exception as error:  # one chart that cannot draw must not break the others
            logger.exception("%s: drawing failed", name)
            return f"This chart could not be drawn: {type(error).__name__}: {error}"
        return fig


def _slowest_and_failed(frame: pd.DataFrame, slowest: int = _SLOWEST) -> pd.DataFrame:
    """Failed actions (every type), then the slowest finished task runs, with a reason."""
    columns = [
        c
        for c in (
            "stepName",
            "actionType",
            *[c for c in frame.columns if c.startswith(schema.PARAMETER_PREFIX)],
            "status",
            "duration",
            "processExitCode",
            "progressMessage",
            "workerId",
            "startedAt",
            "sessionActionId",
        )
        if c in frame.columns
    ]
    if not len(frame):
        return pd.DataFrame(columns=["reason", *columns, "exitCodeName"])
    status = _string_column(frame, "status")
    failed = frame[(status == "FAILED").fillna(False).to_numpy()]
    runs = frame[
        ((_string_column(frame, "actionType") == "taskRun") & (status == "SUCCEEDED"))
        .fillna(False)
        .to_numpy()
    ]
    top = runs[runs["duration"].notna().to_numpy()].nlargest(slowest, "duration")
    table = pd.concat(
        [
            failed[columns].assign(reason="failed"),
            top[columns].assign(reason=[f"slowest #{n + 1}" for n in range(len(top))]),
        ],
        ignore_index=True,
    )
    if "processExitCode" in table.columns:
        table["exitCodeName"] = [
            exit_code_name(int(c)) if pd.notna(c) else None for c in table["processExitCode"]
        ]
    if "duration" in table.columns:
        table["duration"] = table["duration"].dt.round("1s")
    return table[["reason", *[c for c in table.columns if c != "reason"]]]


# ---------------------------------------------------------------------------------------------
# entry points


def explore(
    job_or_frame: Job | pd.DataFrame | None = None,
    *,
    client: Any = None,
    cache: CacheArg = True,
    watch: bool = False,
    every: float = schema.HEARTBEAT_SECONDS,
    farm_id: str | None = None,
    queue_id: str | None = None,
    job_id: str | None = None,
) -> Explorer:
    """Explore a job in JupyterLab: pick it, filter it, see it plotted, refresh, export, watch.

    Parameters
    ----------
    job_or_frame
        A :class:`deadline_nb.Job` (from :func:`deadline_nb.load_job`); a session-action frame
        (no picker, no refresh); or ``None`` to pick a job first (with ``client``, else
        :func:`deadline_nb.client`: AWS, as the ``deadline`` CLI is configured).
    client
        A ``deadline`` client: with it, the explorer shows a :class:`JobPicker` (set to the
        job's ids when a job is given) and loads what is picked. For the local farm:
        ``dnb.client(endpoint_url=farm.endpoint_url)``.
    cache
        For jobs picked in the explorer, as in :func:`deadline_nb.load_job`. A given job is
        refreshed with the cache it was loaded with.
    watch
        Start the watch mode as soon as there is a job (see :meth:`Explorer.start_watch`).
    every
        Seconds between polls of the watch mode (15: the worker agent's heartbeat).
    farm_id, queue_id, job_id
        What the picker selects at first (default: the ``deadline`` CLI's defaults).

    Returns
    -------
    Explorer
        A widget: make it the last expression of a cell to show it.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm import JOBS, LocalFarm
    >>> with LocalFarm() as farm:
    ...     client = dnb.client(endpoint_url=farm.endpoint_url)
    ...     failing = farm.job_by_name(JOBS["failing"])
    ...     ex = dnb.explore(client=client, cache=False, farm_id=farm.farm_id,
    ...                      queue_id=failing.queue_id, job_id=failing.job_id)
    ...     ex.job.name, sorted(ex.figures)
    ('sq030_crowd_v007_failing', ['timeline'])
    >>> ex.close()
    """
    return Explorer(
        job_or_frame,
        client=client,
        cache=cache,
        watch=watch,
        every=every,
        farm_id=farm_id,
        queue_id=queue_id,
        job_id=job_id,
    )


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
        raise ValueError(f"The value for `every` must be positive, but {every!r} was passed.")
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
        line = f"{_progress_text(job)} (as of {datetime.now(timezone.utc):%H:%M:%S} UTC)"
        if self.shell is None:
            print(line, flush=True)
            return
        from IPython.display import HTML, Image

        fig = _progress_figure(job.actions, job.snapshots, job)
        self._show("line", HTML(f"<b>{html.escape(line)}</b>"))
        self._show("plot", Image(data=_png(fig), format="png"))

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
