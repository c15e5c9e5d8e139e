"""The ``deadline-nb`` command line: a thin layer over the library.

Each subcommand parses its arguments, calls one library function and maps known errors to exit
codes. Subcommands register themselves in :data:`SUBCOMMANDS`, so later ones (``report``,
``demo``) add a function and a line there.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, Protocol, TextIO

from .errors import DeadlineNbError, bad_argument, check_one_of

__all__ = [
    "SUBCOMMANDS",
    "Subparsers",
    "build_parser",
    "main",
    "run_demo",
    "run_fetch",
    "run_history_compact",
    "run_history_ddl",
    "run_localfarm",
    "run_logs",
    "run_report",
    "run_sync",
    "run_usage",
]

_DEMO_OUT = "deadline-nb-demo"


class Subparsers(Protocol):
    """What a subcommand adds its parser to: the result of ``add_subparsers()``.

    Spelled as a protocol because argparse names its class privately.
    """

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        """Add the parser of subcommand ``name`` and return it."""


def _knob(convert: Callable[[str], Any], check: str, name: str) -> Callable[[str], Any]:
    """An argparse ``type`` for a local-farm knob: convert the text, then run the farm's check.

    ``check`` names a function of :mod:`deadline_nb.localfarm.knobs`, and ``name`` is the farm's
    keyword for the option, so that the shell and ``LocalFarm(...)`` refuse a knob with the same
    sentence; argparse prints it on one line after the option's name and exits 2. The checks are
    imported when an option is parsed: the other subcommands never load the farm.
    """

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:  # argparse's own wording for a value of the wrong type
            raise argparse.ArgumentTypeError(
                f"invalid {convert.__name__} value: {text!r}"
            ) from None
        from .localfarm import knobs

        try:
            return getattr(knobs, check)(name, value)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    parse.__name__ = convert.__name__
    return parse


def _quota(text: str) -> float | bool:
    """``--logs-quota``: ``service`` for the service's own quotas, else a number (checked by
    :func:`deadline_nb.localfarm.knobs.check_quota`, which refuses 0 and negatives)."""
    if text.strip().lower() == "service":
        return True
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid value: {text!r} (a number of requests per second, or 'service')"
        ) from None


def _add_localfarm(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "localfarm",
        help="run a local Deadline Cloud farm on 127.0.0.1 until Ctrl-C",
        description=(
            "Serve a simulated studio farm over the Deadline Cloud REST API on 127.0.0.1, in "
            "the foreground, with its session logs over CloudWatch Logs on the same endpoint. "
            "Prints the endpoint and the environment variables that point boto3 and the "
            "deadline CLI at it, then the ids of its jobs."
        ),
    )
    parser.add_argument(
        "--port",
        type=_knob(int, "check_port", "port"),
        default=8000,
        help="TCP port; 0 picks a free one",
    )
    parser.add_argument("--seed", type=int, default=0, help="the farm's seed (default 0)")
    parser.add_argument(
        "--latency",
        type=_knob(float, "check_seconds", "latency"),
        default=0.0,
        metavar="SEC",
        help="seconds added to each request",
    )
    parser.add_argument(
        "--throttle-rate",
        type=_knob(float, "check_positive", "throttle_rate"),
        default=None,
        metavar="R",
        help="requests per second allowed per operation before 429 ThrottlingException "
        "(CloudWatch Logs operations too, with their 400 ThrottlingException)",
    )
    parser.add_argument(
        "--fault-rate",
        type=_knob(float, "check_share", "fault_rate"),
        default=0.0,
        metavar="F",
        help="share of requests answered with 500 InternalServerErrorException (0-1)",
    )
    parser.add_argument(
        "--item-fault-rate",
        type=_knob(float, "check_share", "item_fault_rate"),
        default=0.0,
        metavar="F",
        help="share of BatchGet* items returned in `errors` as InternalServerErrorException",
    )
    parser.add_argument(
        "--logs-quota",
        type=_knob(_quota, "check_quota", "logs_quota"),
        default=None,
        metavar="R|service",
        help="requests per second allowed per CloudWatch Logs operation (GetLogEvents, "
        "FilterLogEvents, DescribeLogStreams, DescribeLogGroups) before 400 "
        "ThrottlingException 'Rate exceeded'; 'service' for the service's own quotas "
        "(10, 5, 25 and 10 a second)",
    )
    parser.add_argument(
        "--speedup",
        type=_knob(float, "check_positive", "speedup"),
        default=1.0,
        metavar="X",
        help="how much faster than the wall clock the running job advances",
    )
    parser.add_argument(
        "--size",
        type=_knob(int, "check_count", "size"),
        default=0,
        metavar="N",
        help="add the job sq900_big_render with about N session actions",
    )
    parser.add_argument(
        "--queue-jobs",
        type=_knob(int, "check_count", "queue_jobs"),
        default=0,
        metavar="N",
        help="add N small jobs to the Lighting queue, submitted over the 120 days before",
    )
    parser.add_argument(
        "--history",
        type=_knob(int, "check_count", "history"),
        default=0,
        metavar="WEEKS",
        help="add WEEKS weeks of submissions (versions of three shows' shots, in the "
        "Lighting, FX and Comp queues, with a slower Render step from a given week)",
    )
    parser.set_defaults(handler=run_localfarm)


def _add_aws_options(parser: argparse.ArgumentParser) -> None:
    """The job and connection options shared by the subcommands that read from AWS."""
    ids = parser.add_argument_group("job (default: the deadline CLI's configured defaults)")
    ids.add_argument("--farm-id", help="farm-...")
    ids.add_argument("--queue-id", help="queue-...")
    ids.add_argument("--job-id", help="job-...")
    connection = parser.add_argument_group("connection")
    connection.add_argument("--profile", help="AWS profile (default: the deadline CLI's)")
    connection.add_argument("--region", help="AWS region of the farm")
    connection.add_argument(
        "--endpoint-url", help="another endpoint, such as a local farm's http://127.0.0.1:PORT"
    )
    connection.add_argument(
        "--no-cache", action="store_true", help="neither read nor write the local cache"
    )
    connection.add_argument(
        "--refresh", action="store_true", help="fetch everything again, ignoring the cache"
    )
    connection.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_fetch(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "fetch",
        help="write a job's session actions to .parquet, .csv or .jsonl",
        description=(
            "Fetch every session action of a job (through the local cache) and write them: "
            ".parquet or .csv as the session-action frame, .jsonl (or .jsonl.gz) as the raw "
            "API responses, which deadline_nb.read_json reads back."
        ),
    )
    _add_aws_options(parser)
    parser.add_argument("--out", required=True, help="output file; its suffix picks the format")
    parser.set_defaults(handler=run_fetch)


def _add_report(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write a job's postmortem: one HTML file, with its charts and actions beside it",
        description=(
            "Load a job (through the local cache) and write its postmortem to DIR/report.html: "
            "one self-contained HTML file that opens offline, with the charts as PNG and SVG and "
            "the session actions as Parquet in DIR/report_files/."
        ),
    )
    _add_aws_options(parser)
    parser.add_argument(
        "--out", required=True, metavar="DIR", help="output folder (created), or an .html file"
    )
    parser.add_argument("--title", help="the report's heading (default: Postmortem: <job name>)")
    parser.set_defaults(handler=run_report)


def _add_diagnose(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "diagnose",
        help="print a job's findings: what went wrong, where, what to look at next",
        description=(
            "Load a job (through the local cache), read its session logs (and whatever else "
            "the job can read: worker metrics, cost), and print its findings, most severe "
            "first, one per line (deadline_nb.diagnose); --json prints them as one JSON "
            "document for pipelines."
        ),
    )
    _add_aws_options(parser)
    parser.add_argument(
        "--json", action="store_true", help="print the findings as JSON (one document)"
    )
    parser.add_argument(
        "--no-fetch",
        action="store_true",
        help="read no logs, metrics or cost: findings from the session actions alone",
    )
    parser.add_argument(
        "--evidence", action="store_true", help="print each finding's evidence and next step"
    )
    parser.set_defaults(handler=run_diagnose)


def _add_demo(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="report the local farm's failing job: what the toolkit does, with no AWS account",
        description=(
            "Start the local farm in this process, load its failing job and write its "
            "postmortem report; print where it is. The demo's cache is a file in the output "
            "folder, apart from yours."
        ),
    )
    parser.add_argument(
        "--out",
        default=_DEMO_OUT,
        metavar="DIR",
        help=f"output folder, created when missing (default: ./{_DEMO_OUT})",
    )
    # Checked in run_demo against localfarm.JOBS: importing the farm here would slow every command.
    parser.add_argument(
        "--job",
        default="failing",
        metavar="ROLE",
        help="which local-farm job to report: failing (default), render, simulation, canceled...",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run_demo)


def _positive_int(text: str) -> int:
    """``--tail``: a positive whole number of lines."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive number of lines, not {value}")
    return value


