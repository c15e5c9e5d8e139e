"""Numbers for a postmortem: a per-step table of a job's session actions, and exit-code names.

Pure pandas and NumPy, like :mod:`deadline_nb.frames`: no matplotlib, no boto3. The private
helpers here (times as integers, lanes, step labels, effective ends) are shared by
:mod:`deadline_nb.plots` and :mod:`deadline_nb.trace`, so that a table, a plot and a trace of the
same frame count the same things the same way.

What the numbers mean (the same rules everywhere):

* An action is *attempted* when it has a ``startedAt``; ``NEVER_ATTEMPTED``, ``ASSIGNED`` and
  ``SCHEDULED`` actions have none and take no time.
* An attempted action *ends* at ``endedAt``; one still running (no ``endedAt``) ends, for now, at
  its last update from the worker (``workerUpdatedAt``), never before it started.
* A *session's time* is from its first action's start to its last action's end; what the
  session's actions do not cover is *within-session overhead* (scheduling, the agent, uploads), as
  the official CLI's ``deadline job trace-schedule`` reports it.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from . import schema
from .frames.access import (
    NAT,
    column_codes,
    column_strings,
    effective_ends,
    ns_to_seconds,
    session_time_ns,
    step_labels,
    utc_ns,
)

__all__ = ["Completion", "exit_code_name", "summarize"]


#: Windows NTSTATUS codes a crashed process exits with (as an unsigned 32-bit value).
_NTSTATUS: Final[dict[int, str]] = {
    0xC0000005: "access violation",
    0xC00000FD: "stack overflow",
    0xC0000409: "stack buffer overrun (fail-fast)",
    0xC0000374: "heap corruption",
    0xC0000017: "out of memory",
    0xC000001D: "illegal instruction",
    0xC0000094: "integer divide by zero",
    0xC0000096: "privileged instruction",
    0xC0000135: "DLL not found",
    0xC0000142: "DLL initialization failed",
    0xC000013A: "terminated by Ctrl+C",
    0x40010004: "terminated (killed by another process)",
}

#: POSIX signals by their Linux numbers (the worker agent's hosts), with what they usually mean.
_SIGNALS: Final[dict[int, tuple[str, str]]] = {
    1: ("SIGHUP", "hangup"),
    2: ("SIGINT", "interrupted"),
    3: ("SIGQUIT", "quit"),
    4: ("SIGILL", "illegal instruction"),
    5: ("SIGTRAP", "trap"),
    6: ("SIGABRT", "aborted"),
    7: ("SIGBUS", "bus error"),
    8: ("SIGFPE", "floating-point exception"),
    9: ("SIGKILL", "killed, often by the out-of-memory killer"),
    11: ("SIGSEGV", "segmentation fault"),
    13: ("SIGPIPE", "broken pipe"),
    14: ("SIGALRM", "alarm"),
    15: ("SIGTERM", "terminated"),
    24: ("SIGXCPU", "CPU time limit exceeded"),
    25: ("SIGXFSZ", "file size limit exceeded"),
}

_PLAIN_CODES: Final[dict[int, str]] = {
    0: "success",
    1: "general error",
    2: "misuse of a command (bad arguments)",
    126: "command not executable",
    127: "command not found",
}


def exit_code_name(code: int | None) -> str | None:
    """Name a process exit code: a Windows NTSTATUS crash, a POSIX signal, or a shell convention.

    Parameters
    ----------
    code
        A ``processExitCode`` as the API gives it: signed 32-bit, so Windows crash codes are
        negative. ``128 + n`` and ``-n`` are read as "killed by signal n".

    Returns
    -------
    str or None
        A short name, or ``None`` for a code with no common meaning (or a missing one).

    Examples
    --------
    >>> from deadline_nb.summary import exit_code_name
    >>> exit_code_name(-1073741819)
    '0xC0000005 access violation'
    >>> exit_code_name(137)
    'SIGKILL (128+9): killed, often by the out-of-memory killer'
    >>> exit_code_name(42) is None
    True
    """
    if code is None or pd.isna(code):
        return None
    code = int(code)
    unsigned = code & 0xFFFFFFFF
    if unsigned in _NTSTATUS:
        return f"0x{unsigned:08X} {_NTSTATUS[unsigned]}"
    if code in _PLAIN_CODES:
        return _PLAIN_CODES[code]
    if 128 < code < 160 and code - 128 in _SIGNALS:
        name, meaning = _SIGNALS[code - 128]
        return f"{name} (128+{code - 128}): {meaning}"
    if -64 < code < 0 and -code in _SIGNALS:
        name, meaning = _SIGNALS[-code]
        return f"{name} ({code}): {meaning}"
    return None


# ---------------------------------------------------------------------------------------------
# the ETA rule


class Completion:
    """Task runs completed over time, and when the rest will be done at the recent rate.

    The one rule for an ETA, shared by :func:`deadline_nb.plot_progress` and the widgets' progress
    line: the rate over the latest half of the completions (a job speeds up as workers join),
    carried on from the latest update to ``remaining`` more completions.
    """

    def __init__(self, df: pd.DataFrame, tasks: int | None = None) -> None:
        types = column_strings(df, "actionType").to_numpy()
        status = column_strings(df, "status").to_numpy()
        runs = types == "taskRun"
        start, end, _ = effective_ends(df)
        self.done_at = np.sort(end[runs & (status == "SUCCEEDED") & (end != NAT)])
        self.failed_at = np.sort(end[runs & (status == "FAILED") & (end != NAT)])
        taken = column_strings(df, "taskId")[runs]
        # A running job's frame holds only the tasks a worker has taken so far: `tasks` is the
        # job's own count, when the caller knows it.
        self.total = max(int(taken.nunique()) or int(runs.sum()), tasks or 0)
        self.remaining = max(self.total - len(self.done_at), 0)
        started = start[runs & (start != NAT)]
        self.first = int(started.min()) if len(started) else NAT
        ended = end[end != NAT]
        updated = utc_ns(df, "workerUpdatedAt")
        latest = [int(ended.max())] if len(ended) else []
        if (updated != NAT).any():
            latest.append(int(updated[updated != NAT].max()))
        self.asof = max(latest) if latest else NAT
        # Only a job still going gets an ETA: a finished job with a task out of retries is done.
        self.going = bool(np.isin(status, schema.ACTIVE_STATUSES).any())

    @property
    def eta(self) -> int | None:
        """The ETA in ns since the epoch, or None (finished, nothing left, too few finished)."""
        done = self.done_at
        if not self.going or self.remaining <= 0 or len(done) < 2:
            return None
        half = done[len(done) // 2 :]
        span = max(int(half[-1] - half[0]), 1)
        rate = (
            (len(half) - 1) / span if len(half) > 1 else len(done) / max(self.asof - self.first, 1)
        )
        if rate <= 0:
            return None
        return int(self.asof + self.remaining / rate)


# ---------------------------------------------------------------------------------------------
# summarize

#: The columns of :func:`summarize`, in order.
SUMMARY_COLUMNS: Final[tuple[str, ...]] = (
    "actions",
    "tasks",
    "taskRuns",
    "succeeded",
    "failed",
    "interrupted",
    "neverAttempted",
    "retriedTasks",
    "medianDuration",
    "p95Duration",
    "maxDuration",
    "taskRunTime",
    "envTime",
    "syncTime",
    "busyTime",
    "sessions",
    "sessionTime",
    "overhead",
    "workers",
    "startedAt",
    "endedAt",
)

#: The columns :func:`summarize` adds when the frame has the resource columns
#: (``schema.RESOURCE_COLUMNS``, from :func:`deadline_nb.resource_frame` or ``job.resources``).
RESOURCE_SUMMARY_COLUMNS: Final[tuple[str, ...]] = (
    "memPeakBytes",
    "memPeakPercent",
    "sampledTaskRuns",
)

TOTAL_LABEL: Final[str] = "All steps"


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Summarize a job's session actions: one row per step and a row of job totals.

    Parameters
    ----------
    df
        A session-action frame (:func:`deadline_nb.session_action_frame`, or a job's actions from
        :func:`deadline_nb.load_job`, whose ``stepName`` and ``workerId`` are used when present).

    Returns
    -------
    pandas.DataFrame
        Indexed by step (name, else id), then a last row ``"All steps"`` computed over the whole
        frame (not a sum of the rows: a session that ran two steps counts once). Columns:

        ``actions``
            session actions of the step, every type and status;
        ``tasks``, ``taskRuns``
            distinct tasks, and task-run actions attempted (each retry counts);
        ``succeeded``, ``failed``, ``interrupted``, ``neverAttempted``
            task-run actions by outcome (``interrupted`` includes reclaimed and canceled);
        ``retriedTasks``
            tasks with more than one attempted run;
        ``medianDuration``, ``p95Duration``, ``maxDuration``
            of finished task runs;
        ``taskRunTime``, ``envTime``, ``syncTime``, ``busyTime``
            time in task runs, environment enter/exit, attachment syncs, and all three (running
            actions count up to their last update);
        ``sessions``, ``sessionTime``, ``overhead``
            sessions, their summed time (first start to last end), and the part of it no action
            covers (within-session overhead);
        ``workers``
            distinct workers (missing without ``workerId``);
        ``startedAt``, ``endedAt``
            first start and last end.

        With the resource columns (``job.resources``), also:

        ``memPeakBytes``, ``memPeakPercent``
            the highest memory any of the step's task runs saw on its worker (missing when
            none has samples);
        ``sampledTaskRuns``
            attempted task runs with at least one host-metrics sample in their window.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm.model import JOBS, FarmModel
    >>> from deadline_nb.summary import summarize
    >>> model = FarmModel(seed=0)
    >>> job = model.job_by_name(JOBS["failing"])
    >>> table = summarize(dnb.session_action_frame(model.session_actions(job.job_id)))
    >>> table.loc["All steps", ["taskRuns", "succeeded", "failed", "retriedTasks"]].tolist()
    [67, 59, 8, 5]
    """
    steps = step_labels(df)
    rows: dict[str, dict[str, object]] = {}
    if len(df):
        step_codes, step_names = pd.factorize(steps, use_na_sentinel=True)
        for i, name in enumerate(step_names):
            rows[str(name)] = _totals(df[step_codes == i])
        if (step_codes < 0).any():
            rows["(no step)"] = _totals(df[step_codes < 0])
    rows[TOTAL_LABEL] = _totals(df)
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "step"
    if "memPeakBytes" in df.columns and "metricSamples" in df.columns:
        return table[[*SUMMARY_COLUMNS, *RESOURCE_SUMMARY_COLUMNS]].astype(
            {
                "memPeakBytes": pd.Int64Dtype(),
                "memPeakPercent": pd.Float64Dtype(),
                "sampledTaskRuns": "int64",
            }
        )
    return table[list(SUMMARY_COLUMNS)]


