"""The job picker: farm, then queue, then job, then step and session, by name.

A TD should not copy 40-character ids between browser tabs. :class:`JobPicker` offers the farms,
queues and jobs they can see, by name (jobs newest first, with status, submitter and time), then
the job's steps and sessions. Lists come from :mod:`deadline_nb.fetch`; each is loaded when it is
needed. The explorer (:mod:`deadline_nb.widgets.explorer`) puts one on top of its filters.
"""

from __future__ import annotations

import contextlib
import datetime
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final, TypeVar

import ipywidgets as widgets
import traitlets

from .. import schema
from ..errors import DeadlineNbError
from ..fetch import (
    fetch_job,
    fetch_sessions,
    fetch_steps,
    job_filter,
    list_farms,
    list_queues,
    search_jobs,
)
from ..fetch.resources import JOB_PAGE, SEARCH_LAG_SECONDS, JobPage
from . import shared
from .shared import ALL, error_html, note_html, time_text

if TYPE_CHECKING:
    from mypy_boto3_deadline import DeadlineCloudClient

__all__ = ["MORE", "SESSION_CHOICES", "JobPicker", "session_choices"]

_ID_KEYS: Final = ("farm_id", "queue_id", "job_id", "step_id", "session_id")

#: The job dropdown's last entry when the search has more jobs: choosing it loads the next page.
MORE: Final = "\x00more"
#: Sessions a job's session dropdown lists at most: failed ones first, then the newest.
SESSION_CHOICES: Final = 50
#: Seconds of quiet in the filter box before it searches (one call, not one per keystroke).
DEBOUNCE_SECONDS: Final = 0.4

