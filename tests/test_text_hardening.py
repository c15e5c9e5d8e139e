"""Text the API may send that files cannot hold, and text that must not run as a formula.

* A lone surrogate (the JSON text ``"\\ud800"``, which ``json.loads`` and botocore pass through)
  reads as U+FFFD, with one warning per kind naming the items: in every frame, in ``load_job``,
  the report, ``save_figure`` and the command line.
* Control characters (NUL...) in names never reach an SVG or the report's HTML.
* CSV written by ``deadline-nb fetch`` and by the explorer cannot start a spreadsheet formula.
"""

from __future__ import annotations

import csv
import html.parser
import io
import json
import re
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import deadline_nb as dnb
from deadline_nb import frames
from deadline_nb.cli import main
from deadline_nb.errors import DataWarning, MalformedItemError
from deadline_nb.frames.files import write_csv
from deadline_nb.localfarm import LocalFarm

from .helpers import STEP, T0, action_id, env_action, task_run

LONE = chr(0xD800)  # what json.loads gives for "\ud800"
FFFD = "\N{REPLACEMENT CHARACTER}"
NUL = chr(0)
FORMULA = '=HYPERLINK("http://example.invalid","click")'
# The C0 controls but tab, newline and carriage return: none may be in a page or an SVG.
CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


@pytest.fixture(params=["compiled", "numpy"])
def reader(request: pytest.FixtureRequest) -> Iterator[str]:
    """Both readers of session actions: they must give the same frames and warnings."""
    with frames.use_reader(request.param):
        yield request.param


def data_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, DataWarning)]


