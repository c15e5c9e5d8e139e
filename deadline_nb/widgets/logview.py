"""The explorer's Log tab: one action's log, and a search over the whole job's logs.

:class:`LogTab` shows the log of the action chosen in its dropdown (the explorer's filtered
actions, failed ones first): its last lines by default, every line on request, in a monospace
box that scrolls, with the line a failed action ends with marked
(:func:`deadline_nb.last_error_line`).
Under it, a search box runs :func:`deadline_nb.grep_log_frame` over the job's logs (plain text or
a regular expression) and lists the matching lines with their action, step, task parameters and
worker (:func:`deadline_nb.annotate_log_lines`); choosing one shows its action's log around it.

The logs are the job's (:attr:`deadline_nb.Job.logs`), read the first time the tab is used,
never when the explorer opens; while they are read the tab says so (and a progress bar the read
shows lands in the tab). An error reading them (a role that may not read CloudWatch Logs) is one
sentence in the tab; the rest of the explorer is unaffected.

Like the rest of the explorer, this only composes: the lines come from the job, the frames and
searches from :mod:`deadline_nb.frames.logs`.
"""

from __future__ import annotations

import contextlib
import html
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import ipywidgets as widgets
import pandas as pd

from .. import schema
from ..errors import DeadlineNbError
from ..frames.logs import annotate_log_lines, grep_log_frame, last_error_line
from ..text import environment_name, printable_text, short_id
from .shared import ALL, error_html, note_html

if TYPE_CHECKING:
    from ..fetch import Job

__all__ = ["LOG_TAIL", "LogTab"]

#: Lines of an action's log shown unless "all lines" is ticked: its last ones.
LOG_TAIL: Final = 200
#: Lines shown at most with "all lines" (a browser struggles with more in one box).
MAX_LINES: Final = 50_000
#: Actions offered in the dropdown at most (failed first); the filters narrow the rest.
MAX_CHOICES: Final = 500
#: Matching lines listed at most; :attr:`LogTab.matches` has them all.
MAX_RESULTS: Final = 500
#: Characters of one line shown; a longer line is cut and says how much was left out.
LINE_CHARS: Final = 2_000
# Lines shown before a line chosen among the search results (the rest of the window after it).
_CONTEXT: Final = 10
_RESULT_CHARS: Final = 140
_NO_JOB: Final = "The logs need a job (dnb.load_job): this explorer shows a frame of actions."

_BOX: Final = (
    "max-height:32em;overflow:auto;border:1px solid #d9dde5;border-radius:4px;"
    "background:#f6f7f9;margin:4px 0;"
)
# A column-reverse box starts scrolled to its end: a tail opens at its last line, with no script.
_BOTTOM: Final = "display:flex;flex-direction:column-reverse;"
# The box scrolls, not the pre (JupyterLab gives a pre overflow:auto, which would let the flex
# box shrink it to its own height and scroll it from its top).
_PRE: Final = (
    "margin:0;padding:6px 10px;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;"
    "font-size:12px;line-height:1.4;white-space:pre;flex:none;overflow:visible"
)
_NUMBER: Final = (
    "color:#5b6475;display:inline-block;min-width:6ch;padding-right:1ch;text-align:right"
)
_ERROR: Final = "background:#fde7e5;color:#b42318;font-weight:600"
_FOCUS: Final = "background:#fff3bf"
_MUTED: Final = "color:#5b6475;font-style:italic"


def _text(value: Any) -> str:
    """A cell as text; missing (None, NA, NaN, NaT) as empty."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return str(value)


def _line_html(number: int, text: str, style: str = "") -> str:
    cut = ""
    if len(text) > LINE_CHARS:
        cut = f'<span style="{_MUTED}"> … {len(text) - LINE_CHARS:,} more characters</span>'
        text = text[:LINE_CHARS]
    # A carriage return (a progress bar redrawn in place) as a sign: HTML would break the line.
    body = html.escape(printable_text(text), quote=False).replace("\r", "\u240d") + cut
    if style:
        body = f'<span style="{style}">{body}</span>'
    return f'<span style="{_NUMBER}">{number:,}</span>{body}'


def _parameters(row: Mapping[str, Any], columns: Sequence[str]) -> str:
    parts = []
    for column in columns:
        value = row.get(column)
        if value is not None and not pd.isna(value):
            parts.append(f"{column[len(schema.PARAMETER_PREFIX) :]}={value}")
    return ", ".join(parts)


def _action_label(row: Mapping[str, Any], params: Sequence[str]) -> str:
    """``FAILED · Crowd Sim · taskRun · Frame=8 · worker-da12c917 · #4``."""
    environment = environment_name(_text(row.get("environmentId")))
    what = _text(row.get("stepName")) or environment or _text(row.get("stepId"))
    action_id = _text(row.get("sessionActionId"))
    parts = [
        _text(row.get("status")),
        what,
        _text(row.get("actionType")),
        _parameters(row, params),
        short_id(_text(row.get("workerId"))),
        f"{short_id(schema.session_of(action_id))} #{action_id.rsplit('-', 1)[-1]}",
    ]
    return " · ".join(p for p in parts if p)


