"""``deadline-nb``: the command line."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import boto3
import pytest
from botocore.config import Config

from deadline_nb import cli
from deadline_nb.localfarm import JOBS


def read_banner(process: subprocess.Popen[str], timeout: float = 30.0) -> list[str]:
    """The lines the farm prints before it waits, read without blocking forever."""
    lines: list[str] = []
    done = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("Press Ctrl-C"):
                break
        done.set()

    threading.Thread(target=read, daemon=True).start()
    assert done.wait(timeout), f"no banner in {timeout} s: {lines}"
    return lines


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_localfarm_subcommand_serves_until_stopped(stop_signal: signal.Signals) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "deadline_nb.cli",
            "localfarm",
            "--port",
            "0",
            "--seed",
            "0",
            "--speedup",
            "30",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = read_banner(process)
        exports = dict(
            line.removeprefix("export ").split("=", 1)
            for line in lines
            if line.startswith("export ")
        )
        endpoint = exports["AWS_ENDPOINT_URL_DEADLINE"]
        assert endpoint.startswith("http://127.0.0.1:") and not endpoint.endswith(":0")
        assert exports["AWS_DISABLE_HOST_PREFIX_INJECTION"] == "true"
        assert endpoint in lines[0]
        jobs = {line.split()[2]: line.split()[1] for line in lines if line.startswith("job ")}
        assert set(jobs) == set(JOBS.values())
        farm_id = next(line.split()[1] for line in lines if line.startswith("farm "))
        client: Any = boto3.session.Session(
            aws_access_key_id="x", aws_secret_access_key="x", region_name="us-west-2"
        ).client("deadline", endpoint_url=endpoint, config=Config(inject_host_prefix=False))
        found = client.search_jobs(
            farmId=farm_id,
            queueIds=[q["queueId"] for q in client.list_queues(farmId=farm_id)["queues"]],
            itemOffset=0,
        )
        assert {j["name"]: j["jobId"] for j in found["jobs"]} == jobs
        process.send_signal(stop_signal)  # SIGINT is Ctrl-C
        out, err = process.communicate(timeout=10)
        assert process.returncode == 0, err
        assert "Local farm stopped." in out
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_localfarm_in_process_stops_on_event() -> None:
    stop = threading.Event()
    out = io.StringIO()
    args = cli.build_parser().parse_args(["localfarm", "--port", "0", "--size", "50"])
    thread = threading.Thread(
        target=cli.run_localfarm, args=(args,), kwargs={"out": out, "stop": stop}
    )
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while "Press Ctrl-C" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert "sq900_big_render" in out.getvalue()
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert out.getvalue().rstrip().endswith("Local farm stopped.")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["localfarm", "--fault-rate", "2"], "`fault_rate`"),
        (["localfarm", "--port", "x"], "invalid int value"),
        ([], "COMMAND"),
    ],
)
def test_bad_arguments_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(argv)
    assert caught.value.code == 2
    assert message in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(["--version"])
    assert caught.value.code == 0
    assert capsys.readouterr().out.startswith("deadline-nb ")
