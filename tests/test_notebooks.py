"""The example notebooks: committed clean, and run end to end with papermill and with nbclient.

Every ``notebooks/*.ipynb`` is executed against the local farm (a notebook whose ids are left
empty starts one in its kernel), in a temporary folder, with its own cache file, in the kernel
named ``python3``: the kernelspec of the environment running the tests (ipykernel installs it
into the venv's ``share/jupyter/kernels``, and jupyter_client runs its ``python`` as this
interpreter), which :func:`test_the_python3_kernel_is_this_interpreter` checks. Running them in
JupyterLab itself is covered by the browser test.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
KERNEL = "python3"
# A guard against a hung kernel, not a speed requirement (each notebook takes seconds).
CELL_TIMEOUT = 300
INLINE = "module://matplotlib_inline.backend_inline"


def notebook_id(path: Path) -> str:
    return path.stem


@pytest.fixture
def kernel_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """What the kernel inherits: its own cache file and the inline backend JupyterLab uses."""
    monkeypatch.setenv("DEADLINE_NB_CACHE", str(tmp_path / "cache.sqlite3"))
    monkeypatch.setenv("MPLBACKEND", INLINE)
    monkeypatch.delenv("DEADLINE_NB_FULL_TRACEBACKS", raising=False)
    work = tmp_path / "work"
    work.mkdir()
    return work


def code_cells(nb: Any) -> list[Any]:
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def assert_ran_cleanly(nb: Any) -> None:
    """Every code cell ran; no output is an error, a traceback or a warning."""
    for index, cell in enumerate(code_cells(nb)):
        where = f"code cell {index}: {cell.source[:60]!r}"
        assert cell.get("execution_count") is not None, f"{where} did not run"
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", (
                f"{where} raised {output.get('ename')}: {output.get('evalue')}"
            )
            texts = [output.get("text", "")]
            texts += [str(v) for v in output.get("data", {}).values() if isinstance(v, str)]
            for text in texts:
                assert "Traceback" not in text, f"{where} printed a traceback:\n{text}"
            if output.get("name") == "stderr":
                assert "Warning" not in output["text"], f"{where} warned:\n{output['text']}"


def test_the_notebooks_are_there() -> None:
    assert "02_failure_postmortem" in [p.stem for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=notebook_id)
def test_committed_without_outputs_and_with_parameters(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in code_cells(nb):
        assert cell.outputs == [], f"outputs committed in {cell.source[:60]!r}"
        assert cell.execution_count is None, f"execution count in {cell.source[:60]!r}"
    tagged = [c for c in code_cells(nb) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "one code cell tagged `parameters`"
    assert nb.metadata.kernelspec.name == KERNEL


@pytest.mark.usefixtures("kernel_env")
def test_the_python3_kernel_is_this_interpreter(tmp_path: Path) -> None:
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("import sys; print(sys.executable)")]
    )
    NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name=KERNEL).execute()
    printed = Path(nb.cells[0].outputs[0]["text"].strip())
    assert printed.resolve() == Path(sys.executable).resolve()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=notebook_id)
def test_runs_with_nbclient(path: Path, kernel_env: Path) -> None:
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name=KERNEL,
        resources={"metadata": {"path": str(kernel_env)}},
    ).execute()
    assert_ran_cleanly(nb)
    if path.stem == "02_failure_postmortem":
        assert (kernel_env / "postmortem" / "report.html").is_file()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=notebook_id)
def test_runs_with_papermill(path: Path, kernel_env: Path) -> None:
    import papermill as pm

    parameters: dict[str, Any] = {}
    if path.stem == "02_failure_postmortem":
        parameters = {"output_dir": "from-papermill"}
    nb = pm.execute_notebook(
        str(path),
        str(kernel_env / path.name),
        parameters=parameters,
        kernel_name=KERNEL,
        cwd=str(kernel_env),
        progress_bar=False,
        execution_timeout=CELL_TIMEOUT,
    )
    assert_ran_cleanly(nb)
    if path.stem == "02_failure_postmortem":
        report = kernel_env / "from-papermill" / "report.html"
        assert "sq030_crowd_v007_failing" in report.read_text(encoding="utf-8")


def test_postmortem_reads_a_job_by_its_ids(farm: Any, kernel_env: Path) -> None:
    """The path a real job takes: ids and an endpoint in the parameters (here the shared farm's)."""
    import papermill as pm

    spec = farm.job_by_name("canceled")
    path = ROOT / "notebooks" / "02_failure_postmortem.ipynb"
    nb = pm.execute_notebook(
        str(path),
        str(kernel_env / path.name),
        parameters={
            "farm_id": farm.farm_id,
            "queue_id": spec.queue_id,
            "job_id": spec.job_id,
            "endpoint_url": farm.endpoint_url,
            "output_dir": "canceled",
        },
        kernel_name=KERNEL,
        cwd=str(kernel_env),
        progress_bar=False,
        execution_timeout=CELL_TIMEOUT,
    )
    assert_ran_cleanly(nb)
    loaded = code_cells(nb)[2]  # after the parameters and the injected parameters
    assert spec.name in loaded.outputs[-1]["data"]["text/plain"]
    report = kernel_env / "canceled" / "report.html"
    assert spec.name in report.read_text(encoding="utf-8")
