"""The queue history on S3 and its bad input: an S3-compatible server (moto's, in server mode) on
127.0.0.1, written through pyarrow's S3 filesystem over HTTP; destinations that cannot be
written; two syncs of one queue at once in two processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest

import deadline_nb as dnb
from deadline_nb import queue_history as history
from deadline_nb.errors import DestinationError
from deadline_nb.localfarm import LocalFarm
from deadline_nb.localfarm.clock import ManualClock
from tests.fetch_helpers import Recorder
from tests.helpers import HISTORY_KEYS

KEYS = HISTORY_KEYS
# Columns of the jobs table that say when it was synced (and what follows from it): they
# differ between two syncs of the same farm by design.
SYNC_TIMES = ["syncedAt", "duration"]


@pytest.fixture
def still_farm() -> Iterator[LocalFarm]:
    """The seed-0 farm on a clock that stands still: every sync of a test sees it as is."""
    with LocalFarm(seed=0, clock=ManualClock()) as running:
        yield running


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """An S3-compatible server on 127.0.0.1, stopped at the end of the module."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        assert host == "127.0.0.1"  # never real AWS
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(moto_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Fake credentials and the S3 endpoint override in this test's environment only; a
    boto3 S3 client to the same server, for listing what was written."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_url)
    return boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1")


def _bucket(moto_url: str, policy: dict[str, Any] | None = None) -> str:
    """A new bucket (and its policy), made over plain HTTP: the test suite's boto3 clients
    send reads only, and the server checks no signature."""
    name = f"history-{uuid.uuid4().hex[:12]}"
    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/{name}", method="PUT")).close()
    if policy is not None:
        request = urllib.request.Request(
            f"{moto_url}/{name}?policy",
            data=json.dumps(policy).encode(),
            # Not urllib's default form type, which the server would parse as a form.
            headers={"Content-Type": "application/json"},
            method="PUT",
        )
        urllib.request.urlopen(request).close()
    return name


def _objects(s3: Any, bucket: str) -> dict[str, tuple[str, Any]]:
    """Every visible Parquet object of a bucket -> (ETag, LastModified)."""
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            if item["Key"].endswith(".parquet") and not item["Key"].rsplit("/", 1)[-1].startswith(
                "."
            ):
                found[item["Key"]] = (item["ETag"], item["LastModified"])
    return found


def _sync(dest: str | Path, farm: LocalFarm, client: Any = None) -> history.SyncResult:
    return dnb.sync_history(
        dest, farm.farm_id, client=client or farm.client(), cache=False, progress=False
    )


def _same_tables(one: str | Path, other: str | Path) -> None:
    """Every table of two datasets holds the same rows, each once, with the same dtypes."""
    for table, key in KEYS.items():
        a = dnb.read_history(one, table)
        b = dnb.read_history(other, table)
        assert len(a) and not b[key].duplicated().any(), table
        if table == "jobs":
            a, b = a.drop(columns=SYNC_TIMES), b.drop(columns=SYNC_TIMES)
        pd.testing.assert_frame_equal(
            a.sort_values(key).reset_index(drop=True),
            b.sort_values(key).reset_index(drop=True),
            check_categorical=False,  # the same values; categories listed in another order
            obj=table,
        )
        for name in a.columns:
            assert str(a[name].dtype) == str(b[name].dtype), (table, name)


def test_s3_destination_reads_back_like_a_folder(
    still_farm: LocalFarm, s3: Any, moto_url: str, tmp_path: Path
) -> None:
    bucket = _bucket(moto_url)
    dest = f"s3://{bucket}/studio/history"
    fs, root = history.dataset_filesystem(dest)
    assert fs.type_name == "s3" and root == f"{bucket}/studio/history"
    first = _sync(dest, still_farm)
    assert first.dest == dest and first.written and not first.failed
    local = tmp_path / "local"
    _sync(local, still_farm)
    _same_tables(local, dest)
    # The layout: one object per job per table under the prefix, no temporary object left.
    stored = _objects(s3, bucket)
    assert len(stored) == len(first.written) * len(history.BASE_TABLES)
    for job_id in first.written:
        for table in history.BASE_TABLES:
            assert any(
                k.startswith(f"studio/history/{table}/farmId={still_farm.farm_id}/queueId=")
                and k.endswith(f"/{job_id}.parquet")
                for k in stored
            ), (table, job_id)
    keys = [
        item["Key"]
        for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])
        if ".deadline-nb-write-check" in item["Key"] or item["Key"].endswith(".tmp")
    ]
    assert not keys
    # A rerun with nothing new rewrites no object.
    again = _sync(dest, still_farm)
    assert sorted(again.unchanged) == sorted(first.written) and not again.written
    assert _objects(s3, bucket) == stored
    # Filters read one queue's objects only.
    queue = still_farm.job_by_name("failing").queue_id
    one_queue = dnb.read_history(dest, "actions", queue_id=queue)
    assert set(one_queue["queueId"]) == {queue}
    assert len(one_queue) == len(dnb.read_history(local, "actions", queue_id=queue))


