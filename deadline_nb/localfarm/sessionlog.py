"""The text of each session's log, line by line, as the worker agent sends it to CloudWatch Logs.

A session's log is written from its actions (:mod:`.simulation`), so that it can only say what the
actions did: the banners of the actions that ran and in their order, the task's own output, the
``openjd_progress`` lines the API's ``progressPercent`` came from, and an ending that matches the
action's status and exit code. Everything is drawn from a generator seeded with the session's id:
a session's log is the same in every run, and is made only when someone reads it.

What the real stack writes (checked in the sources; ``_``-prefixed paths are private modules)
------------------------------------------------------------------------------------------------
openjd-sessions-for-python, ``src/openjd/sessions/``:

- ``_logging.py`` ``log_section_banner``: four records, an empty one, then ``"=" * 46``,
  ``"--------- <title>"`` and ``"=" * 46``. ``log_subsection_banner``: ``"-" * 46``, the
  title, ``"-" * 46``.
- ``_session.py``: ``enter_environment`` logs the banner ``Entering Environment: <name>``, then
  ``Setting: <NAME>=<value>`` for each variable the environment defines; ``exit_environment``
  the banner ``Exiting Environment: <name>``; ``run_task`` the banner ``Running Task``, then
  ``Parameter values:`` and one ``<name>(<type>) = <value>`` per task parameter (the type is
  openjd-model's ``ParameterValueType`` value: ``INT``, ``CHUNK[INT]``...); ``cleanup`` the
  banner ``Session Cleanup`` and ``Deleting working directory: <dir>``. The working directory
  is ``mkdtemp(prefix=<session id>)`` under the session root, and embedded files go in a
  ``embedded_files<random>`` directory under it.
- ``_runner_env_script.py`` / ``_runner_step_script.py``: the subsection ``Phase: Setup``,
  then (``_embedded_files.py``) ``Writing embedded files for Environment to disk.`` or ``...
  for Task to disk.``, ``Mapping: <Env|Task>.File.<name> -> <path>`` and
  ``Wrote: <name> -> <path>``.
- ``_runner_base.py``: the subsection ``Phase: Running action``; on POSIX the command is a
  generated ``tmp<random>.sh`` in the working directory; a cancel logs ``Canceling subprocess
  <pid> via termination method at <%Y-%m-%dT%H:%M:%SZ>.``
- ``_subprocess.py``: ``Running command <shlex.join(command)>`` (with a job user:
  ``sudo -u <user> -i setsid -w <script>``), ``Command started as pid: <pid>``, ``Output:``,
  each output line as one record (read in text mode, so ``\\r`` also ends a line, and at most
  64,000 characters at a time), then ``Process pid <pid> exited with code: <code> (unsigned)
  / <hex(code)> (hex)``, with `` / <signed> (signed)`` appended when the code is 0x7FFFFFFF or
  more (a Windows crash code such as 0xC0000005).
- ``_action_filter.py``: lines ``^openjd_(progress|status|fail|env|redacted_env|unset_env|
  session_runtime_loglevel): (.+)$`` are read by the runtime and kept in the log (the filter is
  built with ``suppress_filtered=False``); progress is a float from 0 to 100.

deadline-cloud-worker-agent, ``src/deadline_worker_agent/``:

- ``scheduler/scheduler.py``: the session log carries the ``openjd.sessions`` and
  ``deadline.job_attachments`` loggers, attached when the session starts running, after the
  openjd session was created (so openjd's version lines are not in it); the first line is
  ``Running Session Actions as user: <user>``.
- ``sessions/log_config.py``: the CloudWatch format is ``%(message)s``.
- ``log_sync/cloudwatch.py``: an empty message is sent as one space (CloudWatch requires at
  least one character); the timestamp is ``int(record.created * 1000)``; an event longer than
  ``256 * 1000`` bytes of UTF-8 is split into pieces of at most that size.
- ``sessions/actions/sync_input_job_attachments.py``: the banner ``Job Attachments Download for
  Job`` (``... for Step`` when the action names a step); ``sessions/session.py``:
  ``Syncing inputs using Job Attachments`` and ``Summary Statistics for file downloads:\\n<stats>``;
  after a task run that succeeded, the subsection ``Uploading output files to Job
  Attachments``, ``Started syncing outputs using Job Attachments``, ``Summary Statistics for
  file uploads:\\n<stats>`` and ``Finished syncing outputs using Job Attachments``, before the
  action ends. The session root on Linux is ``/sessions`` (``startup/config.py``).

deadline-cloud (installed, ``deadline/job_attachments/``): ``SummaryStatistics.__str__``
(``progress_tracker.py``) is three lines, each ending with ``\\n``; sizes are
``human_readable_file_size`` (``_path_summarization.py``); ``asset_sync.py`` logs ``Found <n>
file(s) totaling <size> in output directory: <dir>``, ``Uploading <n> output file(s) to S3:
<bucket>/<root>/Data`` and ``Uploading output manifest to <root>/Manifests/<path>``; the local
copy of a job's files is ``assetroot-<shake_256(root).hexdigest(10)>`` (``_utils.py``).

CloudWatch Logs: events must be UTF-8 (CloudWatch Logs concepts), so bytes that were not UTF-8
reach a reader as U+FFFD; a message is at least one character; a log event may be up to 1 MB
since the 1 MB raise (``PutLogEvents`` in botocore's ``logs`` model; 256 KB = 262,144 bytes
before), and the agent still cuts at 256,000 bytes.

Uncertain: the agent also logs a line when a session fails to start, and newer agents may run
the session in another runtime; the farm writes what the sources above write. A task that prints
a ``\\r`` progress bar reaches CloudWatch as one event per redraw on the current stack; the one
hard ``\\r`` line below is kept whole on purpose, to test readers.

What the farm adds, deterministically
-------------------------------------
- The task's own output, by step environment (Arnold, Houdini, Golaem, Nuke), with an
  ``openjd_progress`` and an ``openjd_status`` line at every heartbeat instant of the action
  (``startedAt + 15 s * k``), carrying the ``progressPercent`` and ``progressMessage`` the API
  shows for that heartbeat; ``openjd_progress: 100.0`` before a successful exit.
- Endings by exit code: ``1`` a licence error shared by every task run of the ``failing`` job
  that exits 1 (``License checkout failed``), a missing texture elsewhere; ``137`` memory climbing,
  then the shell's ``Killed``; ``-1073741819`` (and ``139``) an access violation
  (``Segmentation fault`` for 139); a canceled or interrupted action is terminated (exit -9); a
  reclaimed worker's log simply stops. The worker with the most failed actions in a job gets
  ``EDAC`` memory warnings in its job-environment output.
- The hard lines, in the first task run of the ``render`` job's first session (see
  :func:`hard_session`): a line with U+FFFD, a line with ``\\r`` progress redraws, and a 300,000
  byte line cut by the agent into an event of exactly :data:`MAX_EVENT_BYTES` and its rest.
- The ``render`` job's last session has no log stream at all (:func:`streamless_session`).
"""