def _add_logs(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "logs",
        help="print a job's session logs: one action's, the failed actions', or grep them",
        description=(
            "Read a job's session logs from CloudWatch Logs (through the local cache: an ended "
            "session's log is read once) and print them as text: every session's log, one "
            "session action's (--session-action-id), or each failed action's (--failed); "
            "--grep prints only the matching lines, each with its action and worker."
        ),
    )
    _add_aws_options(parser)
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--session-action-id", metavar="ID", help="one session action's lines")
    which.add_argument("--failed", action="store_true", help="the lines of each failed action")
    parser.add_argument("--grep", metavar="PATTERN", help="only lines matching this regex (RE2)")
    parser.add_argument(
        "--tail", type=_positive_int, metavar="N", help="only the last N lines of each log"
    )
    parser.set_defaults(handler=run_logs)


def _add_usage(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "usage",
        help="print or write a farm's usage and estimated cost, by user, job, instance type...",
        description=(
            "Run Deadline Cloud's sessions-statistics aggregation (the one call this tool makes "
            "that is not a read: it creates nothing anyone pays for) over queues or fleets and "
            "a window, and print the estimated cost and runtime per group and period as a "
            "table, or write them with --out (.csv, .parquet or .jsonl). An ended window is "
            "cached."
        ),
    )
    ids = parser.add_argument_group("what (default: the deadline CLI's configured farm and queue)")
    ids.add_argument("--farm-id", help="farm-...")
    ids.add_argument(
        "--queue-id", action="append", metavar="ID", help="queue-... (repeat for up to 10)"
    )
    ids.add_argument(
        "--fleet-id", action="append", metavar="ID", help="fleet-... instead of queues (up to 10)"
    )
    window = parser.add_argument_group("window and groups")
    window.add_argument(
        "--since",
        default="30d",
        help="start: a duration before now (30d, 12h, 2w) or an ISO date/time (default 30d)",
    )
    window.add_argument("--until", default="now", help="end: ISO date/time or 'now' (default)")
    window.add_argument(
        "--by",
        action="append",
        metavar="FIELD",
        help="group by one or two of queue, fleet, job, user, usage_type, instance_type, "
        "license_product (repeat, or comma-separated; default queue)",
    )
    window.add_argument(
        "--period", help="one row per period: hourly, daily, weekly or monthly (default: none)"
    )
    window.add_argument("--timezone", help="where days begin: UTC+hh:mm or UTC-hh:mm")
    connection = parser.add_argument_group("connection")
    connection.add_argument("--profile", help="AWS profile (default: the deadline CLI's)")
    connection.add_argument("--region", help="AWS region of the farm")
    connection.add_argument(
        "--endpoint-url", help="another endpoint, such as a local farm's http://127.0.0.1:PORT"
    )
    connection.add_argument(
        "--no-cache", action="store_true", help="neither read nor write the local cache"
    )
    connection.add_argument(
        "--refresh", action="store_true", help="aggregate again, ignoring the cache"
    )
    connection.add_argument("--quiet", action="store_true", help="no progress indicator")
    parser.add_argument("--out", help="write .csv, .parquet or .jsonl instead of printing")
    parser.set_defaults(handler=run_usage)


