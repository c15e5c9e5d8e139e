"""The ``deadline-nb`` command line: a thin layer over the library.

Each subcommand parses its arguments, calls one library function and maps known errors to exit
codes. Subcommands register themselves in :data:`SUBCOMMANDS`, so later ones (``report``,
``demo``) add a function and a line there.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from types import FrameType
from typing import TextIO

__all__ = ["SUBCOMMANDS", "build_parser", "main", "run_localfarm"]


def _add_localfarm(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "localfarm",
        help="run a local Deadline Cloud farm on 127.0.0.1 until Ctrl-C",
        description=(
            "Serve a simulated studio farm over the Deadline Cloud REST API on 127.0.0.1, in "
            "the foreground. Prints the endpoint and the environment variables that point boto3 "
            "and the deadline CLI at it, then the ids of its jobs."
        ),
    )
    parser.add_argument("--port", type=int, default=8000, help="TCP port; 0 picks a free one")
    parser.add_argument("--seed", type=int, default=0, help="the farm's seed (default 0)")
    parser.add_argument(
        "--latency", type=float, default=0.0, metavar="SEC", help="seconds added to each request"
    )
    parser.add_argument(
        "--throttle-rate",
        type=float,
        default=None,
        metavar="R",
        help="requests per second allowed per operation before 429 ThrottlingException",
    )
    parser.add_argument(
        "--fault-rate",
        type=float,
        default=0.0,
        metavar="F",
        help="share of requests answered with 500 InternalServerErrorException (0-1)",
    )
    parser.add_argument(
        "--item-fault-rate",
        type=float,
        default=0.0,
        metavar="F",
        help="share of BatchGet* items returned in `errors` as InternalServerErrorException",
    )
    parser.add_argument(
        "--speedup",
        type=float,
        default=1.0,
        metavar="X",
        help="how much faster than the wall clock the running job advances",
    )
    parser.add_argument(
        "--size",
        type=int,
        default=0,
        metavar="N",
        help="add the job sq900_big_render with about N session actions",
    )
    parser.set_defaults(handler=run_localfarm)


#: Subcommand name -> function that adds its parser.
SUBCOMMANDS: dict[str, Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = {
    "localfarm": _add_localfarm,
}


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
    from . import __version__

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
        ``fault_rate``, ``item_fault_rate``, ``speedup``, ``size``.
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

    out = sys.stdout if out is None else out
    stop = threading.Event() if stop is None else stop
    farm = LocalFarm(
        args.seed,
        size=args.size,
        latency=args.latency,
        throttle_rate=args.throttle_rate,
        fault_rate=args.fault_rate,
        item_fault_rate=args.item_fault_rate,
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
        for spec in farm.model.jobs:
            print(
                f"job   {spec.job_id}  {spec.name}  (role {spec.role}, queue "
                f"{queues[spec.queue_id]} {spec.queue_id})",
                file=out,
            )
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
        0 on success, 2 for bad arguments or values.

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
    except ValueError as error:
        # The library's messages name the argument; argparse prints them the usual way.
        parser.error(str(error))
    except OSError as error:
        print(f"deadline-nb: {error}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
