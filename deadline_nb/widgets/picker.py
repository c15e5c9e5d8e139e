"""The job picker: farm, then queue, then job, then step and session, by name.

A TD should not copy 40-character ids between browser tabs. :class:`JobPicker` offers the farms,
queues and jobs they can see, by name (jobs newest first, with status, submitter and time), then
the job's steps and sessions. Lists come from :mod:`deadline_nb.fetch`; each is loaded when it is
needed. The explorer (:mod:`deadline_nb.widgets.explorer`) puts one on top of its filters.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final, TypeVar

import ipywidgets as widgets
import traitlets

from ..errors import DeadlineNbError
from ..fetch import fetch_sessions, fetch_steps, list_farms, list_jobs, list_queues
from . import shared
from .shared import ALL, error_html, note_html, time_text

if TYPE_CHECKING:
    from mypy_boto3_deadline import DeadlineCloudClient

__all__ = ["JobPicker"]

_ID_KEYS: Final = ("farm_id", "queue_id", "job_id", "step_id", "session_id")

_T = TypeVar("_T")


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
        client: DeadlineCloudClient | None = None,
        *,
        farm_id: str | None = None,
        queue_id: str | None = None,
        job_id: str | None = None,
        step_id: str | None = None,
        session_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        if client is None:
            from ..aws import client as make_client

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
        if not any(given) and not shared.client_is_local(client):
            from ..aws import config_defaults

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
        self.message.value = error_html(message) if error else note_html(message)

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
                f"{time_text(job.get('createdAt'))} UTC",
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
        start = time_text(session.get("startedAt"), "%m-%d %H:%M")
        end = time_text(session.get("endedAt"), "%H:%M") if session.get("endedAt") else "…"
        return " · ".join(
            [
                str(session.get("workerId") or session["sessionId"]),
                f"{start}–{end}",
                str(session.get("lifecycleStatus") or "?"),
            ]
        )
