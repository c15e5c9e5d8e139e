"""The official ``deadline`` CLI reads the local farm as if it were AWS."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from deadline_nb.localfarm import JOBS, LocalFarm


def deadline_env(farm: LocalFarm, home: Path) -> dict[str, str]:
    """Environment for the CLI: the farm's endpoint, dummy credentials, no user configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DEADLINE_"))}
    env.update(farm.environment())
    env.update(
        AWS_ACCESS_KEY_ID="localfarm",
        AWS_SECRET_ACCESS_KEY="localfarm",
        AWS_DEFAULT_REGION="us-west-2",
        AWS_CONFIG_FILE=str(home / "aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        HOME=str(home),
        DEADLINE_CONFIG_FILE_PATH=str(home / "deadline-config"),
    )
    return env


@pytest.mark.parametrize("role", ["render", "failing"])
def test_deadline_job_trace_schedule(farm: LocalFarm, tmp_path: Path, role: str) -> None:
    spec = farm.job_by_name(JOBS[role])
    executable = Path(sys.executable).with_name("deadline")
    assert executable.exists(), "the deadline CLI (a dev dependency) is not installed"
    farm.reset_calls()
    result = subprocess.run(
        [
            str(executable),
            "job",
            "trace-schedule",
            "--farm-id",
            farm.farm_id,
            "--queue-id",
            spec.queue_id,
            "--job-id",
            spec.job_id,
        ],
        env=deadline_env(farm, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    view = farm.model.view(spec.job_id)
    summary = dict(re.findall(r"^([A-Za-z -]+ Count): (\d+)$", result.stdout, re.MULTILINE))
    assert int(summary["Session Action Count"]) == len(view.actions)
    assert int(summary["Session Count"]) == len(view.sessions)
    task_runs = sum("taskRun" in a["definition"] for a in view.actions)
    assert int(summary["Task Run Count"]) == task_runs
    # It read the farm the way it reads AWS: one ListSessionActions per session, batch gets.
    assert farm.calls["ListSessionActions"] == len(view.sessions)
    assert farm.calls["GetJob"] == 1 and farm.calls["BatchGetTask"] >= 1