from __future__ import annotations

import bisect
import collections
import hashlib
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from ..schema import HEARTBEAT_SECONDS
from .simulation import JobBuild, Step, Task

__all__ = [
    "BANNER_RULE",
    "BLANK",
    "EVENT_OVERHEAD",
    "MAX_EVENT_BYTES",
    "SESSION_ROOT",
    "SUBSECTION_RULE",
    "JobLogContext",
    "LogEvent",
    "SessionLog",
    "exit_code_line",
    "hard_session",
    "human_size",
    "job_log_context",
    "session_log",
    "streamless_session",
]

#: The rule above and below a section banner (openjd-sessions ``log_section_banner``).
BANNER_RULE: Final = "=" * 46
#: The rule above and below a subsection banner (``log_subsection_banner``).
SUBSECTION_RULE: Final = "-" * 46
#: What an empty log record becomes in CloudWatch: the agent pads it to one space.
BLANK: Final = " "
#: The worker agent's session root on Linux.
SESSION_ROOT: Final = "/sessions"
#: The largest event the worker agent sends, in bytes of UTF-8 (``256 * 1000``).
MAX_EVENT_BYTES: Final = 256 * 1000
#: Bytes CloudWatch counts for each event besides its message (``PutLogEvents``: 26).
EVENT_OVERHEAD: Final = 26

_HEARTBEAT_MS: Final = int(HEARTBEAT_SECONDS * 1000)
_NAME_CHARS: Final = "abcdefghijklmnopqrstuvwxyz0123456789_"  # tempfile's random names
_HARD_LINE_BYTES: Final = 300_000


class LogEvent(NamedTuple):
    """One CloudWatch log event: when it happened, when CloudWatch took it, and its text."""

    timestamp: int
    ingestion_time: int
    message: str


class SessionLog:
    """A session's whole log, in time order, with what readers need to page through it fast.

    Attributes
    ----------
    events : list of LogEvent
        Every event of the session, including, for a session that is still running, those
        its plan says will come (:meth:`visible` cuts them at an instant).
    timestamps : list of int
        The events' timestamps, for :func:`bisect.bisect_right`.
    sizes : list of int
        Each event's size as CloudWatch counts it: UTF-8 bytes plus :data:`EVENT_OVERHEAD`.
    """

    __slots__ = ("events", "sizes", "timestamps")

    def __init__(self, events: list[LogEvent]) -> None:
        self.events = events
        self.timestamps = [e.timestamp for e in events]
        self.sizes = [len(e.message.encode()) + EVENT_OVERHEAD for e in events]

    def visible(self, now_ms: int | None) -> int:
        """Return how many events have happened by ``now_ms`` (all of them for ``None``).

        Parameters
        ----------
        now_ms
            The instant, in epoch milliseconds.

        Returns
        -------
        int
            The number of leading events with a timestamp at or before it.

        Examples
        --------
        >>> from deadline_nb.localfarm.sessionlog import LogEvent, SessionLog
        >>> log = SessionLog([LogEvent(10, 12, "a"), LogEvent(20, 21, "b")])
        >>> log.visible(15), log.visible(None)
        (1, 2)
        """
        if now_ms is None:
            return len(self.events)
        return bisect.bisect_right(self.timestamps, now_ms)