# A filter word "Name<op>value" is a job parameter condition; "job-<32 hex>" a job id.
_PARAMETER_WORD: Final = re.compile(r"^([A-Za-z_][\w.]*)(>=|<=|!=|==|=|>|<)(.+)$")
_JOB_ID: Final = re.compile(r"^job-[0-9a-f]{32}$")
_SINCE: Final = (
    ("any time", ""),
    ("last 24 hours", "1"),
    ("last 7 days", "7"),
    ("last 30 days", "30"),
    ("last 120 days", "120"),
)

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

    Farms are listed when the picker is made; a farm's queues when it is chosen, a queue's
    newest 100 jobs (one SearchJobs call, sorted on the service; "name · status · submitter ·
    time") when it is chosen, with a "more…" entry for the next 100; a job's steps and sessions
    when it is chosen (a long session list shows its failed sessions first, then the newest).
    While a list loads, its dropdown says so and the line under the picker names what is
    loading. A list that fails (a queue the caller may not read) says why in that line, in one
    sentence, and leaves the rest usable.

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
        Searches the queue on the service (SearchJobs) as the user stops typing: words of the
        name, a status (``failed``), job parameter conditions (``Shot=sq010_sh020``,
        ``Version>=12``); a job id is looked up directly (GetJob).
    status, submitter, since : ipywidgets.Dropdown
        Narrow the search to a status, a submitter (those of the jobs listed so far), a time
        window.
    refresh : ipywidgets.Button
        Searches again: SearchJobs may not show jobs submitted in the last minutes yet.
    hint : ipywidgets.HTML
        How many jobs the list shows of how many, and that recent jobs may be missing.
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
            placeholder="name words, a status, Param=value, Param>=n, or a job id",
            continuous_update=True,
            layout=wide,
        )
        narrow = widgets.Layout(width="16em")
        self.status = widgets.Dropdown(
            description="Status",
            options=[("any status", ALL), *[(s, s) for s in schema.TASK_RUN_STATUSES]],
            layout=narrow,
        )
        self.submitter = widgets.Dropdown(
            description="By", options=[("anyone", ALL)], layout=narrow
        )
        self.since = widgets.Dropdown(description="Since", options=_SINCE, layout=narrow)
        self.refresh = widgets.Button(
            description="Refresh",
            icon="refresh",
            tooltip="Search again: jobs submitted in the last minutes may be missing",
            layout=widgets.Layout(width="7em"),
        )
        self.hint = widgets.HTML()
        self.step = widgets.Dropdown(description="Step", layout=wide)
        self.session = widgets.Dropdown(description="Session", layout=wide)
        self.message = widgets.HTML()
        #: Seconds of quiet in the filter box before it searches; 0 searches at each change.
        self.debounce = DEBOUNCE_SECONDS
        self._jobs: list[dict[str, Any]] = []
        self._page: JobPage | None = None
        self._queue_total: int | None = None
        self._submitters: dict[str, str] = {}
        self._sessions: list[dict[str, Any]] = []
        self._failed_sessions: set[str] = set()
        self._timer: threading.Timer | None = None
        self._search_lock = threading.RLock()
        self._quiet = 0
        super().__init__(
            [
                widgets.HBox([self.farm, self.queue]),
                widgets.HBox([self.filter, self.refresh]),
                widgets.HBox([self.status, self.submitter, self.since]),
                self.job,
                self.hint,
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
        for dropdown in (self.status, self.submitter, self.since):
            dropdown.observe(self._on_criteria, names="value")
        self.refresh.on_click(lambda _: self.search())
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
            if not listed and dropdown is self.job and _JOB_ID.match(value):
                listed = self._get_job(value)
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
        self._page = None
        self._queue_total = None
        self._submitters = {}
        self._clear_job_details()
        self.hint.value = ""
        farm_id, queue_id = self.farm.value, self.queue.value
        if not (farm_id and queue_id):
            self._set_options(self.job, [("— choose a queue —", ALL)])
            return
        self.search()

    # ---- the search

    def criteria(self) -> dict[str, Any] | None:
        """Return the SearchJobs ``filterExpressions`` of the filter box and dropdowns.

        Returns
        -------
        dict or None
            None when nothing narrows the list.

        Examples
        --------
        >>> import deadline_nb as dnb
        >>> from deadline_nb.localfarm import LocalFarm
        >>> with LocalFarm() as farm:
        ...     picker = dnb.JobPicker(farm.client())
        ...     picker.filter.value = "sq030 failed Version>=2"
        ...     [next(iter(f)) for f in picker.criteria()["filters"]]
        ['searchTermFilter', 'stringFilter', 'parameterFilter']
        """
        names: list[str] = []
        statuses: list[str] = []
        parameters: dict[str, tuple[str, str]] = {}
        for word in self.filter.value.split():
            parameter = _PARAMETER_WORD.match(word)
            if parameter:
                parameters[parameter[1]] = (parameter[2], parameter[3])
            elif word.upper() in schema.TASK_RUN_STATUSES:
                statuses.append(word.upper())
            elif not _JOB_ID.match(word):
                names.append(word)
        if self.status.value:
            statuses.append(self.status.value)
        since = None
        if self.since.value:
            now = datetime.datetime.now(datetime.timezone.utc)
            since = now - datetime.timedelta(days=int(self.since.value))
        return job_filter(
            name=" ".join(names) or None,
            submitter=self.submitter.value or None,
            status=sorted(set(statuses)) or None,
            created_after=since,
            parameters=parameters or None,
        )

    def search(self) -> None:
        """Search the chosen queue again with the current filters: its newest 100 jobs.

        Examples
        --------
        >>> import deadline_nb as dnb
        >>> from deadline_nb.localfarm import JOBS, LocalFarm
        >>> with LocalFarm() as farm:
        ...     picker = dnb.JobPicker(farm.client(), queue_id=farm.job_by_name("failing").queue_id)
        ...     picker.status.value = "CANCELED"
        ...     [label.split(" · ")[0] for label, _ in picker.job.options[1:]]
        ['sq040_fx_v002_canceled']
        """
        self._cancel_timer()
        farm_id, queue_id = self.farm.value, self.queue.value
        if not (farm_id and queue_id):
            return
        typed = [w for w in self.filter.value.split() if _JOB_ID.match(w)]
        try:
            criteria = self.criteria()
        except ValueError as error:
            self._say(str(error), error=True)
            return
        with self._search_lock:
            what = f"jobs of {self.queue.label or queue_id}"
            page = self._list(
                self.job,
                what,
                lambda: search_jobs(farm_id, queue_id, filters=criteria, client=self.client),
            )
            if page is None:
                self._jobs, self._page = [], None
                return
            if criteria is None:
                self._queue_total = page.total
            self._page = page
            self._jobs = list(page.jobs)
            for job_id in typed:  # a job id typed in is always found (GetJob), listed first
                found = self._get_job(job_id)
                self._jobs = found + [j for j in self._jobs if j["jobId"] != job_id]
            self._learn_submitters(self._jobs)
            self._show_jobs(typed[0] if typed else None)

    def more(self) -> None:
        """List the next 100 jobs of the search (what the "more…" entry does).

        Examples
        --------
        >>> import deadline_nb as dnb
        >>> from deadline_nb.localfarm import LocalFarm
        >>> with LocalFarm(queue_jobs=250) as farm:
        ...     picker = dnb.JobPicker(farm.client(), queue_id=farm.job_by_name("render").queue_id)
        ...     before = len(picker.job.options)
        ...     picker.more()
        ...     before, len(picker.job.options)
        (102, 202)
        """
        page = self._page
        farm_id, queue_id = self.farm.value, self.queue.value
        if page is None or page.next_offset is None or not (farm_id and queue_id):
            return
        offset = page.next_offset
        criteria = self.criteria()
        try:
            following = search_jobs(
                farm_id, queue_id, filters=criteria, offset=offset, client=self.client
            )
        except DeadlineNbError as error:
            self._say(str(error), error=True)
            return
        with self._search_lock:
            seen = {j["jobId"] for j in self._jobs}
            self._jobs += [j for j in following.jobs if j["jobId"] not in seen]
            self._page = following
            self._learn_submitters(following.jobs)
            self._show_jobs(None)

    def flush(self) -> None:
        """Run a search the filter box is waiting to send now (for code and tests).

        Examples
        --------
        >>> import deadline_nb as dnb
        >>> from deadline_nb.localfarm import LocalFarm
        >>> with LocalFarm() as farm:
        ...     picker = dnb.JobPicker(farm.client(), queue_id=farm.job_by_name("failing").queue_id)
        ...     picker.filter.value = "crowd"
        ...     picker.flush()
        ...     len(picker.job.options)
        2
        """
        timer = self._timer
        if timer is not None:
            self._cancel_timer()
            self.search()

    def _cancel_timer(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()

    def _get_job(self, job_id: str) -> list[dict[str, Any]]:
        farm_id, queue_id = self.farm.value, self.queue.value
        if not (farm_id and queue_id):
            return []
        try:
            return [fetch_job(farm_id, queue_id, job_id, client=self.client)]
        except DeadlineNbError:
            return []  # the job's own lists say why, when it is chosen

    def _learn_submitters(self, jobs: Iterable[Mapping[str, Any]]) -> None:
        """Offer the submitters of the jobs seen so far (``createdBy`` is an opaque id)."""
        new = {str(j["createdBy"]) for j in jobs if j.get("createdBy")} - set(self._submitters)
        if not new:
            return
        for who in new:
            self._submitters[who] = _who(who)
        options = sorted(((label, who) for who, label in self._submitters.items()))
        self._set_options(self.submitter, [("anyone", ALL), *options], self.submitter.value or ALL)

    def _show_jobs(self, select: str | None) -> None:
        page = self._page
        total = page.total if page is not None else len(self._jobs)
        shown = len(self._jobs)
        filtered = self.criteria() is not None
        everything = self._queue_total
        if filtered:
            of = f" of {everything:,}" if everything is not None else ""
            head = f"— {total:,}{of} jobs match (newest first) —"
        else:
            head = f"— choose one of {total:,} jobs (newest first) —"
        options = [(head, ALL), *[(self.job_label(j), str(j["jobId"])) for j in self._jobs]]
        if page is not None and page.more:
            options.append((f"more… ({shown:,} of {total:,} shown; the next {JOB_PAGE})", MORE))
        before = self.job.value if self.job.value != MORE else ALL
        self._set_options(self.job, options, select or before)
        lag = SEARCH_LAG_SECONDS // 60
        self.hint.value = note_html(
            f"Showing {shown:,} of {total:,}. Jobs submitted in the last {lag} minutes may be "
            "missing from a search: Refresh, or type the job id."
        )
        if select or self.job.value != before:  # a job typed in, or the chosen one filtered out
            self._job_changed()

    def _on_filter(self, change: Mapping[str, Any]) -> None:
        if not self.queue.value:
            return
        # Searching at each keystroke would send a call per letter: wait for a pause.
        self._cancel_timer()
        if self.debounce <= 0:
            self.search()
            self._update_value()
            return
        timer = threading.Timer(self.debounce, self._debounced)
        timer.daemon = True
        self._timer = timer
        timer.start()

    def _debounced(self) -> None:
        if self._timer is None:
            return
        self._timer = None
        self.search()
        self._update_value()

    def _on_criteria(self, change: Mapping[str, Any]) -> None:
        if not self._quiet and self.queue.value:
            self.search()
            self._update_value()

    def _on_job(self, change: Mapping[str, Any]) -> None:
        if self._quiet:
            return
        if change["new"] == MORE:
            previous = change["old"] if change["old"] != MORE else ALL
            with self._quietly():
                self.job.value = previous
            self.more()
            return
        self._job_changed()
        self._update_value()

    def _clear_job_details(self) -> None:
        self._sessions = []
        self._failed_sessions = set()
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
            self._sessions = sessions
            self._show_sessions()

    def mark_failed_sessions(self, session_ids: Iterable[str]) -> None:
        """Name the job's sessions that had a failed action: a long list shows them first.

        ListSessions does not say which sessions failed; the explorer knows once the job's
        actions are loaded, and tells the picker.

        Parameters
        ----------
        session_ids
            The failed sessions' ids.

        Examples
        --------
        >>> import deadline_nb as dnb
        >>> from deadline_nb.localfarm import LocalFarm
        >>> with LocalFarm() as farm:
        ...     j = farm.job_by_name("failing")
        ...     picker = dnb.JobPicker(farm.client(), queue_id=j.queue_id, job_id=j.job_id)
        ...     failed = picker.session.options[-1][1]
        ...     picker.mark_failed_sessions([failed])
        ...     first_label, first = picker.session.options[1]
        >>> first == failed, first_label.startswith("FAILED · worker-")
        (True, True)
        """
        self._failed_sessions = set(session_ids)
        if self._sessions:
            self._show_sessions()

    def _show_sessions(self) -> None:
        options, head = session_choices(self._sessions, self._failed_sessions)
        self._set_options(self.session, [(head, ALL), *options], self.session.value or ALL)

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


def session_choices(
    sessions: list[dict[str, Any]], failed: Iterable[str] = (), *, limit: int = SESSION_CHOICES
) -> tuple[list[tuple[str, str]], str]:
    """Return the options of a session dropdown, and its first line ("all sessions").

    Up to ``limit`` sessions are all listed, by start time. A longer list shows its failed
    sessions first, then the newest, ``limit`` in all, and says how many it leaves out: a
    dropdown of 5,000 entries helps nobody; a session id set in code is still chosen.

    Parameters
    ----------
    sessions
        ListSessions summaries.
    failed
        Ids of the sessions with a failed action.
    limit
        The most entries.

    Returns
    -------
    options : list of (label, session id)
    head : str

    Examples
    --------
    >>> from datetime import datetime, timedelta, timezone
    >>> from deadline_nb.widgets.picker import session_choices
    >>> t0 = datetime(2026, 3, 2, tzinfo=timezone.utc)
    >>> sessions = [{"sessionId": f"session-{i}", "workerId": f"worker-{i}",
    ...              "startedAt": t0 + timedelta(minutes=i)} for i in range(200)]
    >>> options, head = session_choices(sessions, ["session-3"], limit=3)
    >>> head, [value for _, value in options]
    ('all sessions (200; 1 failed + 2 newest shown)', ['session-3', 'session-199', 'session-198'])
    """
    failed_ids = set(failed)
    ordered = sorted(sessions, key=lambda s: (str(s.get("startedAt")), s["sessionId"]))

    def label(s: Mapping[str, Any]) -> str:
        text = JobPicker.session_label(s)
        return f"FAILED · {text}" if s["sessionId"] in failed_ids else text

    if len(ordered) <= limit:
        failed_first = [s for s in ordered if s["sessionId"] in failed_ids]
        rest = [s for s in ordered if s["sessionId"] not in failed_ids]
        chosen = failed_first + rest
        return [(label(s), str(s["sessionId"])) for s in chosen], f"all sessions ({len(ordered)})"
    failed_first = [s for s in reversed(ordered) if s["sessionId"] in failed_ids][:limit]
    newest = [s for s in reversed(ordered) if s["sessionId"] not in failed_ids]
    newest = newest[: limit - len(failed_first)]
    head = (
        f"all sessions ({len(ordered):,}; {len(failed_first)} failed + {len(newest)} newest shown)"
    )
    return [(label(s), str(s["sessionId"])) for s in failed_first + newest], head
