"""The picker and the explorer, driven in Python against the local farm (no browser).

What is checked is what a TD would see change: the options of each dropdown, the ids in
``.value``, what the plots drew (the timeline's rectangles), the files Export wrote, and the
one-line errors. The browser test (test_browser.py) checks that the same widgets render.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import pytest

import deadline_nb as dnb
from deadline_nb.errors import AccessDeniedError
from deadline_nb.localfarm import JOBS, LocalFarm
from deadline_nb.widgets import ALL, TABS, Explorer, JobPicker, LogTab
from deadline_nb.widgets.logview import LOG_TAIL

from .fetch_helpers import Recorder
from .log_helpers import with_logs
from .report_helpers import failed_runs

NAMES = {"Comp", "FX", "Lighting"}


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache.sqlite3"


def labels(dropdown: Any) -> list[str]:
    return [label for label, _ in dropdown.options]


def values(dropdown: Any) -> list[str]:
    return [value for _, value in dropdown.options]


def rectangles(ex: Explorer) -> int:
    ax = ex.figures["timeline"].axes[0]
    return len(next(c for c in ax.collections if c.get_gid() == "actions").get_paths())


def attempted(frame: pd.DataFrame) -> int:
    return int(frame["startedAt"].notna().sum())


@pytest.fixture(scope="module")
def farm(module_farm: LocalFarm) -> LocalFarm:
    """This module's own farm: the watch tests need its running job still running, whatever
    time the run has taken before them (the session's farm runs it for 12 minutes)."""
    return module_farm


def load(farm: LocalFarm, role: str, cache: Path | bool = False) -> dnb.Job:
    spec = farm.job_by_name(JOBS[role])
    return dnb.load_job(
        farm.farm_id,
        spec.queue_id,
        spec.job_id,
        client=farm.client(),
        cache=cache,
        progress=False,
    )


def queue_id(farm: LocalFarm, name: str) -> str:
    return next(q["queueId"] for q in farm.model.queues if q["displayName"] == name)


# What the farm made, from its model: the counts the widgets must show.


def queue_jobs(farm: LocalFarm, name: str) -> int:
    return len(farm.model.queue_jobs(queue_id(farm, name)))


def job_tasks(farm: LocalFarm, role: str) -> int:
    return sum(
        len(tasks) for tasks in farm.model.view(farm.job_by_name(JOBS[role]).job_id).tasks.values()
    )


def task_runs(farm: LocalFarm, role: str) -> int:
    actions = farm.model.session_actions(farm.job_by_name(JOBS[role]).job_id)
    return sum("taskRun" in a["definition"] for a in actions)


# ---------------------------------------------------------------------------------------------
# the picker


def test_picker_cascades_from_farm_to_steps_and_sessions(farm: LocalFarm) -> None:
    client = farm.client()
    recorder = Recorder(client)
    picker = JobPicker(client)
    seen: list[dict[str, Any]] = []
    picker.observe(lambda change: seen.append(change["new"]), names="value")
    # Lists load when needed: the farms, and the queues of the only farm; no jobs yet.
    assert dict(recorder.calls) == {"ListFarms": 1, "ListQueues": 1}

    # One farm: chosen by itself, and its queues listed by name; nothing further yet.
    assert picker.farm_id == farm.farm_id
    assert picker.farm.label == "Studio Farm"
    assert set(labels(picker.queue)[1:]) == NAMES
    assert picker.queue_id is None and values(picker.job) == [ALL]

    picker.queue_id = queue_id(farm, "FX")
    assert recorder.calls["SearchJobs"] == 1 and recorder.calls["ListSteps"] == 0
    assert recorder.calls["ListJobs"] == 0
    listed = dnb.list_jobs(farm.farm_id, picker.queue_id, client=farm.client())
    assert values(picker.job)[1:] == [j["jobId"] for j in listed]  # newest first
    names = [label.split(" · ")[0] for label in labels(picker.job)[1:]]
    assert sorted(names) == sorted([JOBS["simulation"], JOBS["failing"], JOBS["canceled"]])
    failing = next(label for label in labels(picker.job) if JOBS["failing"] in label)
    name, status, who, when = failing.split(" · ")
    assert (name, status, when.endswith(" UTC"), bool(who)) == (
        JOBS["failing"],
        "FAILED",
        True,
        True,
    )
    assert picker.job_id is None  # a job is never loaded unasked

    spec = farm.job_by_name(JOBS["simulation"])
    picker.job.value = spec.job_id  # as the user does in the dropdown
    assert [label.split(" · ")[0] for label in labels(picker.step)[1:]] == ["Simulate", "Mesh"]
    sessions = farm.model.view(spec.job_id).sessions
    assert len(picker.session.options) == len(sessions) + 1
    assert seen[-1] == {
        "farm_id": farm.farm_id,
        "queue_id": spec.queue_id,
        "job_id": spec.job_id,
        "step_id": None,
        "session_id": None,
    }

    picker.step.value = values(picker.step)[2]
    assert seen[-1]["step_id"] == values(picker.step)[2]

    # Another queue: the job, its steps and sessions are cleared and the new jobs listed.
    picker.queue.value = queue_id(farm, "Comp")
    assert seen[-1]["job_id"] is None and seen[-1]["step_id"] is None
    assert [label.split(" · ")[0] for label in labels(picker.job)[1:]] == [JOBS["running"]]
    assert values(picker.step) == [ALL]


def test_picker_ids_set_in_code(farm: LocalFarm) -> None:
    spec = farm.job_by_name(JOBS["render"])
    step_id = farm.model.view(spec.job_id).steps[0]["stepId"]
    picker = JobPicker(
        farm.client(),
        farm_id=farm.farm_id,
        queue_id=spec.queue_id,
        job_id=spec.job_id,
        step_id=step_id,
    )
    assert picker.value == {
        "farm_id": farm.farm_id,
        "queue_id": spec.queue_id,
        "job_id": spec.job_id,
        "step_id": step_id,
        "session_id": None,
    }
    assert picker.queue.label == "Lighting"
    assert picker.job.label.startswith(JOBS["render"] + " · SUCCEEDED")

    other = farm.job_by_name(JOBS["reclaimed"])
    picker.job_id = other.job_id
    assert (picker.value["job_id"], picker.value["step_id"]) == (other.job_id, None)

    # An id the lists do not show is kept as it is; that it does not exist shows in one line.
    picker.job_id = "job-00000000000000000000000000000000"
    assert picker.job.label == "job-00000000000000000000000000000000 (not listed)"
    assert "not found" in picker.message.value

    picker.job_id = None
    assert picker.value["job_id"] is None
    picker.farm_id = None
    assert picker.value == dict.fromkeys(picker.value)
    with pytest.raises(ValueError, match="Choose a farm first"):
        picker.queue_id = spec.queue_id


def test_picker_filter_narrows_the_job_list(farm: LocalFarm) -> None:
    fx = queue_id(farm, "FX")
    failing = farm.job_by_name(JOBS["failing"])
    picker = JobPicker(farm.client(), queue_id=fx, job_id=failing.job_id)
    picker.debounce = 0  # each change searches at once (the debounce has its own test)

    picker.filter.value = "canceled"
    assert [label.split(" · ")[0] for label in labels(picker.job)[1:]] == [JOBS["canceled"]]
    assert f"1 of {queue_jobs(farm, 'FX')} jobs match" in picker.job.label
    assert picker.value["job_id"] is None  # the chosen job is filtered out

    # A job chosen in code while the filter hides it is still shown by its label.
    picker.job_id = failing.job_id
    assert picker.job.label.startswith(JOBS["failing"] + " · FAILED")

    picker.filter.value = "FAILED sq030"  # a status word and a name word, both
    assert values(picker.job)[1:] == [failing.job_id]
    picker.filter.value = ""
    assert len(picker.job.options) == queue_jobs(farm, "FX") + 1


def test_picker_shows_that_a_list_is_loading(farm: LocalFarm) -> None:
    picker = JobPicker(farm.client())
    messages: list[str] = []
    job_options: list[list[str]] = []
    disabled: list[bool] = []
    picker.message.observe(lambda c: messages.append(c["new"]), names="value")
    picker.job.observe(lambda c: job_options.append([label for label, _ in c["new"]]), "options")
    picker.job.observe(lambda c: disabled.append(c["new"]), names="disabled")

    picker.queue_id = queue_id(farm, "Lighting")

    assert any("Loading jobs of Lighting" in m for m in messages)
    assert ["loading jobs of Lighting…"] in job_options
    assert disabled[:2] == [True, False]  # while it loads, and after
    assert picker.message.value == ""  # and the line is cleared when it is done


def test_picker_denied_queue_shows_one_line_and_the_rest_works() -> None:
    with LocalFarm(seed=0) as farm:
        lighting = queue_id(farm, "Lighting")
        farm.denied_queues.add(lighting)
        picker = JobPicker(farm.client(retries={"total_max_attempts": 1}))

        picker.queue_id = lighting
        text = picker.message.value
        assert "Access denied" in text and lighting in text
        assert "\n" not in text and "Traceback" not in text
        assert labels(picker.job) == ["(jobs of Lighting: unavailable)"]
        assert not picker.job.disabled and not picker.queue.disabled

        picker.queue.value = queue_id(farm, "FX")  # another queue is fine
        assert len(picker.job.options) == queue_jobs(farm, "FX") + 1
        assert picker.message.value == ""


# ---------------------------------------------------------------------------------------------
# the explorer


def test_explore_a_job_shows_the_picker_and_draws_the_timeline(
    farm: LocalFarm, cache: Path
) -> None:
    job = load(farm, "failing", cache)
    ex = dnb.explore(job, client=farm.client())
    try:
        assert isinstance(ex, Explorer) and ex.picker is not None
        assert ex.picker.value["job_id"] == job.job_id
        assert ex.job is job  # the picker set to the job's ids does not load it again
        assert rectangles(ex) == attempted(job.actions)
        output = ex.outputs["timeline"].outputs[0]
        assert base64.b64decode(output["data"]["image/png"])[:4] == b"\x89PNG"
        assert sorted(ex.figures) == ["timeline"]  # only the visible tab is drawn
        assert "FAILED" in ex.progress.value
    finally:
        ex.close()


def test_filters_change_what_the_plots_draw(farm: LocalFarm) -> None:
    job = load(farm, "failing")
    ex = dnb.explore(job, client=farm.client())
    try:
        counts = job.actions["status"].value_counts()
        assert f"FAILED ({counts['FAILED']:,})" in labels(ex.status)

        ex.status.value = "FAILED"
        failed = job.actions[job.actions["status"] == "FAILED"]
        assert len(ex.frame) == len(failed) and rectangles(ex) == attempted(failed)

        ex.status.value = ALL
        ex.action_type.value = "envEnter"
        assert rectangles(ex) == attempted(job.actions[job.actions["actionType"] == "envEnter"])
        ex.action_type.value = ALL

        # The step filter is the picker's step dropdown.
        assert ex.picker is not None
        step_id = values(ex.picker.step)[1]
        ex.step.value = step_id
        assert set(ex.frame["stepId"].astype(str)) == {step_id}

        ex.step.value = ALL
        session_id = values(ex.picker.session)[1]
        ex.picker.session.value = session_id
        assert set(ex.frame["sessionId"].astype(str)) == {session_id}
        ex.picker.session.value = ALL

        # The time range keeps the actions that ran, at least partly, inside it.
        n = len(ex.time_range.options)
        ex.time_range.index = (0, n // 4)
        hi = pd.Timestamp(ex.time_range.value[1], tz="UTC")
        assert hi.strftime("%H:%M:%S UTC") in ex.time_label.value
        assert 0 < len(ex.frame) < len(job.actions)
        assert (ex.frame["startedAt"] <= hi).all()
        assert rectangles(ex) == attempted(ex.frame)
        ex.time_range.index = (0, n - 1)
        assert len(ex.frame) == len(job.actions)
    finally:
        ex.close()


def test_tabs_draw_when_opened(farm: LocalFarm) -> None:
    job = load(farm, "simulation")
    ex = dnb.explore(job)
    try:
        assert ex.picker is None  # no client given
        for index, name in enumerate(["frame_times", "durations", "progress"], start=1):
            assert name not in ex.figures
            ex.tabs.selected_index = index
            assert name in ex.figures
            assert "image/png" in ex.outputs[name].outputs[0]["data"]
        # Frame times of chunks (Frame 1-10, ...): every attempt is drawn.
        ax = ex.figures["frame_times"].axes[0]
        assert {c.get_gid() for c in ax.collections} >= {"attempts"}
    finally:
        ex.close()


def test_table_of_slowest_and_failed(farm: LocalFarm) -> None:
    job = load(farm, "failing")
    ex = dnb.explore(job)
    try:
        ex.tabs.selected_index = 4
        table = ex.table
        failed = table[table["reason"] == "failed"]
        assert len(failed) == int((job.actions["status"] == "FAILED").sum())
        names = dict(zip(failed["processExitCode"], failed["exitCodeName"], strict=True))
        assert "access violation" in str(names.get(-1073741819))
        slowest = table[table["reason"].str.startswith("slowest")]["duration"]
        runs = job.actions.query("actionType == 'taskRun' and status == 'SUCCEEDED'")
        shown = min(20, len(runs))  # the table's 20, of the job's finished task runs
        assert len(slowest) == shown and slowest.is_monotonic_decreasing
        html = ex.outputs["table"].outputs[0]["data"]["text/html"]
        assert "Failed actions" in html and f"Slowest {shown}" in html

        ex.status.value = "SUCCEEDED"  # the table follows the filters too
        assert (ex.table["reason"] != "failed").all()
    finally:
        ex.close()


def test_export_writes_charts_and_the_filtered_frame(farm: LocalFarm, tmp_path: Path) -> None:
    job = load(farm, "render")
    ex = dnb.explore(job)
    try:
        ex.action_type.value = "taskRun"
        ex.folder.value = str(tmp_path / "out")
        ex.export_button.click()
        written = sorted((tmp_path / "out").iterdir())
        stem = JOBS["render"]
        charts = ["durations", "frame_times", "progress", "timeline"]
        assert [p.name for p in written] == sorted(
            [f"{stem}_{c}{s}" for c in charts for s in (".png", ".svg")]
            + [f"{stem}_actions.csv", f"{stem}_actions.parquet"]
        )
        for path in written:
            if path.suffix == ".png":
                assert path.read_bytes()[:4] == b"\x89PNG"
            elif path.suffix == ".svg":
                assert b"<svg" in path.read_bytes()[:2000]
        back = dnb.read_parquet(tmp_path / "out" / f"{stem}_actions.parquet")
        runs = task_runs(farm, "render")
        assert len(back) == runs and set(back["actionType"]) == {"taskRun"}
        assert len(pd.read_csv(tmp_path / "out" / f"{stem}_actions.csv")) == runs
        assert str(tmp_path / "out") in ex.message.value
        assert all(p.name in ex.message.value for p in written)

        # export() returns the same list, from code.
        again = ex.export(tmp_path / "again")
        assert sorted(p.name for p in again) == [p.name for p in written]
    finally:
        ex.close()


def test_explore_a_frame_has_no_picker_and_no_refresh(tmp_path: Path) -> None:
    model = dnb.localfarm.FarmModel(seed=0)
    df = dnb.session_action_frame(model.session_actions(model.job_by_name("failing").job_id))
    ex = dnb.explore(df)
    try:
        assert ex.picker is None and ex.job is None
        assert ex.refresh_button.disabled and ex.watch_button.disabled
        with pytest.raises(ValueError, match="no job"):
            ex.refresh()
        ex.refresh_button.click()  # the button says so instead
        assert "no job" in ex.message.value
        # Without stepName the steps are listed by id; the filter still works.
        ex.step.value = values(ex.step)[1]
        assert len(ex.frame) and set(ex.frame["stepId"].astype(str)) == {values(ex.step)[1]}
        paths = ex.export(tmp_path)
        assert {p.name for p in paths} >= {"actions_actions.parquet", "actions_timeline.png"}
    finally:
        ex.close()


def test_explore_with_nothing_but_a_client_picks_first(farm: LocalFarm, cache: Path) -> None:
    client = dnb.client(endpoint_url=farm.endpoint_url)
    ex = dnb.explore(client=client, cache=cache)
    try:
        assert ex.job is None and ex.picker is not None
        assert "Choose a job" in ex.message.value
        spec = farm.job_by_name(JOBS["render"])
        ex.picker.queue_id = spec.queue_id
        ex.picker.job_id = spec.job_id
        assert ex.job is not None and ex.job.job_id == spec.job_id
        assert rectangles(ex) == attempted(ex.job.actions)
        # Picking another job loads it (through the cache).
        other = farm.job_by_name(JOBS["reclaimed"])
        ex.picker.job.value = other.job_id
        assert ex.job.job_id == other.job_id
        assert ex.folder.value.endswith(JOBS["reclaimed"])
    finally:
        ex.close()


def test_explore_denied_job_shows_the_error_inline(cache: Path) -> None:
    with LocalFarm(seed=0) as farm:
        spec = farm.job_by_name(JOBS["render"])
        farm.denied_queues.add(spec.queue_id)
        client = dnb.client(endpoint_url=farm.endpoint_url)
        ex = dnb.explore(
            client=client,
            cache=cache,
            farm_id=farm.farm_id,
            queue_id=spec.queue_id,
            job_id=spec.job_id,
        )
        try:
            assert ex.job is None and len(ex.frame) == 0
            assert "Access denied" in ex.message.value
            assert ex.picker is not None
            assert "Access denied" in ex.picker.message.value
            # The rest stays usable: another queue's job loads.
            other = farm.job_by_name(JOBS["failing"])
            ex.picker.select(queue_id=other.queue_id, job_id=other.job_id)
            assert ex.job is not None and ex.job.job_id == other.job_id
            assert "Access denied" not in ex.message.value
        finally:
            ex.close()


def test_refresh_is_incremental_through_the_cache(farm: LocalFarm, cache: Path) -> None:
    spec = farm.job_by_name(JOBS["running"])
    client = farm.client()
    recorder = Recorder(client)
    job = dnb.load_job(
        farm.farm_id, spec.queue_id, spec.job_id, client=client, cache=cache, progress=False
    )
    ex = dnb.explore(job)
    try:
        recorder.clear()
        before = ex.job
        assert before is not None
        ex.folder.value = "mine"
        after = ex.refresh()
        assert ex.folder.value == "mine"  # a refresh keeps what the user typed
        assert ex.job is after and after is not before
        # Only what can have changed is fetched again: far fewer than the job's actions.
        assert len(recorder.batched) < len(before.actions) / 2
        assert len(after.snapshots) >= len(before.snapshots)
        assert after.actions["workerUpdatedAt"].max() >= before.actions["workerUpdatedAt"].max()
        assert "Refreshed at" in ex.message.value
    finally:
        ex.close()


# ---------------------------------------------------------------------------------------------
# watching a running job


def test_watch_mode_polls_until_closed(farm: LocalFarm, cache: Path) -> None:
    job = load(farm, "running", cache)
    assert not job.finished
    ex = dnb.explore(job, every=0.05)
    ex.tabs.selected_index = 3
    first = ex.figures["progress"]
    ex.watch_button.value = True  # the toggle starts it
    try:
        assert ex.watching
        assert ex.wait_for_polls(2)
        assert ex.job is not job
        assert ex.figures["progress"] is not first  # drawn again with the new data
        assert "ETA" in ex.progress.value
        # Tasks are counted against all the job's tasks, not only those a worker has taken,
        # and the plot's ETA is the progress line's.
        ax = ex.figures["progress"].axes[0]
        assert f" of {job_tasks(farm, 'running'):,} " in ax.get_title()
        (projection,) = [line for line in ax.lines if line.get_gid() == "projection"]
        eta = str(projection.get_label()).removeprefix("ETA ")
        assert f"ETA {eta[:16]}" in ex.progress.value  # the same minute; the plot adds seconds
    finally:
        ex.close()
    assert not ex.watching
    assert not any(t.name == "deadline-nb-watch" for t in threading.enumerate())
    polls = ex.polls
    assert ex.wait_for_polls(polls + 1, timeout=0.2) is False  # closed: no more polls


def test_watch_mode_stops_by_itself_when_the_job_finishes(tmp_path: Path) -> None:
    # 2000 times the wall clock: the running job finishes a few seconds from now.
    with LocalFarm(seed=0, speedup=2000) as farm:
        job = load(farm, "running", tmp_path / "cache.sqlite3")
        assert not job.finished
        ex = dnb.explore(job, watch=True, every=0.2)
        try:
            assert ex.watching and ex.watch_button.value
            thread = ex._watch_thread
            assert thread is not None
            thread.join(timeout=120)
            assert not ex.watching and not ex.watch_button.value
            assert ex.job is not None and ex.job.finished and ex.polls >= 1
            assert "has finished" in ex.message.value
            assert "finished" in ex.progress.value
            # A finished job has nothing to watch.
            ex.start_watch()
            assert not ex.watching and "nothing to watch" in ex.message.value
        finally:
            ex.close()


def test_watch_function_accumulates_snapshots(
    farm: LocalFarm, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job = load(farm, "running", cache)
    # 0.9 s of wall clock is 18 s of the farm's: every running action reports progress.
    later = dnb.watch(job, every=0.9, polls=2)
    assert later.job_id == job.job_id and not later.finished
    assert len(later.snapshots) > len(job.snapshots)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3  # the state before polling, then one line per poll
    total = job_tasks(farm, "running")
    assert all(f"of {total:,} tasks succeeded" in line and "ETA" in line for line in lines)

    # A timeout stops it too, and display=False is silent.
    dnb.watch(later, every=30, timeout=0.1, display=False)
    assert capsys.readouterr().out == ""


def test_watch_function_returns_a_finished_job_at_once(
    farm: LocalFarm, capsys: pytest.CaptureFixture[str]
) -> None:
    job = load(farm, "render")
    assert dnb.watch(job, every=30) is job
    (line,) = capsys.readouterr().out.splitlines()
    total = job_tasks(farm, "render")
    assert f"{total:,} of {total:,} tasks succeeded" in line and "finished" in line
    with pytest.raises(ValueError, match="every"):
        dnb.watch(job, every=0)


def test_picker_takes_the_deadline_config_defaults_with_a_client_to_aws(
    farm: LocalFarm, monkeypatch: pytest.MonkeyPatch, cache: Path
) -> None:
    import deadline_nb.aws
    import deadline_nb.widgets.shared

    spec = farm.job_by_name(JOBS["failing"])
    defaults = {
        "farm_id": farm.farm_id,
        "queue_id": spec.queue_id,
        "job_id": spec.job_id,
        "profile": None,
        "region": None,
    }
    # What dnb.client() would give on a TD's machine: a client to AWS, and their deadline config.
    monkeypatch.setattr(deadline_nb.aws, "config_defaults", lambda: defaults)
    monkeypatch.setattr(deadline_nb.aws, "client", lambda *a, **k: farm.client())
    monkeypatch.setattr(deadline_nb.widgets.shared, "client_is_local", lambda client: False)

    ex = dnb.explore(cache=cache)  # nothing given: the configured job, loaded
    try:
        assert ex.picker is not None and ex.picker.value["job_id"] == spec.job_id
        assert ex.job is not None and ex.job.job_id == spec.job_id
    finally:
        ex.close()
    # Ids given in code win over the config.
    render = farm.job_by_name(JOBS["render"])
    picker = JobPicker(queue_id=render.queue_id, job_id=render.job_id)
    assert picker.value["job_id"] == render.job_id


# ---------------------------------------------------------------------------------------------
# the Log tab

LOG_TAB = [name for name, _ in TABS].index("log")


class CountedLogs(dnb.Job):
    """A job whose logs (read from the farm beforehand) count how often they are asked for."""

    reads = 0
    error: Exception | None = None

    @property
    def logs(self) -> pd.DataFrame:
        type(self).reads += 1
        if self.error is not None:
            raise self.error
        assert self._logs is not None
        return self._logs


def counted(job: dnb.Job, error: Exception | None = None) -> CountedLogs:
    kind = type("Counted", (CountedLogs,), {"reads": 0, "error": error})
    made: CountedLogs = kind(**{f.name: getattr(job, f.name) for f in dataclasses.fields(job)})
    return made


@pytest.fixture(scope="module")
def failing_with_logs(farm: LocalFarm) -> dnb.Job:
    return with_logs(farm, load(farm, "failing"))


def shown_lines(tab: LogTab) -> list[str]:
    """The log lines the view shows, unescaped, without their numbers."""
    pre = re.search(r"<pre[^>]*>(.*)</pre>", tab.view.value, re.DOTALL)
    assert pre is not None, tab.view.value
    parts = re.split(
        r'<span style="color:#5b6475;display:inline-block[^"]*">[0-9,]+</span>', pre[1]
    )
    return [html.unescape(re.sub(r"<[^>]+>", "", p)).removesuffix("\n") for p in parts[1:]]


def marked_lines(tab: LogTab, colour: str) -> list[str]:
    return [
        html.unescape(m)
        for m in re.findall(
            rf'<span style="background:{colour}[^"]*">([^<]*)</span>', tab.view.value
        )
    ]


def lines_of(logs: pd.DataFrame, action_id: str) -> list[str]:
    rows = logs[(logs["sessionActionId"] == action_id).to_numpy()].sort_values("lineIndex")
    return rows["message"].fillna("").tolist()


def test_log_tab_reads_the_logs_when_first_opened(failing_with_logs: dnb.Job) -> None:
    job = counted(failing_with_logs)
    ex = dnb.explore(job)
    try:
        assert type(job).reads == 0  # opening the explorer reads no log
        assert ex.log_tab.logs is None and ex.log_tab.view.value == ""
        ex.tabs.selected_index = LOG_TAB
        assert type(job).reads == 1
        lines = len(failing_with_logs.logs)
        assert f"{lines:,} log lines from " in ex.log_tab.message.value
        # The first failed action is chosen, its whole (short) log shown, its error line marked.
        failed = job.actions[job.actions["status"] == "FAILED"].sort_values("endedAt")
        first = str(failed["sessionActionId"].iloc[0])
        assert ex.log_tab.action.value == first
        expected = lines_of(failing_with_logs.logs, first)
        assert shown_lines(ex.log_tab) == expected[-LOG_TAIL:]
        ending = dnb.failure_lines(failing_with_logs.logs, job.actions)
        line = ending.loc[ending["sessionActionId"] == first, "line"].iloc[0]
        assert marked_lines(ex.log_tab, "#fde7e5") == [line]

        # Choosing another action shows its lines; nothing is read again.
        other = str(failed["sessionActionId"].iloc[2])
        ex.log_tab.action.value = other
        assert shown_lines(ex.log_tab) == lines_of(failing_with_logs.logs, other)[-LOG_TAIL:]
        ex.tabs.selected_index = 0
        ex.tabs.selected_index = LOG_TAB
        assert type(job).reads == 1 and ex.log_tab.action.value == other
    finally:
        ex.close()


def test_log_tab_shows_the_tail_and_all_lines_on_request(farm: LocalFarm) -> None:
    job = with_logs(farm, load(farm, "render"))
    ex = dnb.explore(job)
    try:
        ex.tabs.selected_index = LOG_TAB
        # The action with the most lines: longer than the tail.
        counts = job.logs["sessionActionId"].value_counts()
        longest = str(counts.index[0])
        assert counts.iloc[0] > LOG_TAIL
        ex.log_tab.action.value = longest
        every = lines_of(job.logs, longest)
        assert shown_lines(ex.log_tab) == every[-LOG_TAIL:]
        assert f"lines {len(every) - LOG_TAIL + 1:,}–{len(every):,} of {len(every):,}" in (
            ex.log_tab.view.value
        )
        ex.log_tab.all_lines.value = True
        assert shown_lines(ex.log_tab) == every
        assert f"all {len(every):,} lines" in ex.log_tab.view.value
    finally:
        ex.close()


def test_log_tab_choices_follow_the_filters(failing_with_logs: dnb.Job) -> None:
    ex = dnb.explore(failing_with_logs)
    try:
        ex.tabs.selected_index = LOG_TAB
        started = failing_with_logs.actions["startedAt"].notna()
        assert len(ex.log_tab.action.options) == int(started.sum())
        assert ex.log_tab.action.options[0][0].startswith("FAILED · ")  # failed first
        ex.status.value = "SUCCEEDED"
        succeeded = failing_with_logs.actions["status"] == "SUCCEEDED"
        assert {v for _, v in ex.log_tab.action.options} == set(
            failing_with_logs.actions.loc[succeeded, "sessionActionId"].astype(str)
        )
    finally:
        ex.close()


def test_log_search_finds_the_shared_error_and_shows_its_action(
    failing_with_logs: dnb.Job, farm: LocalFarm
) -> None:
    ex = dnb.explore(failing_with_logs)
    tab = ex.log_tab
    try:
        # Typed in the box (as on Enter), before the tab was ever opened: the logs are read then.
        tab.query.value = "license checkout FAILED"
        logs = failing_with_logs.logs
        found = logs[logs["message"].str.lower().str.contains("license checkout failed")]
        assert len(tab.matches) == len(found) > 0
        # Every matching line belongs to a task run that failed with exit code 1 (the farm's
        # licence error), and every such run has matches.
        licence = {
            a["sessionActionId"]
            for a in failed_runs(farm.model, failing_with_logs.job_id)
            if a.get("processExitCode") == 1
        }
        assert set(tab.matches["sessionActionId"].astype(str)) == licence
        assert {"stepName", "workerId", "param.Frame"} <= set(tab.matches.columns)
        assert tab.matches["workerId"].notna().all()
        assert f"{len(found)} lines in {len(licence)} actions match" in tab.summary.value
        label, index = tab.results.options[0]
        row = tab.matches.loc[index]
        assert label.startswith(f"Crowd Sim · Frame={row['param.Frame']} · ")

        # Choosing a result shows its action's log with the line marked.
        tab.results.value = index
        assert tab.action.value == str(row["sessionActionId"])
        assert str(row["message"]) in marked_lines(tab, "#fde7e5") + marked_lines(tab, "#fff3bf")

        # A regular expression, case-sensitive, from code.
        again = tab.search("RLM error -[0-9]+", regex=True, case=True)
        assert tab.regex.value and tab.case.value
        assert len(again) == int(logs["message"].str.contains("RLM error -[0-9]+").sum())
        assert tab.search("rlm ERROR", regex=False, case=True).empty
        assert "No line of the job's logs matches" in html.unescape(tab.summary.value)
    finally:
        ex.close()


def test_log_search_result_far_from_the_end_shows_its_place(farm: LocalFarm) -> None:
    job = with_logs(farm, load(farm, "render"))
    ex = dnb.explore(job)
    tab = ex.log_tab
    try:
        tab.search("Parameter values:")
        counts = job.logs["sessionActionId"].value_counts()
        longest = str(counts.index[0])
        index = tab.matches.index[(tab.matches["sessionActionId"] == longest).to_numpy()][0]
        tab.results.value = index
        assert tab.action.value == longest
        assert marked_lines(tab, "#fff3bf") == ["Parameter values:"]
        lines = shown_lines(tab)
        assert "Parameter values:" in lines[:12] and len(lines) == LOG_TAIL
    finally:
        ex.close()


def test_log_lines_are_escaped(failing_with_logs: dnb.Job) -> None:
    logs = failing_with_logs.logs.copy()
    first = str(logs["sessionActionId"].dropna().iloc[0])
    row = logs.index[(logs["sessionActionId"] == first).to_numpy()][-1]
    logs["message"] = logs["message"].astype(object)
    logs.loc[row, "message"] = "<script>alert(1)</script> & <b>"
    logs["message"] = logs["message"].astype(dnb.schema.STRING)
    ex = dnb.explore(dataclasses.replace(failing_with_logs, _logs=logs))
    try:
        ex.log_tab.show(first)
        assert "<script>" not in ex.log_tab.view.value
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;" in ex.log_tab.view.value
        assert shown_lines(ex.log_tab)[-1] == "<script>alert(1)</script> & <b>"
    finally:
        ex.close()


def test_log_errors_are_one_sentence_in_the_tab(failing_with_logs: dnb.Job) -> None:
    denied = AccessDeniedError(
        "Access denied: your AWS identity may not call GetLogEvents on queue q of farm f; "
        "use a profile that is a member of it.",
        operation="GetLogEvents",
    )
    ex = dnb.explore(counted(failing_with_logs, denied))
    tab = ex.log_tab
    try:
        ex.tabs.selected_index = LOG_TAB
        assert "Access denied" in tab.message.value and "GetLogEvents" in tab.message.value
        assert "\n" not in tab.message.value and "Traceback" not in tab.message.value
        assert tab.view.value == ""
        tab.search_button.click()  # nothing typed
        assert "Type what to look for" in tab.summary.value
        tab.query.value = "License"
        assert "Access denied" in tab.summary.value
        with pytest.raises(AccessDeniedError):
            tab.search("License")
        # The rest of the explorer is unaffected.
        ex.tabs.selected_index = 0
        assert rectangles(ex) == attempted(failing_with_logs.actions)
    finally:
        ex.close()

    # A regular expression Arrow cannot run is one sentence too.
    ex = dnb.explore(failing_with_logs)
    try:
        ex.log_tab.regex.value = True
        ex.log_tab.query.value = "License (checkout"
        assert "`pattern`" in ex.log_tab.summary.value and "License (checkout" in (
            html.unescape(ex.log_tab.summary.value)
        )
    finally:
        ex.close()


def test_log_tab_of_a_frame_says_it_needs_a_job(failing_with_logs: dnb.Job) -> None:
    ex = dnb.explore(failing_with_logs.actions)
    try:
        ex.tabs.selected_index = LOG_TAB
        assert "need a job" in ex.log_tab.message.value
        with pytest.raises(ValueError, match="need a job"):
            ex.log_tab.search("License")
    finally:
        ex.close()


def test_log_tab_keeps_a_search_across_a_refresh_of_the_same_job(
    failing_with_logs: dnb.Job, farm: LocalFarm
) -> None:
    tab = LogTab()
    try:
        first = counted(failing_with_logs)
        tab.set_job(first)
        found = tab.search("openjd_fail")
        assert len(found) and type(first).reads == 1
        # What a refresh gives: a new Job object for the same job, whose logs are read again.
        again = counted(failing_with_logs)
        tab.set_job(again)
        assert tab.logs is None and type(again).reads == 0
        assert len(tab.matches) == len(found) and len(tab.results.options) == len(found)
        index = tab.results.options[0][1]
        tab.results.value = index
        assert type(again).reads == 1
        assert tab.action.value == str(tab.matches.loc[index, "sessionActionId"])
        # Another job: its search starts afresh.
        tab.set_job(with_logs(farm, load(farm, "render")))
        assert tab.matches.empty and tab.results.options == () and tab.summary.value == ""
    finally:
        tab.close()
