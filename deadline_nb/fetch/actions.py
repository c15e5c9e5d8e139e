"""A job's session actions, in full: as dicts, or as the job's session-action frame.

Both functions run the sync engine (:func:`.sync.sync_actions`) and read the rest from the
cache. :func:`action_frame` (shared with :mod:`.job`) keeps the job's frame in the cache
current, so that a rerun converts only the actions fetched since.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, Any

from ..aws import DEFAULT_WORKERS
from ..cache import Cache
from .common import CacheArg, CacheHandle, Ids, fewer_collections, resolve_client, resolve_ids
from .sync import Synced, sync_actions
from .watch import Watch

if TYPE_CHECKING:
    import boto3
    import pandas as pd
    from mypy_boto3_deadline import DeadlineCloudClient

__all__ = ["fetch_session_action_frame", "fetch_session_actions"]


def _action_key(action_id: str) -> tuple[str, int]:
    # "sessionaction-<32 hex>-<n>": group by session, then the integer n (never the string).
    head, _, index = action_id.rpartition("-")
    return head, int(index) if index.isdigit() else -1


def _ordered(actions: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(actions, key=lambda a: _action_key(a["sessionActionId"]))


def fetch_session_actions(
    farm_id: str | None = None,
    queue_id: str | None = None,
    job_id: str | None = None,
    *,
    session_id: str | None = None,
    cache: CacheArg = True,
    refresh: bool = False,
    progress: bool = True,
    max_workers: int = DEFAULT_WORKERS,
    timeout: float | None = None,
    client: DeadlineCloudClient | None = None,
    boto3_session: boto3.Session | None = None,
) -> list[dict[str, Any]]:
    """Return every session action of a job (or of one session), with all their fields.

    Parameters
    ----------
    farm_id, queue_id, job_id
        The job. Default: ``defaults.farm_id`` and so on from the ``deadline`` config.
    session_id
        Only this session's actions.
    cache
        True (default) for the cache at :func:`deadline_nb.cache.default_path`, a path for
        another file, a :class:`~deadline_nb.cache.Cache`, or False for none.
    refresh
        Fetch every action again, even those the cache says cannot have changed.
    progress
        Show a progress bar (``tqdm.auto``) when the fetch takes more than half a second,
        even while its first call still waits for an answer.
    max_workers
        Calls in flight at once.
    timeout
        Seconds the whole fetch may take, or None (default) for no limit: a big job can take
        many minutes, and the bar shows that it moves. A service that stops answering ends
        the fetch anyway, within about a minute, by the client's own timeouts
        (:func:`client`'s ``read_timeout``). The deadline is checked between calls: a call
        in flight may overrun it by up to those timeouts.
    client, boto3_session
        A ``deadline`` client, or a session to make one from (default: :func:`client`).

    Returns
    -------
    list of dict
        GetSessionAction fields (exit code, progress message, acquired limits, manifests...)
        plus ``farmId``, ``queueId``, ``jobId`` and ``sessionId``, ordered by session and
        then by the action's position in it. Timestamps are aware datetimes.

    Raises
    ------
    AccessDeniedError, CredentialsError, NoRegionError, NotFoundError, ServiceError
        One sentence each; ``error.partial`` holds what was fetched before the failure (and
        the cache keeps it: the rerun resumes). A service that does not answer, or a fetch
        past its ``timeout``, is a ``ServiceError`` naming the endpoint.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm import LocalFarm
    >>> with LocalFarm() as farm:
    ...     j = farm.job_by_name("failing")
    ...     actions = dnb.fetch_session_actions(
    ...         farm.farm_id, j.queue_id, j.job_id, client=farm.client(), cache=False)
    >>> len(actions) == len(farm.model.session_actions(j.job_id))
    True
    """
    c = resolve_client(client, boto3_session)
    ids = resolve_ids(farm_id, queue_id, job_id)
    watch = Watch(ids, c.meta.endpoint_url, progress=progress, timeout=timeout)
    with fewer_collections(), CacheHandle(cache) as store:
        with watch:
            synced = sync_actions(
                c,
                ids,
                store,
                session_id=session_id,
                refresh=refresh,
                watch=watch,
                max_workers=max_workers,
            )
        if store is None:
            return _ordered(synced.fetched.values())
        if session_id is None and synced.fetched:
            # Keep the stored frame current while the fetched actions are in memory, so that
            # a later frame of this job (load_job, a rerun) need not decode them again.
            action_frame(ids, store, synced)
        stored = store.actions(*ids.key, session_id=session_id, exclude=synced.fetched)
        return _ordered([*stored, *synced.fetched.values()])


def fetch_session_action_frame(
    farm_id: str | None = None,
    queue_id: str | None = None,
    job_id: str | None = None,
    *,
    cache: CacheArg = True,
    refresh: bool = False,
    progress: bool = True,
    max_workers: int = DEFAULT_WORKERS,
    timeout: float | None = None,
    client: DeadlineCloudClient | None = None,
    boto3_session: boto3.Session | None = None,
) -> pd.DataFrame:
    """Return a job's session actions as a frame: :func:`fetch_session_actions`, then the frame.

    With the cache, the frame itself is kept too (as Parquet), so a rerun does not rebuild it
    from a million responses: only the actions fetched since are converted and merged.

    Parameters
    ----------
    farm_id, queue_id, job_id, cache, refresh, progress, max_workers, timeout
        As in :func:`fetch_session_actions`.
    client, boto3_session
        As in :func:`fetch_session_actions`.

    Returns
    -------
    pandas.DataFrame
        As :func:`deadline_nb.session_action_frame`, ordered by session and action index.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm import LocalFarm
    >>> with LocalFarm() as farm:
    ...     j = farm.job_by_name("failing")
    ...     df = dnb.fetch_session_action_frame(
    ...         farm.farm_id, j.queue_id, j.job_id, client=farm.client(), cache=False)
    >>> int((df["processExitCode"] == 137).sum()) > 0
    True
    """
    c = resolve_client(client, boto3_session)
    ids = resolve_ids(farm_id, queue_id, job_id)
    watch = Watch(ids, c.meta.endpoint_url, progress=progress, timeout=timeout)
    with fewer_collections(), CacheHandle(cache) as store:
        with watch:
            synced = sync_actions(
                c,
                ids,
                store,
                session_id=None,
                refresh=refresh,
                watch=watch,
                max_workers=max_workers,
                keep=False,  # a frame, not a million dicts
            )
        return action_frame(ids, store, synced)


def action_frame(ids: Ids, store: Cache | None, synced: Synced) -> pd.DataFrame:
    """The job's session-action frame: the stored frame, merged with what changed since.

    Shared with :mod:`.job`; ``synced`` is what :func:`.sync.sync_actions` just did.

    With a cache, the frame is what the cache's raw responses say at one instant (another
    notebook may have written newer responses while this fetch ran: those win, since they are
    what is stored), and it is stored only if nothing was written after that instant.
    """
    from ..frames import concat_frames, session_action_frame, sort_actions

    if store is None:
        return sort_actions(session_action_frame(list(synced.fetched.values()), **ids.frame_ids))
    basis = store.frame_basis(*ids.key, in_memory=synced.fetched, covered=synced.covered)
    if basis.frame is not None and not basis.changed and not basis.mine:
        return basis.frame
    parts = []
    newer = session_action_frame(basis.changed, **ids.frame_ids)
    if basis.mine:
        # This fetch's own frames (keep=False), for the actions whose stored row is still
        # exactly what it wrote: the last version of each, none that another writer replaced.
        ours = concat_frames(synced.frames) if len(synced.frames) > 1 else synced.frames[0]
        again = ours["sessionActionId"].duplicated(keep="last").to_numpy()
        if again.any():  # else no copy of a 100,000-row frame for nothing
            ours = ours[~again]
        if len(ours) != len(basis.mine):  # else every one of them is still the stored one
            ours = ours[_among(ours["sessionActionId"], basis.mine)]
        parts.append(ours)
    if basis.frame is not None:
        taken = _among(basis.frame["sessionActionId"], {*newer["sessionActionId"], *basis.mine})
        parts.append(basis.frame[~taken])
    if len(newer) or not parts:  # an empty one would only cost a stacking of the others
        parts.append(newer)
    frame = sort_actions(concat_frames(parts) if len(parts) > 1 else parts[0])
    store.put_frame(*ids.key, basis.seq, frame)
    return frame


def _among(ids: pd.Series, wanted: Collection[str]) -> Any:
    """A NumPy mask: which of ``ids`` are in ``wanted`` (Arrow's hash lookup, not pandas')."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    values = pa.Array.from_pandas(ids)
    mask = pc.is_in(values, value_set=pa.array(list(wanted), type=values.type))
    return np.asarray(mask.fill_null(False), dtype=bool)
