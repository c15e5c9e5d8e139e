"""``write_report`` with the session logs: each failed action's tail, its error line, the endings.

The logs are the local farm's, read through a boto3 ``logs`` client (tests/log_helpers.py) and
set on the job as its ``logs`` would be after first use. What each failed action ends with comes
from the farm's ground truth: its model's exit codes, and the scenario of the failing job (every
task run that exits 1 fails on the same licence error).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import deadline_nb as dnb
import deadline_nb.report
from deadline_nb.errors import AccessDeniedError, NotFoundError
from deadline_nb.localfarm import LocalFarm

from .log_helpers import with_logs
from .report_helpers import Page, assert_self_contained, failed_runs, log_blocks

PLANTED = "<script>alert(1)</script>"
ESCAPE_ME = '</pre><img src=x onerror="alert(2)"> & <b>bold</b>'


def load(farm: LocalFarm, role: str) -> dnb.Job:
    spec = farm.job_by_name(role)
    return dnb.load_job(
        farm.farm_id, spec.queue_id, spec.job_id, client=farm.client(), cache=False, progress=False
    )


@pytest.fixture(scope="module")
def failing(farm: LocalFarm) -> dnb.Job:
    return with_logs(farm, load(farm, "failing"))


@pytest.fixture(scope="module")
def page(failing: dnb.Job, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return dnb.write_report(failing, tmp_path_factory.mktemp("logs"), charts=["status"])


def words(path: Path) -> str:
    """The page's text as a reader sees it: one space where HTML has any run of white space."""
    return re.sub(r"\s+", " ", "".join(Page(path.read_text(encoding="utf-8")).text))


def failed_ids(job: dnb.Job) -> list[str]:
    """The failed actions in the report's order: oldest failure first."""
    failed = job.actions[job.actions["status"] == "FAILED"].sort_values("endedAt")
    return [str(i) for i in failed["sessionActionId"]]


class LogsThatFail(dnb.Job):
    """A job whose logs cannot be read: ``logs`` raises the error it was given."""

    error: BaseException = AssertionError("the logs were read")

    @property
    def logs(self) -> pd.DataFrame:
        raise self.error


def failing_logs(job: dnb.Job, error: BaseException) -> dnb.Job:
    fields = {f.name: getattr(job, f.name) for f in dataclasses.fields(job)}
    fields["_logs"] = None
    broken = LogsThatFail(**fields)
    broken.error = error
    return broken


# ---- each failed action's log


def test_each_failed_action_shows_the_end_of_its_log(page: Path, failing: dnb.Job) -> None:
    blocks = log_blocks(page.read_text(encoding="utf-8"))
    assert list(blocks) == failed_ids(failing)  # every failed action, in the table's order
    logs = failing.logs
    for action_id, shown in blocks.items():
        whole = logs[logs["sessionActionId"] == action_id].sort_values("lineIndex")
        messages = whole["message"].fillna("").tolist()
        assert 0 < len(shown) <= dnb.report.LOG_TAIL + 1, action_id
        tail = [line for line in shown if line.number > len(messages) - dnb.report.LOG_TAIL]
        # The last 40 lines, numbered from the action's first line, exactly as logged.
        assert [line.number for line in tail] == list(
            range(max(1, len(messages) - dnb.report.LOG_TAIL + 1), len(messages) + 1)
        )
        assert [line.text for line in tail] == messages[-dnb.report.LOG_TAIL :]
        # One line is marked: the one failure_lines says it ends with.
        (marked,) = [line for line in shown if line.marked]
        assert marked.text == messages[marked.number - 1]


def test_the_marked_line_is_the_error_the_farm_wrote(
    page: Path, failing: dnb.Job, farm: LocalFarm
) -> None:
    blocks = log_blocks(page.read_text(encoding="utf-8"))
    marked = {i: next(line.text for line in lines if line.marked) for i, lines in blocks.items()}
    runs = failed_runs(farm.model, failing.job_id)
    licence = [a["sessionActionId"] for a in runs if a.get("processExitCode") == 1]
    crashed = [a["sessionActionId"] for a in runs if a.get("processExitCode") == -1073741819]
    killed = [a["sessionActionId"] for a in runs if a.get("processExitCode") == 137]
    assert licence and crashed and killed
    for action_id in licence:
        assert marked[action_id].startswith("openjd_fail: License checkout failed")
    for action_id in crashed:
        assert marked[action_id] == "openjd_fail: glmCrowdSim crashed with an access violation"
    for action_id in killed:
        assert " Killed " in marked[action_id]  # the shell's line: the task printed no reason