@dataclass(frozen=True)
class JobLogContext:
    """What a job's session logs need beyond the session and its actions.

    Parameters
    ----------
    job_id, job_name, role
        The job.
    tasks
        Task id -> the step and task it belongs to (for parameters and progress messages).
    user
        The queue's job user (``jobRunAsUser.posix.user``).
    bucket, root_prefix
        The queue's job attachments bucket and root prefix.
    asset_root
        The local name of the job's attachments root (``assetroot-<hash>``).
    scene
        The job's scene file, relative to the attachments root.
    output_dir
        The job's output directory, relative to the attachments root.
    bad_worker
        The worker with strictly the most failed actions in the job, if any.
    hard_session
        The session whose first task run carries the hard lines, if any.
    """

    job_id: str
    job_name: str
    role: str
    tasks: Mapping[str, tuple[Step, Task]]
    user: str
    bucket: str
    root_prefix: str
    asset_root: str
    scene: str
    output_dir: str
    bad_worker: str | None
    hard_session: str | None


def hard_session(build: JobBuild) -> str | None:
    """Return the session whose first task run carries the hard lines: the ``render`` job's first.

    Parameters
    ----------
    build
        A job's simulation.

    Returns
    -------
    str or None
        The session id, or ``None`` for the other jobs.

    Examples
    --------
    >>> from deadline_nb.localfarm.model import FarmModel
    >>> model = FarmModel(seed=0)
    >>> build = model.job_build(model.job_by_name("render").job_id)
    >>> hard_session(build) == build.sessions[0]["sessionId"]
    True
    """
    if build.spec.role != "render" or not build.sessions:
        return None
    return str(build.sessions[0]["sessionId"])


def streamless_session(build: JobBuild) -> str | None:
    """Return the session that has no log stream at all: the ``render`` job's last.

    As when the log driver was off or the logs expired: ``GetSession`` still names the stream,
    and ``GetLogEvents`` answers ``ResourceNotFoundException``.

    Parameters
    ----------
    build
        A job's simulation.

    Returns
    -------
    str or None
        The session id, or ``None`` for the other jobs.

    Examples
    --------
    >>> from deadline_nb.localfarm.model import FarmModel
    >>> model = FarmModel(seed=0)
    >>> build = model.job_build(model.job_by_name("render").job_id)
    >>> streamless_session(build) == build.sessions[-1]["sessionId"]
    True
    """
    if build.spec.role != "render" or len(build.sessions) < 2:
        return None
    return str(build.sessions[-1]["sessionId"])


def job_log_context(build: JobBuild, queue: Mapping[str, Any]) -> JobLogContext:
    """Return what the session logs of one job need: its tasks, user, paths, bad worker.

    Parameters
    ----------
    build
        The job's simulation (:meth:`FarmModel.job_build`).
    queue
        The ``GetQueue`` output of the job's queue.

    Returns
    -------
    JobLogContext
        The job's context, for :func:`session_log`.

    Examples
    --------
    >>> from deadline_nb.localfarm.model import FarmModel
    >>> model = FarmModel(seed=0)
    >>> spec = model.job_by_name("failing")
    >>> queue = next(q for q in model.queues if q["queueId"] == spec.queue_id)
    >>> context = job_log_context(model.job_build(spec.job_id), queue)
    >>> context.user, context.asset_root.startswith("assetroot-")
    ('render', True)
    """
    tasks = {t.task_id: (step, t) for step in build.steps for t in step.tasks}
    manifests = build.job_fields.get("attachments", {}).get("manifests", [{}])
    root = str(manifests[0].get("rootPath", "/mnt/projects"))
    outputs = manifests[0].get("outputRelativeDirectories") or ["renders"]
    settings = queue.get("jobAttachmentSettings", {})
    user = queue.get("jobRunAsUser", {}).get("posix", {}).get("user", "job-user")
    worker_of = {s["sessionId"]: s["workerId"] for s in build.sessions}
    failures = collections.Counter(
        worker_of[a["sessionId"]] for a in build.actions if a["status"] == "FAILED"
    )
    ranked = failures.most_common(2)
    bad = ranked[0][0] if ranked and (len(ranked) == 1 or ranked[0][1] > ranked[1][1]) else None
    return JobLogContext(
        job_id=build.spec.job_id,
        job_name=build.spec.name,
        role=build.spec.role,
        tasks=tasks,
        user=str(user),
        bucket=str(settings.get("s3BucketName", "job-attachments")),
        root_prefix=str(settings.get("rootPrefix", "DeadlineCloud")),
        asset_root=f"assetroot-{hashlib.shake_256(root.encode()).hexdigest(10)}",
        scene=f"scene/{build.spec.name}",
        output_dir=str(outputs[0]),
        bad_worker=bad,
        hard_session=hard_session(build),
    )


