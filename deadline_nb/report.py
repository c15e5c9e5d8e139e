"""A postmortem of one job as a single HTML file that opens anywhere, offline, years later.

:func:`write_report` composes what the rest of the package computes (:func:`~deadline_nb.summarize`,
the ``plot_*`` functions, :func:`~deadline_nb.save_figure`) into one self-contained HTML file:
inline CSS, charts inline (SVG, or PNG as a ``data:`` URI when the SVG would be large), no
JavaScript and no external address, so it can be attached to a ticket and read in any browser.
Next to it, in a folder named after it (``report.html`` -> ``report_files/``), go the charts as
PNG and SVG and the session actions as Parquet, for whoever wants to dig further.

Every text that comes from the API (names, ids, progress messages, parameters, log lines) is
HTML-escaped, and its control characters (NUL...) read as U+FFFD: a progress message is whatever
a render script printed.

With the session logs (``logs=True``, the job's :attr:`~deadline_nb.Job.logs`), each failed
action shows the end of its log, and the failures say which of them end with the same error line.
How much of the logs goes into the page is bounded, so that a job with thousands of failures
still gives a page a browser opens at once:

* each failed action's last :data:`LOG_TAIL` lines (and the line it ends with, when that is
  further up), for the first :data:`MAX_FAILED_LOGS` failed actions (those of the failures
  table, oldest failure first) and only while the logs' markup stays under
  :data:`LOG_BUDGET` bytes; the page says how many more there are;
* a line longer than :data:`LOG_LINE_CHARS` characters is cut, saying how much was left out;
* the same endings: at most :data:`MAX_ENDINGS` of them, most common first.

So the logs add about 2 MB to a page at most (the budget, which one action's block may overrun,
and the failures table's column of endings, each cut at 160 characters); a usual line costs
about 100 bytes. Every line of every failed action is in ``failed_logs.parquet`` next to the
page.

This module only composes: it takes a :class:`~deadline_nb.Job` and never talks to AWS (reading
``job.logs`` is the job's own fetch, the first time it is used).
"""

from __future__ import annotations

import base64
import html
import os
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Final

import numpy as np
import pandas as pd

from . import schema
from .charts import CHARTS, ChartData
from .errors import AccessDeniedError, AwsError, DataWarning, Problems, bad_argument
from .frames.logs import failure_lines
from .summary import TOTAL_LABEL, exit_code_name, summarize
from .text import REPLACED, clean_text, environment_name, format_seconds, printable_text

if TYPE_CHECKING:
    from .fetch import Job

__all__ = [
    "CHARTS",
    "FAILED_LOGS_FILE",
    "LOG_BUDGET",
    "LOG_LINE_CHARS",
    "LOG_TAIL",
    "MAX_ENDINGS",
    "MAX_FAILED_LOGS",
    "write_report",
]

# A chart whose SVG (comments removed) is larger than this is inlined as PNG instead: a
# timeline's SVG grows with its actions (about 100 bytes each), a 1920 x 1080 PNG does not.
_INLINE_SVG_MAX: Final = 350_000
# Tables of actions list at most this many rows; the rest are in the Parquet file.
_MAX_ROWS: Final = 200
_SLOWEST: Final = 10
_HTML_SUFFIXES: Final = (".html", ".htm")
_MISSING: Final = '<span class="na">–</span>'

#: Lines of each failed action's log shown: its last ones.
LOG_TAIL: Final = 40
#: Failed actions whose logs are shown at most (the failures table's first rows).
MAX_FAILED_LOGS: Final = _MAX_ROWS
#: Bytes of log markup after which no further failed action's log is added to the page.
LOG_BUDGET: Final = 2_000_000
#: Characters of one log line shown; the rest is cut and counted.
LOG_LINE_CHARS: Final = 500
#: Distinct endings listed at most ("12 failed actions end with: ...").
MAX_ENDINGS: Final = 20
#: The file next to the page with every log line of every failed action.
FAILED_LOGS_FILE: Final = "failed_logs.parquet"
# A carriage return inside a line (a progress bar redrawn in place) as a visible sign: in HTML
# it would start a new line with no number.
_CR_SIGN: Final = "\u240d"
# Characters of the line an action ends with shown in the failures table (all in its log below).
_ENDING_CHARS: Final = 160

