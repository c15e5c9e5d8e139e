"""The example notebook in a real browser: JupyterLab, Chromium headless, Playwright for Python.

The widgets' Python side is tested in test_widgets.py; this checks what only a browser shows:
that the notebook runs from JupyterLab's own "Run All", that the widgets render (the picker with
the local farm's farm and jobs, the explorer's plot), and that no output holds a traceback. A
screenshot of the page is saved under the test's temporary directory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from deadline_nb.localfarm import JOBS

from .browser_helpers import CHROMIUM, CHROMIUM_ARGS, jupyter_lab

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "01_explore_job.ipynb"
_MINUTE = 60_000  # Playwright counts in milliseconds

# The notebook panel JupyterLab shows, and its code cells (window.jupyterapp: see browser_helpers).
# Until JupyterLab has started, window.jupyterapp is undefined: a function that throws ends
# Playwright's wait at once, so the panel is "none yet" then.
_PANEL = "(window.jupyterapp && window.jupyterapp.shell.currentWidget)"
_KERNEL_IDLE = f"""() => {{
    const panel = {_PANEL};
    const kernel = panel && panel.sessionContext && panel.sessionContext.session
        && panel.sessionContext.session.kernel;
    return !!kernel && kernel.status === "idle";
}}"""
_ALL_RUN = f"""() => {{
    const panel = {_PANEL};
    if (!panel || !panel.content) return false;
    const code = panel.content.widgets.filter(cell => cell.model.type === "code");
    const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
    return code.length > 0 && code.every(cell => cell.model.executionCount !== null)
        && !!kernel && kernel.status === "idle";
}}"""
# Each dropdown of the widgets: its label, the selected option's text, and every option's text
# (ipywidgets writes the options' spaces as no-break spaces).
_DROPDOWNS = """() => Array.from(document.querySelectorAll(".jp-OutputArea .widget-dropdown")).map(
    d => {
        const text = node => node.textContent.replace(/\u00a0/g, " ").trim();
        const select = d.querySelector("select");
        const label = d.querySelector("label");
        return {
            label: label ? text(label) : "",
            selected: select && select.selectedIndex >= 0
                ? text(select.options[select.selectedIndex]) : null,
            options: select ? Array.from(select.options).map(text) : [],
        };
    })"""


def chromium_missing(path: str = CHROMIUM) -> str | None:
    """One line saying what to do when the browser is not there, or None when it is.

    `make test` installs Debian's chromium first (ci/chromium); run alone, pytest should say so
    in a sentence rather than with Playwright's traceback of a failed launch.
    """
    if Path(path).is_file() and os.access(path, os.X_OK):
        return None
    return (
        f"The browser test needs Debian's chromium at {path}: run `make test`, which installs "
        "it, or `sudo apt-get install chromium`."
    )


def test_a_missing_chromium_is_one_sentence(tmp_path: Path) -> None:
    message = chromium_missing(str(tmp_path / "chromium"))
    assert message is not None
    assert "\n" not in message and "make test" in message and str(tmp_path) in message
    (tmp_path / "chromium").write_text("#!/bin/sh\n")
    assert chromium_missing(str(tmp_path / "chromium")) is not None  # not executable yet
    (tmp_path / "chromium").chmod(0o755)
    assert chromium_missing(str(tmp_path / "chromium")) is None


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """JupyterLab serving a copy of the notebook; every process stopped afterwards."""
    missing = chromium_missing()
    if missing:
        pytest.fail(missing, pytrace=False)
    shutil.copy(NOTEBOOK, tmp_path / NOTEBOOK.name)
    with jupyter_lab(tmp_path) as url:
        yield url, tmp_path


def test_explore_notebook_in_jupyterlab(lab: tuple[str, Path]) -> None:
    from playwright.sync_api import sync_playwright

    url, root = lab
    screenshot = root / "jupyterlab.png"
    pages: list[Any] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            pages.append(page)
            page.goto(f"{url}/lab/tree/{NOTEBOOK.name}")
            page.wait_for_function(_KERNEL_IDLE, timeout=3 * _MINUTE)
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            page.wait_for_function(_ALL_RUN, timeout=5 * _MINUTE)
            # The explorer's first tab draws a PNG into an Output widget.
            plot = page.wait_for_selector(
                ".widget-output img[src^='data:image/png']", timeout=2 * _MINUTE
            )
            page.evaluate("window.jupyterapp.commands.execute('docmanager:save')")
            # The notebook scrolls inside the page: bring the explorer into view first.
            page.locator(".widget-dropdown").first.evaluate(
                "node => node.scrollIntoView({block: 'start'})"
            )
            page.screenshot(path=str(screenshot))
            assert plot is not None
            dropdowns: list[dict[str, Any]] = page.evaluate(_DROPDOWNS)
            outputs = page.locator(".jp-OutputArea-output").all_inner_texts()
            images = page.locator(".jp-OutputArea-output img").count()
        finally:
            if pages and not screenshot.exists():  # what the page showed when it failed
                with contextlib.suppress(Exception):
                    pages[0].screenshot(path=str(screenshot))
            browser.close()

    assert screenshot.stat().st_size > 0
    by_label = {d["label"]: d for d in dropdowns}
    assert by_label["Farm"]["selected"] == "Studio Farm"
    assert by_label["Queue"]["selected"] == "FX"
    jobs = by_label["Job"]
    assert jobs["selected"].startswith(JOBS["failing"] + " · FAILED")
    assert {o.split(" · ")[0] for o in jobs["options"][1:]} == {
        JOBS["simulation"],
        JOBS["failing"],
        JOBS["canceled"],
    }
    assert images >= 2  # the explorer's timeline, and the static one
    assert not [text for text in outputs if "Traceback" in text or "%tb" in text]

    # The saved notebook has every code cell's outputs, and none is an error.
    saved = nbformat.read(root / NOTEBOOK.name, as_version=4)
    code = [cell for cell in saved.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code)
    errors = [o for cell in code for o in cell.outputs if o.output_type == "error"]
    assert errors == []
