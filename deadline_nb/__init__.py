"""deadline_nb: investigate AWS Deadline Cloud render jobs in JupyterLab.

Session actions (GetSessionAction, BatchGetSessionAction, ListSessionActions results) become pandas
DataFrames with stable columns and dtypes; see :func:`session_action_frame`.

Nothing heavy is imported here: the public names load their module on first use, so that
``import deadline_nb`` stays fast in a notebook and in the command line.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import TYPE_CHECKING, Any

from .version import __version__

# Silent unless the application configures logging: a library never prints on its own.
logging.getLogger("deadline_nb").addHandler(logging.NullHandler())

if "IPython" in sys.modules:  # a notebook: errors read as one sentence (see errors.py)
    from .errors import short_tracebacks

    short_tracebacks()


# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "session_action_frame": "frames",
    "parameter_frame": "frames",
    "limit_frame": "frames",
    "manifest_frame": "frames",
    "session_frame": "frames",
    "read_json": "frames",
    "write_json": "frames",
    "read_parquet": "frames",
    "step_frame": "frames",
    "task_frame": "frames",
    "job_action_frame": "frames",
    "log_frame": "frames",
    "grep_log_frame": "frames",
    "annotate_log_lines": "frames",
    "action_log_text": "frames",
    "normalize_log_line": "frames",
    "normalize_log_lines": "frames",
    "last_error_line": "frames",
    "failure_lines": "frames",
    "metrics_frame": "frames",
    "resource_frame": "frames",
    "client": "aws",
    "Cache": "cache",
    "Job": "fetch",
    "fetch_job": "fetch",
    "fetch_session_action_frame": "fetch",
    "fetch_session_actions": "fetch",
    "fetch_sessions": "fetch",
    "fetch_steps": "fetch",
    "fetch_tasks": "fetch",
    "list_farms": "fetch",
    "list_jobs": "fetch",
    "search_jobs": "fetch",
    "job_filter": "fetch",
    "JobPage": "fetch",
    "list_queues": "fetch",
    "load_job": "fetch",
    "fetch_session_logs": "fetch",
    "grep_logs": "fetch",
    "action_log": "fetch",
    "usage_frame": "fetch",
    "fetch_usage_statistics": "fetch",
    "cost_per_step": "fetch",
    "cost_per_frame": "fetch",
    "statistics_frame": "frames",
    "plot_usage": "plots",
    "fetch_worker_metrics": "fetch",
    "plot_timeline": "plots",
    "plot_frame_times": "plots",
    "plot_durations": "plots",
    "plot_progress": "plots",
    "plot_concurrency": "plots",
    "plot_status": "plots",
    "plot_exit_codes": "plots",
    "plot_memory": "plots",
    "save_figure": "plots",
    "summarize": "summary",
    "exit_code_name": "summary",
    "to_chrome_trace": "trace",
    "JobPicker": "widgets",
    "Explorer": "widgets",
    "explore": "widgets",
    "watch": "widgets",
    "write_report": "report",
    "diagnose": "findings",
    "findings_text": "findings",
    "sync_history": "queue_history",
    "read_history": "queue_history",
    "compact_history": "history_compact",
    "history": "history_db",
    "History": "history_db",
    "plot_trend": "plots",
    "plot_compare": "plots",
}
_SUBMODULES = (
    "aws",
    "cache",
    "charts",
    "errors",
    "fetch",
    "findings",
    "frames",
    "history_db",
    "localfarm",
    "plots",
    "queue_history",
    "report",
    "schema",
    "summary",
    "trace",
    "widgets",
)

__all__ = sorted([*_EXPORTS, *_SUBMODULES, "__version__"])

if TYPE_CHECKING:
    from . import (
        aws,
        cache,
        charts,
        errors,
        fetch,
        findings,
        frames,
        history_db,
        localfarm,
        plots,
        queue_history,
        report,
        schema,
        summary,
        trace,
    )
    from .aws import client
    from .cache import Cache
    from .fetch import (
        Job,
        JobPage,
        action_log,
        cost_per_frame,
        cost_per_step,
        fetch_job,
        fetch_session_action_frame,
        fetch_session_actions,
        fetch_session_logs,
        fetch_sessions,
        fetch_steps,
        fetch_tasks,
        fetch_usage_statistics,
        fetch_worker_metrics,
        grep_logs,
        job_filter,
        list_farms,
        list_jobs,
        list_queues,
        load_job,
        search_jobs,
        usage_frame,
    )
    from .findings import diagnose, findings_text
    from .frames import (
        action_log_text,
        annotate_log_lines,
        failure_lines,
        grep_log_frame,
        job_action_frame,
        last_error_line,
        limit_frame,
        log_frame,
        manifest_frame,
        metrics_frame,
        normalize_log_line,
        normalize_log_lines,
        parameter_frame,
        read_json,
        read_parquet,
        resource_frame,
        session_action_frame,
        session_frame,
        statistics_frame,
        step_frame,
        task_frame,
        write_json,
    )
    from .history_compact import compact_history
    from .history_db import History, history
    from .plots import (
        plot_compare,
        plot_concurrency,
        plot_durations,
        plot_exit_codes,
        plot_frame_times,
        plot_memory,
        plot_progress,
        plot_status,
        plot_timeline,
        plot_trend,
        plot_usage,
        save_figure,
    )
    from .queue_history import read_history, sync_history
    from .report import write_report
    from .summary import exit_code_name, summarize
    from .trace import to_chrome_trace
    from .widgets import Explorer, JobPicker, explore, watch


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'deadline_nb' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