def test_same_endings_are_counted(page: Path, failing: dnb.Job, farm: LocalFarm) -> None:
    text = words(page)
    runs = failed_runs(farm.model, failing.job_id)
    licence = sum(a.get("processExitCode") == 1 for a in runs)
    crashed = sum(a.get("processExitCode") == -1073741819 for a in runs)
    assert licence > 1 and crashed > 1
    assert (
        f"{licence} failed actions end with: "
        "openjd_fail: License checkout failed for glmCrowdSim (RLM error -<n>)"
    ) in text
    assert (
        f"{crashed} failed actions end with: "
        "openjd_fail: glmCrowdSim crashed with an access violation"
    ) in text
    # The failed envEnter is alone in its ending: not listed as shared.
    assert "failed actions end with: openjd_fail: Golaem" not in text


def test_failures_table_names_each_ending_and_links_to_the_log(
    page: Path, failing: dnb.Job
) -> None:
    text = page.read_text(encoding="utf-8")
    assert "<th>Log ends with</th>" in text
    endings = dnb.failure_lines(failing.logs, failing.actions)
    for action_id, line in zip(endings["sessionActionId"], endings["line"], strict=True):
        assert f'<a href="#log-{action_id}">' in text
        assert str(line) in Page(text).text
    assert_self_contained(text)


def test_failed_lines_are_saved_next_to_the_page(page: Path, failing: dnb.Job) -> None:
    saved = dnb.read_parquet(page.parent / "report_files" / "failed_logs.parquet")
    logs = failing.logs
    failed = logs[logs["sessionActionId"].isin(failed_ids(failing))]
    assert len(saved) == len(failed) > 0
    assert set(saved["sessionActionId"].astype(str)) == set(failed_ids(failing))
    assert saved["message"].tolist() == failed["message"].tolist()
    assert "failed_logs.parquet" in words(page)


def test_a_failed_action_without_lines_says_so(failing: dnb.Job, tmp_path: Path) -> None:
    target = failed_ids(failing)[1]
    logs = failing.logs
    job = dataclasses.replace(failing, _logs=logs[logs["sessionActionId"] != target])
    page = dnb.write_report(job, tmp_path, charts=[])
    text = page.read_text(encoding="utf-8")
    assert log_blocks(text)[target] == []
    after = text[text.index(f'<h3 id="log-{target}">') :]
    assert "no line of its session's log falls in its time window" in after.split("<h3")[1]
    # The table's "Log ends with" cell, just before the link to the log, has nothing to name.
    assert f'<td><span class="na">–</span></td><td><a href="#log-{target}">' in text


# ---- text from the logs is text


