"""The local farm's jobs, read through boto3, convert to frames without a single warning."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

import deadline_nb as dnb
from deadline_nb.localfarm import JOBS, LocalFarm

# `farm` is the session's shared local farm (tests/conftest.py).


@pytest.mark.parametrize("role", sorted(JOBS))
def test_every_job_converts_silently_with_one_row_per_action(farm: LocalFarm, role: str) -> None:
    job = farm.job_by_name(JOBS[role])
    client = farm.client()
    paginator = client.get_paginator("list_session_actions")
    ids = [
        a["sessionActionId"]
        for page in paginator.paginate(farmId=farm.farm_id, queueId=job.queue_id, jobId=job.job_id)
        for a in page["sessionActions"]
    ]
    items = []
    for start in range(0, len(ids), 100):
        response = client.batch_get_session_action(
            identifiers=[
                {
                    "farmId": farm.farm_id,
                    "queueId": job.queue_id,
                    "jobId": job.job_id,
                    "sessionActionId": i,
                }
                for i in ids[start : start + 100]
            ]
        )
        assert response["errors"] == []
        items.extend(response["sessionActions"])
    sessions = [
        s
        for page in client.get_paginator("list_sessions").paginate(
            farmId=farm.farm_id, queueId=job.queue_id, jobId=job.job_id
        )
        for s in page["sessions"]
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = dnb.session_action_frame(items)
        session_frame = dnb.session_frame(sessions, job_id=job.job_id)
    assert len(frame) == len(ids)
    if role != "running":  # the running job gains actions while the test reads it
        truth = farm.model.session_actions(job.job_id)
        assert set(frame["sessionActionId"]) == {a["sessionActionId"] for a in truth}
        assert len(frame) == len(truth)
    assert frame["jobId"].unique().tolist() == [job.job_id]
    assert set(frame["sessionId"]) <= set(session_frame["sessionId"])
    attempted = frame[frame["status"] != "NEVER_ATTEMPTED"]
    assert attempted["startedAt"].notna().all()
    assert (frame["duration"].dropna() >= pd.Timedelta(0)).all()
    if role == "render":
        assert frame["param.Frame"].dtype == pd.Int64Dtype()
        assert frame["param.Frame"].dropna().between(1, 240).all()
    if role == "failing":
        assert {1, 137, -1073741819} <= set(frame["processExitCode"].dropna())
    if role == "simulation":
        assert (
            frame.filter(like="param.")
            .apply(lambda c: c.astype(str).str.contains("-"))
            .any(axis=None)
        )
