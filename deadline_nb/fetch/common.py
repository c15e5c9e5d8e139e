"""What the modules of :mod:`deadline_nb.fetch` share: ids, the client, the cache handle, paging.

Shared by :mod:`.resources` (the simple fetches and lists), :mod:`.sync` (the sync engine),
:mod:`.actions` (session actions) and :mod:`.job` (:func:`~deadline_nb.load_job`). The names
here are public within the package and not part of the library's API: users import from
:mod:`deadline_nb.fetch` (or :mod:`deadline_nb`).

Ids are taken one way everywhere: ``farm_id, queue_id, job_id`` in that order, each defaulting
to the ``deadline`` CLI's configured ``defaults.*`` setting
(:func:`deadline_nb.aws.config_defaults`) when left out; :func:`resolve_ids` fills them, and
says in one sentence which one is missing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, TypeAlias

from .. import schema
from ..aws import aws_errors, config_defaults
from ..aws import client as make_client
from ..cache import Cache
from ..errors import bad_argument

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_deadline import DeadlineCloudClient

#: What ``cache=`` takes: True (the default file), False (none), a file path, or a Cache.
CacheArg: TypeAlias = "bool | str | os.PathLike[str] | Cache"

# In the order the API nests them; each also names the `deadline config` setting.
ID_NAMES = ("farm_id", "queue_id", "job_id")


def resolve_client(
    client: DeadlineCloudClient | None, boto3_session: boto3.Session | None
) -> DeadlineCloudClient:
    """The client to use: the caller's, or one made from their session (or the default)."""
    if client is not None:
        if boto3_session is not None:
            raise bad_argument("boto3_session", "be None when `client` is given", boto3_session)
        return client
    return make_client(boto3_session)


@dataclasses.dataclass(frozen=True)
class Ids:
    """A job's ids; ``queue_id`` and ``job_id`` are empty for calls about a farm or a queue."""

    farm_id: str
    queue_id: str = ""
    job_id: str = ""

    def errors(self, operation: str) -> AbstractContextManager[None]:
        """:func:`deadline_nb.aws.aws_errors` for a call about these ids."""
        return aws_errors(operation, **self.fields)

    @property
    def fields(self) -> dict[str, str | None]:
        """The ids as keyword arguments (``farm_id=...``), None where not set."""
        return {
            "farm_id": self.farm_id or None,
            "queue_id": self.queue_id or None,
            "job_id": self.job_id or None,
        }

    @property
    def params(self) -> dict[str, str]:
        """The ids as API parameters (``farmId=...``), only those set."""
        named = {"farmId": self.farm_id, "queueId": self.queue_id, "jobId": self.job_id}
        return {k: v for k, v in named.items() if v}

    @property
    def frame_ids(self) -> dict[str, str]:
        """The ids as the keyword arguments of the frame functions."""
        return {"farm_id": self.farm_id, "queue_id": self.queue_id, "job_id": self.job_id}

    @property
    def key(self) -> tuple[str, str, str]:
        """The cache's key of a job."""
        return self.farm_id, self.queue_id, self.job_id


def resolve_ids(
    farm_id: str | None, queue_id: str | None = None, job_id: str | None = None, *, needs: int = 3
) -> Ids:
    """Fill the first ``needs`` ids the caller left out from the ``deadline`` config.

    ``needs`` is 1 for a farm, 2 for a queue, 3 for a job. Raises one sentence naming the
    first id that is neither given nor configured, and how to set it.
    """
    given = [farm_id, queue_id, job_id][:needs]
    if not all(given):
        defaults = config_defaults()
        given = [value or defaults[name] for name, value in zip(ID_NAMES, given, strict=False)]
    for name, value in zip(ID_NAMES, given, strict=False):
        if not value:
            raise ValueError(
                f"No {name} was given and the deadline config sets none: pass {name}=..., "
                f"or set one with `deadline config set defaults.{name} ...`."
            )
    return Ids(*(str(value) for value in given))


class CacheHandle:
    """Open the cache the caller asked for; close it afterwards only if we opened it."""

    def __init__(self, cache: CacheArg) -> None:
        if cache is False:
            self.cache: Cache | None = None
            self._own = False
        elif isinstance(cache, Cache):
            self.cache = cache
            self._own = False
        else:
            self.cache = Cache(None if cache is True else cache)
            self._own = True

    def __enter__(self) -> Cache | None:
        return self.cache

    def __exit__(self, *exc_info: object) -> None:
        if self._own and self.cache is not None:
            self.cache.close()


def clean(response: Mapping[str, Any]) -> dict[str, Any]:
    """A response without botocore's ``ResponseMetadata``."""
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def pages(
    call: Callable[..., Mapping[str, Any]], key: str, **params: Any
) -> Iterator[list[dict[str, Any]]]:
    """Yield each page's items of a List* operation, following nextToken."""
    token: str | None = None
    while True:
        page = call(**params, **({"nextToken": token} if token else {}))
        yield list(page.get(key, []))
        token = page.get("nextToken")
        if not token:
            return


def list_all(
    call: Callable[..., Mapping[str, Any]], key: str, operation: str, ids: Ids, **params: Any
) -> list[dict[str, Any]]:
    """Every item of a List* operation about ``ids``, AWS errors in one sentence."""
    out: list[dict[str, Any]] = []
    with ids.errors(operation):
        for page in pages(call, key, **ids.params, **params):
            out.extend(page)
    return out


def job_token(job: Mapping[str, Any]) -> str:
    """What must stay the same for a finished job's (or step's) stored listing to stay complete."""
    counts = job.get("taskRunStatusCounts") or {}
    updated = job.get("updatedAt")
    return json.dumps(
        [
            str(updated) if updated is not None else None,
            job.get("taskRunStatus"),
            job.get("targetTaskRunStatus"),
            sorted((str(k), int(v)) for k, v in counts.items()),
        ]
    )


def is_finished(job: Mapping[str, Any]) -> bool:
    """Whether no task of the job (or step) will run again unless someone requeues it."""
    counts = job.get("taskRunStatusCounts")
    if not isinstance(counts, Mapping) or job.get("lifecycleStatus") in (
        "CREATE_IN_PROGRESS",
        "UPLOAD_IN_PROGRESS",
        "UPDATE_IN_PROGRESS",
    ):
        return False
    return all(status in schema.FINISHED_TASK_RUN_STATUSES for status, n in counts.items() if n)


_bodies = threading.local()


def _keep_body(response_dict: Mapping[str, Any], **_: Any) -> None:
    _bodies.last = response_dict.get("body")


def capture_bodies(c: Any) -> None:
    """Keep each response's raw JSON body, for :func:`last_body`, on this client.

    The cache stores a batch's body as the service sent it (compressed): encoding the parsed
    answer back to JSON would cost about as much as parsing it did. botocore's ``before-parse``
    event hands the handler the body in the thread that made the call. Registering twice is a
    no-op.
    """
    c.meta.events.register("before-parse.deadline", _keep_body, unique_id="deadline-nb-bodies")


def last_body() -> bytes | None:
    """The raw body of the latest response this thread received, once; None if not kept."""
    body = getattr(_bodies, "last", None)
    _bodies.last = None
    return body if isinstance(body, bytes) else None


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the cyclic garbage collector less often while a big fetch builds its objects.

    A fetch keeps millions of objects alive as it goes (pages, dicts, frames): the collector's
    default thresholds then rescan all of them again and again (about six seconds of a
    100,000-action load). Nothing a fetch makes depends on cycles being collected soon. The
    thresholds are the process's: they are put back as they were when the fetch ends.
    """
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], 50_000), *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)