def human_size(size: int) -> str:
    """Return a size as the job attachments library prints it (``human_readable_file_size``).

    Parameters
    ----------
    size
        Bytes.

    Returns
    -------
    str
        Such as ``"31.2 MB"``: decimal units, rounded to two places, the next unit from 1000.

    Examples
    --------
    >>> from deadline_nb.localfarm.sessionlog import human_size
    >>> human_size(0), human_size(999_999), human_size(31_204_512)
    ('0 B', '1.0 MB', '31.2 MB')
    """
    converted: float = size
    rounded: float = size
    for postfix in ("B", "KB", "MB", "GB", "TB", "PB"):
        rounded = round(converted, 2)
        if rounded < 1000:
            return f"{rounded} {postfix}"
        converted /= 1000
    return f"{rounded} PB"


def exit_code_line(pid: int, returncode: int) -> str:
    """Return the line openjd-sessions logs when a process exits (``_log_returncode``).

    Parameters
    ----------
    pid
        The process id.
    returncode
        What ``Popen.returncode`` gave: negative for a POSIX signal, unsigned 32-bit on Windows.

    Returns
    -------
    str
        The line, with the signed reading added for codes from 0x7FFFFFFF up.

    Examples
    --------
    >>> from deadline_nb.localfarm.sessionlog import exit_code_line
    >>> exit_code_line(4321, 137)
    'Process pid 4321 exited with code: 137 (unsigned) / 0x89 (hex)'
    >>> exit_code_line(4321, 3221225477)  # doctest: +NORMALIZE_WHITESPACE
    'Process pid 4321 exited with code: 3221225477 (unsigned) / 0xc0000005 (hex)
     / -1073741819 (signed)'
    """
    head = f"Process pid {pid} exited with code: {returncode} (unsigned) / {hex(returncode)} (hex)"
    if returncode < 0x7FFFFFFF:
        return head
    signed = int.from_bytes((returncode & 0xFFFFFFFF).to_bytes(4, "big"), "big", signed=True)
    return f"{head} / {signed} (signed)"


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


class _Lines:
    """An action's lines: (timestamp, order, message), sorted and clamped when taken."""

    __slots__ = ("high", "items", "low")

    def __init__(self, low: int, high: int) -> None:
        self.low = low
        self.high = max(low, high)
        self.items: list[tuple[int, int, str]] = []

    def add(self, ts: float, message: str) -> None:
        t = int(ts)
        if t < self.low:
            t = self.low
        elif t > self.high:
            t = self.high
        self.items.append((t, len(self.items), message))

    def run(self, ts: float, messages: Sequence[str], step: float = 1.0) -> float:
        """Add consecutive lines from ``ts``, ``step`` ms apart; return the time after them."""
        for i, message in enumerate(messages):
            self.add(ts + i * step, message)
        return ts + len(messages) * step

    def taken(self) -> list[tuple[int, str]]:
        self.items.sort()
        return [(t, m) for t, _, m in self.items]


def _banner(title: str) -> list[str]:
    return [BLANK, BANNER_RULE, f"--------- {title}", BANNER_RULE]


def _subsection(title: str) -> list[str]:
    return [SUBSECTION_RULE, title, SUBSECTION_RULE]


def _name(r: random.Random, n: int = 8) -> str:
    return "".join(r.choices(_NAME_CHARS, k=n))


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def _utc(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))


def _stats(files: int, size: int, seconds: float) -> str:
    """``SummaryStatistics.__str__``: three lines, each ending with a newline."""
    rate = human_size(int(size / max(seconds, 1e-3)))
    return (
        f"Processed {files} file{'' if files == 1 else 's'} totaling {human_size(size)}.\n"
        f"Skipped re-processing 0 files totaling {human_size(0)}.\n"
        f"Total processing time of {round(seconds, 5)} seconds at {rate}/s.\n"
    )


def _progress_at(begin: float, full_end: float, beat: int) -> float:
    """The percentage the model reports at heartbeat ``beat`` (the same arithmetic as
    :func:`.simulation.report_progress`, so that the log and the API agree to the bit)."""
    updated = begin + beat * HEARTBEAT_SECONDS
    percent = min(99.0, max(0.0, 100.0 * (updated - begin) / max(full_end - begin, 1e-9)))
    return round(percent, 1)


@dataclass
class _Session:
    """Per-session state while its log is written."""

    ctx: JobLogContext
    session: Mapping[str, Any]
    r: random.Random
    workdir: str
    embedded: str
    pid: int
    host: str
    script: str = ""  # the embedded file the running action runs


def _run_command(s: _Session) -> str:
    script = f"{s.workdir}/tmp{_name(s.r)}.sh"
    return f"Running command sudo -u {s.ctx.user} -i setsid -w {script}"