class LogTab(widgets.VBox):
    """The Log tab of :class:`~deadline_nb.widgets.Explorer`: an action's log, and a search.

    The explorer makes one (``ex.log_tab``) and tells it its job and its filtered actions; the
    logs are read the first time the tab is opened or searched. Everything the controls do is
    a method too.

    Attributes
    ----------
    job : Job or None
        The job whose logs are shown.
    logs : pandas.DataFrame or None
        The job's log lines once read (``job.logs``), else ``None``.
    matches : pandas.DataFrame
        The last search's matching lines, annotated with their action's step, task, status,
        worker and task parameters (:func:`deadline_nb.annotate_log_lines`).
    action : ipywidgets.Dropdown
        The action whose log is shown (a session action id).
    all_lines : ipywidgets.Checkbox
        Show every line of the action, not only its last :data:`LOG_TAIL`.
    view : ipywidgets.HTML
        The log, in a monospace box that scrolls.
    query, regex, case, search_button : ipywidgets widgets
        The search: text (or a regular expression when ``regex`` is ticked), matched
        case-sensitively when ``case`` is ticked.
    results : ipywidgets.Select
        The matching lines; choosing one shows its action's log around it.
    message : ipywidgets.HTML
        What the tab is doing (reading the logs) or why it cannot (one sentence).
    output : ipywidgets.Output
        Where a progress bar shown while the logs are read goes.

    Examples
    --------
    >>> tab = LogTab()
    >>> tab.draw()  # no job: the tab says so
    >>> "need a job" in tab.message.value
    True
    >>> tab.close()
    """

    def __init__(self, **kwargs: Any) -> None:
        self.job: Job | None = None
        self.logs: pd.DataFrame | None = None
        self.matches = pd.DataFrame()
        self._actions = schema.empty_frame(schema.SESSION_ACTION_COLUMNS)
        self._focus: int | None = None  # the lineIndex of a search result being shown
        self._quiet = 0
        self._lock = threading.RLock()

        self.message = widgets.HTML()
        self.output = widgets.Output()
        self.action = widgets.Dropdown(
            description="Log of",
            options=[("(no action)", ALL)],
            layout=widgets.Layout(width="60em"),
        )
        self.all_lines = widgets.Checkbox(
            description=f"all lines (else the last {LOG_TAIL})", indent=False
        )
        self.view = widgets.HTML()
        self.query = widgets.Text(
            description="Search",
            placeholder="text in the job's logs, e.g. License checkout",
            continuous_update=False,  # search on Enter (or leaving the box), not on each key
            layout=widgets.Layout(width="36em"),
        )
        self.regex = widgets.Checkbox(description="regular expression", indent=False)
        self.case = widgets.Checkbox(description="match case", indent=False)
        self.search_button = widgets.Button(description="Search", icon="search")
        self.summary = widgets.HTML()
        self.results = widgets.Select(options=[], rows=8, layout=widgets.Layout(width="100%"))
        super().__init__(
            [
                self.message,
                self.output,
                widgets.HBox([self.action, self.all_lines]),
                self.view,
                widgets.HBox([self.query, self.regex, self.case, self.search_button]),
                self.summary,
                self.results,
            ],
            **kwargs,
        )
        self.action.observe(self._on_action, names="value")
        self.all_lines.observe(self._on_all_lines, names="value")
        self.query.observe(self._on_query, names="value")
        self.search_button.on_click(self._on_search)
        self.results.observe(self._on_result, names="value")

    # ---- what the explorer calls

    def set_job(self, job: Job | None) -> None:
        """Show ``job``'s logs from now on (read when next shown); another job's search is cleared.

        Parameters
        ----------
        job
            The explorer's job, or ``None`` (a frame).

        Examples
        --------
        >>> tab = LogTab()
        >>> tab.set_job(None)
        >>> tab.logs is None
        True
        """
        with self._lock:
            if job is self.job:
                return
            same = job is not None and self.job is not None and job.job_id == self.job.job_id
            self.job = job
            self.logs = None  # read again when next shown: a running job's logs grow
            if same:
                # A refresh (or a watch poll) of the same job: the search results stay; their
                # lines keep their place, since a session's log only grows at its end.
                return
            self._focus = None
            self.matches = pd.DataFrame()
            with self._quietly():
                self.results.options = []
            self.summary.value = ""

    def set_actions(self, actions: pd.DataFrame) -> None:
        """The actions to choose from: the explorer's filtered actions.

        Parameters
        ----------
        actions
            A session-action frame.

        Examples
        --------
        >>> import deadline_nb as dnb
        >>> tab = LogTab()
        >>> tab.set_actions(dnb.session_action_frame([]))
        """
        with self._lock:
            self._actions = actions

    def draw(self) -> None:
        """Read the logs if they are not yet (errors as one sentence), then show the chosen log.

        Examples
        --------
        >>> tab = LogTab()
        >>> tab.draw()
        >>> "need a job" in tab.message.value
        True
        """
        with self._lock:
            if self._ensure_logs() is None:
                return
            self._set_choices()
            self._render()

    def load(self) -> pd.DataFrame:
        """The job's log lines, read now if they are not yet (``job.logs``).

        Returns
        -------
        pandas.DataFrame
            A :func:`deadline_nb.log_frame` of every session of the job.

        Raises
        ------
        ValueError
            When there is no job (the explorer shows a frame).
        AccessDeniedError, AwsError
            As ``job.logs``; :meth:`draw` and the tab's controls show them in the tab instead.

        Examples
        --------
        >>> tab = LogTab()
        >>> tab.load()
        Traceback (most recent call last):
        ...
        ValueError: The logs need a job (dnb.load_job): this explorer shows a frame of actions.
        """
        with self._lock:
            job = self.job
            if job is None:
                raise ValueError(_NO_JOB)
            if self.logs is not None:
                return self.logs
            sessions = job.actions["sessionId"].nunique() if len(job.actions) else 0
            self.message.value = note_html(
                f"Reading the logs of {job.name} ({sessions:,} session"
                f"{'s' if sessions != 1 else ''})…"
            )
            # A progress bar that reading the logs shows goes into the tab (only from the
            # kernel's own thread: an Output widget does not capture other threads reliably).
            capture = threading.current_thread() is threading.main_thread()
            try:
                if capture:
                    with self.output:
                        logs = job.logs
                else:
                    logs = job.logs
            except DeadlineNbError as error:
                self.message.value = error_html(str(error))
                raise
            finally:
                self.output.outputs = ()  # the progress bar has done its job
            self.logs = logs
            read = logs["sessionId"].nunique() if len(logs) else 0
            self.message.value = note_html(
                f"{len(logs):,} log lines from {read:,} session{'s' if read != 1 else ''}."
            )
            return logs

    def show(
        self,
        session_action_id: str,
        *,
        all_lines: bool | None = None,
        line: int | None = None,
    ) -> None:
        """Show one action's log.

        Parameters
        ----------
        session_action_id
            The action (any action of the job, also one the filters hide).
        all_lines
            Every line (up to :data:`MAX_LINES`) rather than the last :data:`LOG_TAIL`;
            default: as the checkbox says (and the checkbox follows).
        line
            A line to show and mark (its ``lineIndex`` in the log frame), as choosing a search
            result does; the window starts a few lines above it.

        Raises
        ------
        ValueError, AccessDeniedError, AwsError
            As :meth:`load`.

        Examples
        --------
        >>> tab = LogTab()
        >>> tab.show("sessionaction-" + "0" * 32 + "-0")
        Traceback (most recent call last):
        ...
        ValueError: The logs need a job (dnb.load_job): this explorer shows a frame of actions.
        """
        with self._lock:
            self.load()
            self._focus = line
            with self._quietly():
                if all_lines is not None:
                    self.all_lines.value = bool(all_lines)
                self._set_choices(also=session_action_id)
                self.action.value = session_action_id
            self._render()

    def search(
        self, pattern: str, *, regex: bool | None = None, case: bool | None = None
    ) -> pd.DataFrame:
        """Find the lines of the job's logs that match ``pattern``, and list them in the tab.

        Parameters
        ----------
        pattern
            Text to find, or a regular expression (RE2 syntax) with ``regex=True``.
        regex, case
            Whether ``pattern`` is a regular expression, and whether case matters; default:
            as the tab's checkboxes say (and the checkboxes follow).

        Returns
        -------
        pandas.DataFrame
            The matching lines with their action's step, task, status, exit code, worker and
            task parameters (also :attr:`matches`).

        Raises
        ------
        ValueError
            When ``pattern`` is not a regular expression RE2 accepts, or there is no job.
        AccessDeniedError, AwsError
            As :meth:`load`.

        Examples
        --------
        >>> tab = LogTab()
        >>> tab.search("License")
        Traceback (most recent call last):
        ...
        ValueError: The logs need a job (dnb.load_job): this explorer shows a frame of actions.
        """
        with self._lock:
            with self._quietly():
                if regex is not None:
                    self.regex.value = bool(regex)
                if case is not None:
                    self.case.value = bool(case)
                if self.query.value != pattern:
                    self.query.value = pattern
            logs = self.load()
            job = self.job
            assert job is not None  # load() checked
            found = grep_log_frame(logs, pattern, regex=self.regex.value, case=self.case.value)
            self.matches = annotate_log_lines(found, job.actions, sessions=job.sessions)
            self._list_matches(pattern)
            return self.matches

    # ---- controls

    def _on_action(self, change: Mapping[str, Any]) -> None:
        if self._quiet:
            return
        with self._lock:
            self._focus = None  # chosen by hand: its tail, not a search result's place
            self._render()

    def _on_all_lines(self, change: Mapping[str, Any]) -> None:
        if not self._quiet:
            self._render()

    def _on_query(self, change: Mapping[str, Any]) -> None:
        if not self._quiet and change["new"]:
            self._search_from_box()

    def _on_search(self, button: widgets.Button) -> None:
        self._search_from_box()

    def _search_from_box(self) -> None:
        pattern = self.query.value
        if not pattern:
            self.summary.value = note_html("Type what to look for first.")
            return
        try:
            self.search(pattern)
        except (DeadlineNbError, ValueError) as error:
            self.summary.value = error_html(str(error))

    def _on_result(self, change: Mapping[str, Any]) -> None:
        if self._quiet or change["new"] is None:
            return
        row = self.matches.loc[change["new"]]
        action_id = row.get("sessionActionId")
        if action_id is None or pd.isna(action_id):
            self.view.value = note_html(
                "This line is outside every action: the agent wrote it between actions."
            )
            return
        try:
            self.show(str(action_id), line=int(row["lineIndex"]))
        except (DeadlineNbError, ValueError) as error:
            self.message.value = error_html(str(error))

    # ---- plumbing

    @contextlib.contextmanager
    def _quietly(self) -> Iterator[None]:
        # While in it, the tab's own changes to its controls do not run their callbacks.
        self._quiet += 1
        try:
            yield
        finally:
            self._quiet -= 1

    def _ensure_logs(self) -> pd.DataFrame | None:
        """The logs, read if need be; None (and the reason in the tab) when they cannot be."""
        if self.job is None:
            self.message.value = note_html(_NO_JOB)
            self.view.value = ""
            return None
        try:
            return self.load()
        except DeadlineNbError as error:
            self.message.value = error_html(str(error))
            self.view.value = ""
            return None

    def _set_choices(self, also: str | None = None) -> None:
        """The dropdown's actions: failed ones first, then the rest as they started."""
        frame = self._actions
        started = frame[frame["startedAt"].notna().to_numpy()] if len(frame) else frame
        status = started["status"].astype("string") if len(started) else pd.Series(dtype="string")
        failed = (status == "FAILED").fillna(False).to_numpy()
        ordered = pd.concat(
            [
                started[failed].sort_values("endedAt", na_position="last"),
                started[~failed].sort_values("startedAt"),
            ]
        )
        params = [c for c in frame.columns if c.startswith(schema.PARAMETER_PREFIX)]
        rows = ordered.head(MAX_CHOICES).to_dict("records")
        options = [(_action_label(row, params), str(row["sessionActionId"])) for row in rows]
        values = {value for _, value in options}
        if also is not None and also not in values:
            job_actions = self.job.actions if self.job is not None else frame
            match = job_actions[(job_actions["sessionActionId"] == also).fillna(False).to_numpy()]
            label = _action_label(match.iloc[0].to_dict(), params) if len(match) else also
            options.insert(0, (label, also))
            values.add(also)
        current = self.action.value
        if current and current not in values and current != ALL:
            current = None
        if not options:
            options = [("(no action started in this selection)", ALL)]
        with self._quietly():
            self.action.options = options
            self.action.value = current if current in values else options[0][1]
        more = len(ordered) - MAX_CHOICES
        if more > 0:
            self.message.value = note_html(
                f"The first {MAX_CHOICES:,} actions are listed ({more:,} more): narrow them with "
                "the filters above, or choose a search result."
            )

    def _render(self) -> None:
        action_id = self.action.value
        logs = self.logs
        if logs is None or not action_id:
            self.view.value = ""
            return
        rows = logs[(logs["sessionActionId"] == action_id).fillna(False).to_numpy()]
        rows = rows.sort_values("lineIndex", kind="stable")
        messages = [_text(m) for m in rows["message"].astype(object)]
        indexes = rows["lineIndex"].tolist()
        total = len(messages)
        if not total:
            self.view.value = note_html(
                "No line of its session's log falls in this action's time window."
            )
            return
        error_at = self._error_line(action_id, messages)
        focus_at = indexes.index(self._focus) if self._focus in indexes else -1
        bottom = True
        if self.all_lines.value:
            start, stop = max(0, total - MAX_LINES), total
        elif focus_at >= 0 and focus_at < total - LOG_TAIL:
            start = max(0, focus_at - _CONTEXT)
            stop, bottom = min(total, start + LOG_TAIL), False
        else:
            start, stop = max(0, total - LOG_TAIL), total
        lines = [
            _line_html(
                i + 1,
                messages[i],
                _ERROR if i == error_at else _FOCUS if i == focus_at else "",
            )
            for i in range(start, stop)
        ]
        where = (
            f"all {total:,} lines"
            if (start, stop) == (0, total)
            else f"lines {start + 1:,}–{stop:,} of {total:,}"
        )
        marks = []
        if error_at >= 0:
            marks.append("the line it ends with in red")
        if focus_at >= 0 and focus_at != error_at:
            marks.append("the search result in yellow")
        elif focus_at >= 0:
            marks = ["the search result, the line it ends with, in red"]
        head = where + (f"; {' and '.join(marks)}" if marks else "")
        box = _BOX + (_BOTTOM if bottom else "")
        self.view.value = (
            f'<div style="{_MUTED}">{html.escape(head)}</div>'
            f'<div style="{box}"><pre style="{_PRE}">' + "\n".join(lines) + "</pre></div>"
        )

    def _error_line(self, action_id: str, messages: list[str]) -> int:
        """The position of the line a failed action ends with (the last with its text), or -1."""
        actions = self.job.actions if self.job is not None else self._actions
        status = actions.loc[(actions["sessionActionId"] == action_id).fillna(False).to_numpy()]
        if not len(status) or str(status["status"].iloc[0]) != "FAILED":
            return -1
        line = last_error_line(messages)
        if line is None:
            return -1
        return next(i for i in range(len(messages) - 1, -1, -1) if messages[i] == line)

    def _list_matches(self, pattern: str) -> None:
        matches = self.matches
        params = [c for c in matches.columns if c.startswith(schema.PARAMETER_PREFIX)]
        actions = matches["sessionActionId"].nunique() if len(matches) else 0
        shown = matches.head(MAX_RESULTS)
        options = []
        for index, row in zip(shown.index, shown.to_dict("records"), strict=True):
            what = _text(row.get("stepName")) or _text(row.get("actionType")) or "(between actions)"
            text = _text(row.get("message"))
            text = text if len(text) <= _RESULT_CHARS else text[:_RESULT_CHARS] + "…"
            parts = [
                what,
                _parameters(row, params),
                short_id(_text(row.get("workerId"))),
                _text(row.get("actionType")),
                text.replace("\r", "\u240d"),
            ]
            options.append((" · ".join(p for p in parts if p), index))
        with self._quietly():
            self.results.options = options
            self.results.value = None
        if not len(matches):
            self.summary.value = note_html(f"No line of the job's logs matches {pattern!r}.")
            return
        listed = f" (the first {MAX_RESULTS:,} are listed)" if len(matches) > MAX_RESULTS else ""
        self.summary.value = note_html(
            f"{len(matches):,} line{'s' if len(matches) != 1 else ''} in {actions:,} action"
            f"{'s' if actions != 1 else ''} match {pattern!r}{listed}: step · task parameters · "
            "worker · action · line. Choose one to see its action's log."
        )