def test_endpoint_argument_wins_over_the_environment(
    s3: Any, moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = _bucket(moto_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:1")
    fs, root = history.dataset_filesystem(f"s3://{bucket}", endpoint_url=moto_url)
    assert root == bucket
    history._check_writable(fs, root, f"s3://{bucket}")  # reaches the server: no error
    # Without the argument the service's own variable is used, and it is checked first.
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    with pytest.raises(DestinationError, match="the endpoint cannot be reached"):
        history._check_writable(*history.dataset_filesystem(f"s3://{bucket}"), bucket)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3")
    history._check_writable(*history.dataset_filesystem(f"s3://{bucket}"), bucket)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize("case", ["missing bucket", "denied by policy", "unreachable endpoint"])
def test_unwritable_s3_destination_fails_before_any_call(
    case: str,
    still_farm: LocalFarm,
    s3: Any,
    moto_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if case == "missing bucket":
        dest, reason = f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/history", "does not exist"
    elif case == "denied by policy":
        deny = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:PutObject",
                    "Resource": "arn:aws:s3:::*/*",
                }
            ],
        }
        dest, reason = f"s3://{_bucket(moto_url, deny)}/history", "access denied"
    else:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{_closed_port()}")
        dest, reason = f"s3://{_bucket(moto_url)}/history", "cannot be reached"
    client = still_farm.client()
    recorder = Recorder(client)
    with pytest.raises(DestinationError, match=f"{dest!r} cannot be written .*{reason}") as info:
        _sync(dest, still_farm, client)
    assert info.value.dest == dest and reason in info.value.reason
    assert recorder.total == 0  # not one Deadline call


def test_unwritable_folder_fails_before_any_call(still_farm: LocalFarm, tmp_path: Path) -> None:
    # A file where the dataset's folder should be (permission bits do not stop root, which the
    # tests may run as; a file in the way stops everyone).
    blocker = tmp_path / "history"
    blocker.write_text("not a folder")
    client = still_farm.client()
    recorder = Recorder(client)
    with pytest.raises(DestinationError, match="cannot be written") as info:
        _sync(blocker / "dataset", still_farm, client)
    assert info.value.dest == str(blocker / "dataset")
    assert recorder.total == 0
    assert blocker.read_text() == "not a folder"


def test_s3_destination_without_a_bucket_names_the_argument() -> None:
    with pytest.raises(ValueError, match="dest"):
        history.dataset_filesystem("s3:///prefix")


def _sync_in_process(dest: str, farm: LocalFarm) -> subprocess.Popen[str]:
    """``deadline-nb sync`` in another Python process, as two users would run it."""
    code = "import sys; from deadline_nb.cli import main; sys.exit(main(sys.argv[1:]))"
    argv = ["sync", "--farm-id", farm.farm_id, "--endpoint-url", farm.endpoint_url]
    argv += ["--no-cache", "--quiet", "--to", dest]
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(dnb.__file__).parents[1])
    return subprocess.Popen(
        [sys.executable, "-c", code, *argv],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("where", ["folder", "s3"])
def test_two_processes_syncing_one_farm_lose_and_repeat_nothing(
    where: str, still_farm: LocalFarm, s3: Any, moto_url: str, tmp_path: Path
) -> None:
    alone = tmp_path / "alone"
    _sync(alone, still_farm)
    both = str(tmp_path / "both") if where == "folder" else f"s3://{_bucket(moto_url)}/both"
    runs = [_sync_in_process(both, still_farm) for _ in range(2)]
    outputs = [run.communicate(timeout=300) for run in runs]
    for run, (out, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, err
        assert out.startswith("Synced "), out
    _same_tables(alone, both)
    if where == "folder":
        assert not [p for p in Path(both).rglob("*") if p.name.startswith(".")]


def test_all_missing_category_column_reads_back_as_a_category(
    still_farm: LocalFarm, tmp_path: Path
) -> None:
    _sync(tmp_path, still_farm)
    # Every stored actions file with `environmentId` all missing, as a queue whose jobs have
    # no environments writes it: Parquet keeps such a column as the null type.
    for path in (tmp_path / "actions").rglob("*.parquet"):
        frame = dnb.read_parquet(path)
        frame["environmentId"] = pd.Series([None] * len(frame), dtype="category")
        frame.to_parquet(path, index=False)
        assert dnb.read_parquet(path)["environmentId"].dtype == "category"
    actions = dnb.read_history(tmp_path, "actions")
    assert len(actions) and actions["environmentId"].isna().all()
    assert isinstance(actions["environmentId"].dtype, pd.CategoricalDtype)
    # ... and ordered categories (status) keep their order when all missing.
    (path, *_) = sorted((tmp_path / "actions").rglob("*.parquet"))
    frame = dnb.read_parquet(path)
    frame["status"] = pd.Series([None] * len(frame), dtype=frame["status"].dtype)
    frame.to_parquet(path, index=False)
    stored = dnb.read_history(tmp_path, "actions")
    assert stored["status"].dtype == dnb.schema.SESSION_ACTION_COLUMNS["status"]
    assert stored["status"].isna().sum() == len(frame)


def test_compaction_on_s3_reads_the_same(
    still_farm: LocalFarm, s3: Any, moto_url: str, tmp_path: Path
) -> None:
    bucket = _bucket(moto_url)
    dest = f"s3://{bucket}/studio/history"
    _sync(dest, still_farm)
    local = tmp_path / "local"
    _sync(local, still_farm)
    before = _objects(s3, bucket)
    result = dnb.compact_history(dest, progress=False)
    assert result.jobs > 0 and result.removed > 0 and not result.kept
    after = _objects(s3, bucket)
    assert len(after) == len(before) - result.removed + sum(1 for key in after if "/pack-" in key)
    assert any("/pack-" in key for key in after)
    _same_tables(dest, local)
    with dnb.history(dest) as h:
        total = h.sql("select count(*), count(distinct sessionActionId) from actions").fetchall()
    assert total == [(len(dnb.read_history(local, "actions")),) * 2]
    # A sync after compaction finds every job where it was.
    again = _sync(dest, still_farm)
    assert not again.written and not again.deleted
