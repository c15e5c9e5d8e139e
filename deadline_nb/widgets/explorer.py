"""The explorer: a job or a frame in one widget: filters, charts, refresh, export, watch.

:func:`explore` puts a :class:`~deadline_nb.widgets.JobPicker` on top (when it has a client), then
filters (status, step, action type, time range) and tabs with the charts of
:mod:`deadline_nb.charts` (timeline, frame times, durations, progress), a table of the slowest
and failed actions, and the job's logs (:class:`~deadline_nb.widgets.logview.LogTab`: an action's
log, and a search over them all, read the first time the tab is used), the job's findings
(:class:`~deadline_nb.widgets.findings.FindingsPanel`: choosing one filters the other tabs to its
actions), a Refresh button
(incremental, through the cache), an Export button, and a watch mode that follows a running job.

This module only composes: jobs come from :mod:`deadline_nb.fetch` (and
:meth:`deadline_nb.Job.refresh`), pictures from the chart registry. Charts are drawn on figures
of their own (``matplotlib.figure.Figure``, not pyplot's), rendered to PNG and put into
``ipywidgets.Output`` widgets: the same in JupyterLab, in papermill, from a background thread,
and with any matplotlib backend. Only the visible tab is drawn; the others are drawn when they
are opened.
"""

from __future__ import annotations

import base64
import contextlib
import html
import logging
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import ipywidgets as widgets
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .. import schema
from ..charts import CHARTS, ChartData, timeline_lanes
from ..errors import DeadlineNbError, bad_argument, bad_argument_type
from ..fetch import CacheArg, Job, load_job
from ..frames.files import write_csv
from ..plots import save_figure
from ..summary import exit_code_name
from .findings import FindingsPanel
from .logview import LogTab
from .picker import JobPicker
from .shared import ALL, DPI, error_html, note_html, png, progress_text, task_counts

if TYPE_CHECKING:
    from mypy_boto3_deadline import DeadlineCloudClient

__all__ = ["EXPLORER_CHARTS", "TABS", "Explorer", "explore"]

logger = logging.getLogger("deadline_nb")

#: The charts of :data:`deadline_nb.charts.CHARTS` the explorer has a tab for, in tab order
#: (exported as PNG and SVG).
EXPLORER_CHARTS: Final[tuple[str, ...]] = ("timeline", "frame_times", "durations", "progress")
#: The Explorer's tabs: attribute-style name, title.
TABS: Final[tuple[tuple[str, str], ...]] = (
    *((name, CHARTS[name].title) for name in EXPLORER_CHARTS),
    ("table", "Slowest & failed"),
    ("log", "Log"),
    ("findings", "Findings"),
)
_SLOWEST: Final = 20  # task runs in the "slowest" table
_RANGE_STEPS: Final = 120  # positions of the time-range slider


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "job"


def _image_output(fig: Figure) -> dict[str, Any]:
    width, height = fig.get_size_inches()
    return {
        "output_type": "display_data",
        "data": {
            "image/png": base64.b64encode(png(fig)).decode("ascii"),
            "text/plain": f"<Figure size {width * DPI:.0f}x{height * DPI:.0f}>",
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
        One ``ipywidgets.Output`` per chart tab of :data:`TABS` and the table's, then the
        :attr:`log_tab`.
    log_tab : LogTab
        The Log tab: the chosen action's log and a search over the job's logs, read the first
        time the tab is opened (``ex.log_tab.show(id)``, ``ex.log_tab.search("text")``).
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
        client: DeadlineCloudClient | None = None,
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
                from ..aws import client as make_client

                client = self._client = make_client()
        else:
            raise bad_argument_type(
                "job_or_frame",
                "a Job (dnb.load_job), a DataFrame of session actions, or None",
                job_or_frame,
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
        self.log_tab = LogTab()
        self.findings_panel = FindingsPanel()
        panels: dict[str, widgets.Widget] = {"log": self.log_tab, "findings": self.findings_panel}
        self.outputs = {name: widgets.Output() for name, _ in TABS if name not in panels}
        self.outputs["log"] = self.log_tab.output
        self.tabs = widgets.Tab(
            children=[panels.get(name, self.outputs.get(name)) for name, _ in TABS],
            titles=[t for _, t in TABS],
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
        # choosing a finding filters the other tabs to its actions
        self.findings_panel.select.observe(self._on_filter, names="value")
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
            for name in EXPLORER_CHARTS:
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
            write_csv(frame, csv)  # a progress message cannot run as a spreadsheet formula
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
                raise bad_argument("every", "be positive", every)
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
        self.message.value = error_html(message) if error else note_html(message)

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
                self.log_tab.set_job(None)
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
            self.log_tab.set_job(job)
            self.refresh_button.disabled = self.watch_button.disabled = False
            if previous is None or previous.job_id != job.job_id:  # keep a folder typed in
                self.folder.value = str(Path("exports") / _slug(job.name))
            self.progress.value = html.escape(progress_text(job))
            self._set_source(job.actions, job.snapshots, job.steps)
            if self.picker is not None:  # a long session list then shows failed ones first
                actions = job.actions
                is_failed = (_string_column(actions, "status") == "FAILED").fillna(False)
                failed = _string_column(actions, "sessionId")[is_failed.to_numpy(bool)]
                self.picker.mark_failed_sessions(failed.dropna().unique())
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
                self._set_findings(frame)
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

    def _set_findings(self, frame: pd.DataFrame) -> None:
        from ..findings import diagnose

        # The job's findings from what it has (no fetch); a frame's from its columns.
        source = self.job if self.job is not None and frame is self.job.actions else frame
        try:
            self.findings_panel.set_findings(diagnose(source))
        except Exception as error:  # the findings must not keep the charts from showing
            logger.exception("findings failed")
            self.findings_panel.detail.value = error_html(
                f"The findings could not be computed: {type(error).__name__}: {error}"
            )

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
            self.time_label.value = note_html("no action has started")
            return
        lo, hi = (pd.Timestamp(int(v), tz="UTC") for v in slider.value)
        fmt = "%Y-%m-%d %H:%M:%S"
        same_day = lo.date() == hi.date()
        self.time_label.value = note_html(
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
        chosen = self.findings_panel.mask(frame)
        if chosen is not None:
            keep &= chosen
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
            if name == "findings":  # a panel of its own, set with the source
                return
            frame = self._filtered()
            if name == "log":  # the logs are read here, the first time the tab is opened
                self.log_tab.set_actions(frame)
                self.log_tab.draw()
                return
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
        chart = CHARTS[name]
        # Against the job's task count only when nothing is filtered out.
        whole = self.job if frame is self._source else None
        data = ChartData(
            frame,
            self._snapshots,
            finished=self.job is not None and self.job.finished,
            tasks=(sum(task_counts(whole).values()) or None) if whole is not None else None,
            lanes=timeline_lanes(frame),
        )
        try:
            fig = chart.on_screen(data)
        except DeadlineNbError as error:
            return str(error)
        except Exception as error:  # one chart that cannot draw must not break the others
            logger.exception("%s: drawing failed", name)
            return f"This chart could not be drawn: {type(error).__name__}: {error}"
        return chart.missing_selection if fig is None else fig


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
    client: DeadlineCloudClient | None = None,
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
