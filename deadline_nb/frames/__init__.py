"""Deadline Cloud API results -> pandas DataFrames. Pure: no boto3 client, no network.

The frame functions take what boto3 returns (aware ``datetime`` objects) or what the AWS CLI
prints (ISO-8601 strings, or epoch seconds), in any mix, and give frames whose columns and dtypes
are fixed by :mod:`deadline_nb.schema` -- the same for one action, a million, or none. A value that
cannot be read is dropped and warned about, never guessed; an item without its id is an error (the
rules are in :mod:`~deadline_nb.frames.actions`).

The modules, in the order data flows through them:

* :mod:`~deadline_nb.frames.actions` -- :func:`session_action_frame`, its NumPy reader, the
  compiled reader ``_speedups`` (built from ``_speedups.pyx`` beside it) and :func:`use_reader`;
* :mod:`~deadline_nb.frames.records` -- sessions, steps and tasks: :func:`session_frame`,
  :func:`step_frame`, :func:`task_frame`;
* :mod:`~deadline_nb.frames.companions` -- the long forms that join back on
  ``sessionActionId``: :func:`parameter_frame`, :func:`limit_frame`, :func:`manifest_frame`;
* :mod:`~deadline_nb.frames.ops` -- frames already built: :func:`job_action_frame`,
  :func:`sort_actions`, :func:`concat_frames`;
* :mod:`~deadline_nb.frames.logs` -- session logs: :func:`log_frame` (each line with its
  action and banner section), :func:`grep_log_frame`, :func:`annotate_log_lines`,
  :func:`action_log_text`, :func:`normalize_log_line`, :func:`failure_lines`;
* :mod:`~deadline_nb.frames.usage` -- usage statistics: :func:`statistics_frame` (the usage
  frame), and a job's cost spread over steps and task runs (:func:`step_costs`,
  :func:`action_costs`);
* :mod:`~deadline_nb.frames.metrics` -- worker host metrics: :func:`metrics_frame` (the
  agent's metrics lines) and :func:`resource_frame` (samples joined to session actions);
* :mod:`~deadline_nb.frames.files` -- :func:`read_json`, :func:`write_json`, :func:`read_parquet`,
  :func:`write_csv` (text cells a spreadsheet would run as formulas neutralised);
* shared inside the package: :mod:`~deadline_nb.frames.convert` (value conversions) and
  :mod:`~deadline_nb.frames.parameters` (task parameter values); shared with the rest of the
  package: :mod:`~deadline_nb.frames.access` (reading a frame's columns back).
"""

from __future__ import annotations

from .actions import READERS, current_reader, session_action_frame, use_reader
from .companions import limit_frame, manifest_frame, parameter_frame
from .files import csv_safe, read_json, read_parquet, write_csv, write_json
from .logs import (
    action_log_text,
    annotate_log_lines,
    failure_lines,
    grep_log_frame,
    last_error_line,
    log_frame,
    normalize_log_line,
    normalize_log_lines,
)
from .metrics import metrics_frame, resource_frame
from .ops import concat_frames, job_action_frame, sort_actions
from .records import session_frame, step_frame, task_frame
from .usage import action_costs, statistics_frame, step_costs

__all__ = [
    "READERS",
    "action_costs",
    "action_log_text",
    "annotate_log_lines",
    "concat_frames",
    "csv_safe",
    "current_reader",
    "failure_lines",
    "grep_log_frame",
    "job_action_frame",
    "last_error_line",
    "limit_frame",
    "log_frame",
    "manifest_frame",
    "metrics_frame",
    "normalize_log_line",
    "normalize_log_lines",
    "parameter_frame",
    "read_json",
    "read_parquet",
    "resource_frame",
    "session_action_frame",
    "session_frame",
    "sort_actions",
    "statistics_frame",
    "step_costs",
    "step_frame",
    "task_frame",
    "use_reader",
    "write_csv",
    "write_json",
]
