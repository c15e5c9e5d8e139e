"""fetch_worker_metrics, Job.metrics and Job.resources against the local farm over HTTP."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import deadline_nb as dnb
from deadline_nb import schema
from deadline_nb.aws import logs_client
from deadline_nb.cache import Cache
from deadline_nb.errors import AccessDeniedError, DataWarning
from deadline_nb.localfarm import JOBS, LocalFarm
from deadline_nb.localfarm.shapes import check_responses
from deadline_nb.localfarm.workerlog import quiet_workers

from .test_fetch_logs import answer

FAST = {"GetLogEvents": 200.0, "FilterLogEvents": 200.0}


class Calls:
    """Counts GetLogEvents calls and the groups they name."""

    def __init__(self, client: Any) -> None:
        self.groups: list[str] = []
        client.meta.events.register("provide-client-params.logs.GetLogEvents", self._call)

    def _call(self, params: dict[str, Any], **_: Any) -> None:
        self.groups.append(params["logGroupName"])


def ids_of(farm: LocalFarm, role: str) -> tuple[str, str, str]:
    spec = farm.job_by_name(JOBS[role])
    return farm.farm_id, spec.queue_id, spec.job_id


def fetch(farm: LocalFarm, role: str, lc: Any, **options: Any) -> pd.DataFrame:
    options.setdefault("progress", False)
    return dnb.fetch_worker_metrics(
        *ids_of(farm, role),
        client=dnb.client(endpoint_url=farm.endpoint_url),
        logs_client=lc,
        **options,
    )


def test_only_the_jobs_workers_over_the_jobs_time_are_read(farm: LocalFarm) -> None:
    lc = check_responses(logs_client(endpoint_url=farm.endpoint_url, quotas=FAST))
    calls = Calls(lc)
    df = fetch(farm, "failing", lc, cache=False)
    sessions = farm.model.view(ids_of(farm, "failing")[2]).sessions
    workers = {s["workerId"] for s in sessions}
    assert set(df["workerId"].astype(str)) == workers
    assert list(df.columns) == list(schema.METRIC_COLUMNS)
    first = min(float(s["startedAt"]) for s in sessions)
    last = max(float(s["endedAt"]) for s in sessions)
    seconds = df["timestamp"].astype("int64") / 1e9
    assert seconds.min() >= first - 121 and seconds.max() <= last + 121
    # One fleet's group; a call or two per worker, not months of lines.
    fleet = farm.model.job_fleet(ids_of(farm, "failing")[2])
    assert set(df["fleetId"].astype(str)) == {fleet}
    assert len(calls.groups) <= 2 * len(workers)
    # Sorted by worker, then time within each.
    assert df["workerId"].astype(str).is_monotonic_increasing
    assert (
        df.groupby("workerId", observed=True)["timestamp"]
        .apply(lambda t: t.is_monotonic_increasing)
        .all()
    )


def test_the_oom_kills_reach_the_hosts_memory_in_job_resources(farm: LocalFarm) -> None:
    job = dnb.load_job(
        *ids_of(farm, "failing"),
        client=dnb.client(endpoint_url=farm.endpoint_url),
        cache=False,
        progress=False,
    )
    assert job._metrics is None and job._resources is None  # load_job fetches none of it
    res = job.resources
    assert job._metrics is not None and job._resources is res and job.resources is res
    assert list(res.columns) == list(job.actions.columns) + list(schema.RESOURCE_COLUMNS)
    assert len(res) == len(job.actions)
    killed = res[res["processExitCode"] == 137]
    assert len(killed) > 0
    assert (killed["memPeakBytes"] >= 0.95 * killed["memTotalBytes"]).all()
    others = res[(res["actionType"] == "taskRun") & (res["status"] == "SUCCEEDED")]
    sampled = others[others["metricSamples"] > 0]
    assert len(sampled) and (sampled["memPeakPercent"] < 90).all()
    never = res["startedAt"].isna()
    assert res.loc[never, "metricSamples"].isna().all()


def test_the_cache_reads_an_ended_jobs_windows_once(farm: LocalFarm, tmp_path: Path) -> None:
    lc = check_responses(logs_client(endpoint_url=farm.endpoint_url, quotas=FAST))
    calls = Calls(lc)
    path = tmp_path / "cache.sqlite3"
    first = fetch(farm, "failing", lc, cache=path)
    made = len(calls.groups)
    again = fetch(farm, "failing", lc, cache=path)
    assert made > 0 and len(calls.groups) == made  # nothing read again
    pd.testing.assert_frame_equal(first, again)
    without = fetch(farm, "failing", lc, cache=False)
    pd.testing.assert_frame_equal(first, without)
    with Cache(path) as store:
        farm_id, _, job_id = ids_of(farm, "failing")
        fleet = str(first["fleetId"].iloc[0])
        states = store.log_streams(farm_id, fleet, job_id)
    assert states and all(s.complete for s in states.values())


def test_missing_stream_and_silent_worker_are_warned_and_the_rest_load(farm: LocalFarm) -> None:
    silent, missing = quiet_workers(farm.model)
    lc = check_responses(logs_client(endpoint_url=farm.endpoint_url, quotas=FAST))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = fetch(farm, "canceled", lc, cache=False)
    texts = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    assert any(str(missing) in t and "no worker log stream" in t for t in texts)
    assert any(str(silent) in t and "no host metrics" in t for t in texts)
    assert len(texts) == 2
    workers = set(df["workerId"].astype(str))
    assert silent not in workers and missing not in workers and len(workers) > 0


def test_no_metrics_at_all_gives_an_empty_frame_and_missing_resources(farm: LocalFarm) -> None:
    job = dnb.load_job(
        *ids_of(farm, "canceled"),
        client=dnb.client(endpoint_url=farm.endpoint_url),
        cache=False,
        progress=False,
    )
    silent, missing = quiet_workers(farm.model)
    with pytest.warns(DataWarning):
        res = job.resources
    quiet = res["workerId"].astype(str).isin([silent, missing])
    assert quiet.any() and res.loc[quiet, "metricSamples"].isna().all()
    assert res.loc[~quiet & res["startedAt"].notna(), "metricSamples"].notna().all()


def test_access_denied_on_the_worker_log_group_is_one_clear_sentence(farm: LocalFarm) -> None:
    lc = logs_client(endpoint_url=farm.endpoint_url, quotas=FAST)
    denied = {"__type": "AccessDeniedException", "message": "User: x is not authorized"}
    lc.meta.events.register("before-send.logs.GetLogEvents", lambda **_: answer(400, denied))
    with pytest.raises(AccessDeniedError) as caught:
        fetch(farm, "failing", lc, cache=False)
    text = str(caught.value)
    fleet = farm.model.job_fleet(ids_of(farm, "failing")[2])
    assert f"/aws/deadline/{farm.farm_id}/{fleet}" in text and "worker logs" in text
    assert "logs:GetLogEvents" in text and text.count(". ") == 0 and text.endswith(".")
    assert caught.value.code == "AccessDeniedException"