def test_log_lines_are_escaped_and_the_error_line_still_marked(
    failing: dnb.Job, tmp_path: Path
) -> None:
    logs = failing.logs.copy()
    endings = dnb.failure_lines(logs, failing.actions)
    licence = endings[endings["line"].str.startswith("openjd_fail: License").fillna(False)]
    target = str(licence["sessionActionId"].iloc[0])
    rows = logs.index[(logs["sessionActionId"] == target).to_numpy()]
    fail_row = rows[logs.loc[rows, "message"].str.startswith("openjd_fail:").to_numpy()][-1]
    logs["message"] = logs["message"].astype(object)
    logs.loc[fail_row, "message"] = f"openjd_fail: {PLANTED}"
    logs.loc[fail_row - 1, "message"] = ESCAPE_ME
    logs.loc[fail_row - 2, "message"] = "progress\r 50%\r100%"
    logs.loc[fail_row - 3, "message"] = "x" * 300_000  # a 256 KB event, as the agent cuts them
    logs["message"] = logs["message"].astype(dnb.schema.STRING)
    job = dataclasses.replace(failing, _logs=logs)
    text = dnb.write_report(job, tmp_path, charts=["status"]).read_text(encoding="utf-8")

    assert "<script" not in text.lower() and "<img src=x" not in text
    assert_self_contained(text)
    shown = {line.number: line for line in log_blocks(text)[target]}
    by_text = {line.text: line for line in shown.values()}
    assert by_text[f"openjd_fail: {PLANTED}"].marked
    assert not by_text[ESCAPE_ME].marked
    assert "progress\u240d 50%\u240d100%" in by_text  # carriage returns shown, one line
    (long,) = [line for line in shown.values() if line.cut]
    assert long.text == "x" * dnb.report.LOG_LINE_CHARS
    assert long.cut == 300_000 - dnb.report.LOG_LINE_CHARS
    assert len(text.encode("utf-8")) < 1_000_000  # the 300 KB line does not come in whole
    # The planted ending is the table's, escaped, and the sharing count drops by one.
    assert f"openjd_fail: {PLANTED}" in Page(text).text


def test_an_error_line_above_the_tail_is_shown_before_it(failing: dnb.Job, tmp_path: Path) -> None:
    # Sixty lines printed after the failure: the error line is not in the last 40 any more.
    logs = failing.logs
    endings = dnb.failure_lines(logs, failing.actions)
    target = str(endings.loc[endings["source"] == "openjd_fail", "sessionActionId"].iloc[0])
    rows = logs[logs["sessionActionId"] == target]
    last = rows.iloc[-1]
    extra = pd.DataFrame(
        {
            **{c: [last[c]] * 60 for c in ("farmId", "queueId", "jobId", "sessionId")},
            "sessionActionId": [target] * 60,
            "lineIndex": [int(last["lineIndex"]) + 1 + k for k in range(60)],
            "timestamp": [last["timestamp"]] * 60,
            "message": [f"cleanup {k}" for k in range(60)],
        }
    )
    more = pd.concat([logs, extra], ignore_index=True)
    more = more.astype({c: logs[c].dtype for c in extra.columns if c in logs.columns})
    job = dataclasses.replace(failing, _logs=more)
    text = dnb.write_report(job, tmp_path, charts=["status"]).read_text(encoding="utf-8")
    shown = log_blocks(text)[target]
    total = len(rows) + 60
    assert shown[0].marked and shown[0].text.startswith("openjd_fail:")
    assert [line.number for line in shown[1:]] == list(range(total - 39, total + 1))
    assert "⋮" in text


# ---- bounds


def test_many_failed_actions_are_capped_with_the_rest_counted(
    farm: LocalFarm, tmp_path: Path
) -> None:
    # The render job's task runs, all failed: more than the report shows logs for.
    job = with_logs(farm, load(farm, "render"))
    actions = job.actions.copy()
    runs = (actions["actionType"] == "taskRun").to_numpy()
    actions.loc[runs, "status"] = "FAILED"
    actions.loc[runs, "processExitCode"] = 1
    job = dataclasses.replace(job, actions=actions)
    failed = int(runs.sum())
    assert failed > dnb.report.MAX_FAILED_LOGS
    page = dnb.write_report(job, tmp_path, charts=["status"])
    text = page.read_text(encoding="utf-8")
    blocks = log_blocks(text)
    assert len(blocks) == dnb.report.MAX_FAILED_LOGS
    assert list(blocks) == failed_ids(job)[: dnb.report.MAX_FAILED_LOGS]
    rest = failed - dnb.report.MAX_FAILED_LOGS
    assert f"And {rest} more failed actions" in words(page)
    # ...whose lines are all in the file next to the page.
    saved = dnb.read_parquet(page.parent / "report_files" / "failed_logs.parquet")
    logs = job.logs
    with_lines = logs.loc[logs["sessionActionId"].isin(failed_ids(job)), "sessionActionId"]
    assert set(saved["sessionActionId"].astype(str)) == set(with_lines.astype(str))
    assert len(saved) == len(with_lines)
    assert page.stat().st_size < 5 * 1024 * 1024