def _add_sync(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "sync",
        help="write a farm's job history as a Parquet dataset; a rerun writes only what changed",
        description=(
            "List the jobs of a farm's queues (submitted since --since), fetch each new or "
            "changed job through the local cache, and write it to DEST as a Parquet dataset: "
            "one table per kind (jobs, steps, tasks, sessions, actions), hive-partitioned by "
            "farmId, queueId and submission month, one file per job, each replaced atomically. "
            "deadline_nb.read_history reads a table back."
        ),
    )
    ids = parser.add_argument_group("what (default: the deadline CLI's configured farm)")
    ids.add_argument("--farm-id", help="farm-...")
    ids.add_argument(
        "--queue-id", action="append", metavar="ID", help="queue-... (repeat; default: all)"
    )
    ids.add_argument(
        "--since", help="only jobs submitted in this last while: 30d, 12h, 2w (default: all)"
    )
    extra = parser.add_argument_group("extra tables (kept up to date once a job has them)")
    extra.add_argument(
        "--logs",
        action="store_true",
        help="also the logs table: a summary of each action's log lines (reads CloudWatch Logs)",
    )
    extra.add_argument(
        "--metrics",
        action="store_true",
        help="also the resources table: each action's worker memory and CPU (worker logs)",
    )
    parser.add_argument(
        "--compact",
        action="store_true",
        help="then put each month's finished jobs in one file per table (history compact)",
    )
    connection = parser.add_argument_group("connection")
    connection.add_argument("--profile", help="AWS profile (default: the deadline CLI's)")
    connection.add_argument("--region", help="AWS region of the farm")
    connection.add_argument(
        "--endpoint-url", help="another endpoint, such as a local farm's http://127.0.0.1:PORT"
    )
    connection.add_argument(
        "--no-cache", action="store_true", help="neither read nor write the local cache"
    )
    connection.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--to", required=True, metavar="DEST", help="the dataset's folder, or s3://bucket/prefix"
    )
    parser.set_defaults(handler=run_sync)


def _add_history(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "history",
        help="work with a history dataset written by sync",
        description="Commands on a history dataset (the folder `deadline-nb sync --to` wrote).",
    )
    commands = parser.add_subparsers(dest="history_command", metavar="COMMAND", required=True)
    ddl = commands.add_parser(
        "ddl",
        help="print the CREATE TABLE statements for Athena, Trino or Spark",
        description=(
            "Print the statements that declare the dataset's tables over the same files in "
            "another engine (Athena with partition projection; Trino's Hive connector; Spark), "
            "so that a copy of DEST on S3 is queried where it lies."
        ),
    )
    ddl.add_argument("--engine", default="athena", help="athena (default), trino or spark")
    ddl.add_argument(
        "--database", default="default", help="the database (Trino: schema); default 'default'"
    )
    ddl.add_argument(
        "--location",
        help="where the engine finds the dataset (s3://bucket/prefix); default DEST",
    )
    ddl.add_argument(
        "dest",
        metavar="DEST",
        help="the dataset: a local folder (read for its columns) or its s3:// URI",
    )
    ddl.set_defaults(handler=run_history_ddl)
    compact = commands.add_parser(
        "compact",
        help="put each month's finished jobs in one file per table (fewer, faster files)",
        description=(
            "Move the finished jobs of each farm, queue and month into one file per table. "
            "Readers give the same rows before, after and meanwhile; DuckDB, Athena and Spark "
            "read a month in one file rather than one per job. Run it after a sync."
        ),
    )
    compact.add_argument("--farm-id", help="only this farm's partitions")
    compact.add_argument("--queue-id", help="only this queue's partitions")
    compact.add_argument("--profile", help="an AWS profile, for an s3:// DEST")
    compact.add_argument("--quiet", action="store_true", help="no progress bar")
    compact.add_argument("dest", metavar="DEST", help="the dataset: a folder or s3://bucket/prefix")
    compact.set_defaults(handler=run_history_compact)


#: Subcommand name -> function that adds its parser.
SUBCOMMANDS: dict[str, Callable[[Subparsers], None]] = {
    "localfarm": _add_localfarm,
    "fetch": _add_fetch,
    "logs": _add_logs,
    "report": _add_report,
    "diagnose": _add_diagnose,
    "usage": _add_usage,
    "sync": _add_sync,
    "history": _add_history,
    "demo": _add_demo,
}

