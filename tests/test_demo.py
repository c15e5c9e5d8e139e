"""``deadline-nb demo``: the local farm's failing job, reported, from a bare folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from deadline_nb import cli
from deadline_nb.localfarm import JOBS, FarmModel

from .report_helpers import Page, assert_self_contained, failed_runs, parameters_text


def run_demo(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DEADLINE_"))}
    # No AWS configuration at all, and a user cache the demo must not touch.
    env.update(
        AWS_CONFIG_FILE=str(cwd / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(cwd / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        DEADLINE_CONFIG_FILE_PATH=str(cwd / "no-deadline-config"),
        DEADLINE_NB_CACHE=str(cwd / "user-cache.sqlite3"),
        MPLBACKEND="Agg",
    )
    return subprocess.run(
        [sys.executable, "-m", "deadline_nb.cli", "demo", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_demo_end_to_end_in_an_empty_folder(tmp_path: Path) -> None:
    done = run_demo(tmp_path)
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "deadline-nb-demo"
    report = folder / "report.html"
    lines = done.stdout.splitlines()
    assert f"Report: {report}" in lines
    assert lines[-1] == f"Open it in a browser (it needs no network): {report.as_uri()}"
    assert any(line.startswith(f"{JOBS['failing']} (job-") for line in lines)

    text = report.read_text(encoding="utf-8")
    page = assert_self_contained(text)
    words = " ".join(page.text)
    assert f"Postmortem: {JOBS['failing']}" in words
    assert {"timeline", "frame_times", "exit_codes"} <= set(page.figures)
    assert "0xC0000005 access violation" in words
    model = FarmModel(seed=0)  # the demo's farm
    for action in failed_runs(model, model.job_by_name(JOBS["failing"]).job_id):
        assert parameters_text(action) in words
    files = sorted(p.name for p in (folder / "report_files").iterdir())
    assert "timeline.png" in files and "frame_times.svg" in files and "actions.parquet" in files
    # its own cache, in its folder; the user's is left alone
    assert (folder / "cache.sqlite3").is_file()
    assert not (tmp_path / "user-cache.sqlite3").exists()

    again = run_demo(tmp_path)  # a rerun reads its cache and writes the same report
    assert again.returncode == 0, again.stderr
    assert Page(report.read_text(encoding="utf-8")).figures == page.figures


def test_demo_out_and_job(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "elsewhere"
    assert cli.main(["demo", "--out", str(out), "--job", "reclaimed", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert f"Report: {out / 'report.html'}" in printed
    assert JOBS["reclaimed"] in (out / "report.html").read_text(encoding="utf-8")


def test_demo_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert cli.main(["demo", "--out", str(blocker / "demo")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("deadline-nb: Cannot write to the folder") and err.count("\n") == 1

    with pytest.raises(SystemExit) as exited:
        cli.main(["demo", "--job", "nope"])
    assert exited.value.code == 2
    assert "`--job`" in capsys.readouterr().err


def _dry_run(root: Path, target: str) -> list[str]:
    """The commands `make TARGET` runs on a fresh clone (-B: every prerequisite remade), not run."""
    dry = subprocess.run(
        ["make", "--no-print-directory", "-n", "-B", target],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return [line.strip() for line in dry.stdout.splitlines() if line.strip()]


def test_make_demo_installs_only_the_runtime_and_lab_and_test_the_rest() -> None:
    root = Path(__file__).resolve().parents[1]
    demo = _dry_run(root, "demo")
    # On a fresh clone `make demo` creates .venv and installs the package with its runtime
    # dependencies only: none of the dev extras (JupyterLab, Playwright, mypy...) it never uses.
    assert demo[0] == "python3 -m venv .venv"
    installs = [line for line in demo if " install " in line]
    assert installs == ["DEADLINE_NB_NO_EXTENSION=1 .venv/bin/pip install -q --no-compile -e ."], (
        demo
    )
    assert demo[-1] == ".venv/bin/deadline-nb demo"
    lab = _dry_run(root, "lab")
    # The tests' install builds the compiled reader the demo's install left out.
    assert ".venv/bin/pip install -q -e '.[dev]'" in lab
    assert lab[-1] == "env -u MPLBACKEND .venv/bin/jupyter lab notebooks/"
    test = _dry_run(root, "test")
    # make test does everything CI does: the browser, the tests, the lowest-bounds run.
    for step in ("ci/chromium", ".venv/bin/pytest", ".venv/bin/mypy", ".venv/bin/ruff check ."):
        assert step in test, test
    assert test.index("ci/chromium") < test.index(".venv/bin/pytest")
    assert any(line.startswith(".venv-lowest/bin/pytest") for line in test)
    ci = (root / ".ci" / "run").read_text().split("\n")
    assert [line for line in ci if line.startswith("make")] == ["make test"]