_CSS: Final = """
:root { color-scheme: light; --fg: #1d2330; --muted: #5b6475; --line: #d9dde5; --bg: #f6f7f9;
  --bad: #b42318; --good: #067647; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
  color: var(--fg); margin: 0 auto; max-width: 1280px; padding: 24px 32px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; overflow-wrap: anywhere; }
h2 { font-size: 18px; margin: 36px 0 10px; padding-bottom: 4px;
  border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 24px 0 8px; }
p, li { max-width: 80ch; }
code, .id { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: 12px; }
.muted, .na { color: var(--muted); }
.status { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: 600;
  font-size: 12px; background: var(--bg); border: 1px solid var(--line); }
.status.FAILED, .status.CANCELED { color: var(--bad); border-color: var(--bad); }
.status.SUCCEEDED { color: var(--good); border-color: var(--good); }
dl.identity { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px;
  margin: 12px 0; }
dl.identity dt { color: var(--muted); }
dl.identity dd { margin: 0; overflow-wrap: anywhere; }
nav ol { columns: 2; padding-left: 20px; }
.cards { display: flex; flex-wrap: wrap; gap: 8px; margin: 8px 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 6px 12px; min-width: 120px;
  background: var(--bg); }
.card b { display: block; font-size: 18px; }
.card.bad b { color: var(--bad); }
.card span { color: var(--muted); font-size: 12px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 10px; text-align: left;
  vertical-align: top; }
th { background: var(--bg); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.msg { display: block; max-width: 40ch; overflow-wrap: anywhere; }
figure { margin: 8px 0 24px; }
figure svg, figure img { max-width: 100%; height: auto; display: block;
  border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: 12px; margin-top: 4px; }
pre.log { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px;
  line-height: 1.4; background: var(--bg); border: 1px solid var(--line); border-radius: 4px;
  padding: 8px 12px; margin: 4px 0 16px; white-space: pre-wrap; overflow-wrap: anywhere; }
pre.log .ln { display: inline-block; min-width: 6ch; padding-right: 1ch; text-align: right;
  color: var(--muted); user-select: none; }
pre.log mark { background: #fde7e5; color: var(--bad); font-weight: 600; }
pre.log .cut, pre.log .gap { color: var(--muted); font-style: italic; }
ul.endings li { max-width: none; margin: 2px 0; }
ul.endings code { overflow-wrap: anywhere; white-space: pre-wrap; }
code.ending { display: block; min-width: 28ch; max-width: 48ch; overflow-wrap: anywhere;
  white-space: pre-wrap; }
.note { border-left: 3px solid var(--line); padding: 2px 10px; color: var(--muted); }
footer { margin-top: 48px; color: var(--muted); font-size: 12px; border-top: 1px solid var(--line);
  padding-top: 8px; }
ol.findings { padding-left: 20px; }
ol.findings li { margin: 6px 0; max-width: 100ch; }
ol.findings .evidence { color: var(--muted); display: block; }
.sev { display: inline-block; min-width: 7ch; padding: 0 6px; border-radius: 3px;
  font-size: 11px; font-weight: 700; text-transform: uppercase; text-align: center;
  border: 1px solid var(--line); }
.sev.critical { color: #fff; background: var(--bad); border-color: var(--bad); }
.sev.warning { color: #7a4a00; background: #fff4d6; border-color: #e69f00; }
.sev.info { color: var(--muted); }
@media print { body { max-width: none; padding: 0; } h2 { break-after: avoid; }
  figure { break-inside: avoid; } }
"""


# ---------------------------------------------------------------------------------------------
# the public function


def write_report(
    job: Job,
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    charts: Sequence[str] | None = None,
    logs: bool = True,
    cost: bool | None = None,
    metrics: bool = True,
) -> Path:
    """Write a job's postmortem as one self-contained HTML file, with its charts and data beside it.

    The page holds the job's identity and times, key figures, the per-step summary
    (:func:`deadline_nb.summarize`), the steps' task counts, the failed actions with their exit
    codes (named, see :func:`deadline_nb.exit_code_name`) and last progress messages, the retried
    tasks, the slowest task runs, and the charts. With the session logs, each failed action also
    shows the line its log ends with (:func:`deadline_nb.failure_lines`), the failures say which
    error lines several of them share (numbers, paths and ids blanked: "12 failed actions end
    with: ..."), and a section shows the end of each failed action's log, its error line marked.
    It needs no network and no JavaScript: CSS is inline, each chart is an inline SVG (or a PNG
    ``data:`` URI when its SVG would be large, as a big job's timeline is), and every text from
    the API or a log is HTML-escaped. A 10,000-action job's report is well under 5 MB; how much
    of the logs goes in is bounded (see :mod:`deadline_nb.report`).

    Next to the HTML file, in ``<stem>_files/`` (``report.html`` -> ``report_files/``), go each
    chart as ``<chart>.png`` and ``<chart>.svg`` (1920 x 1080, see :func:`deadline_nb.save_figure`),
    the job's session actions as ``actions.parquet`` and, with the logs, every line of the failed
    actions' logs as ``failed_logs.parquet`` (read them back with
    :func:`deadline_nb.read_parquet`). Existing files of the same names are replaced.

    Parameters
    ----------
    job
        A job from :func:`deadline_nb.load_job`.
    path
        The HTML file to write (ending in ``.html`` or ``.htm``), or a folder (existing, or a
        path without a suffix), which gets ``report.html``. Missing folders are created.
    title
        The page's heading; default ``"Postmortem: <job name>"``.
    charts
        Which charts to draw, in the order given: names from
        :data:`deadline_nb.charts.CHARTS` (``"timeline"``, ``"frame_times"``, ``"memory"``,
        ``"durations"``, ``"status"``, ``"exit_codes"``, ``"concurrency"``, ``"progress"``).
        Default: all of them that apply to the job (``"memory"`` needs the workers' metrics);
        a chart asked for by name that cannot be drawn says why in one sentence.
    logs
        Show the failed actions' logs, from ``job.logs`` (read on first use, and only when an
        action failed). When the logs cannot be read (a role that may not read CloudWatch Logs,
        a log group that has expired), the page says so in one sentence where they would be and
        is otherwise complete. ``False`` leaves the logs out and reads nothing.
    cost
        Show the job's estimated cost: a "cost (estimate)" card among the key figures and
        the cost spread over the steps by task-run time (:func:`deadline_nb.cost_per_step`).
        ``None`` (the default) shows it when ``job.cost`` was already fetched, and fetches
        nothing; ``True`` fetches it (it starts a usage aggregation); ``False`` leaves it out.
        When it cannot be read (a role without the statistics permissions), the card says so
        in one sentence and the page is otherwise complete.
    metrics
        Chart the memory each task run peaked at (``"memory"``, from ``job.resources``) and
        the workers' memory under the timeline (``job.metrics``), read from the workers' logs
        on first use (as ``logs`` reads the session logs). A job whose workers logged no
        metrics (a customer-managed fleet may not) has no memory chart. When they cannot be
        read (a role that may not read the fleet's log group), the memory chart says so in one
        sentence and the page is otherwise complete. ``False`` leaves memory out and reads
        nothing.

    Returns
    -------
    pathlib.Path
        The HTML file written.

    Raises
    ------
    ValueError
        When ``path`` ends in another suffix, or ``charts`` names an unknown chart.
    OSError
        When the folder cannot be created or written; the message says which folder.

    Warns
    -----
    DataWarning
        Once, naming the job's fields, when the job's own record (its name, ``createdBy``,
        parameters...) holds lone surrogates, which no file can hold: they read as U+FFFD.
        (The frames' text was cleaned when they were built.)

    Examples
    --------
    >>> import tempfile
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm import LocalFarm
    >>> with LocalFarm() as farm, tempfile.TemporaryDirectory() as tmp:
    ...     j = farm.job_by_name("failing")
    ...     job = dnb.load_job(farm.farm_id, j.queue_id, j.job_id,
    ...                        client=farm.client(), cache=False, progress=False)
    ...     page = dnb.write_report(job, tmp, charts=["status", "exit_codes"])
    ...     files = sorted(p.name for p in (page.parent / "report_files").iterdir())
    ...     text = page.read_text()
    >>> page.name
    'report.html'
    >>> files  # doctest: +NORMALIZE_WHITESPACE
    ['actions.parquet', 'exit_codes.png', 'exit_codes.svg', 'failed_logs.parquet',
     'status.png', 'status.svg']
    >>> "sq030_crowd_v007_failing" in text and "0xC0000005 access violation" in text
    True
    >>> "3 failed actions end with: <code>openjd_fail: License checkout failed" in text
    True
    """
    names = _chart_names(charts)
    page, files = report_paths(path)
    _warn_unencodable(job)
    heading = title if title is not None else f"Postmortem: {job.name}"
    make_writable_folder(files)
    failure_logs = _failure_logs(job) if logs else None
    job_cost = _job_cost(job, cost)
    data, unread = _chart_data(job, metrics)
    if charts is None:  # every chart that belongs with this job; asked for by name, each says why
        names = [name for name in names if CHARTS[name].applies(data)]
    figures = [_chart(name, job, files, data, unread) for name in names]
    job.actions.to_parquet(files / "actions.parquet")
    lines_file = files / FAILED_LOGS_FILE
    if failure_logs is not None and failure_logs.lines is not None:
        failure_logs.lines.to_parquet(lines_file, index=False)
    else:  # a file from an earlier report would pass for this one's
        lines_file.unlink(missing_ok=True)
    document = _document(job, heading, figures, files.name, failure_logs, job_cost)
    temporary = page.with_name(f".{page.name}.partial")
    try:
        temporary.write_text(document, encoding="utf-8")
        os.replace(temporary, page)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise OSError(f"Cannot write the report {page}: {error.strerror or error}.") from error
    return page


