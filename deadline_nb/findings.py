"""Findings: the first paragraph of a postmortem, written from a job's frames.

:func:`diagnose` reads a job (or a frame of its session actions) and says what went wrong, where,
and what to look at next: one row per finding, most severe first, each with the numbers in its
title, the evidence in a short text, the actions, tasks and workers concerned, and a next step (a
plot call, a ``grep_logs`` pattern, an action id).

Pure pandas and NumPy, like :mod:`deadline_nb.summary`: findings never fetch on their own (only
``diagnose(job, fetch=True)`` asks the job for what it has not fetched yet). Every threshold is a
keyword argument of :func:`diagnose`, documented there with the reason for its default; a finding
that the data given cannot support is not guessed but listed in ``result.attrs["unchecked"]``.

The kinds, in the order a TD reads them:

``systematic_failure``
    failed actions that share an error: the same normalised last log line (with the logs) or the
    same exit code (without), named (137: killed, often out of memory; -1073741819: a Windows
    access violation).
``failing_worker``
    a worker whose task runs fail far more often than the rest of the job's (a one-sided Fisher
    exact test).
``memory``
    task runs whose memory peaked near their worker's total, and the exit-137 kills among them.
``flaky_tasks``, ``interrupted``
    tasks that failed and then succeeded on retry, runs cut short by a lost worker; what the
    repeats cost.
``stalled``, ``stuck_progress``
    running actions whose worker stopped reporting, or whose progress stopped moving.
``slow_outliers``, ``slow_trend``
    task runs far slower than their step's typical run (median and MAD), and a step whose frame
    times grow through the sequence (Spearman's rank correlation).
``overhead``, ``idle``
    environment setup and attachment sync, or idle time inside sessions, as a large share of the
    session time.
``never_attempted``
    tasks that never ran because the job failed or was canceled.
``failed_cost``
    the share of the job's cost spent on failed attempts.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd

from . import schema
from .errors import AwsError, bad_argument, bad_argument_type
from .frames.access import NAT, column_codes, column_strings, effective_ends, utc_ns
from .summary import exit_code_name
from .text import environment_name, format_seconds, short_id

if TYPE_CHECKING:
    from .fetch import Job

__all__ = ["FINDING_KINDS", "diagnose", "findings_text"]

#: Every kind of finding, in the order :func:`diagnose` checks them.
FINDING_KINDS: Final[tuple[str, ...]] = (
    "systematic_failure",
    "failing_worker",
    "memory",
    "flaky_tasks",
    "interrupted",
    "stalled",
    "stuck_progress",
    "slow_outliers",
    "slow_trend",
    "overhead",
    "idle",
    "never_attempted",
    "failed_cost",
)

# Resource and cost columns, read from the frames by name (the resource and usage frames define
# them; a frame without them leaves the memory and cost findings unchecked).
_MEM_PEAK: Final = "memPeakBytes"
_MEM_TOTAL: Final = "memTotalBytes"
_MEM_PERCENT: Final = "memPeakPercent"
_SAMPLES: Final = "metricSamples"
_COST_COLUMNS: Final = ("cost.sum", "costInUsd.sum")

_LOST_WORKER_STATUSES: Final = ("INTERRUPTED", "RECLAIMED")
_RUNNING_STATUSES: Final = ("RUNNING", "CANCELING")
# 137 = 128 + SIGKILL: what the Linux out-of-memory killer leaves; -9 when the agent reports
# the signal itself.
_KILLED: Final = frozenset({137, -9})
_MAD_TO_SD: Final = 1.4826  # MAD * this estimates the standard deviation of a normal sample
_NS: Final = 1_000_000_000
_SHOWN: Final = 5  # ids and labels named in a title or evidence text; the columns hold them all


@dataclass
class _Finding:
    severity: str
    kind: str
    title: str
    evidence: str
    actions: Sequence[str] = ()
    tasks: Sequence[str] = ()
    workers: Sequence[str] = ()
    next: str = ""
    weight: float = 0.0  # orders findings of one severity: larger first


@dataclass
class _Inputs:
    """What one diagnosis reads: the actions and whatever else is at hand."""

    actions: pd.DataFrame
    tasks: pd.DataFrame | None = None
    snapshots: pd.DataFrame | None = None
    logs: pd.DataFrame | None = None
    cost: pd.DataFrame | None = None
    job: dict[str, Any] | None = None
    is_job: bool = False
    unchecked: dict[str, str] = field(default_factory=dict)


def diagnose(
    job_or_actions: Job | pd.DataFrame,
    *,
    fetch: bool = False,
    asof: Any = None,
    min_failures: int = 3,
    worker_alpha: float = 0.001,
    min_tasks: int = 3,
    stale_heartbeats: float = 4.0,
    stuck_minutes: float = 10.0,
    min_runs: int = 10,
    outlier_mads: float = 5.0,
    outlier_ratio: float = 3.0,
    trend_min_runs: int = 20,
    trend_rho: float = 0.5,
    trend_ratio: float = 1.5,
    overhead_share: float = 0.25,
    idle_share: float = 0.2,
    min_overhead_minutes: float = 5.0,
    memory_percent: float = 90.0,
    flaky_share: float = 0.05,
    cost_share: float = 0.1,
) -> pd.DataFrame:
    """Say what went wrong in a job, where, and what to look at next, each claim with evidence.

    Parameters
    ----------
    job_or_actions
        A :class:`~deadline_nb.Job`: its actions, tasks and progress snapshots, and the logs,
        resources and cost it has already fetched (``job.logs``, ``job.resources``,
        ``job.cost`` once read). Or a frame of session actions (``job.actions``,
        ``job.resources``, :func:`deadline_nb.session_action_frame`): then what its columns
        allow (no ``workerId``: no failing worker; no resource columns: no memory finding).
    fetch
        With a job, first read what it has not fetched (its logs, resources and cost; a read
        that fails leaves that check undone and says why). Default False: nothing is fetched.
    asof
        The instant the data was fetched, for ``stalled`` (anything ``pandas.Timestamp``
        reads; naive is UTC). Default: the latest instant the data shows (any action's start,
        end or heartbeat, any snapshot), a lower bound of the fetch time, so that a frame read
        hours later does not make every running action look stalled.
    min_failures
        A worker is named only with at least this many distinct failed tasks: one failure on a
        worker (or one bad task retried on it) is never a finding. Three is the smallest count
        a test of 8 to 100 workers can call unlikely by chance.
    worker_alpha
        The one-sided Fisher exact test's p-value (times the number of workers tested, the
        Bonferroni correction) under which a worker's failure rate is "far above the rest". A
        farm tests dozens of workers per job; 0.001 keeps false alarms to about one in a
        thousand jobs.
    min_tasks
        Failures sharing an error on at least this many tasks are systematic (a warning even
        when retries fixed them); flaky tasks this many or more are a warning. Three: two can
        be a coincidence, three is a pattern a TD wants to hear of.
    stale_heartbeats
        A running action whose last heartbeat (``workerUpdatedAt``) is older than this many
        agent heartbeats (``schema.HEARTBEAT_SECONDS``, 15 s) at ``asof`` is stalled. Four
        (a minute) rides out a heartbeat or two lost to the network.
    stuck_minutes
        A running action whose progress percentage has not moved across the cache's progress
        snapshots for this many minutes (by the worker's own heartbeat times) is stuck. Ten
        minutes: render frames report progress every few minutes at least.
    min_runs
        A step needs this many finished task runs for its median and MAD to mean something.
    outlier_mads, outlier_ratio
        A run is a slow outlier when it took longer than the step's median plus this many
        (normal-scaled) MADs *and* this many times the median: the MAD test alone flags
        harmless 20 % variations of very regular steps; 3x the median is what a TD calls
        stuck. The defaults leave a shot's slower mid-section frames (twice the median) alone.
    trend_min_runs, trend_rho, trend_ratio
        A step trends upward when it has this many finished runs in sequence, Spearman's rank
        correlation of duration with the frame (or chunk) is at least ``trend_rho`` (and
        significant: ``rho * sqrt(n - 1) >= 3``, p < 0.002), and its last quarter of frames
        takes at least ``trend_ratio`` times as long as its first quarter (a minimum effect
        size: a significant 5 % growth is no news).
    overhead_share, idle_share, min_overhead_minutes
        A step's environment enter/exit and attachment sync time over its session time at or
        above ``overhead_share``, or its idle time inside sessions (what no action covers,
        :func:`deadline_nb.summarize`'s ``overhead``) at or above ``idle_share``, is a finding
        when that time is also at least ``min_overhead_minutes``: a quarter of a session spent
        setting up means tasks too short or sessions too many; five minutes is worth a look.
    memory_percent
        A task run whose peak memory reached this percentage of its worker's total came near
        it: at 90 % the page cache is squeezed and the out-of-memory killer is close.
    flaky_share
        Flaky tasks are a warning when their failed runs cost at least this share of the job's
        task-run time (or they are ``min_tasks`` or more).
    cost_share
        The cost spent on failed attempts is a warning at or above this share of the job's.

    Returns
    -------
    pandas.DataFrame
        One row per finding, most severe first, with the columns of
        :data:`deadline_nb.schema.FINDING_COLUMNS`: ``severity`` (ordered: critical, warning,
        info), ``kind`` (see :data:`FINDING_KINDS`), ``title`` (one sentence with the
        numbers), ``evidence``, ``sessionActionIds``, ``taskIds``, ``workerIds`` (tuples) and
        ``next``. ``attrs["unchecked"]`` maps each kind that could not be checked (fully) to
        why: ``{"memory": "no resource columns ..."}``.

    Raises
    ------
    TypeError
        When ``job_or_actions`` is neither a job nor a DataFrame.
    ValueError
        When a threshold is out of its range, or the frame has no ``sessionActionId``.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm.model import JOBS, FarmModel
    >>> model = FarmModel(seed=0)
    >>> actions = dnb.session_action_frame(
    ...     model.session_actions(model.job_by_name(JOBS["failing"]).job_id))
    >>> found = dnb.diagnose(actions)
    >>> found.loc[0, ["severity", "kind"]].tolist()
    ['critical', 'systematic_failure']
    >>> print(found.loc[0, "title"])  # doctest: +NORMALIZE_WHITESPACE
    3 task runs of 1 task failed with exit code -1073741819 (0xC0000005 access violation); 1 task
    failed for good; first at 2026-03-04 10:17:24 UTC.
    >>> sorted(found.attrs["unchecked"])[:2]
    ['failed_cost', 'failing_worker']
    """
    _check_thresholds(locals())
    inputs = _inputs(job_or_actions, fetch)
    df = inputs.actions
    d = _Data(df, inputs)
    found: list[_Finding] = []
    found += _systematic(d, inputs, min_tasks)
    found += _failing_workers(d, inputs, min_failures, worker_alpha)
    found += _memory(d, inputs, memory_percent)
    found += _flaky(d, min_tasks, flaky_share)
    found += _interrupted(d)
    found += _stalled(d, inputs, asof, stale_heartbeats)
    found += _stuck(d, inputs, stuck_minutes)
    found += _outliers(d, min_runs, outlier_mads, outlier_ratio)
    found += _trends(d, trend_min_runs, trend_rho, trend_ratio)
    found += _overhead(d, overhead_share, idle_share, min_overhead_minutes)
    found += _never_attempted(d, inputs)
    found += _failed_cost(d, inputs, cost_share)
    return _frame(found, inputs.unchecked)


def findings_text(findings: pd.DataFrame, *, evidence: bool = False) -> list[str]:
    """The findings as lines of text, one each: ``CRITICAL  <title>`` (for a terminal or a log).

    Parameters
    ----------
    findings
        A frame from :func:`diagnose`.
    evidence
        Add each finding's evidence and next step, indented, under its title.

    Returns
    -------
    list of str
        One line per finding (more with ``evidence``), then one ``not checked:`` line per kind
        in ``findings.attrs["unchecked"]``; ``["No findings."]`` when there are none.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm.model import JOBS, FarmModel
    >>> model = FarmModel(seed=0)
    >>> actions = dnb.session_action_frame(
    ...     model.session_actions(model.job_by_name(JOBS["simulation"]).job_id))
    >>> findings_text(dnb.diagnose(actions))[0]
    'No findings.'
    """
    lines: list[str] = []
    for row in findings.itertuples(index=False):
        lines.append(f"{str(row.severity).upper():<9}{row.title}")
        if evidence:
            lines.append(f"         {row.evidence!s}")
            if row.next:
                lines.append(f"         next: {row.next!s}")
    if not lines:
        lines.append("No findings.")
    for kind, why in (findings.attrs.get("unchecked") or {}).items():
        lines.append(f"not checked: {kind} ({why})")
    return lines


# ---------------------------------------------------------------------------------------------
# inputs


def _check_thresholds(values: dict[str, Any]) -> None:
    for name in ("min_failures", "min_tasks", "min_runs", "trend_min_runs"):
        if not isinstance(values[name], (int, np.integer)) or values[name] < 1:
            raise bad_argument(name, "be a positive whole number", values[name])
    for name in ("worker_alpha", "overhead_share", "idle_share", "flaky_share", "cost_share"):
        if not 0 < float(values[name]) <= 1:
            raise bad_argument(name, "be a share above 0 and at most 1", values[name])
    for name in (
        "stale_heartbeats",
        "stuck_minutes",
        "outlier_mads",
        "outlier_ratio",
        "trend_ratio",
        "min_overhead_minutes",
    ):
        if not float(values[name]) > 0:
            raise bad_argument(name, "be positive", values[name])
    if not 0 < float(values["trend_rho"]) <= 1:
        raise bad_argument("trend_rho", "be above 0 and at most 1", values["trend_rho"])
    if not 0 < float(values["memory_percent"]) <= 100:
        raise bad_argument("memory_percent", "be a percentage above 0", values["memory_percent"])


def _inputs(source: Any, fetch: bool) -> _Inputs:
    if isinstance(source, pd.DataFrame):
        if "sessionActionId" not in source.columns:
            raise bad_argument(
                "job_or_actions", "have a sessionActionId column", list(source.columns)
            )
        inputs = _Inputs(actions=source)
        inputs.unchecked["stuck_progress"] = "no progress snapshots (a Job has them)"
        if "workerId" not in source.columns:
            inputs.unchecked["failing_worker"] = "no workerId column (deadline_nb.load_job adds it)"
        inputs.unchecked["systematic_failure"] = (
            "by exit code only: no logs (diagnose a Job whose logs were read)"
        )
        if _MEM_PEAK not in source.columns and _MEM_PERCENT not in source.columns:
            inputs.unchecked["memory"] = "no resource columns (diagnose job.resources)"
        inputs.unchecked["failed_cost"] = "no cost (diagnose a Job whose cost was read)"
        inputs.unchecked["never_attempted"] = (
            "only tasks that appear in the actions (a Job's tasks count the others)"
        )
        return inputs
    if not all(hasattr(source, name) for name in ("actions", "tasks", "snapshots", "job")):
        raise bad_argument_type(
            "job_or_actions", "a deadline_nb.Job or a DataFrame of session actions", source
        )
    unchecked: dict[str, str] = {}

    def held(name: str) -> pd.DataFrame | None:
        # What the job already has; with fetch=True, what it reads now (a failure is reported).
        value = getattr(source, f"_{name}", None)
        if value is not None or not fetch or not hasattr(type(source), name):
            return value
        try:
            fetched: pd.DataFrame = getattr(source, name)
        except AwsError as error:
            unchecked[name] = f"its {name} could not be read: {str(error).rstrip('. ')}"
            return None
        return fetched

    logs = held("logs")
    resources = held("resources")
    cost = held("cost")
    actions = resources if resources is not None else source.actions
    inputs = _Inputs(
        actions=actions,
        tasks=source.tasks,
        snapshots=source.snapshots,
        logs=logs,
        cost=cost,
        job=source.job,
        is_job=True,
    )
    if logs is None:
        inputs.unchecked["systematic_failure"] = unchecked.get(
            "logs", "by exit code only: the job's logs were not read (fetch=True reads them)"
        )
    if resources is None and _MEM_PEAK not in actions.columns:
        inputs.unchecked["memory"] = unchecked.get(
            "resources",
            "the job's resources were not read (fetch=True reads them)"
            if hasattr(type(source), "resources")
            else "the job has no resources (worker metrics) to read",
        )
    if cost is None:
        inputs.unchecked["failed_cost"] = unchecked.get(
            "cost",
            "the job's cost was not read (fetch=True reads it)"
            if hasattr(type(source), "cost")
            else "the job has no cost to read",
        )
    if source.snapshots is None or not len(source.snapshots):
        inputs.unchecked["stuck_progress"] = "no progress snapshots (the cache keeps them)"
    return inputs


class _Data:
    """The actions as NumPy arrays, computed once and shared by every check."""

    def __init__(self, df: pd.DataFrame, inputs: _Inputs) -> None:
        self.df = df
        self.n = len(df)
        self.ids = column_strings(df, "sessionActionId").to_numpy()
        self.types = column_strings(df, "actionType").to_numpy()
        self.status = column_strings(df, "status").to_numpy()
        self.start, self.end, self.open = effective_ends(df)
        self.ended = utc_ns(df, "endedAt")
        self.updated = utc_ns(df, "workerUpdatedAt")
        self.attempted = self.start != NAT
        self.runs = self.types == "taskRun"
        self.spent = np.where(self.attempted, self.end - self.start, 0)
        self.task, self.task_names = column_codes(df, "taskId")
        self.has_workers = "workerId" in df.columns and bool(df["workerId"].notna().any())
        self.worker, self.worker_names = column_codes(df, "workerId")
        self.codes = (
            df["processExitCode"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
            if "processExitCode" in df.columns
            else np.full(self.n, np.nan)
        )
        step_column = "stepName" if "stepName" in df.columns else "stepId"
        self.step, self.step_names = column_codes(df, step_column)
        if step_column == "stepName" and "stepId" in df.columns:
            # a step whose name is unknown keeps its id rather than vanish
            ids, id_names = column_codes(df, "stepId")
            missing = (self.step < 0) & (ids >= 0)
            if missing.any():
                extra = {c: len(self.step_names) + i for i, c in enumerate(np.unique(ids[missing]))}
                self.step_names = [*self.step_names, *(id_names[c] for c in extra)]
                self.step[missing] = [extra[c] for c in ids[missing]]
        self.params = [c for c in df.columns if c.startswith(schema.PARAMETER_PREFIX)]
        self._succeeded_tasks: np.ndarray | None = None

    def succeeded_tasks(self) -> np.ndarray:
        """Per task code: whether a run of it succeeded."""
        if self._succeeded_tasks is None:
            ok = np.zeros(len(self.task_names) + 1, dtype=bool)
            mask = self.runs & (self.status == "SUCCEEDED") & (self.task >= 0)
            ok[self.task[mask]] = True
            self._succeeded_tasks = ok[:-1] if len(ok) > 1 else np.zeros(0, dtype=bool)
        return self._succeeded_tasks

    def task_ids(self, rows: np.ndarray) -> list[str]:
        codes = self.task[rows]
        return _unique([self.task_names[c] for c in codes if c >= 0])

    def worker_ids(self, rows: np.ndarray) -> list[str]:
        codes = self.worker[rows]
        return _unique([self.worker_names[c] for c in codes if c >= 0])

    def action_ids(self, rows: np.ndarray) -> list[str]:
        return [str(i) for i in self.ids[rows]]

    def step_name(self, code: int) -> str:
        return self.step_names[code] if 0 <= code < len(self.step_names) else "(no step)"

    def listed(self, rows: np.ndarray) -> str:
        """What a TD calls these task runs, the first few: ``Frame=7, Frame=9 and 3 more``.

        A run is named by its parameters (else its task); each task once. Only the names shown
        are made: a finding about thousands of runs costs no more than one about five.
        """
        codes = self.task[rows]
        _, first = np.unique(codes, return_index=True)
        distinct = rows[np.sort(first)]
        names = []
        for row in distinct[:_SHOWN]:
            values: list[tuple[str, Any]] = [(c, self.df[c].iat[row]) for c in self.params]
            parts = [
                f"{c[len(schema.PARAMETER_PREFIX) :]}={v}" for c, v in values if not pd.isna(v)
            ]
            code = self.task[row]
            names.append(", ".join(parts) or (self.task_names[code] if code >= 0 else "?"))
        more = len(distinct) - len(names)
        return ", ".join(names) + (f" and {more} more" if more > 0 else "")


# ---------------------------------------------------------------------------------------------
# failures


def _systematic(d: _Data, inputs: _Inputs, min_tasks: int) -> list[_Finding]:
    """Failed actions grouped by what they share: their last log line, else their exit code."""
    failed = np.flatnonzero(d.status == "FAILED")
    if not len(failed):
        return []
    keys: list[tuple[str, str]] = []
    lines: dict[str, str] = {}
    if inputs.logs is not None and len(inputs.logs):
        from .frames.logs import failure_lines

        table = failure_lines(inputs.logs, d.df.iloc[failed])
        normalized = column_strings(table, "normalized").to_numpy()
        raw = column_strings(table, "line").to_numpy()
        by_id = {
            str(i): (n, r)
            for i, n, r, source in zip(
                table["sessionActionId"], normalized, raw, table["source"].astype(str), strict=True
            )
            if n is not None and source != "exit code"
        }
    else:
        by_id = {}
    for row in failed:
        known = by_id.get(str(d.ids[row]))
        if known is not None:
            keys.append(("line", known[0]))
            lines.setdefault(known[0], known[1])
        else:
            code = d.codes[row]
            keys.append(("code", "missing" if np.isnan(code) else str(int(code))))
    # The last failure of each task that never succeeded: the job lost that task to it.
    succeeded = d.succeeded_tasks()
    lost_rows: set[int] = set()
    final: dict[int, int] = {}
    for row in failed.tolist():
        code = int(d.task[row])
        later = code not in final or d.start[row] >= d.start[final[code]]
        if d.runs[row] and code >= 0 and not succeeded[code] and later:
            final[code] = row
    active_tasks = set(d.task[d.runs & np.isin(d.status, schema.ACTIVE_STATUSES)].tolist())
    lost_rows = {row for code, row in final.items() if code not in active_tasks}
    groups: dict[tuple[str, str], list[int]] = {}
    for group, row in zip(keys, failed.tolist(), strict=True):
        groups.setdefault(group, []).append(int(row))
    found = []
    for (how, text), rows_list in groups.items():
        rows = np.array(rows_list)
        found.append(_failure_group(d, how, text, rows, lines.get(text), lost_rows, min_tasks))
    return found


def _failure_group(
    d: _Data,
    how: str,
    key: str,
    rows: np.ndarray,
    line: str | None,
    lost_rows: set[int],
    min_tasks: int,
) -> _Finding:
    codes = sorted({int(c) for c in d.codes[rows] if not np.isnan(c)})
    named = [f"{c} ({exit_code_name(c)})" if exit_code_name(c) else str(c) for c in codes]
    code_text = ", ".join(named) if named else "no exit code"
    tasks = d.task_ids(rows)
    workers = d.worker_ids(rows)
    lost = sorted(r for r in rows.tolist() if r in lost_rows)
    run_rows = rows[d.runs[rows]]
    env_rows = rows[np.isin(d.types[rows], ("envEnter", "envExit"))]
    when = d.ended[rows]
    first = int(when[when != NAT].min()) if (when != NAT).any() else int(d.start[rows].min())
    what = _failed_what(d, run_rows, env_rows, len(rows), len(tasks))
    shown = _cut(re.sub(r"\s+", " ", key), 120)
    if how == "line" and len(rows) > 1:
        title = f"{what} ended with the same error: “{shown}” (exit code {code_text})"
    elif how == "line":
        title = f"{what} failed with “{shown}” (exit code {code_text})"
    else:
        title = f"{what} failed with exit code {code_text}"
    if lost:
        title += f"; {_n(len(lost), 'task')} failed for good"
    title += f"; first at {_clock(first)}."
    killed = any(c in _KILLED for c in codes)
    crash = any(exit_code_name(c) and c not in (1, 2) for c in codes)
    if lost:
        severity = "critical"
    elif len(tasks) >= min_tasks or killed or crash or len(env_rows):
        severity = "warning"
    else:
        severity = "info"
    steps = _unique([d.step_name(c) for c in d.step[rows] if c >= 0])
    evidence = [_n(len(rows), "failed action") + (f" in {', '.join(steps)}" if steps else "")]
    if len(run_rows):
        evidence.append(f"task runs: {d.listed(run_rows)}")
    if len(env_rows):
        envs = _unique(
            environment_name(str(e))
            for e in column_strings(d.df, "environmentId").to_numpy()[env_rows]
            if e is not None
        )
        evidence.append(f"environments: {_listed(envs)}")
    if workers:
        evidence.append(f"on {_n(len(workers), 'worker')}: {_listed(_short_ids(workers))}")
    if killed:
        evidence.append("exit 137 is SIGKILL: usually the out-of-memory killer")
    if line is not None:
        evidence.append(f"first such line: {_cut(line, 200)}")
    first_row = rows[np.argmin(np.where(when != NAT, when, np.iinfo(np.int64).max))]
    if how == "line":
        # the normalised line's longest literal run is a pattern grep_logs finds as plain text
        literal = max(re.split(r"<[a-z]+>", key), key=len).strip()
        next_step = f"dnb.grep_logs(job, {literal!r}, regex=False)"
    else:
        next_step = f"job.action_log({str(d.ids[first_row])!r})"
    return _Finding(
        severity,
        "systematic_failure",
        title,
        "; ".join(evidence) + ".",
        d.action_ids(rows),
        tasks,
        workers,
        next_step,
        weight=len(lost) * 1e6 + len(tasks) * 1e3 + len(rows),
    )


def _failed_what(d: _Data, runs: np.ndarray, envs: np.ndarray, total: int, tasks: int) -> str:
    parts = []
    if len(runs):
        parts.append(f"{_n(len(runs), 'task run')} of {_n(tasks, 'task')}")
    if len(envs):
        parts.append(_n(len(envs), "environment action"))
    other = total - len(runs) - len(envs)
    if other:
        parts.append(_n(other, "other action"))
    return " and ".join(parts)


def _failing_workers(d: _Data, inputs: _Inputs, min_failures: int, alpha: float) -> list[_Finding]:
    if not d.has_workers:
        return []
    outcome = d.runs & d.attempted & np.isin(d.status, ("SUCCEEDED", "FAILED")) & (d.worker >= 0)
    if not outcome.any():
        return []
    workers = d.worker[outcome]
    failed = d.status[outcome] == "FAILED"
    count = np.bincount(workers, minlength=len(d.worker_names))
    fails = np.bincount(workers, weights=failed, minlength=len(d.worker_names)).astype(int)
    total, total_failed = int(count.sum()), int(fails.sum())
    tested = int((count > 0).sum())
    if total_failed < min_failures or tested < 2:
        return []
    found = []
    rows_all = np.flatnonzero(outcome)
    for w in np.flatnonzero(fails >= min_failures):
        mine = rows_all[(workers == w) & failed]
        distinct = len(d.task_ids(mine))
        if distinct < min_failures:
            continue  # one bad task retried on this worker is the task's problem
        n_w, f_w = int(count[w]), int(fails[w])
        rest_n, rest_f = total - n_w, total_failed - f_w
        if rest_n and f_w / n_w <= rest_f / rest_n:
            continue
        p = min(1.0, _hypergeom_tail(f_w, n_w, total_failed, total) * tested)
        if p > alpha:
            continue
        worker = d.worker_names[w]
        mine_tasks = np.unique(d.task[mine][d.task[mine] >= 0])
        elsewhere = d.succeeded_tasks()[mine_tasks]
        rate = f_w / n_w
        rest_rate = rest_f / rest_n if rest_n else 0.0
        title = (
            f"Worker {short_id(worker)} failed {f_w} of its {n_w} task runs ({rate:.0%}), "
            f"against {rest_rate:.0%} on the other {tested - 1} workers."
        )
        evidence = (
            f"One-sided Fisher exact test, Bonferroni-corrected over {tested} workers: "
            f"p = {p:.1e}; {int(elsewhere.sum())} of its {distinct} failed tasks succeeded "
            f"on another worker; exit codes {_code_counts(d, mine)}."
        )
        found.append(
            _Finding(
                "critical" if rate >= 0.5 else "warning",
                "failing_worker",
                title,
                evidence,
                d.action_ids(mine),
                d.task_ids(mine),
                [worker],
                f"dnb.plot_timeline(job.actions[job.actions.workerId == {worker!r}])",
                weight=f_w,
            )
        )
    return found


def _hypergeom_tail(k: int, n: int, failures: int, total: int) -> float:
    """P(X >= k) for X ~ Hypergeometric: ``n`` runs drawn from ``total`` of which ``failures``.

    The one-sided Fisher exact test of a worker's failures against the rest of the job's.
    """
    log_fact = _log_factorials(total)

    def log_choose(a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
        return np.asarray(log_fact[a] - log_fact[b] - log_fact[np.subtract(a, b)])

    x = np.arange(max(k, n - (total - failures)), min(n, failures) + 1)
    if not len(x):
        return 0.0
    terms = log_choose(failures, x) + log_choose(total - failures, n - x) - log_choose(total, n)
    return float(min(1.0, np.exp(terms).sum()))


def _log_factorials(n: int) -> np.ndarray:
    """log(i!) for i = 0 .. n."""
    return np.concatenate(([0.0], np.cumsum(np.log(np.arange(1, n + 1, dtype=np.float64)))))


def _code_counts(d: _Data, rows: np.ndarray) -> str:
    values = pd.Series(d.codes[rows]).value_counts(dropna=False)
    return ", ".join(f"{'none' if np.isnan(c) else int(c)} ×{int(v)}" for c, v in values.items())


def _memory(d: _Data, inputs: _Inputs, percent: float) -> list[_Finding]:
    df = d.df
    if _MEM_PERCENT in df.columns:
        peak = df[_MEM_PERCENT].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    elif _MEM_PEAK in df.columns and _MEM_TOTAL in df.columns:
        used = df[_MEM_PEAK].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        total = df[_MEM_TOTAL].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            peak = np.where(total > 0, 100.0 * used / total, np.nan)
    else:
        return []
    measured = d.runs & ~np.isnan(peak)
    killed = d.runs & np.isin(d.codes, list(_KILLED))
    if not measured.any():
        if killed.any():
            inputs.unchecked.setdefault(
                "memory", "no memory samples fell inside the killed task runs"
            )
        return []
    near = np.flatnonzero(measured & (peak >= percent))
    if not len(near):
        return []
    both = near[killed[near]]
    total_bytes = (
        df[_MEM_TOTAL].astype("Float64").to_numpy(dtype=float, na_value=np.nan)[near]
        if _MEM_TOTAL in df.columns
        else np.array([np.nan])
    )
    title = (
        f"{_n(len(near), 'task run')} peaked at {percent:.0f}% or more of their worker's memory "
        f"(the highest {np.nanmax(peak[near]):.0f}%)"
    )
    if len(both):
        title += f"; {len(both)} of them exited 137 (killed, out of memory)"
    title += "."
    killed_elsewhere = int(killed.sum()) - len(both)
    evidence = [f"task runs: {d.listed(near)}"]
    if not np.isnan(total_bytes).all():
        evidence.append(f"worker memory {_gib(float(np.nanmax(total_bytes)))}")
    if killed_elsewhere:
        evidence.append(
            f"{_n(killed_elsewhere, 'other exit-137 run')} did not come near the total "
            "(or had no samples)"
        )
    return [
        _Finding(
            "critical" if len(both) else "warning",
            "memory",
            title,
            "; ".join(evidence) + ".",
            d.action_ids(near),
            d.task_ids(near),
            d.worker_ids(near),
            "dnb.plot_memory(job.resources)",
            weight=len(both) * 1e3 + len(near),
        )
    ]


# ---------------------------------------------------------------------------------------------
# repeats


def _flaky(d: _Data, min_tasks: int, share: float) -> list[_Finding]:
    failed_runs = d.runs & (d.status == "FAILED") & (d.task >= 0)
    if not failed_runs.any():
        return []
    succeeded = d.succeeded_tasks()
    # the latest success of each task: a failure before it was fixed by a retry
    last_ok = np.full(len(d.task_names), NAT, dtype=np.int64)
    ok = d.runs & (d.status == "SUCCEEDED") & (d.task >= 0)
    np.maximum.at(last_ok, d.task[ok], d.start[ok])
    rows = np.flatnonzero(failed_runs)
    rows = rows[succeeded[d.task[rows]] & (d.start[rows] < last_ok[d.task[rows]])]
    if not len(rows):
        return []
    tasks = d.task_ids(rows)
    cost = int(d.spent[rows].sum())
    run_time = int(d.spent[d.runs].sum())
    fraction = cost / run_time if run_time else 0.0
    title = (
        f"{_n(len(tasks), 'task')} failed and then succeeded on retry ({d.listed(rows)}); "
        f"their {_n(len(rows), 'failed run')} cost {format_seconds(cost / _NS)} of worker time "
        f"({fraction:.1%} of all task-run time)."
    )
    severity = "warning" if len(tasks) >= min_tasks or fraction >= share else "info"
    return [
        _Finding(
            severity,
            "flaky_tasks",
            title,
            f"exit codes of the failed runs: {_code_counts(d, rows)}; "
            f"on {_n(len(d.worker_ids(rows)), 'worker')}.",
            d.action_ids(rows),
            tasks,
            d.worker_ids(rows),
            f"job.action_log({str(d.ids[rows[0]])!r})",
            weight=len(tasks),
        )
    ]


def _interrupted(d: _Data) -> list[_Finding]:
    rows = np.flatnonzero(d.runs & d.attempted & np.isin(d.status, _LOST_WORKER_STATUSES))
    if not len(rows):
        return []
    lost = int(d.spent[rows].sum())
    counts = pd.Series(d.status[rows]).value_counts()
    kinds = ", ".join(f"{int(v)} {k}" for k, v in counts.items())
    workers = d.worker_ids(rows)
    title = (
        f"{_n(len(rows), 'task run')} were cut short by a lost worker ({kinds}); "
        f"{format_seconds(lost / _NS)} of work was run again."
    )
    return [
        _Finding(
            "info",
            "interrupted",
            title,
            f"task runs: {d.listed(rows)}; workers: {_listed(_short_ids(workers))}.",
            d.action_ids(rows),
            d.task_ids(rows),
            workers,
            "dnb.plot_timeline(job.actions, hue='status')",
            weight=len(rows),
        )
    ]


# ---------------------------------------------------------------------------------------------
# running actions


def _asof(d: _Data, inputs: _Inputs, asof: Any) -> int:
    if asof is not None:
        stamp = pd.Timestamp(asof)
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        return int(stamp.value)
    latest = [d.start.max(), d.ended.max(), d.updated.max()] if d.n else []
    if inputs.snapshots is not None and len(inputs.snapshots):
        latest.append(utc_ns(inputs.snapshots, "workerUpdatedAt").max())
    return int(max(latest)) if latest else NAT


def _stalled(d: _Data, inputs: _Inputs, asof: Any, heartbeats: float) -> list[_Finding]:
    running = np.flatnonzero(np.isin(d.status, _RUNNING_STATUSES))
    if not len(running):
        return []
    now = _asof(d, inputs, asof)
    heard = np.where(d.updated[running] != NAT, d.updated[running], d.start[running])
    limit = int(heartbeats * schema.HEARTBEAT_SECONDS * _NS)
    late = (heard != NAT) & (now - heard > limit)
    rows = running[late]
    if not len(rows):
        return []
    silence = now - heard[late]
    workers = d.worker_ids(rows)
    title = (
        f"{_n(len(rows), 'running action')} last heard from their worker "
        f"{format_seconds(float(silence.min()) / _NS)} to "
        f"{format_seconds(float(silence.max()) / _NS)} before {_clock(now)} "
        f"(more than {heartbeats:g} heartbeats of {schema.HEARTBEAT_SECONDS:g} s)."
    )
    evidence = f"actions: {d.listed(rows)}"
    if workers:
        evidence += f"; workers: {_listed(_short_ids(workers))} (are they still up?)"
    return [
        _Finding(
            "warning",
            "stalled",
            title,
            evidence + ".",
            d.action_ids(rows),
            d.task_ids(rows),
            workers,
            f"job.refresh(); job.action_log({str(d.ids[rows[0]])!r})",
            weight=len(rows),
        )
    ]


def _stuck(d: _Data, inputs: _Inputs, minutes: float) -> list[_Finding]:
    snaps = inputs.snapshots
    running = np.isin(d.status, _RUNNING_STATUSES)
    if snaps is None or not len(snaps) or not running.any():
        return []
    running_ids = set(d.ids[running].tolist())
    ids = column_strings(snaps, "sessionActionId")
    mine = ids.isin(running_ids).to_numpy()
    if not mine.any():
        return []
    table = pd.DataFrame(
        {
            "id": ids[mine].to_numpy(),
            "t": utc_ns(snaps, "workerUpdatedAt")[mine],
            "seen": utc_ns(snaps, "observedAt")[mine],
            "p": snaps["progressPercent"]
            .astype("Float64")
            .to_numpy(dtype=float, na_value=np.nan)[mine],
        }
    )
    table["t"] = np.where(table["t"] != NAT, table["t"], table["seen"])
    table = table.sort_values(["id", "t"])
    stuck: dict[str, float] = {}
    for action_id, group in table.groupby("id", sort=False):
        p = group["p"].to_numpy()
        t = group["t"].to_numpy()
        if len(p) < 2 or np.isnan(p[-1]):
            continue
        # the latest run of snapshots that show the latest percentage
        same = p == p[-1]
        start = len(p) - 1
        while start > 0 and same[start - 1]:
            start -= 1
        span = (int(t[-1]) - int(t[start])) / _NS
        if start < len(p) - 1 and span >= minutes * 60:
            stuck[str(action_id)] = span
    # The action's own latest heartbeat extends the span, when it still shows the same progress.
    if not stuck:
        return []
    position = {a: i for i, a in enumerate(d.ids.tolist())}
    rows = np.array([position[a] for a in stuck])
    spans = np.array(list(stuck.values()))
    workers = d.worker_ids(rows)
    title = (
        f"{_n(len(rows), 'running action')} reported the same progress for "
        f"{format_seconds(float(spans.min()))}"
        + (f" to {format_seconds(float(spans.max()))}" if len(rows) > 1 else "")
        + " while their worker kept reporting."
    )
    return [
        _Finding(
            "warning",
            "stuck_progress",
            title,
            f"actions: {d.listed(rows)}; progress from the cache's snapshots.",
            d.action_ids(rows),
            d.task_ids(rows),
            workers,
            "dnb.plot_progress(job.actions, snapshots=job.snapshots)",
            weight=len(rows),
        )
    ]


# ---------------------------------------------------------------------------------------------
# durations


def _finished_runs(d: _Data) -> np.ndarray:
    return d.runs & (d.status == "SUCCEEDED") & (d.ended != NAT) & (d.step >= 0)


def _outliers(d: _Data, min_runs: int, mads: float, ratio: float) -> list[_Finding]:
    finished = np.flatnonzero(_finished_runs(d))
    if not len(finished):
        return []
    seconds = d.spent[finished] / _NS
    frame = pd.DataFrame({"step": d.step[finished], "s": seconds, "row": finished})
    found = []
    for step, group in frame.groupby("step", sort=True):
        if len(group) < min_runs:
            continue
        s = group["s"].to_numpy()
        median = float(np.median(s))
        mad = float(np.median(np.abs(s - median))) * _MAD_TO_SD
        limit = max(median + mads * mad, ratio * median)
        slow = group["row"].to_numpy()[s > limit]
        if not len(slow):
            continue
        slow = slow[np.argsort(-d.spent[slow])]
        took = d.spent[slow] / _NS
        name = d.step_name(int(step))
        title = (
            f"{_n(len(slow), 'task run')} of {name} took {took.min() / median:.1f}x to "
            f"{took.max() / median:.1f}x the step's median of {format_seconds(median)} "
            f"({_listed([format_seconds(t) for t in took])}): {d.listed(slow)}."
        )
        workers = d.worker_ids(slow)
        evidence = (
            f"{len(s)} finished runs of {name}: median {format_seconds(median)}, MAD-based "
            f"spread {format_seconds(mad)}; slower than {format_seconds(limit)} counts"
            + (f"; workers: {_listed(_short_ids(workers))}" if workers else "")
            + "."
        )
        found.append(
            _Finding(
                "warning",
                "slow_outliers",
                title,
                evidence,
                d.action_ids(slow),
                d.task_ids(slow),
                workers,
                "dnb.plot_frame_times(job.actions)",
                weight=float(took.sum()),
            )
        )
    return found


def _sequence(d: _Data, rows: np.ndarray) -> np.ndarray:
    """Where each task run is in its step's sequence: its frame (the first numeric parameter,
    a chunk's first frame), else its task's index."""
    for column in d.params:
        values = d.df[column].iloc[rows]
        if pd.api.types.is_numeric_dtype(values.dtype):
            numbers = values.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        else:
            first = values.astype("string").str.extract(r"^\s*(-?\d+)", expand=False)
            numbers = pd.to_numeric(first, errors="coerce").to_numpy(dtype=float)
        if np.isfinite(numbers).mean() >= 0.9:
            return numbers
    names = np.array([d.task_names[c] if c >= 0 else "" for c in d.task[rows]], dtype=object)
    tail = pd.Series(names).str.extract(r"-(\d+)$", expand=False)
    return pd.to_numeric(tail, errors="coerce").to_numpy(dtype=float)


def _trends(d: _Data, min_runs: int, rho_min: float, ratio: float) -> list[_Finding]:
    finished = np.flatnonzero(_finished_runs(d))
    if len(finished) < min_runs:
        return []
    found = []
    steps = d.step[finished]
    for step in np.unique(steps):
        rows = finished[steps == step]
        if len(rows) < min_runs:
            continue
        x = _sequence(d, rows)
        keep = np.isfinite(x)
        rows, x = rows[keep], x[keep]
        if len(rows) < min_runs or len(np.unique(x)) < min_runs:
            continue
        y = d.spent[rows] / _NS
        rho = _spearman(x, y)
        n = len(rows)
        if not rho >= rho_min or rho * math.sqrt(n - 1) < 3.0:
            continue
        order = np.argsort(x, kind="stable")
        quarter = max(n // 4, 1)
        early = float(np.median(y[order[:quarter]]))
        late = float(np.median(y[order[-quarter:]]))
        if early <= 0 or late / early < ratio:
            continue
        name = d.step_name(int(step))
        title = (
            f"{name}'s task runs grow slower through the sequence: the last quarter's median "
            f"{format_seconds(late)} is {late / early:.1f}x the first quarter's "
            f"{format_seconds(early)} (Spearman rho {rho:.2f} over {n} runs)."
        )
        found.append(
            _Finding(
                "warning",
                "slow_trend",
                title,
                f"rho * sqrt(n - 1) = {rho * math.sqrt(n - 1):.1f} (3 or more: p < 0.002); "
                "often a cache, a simulation or a scene that grows frame by frame.",
                d.action_ids(rows[order[-quarter:]]),
                d.task_ids(rows[order[-quarter:]]),
                (),
                "dnb.plot_frame_times(job.actions)",
                weight=late / early,
            )
        )
    return found


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    rx = pd.Series(x).rank().to_numpy()
    ry = pd.Series(y).rank().to_numpy()
    if rx.std() == 0 or ry.std() == 0:
        return 0.0
    return float(np.corrcoef(rx, ry)[0, 1])


def _overhead(d: _Data, share: float, idle_share: float, minutes: float) -> list[_Finding]:
    """Setup and idle time per step, counted as :func:`deadline_nb.summarize` counts them."""
    if not d.attempted.any():
        return []
    times = _step_times(d)
    found = []
    least = minutes * 60
    for step, (session, env, sync, runs_time, idle, sessions, runs) in times.items():
        if session <= 0:
            continue
        setup = env + sync
        label = d.step_name(step)
        in_step = np.flatnonzero(d.step == step)
        if setup / session >= share and setup >= least:
            title = (
                f"Environment enter/exit and attachment sync took {setup / session:.0%} of "
                f"{label}'s session time ({format_seconds(setup)} of {format_seconds(session)}): "
                f"{sessions} sessions ran {runs} task runs, {runs / max(sessions, 1):.1f} each."
            )
            found.append(
                _Finding(
                    "warning",
                    "overhead",
                    title,
                    f"environments {format_seconds(env)}, syncs {format_seconds(sync)}, task "
                    f"runs {format_seconds(runs_time)}; fewer, longer sessions (more tasks, or "
                    "more frames per task) spread the setup.",
                    (),
                    (),
                    d.worker_ids(in_step),
                    "dnb.plot_timeline(job.actions, hue='actionType')",
                    weight=setup / session,
                )
            )
        if idle / session >= idle_share and idle >= least:
            title = (
                f"Workers sat idle inside {label}'s sessions for {idle / session:.0%} of the "
                f"session time ({format_seconds(idle)} of {format_seconds(session)})."
            )
            found.append(
                _Finding(
                    "warning",
                    "idle",
                    title,
                    "Time between one action's end and the next one's start in the same "
                    "session (deadline_nb.summarize's overhead): the agent waiting, uploading "
                    "outputs, or being starved of CPU.",
                    (),
                    (),
                    d.worker_ids(in_step),
                    "dnb.plot_timeline(job.actions, lanes='session')",
                    weight=idle / session,
                )
            )
    return found


def _step_times(d: _Data) -> dict[int, tuple[float, float, float, float, float, int, int]]:
    """Per step: session, environment, sync, task-run and idle seconds, sessions, task runs.

    :func:`deadline_nb.summarize`'s rules (an environment action belongs to its session's
    step; a session's time runs from its first start to its last end; idle is what its
    actions do not cover), in NumPy: summarize's table costs as much as all the findings.
    """
    session, _ = column_codes(d.df, "sessionId")
    steps = len(d.step_names)
    session_step = np.full(int(session.max()) + 2 if len(session) else 1, -1, dtype=np.int64)
    known = (d.step >= 0) & (session >= 0)
    session_step[session[known]] = d.step[known]
    step = np.where(d.step >= 0, d.step, session_step[session])
    rows = d.attempted & (step >= 0) & (session >= 0)
    if not rows.any():
        return {}
    key = session[rows] * (steps + 1) + step[rows]
    spans = pd.DataFrame({"k": key, "a": d.start[rows], "b": d.end[rows]}).groupby("k")
    first, last = spans["a"].min(), spans["b"].max()
    span_step = (first.index.to_numpy() % (steps + 1)).astype(np.int64)
    per = step[rows]
    spent = d.spent[rows].astype(np.float64)
    types = d.types[rows]

    def total(weights: np.ndarray, where: np.ndarray) -> np.ndarray:
        return np.bincount(where, weights=weights, minlength=steps)

    session_ns = total((last - first).to_numpy().astype(np.float64), span_step)
    env = total(np.where(np.isin(types, ("envEnter", "envExit")), spent, 0.0), per)
    sync = total(np.where(types == "syncInputJobAttachments", spent, 0.0), per)
    run_time = total(np.where(types == "taskRun", spent, 0.0), per)
    busy = total(spent, per)
    sessions = np.bincount(span_step, minlength=steps)
    runs = np.bincount(per[types == "taskRun"], minlength=steps)
    return {
        s: (
            session_ns[s] / _NS,
            env[s] / _NS,
            sync[s] / _NS,
            run_time[s] / _NS,
            max(session_ns[s] - busy[s], 0.0) / _NS,
            int(sessions[s]),
            int(runs[s]),
        )
        for s in range(steps)
    }


# ---------------------------------------------------------------------------------------------
# what never ran, what it cost


def _never_attempted(d: _Data, inputs: _Inputs) -> list[_Finding]:
    status = (inputs.job or {}).get("taskRunStatus")
    tasks = inputs.tasks
    if tasks is not None and len(tasks):
        ran = set(d.task_ids(np.flatnonzero(d.runs & d.attempted)))
        ids = column_strings(tasks, "taskId")
        started = utc_ns(tasks, "startedAt") != NAT
        runs = column_strings(tasks, "runStatus").to_numpy()
        never = (
            ~started
            & ~ids.isin(ran).to_numpy()
            & np.isin(runs, sorted(schema.FINISHED_TASK_RUN_STATUSES - {"SUCCEEDED"}))
        )
        never_ids = [str(t) for t in ids[never]]
        total = len(tasks)
    else:
        active = d.runs & np.isin(d.status, schema.ACTIVE_STATUSES)
        codes = d.task[d.runs & (d.task >= 0)]
        if not len(codes):
            return []
        tried = np.zeros(len(d.task_names), dtype=bool)
        busy = np.zeros(len(d.task_names), dtype=bool)
        tried[d.task[d.runs & d.attempted & (d.task >= 0)]] = True
        busy[d.task[active & (d.task >= 0)]] = True
        seen = np.zeros(len(d.task_names), dtype=bool)
        seen[codes] = True
        never_codes = np.flatnonzero(seen & ~tried & ~busy)
        never_ids = [d.task_names[c] for c in never_codes]
        total = int(seen.sum())
    if not never_ids:
        return []
    canceled = status == "CANCELED" or (
        status is None and bool((d.runs & (d.status == "CANCELED")).any())
    )
    failed = status == "FAILED" or (
        status is None and bool((d.runs & (d.status == "FAILED")).any())
    )
    if not canceled and not failed:
        return []  # still to come, or suspended by someone: not something that went wrong
    why = "the job was canceled" if canceled else "the job failed"
    cut = d.runs & (d.status == "CANCELED") & d.attempted
    title = f"{len(never_ids)} of {total} tasks never ran because {why}"
    if cut.any():
        title += f"; {_n(int(cut.sum()), 'running task run')} were cut short"
    title += "."
    position = {name: i for i, name in enumerate(d.task_names)}
    never_codes = np.array([position[t] for t in never_ids if t in position], dtype=np.int64)
    rows = np.flatnonzero(d.runs & np.isin(d.task, never_codes))
    return [
        _Finding(
            "info" if canceled else "warning",
            "never_attempted",
            title,
            f"tasks: {_listed(never_ids)}; requeue them to run them.",
            d.action_ids(rows),
            never_ids,
            (),
            "job.tasks[job.tasks.startedAt.isna()]",
            weight=len(never_ids),
        )
    ]


def _failed_cost(d: _Data, inputs: _Inputs, share: float) -> list[_Finding]:
    cost = inputs.cost
    if cost is None:
        return []
    column = next((c for c in _COST_COLUMNS if c in cost.columns), None)
    if column is None or not len(cost):
        inputs.unchecked["failed_cost"] = (
            f"the cost frame has none of the columns {', '.join(_COST_COLUMNS)}"
        )
        return []
    total_cost = float(pd.to_numeric(cost[column], errors="coerce").sum())
    busy = int(d.spent.sum())
    failed = np.flatnonzero(d.runs & d.attempted & (d.status == "FAILED"))
    if total_cost <= 0 or busy <= 0 or not len(failed):
        return []
    spent = int(d.spent[failed].sum())
    fraction = spent / busy
    title = (
        f"About ${total_cost * fraction:,.2f} ({fraction:.0%}) of the job's "
        f"${total_cost:,.2f} went to failed attempts ({_n(len(failed), 'task run')}, "
        f"{format_seconds(spent / _NS)} of {format_seconds(busy / _NS)} worker time)."
    )
    return [
        _Finding(
            "warning" if fraction >= share else "info",
            "failed_cost",
            title,
            "The job's cost shared out by worker time: failed task runs over the time of all "
            "its session actions.",
            d.action_ids(failed),
            d.task_ids(failed),
            d.worker_ids(failed),
            "job.cost",
            weight=fraction,
        )
    ]


# ---------------------------------------------------------------------------------------------
# the result


def _frame(found: list[_Finding], unchecked: dict[str, str]) -> pd.DataFrame:
    rank = {s: i for i, s in enumerate(schema.SEVERITIES)}
    kinds = {k: i for i, k in enumerate(FINDING_KINDS)}
    found = sorted(found, key=lambda f: (rank[f.severity], kinds[f.kind], -f.weight))
    if not found:
        out = schema.empty_frame(schema.FINDING_COLUMNS)
    else:
        out = pd.DataFrame(
            {
                "severity": pd.Series([f.severity for f in found], dtype=schema.SEVERITY),
                "kind": pd.array([f.kind for f in found], dtype=schema.STRING),
                "title": pd.array([f.title for f in found], dtype=schema.STRING),
                "evidence": pd.array([f.evidence for f in found], dtype=schema.STRING),
                "sessionActionIds": [tuple(f.actions) for f in found],
                "taskIds": [tuple(f.tasks) for f in found],
                "workerIds": [tuple(f.workers) for f in found],
                "next": pd.array([f.next for f in found], dtype=schema.STRING),
            }
        )
    out.attrs["unchecked"] = dict(sorted(unchecked.items()))
    return out


# ---------------------------------------------------------------------------------------------
# wording


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _unique(values: Any) -> list[str]:
    return list(dict.fromkeys(str(v) for v in values))


def _listed(values: Sequence[str]) -> str:
    values = list(values)
    shown = ", ".join(values[:_SHOWN])
    return shown + (f" and {len(values) - _SHOWN} more" if len(values) > _SHOWN else "")


def _short_ids(values: Sequence[str]) -> list[str]:
    return [short_id(v) for v in values]


def _cut(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: chars - 1] + "…"


def _clock(ns: int) -> str:
    if ns == NAT:
        return "an unknown time"
    return pd.Timestamp(ns, unit="ns", tz="UTC").strftime("%Y-%m-%d %H:%M:%S UTC")


def _gib(value: float) -> str:
    return f"{value / 2**30:.0f} GiB"
