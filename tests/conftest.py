"""Shared fixtures: a local farm, and boto3 clients whose every response is checked.

The ``client`` fixture checks each response against botocore's model for its operation
(:func:`deadline_nb.localfarm.shapes.check_responses`, in the spirit of botocore's Stubber): a test
that calls the farm cannot pass with a response the real service could not send.
"""

from __future__ import annotations

import collections
import contextlib
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from deadline_nb.localfarm import LocalFarm

# deadline_nb.localfarm (and botocore's model) is imported inside the fixtures: the pure modules'
# tests share this file and run without them (`make test-lowest`).


# Every operation any boto3 client sent during the run (in this process), by name: the library
# is read-only toward AWS, so the run fails if one is not a Get, List, BatchGet, Search, or (for
# CloudWatch Logs) Describe or Filter, with exactly one exception below.
_OPERATIONS: collections.Counter[str] = collections.Counter()
_READ = ("Get", "List", "BatchGet", "Search", "Describe", "Filter")
# The one operation allowed besides the reads: the usage statistics must be started before they
# can be read (GetSessionsStatisticsAggregation). It creates no resource and nothing anyone pays
# for, only a computation whose results expire within an hour (botocore's model marks it
# readonly too).
_ALLOWED = frozenset({"StartSessionsStatisticsAggregation"})


def _is_read(operation: str) -> bool:
    return operation.startswith(_READ) or operation in _ALLOWED


def pytest_sessionstart(session: pytest.Session) -> None:
    # No test reads or writes the user's own cache (~/.cache/deadline_nb): a fetch that
    # leaves `cache` at its default uses a file of this run, in its own folder.
    if "DEADLINE_NB_CACHE" not in os.environ:
        folder = tempfile.mkdtemp(prefix="deadline-nb-tests-")
        os.environ["DEADLINE_NB_CACHE"] = os.path.join(folder, "cache.sqlite3")
        session.config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
    try:
        import botocore.client
    except ImportError:  # the pure modules' run (`make test-lowest`) has no clients to watch
        return
    base: Any = botocore.client.BaseClient
    original = base._make_api_call

    def recording(self: Any, operation_name: str, api_params: Any) -> Any:
        _OPERATIONS[operation_name] += 1
        return original(self, operation_name, api_params)

    base._make_api_call = recording


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: Any) -> None:
    if not _OPERATIONS:
        return
    writes = sorted(op for op in _OPERATIONS if not _is_read(op))
    total = sum(_OPERATIONS.values())
    if writes:
        terminalreporter.write_line(
            f"FAILED read-only check: operations other than reads were sent: {writes}", red=True
        )
    else:
        terminalreporter.write_line(
            f"read-only check: {total} API calls in {len(_OPERATIONS)} operations, all reads "
            "(and the usage statistics' start)"
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if any(not _is_read(op) for op in _OPERATIONS):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


SHARED_SPEEDUP = 20.0
_SHARED: list[str] = []  # thread-name prefixes of the farms kept across tests, while they run


@contextlib.contextmanager
def kept_farm(**knobs: Any) -> Iterator[LocalFarm]:
    """A farm (seed 0) kept across tests: its threads are not counted as left running.

    ``knobs`` are more of :class:`LocalFarm`'s arguments (``queue_jobs=20_000``; a ``clock``
    rather than the shared farms' speed-up).
    """
    from deadline_nb.localfarm import LocalFarm

    if "clock" not in knobs:  # a clock of the test's own says how time goes
        knobs["speedup"] = SHARED_SPEEDUP
    with LocalFarm(seed=0, **knobs) as running:
        prefix = f"localfarm-{running.endpoint_url.rsplit(':', 1)[1]}"
        _SHARED.append(prefix)
        try:
            yield running
        finally:
            _SHARED.remove(prefix)


@pytest.fixture(scope="session")
def farm() -> Iterator[LocalFarm]:
    """One farm (seed 0) for the whole run: it is read-only, so tests cannot disturb each other.

    Its clock runs 20 times the wall clock: fast enough that the running job reports progress
    within a second. Its running job has about 14,000 s of farm time left at the start, 12
    minutes at 20x: tests that need it still running take their own farm (:func:`module_farm`),
    since a whole run on a busy machine can take longer than that.
    """
    with kept_farm() as running:
        yield running


@pytest.fixture(scope="module")
def module_farm() -> Iterator[LocalFarm]:
    """The same farm, started for one test module: its running job runs 12 minutes from then."""
    with kept_farm() as running:
        yield running


@pytest.fixture(autouse=True)
def _no_farm_left_running() -> Iterator[None]:
    """A test that starts a farm must stop it: no server or connection thread may outlive it."""
    yield

    def leftovers() -> list[str]:
        return [
            t.name
            for t in threading.enumerate()
            if t.name.startswith("localfarm-") and not any(t.name.startswith(p) for p in _SHARED)
        ]

    deadline = time.monotonic() + 2.0
    while leftovers() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert leftovers() == []


@pytest.fixture
def client(farm: LocalFarm) -> Any:
    """A boto3 client for the shared farm, without retries, checking every response."""
    from deadline_nb.localfarm.shapes import check_responses

    return check_responses(farm.client(retries={"total_max_attempts": 1}))


@pytest.fixture
def no_aws_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No credentials, no region, no deadline config, no instance metadata: a bare machine."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_DEADLINE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("DEADLINE_CONFIG_FILE_PATH", str(tmp_path / "deadline-config"))
    yield


@pytest.fixture
def deadline_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[[str, str, str], None]:
    """The deadline CLI's config in a temporary file; call the result to set its default ids."""
    from deadline.client.config import config_file

    monkeypatch.setenv("DEADLINE_CONFIG_FILE_PATH", str(tmp_path / "deadline-defaults"))

    def set_defaults(farm_id: str, queue_id: str, job_id: str) -> None:
        config_file.set_setting("defaults.farm_id", farm_id)
        config_file.set_setting("defaults.queue_id", queue_id)
        config_file.set_setting("defaults.job_id", job_id)

    return set_defaults