def _warn_unencodable(job: Job) -> None:
    """One warning naming the fields of the job's record that hold lone surrogates.

    The record (``GetJob``) does not go through a frame, whose readers clean their text; the
    page shows it through :func:`_escape`, which replaces them.
    """
    fields = [name for name, value in job.job.items() if _has_lone_surrogate(value)]
    if _has_lone_surrogate(job.name) and "name" not in fields:
        fields.insert(0, "name")
    if fields:
        problems = Problems("job")
        problems.add(f"The job's {', '.join(fields)} {REPLACED}", str(job.job_id))
        problems.emit(stacklevel=4)


def _has_lone_surrogate(value: object) -> bool:
    if isinstance(value, str):
        return clean_text(value)[1]
    if isinstance(value, Mapping):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_lone_surrogate(v) for v in value)
    return False


# ---------------------------------------------------------------------------------------------
# arguments and files


def _chart_names(charts: Sequence[str] | None) -> list[str]:
    if charts is None:
        return list(CHARTS)
    if isinstance(charts, str):
        charts = [charts]
    unknown = [c for c in charts if c not in CHARTS]
    if unknown:
        raise bad_argument("charts", f"name charts among {list(CHARTS)}", unknown[0])
    return list(dict.fromkeys(charts))


def report_paths(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """(HTML file, folder for its charts and data) for a file or folder ``path``.

    Shared with the command line, which checks ``--out`` before it fetches anything.
    """
    target = Path(path)
    if target.is_dir() or not target.suffix:
        target = target / "report.html"
    elif target.suffix.lower() not in _HTML_SUFFIXES:
        raise bad_argument("path", "be a folder or an .html file", str(path))
    return target, target.with_name(f"{target.stem}_files")


def make_writable_folder(folder: Path) -> None:
    """Create ``folder`` (and its parents), or say in one sentence why it cannot be written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OSError(
            f"Cannot write to the folder {folder.parent}: {error.strerror or error}."
        ) from error
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OSError(f"Cannot write to the folder {folder}: permission denied.")


# ---------------------------------------------------------------------------------------------
# charts


class _Figure:
    """One chart as drawn: its name, the markup to inline, and a note when it could not be drawn."""

    def __init__(self, name: str, markup: str, note: str = "") -> None:
        self.name = name
        self.markup = markup
        self.note = note


def _chart_data(job: Job, metrics: bool) -> tuple[ChartData, str]:
    """What the charts draw from, and, when the workers' metrics could not be read, why.

    The whole job: its snapshots, and whether it has finished (then progress is its
    completion); with the metrics, its actions with their memory (the resources frame: the same
    rows and columns, and more) and the workers' samples for the timeline's strip.
    """
    snapshots = job.snapshots if len(job.snapshots) else None
    actions, samples, unread = job.actions, None, ""
    if metrics:
        try:
            # What is missing (a worker with no stream, a fleet that sends no metrics: common
            # on customer-managed hosts) is said under the chart, not as a warning each time.
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", DataWarning)
                actions, samples = job.resources, job.metrics
        except AwsError as error:
            unread = f"Not drawn: the workers' metrics could not be read: {error}"
        else:
            for warning in caught:
                if issubclass(warning.category, DataWarning):
                    unread = f"{unread} {warning.message}".strip()
                else:  # not ours to swallow
                    warnings.warn_explicit(
                        warning.message, warning.category, warning.filename, warning.lineno
                    )
    return ChartData(actions, snapshots, finished=job.finished, metrics=samples), unread


def _chart(name: str, job: Job, folder: Path, data: ChartData, unread: str = "") -> _Figure:
    from .plots import save_figure

    chart = CHARTS[name]
    # A Figure outside pyplot: nothing is shown in a notebook, nothing is left open.
    fig = chart.on_slide(data)
    if fig is None:
        return _Figure(name, "", (name == "memory" and unread) or chart.missing_job)
    # Under a memory chart drawn from some of the workers: which were missing, and why.
    note = unread if name == "memory" else ""
    # The job's name on top: a PNG attached to a ticket says which job it shows.
    title = printable_text(job.name)  # what is wrong in it was said once, in write_report
    save_figure(fig, folder / f"{name}.png", title=title)
    # Laid out once: the SVG keeps the PNG's layout (same size in inches) instead of redoing it.
    fig.set_layout_engine("none")
    svg_path = save_figure(fig, folder / f"{name}.svg", title=title)
    svg = _inline_svg(svg_path.read_text(encoding="utf-8"))
    alt = _escape(f"{chart.heading} of {job.name}", quote=True)
    if len(svg.encode("utf-8")) <= _INLINE_SVG_MAX:
        markup = svg.replace("<svg ", f'<svg role="img" aria-label="{alt}" ', 1)
    else:
        png = base64.b64encode((folder / f"{name}.png").read_bytes()).decode("ascii")
        markup = f'<img src="data:image/png;base64,{png}" alt="{alt}">'
    return _Figure(name, markup, note)


_XML_PROLOGUE = re.compile(r"\A.*?(?=<svg[\s>])", re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_METADATA = re.compile(r"<metadata>.*?</metadata>", re.DOTALL)
_NAMESPACE = re.compile(r'\sxmlns(?::\w+)?="[^"]*"')


def _inline_svg(text: str) -> str:
    """An SVG file's markup for inlining in HTML: only the drawing.

    Dropped: the XML declaration and DOCTYPE; the comments (matplotlib writes each text of the
    figure as a comment too: without them the page is smaller and no text from the API is in it
    unescaped); the RDF metadata (the files next to the report keep it); and the namespace
    declarations, which HTML implies for inline SVG, so that no address at all is in the page.
    """
    svg = _COMMENT.sub("", _XML_PROLOGUE.sub("", text, count=1))
    svg = _METADATA.sub("", svg, count=1)
    head, _, rest = svg.partition(">")
    return (_NAMESPACE.sub("", head) + ">" + rest).strip()


# ---------------------------------------------------------------------------------------------
# the failed actions' logs


class _FailureLogs:
    """What the page shows of the logs: the failed actions' endings and lines, or why not.

    ``note`` is the one sentence shown instead when the logs could not be read; ``endings`` is
    :func:`~deadline_nb.failure_lines` of every failed action, ``lines`` their log lines.
    """

    def __init__(
        self,
        note: str = "",
        endings: pd.DataFrame | None = None,
        lines: pd.DataFrame | None = None,
    ) -> None:
        self.note = note
        self.endings = endings
        self.lines = lines

    def ending(self) -> dict[str, str | None]:
        """The line each failed action ends with (None: it has none), by the action's id."""
        if self.endings is None:
            return {}
        table = self.endings
        lines = table["line"].astype(object).where(table["line"].notna(), None)
        return {str(i): line for i, line in zip(table["sessionActionId"], lines, strict=True)}


def _failure_logs(job: Job) -> _FailureLogs:
    """Read the job's logs (only when an action failed) and keep the failed actions' part."""
    failed = _column(job.actions, "status").astype("string") == "FAILED"
    if not failed.fillna(False).any():
        return _FailureLogs()
    try:
        frame = job.logs
    except AccessDeniedError as error:
        return _FailureLogs(note=_denied_sentence(error))
    except AwsError as error:
        # An expired log group, throttling that retries did not cure...: the rest of the
        # postmortem is still worth having.
        reason = str(error).rstrip(". ")
        return _FailureLogs(note=f"The session logs could not be read, so none is shown: {reason}.")
    endings = failure_lines(frame, job.actions)
    ids = endings["sessionActionId"].astype(object).to_numpy()
    mine = frame["sessionActionId"].astype(object).isin(ids).to_numpy()
    return _FailureLogs(endings=endings, lines=frame.loc[mine].reset_index(drop=True))


def _denied_sentence(error: AccessDeniedError) -> str:
    what = f"{error.operation} was denied" if error.operation else "access was denied"
    where = f" for queue {error.queue_id}" if error.queue_id else ""
    return (
        "The session logs are not shown: the AWS identity that wrote this report may not read "
        f"this job's CloudWatch Logs{where} ({what})."
    )


def _failed_in_order(df: pd.DataFrame) -> pd.DataFrame:
    """The failed actions, oldest failure first: the failures table's order, and the logs'."""
    failed = df[(_column(df, "status").astype("string") == "FAILED").fillna(False).to_numpy()]
    return failed.sort_values("endedAt", na_position="last")


def _cut(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[:chars] + "…"


def _line_html(number: int, text: object, *, marked: bool = False) -> str:
    """One log line in a ``pre``: its number, then the text, cut when long, escaped."""
    message = "" if text is None or text is pd.NA else str(text)
    cut = ""
    if len(message) > LOG_LINE_CHARS:
        cut = f'<span class="cut"> … {len(message) - LOG_LINE_CHARS:,} more characters</span>'
        message = message[:LOG_LINE_CHARS]
    body = _escape(message, quote=False).replace("\r", _CR_SIGN) + cut
    if marked:
        body = f"<mark>{body}</mark>"
    return f'<span class="ln">{number:,}</span>{body}'


def _log_block(
    row: pd.Series, lines: pd.DataFrame | None, ending: str | None, params: Sequence[str]
) -> str:
    """One failed action: a heading saying which, and the end of its log, the error line marked."""
    action_id = str(row["sessionActionId"])
    code = row["processExitCode"]
    meaning = exit_code_name(None if pd.isna(code) else int(code))
    title = " · ".join(
        part
        for part in (
            _e(row.get("stepName", row.get("stepId"))),
            _e(row["actionType"]),
            _e(environment_name(str(row["environmentId"])))
            if not pd.isna(row.get("environmentId"))
            else "",
            _params(row, params) if params else "",
            _e(row.get("workerId")),
        )
        if part and part != _MISSING
    )
    exit_text = f"exit code {_e(code)}" + (f" ({_e(meaning)})" if meaning else "")
    head = (
        f'<h3 id="log-{_e(action_id)}">{title}</h3>'
        f'<p class="muted">{exit_text} · <span class=id>{_e(action_id)}</span>'
    )
    if lines is None or not len(lines):
        return head + " · no line of its session's log falls in its time window.</p>"
    messages = lines["message"].astype(object).where(lines["message"].notna(), None).tolist()
    total = len(messages)
    start = max(0, total - LOG_TAIL)
    # The line failure_lines chose is the last one with its text: a later line with the same
    # text would have been chosen by the same rule.
    error_at = -1
    if ending is not None:
        error_at = next((i for i in range(total - 1, -1, -1) if messages[i] == ending), -1)
    shown = f"the last {total - start:,} of {total:,} lines" if start else f"all {total:,} lines"
    mark = "; the line it ends with is marked" if error_at >= 0 else ""
    parts = []
    if 0 <= error_at < start:  # the error line is further up: shown first, then the tail
        parts.append(_line_html(error_at + 1, messages[error_at], marked=True))
        if start - error_at > 1:
            parts.append(f'<span class="gap">⋮ {start - error_at - 1:,} lines</span>')
    parts += [_line_html(i + 1, messages[i], marked=i == error_at) for i in range(start, total)]
    return head + f" · {shown}{mark}.</p>" + '<pre class="log">' + "\n".join(parts) + "</pre>"


def _logs_section(df: pd.DataFrame, logs: _FailureLogs) -> tuple[str, set[str]]:
    """The failed actions' logs, within the page's bounds; and the ids of those shown."""
    if logs.note:
        return f'<p class="note">{_escape(logs.note)}</p>', set()
    failed = _failed_in_order(df)
    if not len(failed) or logs.lines is None:
        return "<p>No action failed.</p>", set()
    params = [c for c in df.columns if c.startswith(schema.PARAMETER_PREFIX)]
    ending = logs.ending()
    frame = logs.lines
    by_action: dict[str, pd.DataFrame] = {}
    if len(frame):
        ordered = frame.assign(_key=frame["sessionActionId"].astype(str)).sort_values(
            ["_key", "lineIndex"], kind="stable"
        )
        by_action = {str(k): g for k, g in ordered.groupby("_key", sort=False)}
    blocks: list[str] = []
    size = 0
    for _, row in failed.head(MAX_FAILED_LOGS).iterrows():
        action_id = str(row["sessionActionId"])
        block = _log_block(row, by_action.get(action_id), ending.get(action_id), params)
        cost = len(block.encode("utf-8"))
        if blocks and size + cost > LOG_BUDGET:
            break
        blocks.append(block)
        size += cost
    intro = (
        f"<p>The end of each failed action's log (its last {LOG_TAIL} lines), oldest failure "
        "first. The line marked is the one it ends with: its last <code>openjd_fail</code> line, "
        "else the last line of the task's own output, else its exit code line. Every line of "
        f"every failed action is in <code>{FAILED_LOGS_FILE}</code>.</p>"
    )
    rest = len(failed) - len(blocks)
    more = (
        f'<p class="muted">And {rest:,} more failed actions, whose logs are not shown here to '
        f"keep this page small: they are in <code>{FAILED_LOGS_FILE}</code>.</p>"
        if rest
        else ""
    )
    shown = {str(i) for i in failed["sessionActionId"].head(len(blocks))}
    return intro + "".join(blocks) + more, shown


def _endings(logs: _FailureLogs) -> str:
    """Which error lines several failed actions end with (normalised), most common first."""
    if logs.endings is None:
        return ""
    table = logs.endings[logs.endings["normalized"].notna()]
    if len(table) < 2:
        return ""
    key = table["normalized"].astype(str)
    groups = (
        pd.DataFrame(
            {
                "key": key,
                "workerId": table["workerId"].astype("string"),
                "step": table["stepName"].astype("string").fillna(table["stepId"].astype("string")),
            }
        )
        .groupby("key", sort=False)
        .agg(actions=("key", "size"), workers=("workerId", "nunique"), steps=("step", "unique"))
    )
    shared = groups[groups["actions"] > 1].sort_values("actions", ascending=False, kind="stable")
    if not len(shared):
        return "<p>No two failed actions end with the same line.</p>"
    items = []
    for line, group in shared.head(MAX_ENDINGS).iterrows():
        shown = _escape(_cut(str(line), LOG_LINE_CHARS))
        steps = ", ".join(str(s) for s in group["steps"] if not pd.isna(s))
        workers = int(group["workers"])
        where = f"{steps}; " if steps else ""
        items.append(
            f"<li>{int(group['actions']):,} failed actions end with: <code>{shown}</code> "
            f'<span class="muted">({_escape(where)}{workers:,} worker'
            f"{'s' if workers != 1 else ''})</span></li>"
        )
    rest = len(shared) - MAX_ENDINGS
    more = f'<li class="muted">and {rest:,} more shared endings</li>' if rest > 0 else ""
    return (
        "<p>Failed actions that end with the same line (numbers, paths and ids blanked):</p>"
        f'<ul class="endings">{"".join(items)}{more}</ul>'
    )


# ---------------------------------------------------------------------------------------------
# values as HTML


def _escape(text: str, quote: bool = True) -> str:
    """Text as HTML: escaped, and what HTML cannot hold (NUL, other controls) as U+FFFD."""
    return html.escape(printable_text(text), quote=quote)


def _e(value: object) -> str:
    """Any value as escaped HTML text; missing values as a dash."""
    if value is None or value is pd.NA or value is pd.NaT:
        return _MISSING
    if isinstance(value, float) and np.isnan(value):
        return _MISSING
    if isinstance(value, (pd.Timestamp, datetime)):
        return _when(value)
    if isinstance(value, pd.Timedelta):
        return _escape(format_seconds(value.total_seconds()))
    return _escape(str(value), quote=True)


def _when(value: object) -> str:
    if value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return _MISSING
    stamp = pd.Timestamp(value)  # type: ignore[arg-type]
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return _escape(stamp.strftime("%Y-%m-%d %H:%M:%S UTC"))


def _table(
    header: Sequence[str], rows: Iterable[Sequence[str]], *, numeric: Sequence[int] = ()
) -> str:
    """An HTML table from already-escaped cells; columns in ``numeric`` are right-aligned."""
    head = "".join(
        f"<th{' class=num' if i in numeric else ''}>{_escape(h)}</th>" for i, h in enumerate(header)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{' class=num' if i in numeric else ''}>{cell}</td>" for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return f'<div class="scroll">{table}</div>'


def _more(shown: int, total: int) -> str:
    if total <= shown:
        return ""
    return (
        f'<p class="muted">The first {shown} of {total}; all are in '
        "<code>actions.parquet</code>.</p>"
    )


def _params(row: pd.Series, columns: Sequence[str]) -> str:
    parts = [
        f"{c[len(schema.PARAMETER_PREFIX) :]}={row[c]}" for c in columns if not pd.isna(row[c])
    ]
    return _e(", ".join(parts)) if parts else _MISSING


def _column(df: pd.DataFrame, name: str) -> pd.Series:
    return df[name] if name in df.columns else pd.Series(pd.NA, index=df.index, dtype="object")


# ---------------------------------------------------------------------------------------------
# sections


def _identity(job: Job) -> str:
    info = job.job
    status = str(info.get("taskRunStatus", "UNKNOWN"))
    started, ended = info.get("startedAt"), info.get("endedAt")
    wall = (
        _e(pd.Timestamp(ended) - pd.Timestamp(started))
        if started is not None and ended is not None
        else _MISSING
    )
    counts = {k: v for k, v in (info.get("taskRunStatusCounts") or {}).items() if v}
    parameters = []
    for name, value in (info.get("parameters") or {}).items():
        shown = next(iter(value.values())) if isinstance(value, Mapping) and value else value
        parameters.append(f"{name}={shown}")
    rows = [
        ("Job", f"{_e(job.name)} <span class=id>{_e(job.job_id)}</span>"),
        ("Status", f'<span class="status {_e(status)}">{_e(status)}</span>'),
        ("Tasks by status", _e(", ".join(f"{k} {v}" for k, v in counts.items())) or _MISSING),
        ("Farm", f"<span class=id>{_e(job.farm_id)}</span>"),
        ("Queue", f"<span class=id>{_e(job.queue_id)}</span>"),
        ("Submitted", f"{_e(info.get('createdAt'))} by {_e(info.get('createdBy'))}"),
        ("Started", _e(started)),
        ("Ended", _e(ended)),
        ("Wall time", wall),
        ("Priority", _e(info.get("priority"))),
        (
            "Retries",
            f"{_e(info.get('taskFailureRetryCount', 0))} task retries; at most "
            f"{_e(info.get('maxRetriesPerTask'))} per task",
        ),
        ("Parameters", _e(", ".join(parameters)) if parameters else _MISSING),
        ("Description", _e(info.get("description"))),
    ]
    items = "".join(f"<dt>{_escape(k)}</dt><dd>{v}</dd>" for k, v in rows)
    return f'<dl class="identity">{items}</dl>'


class _Cost:
    """The job's estimated cost for the page: the total in USD, or why it is missing."""

    def __init__(self, usd: float | None, steps: pd.DataFrame | None, note: str = "") -> None:
        self.usd = usd
        self.steps = steps
        self.note = note


def _job_cost(job: Job, cost: bool | None) -> _Cost | None:
    """The cost to show: none unless asked for or already fetched; a failure as a sentence."""
    from .frames.usage import step_costs

    if cost is False or (cost is None and job._cost is None):
        return None
    try:
        frame = job.cost
    except AwsError as error:
        return _Cost(None, None, f"The estimated cost could not be read: {error}")
    value = frame[schema.USAGE_COST].iloc[0] if len(frame) else None
    usd = None if value is None or pd.isna(value) else float(value)
    return _Cost(usd, step_costs(job.actions, usd))


def _cost_section(cost: _Cost | None) -> str:
    """The estimated cost by step, after the key figures (or why there is none)."""
    if cost is None:
        return ""
    if cost.usd is None or cost.steps is None:
        return (
            f'<p class="muted">{_escape(cost.note or "The service has no cost for this job.")}</p>'
        )
    rows = [
        [
            _e(row["stepName"]),
            _e(row["taskRuns"]),
            _e(format_seconds(float(row["taskRunSeconds"]))),
            f"{float(row['share']) * 100:.1f} %" if pd.notna(row["share"]) else "",
            f"${float(row['estCostUsd']):,.2f}" if pd.notna(row["estCostUsd"]) else "",
        ]
        for _, row in cost.steps.iterrows()
    ]
    return (
        '<p class="muted">Estimated cost by step (estCostUsd): the service\'s estimate for '
        "the job, spread over the steps by their share of task-run time: an estimate.</p>"
        + _table(
            ["Step", "Task runs", "Task-run time", "Share", "Est. cost (USD)"],
            rows,
            numeric=(1, 2, 3, 4),
        )
    )


def _cards(total: pd.Series, cost: _Cost | None = None) -> str:
    def card(label: str, value: object, bad: bool = False) -> str:
        kind = "card bad" if bad else "card"
        return f'<div class="{kind}"><b>{_e(value)}</b><span>{label}</span></div>'

    cost_card = ""
    if cost is not None:
        shown = f"${cost.usd:,.2f}" if cost.usd is not None else "n/a"
        cost_card = card("cost (estimate)", shown)

    return (
        '<div class="cards">'
        + card("task runs", total["taskRuns"])
        + card("succeeded", total["succeeded"])
        + card("failed", total["failed"], bad=bool(total["failed"]))
        + card("retried tasks", total["retriedTasks"], bad=bool(total["retriedTasks"]))
        + card("never attempted", total["neverAttempted"], bad=bool(total["neverAttempted"]))
        + card("interrupted", total["interrupted"], bad=bool(total["interrupted"]))
        + card("median task run", total["medianDuration"])
        + card("p95 task run", total["p95Duration"])
        + card("busy time", total["busyTime"])
        + card("within-session overhead", total["overhead"])
        + card("sessions", total["sessions"])
        + card("workers", total["workers"])
        + cost_card
        + "</div>"
    )


def _summary_table(table: pd.DataFrame) -> str:
    """summarize() transposed: one row per figure, one column per step and the job."""
    header = ["", *[str(step) for step in table.index]]
    rows = [[_escape(str(column)), *[_e(v) for v in table[column]]] for column in table.columns]
    return _table(header, rows, numeric=range(1, len(header)))


def _steps_table(steps: pd.DataFrame) -> str:
    if not len(steps):
        return '<p class="muted">The job has no steps.</p>'
    count_columns = [
        c for c in steps.columns if c.startswith("tasks.") and steps[c].fillna(0).astype(int).any()
    ]
    header = ["Step", "Status", *[c.removeprefix("tasks.") for c in count_columns]]
    header += ["Started", "Ended", "Duration"]
    rows = [
        [
            f"{_e(row.get('name'))} <span class=id>{_e(row.get('stepId'))}</span>",
            _e(row.get("taskRunStatus")),
            *[_e(row[c]) for c in count_columns],
            _e(row.get("startedAt")),
            _e(row.get("endedAt")),
            _e(row.get("duration")),
        ]
        for _, row in steps.iterrows()
    ]
    return _table(header, rows, numeric=range(2, 2 + len(count_columns)))


def _failures(
    df: pd.DataFrame, logs: _FailureLogs | None = None, linked: frozenset[str] = frozenset()
) -> str:
    failed = _failed_in_order(df)
    if not len(failed):
        return "<p>No action failed.</p>"
    params = [c for c in df.columns if c.startswith(schema.PARAMETER_PREFIX)]
    codes = failed["processExitCode"]
    counts = codes.value_counts(dropna=False)
    code_rows = [
        [
            _e(code),
            _e(exit_code_name(None if pd.isna(code) else int(code))),
            _e(int(n)),
        ]
        for code, n in zip(counts.index.tolist(), counts.tolist(), strict=True)
    ]
    shown = failed.head(_MAX_ROWS)
    with_logs = logs is not None and logs.endings is not None
    ending = logs.ending() if logs is not None else {}
    rows = []
    for _, row in shown.iterrows():
        action_id = str(row["sessionActionId"])
        code = row["processExitCode"]
        cells = [
            _e(row["endedAt"] if not pd.isna(row["endedAt"]) else row["startedAt"]),
            _e(row.get("stepName", row.get("stepId"))),
            _e(row["actionType"]),
            _params(row, params),
            _e(row.get("workerId")),
            _e(code),
            _e(exit_code_name(None if pd.isna(code) else code)),
            f'<span class="msg">{_e(row["progressMessage"])}</span>',
        ]
        if with_logs:
            line = ending.get(action_id)
            cells.append(
                f'<code class="ending">{_escape(_cut(line, _ENDING_CHARS))}</code>'
                if line is not None
                else _MISSING
            )
        identity = f"<span class=id>{_e(action_id)}</span>"
        if action_id in linked:  # its log is further down the page
            identity = f'<a href="#log-{_e(action_id)}">{identity}</a>'
        rows.append([*cells, identity])
    header = [
        "Ended",
        "Step",
        "Action",
        "Parameters",
        "Worker",
        "Exit code",
        "Meaning",
        "Last progress message",
        *(["Log ends with"] if with_logs else []),
        "Session action",
    ]
    return (
        f"<p>{len(failed)} failed action{'s' if len(failed) != 1 else ''}, by exit code:</p>"
        + _table(["Exit code", "Meaning", "Actions"], code_rows, numeric=(0, 2))
        + (_endings(logs) if logs is not None else "")
        + _table(header, rows, numeric=(5,))
        + _more(len(shown), len(failed))
    )


def _retried(df: pd.DataFrame) -> str:
    runs = df[(df["actionType"].astype("string") == "taskRun") & df["startedAt"].notna()]
    attempts = runs.groupby(runs["taskId"].astype("string"), sort=False).size()
    retried_ids = attempts.index[attempts > 1]
    if not len(retried_ids):
        return "<p>No task was retried.</p>"
    params = [c for c in df.columns if c.startswith(schema.PARAMETER_PREFIX)]
    retried = runs[runs["taskId"].astype("string").isin(retried_ids)].sort_values("startedAt")
    rows = []
    for task_id, group in retried.groupby(retried["taskId"].astype("string"), sort=False):
        first = group.iloc[0]
        outcomes = " → ".join(
            f"{s}" + (f" ({c})" if not pd.isna(c) and s != "SUCCEEDED" else "")
            for s, c in zip(group["status"].astype(str), group["processExitCode"], strict=True)
        )
        rows.append(
            [
                _e(first.get("stepName", first.get("stepId"))),
                _params(first, params),
                _e(len(group)),
                _e(outcomes),
                _e(group["status"].astype(str).iloc[-1]),
                f"<span class=id>{_e(task_id)}</span>",
            ]
        )
    total = len(rows)
    return _table(
        ["Step", "Parameters", "Attempts", "Attempts (exit code)", "Last", "Task"],
        rows[:_MAX_ROWS],
        numeric=(2,),
    ) + _more(min(total, _MAX_ROWS), total)


def _slowest(df: pd.DataFrame) -> str:
    runs = df[(df["actionType"].astype("string") == "taskRun") & df["duration"].notna()]
    if not len(runs):
        return "<p>No task run finished.</p>"
    params = [c for c in df.columns if c.startswith(schema.PARAMETER_PREFIX)]
    top = runs.sort_values("duration", ascending=False).head(_SLOWEST)
    rows = [
        [
            _e(row["duration"]),
            _e(row.get("stepName", row.get("stepId"))),
            _params(row, params),
            _e(row["status"]),
            _e(row.get("workerId")),
            _e(row["startedAt"]),
            f"<span class=id>{_e(row['sessionActionId'])}</span>",
        ]
        for _, row in top.iterrows()
    ]
    return _table(
        ["Duration", "Step", "Parameters", "Status", "Worker", "Started", "Session action"],
        rows,
        numeric=(0,),
    )


# Where in the page each kind of finding has its evidence (a section's or a chart's anchor).
_FINDING_ANCHORS: Final[Mapping[str, tuple[str, ...]]] = {
    "systematic_failure": ("failures",),
    "failing_worker": ("failures",),
    "memory": ("chart-memory", "failures"),
    "flaky_tasks": ("retries",),
    "interrupted": ("retries",),
    "stalled": ("chart-progress", "summary"),
    "stuck_progress": ("chart-progress", "summary"),
    "slow_outliers": ("slowest",),
    "slow_trend": ("chart-frame_times", "slowest"),
    "overhead": ("summary",),
    "idle": ("summary",),
    "never_attempted": ("steps",),
    "failed_cost": ("summary",),
}


def _findings(job: Job, linked: frozenset[str], drawn: set[str]) -> str:
    """The findings of :func:`deadline_nb.diagnose`, each linked to its evidence in the page."""
    from .findings import diagnose

    # Reads what the job has (its logs when the page shows them); fetches nothing more.
    found = diagnose(job)
    items: list[str] = []
    for row in found.itertuples(index=False):
        anchor = next(
            (
                a
                for a in _FINDING_ANCHORS.get(str(row.kind), ("summary",))
                if not a.startswith("chart-") or a.removeprefix("chart-") in drawn
            ),
            "summary",
        )
        ids: tuple[str, ...] = row.sessionActionIds  # type: ignore[assignment]
        logged = [a for a in ids if a in linked]
        if row.kind in ("systematic_failure", "failing_worker") and logged:
            anchor = f"log-{logged[0]}"
        next_step = f" Next: <code>{_escape(str(row.next))}</code>" if row.next else ""
        items.append(
            f'<li id="finding-{len(items) + 1}"><span class="sev {_e(row.severity)}">'
            f"{_e(row.severity)}</span> {_e(row.title)} "
            f'<a href="#{_e(anchor)}">evidence</a>'
            f'<span class="evidence">{_e(row.evidence)}{next_step}</span></li>'
        )
    unchecked = found.attrs.get("unchecked") or {}
    note = (
        '<p class="note">Not checked: '
        + "; ".join(f"{_escape(k)} ({_escape(v)})" for k, v in unchecked.items())
        + ".</p>"
        if unchecked
        else ""
    )
    if not items:
        return "<p>Nothing stands out: no failure, stall, slow outlier or overhead.</p>" + note
    return f'<ol class="findings">{"".join(items)}</ol>' + note


def _document(
    job: Job,
    heading: str,
    figures: Sequence[_Figure],
    files: str,
    logs: _FailureLogs | None = None,
    cost: _Cost | None = None,
) -> str:
    from .version import __version__

    df = job.actions
    table = summarize(df)
    total = table.loc[TOTAL_LABEL]
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    chart_sections = []
    for figure in figures:
        body = (
            f"<figure>{figure.markup}<figcaption>{_escape(files)}/{figure.name}.png and "
            f".svg</figcaption></figure>"
            + (f'<p class="note">{_escape(figure.note)}</p>' if figure.note else "")
            if figure.markup
            else f'<p class="muted">{_escape(figure.note)}</p>'
        )
        chart_sections.append(
            f'<h3 id="chart-{figure.name}">{_escape(CHARTS[figure.name].heading)}</h3>{body}'
        )
    log_html, linked = _logs_section(df, logs) if logs is not None else ("", set())
    drawn = {figure.name for figure in figures if figure.markup}
    sections = [
        ("findings", "Findings", _findings(job, frozenset(linked), drawn)),
        ("summary", "Summary", _cards(total, cost) + _cost_section(cost) + _summary_table(table)),
        ("steps", "Steps", _steps_table(job.steps)),
        ("failures", "Failed actions", _failures(df, logs, frozenset(linked))),
        *([("logs", "Logs of failed actions", log_html)] if logs is not None else []),
        ("retries", "Retried tasks", _retried(df)),
        ("slowest", f"Slowest {_SLOWEST} task runs", _slowest(df)),
        ("charts", "Charts", "".join(chart_sections)),
    ]
    contents = "".join(
        f'<li><a href="#{key}">{_escape(name)}</a></li>' for key, name, _ in sections
    )
    body = "".join(
        f'<section id="{key}"><h2>{_escape(name)}</h2>{content}</section>'
        for key, name, content in sections
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="deadline_nb {_escape(__version__)}">\n'
        f"<title>{_escape(heading)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<header><h1>{_escape(heading)}</h1>"
        f'<p class="muted">AWS Deadline Cloud job postmortem, generated {generated}.</p>'
        f"{_identity(job)}</header>\n"
        f"<nav><ol>{contents}</ol></nav>\n{body}\n"
        "<footer><p>Times are in UTC. Next to this file, in "
        f"<code>{_escape(files)}/</code>: each chart as PNG and SVG, every session "
        "action of the job as <code>actions.parquet</code>"
        + (
            f", and every log line of the failed actions as <code>{FAILED_LOGS_FILE}</code>"
            if logs is not None and logs.lines is not None
            else ""
        )
        + " (read them with <code>deadline_nb.read_parquet</code>).</p>"
        f"<p>Written by deadline_nb {_escape(__version__)}; no network needed to view it.</p>"
        "</footer>\n</body>\n</html>\n"
    )