_FORMATS = (".parquet", ".csv", ".jsonl", ".jsonl.gz")


def _output_format(path: str) -> str:
    for suffix in _FORMATS:
        if path.lower().endswith(suffix):
            return suffix
    raise bad_argument("--out", f"end in one of {list(_FORMATS)}", path)


def _client_from(args: argparse.Namespace) -> Any:
    from .aws import client

    return client(endpoint_url=args.endpoint_url, profile=args.profile, region=args.region)


def run_fetch(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Fetch a job's session actions and write them where ``--out`` says.

    Parameters
    ----------
    args
        Parsed ``fetch`` arguments.
    out
        Where to print the summary line; standard output by default.

    Returns
    -------
    int
        The exit code: 0.

    Examples
    --------
    >>> import io, tempfile, pathlib
    >>> from deadline_nb.cli import build_parser, run_fetch
    >>> from deadline_nb.localfarm import LocalFarm
    >>> with LocalFarm() as farm, tempfile.TemporaryDirectory() as tmp:
    ...     job = farm.job_by_name("failing")
    ...     args = build_parser().parse_args([
    ...         "fetch", "--farm-id", farm.farm_id, "--queue-id", job.queue_id,
    ...         "--job-id", job.job_id, "--endpoint-url", farm.endpoint_url, "--no-cache",
    ...         "--quiet", "--out", str(pathlib.Path(tmp) / "actions.parquet")])
    ...     buffer = io.StringIO()
    ...     run_fetch(args, out=buffer)
    0
    >>> buffer.getvalue().startswith("Wrote 191 session actions")
    True
    """
    from pathlib import Path

    from .fetch import fetch_session_actions
    from .frames import session_action_frame, sort_actions, write_json
    from .frames.files import write_csv

    out = sys.stdout if out is None else out
    suffix = _output_format(args.out)
    path = Path(args.out)
    if not path.parent.is_dir():
        raise OSError(f"The folder {path.parent} does not exist; create it first.")
    actions = fetch_session_actions(
        args.farm_id,
        args.queue_id,
        args.job_id,
        cache=not args.no_cache,
        refresh=args.refresh,
        progress=not args.quiet,
        client=_client_from(args),
    )
    if suffix.startswith(".jsonl"):
        write_json(actions, path)
    else:
        frame = sort_actions(session_action_frame(actions))
        if suffix == ".parquet":
            frame.to_parquet(path)
        else:
            write_csv(frame, path)  # a progress message cannot run as a spreadsheet formula
    print(f"Wrote {len(actions)} session actions to {path}", file=out)
    return 0


def _action_text(job: Any, action_id: str, pattern: str | None, tail: int | None) -> str:
    """One action's lines (those matching ``pattern``, if given), the last ``tail`` of them."""
    from .frames import action_log_text, grep_log_frame
    from .text import printable_text

    frame = job.logs if pattern is None else grep_log_frame(job.logs, pattern)
    return printable_text(action_log_text(frame, action_id, tail=tail))


def run_logs(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Print a job's session logs as ``--session-action-id``, ``--failed``, ``--grep`` ask.

    Parameters
    ----------
    args
        Parsed ``logs`` arguments.
    out
        Where to print; standard output by default.

    Returns
    -------
    int
        The exit code: 0.

    Examples
    --------
    >>> import io
    >>> from deadline_nb.cli import build_parser, run_logs
    >>> from deadline_nb.localfarm import LocalFarm
    >>> with LocalFarm() as farm:
    ...     job = farm.job_by_name("failing")
    ...     args = build_parser().parse_args([
    ...         "logs", "--farm-id", farm.farm_id, "--queue-id", job.queue_id,
    ...         "--job-id", job.job_id, "--endpoint-url", farm.endpoint_url, "--no-cache",
    ...         "--quiet", "--failed", "--tail", "1"])
    ...     buffer = io.StringIO()
    ...     run_logs(args, out=buffer)
    0
    >>> buffer.getvalue().splitlines()[0].startswith("== sessionaction-")
    True
    """
    from .fetch import grep_logs, load_job
    from .fetch.logs import check_pattern
    from .text import printable_text

    out = sys.stdout if out is None else out
    if args.grep is not None:
        try:  # refused before anything is fetched
            check_pattern(args.grep)
        except ValueError:
            raise bad_argument("--grep", "be a regular expression (RE2)", args.grep) from None
    job = load_job(
        args.farm_id,
        args.queue_id,
        args.job_id,
        cache=not args.no_cache,
        refresh=args.refresh,
        progress=not args.quiet,
        client=_client_from(args),
    )
    actions = job.actions
    if args.session_action_id is not None:
        if args.session_action_id not in set(actions["sessionActionId"].astype(object)):
            raise bad_argument(
                "--session-action-id",
                f"be a session action of job {job.job_id}",
                args.session_action_id,
            )
        print(_action_text(job, args.session_action_id, args.grep, args.tail), file=out)
        return 0
    if args.failed:
        failed = actions.loc[(actions["status"] == "FAILED").fillna(False).to_numpy()]
        if failed.empty:
            print(f"Job {job.job_id} has no failed session actions.", file=out)
        for row in failed.to_dict("records"):
            code = row.get("processExitCode")
            step = row.get("stepName")
            worker = row.get("workerId")
            print(
                f"== {row['sessionActionId']} {step if isinstance(step, str) else '-'}, exit "
                f"{code if isinstance(code, int) else '?'}, on "
                f"{worker if isinstance(worker, str) else '?'}",
                file=out,
            )
            print(_action_text(job, row["sessionActionId"], args.grep, args.tail), file=out)
        return 0
    if args.grep is not None:
        hits = grep_logs(job, args.grep).to_dict("records")
        for hit in hits if args.tail is None else hits[-args.tail :]:
            action, worker, message = hit["sessionActionId"], hit["workerId"], hit["message"]
            where = action if isinstance(action, str) else hit["sessionId"]
            text = printable_text(message if isinstance(message, str) else "")
            print(f"{where} {worker if isinstance(worker, str) else '-'}: {text}", file=out)
        return 0
    for session, rows in job.logs.groupby("sessionId", observed=True, sort=True):
        print(f"== {session}", file=out)
        messages = [m if isinstance(m, str) else "" for m in rows["message"].astype(object)]
        for message in messages if args.tail is None else messages[-args.tail :]:
            print(printable_text(message), file=out)
    return 0


def _prepare_output(out: str) -> Path:
    """The report's HTML path, its folder created and checked before anything is fetched."""
    from .report import make_writable_folder, report_paths

    try:
        page, files = report_paths(out)
    except ValueError:
        raise bad_argument("--out", "be a folder or an .html file", out) from None
    make_writable_folder(files)
    return page


def _report_lines(job: Any, page: Path) -> list[str]:
    from .summary import TOTAL_LABEL, summarize
    from .text import printable_text

    total = summarize(job.actions).loc[TOTAL_LABEL]
    status = job.job.get("taskRunStatus", "?")
    # The job's name is the API's text: a lone surrogate cannot be printed, an escape sequence
    # would be run by the terminal. (write_report has warned about the first.)
    return [
        f"{printable_text(job.name)} ({job.job_id}) {status}: {len(job.actions)} session actions, "
        f"{total['taskRuns']} task runs, {total['failed']} failed, "
        f"{total['retriedTasks']} tasks retried.",
        f"Report: {page.resolve()}",
        f"Charts (PNG, SVG) and actions.parquet: {page.resolve().parent / (page.stem + '_files')}",
        *_finding_lines(job),
    ]


def _finding_lines(job: Any) -> list[str]:
    """The report's findings under its summary: ``Findings:`` then one line each."""
    from .findings import diagnose, findings_text
    from .text import printable_text

    # What the report read (its logs) is on the job: nothing more is fetched.
    lines = findings_text(diagnose(job))
    return ["Findings:", *(f"  {printable_text(line)}" for line in lines)]


def run_diagnose(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Load a job and print its findings (:func:`deadline_nb.diagnose`), or them as JSON.

    Parameters
    ----------
    args
        Parsed ``diagnose`` arguments: the job and connection options, ``json``,
        ``no_fetch`` and ``evidence``.
    out
        Where to print; standard output by default.

    Returns
    -------
    int
        The exit code: 0, findings or none (a pipeline reads the JSON's severities).

    Examples
    --------
    >>> import io, json
    >>> from deadline_nb.cli import build_parser, run_diagnose
    >>> from deadline_nb.localfarm import LocalFarm
    >>> with LocalFarm() as farm:
    ...     job = farm.job_by_name("failing")
    ...     args = build_parser().parse_args([
    ...         "diagnose", "--farm-id", farm.farm_id, "--queue-id", job.queue_id,
    ...         "--job-id", job.job_id, "--endpoint-url", farm.endpoint_url, "--no-cache",
    ...         "--quiet", "--json"])
    ...     buffer = io.StringIO()
    ...     run_diagnose(args, out=buffer)
    0
    >>> document = json.loads(buffer.getvalue())
    >>> document["findings"][0]["severity"], document["findings"][0]["kind"]
    ('critical', 'systematic_failure')
    """
    from .fetch import load_job
    from .findings import diagnose, findings_text
    from .text import printable_text

    out = sys.stdout if out is None else out
    job = load_job(
        args.farm_id,
        args.queue_id,
        args.job_id,
        cache=not args.no_cache,
        refresh=args.refresh,
        progress=not args.quiet,
        client=_client_from(args),
    )
    found = diagnose(job, fetch=not args.no_fetch)
    if args.json:
        document = {
            "farmId": job.farm_id,
            "queueId": job.queue_id,
            "jobId": job.job_id,
            "name": job.name,
            "findings": [
                {
                    key: list(value) if isinstance(value, tuple) else str(value)
                    for key, value in row.items()
                }
                for row in found.to_dict(orient="records")
            ],
            "unchecked": dict(found.attrs.get("unchecked") or {}),
        }
        print(json.dumps(document, indent=2, ensure_ascii=False), file=out)
        return 0
    print(f"{printable_text(job.name)} ({job.job_id}):", file=out)
    for line in findings_text(found, evidence=args.evidence):
        print(printable_text(line), file=out)
    return 0


def run_report(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Load a job and write its postmortem report where ``--out`` says; print where it is.

    Parameters
    ----------
    args
        Parsed ``report`` arguments.
    out
        Where to print the summary and the report's path; standard output by default.

    Returns
    -------
    int
        The exit code: 0.

    Examples
    --------
    >>> import io, tempfile
    >>> from deadline_nb.cli import build_parser, run_report
    >>> from deadline_nb.localfarm import LocalFarm
    >>> with LocalFarm() as farm, tempfile.TemporaryDirectory() as tmp:
    ...     job = farm.job_by_name("canceled")
    ...     args = build_parser().parse_args([
    ...         "report", "--farm-id", farm.farm_id, "--queue-id", job.queue_id,
    ...         "--job-id", job.job_id, "--endpoint-url", farm.endpoint_url, "--no-cache",
    ...         "--quiet", "--out", tmp])
    ...     buffer = io.StringIO()
    ...     run_report(args, out=buffer)
    0
    >>> buffer.getvalue().splitlines()[1].endswith("report.html")
    True
    """
    from .fetch import load_job
    from .report import write_report

    out = sys.stdout if out is None else out
    page = _prepare_output(args.out)
    job = load_job(
        args.farm_id,
        args.queue_id,
        args.job_id,
        cache=not args.no_cache,
        refresh=args.refresh,
        progress=not args.quiet,
        client=_client_from(args),
    )
    page = write_report(job, page, title=args.title)
    print("\n".join(_report_lines(job, page)), file=out)
    return 0


_USAGE_FORMATS = (".csv", ".parquet", ".jsonl")


def usage_table(usage: Any) -> str:
    """The usage frame as the text table ``deadline-nb usage`` prints.

    Parameters
    ----------
    usage
        A usage frame.

    Returns
    -------
    str
        One line per row: the group columns it was grouped by, the period's start (when there
        are periods), the record count, the estimated cost in USD and the runtime in hours.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> from deadline_nb.cli import usage_table
    >>> print(usage_table(dnb.statistics_frame([{"userId": "maya", "count": 2,
    ...     "costInUsd": {"sum": 12.5}, "runtimeInSeconds": {"sum": 7200.0}}])))
    userId count costUsd hours
      maya     2   12.50  2.00
    """
    from . import schema

    if not len(usage):
        return "No usage in this window."
    groups = [c for c in (*schema.USAGE_GROUP_BY.values(), "jobName") if usage[c].notna().any()]
    table = usage[groups].astype(object).where(usage[groups].notna(), "")
    starts = usage["startTime"]
    if starts.nunique() > 1:
        table.insert(0, "period", starts.dt.strftime("%Y-%m-%d %H:%M").str.removesuffix(" 00:00"))
    table["count"] = usage["count"].astype(object)
    table["costUsd"] = usage[schema.USAGE_COST].astype("float64").map("{:,.2f}".format)
    table["hours"] = (usage[schema.USAGE_RUNTIME].astype("float64") / 3600).map("{:,.2f}".format)
    text: str = table.to_string(index=False)
    return text


def run_usage(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Aggregate a farm's usage and print it as a table, or write it where ``--out`` says.

    Parameters
    ----------
    args
        Parsed ``usage`` arguments.
    out
        Where to print; standard output by default.

    Returns
    -------
    int
        The exit code: 0.

    Examples
    --------
    >>> import io
    >>> from deadline_nb.cli import build_parser, run_usage
    >>> from deadline_nb.localfarm import LocalFarm
    >>> with LocalFarm() as farm:
    ...     farm.statistics.seconds = 0.0
    ...     args = build_parser().parse_args([
    ...         "usage", "--farm-id", farm.farm_id, "--endpoint-url", farm.endpoint_url,
    ...         *[a for q in farm.model.queues for a in ("--queue-id", q["queueId"])],
    ...         "--since", "2026-03-01", "--until", "2026-04-01", "--by", "usage_type",
    ...         "--no-cache", "--quiet"])
    ...     buffer = io.StringIO()
    ...     run_usage(args, out=buffer)
    0
    >>> print(buffer.getvalue().strip())
    usageType count costUsd hours
      COMPUTE   126   97.32 86.22
      LICENSE   240   20.38 40.77
    """
    from pathlib import Path

    from .fetch import usage_frame
    from .frames.files import write_csv

    out = sys.stdout if out is None else out
    path = None
    if args.out is not None:
        suffix = next((s for s in _USAGE_FORMATS if args.out.lower().endswith(s)), None)
        if suffix is None:
            raise bad_argument("--out", f"end in one of {list(_USAGE_FORMATS)}", args.out)
        path = Path(args.out)
        if not path.parent.is_dir():
            raise OSError(f"The folder {path.parent} does not exist; create it first.")
    by = [part for item in (args.by or ["queue"]) for part in item.split(",") if part.strip()]
    usage = usage_frame(
        args.farm_id,
        queue_ids=args.queue_id,
        fleet_ids=args.fleet_id,
        start=args.since,
        end=args.until,
        group_by=by,
        period=args.period,
        timezone=args.timezone,
        cache=not args.no_cache,
        refresh=args.refresh,
        progress=not args.quiet,
        client=_client_from(args),
    )
    if path is None:
        print(usage_table(usage), file=out)
        return 0
    if path.suffix.lower() == ".parquet":
        usage.to_parquet(path)
    elif path.suffix.lower() == ".jsonl":
        usage.to_json(path, orient="records", lines=True, date_format="iso")
    else:
        write_csv(usage, path)
    print(f"Wrote {len(usage)} usage rows to {path}", file=out)
    return 0


def run_demo(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Start the local farm in this process, report its failing job, print where the report is.

    Parameters
    ----------
    args
        Parsed ``demo`` arguments: ``out`` (a folder, ``./deadline-nb-demo`` by default),
        ``job`` (a role of :data:`deadline_nb.localfarm.JOBS`) and ``quiet``.
    out
        Where to print; standard output by default.

    Returns
    -------
    int
        The exit code: 0.

    Examples
    --------
    >>> import io, tempfile
    >>> from deadline_nb.cli import build_parser, run_demo
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     buffer = io.StringIO()
    ...     run_demo(build_parser().parse_args(["demo", "--out", tmp, "--quiet"]), out=buffer)
    0
    >>> "sq030_crowd_v007_failing" in buffer.getvalue()
    True
    """
    from .aws import client
    from .fetch import load_job
    from .localfarm import JOBS, LocalFarm
    from .report import write_report

    out = sys.stdout if out is None else out
    check_one_of("--job", args.job, sorted(JOBS))
    page = _prepare_output(args.out)
    with LocalFarm(seed=0) as farm:
        spec = farm.job_by_name(args.job)
        print(
            f"Local farm running in this process on {farm.endpoint_url}; loading {spec.name}.",
            file=out,
            flush=True,
        )
        job = load_job(
            farm.farm_id,
            spec.queue_id,
            spec.job_id,
            # its own cache: the user's cache never sees the local farm's jobs
            cache=page.parent / "cache.sqlite3",
            progress=not args.quiet,
            client=client(endpoint_url=farm.endpoint_url),
        )
        # While the farm runs: the report reads the failed actions' logs from it.
        page = write_report(job, page, title=f"Postmortem: {job.name} (local farm demo)")
    lines = _report_lines(job, page)
    lines.append(f"Open it in a browser (it needs no network): {page.resolve().as_uri()}")
    print("\n".join(lines), file=out)
    return 0


def run_sync(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Sync a farm's job history to the dataset ``--to`` names.

    Parameters
    ----------
    args
        Parsed ``sync`` arguments.
    out
        Where to print the summary line; standard output by default.

    Returns
    -------
    int
        The exit code: 0 (a job that could not be synced raises, after the others are written).

    Examples
    --------
    >>> import io, tempfile
    >>> from deadline_nb.cli import build_parser, run_sync
    >>> from deadline_nb.localfarm import LocalFarm
    >>> with LocalFarm() as farm, tempfile.TemporaryDirectory() as tmp:
    ...     args = build_parser().parse_args([
    ...         "sync", "--farm-id", farm.farm_id, "--endpoint-url", farm.endpoint_url,
    ...         "--no-cache", "--quiet", "--to", tmp])
    ...     buffer = io.StringIO()
    ...     run_sync(args, out=buffer)
    0
    >>> buffer.getvalue().split(":")[0]
    'Synced 6 jobs'
    """
    from .queue_history import sync_history

    out = sys.stdout if out is None else out
    session = _session_from(args)
    result = sync_history(
        args.to,
        args.farm_id,
        args.queue_id,
        since=args.since,
        logs=args.logs,
        metrics=args.metrics,
        cache=not args.no_cache,
        progress=not args.quiet,
        client=_client_from(args),
        boto3_session=session,
    )
    total = len(result.written) + len(result.unchanged) + len(result.deleted)
    print(
        f"Synced {total} jobs: {len(result.written)} written, {len(result.unchanged)} "
        f"unchanged, {len(result.deleted)} newly marked deleted, in {result.dest}",
        file=out,
    )
    if args.compact:
        from .history_compact import compact_history

        # The queues synced (all of the farm's when none was named; the whole dataset's
        # when the farm came from the deadline config).
        packed = [
            compact_history(
                args.to, args.farm_id, q, boto3_session=session, progress=not args.quiet
            )
            for q in (args.queue_id or [None])
        ]
        print(
            f"Compacted {sum(p.jobs for p in packed)} jobs into "
            f"{sum(len(p.packs) for p in packed)} packs",
            file=out,
        )
    return 0


def run_history_ddl(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Print the DDL of a history dataset for ``--engine``.

    Parameters
    ----------
    args
        Parsed ``history ddl`` arguments.
    out
        Where to print; standard output by default.

    Returns
    -------
    int
        The exit code: 0.

    Examples
    --------
    >>> import io
    >>> from deadline_nb.cli import build_parser, run_history_ddl
    >>> args = build_parser().parse_args(
    ...     ["history", "ddl", "--engine", "spark", "s3://studio-history/deadline"])
    >>> buffer = io.StringIO()
    >>> run_history_ddl(args, out=buffer)
    0
    >>> buffer.getvalue().splitlines()[0]
    'CREATE TABLE IF NOT EXISTS `default`.`jobs` ('
    """
    from .history_ddl import history_ddl

    out = sys.stdout if out is None else out
    text = history_ddl(
        args.dest, engine=args.engine, location=args.location, database=args.database
    )
    print(text, file=out)
    return 0


def run_history_compact(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Compact a history dataset (:func:`deadline_nb.compact_history`).

    Parameters
    ----------
    args
        Parsed ``history compact`` arguments.
    out
        Where to print the summary line; standard output by default.

    Returns
    -------
    int
        The exit code: 0.

    Examples
    --------
    >>> import io, tempfile
    >>> from deadline_nb.cli import build_parser, run_history_compact
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     args = build_parser().parse_args(["history", "compact", "--quiet", tmp])
    ...     buffer = io.StringIO()
    ...     run_history_compact(args, out=buffer)
    0
    >>> buffer.getvalue().split(", in ")[0]
    'Compacted 0 jobs into 0 packs, 0 files removed'
    """
    from .history_compact import compact_history

    out = sys.stdout if out is None else out
    result = compact_history(
        args.dest,
        args.farm_id,
        args.queue_id,
        boto3_session=_session_from(args),
        progress=not args.quiet,
    )
    kept = f"; {len(result.kept)} rewritten meanwhile, left as they are" if result.kept else ""
    print(
        f"Compacted {result.jobs} jobs into {len(result.packs)} packs, {result.removed} files "
        f"removed{kept}, in {result.dest}",
        file=out,
    )
    return 0


def _session_from(args: argparse.Namespace) -> Any:
    """A boto3 session of ``--profile`` (and ``--region``) for an S3 dataset, or None."""
    profile = getattr(args, "profile", None)
    if not profile:
        return None
    import boto3

    return boto3.Session(profile_name=profile, region_name=getattr(args, "region", None))


def build_parser() -> argparse.ArgumentParser:
    """Return the ``deadline-nb`` argument parser with every subcommand.

    Returns
    -------
    argparse.ArgumentParser
        The parser; each subcommand sets ``handler`` to the function that runs it.

    Examples
    --------
    >>> from deadline_nb.cli import build_parser
    >>> build_parser().parse_args(["localfarm", "--port", "0"]).port
    0
    """
    from .version import __version__

    parser = argparse.ArgumentParser(
        prog="deadline-nb",
        description="Investigate AWS Deadline Cloud render jobs: tools around deadline_nb.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in SUBCOMMANDS.values():
        add(subparsers)
    return parser


def run_localfarm(
    args: argparse.Namespace, *, out: TextIO | None = None, stop: threading.Event | None = None
) -> int:
    """Run the local farm in the foreground until Ctrl-C, SIGTERM or ``stop`` is set.

    Parameters
    ----------
    args
        Parsed ``localfarm`` arguments: ``port``, ``seed``, ``latency``, ``throttle_rate``,
        ``fault_rate``, ``item_fault_rate``, ``logs_quota``, ``speedup``, ``size``,
        ``queue_jobs`` and ``history``.
    out
        Where to print the endpoint and ids; standard output by default.
    stop
        An event that ends the farm when set (for embedding and tests).

    Returns
    -------
    int
        The exit code: 0.

    Examples
    --------
    >>> import io, threading
    >>> from deadline_nb.cli import build_parser, run_localfarm
    >>> stop = threading.Event(); stop.set()
    >>> buffer = io.StringIO()
    >>> run_localfarm(build_parser().parse_args(["localfarm", "--port", "0"]), out=buffer,
    ...               stop=stop)
    0
    >>> buffer.getvalue().splitlines()[1].startswith("export AWS_ENDPOINT_URL_DEADLINE=")
    True
    """
    from .localfarm import LocalFarm
    from .localfarm.model import HISTORY_JOB_ROLE, QUEUE_JOB_ROLE

    out = sys.stdout if out is None else out
    stop = threading.Event() if stop is None else stop
    farm = LocalFarm(
        args.seed,
        size=args.size,
        queue_jobs=getattr(args, "queue_jobs", 0),
        history=getattr(args, "history", 0),
        latency=args.latency,
        throttle_rate=args.throttle_rate,
        fault_rate=args.fault_rate,
        item_fault_rate=args.item_fault_rate,
        logs_quota=getattr(args, "logs_quota", None),
        speedup=args.speedup,
        port=args.port,
    )
    with farm:
        print(f"Local Deadline Cloud farm listening on {farm.endpoint_url}", file=out)
        for name, value in farm.environment().items():
            print(f"export {name}={value}", file=out)
        print(
            "# any credentials work, e.g.: export AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x",
            file=out,
        )
        print(f"farm  {farm.farm_id}  {farm.model.farm['displayName']}", file=out)
        queues = {q["queueId"]: q["displayName"] for q in farm.model.queues}
        for queue_id, name in queues.items():
            print(f"queue {queue_id}  {name}", file=out)
        generated: dict[str, int] = {}
        for spec in farm.model.jobs:
            if spec.role in (QUEUE_JOB_ROLE, HISTORY_JOB_ROLE):
                # Hundreds or thousands of them: counted, not listed.
                generated[spec.role] = generated.get(spec.role, 0) + 1
                continue
            print(
                f"job   {spec.job_id}  {spec.name}  (role {spec.role}, queue "
                f"{queues[spec.queue_id]} {spec.queue_id})",
                file=out,
            )
        for role, count in generated.items():
            print(f"jobs  {count} more of role {role} (list them with SearchJobs)", file=out)
        print("Press Ctrl-C to stop.", file=out, flush=True)
        previous = _on_sigterm(stop)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
    print("Local farm stopped.", file=out, flush=True)
    return 0


def _on_sigterm(stop: threading.Event) -> signal.Handlers | Callable[..., object] | int | None:
    """Make SIGTERM end the farm cleanly; return the previous handler (None off the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    return signal.signal(signal.SIGTERM, handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``deadline-nb``; return its exit code.

    Parameters
    ----------
    argv
        The arguments, without the program name; ``sys.argv[1:]`` by default.

    Returns
    -------
    int
        0 on success, 1 for an error from AWS (access denied, no credentials, a job not
        found...) or the file system, 2 for bad arguments or values.

    Examples
    --------
    >>> from deadline_nb.cli import main
    >>> main(["--version"])  # doctest: +SKIP
    deadline-nb 0.1.0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except DeadlineNbError as error:
        # AWS errors are one sentence that says what to do: no traceback.
        print(f"deadline-nb: {error}", file=sys.stderr)
        return 1
    except ValueError as error:
        # The library's messages name the argument; argparse prints them the usual way.
        parser.error(str(error))
    except OSError as error:
        print(f"deadline-nb: {error}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