def test_the_logs_stop_at_their_byte_budget(
    failing: dnb.Job, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deadline_nb.report, "LOG_BUDGET", 12_000)
    page = dnb.write_report(failing, tmp_path, charts=["status"])
    blocks = log_blocks(page.read_text(encoding="utf-8"))
    total = len(failed_ids(failing))
    assert 1 <= len(blocks) < total
    assert f"And {total - len(blocks)} more failed actions" in words(page)


# ---- no logs


def test_access_denied_is_one_sentence_where_the_logs_would_be(
    failing: dnb.Job, tmp_path: Path
) -> None:
    denied = AccessDeniedError(
        "Access denied: your AWS identity may not call GetLogEvents.",
        operation="GetLogEvents",
        code="AccessDeniedException",
        queue_id=failing.queue_id,
    )
    page = dnb.write_report(failing_logs(failing, denied), tmp_path)
    text = page.read_text(encoding="utf-8")
    parsed = assert_self_contained(text)
    section = text[text.index('<section id="logs">') : text.index('<section id="retries">')]
    notes = Page(section).text
    (sentence,) = [t for t in notes if "CloudWatch Logs" in t]
    assert sentence.count(". ") == 0 and sentence.endswith(".")
    assert failing.queue_id in sentence and "GetLogEvents was denied" in sentence
    assert log_blocks(text) == {}
    # The rest is complete: every chart, every failed action, no logs column.
    charts = dnb.charts
    assert set(parsed.figures) == {
        name
        for name, chart in charts.CHARTS.items()
        if chart.applies(charts.ChartData(failing.resources))  # the memory chart too
    }
    for action_id in failed_ids(failing):
        assert action_id in text
    assert "Log ends with" not in text and "end with:" not in text
    assert not (tmp_path / "report_files" / "failed_logs.parquet").exists()


def test_other_errors_reading_logs_are_one_sentence_too(failing: dnb.Job, tmp_path: Path) -> None:
    expired = NotFoundError(
        "The log group /aws/deadline/farm-1/queue-1 was not found (its logs may have expired).",
        operation="GetLogEvents",
    )
    page = dnb.write_report(failing_logs(failing, expired), tmp_path, charts=["status"])
    assert (
        "The session logs could not be read, so none is shown: The log group "
        "/aws/deadline/farm-1/queue-1 was not found (its logs may have expired)."
    ) in words(page)


def test_logs_false_leaves_the_logs_out_and_reads_nothing(failing: dnb.Job, tmp_path: Path) -> None:
    (tmp_path / "report_files").mkdir()
    (tmp_path / "report_files" / "failed_logs.parquet").write_bytes(b"from an earlier report")
    job = failing_logs(failing, AssertionError("logs=False must not read the logs"))
    page = dnb.write_report(job, tmp_path, charts=["status"], logs=False)
    text = page.read_text(encoding="utf-8")
    assert 'id="logs"' not in text and "Log ends with" not in text and "end with:" not in text
    assert log_blocks(text) == {}
    assert failed_ids(failing)[0] in text  # the failures are still there
    assert not (tmp_path / "report_files" / "failed_logs.parquet").exists()  # none stale


def test_a_job_with_no_failure_reads_no_logs(farm: LocalFarm, tmp_path: Path) -> None:
    job = load(farm, "render")
    page = dnb.write_report(failing_logs(job, AssertionError("read")), tmp_path, charts=[])
    section = page.read_text(encoding="utf-8").split('<section id="logs">')[1]
    assert "No action failed." in Page(section.split("</section>")[0]).text


def test_write_report_with_default_logs_reads_them_once(failing: dnb.Job, tmp_path: Path) -> None:
    reads: list[int] = []

    class Counting(dnb.Job):
        @property
        def logs(self) -> pd.DataFrame:
            reads.append(1)
            assert self._logs is not None
            return self._logs

    fields: dict[str, Any] = {f.name: getattr(failing, f.name) for f in dataclasses.fields(failing)}
    dnb.write_report(Counting(**fields), tmp_path, charts=[])
    assert reads == [1]
