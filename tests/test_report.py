"""``write_report`` and ``deadline-nb report``: one self-contained HTML file, and its files."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import deadline_nb as dnb
from deadline_nb import cli
from deadline_nb.charts import CHARTS, ChartData
from deadline_nb.localfarm import LocalFarm

from .helpers import job_options
from .log_helpers import with_logs
from .report_helpers import (
    Page,
    assert_self_contained,
    failed_runs,
    parameters_text,
    retried_tasks,
    utc_text,
)

# The charts of a job whose worker metrics were not read: every chart that applies to its
# actions (the memory chart needs a resources frame with samples).
DRAWN = {
    name for name, chart in CHARTS.items() if chart.applies(ChartData(dnb.session_action_frame([])))
}

PLANTED = "<script>alert(1)</script>"
MEGABYTE = 1024 * 1024


def load(farm: LocalFarm, role: str, **options: Any) -> dnb.Job:
    spec = farm.job_by_name(role)
    return dnb.load_job(
        farm.farm_id,
        spec.queue_id,
        spec.job_id,
        client=farm.client(),
        cache=False,
        progress=False,
        **options,
    )


@pytest.fixture(scope="module")
def failing(farm: LocalFarm) -> dnb.Job:
    return with_logs(farm, load(farm, "failing"))  # its logs read, as after first use


@pytest.fixture(scope="module")
def report(failing: dnb.Job, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return dnb.write_report(failing, tmp_path_factory.mktemp("report"))


def test_report_is_one_self_contained_file(report: Path) -> None:
    assert report.name == "report.html"
    page = assert_self_contained(report.read_text(encoding="utf-8"))
    # internal links all lead somewhere on the page
    anchors = {value[1:] for _, name, value in page.links if value.startswith("#")}
    assert anchors <= set(page.ids)


def test_report_has_every_chart(report: Path) -> None:
    page = Page(report.read_text(encoding="utf-8"))
    # the failing job's workers logged host metrics: its memory chart belongs too
    assert set(page.figures) == DRAWN | {"memory"}
    # a small job's charts are vector graphics, inline
    assert set(page.figures.values()) == {"svg"}
    files = report.parent / "report_files"
    for name in DRAWN | {"memory"}:
        png, svg = files / f"{name}.png", files / f"{name}.svg"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert "<svg" in svg.read_text(encoding="utf-8")


def test_report_shows_identity_summary_and_failures(
    report: Path, failing: dnb.Job, farm: LocalFarm
) -> None:
    text = " ".join(Page(report.read_text(encoding="utf-8")).text)
    truth = farm.model.view(failing.job_id).job
    for expected in (
        "Postmortem: sq030_crowd_v007_failing",
        failing.job_id,
        failing.farm_id,
        failing.queue_id,
        "FAILED",
        utc_text(truth["startedAt"]),  # startedAt of the local farm's job
        "All steps",
        "Crowd Sim",
        "Failed actions",
        "Retried tasks",
        "-1073741819",
        "0xC0000005 access violation",
        "SIGKILL (128+9)",
        "Environment 'Golaem' failed to enter",
        # the parameters of every failed task run
        *[parameters_text(action) for action in failed_runs(farm.model, failing.job_id)],
    ):
        assert expected in text, expected
    summary = dnb.summarize(failing.actions).loc["All steps"]
    failed = failing.actions.query("status == 'FAILED'")
    assert f"{len(failed)} failed actions, by exit code" in text
    # every failed action is listed with its session action id
    for action_id in failed["sessionActionId"]:
        assert action_id in text
    assert summary["retriedTasks"] == retried_tasks(farm.model, failing.job_id)
    assert summary["failed"] == len(failed_runs(farm.model, failing.job_id))


def test_actions_are_saved_as_parquet(report: Path, failing: dnb.Job) -> None:
    back = dnb.read_parquet(report.parent / "report_files" / "actions.parquet")
    pd.testing.assert_frame_equal(back, failing.actions)


def test_strings_from_the_api_are_escaped(failing: dnb.Job, tmp_path: Path) -> None:
    actions = failing.actions.copy()
    failed = actions.index[actions["status"] == "FAILED"]
    actions.loc[failed, "progressMessage"] = PLANTED
    actions["workerId"] = actions["workerId"].cat.rename_categories(
        lambda worker: f'{worker}"><img src=x onerror=alert(2)>'
    )
    job = dataclasses.replace(
        failing, actions=actions, job={**failing.job, "name": f"crowd {PLANTED}"}
    )
    text = dnb.write_report(job, tmp_path / "planted.html").read_text(encoding="utf-8")
    assert "<script" not in text.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<img src=x" not in text
    page = assert_self_contained(text)
    assert f"Postmortem: crowd {PLANTED}" in page.text
    assert sum(PLANTED in chunk for chunk in page.text) >= len(failed)


def test_a_10000_action_report_stays_under_5_mb(tmp_path: Path) -> None:
    with LocalFarm(seed=0, size=10_000) as farm:
        job = load(farm, "big")
    assert len(job.actions) >= 10_000
    page = dnb.write_report(job, tmp_path)
    size = page.stat().st_size
    assert size < 5 * MEGABYTE, f"{size / MEGABYTE:.1f} MB"
    parsed = assert_self_contained(page.read_text(encoding="utf-8"))
    assert set(parsed.figures) == DRAWN
    # ten thousand rectangles: the timeline goes in as a bitmap, not as ten thousand paths
    assert parsed.figures["timeline"] == "png"


# chunked frames (1-10), a job still running (progress and ETA), a canceled one
@pytest.mark.parametrize("role", ["simulation", "running", "canceled"])
def test_every_local_farm_job_has_a_report(farm: LocalFarm, role: str, tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    job = load(farm, role)
    page = dnb.write_report(job, tmp_path / f"{role}.html")
    parsed = assert_self_contained(page.read_text(encoding="utf-8"))
    # memory, where a task run with a frame fell between its worker's samples
    runs = job.resources.query("actionType == 'taskRun'")
    sampled = bool((runs["metricSamples"].fillna(0) > 0).any())
    assert set(parsed.figures) == DRAWN | ({"memory"} if sampled else set())
    assert job.name in " ".join(parsed.text)
    assert plt.get_fignums() == []  # nothing left open in pyplot (nor shown in a notebook)


def test_a_job_with_no_actions_yet(failing: dnb.Job, tmp_path: Path) -> None:
    times = ("startedAt", "endedAt")
    job = dataclasses.replace(
        failing,
        actions=failing.actions.iloc[:0],
        job={k: v for k, v in failing.job.items() if k not in times},
        _metrics=None,  # what the full job's workers did is not this job's
        _resources=None,
    )
    text = dnb.write_report(job, tmp_path).read_text(encoding="utf-8")
    page = assert_self_contained(text)
    assert set(page.figures) == DRAWN
    words = " ".join(page.text)
    assert "No action failed." in words and "No task run finished." in words


# ---- paths and arguments


def test_paths_folder_or_html_file(failing: dnb.Job, tmp_path: Path) -> None:
    nested = dnb.write_report(failing, tmp_path / "a" / "b", charts=["status"])
    assert nested == tmp_path / "a" / "b" / "report.html"
    named = dnb.write_report(failing, tmp_path / "sq030.htm", charts=("status", "status"))
    assert named == tmp_path / "sq030.htm"
    assert sorted(p.name for p in (tmp_path / "sq030_files").iterdir()) == [
        "actions.parquet",
        "failed_logs.parquet",
        "status.png",
        "status.svg",
    ]
    assert Page(named.read_text(encoding="utf-8")).figures == {"status": "svg"}
    # a rerun replaces the files, and leaves no partial file behind
    dnb.write_report(failing, named, charts=["status"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "sq030.htm", "sq030_files"]


def test_bad_arguments_name_the_argument(failing: dnb.Job, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="`path`"):
        dnb.write_report(failing, tmp_path / "report.pdf")
    with pytest.raises(ValueError, match=r"`charts`.*'gantt'"):
        dnb.write_report(failing, tmp_path, charts=["timeline", "gantt"])
    assert list(tmp_path.iterdir()) == []


def test_unwritable_folder_is_one_sentence(failing: dnb.Job, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(OSError, match=r"Cannot write to the folder .*a-file") as caught:
        dnb.write_report(failing, blocker / "report")
    assert "\n" not in str(caught.value)


# ---- deadline-nb report


def report_args(farm: LocalFarm, role: str, out: Path | str, *extra: str) -> list[str]:
    options = ["--no-cache", "--quiet", "--out", str(out), *extra]
    return ["report", *job_options(farm, role), *options]


def test_report_subcommand_prints_where_the_report_is(
    farm: LocalFarm, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "postmortem"
    assert cli.main(report_args(farm, "failing", out, "--title", "Crowd <v7>")) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("sq030_crowd_v007_failing (job-")
    job_id = farm.job_by_name("failing").job_id
    failed, retried = len(failed_runs(farm.model, job_id)), retried_tasks(farm.model, job_id)
    assert f"{failed} failed, {retried} tasks retried" in lines[0]
    assert lines[1] == f"Report: {out / 'report.html'}"
    text = (out / "report.html").read_text(encoding="utf-8")
    assert "<h1>Crowd &lt;v7&gt;</h1>" in text
    assert (out / "report_files" / "actions.parquet").is_file()


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("deadline-nb: ") and captured.err.count("\n") == 1
    assert "Traceback" not in captured.err
    return captured.err


def test_report_subcommand_bad_ids(
    farm: LocalFarm, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = "job-" + "0" * 32
    args = report_args(farm, "failing", tmp_path / "out")
    args[args.index("--job-id") + 1] = missing
    assert cli.main(args) == 1
    err = one_line_error(capsys)
    assert missing in err and "not found" in err

    args[args.index("--job-id") + 1] = "job-42"
    assert cli.main(args) == 1
    assert "job-42" in one_line_error(capsys)
    assert not (tmp_path / "out" / "report.html").exists()


def test_report_subcommand_access_denied_and_expired_credentials(
    farm: LocalFarm, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queue = farm.job_by_name("failing").queue_id
    farm.denied_queues.add(queue)
    try:
        assert cli.main(report_args(farm, "failing", tmp_path)) == 1
    finally:
        farm.denied_queues.discard(queue)
    assert queue in one_line_error(capsys)

    farm.expired_credentials = True
    try:
        assert cli.main(report_args(farm, "failing", tmp_path)) == 1
    finally:
        farm.expired_credentials = False
    assert "expired" in one_line_error(capsys)


@pytest.mark.usefixtures("no_aws_config")
def test_report_subcommand_missing_credentials_and_region(
    farm: LocalFarm, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A documentation address (TEST-NET-1): signing fails before any request is sent.
    args = report_args(farm, "failing", tmp_path / "out")
    args[args.index("--endpoint-url") + 1] = "http://192.0.2.1:9"
    assert cli.main([*args, "--region", "us-west-2"]) == 1
    assert "credentials" in one_line_error(capsys)

    assert cli.main(args) == 1
    assert "region" in one_line_error(capsys)


def test_report_subcommand_unwritable_folder_fails_before_fetching(
    farm: LocalFarm, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    before = sum(farm.calls.values())
    assert cli.main(report_args(farm, "failing", blocker / "out")) == 1
    assert "Cannot write to the folder" in one_line_error(capsys)
    assert sum(farm.calls.values()) == before

    with pytest.raises(SystemExit) as exited:
        cli.main(report_args(farm, "failing", tmp_path / "report.txt"))
    assert exited.value.code == 2
    assert "`--out`" in capsys.readouterr().err


def test_report_subcommand_ids_default_from_the_deadline_config(
    farm: LocalFarm, tmp_path: Path, deadline_defaults: Any
) -> None:
    spec = farm.job_by_name("canceled")
    deadline_defaults(farm.farm_id, spec.queue_id, spec.job_id)
    out = tmp_path / "report.html"
    args = ["report", "--endpoint-url", farm.endpoint_url, "--no-cache", "--quiet"]
    assert cli.main([*args, "--out", str(out)]) == 0
    assert spec.name in out.read_text(encoding="utf-8")


def test_the_failing_jobs_report_shows_its_oom_kills_at_the_top_of_the_workers_memory(
    report: Path, failing: dnb.Job, farm: LocalFarm
) -> None:
    # write_report read the workers' metrics: the memory chart, and findings that use them.
    resources = failing.resources
    killed = resources[resources["processExitCode"] == 137]
    truth = [a for a in farm.model.view(failing.job_id).actions if a.get("processExitCode") == 137]
    assert len(killed) == len(truth) > 0
    # the kills peaked at their worker's total: that is what the chart puts on the total line
    assert (killed["memPeakBytes"] >= 0.95 * killed["memTotalBytes"]).all()
    page = Page(report.read_text(encoding="utf-8"))
    assert "memory" in page.figures
    text = " ".join(page.text)
    assert f"{len(killed)} of them exited 137 (killed, out of memory)" in text
    # the findings come first, the memory one links to the chart
    assert text.index("Findings") < text.index("Summary")
    assert "#chart-memory" in {value for _, _, value in page.links}


def test_a_report_without_metrics_reads_no_worker_log(farm: LocalFarm, tmp_path: Path) -> None:
    job = load(farm, "failing")
    page = Page(dnb.write_report(job, tmp_path, logs=False, metrics=False).read_text("utf-8"))
    assert set(page.figures) == DRAWN
    assert job._metrics is None and job._resources is None


def test_metrics_that_cannot_be_read_are_one_sentence_where_the_chart_would_be(
    farm: LocalFarm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fetch's own error for a denied fleet log group is tested with the fetch; here, what
    # the page does with it.
    from deadline_nb.errors import AccessDeniedError
    from deadline_nb.fetch import metrics

    message = "Access denied: your AWS identity may not call logs:GetLogEvents on the worker logs."

    def denied(job: dnb.Job, **_: Any) -> pd.DataFrame:
        raise AccessDeniedError(message, operation="GetLogEvents", code="AccessDeniedException")

    monkeypatch.setattr(metrics, "job_metrics", denied)
    job = load(farm, "failing")
    page = dnb.write_report(job, tmp_path, logs=False, charts=["status", "memory"])
    parsed = Page(page.read_text(encoding="utf-8"))
    assert f"Not drawn: the workers' metrics could not be read: {message}" in parsed.text
    assert set(parsed.figures) == {"status"}


def test_workers_without_metrics_are_named_under_the_memory_chart(
    farm: LocalFarm, tmp_path: Path
) -> None:
    # The canceled job ran on a worker whose log stream is missing and one that sends no
    # metrics: the page says so under the chart, and nothing is warned each time it is written.
    from deadline_nb.errors import DataWarning
    from deadline_nb.localfarm.workerlog import quiet_workers

    silent, missing = quiet_workers(farm.model)
    job = load(farm, "canceled")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        page = dnb.write_report(job, tmp_path, logs=False, charts=["memory"])
    parsed = Page(page.read_text(encoding="utf-8"))
    assert set(parsed.figures) == {"memory"}
    (note,) = [t for t in parsed.text if "no worker log stream" in t]
    assert str(missing) in note and str(silent) in note and "no host metrics" in note
