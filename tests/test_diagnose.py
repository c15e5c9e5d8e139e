"""diagnose(): each finding on a local-farm job built to show it, and absent from jobs without it.

Ground truth comes from the farm's model (its simulations' actions, sessions and scripted draws),
never from numbers written here.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import deadline_nb as dnb
from deadline_nb import schema
from deadline_nb.cli import main
from deadline_nb.findings import FINDING_KINDS, _Data, _hypergeom_tail, _Inputs, _step_times
from deadline_nb.localfarm import LocalFarm
from deadline_nb.localfarm.clock import ManualClock
from deadline_nb.localfarm.model import JOBS, FarmModel
from deadline_nb.localfarm.simulation import JobBuild

from .diagnose_helpers import cost_frame, job_from_view, simulated_job, with_resources

SEVERE = ("critical", "warning")


def kinds(found: pd.DataFrame, severities: tuple[str, ...] = SEVERE) -> list[str]:
    return [
        str(k) for k, s in zip(found["kind"], found["severity"], strict=True) if s in severities
    ]


def failed_runs(b: JobBuild) -> list[dict[str, Any]]:
    return [a for a in b.actions if a["status"] == "FAILED" and "taskRun" in a["definition"]]


def worker_of(b: JobBuild) -> dict[str, str]:
    return {s["sessionId"]: s["workerId"] for s in b.sessions}


def one(found: pd.DataFrame, kind: str) -> pd.Series:
    rows = found[found["kind"] == kind]
    assert len(rows) == 1, (kind, found[["severity", "kind", "title"]])
    return rows.iloc[0]


# ---------------------------------------------------------------------------------------------
# the frame itself


def test_columns_order_and_empty_result() -> None:
    found = dnb.diagnose(dnb.session_action_frame([]))
    assert list(found.columns) == list(schema.FINDING_COLUMNS)
    assert len(found) == 0
    assert isinstance(found["severity"].dtype, pd.CategoricalDtype)
    assert list(found["severity"].cat.categories) == list(schema.SEVERITIES)
    assert "failed_cost" in found.attrs["unchecked"]


def test_most_severe_first_and_ids_are_tuples() -> None:
    job, _ = simulated_job("failing")
    found = dnb.diagnose(job)
    ranks = found["severity"].cat.codes.tolist()
    assert ranks == sorted(ranks)
    assert set(found["kind"]) <= set(FINDING_KINDS)
    for column in ("sessionActionIds", "taskIds", "workerIds"):
        assert all(isinstance(v, tuple) for v in found[column])
    for title in found["title"]:
        assert re.search(r"\d", title) and title.endswith(".")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("min_failures", 0),
        ("worker_alpha", 0.0),
        ("worker_alpha", 2.0),
        ("stale_heartbeats", -1.0),
        ("trend_rho", 1.5),
        ("memory_percent", 120.0),
    ],
)
def test_bad_threshold_names_the_argument(name: str, value: float) -> None:
    options: dict[str, Any] = {name: value}
    with pytest.raises(ValueError, match=f"`{name}`"):
        dnb.diagnose(dnb.session_action_frame([]), **options)


def test_bad_input() -> None:
    with pytest.raises(TypeError, match="job_or_actions"):
        dnb.diagnose([1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sessionActionId"):
        dnb.diagnose(pd.DataFrame({"status": ["FAILED"]}))


def test_hypergeometric_tail_is_fishers_one_sided_test() -> None:
    # Summing the whole distribution gives 1; P(X >= 0) is 1; a tail matches a direct count.
    assert _hypergeom_tail(0, 10, 4, 30) == pytest.approx(1.0)
    total, failures, n = 12, 5, 6
    direct = sum(
        math.comb(failures, x) * math.comb(total - failures, n - x) for x in range(3, 6)
    ) / math.comb(total, n)
    assert _hypergeom_tail(3, n, failures, total) == pytest.approx(direct)


# ---------------------------------------------------------------------------------------------
# the failing job


def test_failing_job_names_its_failures_by_exit_code() -> None:
    job, b = simulated_job("failing")
    found = dnb.diagnose(job)
    runs = failed_runs(b)
    by_code: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for a in runs:
        by_code[a["processExitCode"]].append(a)
    failures = found[found["kind"] == "systematic_failure"]
    for code, actions in by_code.items():
        row = failures[failures["title"].str.contains(f"exit code {code} (", regex=False)]
        assert len(row) == 1, code
        row = row.iloc[0]
        assert {a["sessionActionId"] for a in actions} <= set(row["sessionActionIds"])
        assert set(row["taskIds"]) == {a["definition"]["taskRun"]["taskId"] for a in actions}
    # The task that ran out of retries is the critical one, first.
    lost = set(job.tasks.loc[job.tasks["runStatus"] == "FAILED", "taskId"].astype(str))
    first = found.iloc[0]
    assert first["severity"] == "critical" and first["kind"] == "systematic_failure"
    assert set(first["taskIds"]) == lost
    assert "0xC0000005 access violation" in first["title"]
    # 137: killed, named as such.
    killed = failures[failures["title"].str.contains("exit code 137", regex=False)].iloc[0]
    assert "out-of-memory" in killed["title"] and killed["severity"] == "warning"


def test_failing_job_flaky_tasks_and_their_cost() -> None:
    job, b = simulated_job("failing")
    flaky = one(dnb.diagnose(job), "flaky_tasks")
    # ground truth: tasks with a failed run before a successful one
    history: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for a in b.actions:
        if "taskRun" in a["definition"] and "startedAt" in a:
            history[a["definition"]["taskRun"]["taskId"]].append(a)
    expected_runs = []
    for actions in history.values():
        ok = [a["startedAt"] for a in actions if a["status"] == "SUCCEEDED"]
        expected_runs += [
            a for a in actions if a["status"] == "FAILED" and ok and a["startedAt"] < max(ok)
        ]
    expected_tasks = {a["definition"]["taskRun"]["taskId"] for a in expected_runs}
    assert set(flaky["taskIds"]) == expected_tasks
    assert set(flaky["sessionActionIds"]) == {a["sessionActionId"] for a in expected_runs}
    seconds = sum(a["endedAt"] - a["startedAt"] for a in expected_runs)
    assert dnb.text.format_seconds(seconds) in flaky["title"]
    assert flaky["severity"] == "warning"  # four tasks: min_tasks is 3


def test_failing_job_names_no_failing_worker() -> None:
    # Its failures are bound to tasks (scripted) or random on every worker: no worker is far
    # above the rest, and naming one would be a false alarm.
    job, b = simulated_job("failing")
    found = dnb.diagnose(job)
    assert "failing_worker" not in set(found["kind"])
    assert "failing_worker" not in found.attrs["unchecked"]
    # Asked to accept any worker at all, the test still needs min_failures distinct tasks.
    counts: dict[str, set[str]] = defaultdict(set)
    for a in failed_runs(b):
        counts[worker_of(b)[a["sessionId"]]].add(a["definition"]["taskRun"]["taskId"])
    loose = dnb.diagnose(job, worker_alpha=1.0, min_failures=1)
    named = {w for ws in loose.loc[loose["kind"] == "failing_worker", "workerIds"] for w in ws}
    assert named <= set(counts)


def test_a_frame_without_workers_says_so() -> None:
    model = FarmModel(seed=0)
    df = dnb.session_action_frame(model.session_actions(model.job_by_name("failing").job_id))
    found = dnb.diagnose(df)
    assert "failing_worker" in found.attrs["unchecked"]
    assert "stuck_progress" in found.attrs["unchecked"]


@pytest.fixture(scope="module")
def failing_with_logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, FarmModel]:
    with LocalFarm() as farm:
        j = farm.job_by_name("failing")
        job = dnb.load_job(
            farm.farm_id, j.queue_id, j.job_id, client=farm.client(), cache=False, progress=False
        )
        found = dnb.diagnose(job, fetch=True)
        assert job._logs is not None  # fetch=True read them
        page = dnb.write_report(job, tmp_path_factory.mktemp("report"), charts=["status"])
        return (job, found, page.read_text()), farm.model


def test_shared_error_and_environment_failure_from_the_logs(
    failing_with_logs: tuple[Any, FarmModel],
) -> None:
    (job, found, _), model = failing_with_logs
    b = model.job_build(job.job_id)
    failures = found[found["kind"] == "systematic_failure"]
    license_row = failures[failures["title"].str.contains("License checkout failed")].iloc[0]
    exit1 = {
        a["definition"]["taskRun"]["taskId"] for a in failed_runs(b) if a["processExitCode"] == 1
    }
    assert set(license_row["taskIds"]) == exit1 and len(exit1) >= 3
    assert license_row["severity"] == "warning"
    assert "grep_logs" in license_row["next"]
    # The environment that failed to enter names its worker: the one whose host is in the line.
    env = [a for a in b.actions if a["status"] == "FAILED" and "envEnter" in a["definition"]]
    env_row = failures[failures["title"].str.contains("not installed")].iloc[0]
    assert env_row["workerIds"] == (worker_of(b)[env[0]["sessionId"]],)
    assert "systematic_failure" not in found.attrs["unchecked"]


def test_failing_report_opens_with_the_findings(failing_with_logs: tuple[Any, FarmModel]) -> None:
    (_job, found, text), _ = failing_with_logs
    findings_at = text.index('<section id="findings">')
    assert findings_at < text.index('<section id="summary">')
    section = text[findings_at : text.index("</section>", findings_at)]
    assert section.count('<li id="finding-') == len(found)
    for title in found["title"]:
        assert dnb.report._escape(str(title)) in section
    # each "evidence" link points at an anchor of the same page
    for anchor in re.findall(r'href="#([^"]+)">evidence', section):
        assert f'id="{anchor}"' in text
    assert 'href="#log-' in section  # the shared errors link to their logs further down


# ---------------------------------------------------------------------------------------------
# the troubled job: a bad node, a slowing simulation, a setup-heavy step


def test_troubled_job_names_its_bad_worker() -> None:
    job, b = simulated_job("troubled")
    found = dnb.diagnose(job)
    bad = one(found, "failing_worker")
    culprits = {worker_of(b)[a["sessionId"]] for a in failed_runs(b)}
    assert len(culprits) == 1
    assert bad["workerIds"] == tuple(culprits)
    assert set(bad["sessionActionIds"]) == {a["sessionActionId"] for a in failed_runs(b)}
    assert bad["severity"] == "critical"  # it fails more than half of its runs
    assert found.iloc[0]["kind"] == "failing_worker"


def test_troubled_job_trend_and_overhead() -> None:
    job, _ = simulated_job("troubled")
    found = dnb.diagnose(job)
    trend = one(found, "slow_trend")
    assert trend["title"].startswith("Cloth Sim")
    overhead = one(found, "overhead")
    assert "Slate" in overhead["title"]
    assert "slow_outliers" not in set(found["kind"])


def test_overhead_counts_as_summarize_does() -> None:
    for role in ("failing", "render", "troubled", "reclaimed"):
        job, _ = simulated_job(role)
        d = _Data(job.actions, _Inputs(actions=job.actions))
        table = dnb.summarize(job.actions)
        for step, (session, env, sync, _runs, idle, sessions, task_runs) in _step_times(d).items():
            row = table.loc[d.step_name(step)]
            assert session == pytest.approx(row["sessionTime"].total_seconds(), abs=1e-3)
            assert env == pytest.approx(row["envTime"].total_seconds(), abs=1e-3)
            assert sync == pytest.approx(row["syncTime"].total_seconds(), abs=1e-3)
            assert idle == pytest.approx(row["overhead"].total_seconds(), abs=1e-3)
            assert (sessions, task_runs) == (row["sessions"], row["taskRuns"])


def test_idle_inside_sessions() -> None:
    job, _ = simulated_job("failing")
    assert "idle" not in set(dnb.diagnose(job)["kind"])
    # Every session waits 20 minutes after its sync before its first task run.
    df = job.actions.copy()
    after = df.groupby("sessionId", observed=True)["actionIndex"].transform(
        lambda s: s > s.min() + 2
    )
    shift = pd.Timedelta(minutes=20)
    for column in ("startedAt", "endedAt", "workerUpdatedAt"):
        df.loc[after, column] = df.loc[after, column] + shift
    idle = one(dnb.diagnose(df), "idle")
    assert idle["severity"] == "warning" and "Crowd Sim" in idle["title"]


# ---------------------------------------------------------------------------------------------
# jobs that must show nothing severe


def render_outlier_frames(seed: int) -> set[int]:
    # The render scenario's first draw picks its two stuck frames (scenarios._render).
    spec_name = JOBS["render"]
    return set(random.Random(f"{seed}:{spec_name}").sample(range(100, 221), 2))


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_render_job_shows_only_its_two_stuck_frames(seed: int) -> None:
    job, _ = simulated_job("render", seed)
    found = dnb.diagnose(job)
    assert kinds(found) == ["slow_outliers"]
    slow = one(found, "slow_outliers")
    frames = set(
        job.actions.set_index("sessionActionId").loc[list(slow["sessionActionIds"]), "param.Frame"]
    )
    assert frames == render_outlier_frames(seed)
    assert len(found) == 1  # not even info


@pytest.mark.parametrize("role", ["simulation", "running"])
@pytest.mark.parametrize("seed", [0, 3])
def test_healthy_jobs_give_no_warnings(role: str, seed: int) -> None:
    job, _ = simulated_job(role, seed)
    assert kinds(dnb.diagnose(job)) == []


def test_reclaimed_job_only_says_what_was_interrupted() -> None:
    job, b = simulated_job("reclaimed")
    found = dnb.diagnose(job)
    assert kinds(found) == []
    lost = one(found, "interrupted")
    assert set(lost["sessionActionIds"]) == {
        a["sessionActionId"]
        for a in b.actions
        if a["status"] in ("INTERRUPTED", "RECLAIMED") and "taskRun" in a["definition"]
    }
    assert lost["severity"] == "info"
    assert "never_attempted" not in set(found["kind"])  # its requeued tasks all ran later


def test_canceled_job_counts_the_tasks_that_never_ran() -> None:
    job, b = simulated_job("canceled")
    found = dnb.diagnose(job)
    never = one(found, "never_attempted")
    ran = {
        a["definition"]["taskRun"]["taskId"]
        for a in b.actions
        if "taskRun" in a["definition"] and "startedAt" in a
    }
    expected = {t.task_id for step in b.steps for t in step.tasks} - ran
    assert set(never["taskIds"]) == expected
    assert never["title"].startswith(f"{len(expected)} of {len(job.tasks)} tasks never ran")
    assert never["severity"] == "info"  # someone canceled it on purpose
    # From the actions alone: only the tasks that appear there, and it says so.
    from_frame = one(dnb.diagnose(job.actions), "never_attempted")
    assert set(from_frame["taskIds"]) <= expected
    assert "never_attempted" in dnb.diagnose(job.actions).attrs["unchecked"]


# ---------------------------------------------------------------------------------------------
# running actions


def running_job(minutes_silent: float) -> tuple[Any, str]:
    """The running job now; with ``minutes_silent``, one of its actions as the service still
    shows it when its worker stopped reporting that many minutes ago (RUNNING, old heartbeat)."""
    clock = ManualClock(1_800_000_000.0)
    model = FarmModel(seed=0, clock=clock)
    spec = model.job_by_name("running")
    clock.advance(3 * 3600.0)
    now = model.view(spec.job_id)
    before = model.view(spec.job_id, at=model.now() - max(minutes_silent, 1) * 60)
    silent = next(a for a in before.actions if a["status"] == "RUNNING")
    if minutes_silent:
        actions = [
            silent if a["sessionActionId"] == silent["sessionActionId"] else a for a in now.actions
        ]
        now = dataclasses.replace(now, actions=actions)
    else:
        silent = next(a for a in now.actions if a["status"] == "RUNNING")
    return job_from_view(now, model.farm_id, spec.queue_id), silent["sessionActionId"]


def test_stalled_running_action() -> None:
    job, _ = running_job(0)
    assert "stalled" not in set(dnb.diagnose(job)["kind"])
    job, silent = running_job(10)
    stalled = one(dnb.diagnose(job), "stalled")
    assert stalled["sessionActionIds"] == (silent,)
    assert stalled["severity"] == "warning"
    # A later `asof` (the true fetch time) makes every running action late.
    later = job.actions["workerUpdatedAt"].max() + pd.Timedelta(hours=1)
    everyone = one(dnb.diagnose(job, asof=later), "stalled")
    assert len(everyone["sessionActionIds"]) == int((job.actions["status"] == "RUNNING").sum())


def test_stuck_progress_from_snapshots() -> None:
    job, _ = running_job(0)
    running = job.actions[job.actions["status"] == "RUNNING"]
    action_id = str(running.sort_values("startedAt")["sessionActionId"].iloc[0])
    row = job.actions.set_index("sessionActionId").loc[action_id]
    beats = pd.date_range(
        end=row["workerUpdatedAt"], periods=60, freq=f"{schema.HEARTBEAT_SECONDS:g}s"
    )
    beats = beats[beats >= row["startedAt"]]
    assert len(beats) > 8  # more than two minutes of heartbeats
    moving = pd.DataFrame(
        {
            "sessionActionId": pd.array([action_id] * len(beats), dtype=schema.STRING),
            "observedAt": beats,
            "status": pd.Categorical(["RUNNING"] * len(beats), dtype=schema.STATUS),
            "progressPercent": pd.array(np.linspace(1, 50, len(beats)), dtype="Float64"),
            "progressMessage": pd.array([None] * len(beats), dtype=schema.STRING),
            "workerUpdatedAt": beats,
        }
    )
    job.snapshots = moving
    assert "stuck_progress" not in set(dnb.diagnose(job, stuck_minutes=2)["kind"])
    frozen = moving.copy()
    frozen["progressPercent"] = pd.array([12.5] * len(beats), dtype="Float64")
    job.snapshots = frozen
    stuck = one(dnb.diagnose(job, stuck_minutes=2), "stuck_progress")
    assert stuck["sessionActionIds"] == (action_id,)
    assert "stuck_progress" not in set(dnb.diagnose(job)["kind"])  # ten minutes by default


# ---------------------------------------------------------------------------------------------
# memory and cost (synthetic resource and cost columns on the farm's actions)


def test_memory_near_the_total_and_the_oom_kills() -> None:
    job, b = simulated_job("failing")
    killed = [a["sessionActionId"] for a in failed_runs(b) if a["processExitCode"] == 137]
    other = next(
        a["sessionActionId"]
        for a in b.actions
        if a["status"] == "SUCCEEDED" and "taskRun" in a["definition"]
    )
    # Healthy peaks: no finding, and memory counts as checked.
    calm = dnb.diagnose(with_resources(job.actions, {}))
    assert "memory" not in set(calm["kind"]) and "memory" not in calm.attrs["unchecked"]
    peaks = {**dict.fromkeys(killed, 97.0), other: 93.0}
    found = dnb.diagnose(with_resources(job.actions, peaks))
    memory = one(found, "memory")
    assert set(memory["sessionActionIds"]) == {*killed, other}
    assert memory["severity"] == "critical"
    assert f"{len(killed)} of them exited 137" in memory["title"]
    assert "64 GiB" in memory["evidence"]
    # The job's own resources are read when they are there (no fetch).
    job._resources = with_resources(job.actions, peaks)
    assert "memory" in set(dnb.diagnose(job)["kind"])


def test_memory_unchecked_without_resources() -> None:
    job, _ = simulated_job("failing")
    assert "memory" in dnb.diagnose(job).attrs["unchecked"]
    assert "memory" in dnb.diagnose(job.actions).attrs["unchecked"]


def test_cost_of_failed_attempts() -> None:
    job, b = simulated_job("failing")
    job._cost = cost_frame(250.0)
    cost = one(dnb.diagnose(job), "failed_cost")
    failed = sum(a["endedAt"] - a["startedAt"] for a in failed_runs(b))
    busy = sum(a["endedAt"] - a["startedAt"] for a in b.actions if "startedAt" in a)
    assert f"${250.0 * failed / busy:,.2f}" in cost["title"]
    assert cost["severity"] == ("warning" if failed / busy >= 0.1 else "info")
    assert "failed_cost" not in dnb.diagnose(job).attrs["unchecked"]
    job._cost = pd.DataFrame({"other": [1.0]})
    assert "cost.sum" in dnb.diagnose(job).attrs["unchecked"]["failed_cost"]


# ---------------------------------------------------------------------------------------------
# where it shows


def test_render_report_shows_only_what_is_there(tmp_path: Path) -> None:
    job, _ = simulated_job("render")
    page = dnb.write_report(job, tmp_path, charts=["frame_times"], logs=False)
    text = page.read_text()
    section = text[text.index('<section id="findings">') :]
    section = section[: section.index("</section>")]
    assert section.count('<li id="finding-') == 1
    assert 'href="#chart-frame_times"' not in section  # outliers point at the slowest table
    assert 'href="#slowest"' in section


def test_cli_diagnose_json_and_report_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with LocalFarm() as farm:
        j = farm.job_by_name("failing")
        ids = ["--farm-id", farm.farm_id, "--queue-id", j.queue_id, "--job-id", j.job_id]
        common = [*ids, "--endpoint-url", farm.endpoint_url, "--no-cache", "--quiet"]
        assert main(["diagnose", *common, "--json"]) == 0
        document = json.loads(capsys.readouterr().out)
        assert document["jobId"] == j.job_id
        assert document["findings"][0]["severity"] == "critical"
        assert any("License checkout" in f["title"] for f in document["findings"])
        assert all(isinstance(f["sessionActionIds"], list) for f in document["findings"])
        assert main(["diagnose", *common, "--no-fetch"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[1].startswith("CRITICAL")
        assert any(line.startswith("not checked: systematic_failure") for line in lines)
        assert main(["report", *common, "--out", str(tmp_path)]) == 0
        out = capsys.readouterr().out.splitlines()
        at = out.index("Findings:")
        assert out[at + 1].lstrip().startswith("CRITICAL")


def test_explorer_findings_panel_filters_to_a_finding() -> None:
    job, _ = simulated_job("failing")
    ex = dnb.explore(job)
    try:
        panel = ex.findings_panel
        assert len(panel.select.options) == len(dnb.diagnose(job)) + 1
        assert len(ex.frame) == len(job.actions)
        panel.select.value = 0
        chosen = panel.findings["sessionActionIds"].iloc[0]
        assert set(ex.frame["sessionActionId"]) == set(chosen)
        assert "Next:" in panel.detail.value
        panel.select.value = -1
        assert len(ex.frame) == len(job.actions)
    finally:
        ex.close()
