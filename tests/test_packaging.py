"""The promises of pyproject.toml and the Makefile that CI relies on."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from packaging.version import Version

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def lower_bounds() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    bounds = {}
    for requirement in project["dependencies"]:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9.]+)", requirement.replace(" ", ""))
        assert match, f"dependency without a tested lower bound: {requirement}"
        bounds[match.group(1).lower()] = match.group(2)
    return bounds


def test_lowest_environment_pins_exactly_the_lower_bounds() -> None:
    pins = {}
    for line in (ROOT / "ci" / "lowest.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.lower()] = version
    bounds = lower_bounds()
    assert {"pandas", "numpy", "matplotlib"} <= set(pins)
    assert set(pins) <= set(bounds)
    for name, version in pins.items():
        assert Version(version) == Version(bounds[name]), name


def test_runtime_dependencies_are_the_ones_the_design_names() -> None:
    assert {
        "boto3",
        "pandas",
        "pyarrow",
        "matplotlib",
        "ipywidgets",
        "tqdm",
        "openjd-model",
    } <= set(lower_bounds())


def test_make_test_runs_the_lowest_bounds_too() -> None:
    makefile = (ROOT / "Makefile").read_text()
    # .ci/run is `make test` alone (test_demo checks it): the lowest-bounds run is part of it.
    assert re.search(r"^test: .*\btest-lowest\b", makefile, re.MULTILINE)
    for name in ("tests/test_frames.py", "tests/test_schema.py", "tests/test_frames_properties.py"):
        assert name in makefile and (ROOT / name).exists()


def test_package_ships_its_type_marker() -> None:
    assert (ROOT / "deadline_nb" / "py.typed").exists()


def test_the_package_version_is_pyproject_version() -> None:
    import deadline_nb
    from deadline_nb.version import __version__

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert __version__ == project["version"] == deadline_nb.__version__
