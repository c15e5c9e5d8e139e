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

from .helpers import job_options


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


def _interruptible() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


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
        # As from a terminal: a test run started in the background (`make test &`, nohup)
        # ignores SIGINT, its children inherit that, and Python then never raises
        # KeyboardInterrupt.
        preexec_fn=_interruptible,
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


# ---- deadline-nb fetch


def fetch_args(farm: Any, role: str, out: Any, *extra: str) -> list[str]:
    return ["fetch", *job_options(farm, role), "--quiet", "--out", str(out), *extra]


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl", ".jsonl.gz"])
def test_fetch_writes_the_format_its_suffix_names(
    farm: Any, tmp_path: Any, suffix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import pandas as pd

    import deadline_nb as dnb

    out = tmp_path / f"actions{suffix}"
    assert cli.main(fetch_args(farm, "failing", out, "--no-cache")) == 0
    truth = farm.model.session_actions(farm.job_by_name("failing").job_id)
    assert f"Wrote {len(truth)} session actions" in capsys.readouterr().out
    if suffix == ".parquet":
        frame = dnb.read_parquet(out)
        assert len(frame) == len(truth)
        assert frame["status"].dtype == dnb.schema.STATUS
    elif suffix == ".csv":
        assert len(pd.read_csv(out)) == len(truth)
    else:
        back = dnb.read_json(out)
        assert sorted(a["sessionActionId"] for a in back) == sorted(
            a["sessionActionId"] for a in truth
        )


def test_fetch_ids_default_from_the_deadline_config(
    farm: Any, tmp_path: Any, deadline_defaults: Any
) -> None:
    import deadline_nb as dnb

    job = farm.job_by_name("canceled")
    deadline_defaults(farm.farm_id, job.queue_id, job.job_id)
    out = tmp_path / "a.parquet"
    code = cli.main(
        ["fetch", "--endpoint-url", farm.endpoint_url, "--no-cache", "--quiet", "--out", str(out)]
    )
    assert code == 0
    assert set(dnb.read_parquet(out)["jobId"]) == {job.job_id}


def test_fetch_errors_are_one_line_with_an_exit_code(
    farm: Any, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    args = fetch_args(farm, "failing", tmp_path / "a.parquet", "--no-cache")
    missing = "job-" + "0" * 32
    args[args.index("--job-id") + 1] = missing
    assert cli.main(args) == 1
    err = capsys.readouterr().err
    assert missing in err and err.count("\n") == 1 and "Traceback" not in err

    farm.expired_credentials = True
    try:
        assert cli.main(fetch_args(farm, "failing", tmp_path / "a.parquet", "--no-cache")) == 1
    finally:
        farm.expired_credentials = False
    assert "expired" in capsys.readouterr().err

    assert cli.main(fetch_args(farm, "failing", tmp_path / "nowhere" / "a.parquet")) == 1
    assert "does not exist" in capsys.readouterr().err

    with pytest.raises(SystemExit) as exited:
        cli.main(fetch_args(farm, "failing", tmp_path / "a.xlsx"))
    assert exited.value.code == 2
    assert "--out" in capsys.readouterr().err