def _setup(s: _Session, scope: str, file_name: str) -> list[str]:
    path = s.script = f"{s.embedded}/tmp{_name(s.r)}"
    return [
        *_subsection("Phase: Setup"),
        f"Writing embedded files for {'Environment' if scope == 'Env' else 'Task'} to disk.",
        f"Mapping: {scope}.File.{file_name} -> {path}",
        f"Wrote: {file_name} -> {path}",
        *_subsection("Phase: Running action"),
    ]


def _start_process(s: _Session, lines: _Lines, t: float) -> tuple[float, int]:
    """``Running command``, ``Command started as pid``, ``Output:``; return (time, pid)."""
    s.pid += s.r.randint(3, 40)
    lines.add(t, _run_command(s))
    t += s.r.uniform(8, 60)  # sudo and the shell start
    lines.add(t, f"Command started as pid: {s.pid}")
    lines.add(t, "Output:")
    return t + 1, s.pid


def _environment_name(action: Mapping[str, Any]) -> str:
    definition = action["definition"]
    env = definition.get("envEnter") or definition.get("envExit") or {}
    return str(env.get("environmentId", "")).rsplit(":", 1)[-1] or "Environment"


def _signal_end(s: _Session, lines: _Lines, action: Mapping[str, Any], pid: int, end: int) -> None:
    """How an action that did not finish by itself ends in the log."""
    status = action["status"]
    if status == "RECLAIMED":
        return  # the instance is gone: nothing more reaches CloudWatch
    # CANCELED (the job was canceled) and INTERRUPTED (the worker was told to stop): the
    # runtime terminates the process group; Popen reports the SIGKILL as -9.
    t = end - s.r.uniform(300, 900)
    lines.add(t, f"Canceling subprocess {pid} via termination method at {_utc(int(t))}.")
    lines.add(end - 5, exit_code_line(pid, -9))


def _env_action(s: _Session, action: Mapping[str, Any], begin: int, end: int) -> _Lines:
    lines = _Lines(begin, end - 2)
    r = s.r
    entering = "envEnter" in action["definition"]
    name = _environment_name(action)
    env = action["definition"].get("envEnter") or action["definition"].get("envExit") or {}
    is_job_env = str(env.get("environmentId", "")).startswith("JOB:")
    title = f"{'Entering' if entering else 'Exiting'} Environment: {name}"
    t = lines.run(begin + 1, _banner(title), 0.2)
    if entering and is_job_env:
        variables = [
            f"Setting: PROJECT={s.ctx.job_name.split('_')[0]}",
            f"Setting: DEADLINE_JOB_NAME={s.ctx.job_name}",
        ]
        t = lines.run(t, variables, 0.2)
    t = lines.run(t + 1, _setup(s, "Env", "Enter" if entering else "Exit"), 0.3)
    t, pid = _start_process(s, lines, t)
    status = action["status"]
    output: list[str]
    if not entering:
        output = [f"Releasing {name} on {s.host}", f"{name} environment closed"]
    elif is_job_env:
        output = [
            f"Host {s.host}: {r.choice((32, 48, 64))} CPUs, {r.choice((128, 192, 256))} GB RAM",
            f"Mounting /mnt/projects/{s.ctx.job_name.split('_')[0]} (nfs4) ... done",
        ]
        if s.session["workerId"] == s.ctx.bad_worker:
            output.append(
                f"WARNING: EDAC MC0: {r.randint(3, 19)} corrected memory errors on DIMM_B2 "
                "since boot"
            )
        output.append(f"openjd_env: DEADLINE_PROJECT_ROOT={s.workdir}/{s.ctx.asset_root}")
    else:
        output = [
            f"Using {name} {_version_of(name)} from /opt/{name.lower()}",
            f"{name} licence server: 5053@lic-01.studio.internal",
        ]
    stop = end - 4
    if status == "FAILED":
        output = [
            f"ERROR: {name} {_version_of(name)} is not installed on {s.host} "
            f"(/opt/{name.lower()} not found)",
            f"openjd_fail: {name} is not installed on {s.host}",
        ]
    span = max(1.0, (stop - t) * 0.8)
    for i, message in enumerate(output):
        lines.add(t + span * (i + 1) / (len(output) + 1), message)
    if status in ("CANCELED", "INTERRUPTED", "RECLAIMED"):
        _signal_end(s, lines, action, pid, end)
    else:
        lines.add(stop, exit_code_line(pid, int(action.get("processExitCode", 0))))
    return lines


def _version_of(name: str) -> str:
    # The version the farm's environments print for a package.
    return {"Arnold": "7.3.1", "Houdini": "20.5.332", "Golaem": "8.2.1", "Nuke": "15.1v3"}.get(
        name, "1.0"
    )


def _sync_action(s: _Session, action: Mapping[str, Any], begin: int, end: int) -> _Lines:
    lines = _Lines(begin, end - 2)
    scope = "Step" if action["definition"]["syncInputJobAttachments"].get("stepId") else "Job"
    t = lines.run(begin + 1, _banner(f"Job Attachments Download for {scope}"), 0.2)
    lines.add(t + 2, "Syncing inputs using Job Attachments")
    if action["status"] == "SUCCEEDED":
        seconds = max(0.05, (end - begin) / 1000 - 0.4)
        files = s.r.randint(40, 400)
        size = int(files * s.r.uniform(2e6, 4e7))
        lines.add(
            end - 20, f"Summary Statistics for file downloads:\n{_stats(files, size, seconds)}"
        )
    return lines


