"""Helpers for the browser test: a JupyterLab server that leaves nothing behind, and Chromium.

The server runs on 127.0.0.1 without a token, with its runtime, config, settings and workspace
directories (and IPython's) under one temporary root, so the user's own JupyterLab is neither
used nor changed. Every process it starts (the server, and the kernels it launches in sessions of
their own) names that root on its command line: :func:`processes_under` finds them by it, so
that the test can stop every one and check that none is left.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

#: Debian's chromium package; .ci/run installs it when missing.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",  # the tests run as root in CI
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--no-first-run",
]
_START_TIMEOUT = 180.0  # seconds for the server to answer (a loaded CI machine is slow)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def processes_under(root: Path) -> list[int]:
    """Pids of the processes whose command line mentions ``root`` (ours, and only ours)."""
    needle = str(root).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if needle in cmdline:
            found.append(int(entry.name))
    return found


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    alive = pids
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [p for p in alive if Path(f"/proc/{p}").exists() and not _zombie(p)]
    return alive


def _zombie(pid: int) -> bool:
    try:
        return " Z " in Path(f"/proc/{pid}/stat").read_text().split(")", 1)[1][:4]
    except OSError:
        return True


def _write_settings(settings: Path) -> None:
    # No news or update checks: the test has no network, and no toast should cover the page.
    notification = (
        settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    )
    notification.parent.mkdir(parents=True, exist_ok=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))


def _api(url: str, method: str = "GET") -> object:
    request = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(request, timeout=5) as response:
        body = response.read()
    return json.loads(body) if body else None


@contextlib.contextmanager
def jupyter_lab(root: Path) -> Iterator[str]:
    """Run JupyterLab serving ``root``; yield its URL; stop it and its kernels afterwards.

    Raises
    ------
    RuntimeError
        When the server does not answer; the message carries the end of its log.
    AssertionError
        After stopping, when a process started here is still running (it is killed first).
    """
    for name in ("runtime", "config", "settings", "workspaces", "ipython"):
        (root / name).mkdir(parents=True, exist_ok=True)
    _write_settings(root / "settings")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
        "JUPYTER_CONFIG_DIR": str(root / "config"),
        "IPYTHONDIR": str(root / "ipython"),
        "DEADLINE_NB_CACHE": str(root / "cache.sqlite3"),
        "PYTHONUNBUFFERED": "1",
    }
    # The kernel should draw as a user's does (inline), not with the test run's Agg.
    env.pop("MPLBACKEND", None)
    log_path = root / "jupyterlab.log"
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--allow-root",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        "--IdentityProvider.token=",
        "--ServerApp.password=",
        "--ServerApp.disable_check_xsrf=True",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={root / 'settings'}",
        f"--LabApp.workspaces_dir={root / 'workspaces'}",
        # window.jupyterapp: the test runs JupyterLab's own commands (run all, save).
        "--LabApp.expose_app_in_browser=True",
    ]
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        _wait_for_server(server, url, log_path)
        yield url
    finally:
        _stop(server, url, root)


def _wait_for_server(server: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            break
        try:
            _api(f"{url}/api/status")
            return
        except (urllib.error.URLError, OSError, ValueError):
            time.sleep(0.25)
    tail = log_path.read_text(errors="replace")[-3000:]
    raise RuntimeError(f"JupyterLab did not start on {url}; its log ends with:\n{tail}")


def _stop(server: subprocess.Popen[bytes], url: str, root: Path) -> None:
    # Kernels run in sessions of their own: ask the server to shut them down first.
    with contextlib.suppress(OSError, ValueError, urllib.error.URLError):
        kernels = _api(f"{url}/api/kernels")
        for kernel in kernels if isinstance(kernels, list) else []:
            with contextlib.suppress(OSError, urllib.error.URLError):
                _api(f"{url}/api/kernels/{kernel['id']}", method="DELETE")
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
    left = _wait_gone(processes_under(root), timeout=10)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert not left, f"processes still running after JupyterLab stopped: {left}"
