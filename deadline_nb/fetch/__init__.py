"""Fetch farms, queues and whole jobs from Deadline Cloud in the fewest calls, through the cache.

The rooms of this package:

- :mod:`.resources`: one call's worth: :func:`list_farms`, :func:`list_queues`,
  :func:`list_jobs`, :func:`search_jobs` and :func:`job_filter` for pickers;
  :func:`fetch_job`, :func:`fetch_steps`, :func:`fetch_tasks`, :func:`fetch_sessions` for one
  job.
- :mod:`.sync`: the sync engine: a job's session actions listed as summaries and fetched in
  full with ``BatchGetSessionAction``, 100 at a time, in parallel, while the listing goes on;
  with the cache, a rerun asks only for what can have changed.
- :mod:`.actions`: :func:`fetch_session_actions` and :func:`fetch_session_action_frame`.
- :mod:`.job`: :class:`Job` and :func:`load_job`, a whole job as frames.
- :mod:`.logs`: :func:`fetch_session_logs` (the session logs from CloudWatch Logs, as a log
  frame, through the cache), :func:`grep_logs` and :func:`action_log`.
- :mod:`.usage`: :func:`usage_frame` and :func:`fetch_usage_statistics` (the sessions-statistics
  aggregation: usage and estimated cost by queue, fleet, job, user...), a job's cost
  (``Job.cost``), :func:`cost_per_step` and :func:`cost_per_frame`.
- :mod:`.metrics`: :func:`fetch_worker_metrics` (the host metrics of a job's workers, from
  the worker logs, over the job's time, through the cache).
- :mod:`.common`: what they share (ids, the client, the cache handle, paging).

Every function takes ids the same way: ``farm_id, queue_id, job_id`` in that order, each left
out taken from the ``deadline`` CLI's configuration (``defaults.farm_id`` and so on), then
``client=None, boto3_session=None`` last: a client to use, or a session to make one from (see
:func:`deadline_nb.client`). The library only reads: it calls ``Get*``, ``List*``,
``BatchGet*`` and ``Search*`` operations (and of CloudWatch Logs, ``Get*``, ``Filter*`` and
``Describe*``), and one more: :mod:`.usage` starts the usage aggregation it then reads
(``StartSessionsStatisticsAggregation``), which creates nothing anyone pays for.
"""

from __future__ import annotations

from .actions import fetch_session_action_frame, fetch_session_actions
from .common import CacheArg
from .job import Job, load_job
from .logs import action_log, fetch_session_logs, grep_logs
from .metrics import fetch_worker_metrics
from .resources import (
    JobPage,
    fetch_job,
    fetch_sessions,
    fetch_steps,
    fetch_tasks,
    job_filter,
    list_farms,
    list_jobs,
    list_queues,
    search_jobs,
)
from .usage import cost_per_frame, cost_per_step, fetch_usage_statistics, usage_frame

__all__ = [
    "CacheArg",
    "Job",
    "JobPage",
    "action_log",
    "cost_per_frame",
    "cost_per_step",
    "fetch_job",
    "fetch_session_action_frame",
    "fetch_session_actions",
    "fetch_session_logs",
    "fetch_sessions",
    "fetch_steps",
    "fetch_tasks",
    "fetch_usage_statistics",
    "fetch_worker_metrics",
    "grep_logs",
    "job_filter",
    "list_farms",
    "list_jobs",
    "list_queues",
    "load_job",
    "search_jobs",
    "usage_frame",
]