def _profile_intro(s: _Session, step: Step, task: Task) -> tuple[list[str], str]:
    """The task's first output lines, and the name of the program it runs."""
    r, ctx = s.r, s.ctx
    scene = f"{s.workdir}/{ctx.asset_root}/{ctx.scene}"
    env = step.env_name
    if env == "Arnold":
        return [
            f"Loading scene {scene}.ass",
            f"Scene loaded in {r.uniform(6, 30):.1f} s: {r.randint(900, 4000):,} nodes, "
            f"{r.randint(8, 60)} lights, {r.uniform(0.8, 6):.2f} GB of textures",
            f"Rendering frame {task.label} at 1920x1080 with camera shotCam, "
            f"{r.randint(4, 9)} AOVs, {r.choice((3, 4, 5))} camera AA samples",
        ], "kick"
    if env == "Houdini":
        return [
            f"Loading hip file {scene}.hip",
            f"Cooking /obj/{step.name.lower()}/dopnet1 for frames {task.label}",
        ], "hython"
    if env == "Golaem":
        return [
            f"Loading crowd scene {scene}.gscl",
            f"Crowd: {r.randint(8, 30) * 1000:,} agents, {r.randint(4, 12)} character files",
            f"Simulating frame {task.label}",
        ], "glmCrowdSim"
    if env == "Nuke":
        return [
            f"Loading script {scene}.nk",
            f"Rendering Write_comp for frame {task.label}",
        ], "nuke"
    return [f"Running {step.name} for {task.label}"], step.env_name.lower()


def _frames(task: Task) -> list[int]:
    first, _, last = task.label.partition("-")
    start = int(first)
    return list(range(start, int(last) + 1)) if last else [start]


def _outputs(s: _Session, task: Task) -> tuple[list[str], int, int]:
    """The files a task wrote: the lines that say so, their count, their total size."""
    r, ctx = s.r, s.ctx
    out = f"{s.workdir}/{ctx.asset_root}/{ctx.output_dir}"
    frames = _frames(task)
    sizes = [int(r.uniform(8e6, 6e7)) for _ in frames]
    if len(frames) == 1:
        line = f"Wrote {out}/{ctx.job_name}.{frames[0]:04d}.exr ({human_size(sizes[0])})"
    else:
        line = (
            f"Wrote {len(frames)} files to {out}/{ctx.job_name}.{frames[0]:04d}-"
            f"{frames[-1]:04d}.bgeo.sc ({human_size(sum(sizes))})"
        )
    return [line], len(frames), sum(sizes)


def _failure(
    s: _Session, step: Step, task: Task, program: str, code: int, pid: int
) -> tuple[list[str], int]:
    """The lines a task prints as it fails with ``code``, and the return code openjd sees."""
    r, ctx = s.r, s.ctx
    if code == 1:
        if ctx.role == "failing":
            # One error for every task run of the job that exits 1: something to grep for.
            return [
                "ERROR: License checkout failed for glmCrowdSim from 5053@lic-01.studio.internal:"
                " all 40 seats in use (RLM error -22)",
                "openjd_fail: License checkout failed for glmCrowdSim (RLM error -22)",
            ], 1
        texture = f"{s.workdir}/{ctx.asset_root}/tex/forest_bark_diff.{1001 + task.index % 9}.tx"
        return [
            f"ERROR: [texturesys] Could not open texture {texture}: No such file or directory",
            f"openjd_fail: Missing texture {texture.rsplit('/', 1)[-1]}",
        ], 1
    if code == 137:
        child = pid + r.randint(2, 9)
        memory = [r.uniform(20, 30)]
        while memory[-1] < 60:
            memory.append(memory[-1] + r.uniform(6, 14))
        lines = [f"[{program}] memory: {m:.1f} GB resident" for m in memory]
        # The task's script runs the program under bash, which reports the OOM kill and exits
        # with 128 + 9.
        lines.append(
            f"{s.script}: line {r.randint(8, 20)}: {child} Killed                  "
            f"{program} --frame {task.label}"
        )
        return lines, 137
    if code == 139:
        return ["Segmentation fault (core dumped)"], 139
    if code == -1073741819:
        address = r.getrandbits(44) | 0x7FF000000000
        return [
            f"[{program}] Unhandled exception 0xC0000005 (EXCEPTION_ACCESS_VIOLATION) at "
            f"0x{address:016X} reading address 0x0000000000000018",
            "Stack trace:",
            f"  #0 0x{address:016X} in glmCrowdKernel!solveAgentCollisions",
            f"  #1 0x{address - 0x3A0:016X} in glmCrowdKernel!stepSimulation",
            f"openjd_fail: {program} crashed with an access violation",
        ], code & 0xFFFFFFFF
    return [f"ERROR: {program} failed with exit code {code}"], code


