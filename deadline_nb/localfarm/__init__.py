"""A local Deadline Cloud: a simulated studio farm served over the real REST API on 127.0.0.1.

No AWS account is needed to try the toolkit or to run its tests: :class:`LocalFarm` serves a
deterministic farm with the real methods, paths, query parameters, JSON bodies, pagination and
errors of the Deadline Cloud API (all taken from botocore's service model), so that an unmodified
boto3 client, and the official ``deadline`` CLI, read it as if it were AWS.

The farm
    One farm, three queues (Lighting, FX, Comp), four fleets (on-demand, spot, GPU, and a
    customer-managed fleet of studio render nodes), and the jobs named in :data:`JOBS`::

        render      sq010_sh020_lighting_v003   240 frames, slow mid-shot, two stuck frames
        simulation  sq020_fluid_sim_v012        chunked sim (Frame 1-10, 11-20, ...) + meshing
        failing     sq030_crowd_v007_failing    exit codes 1, 137, -1073741819; retries
        canceled    sq040_fx_v002_canceled      canceled halfway
        reclaimed   sq050_spot_reclaimed        spot workers reclaimed mid-task
        running     sq060_comp_v021_running     running now; advances with the clock
        big         sq900_big_render            only with ``size=N``: about N session actions

Knobs
    ``LocalFarm(seed=0, size=0, latency=0.0, throttle_rate=None, fault_rate=0.0,
    item_fault_rate=0.0, logs_quota=None, speedup=1.0, port=0, clock=None)``; the same from the
    command line as ``deadline-nb localfarm --port N --seed S --latency SEC --throttle-rate R
    --fault-rate F --item-fault-rate F --logs-quota R|service --speedup X --size N``. Both refuse
    a knob that makes no sense (a port outside 0-65535; a latency, speedup or rate that is nan,
    infinite or out of its range) with the same sentence (:mod:`.knobs`).

Clock
    The running job advances with the farm's clock: by default the wall clock, ``speedup``
    times faster; ``clock=ManualClock()`` stands still until ``clock.advance(seconds)``, so
    that a test sees the same job on every call and moves it on by exact steps.

Session logs (CloudWatch Logs)
    Every session of every job has its log, served on the same endpoint over the CloudWatch
    Logs JSON protocol (``GetLogEvents``, ``FilterLogEvents``, ``DescribeLogStreams``,
    ``DescribeLogGroups``): group ``/aws/deadline/<farmId>/<queueId>``, stream ``<sessionId>``,
    the lines openjd-sessions and the worker agent write, and the task's output with
    ``openjd_progress`` lines that are the API's ``progressPercent``. A running session's stream
    grows with the clock; the ``render`` job's last session has no stream at all. See
    :mod:`.logs` (the service) and :mod:`.sessionlog` (the text); ``farm.logs_client()`` or
    ``farm.client("logs")`` reads them.

Layers (as moto lays out a service)
    :mod:`.clock` what "now" is; :mod:`.ids` stable ids; :mod:`.simulation` one job's sessions;
    :mod:`.scenarios` the jobs, one per role; :mod:`.views` what the API shows of a job;
    :mod:`.model` the farm's state; :mod:`.knobs` the checks of its knobs; :mod:`.routes`
    requests off HTTP; :mod:`.responses` one method per operation; :mod:`.exceptions` the
    service's errors; :mod:`.server` HTTP and :class:`LocalFarm`; :mod:`.shapes` botocore's
    models and validation; :mod:`.sessionlog` and :mod:`.logs` the session logs. Nothing here
    imports the client side of the toolkit (``aws``, ``fetch``, ``cache``, ``frames``...).

Ground truth
    ``farm.model`` (:class:`FarmModel`): ``farm_id``, ``queues``, ``fleets``, ``workers``,
    ``jobs``, ``job_by_name(name_or_role)``, ``view(job_id)`` (job, steps, tasks, sessions,
    actions and lookups), ``session_actions(job_id)`` and ``job_build(job_id)`` (the whole
    simulation, the running job's future included); ``farm.logs`` (:class:`FarmLogs`): groups,
    streams and their events; ``farm.calls`` counts requests per operation
    (``farm.reset_calls()``).

Other AWS tools
    ``AWS_ENDPOINT_URL_DEADLINE=<farm.endpoint_url>``,
    ``AWS_ENDPOINT_URL_CLOUDWATCH_LOGS=<farm.endpoint_url>`` and
    ``AWS_DISABLE_HOST_PREFIX_INJECTION=true`` (botocore otherwise sends every Deadline call to
    ``management.<host>``), with any credentials and region; see :meth:`LocalFarm.environment`.
    ``deadline job logs`` reads the session logs.

Examples
--------
>>> from deadline_nb.localfarm import JOBS, LocalFarm
>>> with LocalFarm(seed=0) as farm:
...     job = farm.job_by_name(JOBS["render"])
...     page = farm.client().list_session_actions(
...         farmId=farm.farm_id, queueId=job.queue_id, jobId=job.job_id, maxResults=5)
>>> len(page["sessionActions"]), "nextToken" in page
(5, True)
"""

from __future__ import annotations

from .clock import ManualClock, WallClock
from .exceptions import ApiError
from .logs import LOGS_OPERATIONS, FarmLogs
from .model import BIG_JOB, EPOCH, HEARTBEAT_SECONDS, JOBS, FarmModel, JobSpec, JobView
from .responses import OPERATIONS
from .server import LocalFarm

__all__ = [
    "BIG_JOB",
    "EPOCH",
    "HEARTBEAT_SECONDS",
    "JOBS",
    "LOGS_OPERATIONS",
    "OPERATIONS",
    "ApiError",
    "FarmLogs",
    "FarmModel",
    "JobSpec",
    "JobView",
    "LocalFarm",
    "ManualClock",
    "WallClock",
]