def converted(function: Any, *args: Any, **kwargs: Any) -> tuple[Any, list[str]]:
    """Call ``function``; return what it returned and the DataWarnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = function(*args, **kwargs)
    return result, data_warnings(caught)


# ---------------------------------------------------------------------------------------------
# lone surrogates in frames


def test_lone_surrogate_in_progress_message_reads_as_fffd_with_one_warning(reader: str) -> None:
    actions = [
        task_run(0, progressMessage=f"frame 0{LONE}"),
        task_run(1, progressMessage="fine"),
        task_run(2, progressMessage=f"{LONE}frame 2"),
    ]
    df, caught = converted(dnb.session_action_frame, actions)
    assert df["progressMessage"].tolist() == [f"frame 0{FFFD}", "fine", f"{FFFD}frame 2"]
    assert len(caught) == 1
    assert "progressMessage" in caught[0] and "U+FFFD" in caught[0]
    assert action_id(0) in caught[0] and action_id(2) in caught[0]
    assert action_id(1) not in caught[0]


def test_lone_surrogate_in_parameter_value_and_name_loses_only_that_text(reader: str) -> None:
    actions = [
        task_run(0, parameters={"Frame": {"int": "0"}, "Out": {"path": f"/out/{LONE}.exr"}}),
        task_run(1, parameters={"Frame": {"int": "1"}, "Out": {"path": "/out/1.exr"}}),
        task_run(2, parameters={"Frame": {"int": "2"}, f"Cam{LONE}": {"string": "main"}}),
    ]
    df, caught = converted(dnb.session_action_frame, actions)
    assert df["param.Frame"].tolist() == [0, 1, 2]
    assert df["param.Out"].tolist()[:2] == [f"/out/{FFFD}.exr", "/out/1.exr"]
    assert df[f"param.Cam{FFFD}"].tolist()[2] == "main"
    assert len(caught) == 2  # one per kind: the value, the name
    assert all(action_id(1) not in message for message in caught)
    assert any("'Out'" in message and action_id(0) in message for message in caught)
    assert any(action_id(2) in message for message in caught)


def test_both_readers_give_the_same_frame_from_lone_surrogates() -> None:
    actions = [
        task_run(0, progressMessage=f"a{LONE}", parameters={"Shot": {"string": f"sh{LONE}"}}),
        task_run(1, status="FAILED", exit_code=-1073741819, progressMessage="b"),
        env_action(2),
    ]
    got = {}
    for name in frames.READERS:
        with frames.use_reader(name):
            got[name], caught = converted(dnb.session_action_frame, actions)
        assert len(caught) == 2, caught
    for name in frames.READERS:
        pd.testing.assert_frame_equal(got[name], got["numpy"])


def test_lone_surrogate_in_every_text_field_converts(reader: str) -> None:
    item = task_run(
        0,
        farmId=f"farm-{LONE}",
        status=f"SUCCEEDED{LONE}",
        sessionId=f"session-{'1' * 32}",
        workerUpdatedAt=f"2026-11-26T22:00:00{LONE}Z",
    )
    item["definition"]["taskRun"]["taskId"] = f"task-{LONE}"
    df, caught = converted(dnb.session_action_frame, [item])
    assert df["farmId"].tolist() == [f"farm-{FFFD}"]
    assert df["taskId"].tolist() == [f"task-{FFFD}"]
    assert pd.isna(df["status"][0]) and pd.isna(df["workerUpdatedAt"][0])
    assert len(caught) == len(set(caught)) >= 4


def test_lone_surrogate_in_an_action_id_is_a_malformed_item(reader: str) -> None:
    with pytest.raises(MalformedItemError, match="Item 1 cannot be read: field sessionActionId"):
        dnb.session_action_frame(
            [task_run(0), task_run(1, sessionActionId=f"{action_id(1)}{LONE}")]
        )


def test_companion_and_record_frames_read_lone_surrogates() -> None:
    actions = [task_run(0, parameters={"Out": {"path": f"/o/{LONE}"}, f"N{LONE}": {"int": "3"}})]
    params, caught = converted(dnb.parameter_frame, actions)
    assert sorted(params["value"]) == [f"/o/{FFFD}", "3"]
    assert sorted(params["name"]) == [f"N{FFFD}", "Out"]
    assert len(caught) == 2
    manifests, caught = converted(
        dnb.manifest_frame,
        [{"sessionActionId": action_id(0), "manifests": [{"outputManifestPath": f"m{LONE}"}]}],
    )
    assert manifests["outputManifestPath"].tolist() == [f"m{FFFD}"] and len(caught) == 1

    steps, caught = converted(
        dnb.step_frame,
        [{"stepId": STEP, "name": f"Render{LONE}", "createdBy": f"ivan{LONE}", "createdAt": T0}],
    )
    assert steps[["name", "createdBy"]].iloc[0].tolist() == [f"Render{FFFD}", f"ivan{FFFD}"]
    assert len(caught) == 2 and all(STEP in message for message in caught)

    task = {
        "taskId": f"task-{'d' * 32}-0",
        "latestSessionActionId": f"{action_id(0)}{LONE}",
        "createdAt": T0,
        "runStatus": "SUCCEEDED",
        "parameters": {"Shot": {"string": f"sh{LONE}"}},
    }
    tasks, caught = converted(dnb.task_frame, [task], step_id=STEP)
    assert tasks[["latestSessionActionId", "param.Shot"]].iloc[0].tolist() == [
        f"{action_id(0)}{FFFD}",
        f"sh{FFFD}",
    ]
    assert len(caught) == 2

    session = {
        "sessionId": f"session-{'1' * 32}",
        "fleetId": "fleet-" + "f" * 32,
        "workerId": "worker-" + "9" * 32,
        "startedAt": T0,
        "lifecycleStatus": "ENDED",
        "hostProperties": {"hostName": f"render{LONE}"},
    }
    sessions, caught = converted(dnb.session_frame, [session])
    assert sessions["hostName"].tolist() == [f"render{FFFD}"] and len(caught) == 1


def test_read_json_of_surrogate_escapes_gives_a_frame(tmp_path: Path, reader: str) -> None:
    item = {
        "sessionActionId": action_id(0),
        "status": "FAILED",
        "startedAt": "2026-11-26T22:00:00Z",
        "progressMessage": "bad \\ud800 byte",
        "definition": {"taskRun": {"stepId": STEP, "parameters": {"F": {"string": "\\udfff"}}}},
    }
    path = tmp_path / "actions.json"
    # json.dumps would escape the backslashes: write the escapes themselves.
    path.write_text(json.dumps({"sessionActions": [item]}).replace("\\\\u", "\\u"))
    df, caught = converted(dnb.session_action_frame, dnb.read_json(path))
    assert df["progressMessage"][0] == f"bad {FFFD} byte" and df["param.F"][0] == FFFD
    assert len(caught) == 2
    df.to_parquet(tmp_path / "actions.parquet")  # what could not be encoded before


# ---------------------------------------------------------------------------------------------
# a job served with such text, end to end: load_job, the report, the command line


@pytest.fixture
def odd_farm() -> Iterator[LocalFarm]:
    """A farm whose failing job has a lone surrogate, NULs and a formula in its texts."""
    with LocalFarm(seed=0) as farm:
        view = farm.model.view(farm.job_by_name("failing").job_id)
        view.job["name"] = f"sq030{NUL}crowd{LONE}\x1b[31m"
        view.job["createdBy"] = f"ivan{LONE}"
        view.job["parameters"] = {"Shot": {"string": f"sh{LONE}{NUL}"}}
        for step in view.steps:
            step["name"] = f"{step['name']}{NUL}{LONE}"
        failed = [a for a in view.actions if a["status"] == "FAILED"]
        failed[0]["progressMessage"] = FORMULA
        failed[1]["progressMessage"] = f"crashed{NUL}{LONE}\x85"
        failed[2]["progressMessage"] = "@SUM(1+1)"
        yield farm


def odd_job(farm: LocalFarm) -> tuple[dnb.Job, list[str]]:
    spec = farm.job_by_name("failing")
    return converted(
        dnb.load_job,
        farm.farm_id,
        spec.queue_id,
        spec.job_id,
        client=farm.client(),
        cache=False,
        progress=False,
    )


def test_load_job_reads_a_job_with_lone_surrogates(odd_farm: LocalFarm) -> None:
    job, caught = odd_job(odd_farm)
    assert any(m.startswith(FORMULA) for m in job.actions["progressMessage"].dropna())
    assert (job.actions["progressMessage"] == f"crashed{NUL}{FFFD}\x85").sum() == 1
    assert all(name.endswith(f"{NUL}{FFFD}") for name in job.steps["name"])
    assert len(caught) == len(set(caught))  # one warning per kind


def test_report_of_a_job_with_odd_text_is_clean_html_and_svg(
    odd_farm: LocalFarm, tmp_path: Path
) -> None:
    job, _ = odd_job(odd_farm)
    page, caught = converted(dnb.write_report, job, tmp_path)
    # The job's own texts (not from a frame) are cleaned once, in one warning naming the job.
    assert len([m for m in caught if job.job_id in m]) == 1
    text = page.read_text(encoding="utf-8")
    assert not CONTROLS.search(text)
    assert not re.search("[\x7f-\x9f]", text)
    assert f"sq030{FFFD}crowd{FFFD}" in text and f"ivan{FFFD}" in text
    parser = html.parser.HTMLParser()
    parser.feed(text)
    parser.close()
    svgs = sorted((tmp_path / "report_files").glob("*.svg"))
    assert svgs
    for svg in svgs:
        ET.parse(svg)  # raises on a NUL, which XML cannot hold


def test_save_figure_with_a_lone_surrogate_and_nul_in_its_title(tmp_path: Path) -> None:
    df = dnb.session_action_frame([task_run(0), task_run(1, status="FAILED", exit_code=1)])
    df["stepName"] = pd.Categorical([f"Render{NUL}", f"Render{NUL}"])
    for suffix in (".png", ".svg", ".pdf"):
        ax = dnb.plot_status(df)
        title = f"sq030{LONE}{NUL}"
        path, caught = converted(
            dnb.save_figure, ax, tmp_path / f"status{suffix}", title=title, metadata={"Note": NUL}
        )
        assert path.stat().st_size > 0
        assert len(caught) == 1 and "title" in caught[0]
    root = ET.parse(tmp_path / "status.svg").getroot()
    assert f"sq030{FFFD}{FFFD}" in ET.tostring(root, encoding="unicode")


def test_cli_fetch_and_report_of_a_job_with_lone_surrogates(
    odd_farm: LocalFarm, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = odd_farm.job_by_name("failing")
    common = ["--farm-id", odd_farm.farm_id, "--queue-id", spec.queue_id, "--job-id", spec.job_id]
    common += ["--endpoint-url", odd_farm.endpoint_url, "--no-cache", "--quiet"]
    for out in ("actions.parquet", "actions.csv"):
        with pytest.warns(DataWarning):
            assert main(["fetch", *common, "--out", str(tmp_path / out)]) == 0
    with pytest.warns(DataWarning):
        assert main(["report", *common, "--out", str(tmp_path / "report")]) == 0
    printed = capsys.readouterr().out
    assert f"sq030{FFFD}crowd{FFFD}" in printed
    assert "Traceback" not in printed


# ---------------------------------------------------------------------------------------------
# CSV cannot start a formula


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_write_csv_neutralises_formulas_in_text_columns_only(tmp_path: Path) -> None:
    df = dnb.session_action_frame(
        [
            task_run(0, status="FAILED", exit_code=-1073741819, progressMessage=FORMULA),
            task_run(1, status="FAILED", exit_code=-1, progressMessage="+1"),
            task_run(2, progressMessage="-2", parameters={"Opt": {"string": "@x"}}),
            task_run(3, progressMessage="\tTAB"),
            task_run(4, progressMessage="\rCR"),
            task_run(5, progressMessage="fine = ok"),
        ]
    )
    path = write_csv(df, tmp_path / "a.csv")
    rows = csv_rows(path)
    assert [r["progressMessage"] for r in rows] == [
        f"'{FORMULA}",
        "'+1",
        "'-2",
        "'\tTAB",
        "'\rCR",
        "fine = ok",
    ]
    assert rows[2]["param.Opt"] == "'@x"
    assert [r["processExitCode"] for r in rows][:2] == ["-1073741819", "-1"]
    assert df["progressMessage"][0] == FORMULA  # the frame itself is not changed


def test_cli_fetch_csv_neutralises_formulas_and_parquet_keeps_them(
    odd_farm: LocalFarm, tmp_path: Path
) -> None:
    spec = odd_farm.job_by_name("failing")
    common = ["--farm-id", odd_farm.farm_id, "--queue-id", spec.queue_id, "--job-id", spec.job_id]
    common += ["--endpoint-url", odd_farm.endpoint_url, "--no-cache", "--quiet"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        assert main(["fetch", *common, "--out", str(tmp_path / "a.csv")]) == 0
        assert main(["fetch", *common, "--out", str(tmp_path / "a.parquet")]) == 0
        assert main(["fetch", *common, "--out", str(tmp_path / "a.jsonl")]) == 0
    messages = [r["progressMessage"] for r in csv_rows(tmp_path / "a.csv")]
    assert f"'{FORMULA}" in messages and "'@SUM(1+1)" in messages
    assert not [m for m in messages if m[:1] in ("=", "+", "-", "@", "\t", "\r")]
    codes = [
        int(r["processExitCode"]) for r in csv_rows(tmp_path / "a.csv") if r["processExitCode"]
    ]
    assert min(codes) < 0  # exit codes stay numbers
    parquet = dnb.read_parquet(tmp_path / "a.parquet")
    assert FORMULA in set(parquet["progressMessage"].dropna())
    raw = dnb.read_json(tmp_path / "a.jsonl")
    assert FORMULA in {a.get("progressMessage") for a in raw}


def test_explorer_export_neutralises_formulas_in_its_csv(tmp_path: Path) -> None:
    df = dnb.session_action_frame(
        [
            task_run(0, status="FAILED", exit_code=-1073741819, progressMessage=FORMULA),
            task_run(1, progressMessage="ok"),
        ]
    )
    explorer = dnb.explore(df)
    try:
        written = explorer.export(tmp_path)
    finally:
        explorer.close()
    table = next(p for p in written if p.suffix == ".csv")
    rows = csv_rows(table)
    assert rows[0]["progressMessage"] == f"'{FORMULA}" and rows[1]["progressMessage"] == "ok"
    assert rows[0]["processExitCode"] == "-1073741819"
    parquet = next(p for p in written if p.suffix == ".parquet")
    assert dnb.read_parquet(parquet)["progressMessage"][0] == FORMULA


def test_text_helpers() -> None:
    from deadline_nb.text import clean_text, printable_text

    assert clean_text("ok") == ("ok", False)
    assert clean_text(f"a{LONE}b") == (f"a{FFFD}b", True)
    assert clean_text("\ud83d\ude00") == ("\U0001f600", True)  # a pair is joined
    assert printable_text(f"a{NUL}\x07\x7f\x85\t\n\rb") == f"a{FFFD * 4}\t\n\rb"
    assert io.StringIO(printable_text(LONE)).read() == FFFD