def _hard_lines(s: _Session) -> list[str]:
    """The deliberately awkward lines (see the module docstring)."""
    texture = f"{s.workdir}/{s.ctx.asset_root}/tex/fa\ufffdade_brick_diff.1001.tx"
    bar = "\r".join(
        f"Texture cache warm-up: {p:3d}% |{'#' * (p // 10):<10}|" for p in range(0, 101, 10)
    )
    head = "Shader network dump: "
    body = "".join(f"shader_{i:05d}=aiStandardSurface;" for i in range(12_000))
    record = (head + body)[:_HARD_LINE_BYTES]
    return [
        f"Warning: texture name is not UTF-8, read as is: {texture}",
        bar,
        record[:MAX_EVENT_BYTES],  # ASCII: bytes and characters are the same here
        record[MAX_EVENT_BYTES:],
    ]


def _task_action(
    s: _Session, action: Mapping[str, Any], begin: int, end: int, running_plan: bool, hard: bool
) -> _Lines:
    lines = _Lines(begin, end - 2)
    r = s.r
    run = action["definition"]["taskRun"]
    step, task = s.ctx.tasks[run["taskId"]]
    t = lines.run(begin + 1, _banner("Running Task"), 0.2)
    parameters = ["Parameter values:"]
    for name, value in run.get("parameters", {}).items():
        ((kind, text),) = value.items()
        label = {"int": "INT", "float": "FLOAT", "string": "STRING", "path": "PATH"}
        parameters.append(f"{name}({label.get(kind, 'CHUNK[INT]')}) = {text}")
    t = lines.run(t, parameters, 0.2)
    t = lines.run(t + 1, _setup(s, "Task", "Run"), 0.3)
    t, pid = _start_process(s, lines, t)
    intro, program = _profile_intro(s, step, task)
    status = action["status"]
    code = action.get("processExitCode")
    # When the process exits: for a success, a few seconds before the end, for the upload.
    upload = status == "SUCCEEDED"
    exit_at = end - (min(r.uniform(800, 3500), (end - t) * 0.3) if upload else 6)
    exit_at = max(exit_at, t + 2)
    span = max(1.0, exit_at - t)
    for i, message in enumerate(intro):
        lines.add(t + min(2000.0, span * 0.2) * (i + 1) / (len(intro) + 1), message)
    if hard:
        at = t + min(2500.0, span * 0.25)
        texture, bar, head, rest = _hard_lines(s)
        lines.add(at, texture)
        lines.add(at + 1, bar)
        # The two pieces of one record: the agent gives both the record's timestamp.
        lines.add(at + 2, head)
        lines.add(at + 2, rest)
    # A success ends with its outputs, 100% and the exit, in the last moments of the process.
    outro_at = exit_at - 4 * 3 - 3
    # Heartbeat instants: the progress the API shows for each comes from these lines.
    if upload or running_plan:
        # Exactly the model's arithmetic, heartbeat by heartbeat, until the process finishes.
        start_s, end_s = float(action["startedAt"]), float(action["endedAt"])
        for k in range(1, int((outro_at - 1 - begin) // _HEARTBEAT_MS) + 1):
            percent = _progress_at(start_s, end_s, k)
            at = begin + k * _HEARTBEAT_MS
            lines.add(at, f"openjd_progress: {percent}")
            lines.add(at, f"openjd_status: {step.message(task, percent)}")
    else:
        # Cut short: the last heartbeat carries the percentage the API kept; the ones before
        # climb to it.
        top = float(action.get("progressPercent") or 0.0)
        last = (end - begin) // _HEARTBEAT_MS
        for k in range(1, last + 1):
            percent = top if k == last else round(top * k / last, 1)
            at = begin + k * _HEARTBEAT_MS
            if k == last and status in ("RECLAIMED", "INTERRUPTED"):
                at = _ms(float(action.get("workerUpdatedAt", at / 1000)))
            at = min(at, exit_at - 1)
            lines.add(at, f"openjd_progress: {percent}")
            lines.add(at, f"openjd_status: {step.message(task, percent)}")
    if status == "SUCCEEDED":
        written, files, size = _outputs(s, task)
        seconds = (exit_at - begin) / 1000
        took = "Render time" if step.env_name == "Arnold" else "Finished in"
        outro = [
            *written,
            f"{took} {_clock(seconds)}, peak memory {r.uniform(4, 40):.2f} GB",
            "openjd_progress: 100.0",
            f"openjd_status: {step.message(task, 100.0)}",
        ]
        lines.run(outro_at, outro, 3)
        lines.add(exit_at, exit_code_line(pid, 0))
        out_dir = f"{s.workdir}/{s.ctx.asset_root}/{s.ctx.output_dir}"
        manifest = (action.get("manifests") or [{}])[0].get("outputManifestPath", "")
        upload_s = max(0.05, (end - exit_at) / 1000 - 0.1)
        after = [
            *_subsection("Uploading output files to Job Attachments"),
            "Started syncing outputs using Job Attachments",
            f"Found {files} file{'' if files == 1 else 's'} totaling {human_size(size)} in "
            f"output directory: {out_dir}",
            f"Uploading {files} output file{'' if files == 1 else 's'} to S3: "
            f"{s.ctx.bucket}/{s.ctx.root_prefix}/Data",
            f"Uploading output manifest to {s.ctx.root_prefix}/Manifests/{manifest}",
            f"Summary Statistics for file uploads:\n{_stats(files, size, upload_s)}",
            "Finished syncing outputs using Job Attachments",
        ]
        gap = max(1.0, (end - 4 - exit_at) / len(after))
        lines.run(exit_at + 1, after, gap)
    elif status == "FAILED" and code is not None:
        ending, returncode = _failure(s, step, task, program, int(code), pid)
        # Memory climbs over the last minute before the OOM kill; a crash is sudden.
        gap = min(8000.0, span / (len(ending) + 2)) if code == 137 else 40.0
        lines.run(exit_at - 40 - (len(ending) - 1) * gap, ending[:-1], gap)
        lines.add(exit_at - 40, ending[-1])
        lines.add(exit_at, exit_code_line(pid, returncode))
    else:
        _signal_end(s, lines, action, pid, end)
    return lines


def session_log(
    ctx: JobLogContext,
    session: Mapping[str, Any],
    actions: Sequence[Mapping[str, Any]],
    *,
    running: bool = False,
) -> SessionLog:
    """Write a session's whole log from its actions.

    Parameters
    ----------
    ctx
        The job's context (:func:`job_log_context`).
    session
        The session (``GetSession`` output; timestamps as epoch seconds).
    actions
        Its actions in order, as simulated (for the running job: the whole plan).
    running
        Whether the session belongs to the running job (its progress lines then carry the exact
        percentages the API computes at each heartbeat).

    Returns
    -------
    SessionLog
        Every event, in time order; ingestion times 0.2 to 1.5 s after the events.

    Examples
    --------
    >>> from deadline_nb.localfarm.model import FarmModel
    >>> model = FarmModel(seed=0)
    >>> spec = model.job_by_name("failing")
    >>> build = model.job_build(spec.job_id)
    >>> queue = next(q for q in model.queues if q["queueId"] == spec.queue_id)
    >>> session = build.sessions[0]
    >>> log = session_log(job_log_context(build, queue), session,
    ...                   build.session_actions[session["sessionId"]])
    >>> log.events[0].message
    'Running Session Actions as user: render'
    >>> [e.message for e in log.events[1:5]]  # doctest: +NORMALIZE_WHITESPACE
    [' ', '==============================================',
     '--------- Entering Environment: Crowd Env', '==============================================']
    """
    session_id = str(session["sessionId"])
    r = random.Random(f"sessionlog:{session_id}")
    workdir = f"{SESSION_ROOT}/{session_id}{_name(r)}"
    host = str(session.get("hostProperties", {}).get("hostName", "localhost"))
    s = _Session(
        ctx=ctx,
        session=session,
        r=r,
        workdir=workdir,
        embedded=f"{workdir}/embedded_files{_name(r)}",
        pid=r.randint(2000, 60000),
        host=host,
    )
    start = _ms(float(session["startedAt"]))
    timed = [a for a in actions if a.get("startedAt") is not None]
    first = _ms(float(timed[0]["startedAt"])) if timed else start + 1000
    out: list[tuple[int, str]] = [
        (min(start + r.randint(15, 120), first - 1), f"Running Session Actions as user: {ctx.user}")
    ]
    hard_done = ctx.hard_session != session_id
    dead = False
    for action in timed:
        begin, end = _ms(float(action["startedAt"])), _ms(float(action["endedAt"]))
        definition = action["definition"]
        if "taskRun" in definition:
            hard = not hard_done
            hard_done = True
            lines = _task_action(s, action, begin, end, running, hard)
        elif "syncInputJobAttachments" in definition:
            lines = _sync_action(s, action, begin, end)
        else:
            lines = _env_action(s, action, begin, end)
        out.extend(lines.taken())
        dead = dead or action["status"] in ("RECLAIMED", "INTERRUPTED")
    if not dead and "endedAt" in session:
        # Cleanup runs after the last action and before the session ends.
        last = _ms(float(timed[-1]["endedAt"])) if timed else first
        stop = _ms(float(session["endedAt"]))
        t = min(last + r.randint(40, 300), stop - 10)
        for i, message in enumerate(_banner("Session Cleanup")):
            out.append((t + i, message))
        out.append((t + 5, f"Deleting working directory: {workdir}"))
    # Ingestion 0.2 to 1.5 s later, from a cheap hash rather than the generator: fast, and the
    # same whatever the lines above draw.
    events = [
        LogEvent(ts, ts + 200 + (ts * 2654435761 + i * 40503) % 1300, message)
        for i, (ts, message) in enumerate(out)
    ]
    return SessionLog(events)
