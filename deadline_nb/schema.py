"""The one source of truth for statuses, action types, colours and frame columns.

Every other module (frames, plots, widgets, the local farm) takes its lists from here, so that a
status added by the service is added in one place and every plot colours it the same way.

The orders below are the API's own (botocore's model for ``deadline``, API version 2023-10-12):
``SessionActionStatus`` is an ordered category in that order, so ``sort_values("status")`` gives
the service's order rather than the alphabet's.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import pandas as pd

__all__ = [
    "ACTION_TYPES",
    "ACTION_TYPE_COLORS",
    "ACTIVE_STATUSES",
    "COMPARE_COLUMNS",
    "COST_COLUMNS",
    "FAILURE_LINE_COLUMNS",
    "FAILURE_SOURCES",
    "FINDING_COLUMNS",
    "FINISHED_TASK_RUN_STATUSES",
    "HEARTBEAT_SECONDS",
    "JOB_ACTION_COLUMNS",
    "JOB_COLUMNS",
    "LIMIT_COLUMNS",
    "LOG_ANNOTATION_COLUMNS",
    "LOG_COLUMNS",
    "LOG_SUMMARY_COLUMNS",
    "MANIFEST_COLUMNS",
    "METRIC_COLUMNS",
    "PARAMETER_COLUMNS",
    "PARAMETER_DIFF_COLUMNS",
    "PARAMETER_DTYPES",
    "PARAMETER_PREFIX",
    "PARAMETER_TYPES",
    "RESOURCE_COLUMNS",
    "RESOURCE_TABLE_COLUMNS",
    "RETRY_COLUMNS",
    "SESSION_ACTION_COLUMNS",
    "SESSION_COLUMNS",
    "SESSION_LIFECYCLE_STATUSES",
    "SEVERITIES",
    "SNAPSHOT_COLUMNS",
    "STATUSES",
    "STATUS_COLORS",
    "STEP_COLUMNS",
    "TASK_COLUMNS",
    "TASK_RUN_STATUSES",
    "TERMINAL_STATUSES",
    "TREND_COLUMNS",
    "USAGE_AGGREGATION_STATUSES",
    "USAGE_COLUMNS",
    "USAGE_COST",
    "USAGE_GROUP_BY",
    "USAGE_PERIODS",
    "USAGE_RUNTIME",
    "USAGE_STATISTICS",
    "USAGE_TYPES",
    "USAGE_TYPE_COLORS",
    "empty_frame",
    "session_of",
]

#: The worker agent reports progress (``progressPercent``, ``progressMessage``) on its heartbeat,
#: about this often: a poll faster than this shows nothing new.
HEARTBEAT_SECONDS: Final[float] = 15.0

#: ``SessionActionStatus``: the API's 11 statuses, in the API's order.
STATUSES: Final[tuple[str, ...]] = (
    "ASSIGNED",
    "RUNNING",
    "CANCELING",
    "SUCCEEDED",
    "FAILED",
    "INTERRUPTED",
    "CANCELED",
    "NEVER_ATTEMPTED",
    "SCHEDULED",
    "RECLAIMING",
    "RECLAIMED",
)

#: Statuses an action never leaves: an action in one of these is never fetched again.
TERMINAL_STATUSES: Final[frozenset[str]] = frozenset(
    {"SUCCEEDED", "FAILED", "INTERRUPTED", "CANCELED", "NEVER_ATTEMPTED", "RECLAIMED"}
)

#: Statuses of an action that is still going to change.
ACTIVE_STATUSES: Final[tuple[str, ...]] = tuple(s for s in STATUSES if s not in TERMINAL_STATUSES)

#: The members of the ``SessionActionDefinition`` union in the API's order, plus ``unknown`` for a
#: member this version of boto3 (or of this package) does not know (``SDK_UNKNOWN_MEMBER``).
ACTION_TYPES: Final[tuple[str, ...]] = (
    "envEnter",
    "envExit",
    "taskRun",
    "syncInputJobAttachments",
    "unknown",
)

#: ``TaskRunStatus`` (of a task, and the aggregate of a step or job), in the API's order.
TASK_RUN_STATUSES: Final[tuple[str, ...]] = (
    "PENDING",
    "READY",
    "ASSIGNED",
    "STARTING",
    "SCHEDULED",
    "INTERRUPTING",
    "RUNNING",
    "SUSPENDED",
    "CANCELED",
    "FAILED",
    "SUCCEEDED",
    "NOT_COMPATIBLE",
)

#: Task-run statuses that nothing will move on from without a person asking (a requeue). A job
#: whose tasks are all in one of these is finished: its actions are not listed again.
FINISHED_TASK_RUN_STATUSES: Final[frozenset[str]] = frozenset(
    {"SUSPENDED", "CANCELED", "FAILED", "SUCCEEDED", "NOT_COMPATIBLE"}
)

#: ``SessionLifecycleStatus``, in the API's order.
SESSION_LIFECYCLE_STATUSES: Final[tuple[str, ...]] = (
    "STARTED",
    "UPDATE_IN_PROGRESS",
    "UPDATE_SUCCEEDED",
    "UPDATE_FAILED",
    "ENDED",
)

#: The members of the ``TaskParameterValue`` union, plus ``unknown``.
PARAMETER_TYPES: Final[tuple[str, ...]] = ("int", "float", "string", "path", "chunkInt", "unknown")

#: Task parameters become columns named ``param.<Name>``.
PARAMETER_PREFIX: Final[str] = "param."

# Colours: chosen to stay distinguishable for the common colour-vision deficiencies (based on the
# Okabe-Ito palette) and to read the way a TD expects: green done, red failed, blue running.
STATUS_COLORS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "ASSIGNED": "#a6cee3",
        "RUNNING": "#0072b2",
        "CANCELING": "#e69f00",
        "SUCCEEDED": "#009e73",
        "FAILED": "#d55e00",
        "INTERRUPTED": "#cc79a7",
        "CANCELED": "#999999",
        "NEVER_ATTEMPTED": "#dddddd",
        "SCHEDULED": "#56b4e9",
        "RECLAIMING": "#f0e442",
        "RECLAIMED": "#8c6d1f",
    }
)

ACTION_TYPE_COLORS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "envEnter": "#56b4e9",
        "syncInputJobAttachments": "#e69f00",
        "taskRun": "#009e73",
        "envExit": "#0072b2",
        "unknown": "#999999",
    }
)

# dtypes. Strings are Arrow-backed on every pandas version we support: they take a third of the
# memory of Python strings, and pinning the storage keeps the dtype the same on pandas 2.2 and 3.x.
STRING: Final = pd.StringDtype("pyarrow")
TIME: Final = pd.DatetimeTZDtype("ns", "UTC")
DURATION: Final = "timedelta64[ns]"
CATEGORY: Final = "category"
STATUS: Final = pd.CategoricalDtype(list(STATUSES), ordered=True)
ACTION_TYPE: Final = pd.CategoricalDtype(list(ACTION_TYPES))
LIFECYCLE: Final = pd.CategoricalDtype(list(SESSION_LIFECYCLE_STATUSES), ordered=True)
PARAMETER_TYPE: Final = pd.CategoricalDtype(list(PARAMETER_TYPES))
TASK_RUN_STATUS: Final = pd.CategoricalDtype(list(TASK_RUN_STATUSES), ordered=True)

#: dtype of a ``param.<Name>`` column, by the parameter's type. A name that has different types
#: in different steps gets ``Float64`` for int and float together, and ``string`` otherwise.
PARAMETER_DTYPES: Final[Mapping[str, object]] = MappingProxyType(
    {
        "int": pd.Int64Dtype(),
        "float": pd.Float64Dtype(),
        "string": STRING,
        "path": STRING,
        "chunkInt": STRING,
    }
)

#: ``session_action_frame``: column -> dtype, in column order. ``param.<Name>`` columns follow.
SESSION_ACTION_COLUMNS: Final[Mapping[str, object]] = MappingProxyType(
    {
        "farmId": CATEGORY,
        "queueId": CATEGORY,
        "jobId": CATEGORY,
        "sessionId": CATEGORY,
        "sessionActionId": STRING,
        "actionIndex": "int64",
        "actionType": ACTION_TYPE,
        "environmentId": CATEGORY,
        "stepId": CATEGORY,
        "taskId": STRING,
        "status": STATUS,
        "startedAt": TIME,
        "endedAt": TIME,
        "workerUpdatedAt": TIME,
        "duration": DURATION,
        "progressPercent": pd.Float64Dtype(),
        "progressMessage": STRING,
        "processExitCode": pd.Int32Dtype(),
    }
)

#: ``parameter_frame``: one row per (action, parameter). ``value`` is the API's exact text;
#: ``intValue``/``floatValue`` hold it as a number where it is one and fits.
PARAMETER_COLUMNS: Final[Mapping[str, object]] = MappingProxyType(
    {
        "sessionActionId": STRING,
        "stepId": CATEGORY,
        "taskId": STRING,
        "name": CATEGORY,
        "type": PARAMETER_TYPE,
        "value": STRING,
        "intValue": pd.Int64Dtype(),
        "floatValue": pd.Float64Dtype(),
    }
)

#: ``limit_frame``: one row per acquired limit.
LIMIT_COLUMNS: Final[Mapping[str, object]] = MappingProxyType(
    {"sessionActionId": STRING, "limitId": CATEGORY, "count": pd.Int64Dtype()}
)

#: ``manifest_frame``: one row per output manifest of a task run.
MANIFEST_COLUMNS: Final[Mapping[str, object]] = MappingProxyType(
    {
        "sessionActionId": STRING,
        "manifestIndex": "int64",
        "outputManifestPath": STRING,
        "outputManifestHash": STRING,
    }
)

#: ``session_frame``: ListSessions summaries and GetSession responses.
SESSION_COLUMNS: Final[Mapping[str, object]] = MappingProxyType(
    {
        "farmId": CATEGORY,
        "queueId": CATEGORY,
        "jobId": CATEGORY,
        "sessionId": STRING,
        "fleetId": CATEGORY,
        "workerId": CATEGORY,
        "lifecycleStatus": LIFECYCLE,
        "targetLifecycleStatus": CATEGORY,
        "startedAt": TIME,
        "endedAt": TIME,
        "updatedAt": TIME,
        "updatedBy": STRING,
        "duration": DURATION,
        "hostName": STRING,
        "instanceType": CATEGORY,
        "ec2InstanceArn": STRING,
    }
)

#: Columns that :func:`deadline_nb.load_job` adds to the session-action frame (after the
#: ``session_action_frame`` columns, before the ``param.<Name>`` columns): the step's name from
#: the job's steps, and the session's worker and fleet from its sessions. NA where unknown.
JOB_ACTION_COLUMNS: Final[Mapping[str, object]] = MappingProxyType(
    {"stepName": CATEGORY, "workerId": CATEGORY, "fleetId": CATEGORY}
)

#: Progress snapshots kept by the cache: one row each time a fetch saw a running action's
#: progress change. ``observedAt`` is when the fetch saw it (the local clock, UTC).
SNAPSHOT_COLUMNS: Final[Mapping[str, object]] = MappingProxyType(
    {
        "sessionActionId": STRING,
        "observedAt": TIME,
        "status": STATUS,
        "progressPercent": pd.Float64Dtype(),
        "progressMessage": STRING,
        "workerUpdatedAt": TIME,
    }
)

#: ``Job.steps``: ListSteps summaries / GetStep responses.
STEP_COLUMNS: Final[Mapping[str, object]] = MappingProxyType(
    {
        "farmId": CATEGORY,
        "queueId": CATEGORY,
        "jobId": CATEGORY,
        "stepId": STRING,
        "name": STRING,
        "lifecycleStatus": CATEGORY,
        "taskRunStatus": TASK_RUN_STATUS,
        "targetTaskRunStatus": CATEGORY,
        "taskFailureRetryCount": pd.Int64Dtype(),
        "createdAt": TIME,
        "createdBy": STRING,
        "startedAt": TIME,
        "endedAt": TIME,
        "updatedAt": TIME,
        "duration": DURATION,
        # taskRunStatusCounts, flattened: one column per task-run status, in the API's order
        **{f"tasks.{status}": pd.Int64Dtype() for status in TASK_RUN_STATUSES},
    }
)

#: The ``jobs`` table of a history dataset (:func:`deadline_nb.sync_history`): one row per job,
#: its GetJob response flattened (``parameters`` as JSON text), then what the sync keeps about it:
#: when it was written, the token that says whether the job changed since, whether it was
#: finished then, and whether the service no longer has it.
JOB_COLUMNS: Final[Mapping[str, object]] = MappingProxyType(
    {
        "farmId": CATEGORY,
        "queueId": CATEGORY,
        "jobId": STRING,
        "name": STRING,
        "description": STRING,
        "lifecycleStatus": CATEGORY,
        "lifecycleStatusMessage": STRING,
        "taskRunStatus": TASK_RUN_STATUS,
        "targetTaskRunStatus": CATEGORY,
        "priority": pd.Int64Dtype(),
        "taskFailureRetryCount": pd.Int64Dtype(),
        "maxFailedTasksCount": pd.Int64Dtype(),
        "maxRetriesPerTask": pd.Int64Dtype(),
        "maxWorkerCount": pd.Int64Dtype(),
        "storageProfileId": STRING,
        "sourceJobId": STRING,
        "createdBy": STRING,
        "createdAt": TIME,
        "startedAt": TIME,
        "endedAt": TIME,
        "updatedAt": TIME,
        "updatedBy": STRING,
        "duration": DURATION,
        **{f"tasks.{status}": pd.Int64Dtype() for status in TASK_RUN_STATUSES},
        "parameters": STRING,
        "syncedAt": TIME,
        "syncToken": STRING,
        "finished": pd.BooleanDtype(),
        "deleted": pd.BooleanDtype(),
        # The dataset's tables written for the job, comma-separated: a later sync that asks
        # for a table the job lacks (``logs=True``) writes the job again.
        "tables": STRING,
    }
)

#: ``Job.tasks``: ListTasks summaries / GetTask responses. Task parameters follow as
#: ``param.<Name>`` columns, the same as in the session-action frame.
TASK_COLUMNS: Final[Mapping[str, object]] = MappingProxyType(
    {
        "farmId": CATEGORY,
        "queueId": CATEGORY,
        "jobId": CATEGORY,
        "stepId": CATEGORY,
        "taskId": STRING,
        "runStatus": TASK_RUN_STATUS,
        "targetRunStatus": CATEGORY,
        "failureRetryCount": pd.Int64Dtype(),
        "latestSessionActionId": STRING,
        "createdAt": TIME,
        "startedAt": TIME,
        "endedAt": TIME,
        "updatedAt": TIME,
        "duration": DURATION,
    }
)


# ---------------------------------------------------------------------------------------------
# session logs (deadline_nb.frames.logs)

#: ``log_frame``: one row per line of a session's log (CloudWatch Logs events). ``lineIndex`` is
#: the line's position in its session's stream; ``sessionActionId`` the action whose window holds
#: it (NA between actions); ``section``/``phase`` the openjd banner titles it falls under;
#: ``eventId`` FilterLogEvents' id (NA from GetLogEvents).
LOG_COLUMNS: Final[Mapping[str, object]] = MappingProxyType(
    {
        "farmId": CATEGORY,
        "queueId": CATEGORY,
        "jobId": CATEGORY,
        "sessionId": CATEGORY,
        "sessionActionId": CATEGORY,
        "lineIndex": "int64",
        "timestamp": TIME,
        "ingestionTime": TIME,
        "section": CATEGORY,
        "phase": CATEGORY,
        "message": STRING,
        "eventId": STRING,
    }
)

#: Columns ``annotate_log_lines`` adds to log lines, from the line's action (its session for
#: ``workerId``); the action's ``param.<Name>`` columns follow.
LOG_ANNOTATION_COLUMNS: Final[Mapping[str, object]] = MappingProxyType(
    {
        "actionType": ACTION_TYPE,
        "stepId": CATEGORY,
        "stepName": CATEGORY,
        "taskId": STRING,
        "status": STATUS,
        "processExitCode": pd.Int32Dtype(),
        "workerId": CATEGORY,
    }
)

#: ``metrics_frame``: one row per host-metrics sample the worker agent logged (its
#: ``HostMetricsLogger``, every 60 s by default) in its worker log; NA where the agent wrote
#: ``NOT_AVAILABLE`` (or ``NOT_SUPPORTED``) or did not log the figure (GPU figures only on hosts
#: with ``nvidia-smi``). ``diskUsedPercent`` is what the agent logs as
#: ``total-disk-used-percent``: ``round(used / total, 1)``, a fraction despite its name.
METRIC_COLUMNS: Final[Mapping[str, object]] = MappingProxyType(
    {
        "farmId": CATEGORY,
        "fleetId": CATEGORY,
        "workerId": CATEGORY,
        "timestamp": TIME,
        "cpuPercent": pd.Float64Dtype(),
        "memTotalBytes": pd.Int64Dtype(),
        "memUsedBytes": pd.Int64Dtype(),
        "memUsedPercent": pd.Float64Dtype(),
        "swapUsedBytes": pd.Int64Dtype(),
        "diskTotalBytes": pd.Int64Dtype(),
        "diskUsedBytes": pd.Int64Dtype(),
        "diskUsedPercent": pd.Float64Dtype(),
        "diskAvailableBytes": pd.Int64Dtype(),
        "netSentBytesPerSecond": pd.Int64Dtype(),
        "netRecvBytesPerSecond": pd.Int64Dtype(),
        "diskReadBytesPerSecond": pd.Int64Dtype(),
        "diskWriteBytesPerSecond": pd.Int64Dtype(),
        "gpuPercent": pd.Float64Dtype(),
        "gpuMemUsedMiB": pd.Int64Dtype(),
        "gpuMemTotalMiB": pd.Int64Dtype(),
        "gpuMemUsedPercent": pd.Float64Dtype(),
        "gpuMemUtilizationPercent": pd.Float64Dtype(),
    }
)

#: ``resource_frame``: columns appended to an action frame, from the host-metrics samples of the
#: action's worker within its window (start to end, both included). ``metricSamples`` is 0 when
#: the worker logged samples but none fell inside (a short action), NA when nothing is known
#: (never started, no worker, no samples of that worker at all); every figure is NA unless
#: ``metricSamples`` is positive. ``memTotalBytes`` is the worker's total at the peak sample.
RESOURCE_COLUMNS: Final[Mapping[str, object]] = MappingProxyType(
    {
        "metricSamples": pd.Int64Dtype(),
        "memPeakBytes": pd.Int64Dtype(),
        "memPeakPercent": pd.Float64Dtype(),
        "memTotalBytes": pd.Int64Dtype(),
        "cpuMeanPercent": pd.Float64Dtype(),
        "cpuMaxPercent": pd.Float64Dtype(),
    }
)

#: The ``resources`` table of a history dataset (:func:`deadline_nb.sync_history` with
#: ``metrics=True``): one row per session action, its ids then :data:`RESOURCE_COLUMNS`.
RESOURCE_TABLE_COLUMNS: Final[Mapping[str, object]] = MappingProxyType(
    {
        "farmId": CATEGORY,
        "queueId": CATEGORY,
        "jobId": CATEGORY,
        "sessionActionId": STRING,
        **RESOURCE_COLUMNS,
    }
)

#: Where ``failure_lines`` found the line a failed action ends with, in order of preference
#: (the last: the action has no lines at all).
FAILURE_SOURCES: Final[tuple[str, ...]] = ("openjd_fail", "output", "exit code", "no lines")
FAILURE_SOURCE: Final = pd.CategoricalDtype(list(FAILURE_SOURCES))

#: ``failure_lines``: one row per failed action; ``normalized`` is the line with numbers, paths
#: and ids blanked, so that the same error compares equal across actions.
FAILURE_LINE_COLUMNS: Final[Mapping[str, object]] = MappingProxyType(
    {
        "sessionActionId": STRING,
        "sessionId": CATEGORY,
        "stepId": CATEGORY,
        "stepName": CATEGORY,
        "workerId": CATEGORY,
        "status": STATUS,
        "processExitCode": pd.Int32Dtype(),
        "source": FAILURE_SOURCE,
        "timestamp": TIME,
        "line": STRING,
        "normalized": STRING,
    }
)


#: ``log_summary_frame`` (and the ``logs`` table of a history dataset): one row per session
#: action, what its log lines say in brief. ``lines`` counts the lines attributed to the action
#: (0 when it has none); ``errorLines``/``warningLines`` those matching the summary's error and
#: warning patterns; ``firstErrorLine`` the first of those error lines; ``failureLine`` the line
#: a failed action ends with (:func:`deadline_nb.failure_lines`' rule), NA for other actions.
LOG_SUMMARY_COLUMNS: Final[Mapping[str, object]] = MappingProxyType(
    {
        "farmId": CATEGORY,
        "queueId": CATEGORY,
        "jobId": CATEGORY,
        "sessionId": CATEGORY,
        "sessionActionId": STRING,
        "lines": pd.Int64Dtype(),
        "firstLineAt": TIME,
        "lastLineAt": TIME,
        "errorLines": pd.Int64Dtype(),
        "warningLines": pd.Int64Dtype(),
        "firstErrorLine": STRING,
        "failureLine": STRING,
    }
)


# ---------------------------------------------------------------------------------------------
# findings (deadline_nb.findings)

#: How bad a finding of :func:`deadline_nb.diagnose` is, worst first: ``critical`` (the job lost
#: work to it), ``warning`` (worth a look), ``info`` (there, and harmless on its own).
SEVERITIES: Final[tuple[str, ...]] = ("critical", "warning", "info")
SEVERITY: Final = pd.CategoricalDtype(list(SEVERITIES), ordered=True)

#: ``diagnose``: one row per finding. The three id columns hold tuples of ids (the actions,
#: tasks and workers the finding is about); ``next`` says what to look at next.
FINDING_COLUMNS: Final[Mapping[str, object]] = MappingProxyType(
    {
        "severity": SEVERITY,
        "kind": STRING,
        "title": STRING,
        "evidence": STRING,
        "sessionActionIds": "object",
        "taskIds": "object",
        "workerIds": "object",
        "next": STRING,
    }
)


# ---------------------------------------------------------------------------------------------
# usage and cost (deadline_nb.fetch.usage, deadline_nb.frames.usage)

#: ``UsageGroupByField`` -> the member of ``Statistics`` (and the usage frame's column) that holds
#: it, in the API's order. ``StartSessionsStatisticsAggregation`` takes one or two of them.
USAGE_GROUP_BY: Final[Mapping[str, str]] = MappingProxyType(
    {
        "QUEUE_ID": "queueId",
        "FLEET_ID": "fleetId",
        "JOB_ID": "jobId",
        "USER_ID": "userId",
        "USAGE_TYPE": "usageType",
        "INSTANCE_TYPE": "instanceType",
        "LICENSE_PRODUCT": "licenseProduct",
    }
)

#: ``UsageStatistic``: what each group's ``costInUsd`` and ``runtimeInSeconds`` hold (one to four).
USAGE_STATISTICS: Final[tuple[str, ...]] = ("SUM", "MIN", "MAX", "AVG")

#: ``Period``: the buckets an aggregation can be split into.
USAGE_PERIODS: Final[tuple[str, ...]] = ("HOURLY", "DAILY", "WEEKLY", "MONTHLY")

#: ``UsageType``, in the API's order.
USAGE_TYPES: Final[tuple[str, ...]] = ("COMPUTE", "LICENSE", "PERSISTENT_VOLUME")

#: ``SessionsStatisticsAggregationStatus``, in the API's order.
USAGE_AGGREGATION_STATUSES: Final[tuple[str, ...]] = (
    "IN_PROGRESS",
    "TIMEOUT",
    "FAILED",
    "COMPLETED",
)

USAGE_TYPE_COLORS: Final[Mapping[str, str]] = MappingProxyType(
    {"COMPUTE": "#0072b2", "LICENSE": "#e69f00", "PERSISTENT_VOLUME": "#009e73"}
)

#: ``usage_frame``: one row per group and period (``GetSessionsStatisticsAggregation``'s
#: ``statistics``). The group columns keep the API's member names and are NA when the aggregation
#: was not grouped by them (``jobName`` comes with ``jobId``); ``startTime``/``endTime`` are the
#: row's ``aggregationStartTime``/``aggregationEndTime``; ``count`` the number of usage records
#: in the group; ``costInUsd`` and ``runtimeInSeconds`` flattened as ``costInUsd.sum`` and so on
#: (NA for a statistic not asked for). Costs are the service's estimates, not a bill.
USAGE_COLUMNS: Final[Mapping[str, object]] = MappingProxyType(
    {
        "queueId": CATEGORY,
        "fleetId": CATEGORY,
        "jobId": CATEGORY,
        "jobName": STRING,
        "userId": CATEGORY,
        "usageType": CATEGORY,
        "instanceType": CATEGORY,
        "licenseProduct": CATEGORY,
        "startTime": TIME,
        "endTime": TIME,
        "count": pd.Int64Dtype(),
        **{f"costInUsd.{s.lower()}": pd.Float64Dtype() for s in USAGE_STATISTICS},
        **{f"runtimeInSeconds.{s.lower()}": pd.Float64Dtype() for s in USAGE_STATISTICS},
    }
)

#: The usage frame's total estimated cost and runtime columns: what a chart or a finding reads.
USAGE_COST: Final = "costInUsd.sum"
USAGE_RUNTIME: Final = "runtimeInSeconds.sum"


# ---------------------------------------------------------------------------------------------
# queue history questions (deadline_nb.history_db): the fixed columns of each answer. The
# grouping columns a question was asked for (``by=``) come first, as strings.

#: ``History.trend``: successful task runs' durations per ISO week (Monday 00:00 UTC) and group.
TREND_COLUMNS: Final[Mapping[str, object]] = MappingProxyType(
    {
        "week": TIME,
        "runs": "int64",
        "medianSeconds": "float64",
        "p90Seconds": "float64",
        "meanSeconds": "float64",
    }
)

#: ``History.retries``: task runs, retries (runs beyond each task's first) and failed runs.
RETRY_COLUMNS: Final[Mapping[str, object]] = MappingProxyType(
    {
        "jobs": "int64",
        "tasks": "int64",
        "runs": "int64",
        "retries": "int64",
        "failedRuns": "int64",
        "failureRate": "float64",
    }
)

#: ``History.cost``: worker time of sessions per group and month (UTC) of the session's start,
#: and an estimated cost (worker-hours times a rate; not the service's figure).
COST_COLUMNS: Final[Mapping[str, object]] = MappingProxyType(
    {
        "month": STRING,
        "sessions": "int64",
        "workerHours": "float64",
        "estimatedCost": "float64",
    }
)

#: ``History.compare_jobs``: one row per frame (step and task parameters; the ``param.<Name>``
#: columns follow ``stepName``), the latest successful run's seconds in job a and in job b.
COMPARE_COLUMNS: Final[Mapping[str, object]] = MappingProxyType(
    {
        "stepName": STRING,
        "secondsA": "float64",
        "secondsB": "float64",
        "ratio": "float64",
        "slower": "boolean",
    }
)

#: ``History.parameter_diff``: the job parameters whose values differ between two jobs.
PARAMETER_DIFF_COLUMNS: Final[Mapping[str, object]] = MappingProxyType(
    {"name": STRING, "valueA": STRING, "valueB": STRING}
)


def empty_frame(columns: Mapping[str, object]) -> pd.DataFrame:
    """Return a frame with no rows and exactly the given columns and dtypes.

    Parameters
    ----------
    columns
        Column name -> dtype, such as :data:`SESSION_ACTION_COLUMNS`.

    Returns
    -------
    pandas.DataFrame
        Zero rows, the columns in the given order.

    Examples
    --------
    >>> from deadline_nb.schema import LIMIT_COLUMNS, empty_frame
    >>> list(empty_frame(LIMIT_COLUMNS).columns)
    ['sessionActionId', 'limitId', 'count']
    """
    return pd.DataFrame(
        {name: pd.Series([], dtype=dtype) for name, dtype in columns.items()}  # type: ignore[call-overload]
    )


# ---------------------------------------------------------------------------------------------
# id rules


def session_of(action_id: str) -> str:
    """The session a session action belongs to, read off its id.

    Parameters
    ----------
    action_id
        ``sessionaction-<32 hex>-<n>``.

    Returns
    -------
    str
        ``session-<the same 32 hex>``.

    Examples
    --------
    >>> from deadline_nb.schema import session_of
    >>> session_of("sessionaction-0123456789abcdef0123456789abcdef-12")
    'session-0123456789abcdef0123456789abcdef'
    """
    return "session-" + action_id[14:46]