def _totals(df: pd.DataFrame) -> dict[str, object]:
    start, end, _ = effective_ends(df)
    attempted = start != NAT
    spent = np.where(attempted, end - start, 0)
    types = column_strings(df, "actionType").to_numpy()
    status = column_strings(df, "status").to_numpy()
    is_run = types == "taskRun"
    runs = is_run & attempted
    finished = runs & (utc_ns(df, "endedAt") != NAT)
    durations = ns_to_seconds(spent[finished])
    tasks = column_strings(df, "taskId")[is_run]
    attempts = tasks[runs[is_run]].value_counts()
    session_names = column_codes(df, "sessionId")[1]
    session_time = session_time_ns(df, start, end)
    busy = int(spent.sum())
    workers = int(df["workerId"].nunique()) if "workerId" in df.columns else pd.NA

    def td(ns: float) -> object:
        return pd.Timedelta(int(ns), unit="ns")

    def pct(q: float) -> object:
        if not len(durations):
            return pd.NaT
        # to the millisecond, the API's precision: an interpolated p95 has no more
        return td(round(float(np.percentile(durations, q)) * 1000) * 1_000_000)

    def when(ns: np.ndarray, fn: str) -> object:
        if not len(ns):
            return pd.NaT
        return pd.Timestamp(int(getattr(ns, fn)()), unit="ns", tz="UTC")

    resources: dict[str, object] = {}
    if "memPeakBytes" in df.columns and "metricSamples" in df.columns:
        sampled = runs & (df["metricSamples"].fillna(0).to_numpy(dtype=np.int64) > 0)
        peaks = df["memPeakBytes"].astype("Float64").to_numpy(np.float64, na_value=np.nan)
        percents = df["memPeakPercent"].astype("Float64").to_numpy(np.float64, na_value=np.nan)
        have = sampled & ~np.isnan(peaks)
        have_pct = sampled & ~np.isnan(percents)
        resources = {
            "memPeakBytes": int(peaks[have].max()) if have.any() else pd.NA,
            "memPeakPercent": float(percents[have_pct].max()) if have_pct.any() else pd.NA,
            "sampledTaskRuns": int(sampled.sum()),
        }
    return {
        **resources,
        "actions": len(df),
        "tasks": int(tasks.nunique()),
        "taskRuns": int(runs.sum()),
        "succeeded": int((is_run & (status == "SUCCEEDED")).sum()),
        "failed": int((is_run & (status == "FAILED")).sum()),
        "interrupted": int(
            (is_run & np.isin(status, ["INTERRUPTED", "CANCELED", "RECLAIMED"])).sum()
        ),
        "neverAttempted": int((is_run & (status == "NEVER_ATTEMPTED")).sum()),
        "retriedTasks": int((attempts > 1).sum()),
        "medianDuration": pct(50),
        "p95Duration": pct(95),
        "maxDuration": pct(100),
        "taskRunTime": td(spent[is_run].sum()),
        "envTime": td(spent[np.isin(types, ["envEnter", "envExit"])].sum()),
        "syncTime": td(spent[types == "syncInputJobAttachments"].sum()),
        "busyTime": td(busy),
        "sessions": len(session_names),
        "sessionTime": td(session_time),
        "overhead": td(max(session_time - busy, 0)),
        "workers": workers,
        "startedAt": when(start[attempted], "min"),
        "endedAt": when(end[attempted], "max"),
    }
