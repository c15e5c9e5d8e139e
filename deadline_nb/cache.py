"""A local store of raw API responses, so that rerunning a notebook costs (almost) nothing.

One SQLite file holds every response the fetch layer received, keyed by farm, queue, job and id,
with what the next fetch needs to decide what it can skip:

* an action in a terminal status (:data:`deadline_nb.schema.TERMINAL_STATUSES`) never changes,
  so it is never fetched again;
* a session whose actions were all listed after it ended is not listed again;
* a job whose tasks are all finished and whose ``updatedAt`` has not moved is not listed at all
  (one ``GetJob`` call tells);
* each fetch that sees a running action's progress change adds a snapshot row, so that progress
  over time can be plotted (:meth:`Cache.snapshots`).

The file lives under the user's cache directory (``$XDG_CACHE_HOME/deadline_nb``,
``~/Library/Caches/deadline_nb`` or ``%LOCALAPPDATA%\\deadline_nb\\Cache``), or wherever
``DEADLINE_NB_CACHE`` says; it is created readable by its owner only (mode 0600): it holds
job names, paths and messages from the farm.

Durability: the file is in WAL mode and each batch of results is committed as it arrives, so a
fetch killed at any moment (even with SIGKILL) leaves a readable cache, and the rerun resumes
from what was stored. Two processes may use the same file at once: SQLite serialises writers,
and a writer waits (up to 60 s) for the other rather than failing.

A damaged file (not a database, damaged pages, an older format), found when opened or at first
use, is set aside as ``<name>.corrupt-<UTC time>`` (``<name>.older-<UTC time>`` for a file of an
older deadline_nb, whose format this one no longer reads) (with its -wal and -shm), one
:class:`~deadline_nb.errors.DataWarning` names both paths, and a fresh cache takes its place. An
existing file readable by others is made private (0600) when opened, or one warning says why not.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import json
import os
import queue
import sqlite3
import struct
import sys
import threading
import time
import warnings
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final, TypeVar

from . import schema
from .errors import DataWarning, DeadlineNbError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks between processes (see _FileLock)
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "Cache",
    "CacheFormatError",
    "FrameBasis",
    "LogColumns",
    "LogStream",
    "Writer",
    "default_path",
]

# Bumped when the tables change; a file of another version is set aside, not misread.
_VERSION: Final = 3
_TIMEOUT: Final = 60.0
# How long a Cache that found its file damaged waits for the others that have it open to let go
# of it before it sets it aside; past that it works in memory rather than pull the file from
# under them.
_ASIDE_WAIT: Final = 5.0
# SQLite's primary result codes for a damaged file: SQLITE_CORRUPT, SQLITE_NOTADB.
_DAMAGE_CODES: Final = frozenset({11, 26})
_DAMAGE_WORDS: Final = ("file is not a database", "malformed", "corrupt")
_SIDE_FILES: Final = ("", "-wal", "-shm")
# Actions remembered per job between a write and the frame built from it (see put_actions):
# with their dicts, or (``remember=False``) only their write numbers, which cost far less.
_MEMO_LIMIT: Final = 200_000
_MEMO_ID_LIMIT: Final = 5_000_000

_TABLES: Final = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- One row per job seen; the other tables refer to it by `key`, which keeps three 40-character
-- ids out of every row and every index.
CREATE TABLE IF NOT EXISTS jobs (
    key INTEGER PRIMARY KEY,
    farm_id TEXT NOT NULL,
    queue_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    UNIQUE (farm_id, queue_id, job_id)
);
-- Raw responses: session actions, sessions, steps, tasks, the job itself, one row each. `state`
-- is the part of an action that a listing summary also shows: when the summary's state equals
-- it, the action has not changed and is not fetched again (NULL for an ended action, which
-- never changes). `ord` keeps the API's order of what one call stored. The bodies are not in
-- the row: each write packs all its items into one compressed blob (see _pack_many), and the
-- row names the blob and the item's position in it. WITHOUT ROWID: the key is the table, so the
-- ids are stored once, not twice (table and index).
CREATE TABLE IF NOT EXISTS items (
    job INTEGER NOT NULL,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    parent TEXT,
    terminal INTEGER NOT NULL,
    state TEXT,
    seq INTEGER NOT NULL,
    ord INTEGER NOT NULL,
    blob INTEGER NOT NULL,
    pos INTEGER NOT NULL,
    PRIMARY KEY (job, kind, id)
) WITHOUT ROWID;
-- One write's items as one compressed JSON array. `live` counts the rows that still point
-- here; a blob whose items were all replaced by newer answers is deleted.
-- `format`: NULL for a JSON array of items; an operation's name for the raw bodies of its
-- responses, as the service sent them (see _pack_raw), and `extra` the fields (JSON) the fetch
-- added to each of their items (a task's stepId).
CREATE TABLE IF NOT EXISTS blobs (
    id INTEGER PRIMARY KEY,
    job INTEGER NOT NULL,
    live INTEGER NOT NULL,
    format TEXT,
    extra TEXT,
    body BLOB NOT NULL
);
-- What is known to be completely listed: a job ('' scope) at a given state, a session, a step.
CREATE TABLE IF NOT EXISTS listings (
    job INTEGER NOT NULL,
    scope TEXT NOT NULL,
    token TEXT NOT NULL,
    listed_at REAL NOT NULL,
    PRIMARY KEY (job, scope)
);
CREATE TABLE IF NOT EXISTS snapshots (
    job INTEGER NOT NULL,
    session_action_id TEXT NOT NULL,
    observed_at REAL NOT NULL,
    status TEXT,
    progress_percent REAL,
    progress_message TEXT,
    worker_updated_at TEXT
);
CREATE INDEX IF NOT EXISTS snapshots_action ON snapshots (job, session_action_id);
-- A job's session-action frame as Parquet, covering every action stored up to `seq`; rebuilt
-- from raw responses whenever it is missing or unreadable.
CREATE TABLE IF NOT EXISTS frames (
    job INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL,
    parquet BLOB NOT NULL
);
-- A session's CloudWatch Logs stream, as far as it was read: `complete` once the stream of an
-- ended session was read to its end (it never changes: never read again); `missing` when the
-- stream does not exist; `token` the nextForwardToken after the last page stored (a running
-- session, or a fetch killed halfway, resumes there), `read_at` when it was received (tokens
-- expire after 24 hours); `last_ms` and `at_last` the last event's timestamp and how many
-- stored events have it (to resume by time when the token has expired).
CREATE TABLE IF NOT EXISTS log_streams (
    job INTEGER NOT NULL,
    session TEXT NOT NULL,
    complete INTEGER NOT NULL,
    missing INTEGER NOT NULL,
    token TEXT,
    read_at REAL NOT NULL,
    events INTEGER NOT NULL,
    pages INTEGER NOT NULL,
    last_ms INTEGER,
    at_last INTEGER NOT NULL,
    PRIMARY KEY (job, session)
) WITHOUT ROWID;
-- A usage aggregation's statistics (StartSessionsStatisticsAggregation, then every page of
-- GetSessionsStatisticsAggregation) over a window that had ended when it was asked: the service's
-- answer then, never asked again. `request` is the request's canonical JSON (sorted keys, times
-- in UTC, without the farm id); `body` the statistics as one compressed JSON array (see
-- _compress). Added in format 3 without a version change: CREATE ... IF NOT EXISTS gives an
-- existing file the table, and a file without it is read as before.
CREATE TABLE IF NOT EXISTS aggregations (
    farm_id TEXT NOT NULL,
    request TEXT NOT NULL,
    fetched_at REAL NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (farm_id, request)
) WITHOUT ROWID;
-- The events of one GetLogEvents page in columns, compressed (see _pack_log_page).
CREATE TABLE IF NOT EXISTS log_pages (
    job INTEGER NOT NULL,
    session TEXT NOT NULL,
    page INTEGER NOT NULL,
    events INTEGER NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (job, session, page)
) WITHOUT ROWID;
"""

# Blobs are zstd (Arrow's codec: pyarrow is a dependency anyway) at level 1: on a write of
# Deadline Cloud responses it is about 4 times faster than zlib's default level and a sixth
# smaller, and it runs outside the interpreter lock. The format is the uncompressed size
# (little-endian 64-bit) and a zstd frame.
_LEVEL: Final = 1
_ID_FIELDS: Final = ("farmId", "queueId", "jobId")
# The most items one blob holds: reading one item decodes its whole blob.
_BLOB_ITEMS: Final = 1000
# How long the writer waits for more actions to write with those it has (see Writer): each
# write costs its commit and its lookups, whatever its size.
_GATHER: Final = 0.25

_TIME_KEYS: Final = frozenset(
    {"startedAt", "endedAt", "workerUpdatedAt", "createdAt", "updatedAt", "observedAt"}
)


def default_path() -> Path:
    """Return where the cache lives: ``DEADLINE_NB_CACHE``, else the user's cache directory.

    Returns
    -------
    pathlib.Path
        The SQLite file's path (which may not exist yet).

    Examples
    --------
    >>> import os
    >>> from deadline_nb.cache import default_path
    >>> os.environ["DEADLINE_NB_CACHE"] = "/tmp/example.sqlite3"
    >>> str(default_path())
    '/tmp/example.sqlite3'
    >>> del os.environ["DEADLINE_NB_CACHE"]
    """
    override = os.environ.get("DEADLINE_NB_CACHE")
    if override:
        return Path(override).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
        return base / "deadline_nb" / "Cache" / "cache.sqlite3"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "deadline_nb" / "cache.sqlite3"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "deadline_nb" / "cache.sqlite3"


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _pack_many(items: Sequence[Mapping[str, Any]]) -> bytes:
    """One write's items as one compressed JSON array.

    Compressing a whole write at once, rather than each item with a compressor of its own, is
    what keeps a cold 100,000-action fetch with the cache about as fast as one without: the
    items of one write repeat each other's field names, ids and statuses, and one compressor
    (whose C code releases the interpreter lock) sees it all.
    """
    return _compress(json.dumps(items, default=_encode, separators=(",", ":")).encode())


@functools.cache
def _codec() -> Any:
    import pyarrow as pa

    return pa.Codec("zstd", compression_level=_LEVEL)


def _compress(data: bytes) -> bytes:
    """A blob: the size of ``data``, then ``data`` compressed (see _LEVEL)."""
    return struct.pack("<Q", len(data)) + _codec().compress(data, asbytes=True)


def _decompress(blob: bytes) -> bytes:
    """What :func:`_compress` compressed."""
    (size,) = struct.unpack_from("<Q", blob)
    data: bytes = _codec().decompress(memoryview(blob)[8:], decompressed_size=size, asbytes=True)
    return data


# The operations whose raw bodies the cache keeps, and the member holding their items.
_RAW_ITEMS: Final = {"BatchGetSessionAction": "sessionActions", "ListTasks": "tasks"}


def _pack_raw(bodies: Sequence[bytes]) -> bytes:
    """Responses' raw bodies, as the service sent them, compressed together.

    The count and the lengths come first (little-endian 32-bit), then the bodies. Storing what
    the service sent costs no encoding at all: packing is a copy and zstd, which runs outside
    the interpreter lock, so the fetch's threads go on parsing meanwhile.
    """
    head = struct.pack(f"<I{len(bodies)}I", len(bodies), *(len(b) for b in bodies))
    return _compress(head + b"".join(bodies))


def complete_action(item: dict[str, Any], params: Mapping[str, str]) -> dict[str, Any]:
    """A fetched session action with the job's ids (``params``) and its session's.

    BatchGetSessionAction's items carry them already, and are kept as they are (no copy:
    a copy of each of 100,000 items costs the fetch's interpreter lock for nothing); an item
    lacking one (GetSessionAction's answer, say) is completed in a copy. The fetch and the
    cache's reading back complete items alike, so both give the same dicts.
    """
    if item.get("sessionId") and all(item.get(k) for k in params):
        return item
    return {
        **params,
        "sessionId": item.get("sessionId") or schema.session_of(item["sessionActionId"]),
        **item,
    }


def _unpack_raw(
    blob: bytes, operation: str, extra: str | None, ids: tuple[str, str, str]
) -> list[dict[str, Any]]:
    """The items of a blob of raw responses, completed as the fetch completed them.

    Session actions get the job's ids and their session's (see ``fetch.sync``), others the
    fields ``extra`` names (a task its ``stepId``, see ``fetch.resources``).
    """
    data = _decompress(blob)
    (count,) = struct.unpack_from("<I", data)
    lengths = struct.unpack_from(f"<{count}I", data, 4)
    from .wire import decode_items

    member = _RAW_ITEMS[operation]
    params = dict(zip(_ID_FIELDS, ids, strict=True))
    items = []
    offset = 4 + 4 * count
    for length in lengths:
        body = data[offset : offset + length]
        offset += length
        # As a client of deadline_nb.client() would have read it, fast (deadline_nb.wire).
        items.extend(decode_items("deadline", operation, body, member))
    if operation == "BatchGetSessionAction":
        return [complete_action(item, params) for item in items]
    if extra:
        added = json.loads(extra)
        return [{**item, **added} for item in items]
    return items


@functools.cache
def _json_rows() -> bool:
    """Whether this SQLite has its JSON functions (built in since 3.38; most builds had them).

    Examples
    --------
    >>> from deadline_nb.cache import _json_rows
    >>> isinstance(_json_rows(), bool)
    True
    """
    try:
        with contextlib.closing(sqlite3.connect(":memory:")) as db:
            db.execute("SELECT json_extract(value, '$[0]') FROM json_each('[[1]]')").fetchall()
    except sqlite3.OperationalError:
        return False
    return True


def _insert_rows(
    db: sqlite3.Connection,
    head: str,
    columns: Sequence[str | int],
    rows: Sequence[Sequence[Any]],
    fixed: Sequence[Any] = (),
) -> None:
    """Insert many rows with one SQLite step: ``head`` (``INSERT ... INTO table``) over ``rows``.

    Why not ``executemany``: it steps SQLite once per row, and the sqlite3 module lets go of the
    interpreter lock around every step. During a fetch, ten threads want that lock, and taking
    it back can take up to the switch interval (5 ms) each time: a thread writing 1,000 rows
    that way waits for seconds (the convoy effect; measured: 2,000 rows took 3 to 6 s against
    four busy threads, 0.02 to 0.4 s as one step), the writer's line fills, and the fetch waits
    on it. As one step over the rows as JSON (``json_each``), the lock is given up once.

    ``columns``: each column's value, in the table's order: an int, the index of the row's
    field; or a string, SQL: ``?`` takes the next of ``fixed``, anything else is a literal.
    Row fields are ids, text, integers and NULLs: no floats, whose JSON round trip SQLite might
    not make exactly. Without SQLite's JSON functions, or with a value JSON cannot carry, the
    rows go through ``executemany``.

    Examples
    --------
    >>> import sqlite3
    >>> from deadline_nb.cache import _insert_rows
    >>> db = sqlite3.connect(":memory:")
    >>> _ = db.execute("CREATE TABLE t (job INTEGER, kind TEXT, id TEXT, n INTEGER)")
    >>> _insert_rows(db, "INSERT INTO t", ["?", "'task'", 0, 1], [("a", 1), ("b", None)], (7,))
    >>> db.execute("SELECT * FROM t").fetchall()
    [(7, 'task', 'a', 1), (7, 'task', 'b', None)]
    """
    if not rows:
        return
    if _json_rows():
        try:
            text = json.dumps(rows, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError):
            pass  # not JSON: one step per row after all
        else:
            values = ", ".join(
                c if isinstance(c, str) else f"json_extract(value, '$[{c}]')" for c in columns
            )
            db.execute(f"{head} SELECT {values} FROM json_each(?)", (*fixed, text))
            return
    marks = ", ".join(c if isinstance(c, str) else "?" for c in columns)
    given = iter(fixed)
    # Each "?" column's constant, or None where the row's field goes.
    constant = [next(given) if c == "?" else None for c in columns]
    fields = [(c, constant[n]) for n, c in enumerate(columns) if c == "?" or isinstance(c, int)]
    db.executemany(
        f"{head} VALUES ({marks})",
        [tuple(row[c] if isinstance(c, int) else value for c, value in fields) for row in rows],
    )


def _insert_ids(
    db: sqlite3.Connection,
    head: str,
    columns: Sequence[str],
    ids: Sequence[str | None],
    fixed: Sequence[Any] = (),
) -> None:
    """Insert a row per id of ``ids`` in one SQLite step (see :func:`_insert_rows`), where
    each row's other values are constants: the cheapest form of the most common row.

    ``ids[n]`` is the id whose row has the place ``n`` (None: no row has it). In ``columns``,
    ``value`` is the id and ``key`` its place; ``?`` takes the next of ``fixed``. SQLite reads
    a plain list of ids (no field of a row to extract): 0.26 s for 100,000 rows against 0.40 s
    as rows of fields.

    Examples
    --------
    >>> import sqlite3
    >>> from deadline_nb.cache import _insert_ids
    >>> db = sqlite3.connect(":memory:")
    >>> _ = db.execute("CREATE TABLE t (job INTEGER, id TEXT, pos INTEGER)")
    >>> _insert_ids(db, "INSERT INTO t", ["?", "value", "key"], ["a", None, "c"], (7,))
    >>> db.execute("SELECT * FROM t").fetchall()
    [(7, 'a', 0), (7, 'c', 2)]
    """
    if not any(i is not None for i in ids):
        return
    if _json_rows():
        text = json.dumps(ids, ensure_ascii=False, separators=(",", ":"))
        values = ", ".join(columns)
        db.execute(f"{head} SELECT {values} FROM json_each(?) WHERE type = 'text'", (*fixed, text))
        return
    fields: dict[str, int] = {"value": 0, "key": 1}
    rows = [(i, n) for n, i in enumerate(ids) if i is not None]
    _insert_rows(db, head, [fields.get(c, c) for c in columns], rows, fixed)


# An item whose id names its parent ("task-<hex>-<n>" of "step-<hex>", "sessionaction-<hex>-<n>"
# of "session-<hex>") keeps no parent in its row: the parent's items are a range of the key.
_CHILD_PREFIX: Final = {"step-": "task-", "session-": "sessionaction-"}


def _children(parent: str) -> tuple[str, str] | None:
    """The range of ids named after ``parent`` (see _CHILD_PREFIX), or None."""
    for head, child in _CHILD_PREFIX.items():
        if parent.startswith(head):
            low = child + parent[len(head) :] + "-"
            return low, low[:-1] + "."  # "." follows "-": every id that starts with `low`
    return None


def _stored_parent(item_id: str, parent: Any) -> Any:
    """What the row keeps of an item's parent: nothing when its id names it."""
    if isinstance(parent, str):
        children = _children(parent)
        if children is not None and children[0] <= item_id < children[1]:
            return None
    return parent


def _last_of_each(
    items: Iterable[Mapping[str, Any]], id_field: str
) -> list[tuple[int, Mapping[str, Any]]]:
    """``(position, item)`` of the last item given for each id, in the order given.

    One write stores each id once (a batch retried by the engine may bring one twice): the
    last answer is the newest.
    """
    given = items if isinstance(items, list) else list(items)
    ids = [item[id_field] for item in given]
    if len(set(ids)) == len(ids):  # the usual case, checked cheaply: no id twice
        return list(enumerate(given))
    last: dict[Any, tuple[int, Mapping[str, Any]]] = {}
    for position, item in enumerate(given):
        last[item[id_field]] = (position, item)
    return sorted(last.values(), key=lambda pair: pair[0])


def _parse_time(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)


def _revive(value: dict[str, Any]) -> dict[str, Any]:
    """Turn the ISO text of known timestamp fields back into aware datetimes, as boto3 gives.

    json's object hook: called for every object, innermost first.
    """
    for key in _TIME_KEYS.intersection(value):
        inner = value[key]
        if isinstance(inner, str):
            with contextlib.suppress(ValueError):
                value[key] = _parse_time(inner)
    return value


def _unpack_many(body: bytes) -> list[dict[str, Any]]:
    """The items of one blob (see :func:`_pack_many`)."""
    items: list[dict[str, Any]] = json.loads(_decompress(body), object_hook=_revive)
    return items


# ---- session logs

_NO_INGESTION: Final = -(2**63)  # a page's event without ingestionTime


def _pack_log_page(events: Sequence[Mapping[str, Any]]) -> tuple[bytes, list[int], bool]:
    """One GetLogEvents page's events in columns, compressed; their timestamps; and whether a
    message had to be cleaned (a lone surrogate, which UTF-8 cannot hold, became U+FFFD).

    The layout (little-endian): the count ``n``; ``n`` timestamps as differences from the one
    before (int64, the first from 0: small numbers, which compress well); ``n`` ingestion times
    as differences from their event's timestamp (int64, :data:`_NO_INGESTION` when missing);
    ``n`` message lengths in UTF-8 bytes (int32, -1 for a missing message); then the messages'
    bytes. Reading a million stored lines back is a few NumPy and Arrow calls, no dict per line.
    """
    import numpy as np

    from .text import clean_text

    n = len(events)
    stamps = [int(e.get("timestamp") or 0) for e in events]
    ingested = [e.get("ingestionTime") for e in events]
    messages = [e.get("message") for e in events]
    cleaned = False
    encoded: list[bytes] = []
    lengths = np.empty(n, dtype=np.int32)
    for i, message in enumerate(messages):
        if not isinstance(message, str):
            lengths[i] = -1
            continue
        try:
            data = message.encode()
        except UnicodeEncodeError:
            data = clean_text(message)[0].encode()
            cleaned = True
        encoded.append(data)
        lengths[i] = len(data)
    ts = np.asarray(stamps, dtype=np.int64)
    ing = np.array(
        [int(v) if isinstance(v, int) else _NO_INGESTION for v in ingested], dtype=np.int64
    )
    ing = np.where(ing == _NO_INGESTION, _NO_INGESTION, ing - ts)
    steps = np.diff(ts, prepend=np.int64(0)) if n else ts
    body = b"".join(
        (
            struct.pack("<I", n),
            steps.astype("<i8").tobytes(),
            ing.astype("<i8").tobytes(),
            lengths.astype("<i4").tobytes(),
            *encoded,
        )
    )
    return _compress(body), stamps, cleaned


def _unpack_log_page(blob: bytes) -> tuple[Any, Any, Any, bytes]:
    """A stored page: timestamps and ingestion times (int64 ms, -1 when missing), message
    lengths (int32, -1 for missing), and the messages' bytes."""
    import numpy as np

    data = _decompress(blob)
    (n,) = struct.unpack_from("<I", data)
    at = 4
    steps = np.frombuffer(data, dtype="<i8", count=n, offset=at)
    at += 8 * n
    ing = np.frombuffer(data, dtype="<i8", count=n, offset=at)
    at += 8 * n
    lengths = np.frombuffer(data, dtype="<i4", count=n, offset=at)
    at += 4 * n
    ts = np.cumsum(steps, dtype=np.int64)
    ingested = np.where(ing == _NO_INGESTION, -1, ts + ing)
    return ts, ingested, lengths, data[at:]


@dataclasses.dataclass(frozen=True)
class LogStream:
    """What the cache holds of one session's log stream (see :meth:`Cache.log_streams`).

    Examples
    --------
    >>> from deadline_nb.cache import LogStream
    >>> LogStream(complete=True, missing=False, token=None, read_at=0.0, events=3, pages=1,
    ...           last_ms=1795730400000, at_last=1).events
    3
    """

    complete: bool
    """The stream of an ended session, read to its end: never read again."""
    missing: bool
    """The stream did not exist."""
    token: str | None
    """The ``nextForwardToken`` after the last page stored: where the next read resumes."""
    read_at: float
    """When that token was received (epoch seconds): the service's tokens last 24 hours."""
    events: int
    """Events stored."""
    pages: int
    """Pages stored."""
    last_ms: int | None
    """The last stored event's timestamp (epoch ms), if any."""
    at_last: int
    """How many stored events have that timestamp."""


@dataclasses.dataclass(frozen=True)
class LogColumns:
    """Stored log events in columns, session after session (see :meth:`Cache.log_columns`).

    ``counts[i]`` events of ``session_ids[i]`` come one after another, in stream order;
    ``timestamps`` and ``ingestion_times`` are epoch ms (-1 where missing), ``messages`` Arrow
    strings. :func:`deadline_nb.frames.logs.log_frame_from_arrays` takes them as they are.

    Examples
    --------
    >>> import numpy as np, pyarrow as pa
    >>> from deadline_nb.cache import LogColumns
    >>> LogColumns([], np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64),
    ...            pa.array([], pa.string())).total
    0
    """

    session_ids: list[str]
    counts: Any
    timestamps: Any
    ingestion_times: Any
    messages: Any

    @property
    def total(self) -> int:
        """How many events there are."""
        return len(self.timestamps)


def _iso_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
        return aware.astimezone(timezone.utc).isoformat()
    return str(value)


def _instant(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
        return f"{aware.timestamp():.6f}"
    return str(value)


def action_state(item: Mapping[str, Any]) -> str:
    """The part of a session action that a ListSessionActions summary also shows, as text.

    Two states are equal exactly when a summary shows nothing new about a stored action.

    Parameters
    ----------
    item
        A session action: a summary or a full response.

    Returns
    -------
    str

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from deadline_nb.cache import action_state
    >>> action_state({"status": "RUNNING", "progressPercent": 50.0,
    ...               "startedAt": datetime(2026, 11, 26, 22, 0, tzinfo=timezone.utc)})
    'RUNNING|1795730400.000000|||50.0'
    """
    percent = item.get("progressPercent")
    return "|".join(
        (
            str(item.get("status")),
            _instant(item.get("startedAt")),
            _instant(item.get("endedAt")),
            _instant(item.get("workerUpdatedAt")),
            repr(float(percent)) if isinstance(percent, (int, float)) else "",
        )
    )


class CacheFormatError(DeadlineNbError, RuntimeError):
    """The cache file was written by a newer version of deadline_nb: it is left alone.

    Examples
    --------
    >>> from deadline_nb.cache import CacheFormatError
    >>> issubclass(CacheFormatError, RuntimeError)
    True
    """


class _ForeignFormat(sqlite3.DatabaseError):
    """The file is an SQLite database, but not one this version of deadline_nb can read."""


class _OlderFormat(_ForeignFormat):
    """The file was written by an older deadline_nb, in a format this one no longer reads."""


def _is_damage(error: sqlite3.DatabaseError) -> bool:
    """Whether an error means the file is unreadable (not: busy, locked, full, read-only)."""
    if isinstance(error, _ForeignFormat):
        return True
    code = getattr(error, "sqlite_errorcode", None)  # Python 3.11+
    if isinstance(code, int):
        return code & 0xFF in _DAMAGE_CODES
    return any(word in str(error).lower() for word in _DAMAGE_WORDS)


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


_warned_modes: set[str] = set()


def _make_private(path: Path) -> None:
    """Tighten a cache file (and its -wal and -shm) to 0600; warn once per file if we cannot.

    The file is created 0600, but one made by an older version, copied, or restored from a
    backup may be readable by others: it holds job names, paths and messages from the farm.
    """
    if sys.platform == "win32":  # no POSIX modes: the user's profile folder is private
        return
    for name in (str(path) + suffix for suffix in _SIDE_FILES):
        try:
            st = os.stat(name)
        except FileNotFoundError:
            continue
        if st.st_mode & 0o077 == 0:
            continue
        try:
            if st.st_uid != os.getuid():
                raise PermissionError(f"owned by user {st.st_uid}")
            os.chmod(name, st.st_mode & 0o700)
        except OSError as error:
            if name not in _warned_modes:
                _warned_modes.add(name)
                warnings.warn(
                    f"The cache file {name} is readable by other users (mode "
                    f"{st.st_mode & 0o777:04o}) and could not be made private ({error}).",
                    DataWarning,
                    stacklevel=4,
                )


class _FileLock:
    """A lock file beside the cache: shared while a Cache has the file open, exclusive to set it
    aside.

    Setting a damaged file aside must wait until nobody has it open: SQLite deletes a database's
    ``-wal`` file by name when its last connection closes, so a connection still open on the old
    file would later delete the new file's ``-wal``. Without ``fcntl`` (Windows) this does
    nothing; there a file in use cannot be renamed anyway.
    """

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600) if fcntl is not None else -1

    def _take(self, how: int, timeout: float) -> bool:
        if fcntl is None:
            return True
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(self.fd, how | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.01)

    def shared(self) -> bool:
        return self._take(fcntl.LOCK_SH if fcntl is not None else 0, _TIMEOUT)

    def exclusive(self, timeout: float) -> bool:
        return self._take(fcntl.LOCK_EX if fcntl is not None else 0, timeout)

    def release(self) -> None:
        if fcntl is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # releases the lock too
            self.fd = -1


_R = TypeVar("_R")


def _recovering(method: Callable[..., _R]) -> Callable[..., _R]:
    """Run a Cache method; if the file turns out damaged, set it aside and run it again."""

    @functools.wraps(method)
    def run(self: Cache, *args: Any, **kwargs: Any) -> _R:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as error:
            if not _is_damage(error):
                raise
            self._recover(error)
            return method(self, *args, **kwargs)

    return run


def _read_frame(blob: bytes) -> Any:
    """A stored frame, or None when it cannot be read (it is then rebuilt from raw)."""
    from .frames import read_parquet

    try:
        return read_parquet(io.BytesIO(blob))
    except Exception:  # a file from another pyarrow, a torn blob: rebuild from raw
        return None


@dataclasses.dataclass(frozen=True)
class FrameBasis:
    """What a job's session-action frame is built from, all read at one instant.

    ``frame`` (the stored frame, or None) with ``changed`` merged over it is exactly what the
    stored raw responses said at write number ``seq``: a frame built from them may be stored
    with that number (:meth:`Cache.put_frame`).

    Examples
    --------
    >>> from deadline_nb.cache import FrameBasis
    >>> FrameBasis(seq=0, frame=None, changed=[]).seq
    0
    """

    seq: int
    """The cache's write number when this was read."""
    frame: Any
    """The stored frame (covering writes up to its own number), or None: none or unreadable."""
    changed: list[Mapping[str, Any]]
    """The actions written after the stored frame's number (every action when ``frame`` is None),
    but those in :attr:`mine`."""
    mine: frozenset[str] = frozenset()
    """Actions written after the stored frame exactly as the caller holds them (``covered``)."""


class Cache:
    """The local response store: one SQLite file, safe across threads and processes.

    Parameters
    ----------
    path
        The file; default :func:`default_path`. Its folder is created (mode 0700).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from deadline_nb.cache import Cache
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     with Cache(pathlib.Path(tmp) / "c.sqlite3") as cache:
    ...         _ = cache.put("job", "farm-1", "queue-1", "job-1", [{"jobId": "job-1"}], "jobId")
    ...         [j["jobId"] for j in cache.items("job", "farm-1", "queue-1", "job-1")]
    ['job-1']
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock = threading.RLock()
        self._keys: dict[tuple[str, str, str], int] = {}
        # job key -> {action id: (seq, the dict packed into that row)}: what this object wrote,
        # so that a frame built right after a fetch need not decode what it just encoded.
        self._written: dict[int, dict[str, tuple[int, Mapping[str, Any] | None]]] = {}
        self._identity: tuple[int, int] | None = None
        self.restarts = 0
        """How many times this object found its file damaged and started afresh (a reader that
        read before a restart may have read what is gone)."""
        self._file_lock = _FileLock(self.path.with_name(self.path.name + ".lock"))
        self._file_lock.shared()
        try:
            self._connect()
        except sqlite3.DatabaseError as error:
            if not _is_damage(error):
                self._abandon()
                raise
            self._recover(error)
        except BaseException:
            self._abandon()
            raise

    def _abandon(self) -> None:
        """Let go of the file after a failed open."""
        with contextlib.suppress(sqlite3.Error, AttributeError):
            self._db.close()
        self._file_lock.close()

    def _connect(self, memory: bool = False) -> None:
        """Open the file (or, ``memory``, a database in memory) and make it ready to use."""
        if memory:
            self._identity = None
            target = ":memory:"
        else:
            # Create the file owner-only before SQLite opens it; SQLite gives its -wal and -shm
            # files the same permissions.
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            os.close(fd)
            _make_private(self.path)
            self._identity = _identity(self.path)
            target = str(self.path)
        self._db = sqlite3.connect(
            target, timeout=_TIMEOUT, isolation_level=None, check_same_thread=False
        )
        self._wal()
        # NORMAL in WAL mode: a killed process loses nothing committed; only a power cut could
        # lose the last commits, which the next fetch would simply get again.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_TABLES)  # idempotent: IF NOT EXISTS throughout
        with self._write():
            row = self._db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
            if row is None:
                self._db.execute("INSERT INTO meta VALUES ('version', ?)", (str(_VERSION),))
            elif str(row[0]) != str(_VERSION):
                if str(row[0]).isdigit() and int(row[0]) > _VERSION:
                    # A newer deadline_nb's cache (two environments sharing the file): refuse
                    # rather than move the newer tool's data out of its way.
                    raise CacheFormatError(
                        f"The cache {self.path} was written by a newer version of deadline_nb "
                        f"(format {row[0]}, this is {_VERSION}); upgrade, or set "
                        "DEADLINE_NB_CACHE to another file."
                    )
                raise _OlderFormat(f"written in cache format {row[0]}, this is {_VERSION}")
        if not memory:
            _make_private(self.path)  # the -wal and -shm SQLite just made or found

    def _recover(self, error: sqlite3.DatabaseError) -> None:
        """Set the damaged file aside (with its -wal and -shm) and start a fresh one.

        Waits (briefly) until every other Cache on the file has let go of it; when another
        process keeps it open, works in memory instead (nothing kept) rather than rename a file
        in use. If another Cache set it aside first, just opens the fresh one.
        """
        with self._lock:
            self.restarts += 1
            self._written.clear()
            self._keys.clear()
            # AttributeError: it never opened.
            with contextlib.suppress(sqlite3.Error, AttributeError):
                self._db.close()
            old = self._identity
            self._file_lock.release()
            if old is None or _identity(self.path) != old:
                self._file_lock.shared()  # someone already started a fresh file: use it
                self._connect()
                return
            reason = str(error) or type(error).__name__
            if not self._file_lock.exclusive(_ASIDE_WAIT):
                if _identity(self.path) != old:  # set aside meanwhile by the one we waited for
                    self._file_lock.shared()
                    self._connect()
                    return
                warnings.warn(
                    f"The cache file {self.path} cannot be read ({reason}) and is in use "
                    "elsewhere, so this Cache keeps nothing; close the other notebooks using "
                    "it and it will be set aside.",
                    DataWarning,
                    stacklevel=5,
                )
                self._file_lock.shared()
                self._connect(memory=True)
                return
            try:
                aside = None
                if _identity(self.path) == old:
                    aside = self._set_aside(
                        "older" if isinstance(error, _OlderFormat) else "corrupt"
                    )
                self._connect()
            finally:
                # Nobody else can have the fresh file open yet; from now on it is shared.
                self._file_lock.shared()
            if aside is not None and isinstance(error, _OlderFormat):
                # Not damage: an upgrade. The old file is kept (delete it at will); each job is
                # fetched once more, then cached in the new format.
                warnings.warn(
                    f"The cache file {self.path} is in an older format ({reason}); it was moved "
                    f"to {aside} and a new cache was started: each job is fetched once more.",
                    DataWarning,
                    stacklevel=5,
                )
            elif aside is not None:
                warnings.warn(
                    f"The cache file {self.path} could not be read ({reason}); it was moved to "
                    f"{aside} and a new cache was started there.",
                    DataWarning,
                    stacklevel=5,
                )

    def _set_aside(self, why: str = "corrupt") -> Path:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.{why}-{stamp}")
        n = 1
        while aside.exists():  # two in the same second
            aside = self.path.with_name(f"{self.path.name}.{why}-{stamp}-{n}")
            n += 1
        for suffix in _SIDE_FILES:
            source = Path(str(self.path) + suffix)
            if source.exists():
                os.replace(source, Path(str(aside) + suffix))
        return aside

    # ---- plumbing

    def _wal(self) -> None:
        """Switch the file to WAL mode, waiting for other processes that open it at the same time.

        Switching from the rollback journal needs an exclusive lock, and SQLite answers "database
        is locked" at once, without calling the busy handler, when two connections both hold a
        shared lock and want it (it would deadlock otherwise). Several notebooks or processes
        opening a new cache together hit exactly that, so retry until ``_TIMEOUT``. WAL mode is
        stored in the file: once one connection has switched it, the others' PRAGMA is a no-op.
        """
        deadline = time.monotonic() + _TIMEOUT
        delay = 0.005
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.25)

    def __enter__(self) -> Cache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the file.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from deadline_nb.cache import Cache
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     Cache(pathlib.Path(tmp) / "c.sqlite3").close()
        """
        with self._lock:
            self._written.clear()
            self._db.close()
            self._file_lock.close()

    class _Transaction:
        def __init__(self, cache: Cache) -> None:
            self.cache = cache

        def __enter__(self) -> sqlite3.Connection:
            self.cache._lock.acquire()
            try:
                # IMMEDIATE takes the write lock now, so two processes queue up instead of one
                # failing with "database is locked" halfway through.
                self.cache._db.execute("BEGIN IMMEDIATE")
            except BaseException:
                self.cache._lock.release()
                raise
            return self.cache._db

        def __exit__(self, exc_type: object, *rest: object) -> None:
            db = self.cache._db
            try:
                if exc_type is None:
                    db.execute("COMMIT")
                elif db.in_transaction:
                    db.execute("ROLLBACK")
            except sqlite3.Error:
                if db.in_transaction:  # a failed COMMIT: leave no transaction open behind
                    with contextlib.suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                if exc_type is None:
                    raise
            finally:
                self.cache._lock.release()

    def _write(self) -> Cache._Transaction:
        return Cache._Transaction(self)

    @staticmethod
    def _next_seq(db: sqlite3.Connection) -> int:
        # The counter lives in the file, inside the write transaction: two processes writing
        # to one cache never hand out the same number.
        db.execute(
            "INSERT INTO meta VALUES ('seq', '1') "
            "ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )
        return int(db.execute("SELECT value FROM meta WHERE key = 'seq'").fetchone()[0])

    def _key(
        self, farm_id: str, queue_id: str, job_id: str, db: sqlite3.Connection | None = None
    ) -> int | None:
        """The job's number in this file; within a write (``db``), made when it has none yet."""
        ids = (farm_id, queue_id, job_id)
        key = self._keys.get(ids)
        if key is not None:
            return key
        with self._lock:
            query = "SELECT key FROM jobs WHERE farm_id=? AND queue_id=? AND job_id=?"
            row = self._db.execute(query, ids).fetchone()
            if row is None and db is not None:
                db.execute("INSERT INTO jobs (farm_id, queue_id, job_id) VALUES (?, ?, ?)", ids)
                row = db.execute(query, ids).fetchone()
        if row is None:
            return None
        # A job's number never changes (clear() keeps the jobs table): it can be remembered.
        self._keys[ids] = int(row[0])
        return int(row[0])

    def _select(self, ids: tuple[str, str, str], query: str, *args: Any) -> list[Any]:
        """The rows of a query about one job (``job=?`` first); none for a job never stored."""
        key = self._key(*ids)
        if key is None:
            return []
        with self._lock:
            rows: list[Any] = self._db.execute(query, (key, *args)).fetchall()
        return rows

    # ---- raw items

    @_recovering
    def put(
        self,
        kind: str,
        farm_id: str,
        queue_id: str,
        job_id: str,
        items: Iterable[Mapping[str, Any]],
        id_field: str,
        *,
        parent_field: str | None = None,
        bodies: Sequence[bytes] | None = None,
        operation: str | None = None,
    ) -> int:
        """Store responses of one kind (``job``, ``step``, ``task``, ``session``), replacing any.

        Parameters
        ----------
        kind
            What the items are.
        farm_id, queue_id, job_id
            Whose they are.
        items
            The responses, as boto3 returned them.
        id_field
            The field holding each item's id.
        parent_field
            A field to keep for lookups (a task's ``stepId``).
        bodies, operation
            The raw bodies of the ``operation`` responses ``items`` came in (a ``ListTasks``
            listing of one step): stored as they are, which costs no encoding. Their items
            are ``items`` without ``parent_field``, which must be the same in all of them.

        Returns
        -------
        int
            How many were stored.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from deadline_nb.cache import Cache
        >>> with tempfile.TemporaryDirectory() as tmp, Cache(pathlib.Path(tmp) / "c") as c:
        ...     c.put("step", "f", "q", "j", [{"stepId": "step-1"}, {"stepId": "step-2"}], "stepId")
        2
        """
        given = list(items)
        listed = _last_of_each(given, id_field)
        # Packed outside the write lock.
        raw = bodies is not None and operation in _RAW_ITEMS and bool(given)
        if raw:
            assert bodies is not None and operation is not None
            extra = json.dumps({parent_field: given[0].get(parent_field)}) if parent_field else None
            blobs = [_pack_raw(bodies)]
        else:
            blobs = [
                _pack_many([item for _, item in listed[start : start + _BLOB_ITEMS]])
                for start in range(0, len(listed), _BLOB_ITEMS)
            ]
        with self._write() as db:
            key = self._key(farm_id, queue_id, job_id, db)
            assert key is not None
            stored = self._stored(db, key, kind, [item[id_field] for _, item in listed])
            seq = self._next_seq(db)
            rows: list[tuple[Any, ...]] = []
            # Raw listings: the usual row (no parent kept, its place in the blob the same as in
            # the listing) is only its id, at its place.
            plain: list[str | None] = [None] * (listed[-1][0] + 1 if raw else 0)
            blob = 0
            named: dict[str, str] = {}  # parent -> the prefix of the ids that name it, or ""
            for n, body in enumerate(blobs):
                if raw:  # one blob; an item's place in it is its place in the listing
                    chunk = listed
                    blob = self._put_blob(db, key, body, len(chunk), operation, extra)
                    places = [position for position, _ in chunk]
                else:
                    chunk = listed[n * _BLOB_ITEMS : (n + 1) * _BLOB_ITEMS]
                    blob = self._put_blob(db, key, body, len(chunk))
                    places = list(range(len(chunk)))
                for pos, (position, item) in zip(places, chunk, strict=True):
                    item_id = item[id_field]
                    parent = item.get(parent_field) if parent_field else None
                    if isinstance(parent, str):
                        # _stored_parent's rule, its id range worked out once per parent (a
                        # step's tasks share one): a call per item weighs at 100,000.
                        low = named.get(parent)
                        if low is None:
                            children = _children(parent)
                            low = named[parent] = children[0] if children else ""
                        if low and item_id.startswith(low):
                            parent = None
                    if raw and parent is None:
                        plain[position] = item_id
                    else:
                        rows.append((item_id, parent, position, blob, pos))
            head = "INSERT OR REPLACE INTO items"
            _insert_ids(
                db,
                head,
                ["?", "?", "value", "NULL", "0", "NULL", "?", "key", "?", "key"],
                plain,
                (key, kind, seq, blob),
            )
            _insert_rows(
                db, head, ["?", "?", 0, 1, "0", "NULL", "?", 2, 3, 4], rows, (key, kind, seq)
            )
            self._release([blob for _, blob in stored.values()], db)
        return len(listed)

    @_recovering
    def items(
        self,
        kind: str,
        farm_id: str,
        queue_id: str,
        job_id: str,
        *,
        parent: str | None = None,
        exclude: Container[str] = (),
    ) -> list[dict[str, Any]]:
        """Return the stored responses of one kind for a job, in the order they were stored.

        Parameters
        ----------
        kind
            ``job``, ``step``, ``task``, ``session`` or ``action``.
        farm_id, queue_id, job_id
            Whose.
        parent
            Only the items stored with this parent (a task's step, an action's session).
        exclude
            Ids not to return (the caller has them already; decoding is most of the cost).

        Returns
        -------
        list of dict
            The responses, with aware datetimes as boto3 gives them.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from deadline_nb.cache import Cache
        >>> with tempfile.TemporaryDirectory() as tmp, Cache(pathlib.Path(tmp) / "c") as c:
        ...     c.items("step", "f", "q", "j")
        []
        """
        query = "SELECT id, blob, pos FROM items WHERE job=? AND kind=?"
        args: list[Any] = [kind]
        children = None if parent is None else _children(parent)
        if children is not None:
            # Its children by the key's range (their rows keep no parent), or by their row.
            query += " AND ((id >= ? AND id < ? AND parent IS NULL) OR parent = ?)"
            args.extend([*children, parent])
        elif parent is not None:
            query += " AND parent=?"
            args.append(parent)
        rows = self._select((farm_id, queue_id, job_id), query + " ORDER BY ord, id", *args)
        return self._bodies(
            (farm_id, queue_id, job_id),
            [(blob, pos) for item_id, blob, pos in rows if item_id not in exclude],
        )

    @_recovering
    def count(self, kind: str, farm_id: str, queue_id: str, job_id: str) -> int:
        """Return how many responses of one kind are stored for a job.

        Parameters
        ----------
        kind
            ``job``, ``step``, ``task``, ``session`` or ``action``.
        farm_id, queue_id, job_id
            Whose.

        Returns
        -------
        int

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from deadline_nb.cache import Cache
        >>> with tempfile.TemporaryDirectory() as tmp, Cache(pathlib.Path(tmp) / "c") as c:
        ...     c.count("action", "f", "q", "j")
        0
        """
        rows = self._select(
            (farm_id, queue_id, job_id), "SELECT count(*) FROM items WHERE job=? AND kind=?", kind
        )
        return int(rows[0][0]) if rows else 0

    # ---- session actions

    @_recovering
    def unended(self, farm_id: str, queue_id: str, job_id: str) -> int:
        """Return how many of a job's stored session actions have not ended.

        Parameters
        ----------
        farm_id, queue_id, job_id
            Whose.

        Returns
        -------
        int

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from deadline_nb.cache import Cache
        >>> action = {"sessionActionId": "sessionaction-0123456789abcdef0123456789abcdef-0",
        ...           "status": "RUNNING"}
        >>> with tempfile.TemporaryDirectory() as tmp, Cache(pathlib.Path(tmp) / "c") as c:
        ...     _ = c.put_actions("f", "q", "j", [action])
        ...     c.unended("f", "q", "j")
        1
        """
        rows = self._select(
            (farm_id, queue_id, job_id),
            "SELECT count(*) FROM items WHERE job=? AND kind='action' AND terminal=0",
        )
        return int(rows[0][0]) if rows else 0

    @_recovering
    def action_states(
        self, farm_id: str, queue_id: str, job_id: str
    ) -> dict[str, tuple[bool, str]]:
        """Return ``{sessionActionId: (terminal, state)}`` for a job's stored actions.

        Parameters
        ----------
        farm_id, queue_id, job_id
            Whose.

        Returns
        -------
        dict
            See :func:`action_state` for ``state``.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from deadline_nb.cache import Cache
        >>> with tempfile.TemporaryDirectory() as tmp, Cache(pathlib.Path(tmp) / "c") as c:
        ...     c.action_states("f", "q", "j")
        {}
        """
        rows = self._select(
            (farm_id, queue_id, job_id),
            "SELECT id, terminal, state FROM items WHERE job=? AND kind='action'",
        )
        return {row[0]: (bool(row[1]), row[2]) for row in rows}

    @_recovering
    def put_actions(
        self,
        farm_id: str,
        queue_id: str,
        job_id: str,
        actions: Sequence[Mapping[str, Any]],
        *,
        observed_at: float | None = None,
        bodies: Sequence[bytes] | None = None,
        remember: bool = True,
    ) -> int:
        """Store full session actions, and a progress snapshot of each whose progress changed.

        Parameters
        ----------
        farm_id, queue_id, job_id
            Whose.
        actions
            GetSessionAction responses or BatchGetSessionAction items.
        observed_at
            When they were fetched (epoch seconds); default now.
        bodies
            The raw BatchGetSessionAction bodies ``actions`` came in, in order (their
            ``sessionActions`` are ``actions``, each completed with ``farmId``, ``queueId``,
            ``jobId`` and ``sessionId``): stored as they are, which costs no encoding.
        remember
            Keep the dicts until the next :meth:`frame_basis` (so that it need not decode
            them), or, False, only which rows this object wrote (the caller keeps them in a
            frame of its own: see ``covered``).

        Returns
        -------
        int
            How many snapshot rows were added.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from deadline_nb.cache import Cache
        >>> action = {"sessionActionId": "sessionaction-0123456789abcdef0123456789abcdef-0",
        ...           "status": "RUNNING", "progressPercent": 40.0}
        >>> with tempfile.TemporaryDirectory() as tmp, Cache(pathlib.Path(tmp) / "c") as c:
        ...     c.put_actions("f", "q", "j", [action]), c.put_actions("f", "q", "j", [action])
        (1, 0)
        """
        listed = _last_of_each(actions, "sessionActionId")
        if not listed:
            return 0
        observed = time.time() if observed_at is None else observed_at
        action_ids = [a["sessionActionId"] for _, a in listed]
        ending = schema.TERMINAL_STATUSES
        in_flight = [a["sessionActionId"] for _, a in listed if a.get("status") not in ending]
        # Outside the write lock.
        if bodies is not None:
            body, form = _pack_raw(bodies), "BatchGetSessionAction"
            places = [position for position, _ in listed]
        else:
            body, form = _pack_many([a for _, a in listed]), None
            places = list(range(len(listed)))
        with self._write() as db:
            key = self._key(farm_id, queue_id, job_id, db)
            assert key is not None
            stored = self._stored(db, key, "action", action_ids)
            # Only an action in flight, or one stored before, can have a snapshot (they are
            # written with its row, and cleared with it): a cold fetch of ended actions asks
            # nothing here.
            previous = self._last_progress(db, key, [*in_flight, *stored])
            seq = self._next_seq(db)
            blob = self._put_blob(db, key, body, 0, form)
            # The usual row (an ended action with no snapshot to close, its session the one in
            # its id) is only its id, at its place in the blob; the others are whole rows.
            plain: list[str | None] = [None] * (max(places) + 1)
            rows: list[tuple[Any, ...]] = []
            snapshots = []
            written = []  # the actions stored, for the memo
            for pos, (_, action) in zip(places, listed, strict=True):
                action_id = action["sessionActionId"]
                status = action.get("status")
                terminal = status in ending
                if not terminal and stored.get(action_id, (False,))[0]:
                    # An answer older than what another writer stored meanwhile (a notebook's
                    # RUNNING landing after another's SUCCEEDED): an ended action never runs
                    # again, so the stored end stands.
                    continue
                written.append(action)
                # The session is in the action's id; kept only when it says otherwise.
                # (_stored_parent's rule, inline: a call per action weighs at 100,000.)
                parent = action.get("sessionId")
                if (
                    isinstance(parent, str)
                    and parent.startswith("session-")
                    and action_id.startswith(f"sessionaction-{parent[8:]}-")
                ):
                    parent = None
                # Snapshots are of actions in flight, and of the moment one of them ends.
                if terminal and action_id not in previous:
                    if parent is None:
                        plain[pos] = action_id
                    else:
                        rows.append((action_id, parent, 1, None, pos))
                    continue
                # An ended action's state is never compared (it cannot change): not kept.
                state = None if terminal else action_state(action)
                rows.append((action_id, parent, int(terminal), state, pos))
                progress = (
                    status,
                    action.get("progressPercent"),
                    action.get("progressMessage"),
                    _iso_text(action.get("workerUpdatedAt")),
                )
                if previous.get(action_id) != progress:
                    snapshots.append((key, action_id, observed, *progress))
            head = "INSERT OR REPLACE INTO items"
            _insert_ids(
                db,
                head,
                ["?", "'action'", "value", "NULL", "1", "NULL", "?", "0", "?", "key"],
                plain,
                (key, seq, blob),
            )
            _insert_rows(
                db, head, ["?", "'action'", 0, 1, 2, 3, "?", "0", "?", 4], rows, (key, seq, blob)
            )
            if written:
                db.execute("UPDATE blobs SET live = ? WHERE id = ?", (len(written), blob))
            else:  # every one of them older than what is stored: nothing points at it
                db.execute("DELETE FROM blobs WHERE id = ?", (blob,))
            if stored:
                kept = {a["sessionActionId"] for a in written}
                self._release([b for i, (_, b) in stored.items() if i in kept], db)
            db.executemany("INSERT INTO snapshots VALUES (?, ?, ?, ?, ?, ?, ?)", snapshots)
            memo = self._written.setdefault(key, {})
            if len(memo) > (_MEMO_LIMIT if remember else _MEMO_ID_LIMIT):
                memo.clear()  # nobody built a frame for a long while: let it go
            if remember:
                memo.update({a["sessionActionId"]: (seq, a) for a in written})
            else:
                memo.update(dict.fromkeys([a["sessionActionId"] for a in written], (seq, None)))
        return len(snapshots)

    @staticmethod
    def _stored(
        db: sqlite3.Connection, key: int, kind: str, ids: Sequence[str]
    ) -> dict[str, tuple[bool, int]]:
        """Those of these items already stored: whether each ended, and its blob."""
        out: dict[str, tuple[bool, int]] = {}
        for start in range(0, len(ids), 500):  # SQLite's limit on bound parameters
            chunk = list(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for item_id, terminal, blob in db.execute(
                f"SELECT id, terminal, blob FROM items WHERE job=? AND kind=? AND id IN ({marks})",
                (key, kind, *chunk),
            ):
                out[item_id] = (bool(terminal), int(blob))
        return out

    @staticmethod
    def _put_blob(
        db: sqlite3.Connection,
        key: int,
        body: bytes,
        live: int,
        form: str | None = None,
        extra: str | None = None,
    ) -> int:
        """Store one write's packed items; its number."""
        cursor = db.execute(
            "INSERT INTO blobs (job, live, format, extra, body) VALUES (?, ?, ?, ?, ?)",
            (key, live, form, extra, body),
        )
        assert cursor.lastrowid is not None
        return int(cursor.lastrowid)

    @staticmethod
    def _release(blobs: Sequence[int], db: sqlite3.Connection) -> None:
        """Count one row fewer pointing at each of these blobs; delete those nobody points at.

        A blob given twice loses two. Called within the write that moved the rows elsewhere.
        """
        if not blobs:
            return
        counts: dict[int, int] = {}
        for blob in blobs:
            counts[blob] = counts.get(blob, 0) + 1
        db.executemany(
            "UPDATE blobs SET live = live - ? WHERE id = ?", [(n, b) for b, n in counts.items()]
        )
        db.executemany("DELETE FROM blobs WHERE id = ? AND live <= 0", [(b,) for b in counts])

    def _bodies(
        self, ids: tuple[str, str, str], places: Sequence[tuple[int, int]]
    ) -> list[dict[str, Any]]:
        """The items at these (blob, position) places, in this order; each blob decoded once."""
        wanted = sorted({blob for blob, _ in places})
        stored = []
        with self._lock:  # the bytes under the lock; decoding them (most of the time) outside
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                stored.extend(
                    self._db.execute(
                        f"SELECT id, format, extra, body FROM blobs WHERE id IN ({marks})", chunk
                    ).fetchall()
                )
        decoded: dict[int, list[dict[str, Any]]] = {
            int(blob): _unpack_many(body) if form is None else _unpack_raw(body, form, extra, ids)
            for blob, form, extra, body in stored
        }
        out = []
        for blob, pos in places:
            items = decoded.get(blob)
            if items is None or pos >= len(items):
                # A row points at a blob that is not there: the file lost it (damage).
                raise sqlite3.DatabaseError(f"cache item {blob}:{pos} is missing: file corrupt")
            out.append(items[pos])
        return out

    @staticmethod
    def _last_progress(
        db: sqlite3.Connection, key: int, ids: Sequence[str]
    ) -> dict[str, tuple[Any, ...]]:
        """The latest snapshot of each of these actions that has one."""
        out: dict[str, tuple[Any, ...]] = {}
        for start in range(0, len(ids), 500):  # SQLite's limit on bound parameters
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = db.execute(
                "SELECT session_action_id, status, progress_percent, progress_message, "
                f"worker_updated_at FROM snapshots WHERE job=? AND session_action_id IN ({marks}) "
                "ORDER BY observed_at, rowid",
                (key, *chunk),
            ).fetchall()
            for row in rows:
                out[row[0]] = tuple(row[1:])
        return out

    def actions(
        self,
        farm_id: str,
        queue_id: str,
        job_id: str,
        *,
        session_id: str | None = None,
        exclude: Container[str] = (),
    ) -> list[dict[str, Any]]:
        """Return a job's (or a session's) stored session actions.

        Parameters
        ----------
        farm_id, queue_id, job_id
            Whose.
        session_id
            Only this session's.
        exclude
            Ids not to return.

        Returns
        -------
        list of dict
            As :meth:`items`.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from deadline_nb.cache import Cache
        >>> with tempfile.TemporaryDirectory() as tmp, Cache(pathlib.Path(tmp) / "c") as c:
        ...     c.actions("f", "q", "j")
        []
        """
        return self.items("action", farm_id, queue_id, job_id, parent=session_id, exclude=exclude)

    @_recovering
    def actions_since(
        self, farm_id: str, queue_id: str, job_id: str, seq: int
    ) -> list[dict[str, Any]]:
        """Return the actions stored after write number ``seq``.

        Parameters
        ----------
        farm_id, queue_id, job_id
            Whose.
        seq
            A number from :meth:`frame`.

        Returns
        -------
        list of dict

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from deadline_nb.cache import Cache
        >>> with tempfile.TemporaryDirectory() as tmp, Cache(pathlib.Path(tmp) / "c") as c:
        ...     c.actions_since("f", "q", "j", 0)
        []
        """
        rows = self._select(
            (farm_id, queue_id, job_id),
            "SELECT blob, pos FROM items WHERE job=? AND kind='action' AND seq>?",
            seq,
        )
        return self._bodies((farm_id, queue_id, job_id), rows)

    @_recovering
    def snapshots(self, farm_id: str, queue_id: str, job_id: str) -> Any:
        """Return a job's progress snapshots as a frame of ``schema.SNAPSHOT_COLUMNS``.

        Parameters
        ----------
        farm_id, queue_id, job_id
            Whose.

        Returns
        -------
        pandas.DataFrame
            One row per observed change, oldest first.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from deadline_nb.cache import Cache
        >>> with tempfile.TemporaryDirectory() as tmp, Cache(pathlib.Path(tmp) / "c") as c:
        ...     list(c.snapshots("f", "q", "j").columns)[:2]
        ['sessionActionId', 'observedAt']
        """
        import pandas as pd

        columns: Mapping[str, Any] = schema.SNAPSHOT_COLUMNS
        rows = self._select(
            (farm_id, queue_id, job_id),
            "SELECT session_action_id, observed_at, status, progress_percent, "
            "progress_message, worker_updated_at FROM snapshots WHERE job=? "
            "ORDER BY observed_at, rowid",
        )
        if not rows:
            return schema.empty_frame(columns)
        ids, observed, status, percent, message, updated = zip(*rows, strict=True)
        data = {
            "sessionActionId": pd.array(ids, dtype=columns["sessionActionId"]),
            "observedAt": pd.to_datetime(list(observed), unit="s", utc=True).as_unit("ns"),
            "status": pd.Categorical(status, dtype=columns["status"]),
            "progressPercent": pd.array(percent, dtype=columns["progressPercent"]),
            "progressMessage": pd.array(message, dtype=columns["progressMessage"]),
            "workerUpdatedAt": pd.to_datetime(
                pd.Series(updated, dtype=object), utc=True, format="ISO8601"
            ).dt.as_unit("ns"),
        }
        return pd.DataFrame(data)

    # ---- listings and frames

    @_recovering
    def listing(self, farm_id: str, queue_id: str, job_id: str, scope: str = "") -> str | None:
        """Return the token stored when a job (``scope=""``) or session was completely listed.

        Parameters
        ----------
        farm_id, queue_id, job_id
            Whose.
        scope
            ``""`` for the job, or a session id.

        Returns
        -------
        str or None
            None when it was never completely listed.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from deadline_nb.cache import Cache
        >>> with tempfile.TemporaryDirectory() as tmp, Cache(pathlib.Path(tmp) / "c") as c:
        ...     c.set_listing("f", "q", "j", "", "done"); c.listing("f", "q", "j")
        'done'
        """
        rows = self._select(
            (farm_id, queue_id, job_id),
            "SELECT token FROM listings WHERE job=? AND scope=?",
            scope,
        )
        return str(rows[0][0]) if rows else None

    @_recovering
    def listings(self, farm_id: str, queue_id: str, job_id: str) -> dict[str, str]:
        """Return every stored listing token of a job, by scope.

        Parameters
        ----------
        farm_id, queue_id, job_id
            Whose.

        Returns
        -------
        dict

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from deadline_nb.cache import Cache
        >>> with tempfile.TemporaryDirectory() as tmp, Cache(pathlib.Path(tmp) / "c") as c:
        ...     c.listings("f", "q", "j")
        {}
        """
        rows = self._select(
            (farm_id, queue_id, job_id), "SELECT scope, token FROM listings WHERE job=?"
        )
        return {str(scope): str(token) for scope, token in rows}

    @_recovering
    def set_listing(
        self, farm_id: str, queue_id: str, job_id: str, scope: str, token: str | None
    ) -> None:
        """Record (or, with ``token=None``, forget) that a job or session was completely listed.

        Parameters
        ----------
        farm_id, queue_id, job_id
            Whose.
        scope
            ``""`` for the job, or a session id.
        token
            What must still hold for the listing to be current (the job's ``updatedAt``).

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from deadline_nb.cache import Cache
        >>> with tempfile.TemporaryDirectory() as tmp, Cache(pathlib.Path(tmp) / "c") as c:
        ...     c.set_listing("f", "q", "j", "session-1", "ended")
        ...     c.set_listing("f", "q", "j", "session-1", None)
        ...     c.listing("f", "q", "j", "session-1") is None
        True
        """
        with self._write() as db:
            key = self._key(farm_id, queue_id, job_id, db)
            if token is None:
                db.execute("DELETE FROM listings WHERE job=? AND scope=?", (key, scope))
            else:
                db.execute(
                    "INSERT OR REPLACE INTO listings VALUES (?, ?, ?, ?)",
                    (key, scope, token, time.time()),
                )

    @_recovering
    def set_listings(
        self, farm_id: str, queue_id: str, job_id: str, tokens: Mapping[str, str]
    ) -> None:
        """Record many complete listings at once (one transaction), as :meth:`set_listing`.

        Parameters
        ----------
        farm_id, queue_id, job_id
            Whose.
        tokens
            Scope -> token.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from deadline_nb.cache import Cache
        >>> with tempfile.TemporaryDirectory() as tmp, Cache(pathlib.Path(tmp) / "c") as c:
        ...     c.set_listings("f", "q", "j", {"session-1": "ended", "session-2": "ended"})
        ...     sorted(c.listings("f", "q", "j"))
        ['session-1', 'session-2']
        """
        now = time.time()
        with self._write() as db:
            key = self._key(farm_id, queue_id, job_id, db)
            _insert_rows(
                db,
                "INSERT OR REPLACE INTO listings",
                ["?", 0, 1, "?"],
                list(tokens.items()),
                (key, now),
            )

    @_recovering
    def frame(self, farm_id: str, queue_id: str, job_id: str) -> tuple[int, Any] | None:
        """Return ``(seq, frame)``: the stored session-action frame and the writes it covers.

        Parameters
        ----------
        farm_id, queue_id, job_id
            Whose.

        Returns
        -------
        tuple or None
            None when there is none, or it cannot be read (it is then rebuilt by the caller).

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from deadline_nb.cache import Cache
        >>> with tempfile.TemporaryDirectory() as tmp, Cache(pathlib.Path(tmp) / "c") as c:
        ...     c.frame("f", "q", "j") is None
        True
        """
        rows = self._select(
            (farm_id, queue_id, job_id), "SELECT seq, parquet FROM frames WHERE job=?"
        )
        if not rows:
            return None
        frame = _read_frame(rows[0][1])
        return None if frame is None else (int(rows[0][0]), frame)

    @_recovering
    def frame_basis(
        self,
        farm_id: str,
        queue_id: str,
        job_id: str,
        *,
        in_memory: Mapping[str, Mapping[str, Any]] | None = None,
        covered: Container[str] = (),
    ) -> FrameBasis:
        """Read, in one transaction, the stored frame and the actions written since it.

        Everything comes from one instant of the file, whoever else writes meanwhile: a frame
        built from it agrees with the raw responses stored at :attr:`FrameBasis.seq`.

        Parameters
        ----------
        farm_id, queue_id, job_id
            Whose.
        in_memory
            Actions the caller fetched through this object (``sessionActionId`` -> dict). A
            stored row that is exactly one of them (this object wrote that very dict, and nobody
            wrote the row since) is taken from here instead of being decoded again.
        covered
            Actions the caller fetched through this object, stored with ``remember=False``,
            and holds in a frame of its own: a stored row that is exactly what this object
            wrote for one of them is not decoded but named in :attr:`FrameBasis.mine`.

        Returns
        -------
        FrameBasis

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from deadline_nb.cache import Cache
        >>> action = {"sessionActionId": "sessionaction-0123456789abcdef0123456789abcdef-0",
        ...           "status": "SUCCEEDED"}
        >>> with tempfile.TemporaryDirectory() as tmp, Cache(pathlib.Path(tmp) / "c") as c:
        ...     _ = c.put_actions("f", "q", "j", [action])
        ...     basis = c.frame_basis("f", "q", "j")
        >>> basis.seq, basis.frame, [a["status"] for a in basis.changed]
        (1, None, ['SUCCEEDED'])
        """
        ids = (farm_id, queue_id, job_id)
        key = self._key(*ids)
        if key is None:
            return FrameBasis(self.seq, None, [])
        with self._lock:
            memo = self._written.pop(key, {})
            db = self._db
            # One read transaction: in WAL mode every SELECT in it sees the same snapshot, so
            # the write number, the stored frame and the rows all describe one instant.
            db.execute("BEGIN")
            try:
                row = db.execute("SELECT value FROM meta WHERE key = 'seq'").fetchone()
                seq = 0 if row is None else int(row[0])
                kept = db.execute("SELECT seq, parquet FROM frames WHERE job=?", (key,)).fetchone()
                frame = None if kept is None else _read_frame(kept[1])
                since = int(kept[0]) if frame is not None else -1
                rows, ours = self._others(db, key, since, memo, covered)
                mine = in_memory or {}
                changed: list[Mapping[str, Any] | None] = []
                places = []
                for action_id, row_seq, blob, pos in rows:
                    written = memo.get(action_id)
                    if (
                        written is not None
                        and written[0] == row_seq
                        and written[1] is not None
                        and mine.get(action_id) is written[1]
                    ):
                        changed.append(written[1])  # the caller's own dict: not decoded
                        continue
                    changed.append(None)
                    places.append((blob, pos))
                # In the same transaction: the blobs of this instant, whoever writes meanwhile.
                decoded = iter(self._bodies(ids, places))
            finally:
                db.execute("COMMIT")
        return FrameBasis(
            seq,
            frame,
            [a if a is not None else next(decoded) for a in changed],
            frozenset(ours),
        )

    @staticmethod
    def _others(
        db: sqlite3.Connection,
        key: int,
        since: int,
        memo: Mapping[str, tuple[int, Mapping[str, Any] | None]],
        covered: Container[str],
    ) -> tuple[list[Any], set[str]]:
        """The job's action rows written after ``since``: (id, seq, blob, pos) of each, but
        those of ``memo`` still as this object wrote them, kept by the caller (``covered``,
        ``remember=False``), which are only named (the second item).

        A write's number is the file's (see _next_seq): a row bearing one of this object's
        numbers is exactly what it wrote then. When every row of those numbers is one the
        memo names, the rest are only the others' rows, and asking SQLite for just them (one
        step) spares reading a row per action of a cold fetch (100,000 of them) in Python.
        """
        ours: set[str] = set()
        if memo and _json_rows() and all(w[1] is None for w in memo.values()):
            numbers = json.dumps(sorted({w[0] for w in memo.values()}))
            mark = "seq IN (SELECT value FROM json_each(?))"
            kept = db.execute(
                f"SELECT count(*) FROM items WHERE job=? AND kind='action' AND seq>? AND {mark}",
                (key, since, numbers),
            ).fetchone()[0]
            if kept == len(memo) and all(action_id in covered for action_id in memo):
                rows = db.execute(
                    "SELECT id, seq, blob, pos FROM items WHERE job=? AND kind='action' "
                    f"AND seq>? AND NOT {mark}",
                    (key, since, numbers),
                ).fetchall()
                return rows, set(memo)
        rows = db.execute(
            "SELECT id, seq, blob, pos FROM items WHERE job=? AND kind='action' AND seq>?",
            (key, since),
        ).fetchall()
        others = []
        for row in rows:
            written = memo.get(row[0])
            if written is not None and written == (row[1], None) and row[0] in covered:
                ours.add(row[0])  # in the caller's own frame
                continue
            others.append(row)
        return others, ours

    @_recovering
    def put_frame(self, farm_id: str, queue_id: str, job_id: str, seq: int, frame: Any) -> bool:
        """Store a job's session-action frame, if it still covers every write up to ``seq``.

        The frame is stored only when nothing was written to the file after ``seq`` (checked
        in the same transaction as the write): a frame is never stored under a number newer
        than the responses it was built from.

        Parameters
        ----------
        farm_id, queue_id, job_id
            Whose.
        seq
            :attr:`FrameBasis.seq` of what the frame was built from.
        frame
            The frame.

        Returns
        -------
        bool
            Whether it was stored (False: someone wrote since; the next build merges it).

        Examples
        --------
        >>> import tempfile, pathlib, deadline_nb as dnb
        >>> from deadline_nb.cache import Cache
        >>> with tempfile.TemporaryDirectory() as tmp, Cache(pathlib.Path(tmp) / "c") as c:
        ...     c.put_frame("f", "q", "j", 0, dnb.session_action_frame([]))
        ...     len(c.frame("f", "q", "j")[1])
        True
        0
        """
        buffer = io.BytesIO()
        frame.to_parquet(buffer, compression="zstd")
        with self._write() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'seq'").fetchone()
            if (0 if row is None else int(row[0])) != seq:
                return False
            key = self._key(farm_id, queue_id, job_id, db)
            db.execute(
                "INSERT OR REPLACE INTO frames VALUES (?, ?, ?)", (key, seq, buffer.getvalue())
            )
        return True

    @property
    @_recovering
    def seq(self) -> int:
        """The number of the latest write to the file (by any process).

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from deadline_nb.cache import Cache
        >>> with tempfile.TemporaryDirectory() as tmp, Cache(pathlib.Path(tmp) / "c") as c:
        ...     c.seq
        0
        """
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'seq'").fetchone()
        return 0 if row is None else int(row[0])

    # ---- session logs

    @_recovering
    def log_streams(self, farm_id: str, queue_id: str, job_id: str) -> dict[str, LogStream]:
        """Return what is stored of a job's session log streams, by session id.

        Parameters
        ----------
        farm_id, queue_id, job_id
            Whose.

        Returns
        -------
        dict
            Session id -> :class:`LogStream`; sessions never read are absent.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from deadline_nb.cache import Cache
        >>> with tempfile.TemporaryDirectory() as tmp, Cache(pathlib.Path(tmp) / "c") as c:
        ...     c.log_streams("f", "q", "j")
        {}
        """
        rows = self._select(
            (farm_id, queue_id, job_id),
            "SELECT session, complete, missing, token, read_at, events, pages, last_ms, at_last "
            "FROM log_streams WHERE job=?",
        )
        return {
            str(row[0]): LogStream(
                complete=bool(row[1]),
                missing=bool(row[2]),
                token=row[3],
                read_at=float(row[4]),
                events=int(row[5]),
                pages=int(row[6]),
                last_ms=None if row[7] is None else int(row[7]),
                at_last=int(row[8]),
            )
            for row in rows
        }

    @_recovering
    def put_log_page(
        self,
        farm_id: str,
        queue_id: str,
        job_id: str,
        session_id: str,
        events: Sequence[Mapping[str, Any]],
        *,
        token: str | None,
        complete: bool,
        missing: bool = False,
        restart: bool = False,
        read_at: float | None = None,
    ) -> bool:
        """Store one page of a session's log stream and where its reading stands, together.

        The page and the token to resume from are committed in one transaction: a fetch killed
        at any moment leaves a stream that the next fetch continues exactly where it stopped.

        Parameters
        ----------
        farm_id, queue_id, job_id
            Whose.
        session_id
            The session (its stream's name).
        events
            The page's events, as GetLogEvents gives them (``timestamp``, ``message``,
            ``ingestionTime``), in stream order; may be empty.
        token
            The ``nextForwardToken`` to resume from after this page.
        complete
            The stream is read to its end and will not change (an ended session's).
        missing
            The stream does not exist.
        restart
            Forget what was stored of this stream first (a read from its head again).
        read_at
            When the token was received (epoch seconds); default now.

        Returns
        -------
        bool
            Whether a message had a lone surrogate (not text UTF-8 can hold), stored as U+FFFD.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from deadline_nb.cache import Cache
        >>> page = [{"timestamp": 1795730400000, "message": "Output:", "ingestionTime": 1}]
        >>> with tempfile.TemporaryDirectory() as tmp, Cache(pathlib.Path(tmp) / "c") as c:
        ...     c.put_log_page("f", "q", "j", "session-1", page, token="t", complete=True)
        ...     c.log_streams("f", "q", "j")["session-1"].events
        False
        1
        """
        body, stamps, cleaned = _pack_log_page(events)  # outside the write lock
        when = time.time() if read_at is None else read_at
        with self._write() as db:
            key = self._key(farm_id, queue_id, job_id, db)
            assert key is not None
            if restart:
                db.execute("DELETE FROM log_pages WHERE job=? AND session=?", (key, session_id))
                db.execute("DELETE FROM log_streams WHERE job=? AND session=?", (key, session_id))
            row = db.execute(
                "SELECT events, pages, last_ms, at_last FROM log_streams WHERE job=? AND session=?",
                (key, session_id),
            ).fetchone()
            count, pages, last_ms, at_last = row if row is not None else (0, 0, None, 0)
            if stamps:
                end = stamps[-1]
                same = sum(1 for t in stamps if t == end)
                if same == len(stamps) and last_ms == end:
                    same += at_last
                last_ms, at_last = end, same
                db.execute(
                    "INSERT INTO log_pages VALUES (?, ?, ?, ?, ?)",
                    (key, session_id, pages, len(stamps), body),
                )
                pages += 1
            db.execute(
                "INSERT OR REPLACE INTO log_streams VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    session_id,
                    int(complete),
                    int(missing),
                    token,
                    when,
                    count + len(stamps),
                    pages,
                    last_ms,
                    at_last,
                ),
            )
        return cleaned

    @_recovering
    def log_columns(
        self,
        farm_id: str,
        queue_id: str,
        job_id: str,
        session_ids: Sequence[str] | None = None,
    ) -> LogColumns:
        """Return the stored events of a job's (or some sessions') log streams, in columns.

        Parameters
        ----------
        farm_id, queue_id, job_id
            Whose.
        session_ids
            Only these sessions (default: every session stored). A session with no stored
            events is not in the result.

        Returns
        -------
        LogColumns

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from deadline_nb.cache import Cache
        >>> page = [{"timestamp": 1795730400000 + i, "message": m, "ingestionTime": 1}
        ...         for i, m in enumerate(["Output:", "done"])]
        >>> with tempfile.TemporaryDirectory() as tmp, Cache(pathlib.Path(tmp) / "c") as c:
        ...     _ = c.put_log_page("f", "q", "j", "session-1", page, token="t", complete=True)
        ...     stored = c.log_columns("f", "q", "j")
        >>> stored.session_ids, stored.messages.to_pylist()
        (['session-1'], ['Output:', 'done'])
        """
        import numpy as np
        import pyarrow as pa

        wanted = None if session_ids is None else set(session_ids)
        rows = self._select(
            (farm_id, queue_id, job_id),
            "SELECT session, body FROM log_pages WHERE job=? ORDER BY session, page",
        )
        names: list[str] = []
        counts: list[int] = []
        stamps, ingested, lengths, data = [], [], [], []
        for session, body in rows:
            if wanted is not None and session not in wanted:
                continue
            ts, ing, size, text = _unpack_log_page(body)
            if not names or names[-1] != session:
                names.append(str(session))
                counts.append(0)
            counts[-1] += len(ts)
            stamps.append(ts)
            ingested.append(ing)
            lengths.append(size)
            data.append(text)
        empty = np.zeros(0, dtype=np.int64)
        size_all = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int32)
        valid = size_all >= 0
        offsets = np.zeros(len(size_all) + 1, dtype=np.int64)
        np.cumsum(np.where(valid, size_all, 0), out=offsets[1:])
        blob = b"".join(data)
        # int32 offsets while they fit (Arrow's usual strings), int64 past 2 GB of text.
        kind = pa.string() if offsets[-1] < 2**31 - 1 else pa.large_string()
        width = np.int32 if kind == pa.string() else np.int64
        mask = None if valid.all() else pa.array(valid).buffers()[1]
        messages = pa.Array.from_buffers(
            kind,
            len(size_all),
            [mask, pa.py_buffer(offsets.astype(width)), pa.py_buffer(blob)],
            null_count=int((~valid).sum()),
        )
        return LogColumns(
            names,
            np.asarray(counts, dtype=np.int64),
            np.concatenate(stamps) if stamps else empty,
            np.concatenate(ingested) if ingested else empty,
            messages,
        )

    @_recovering
    def aggregation(self, farm_id: str, request: str) -> list[dict[str, Any]] | None:
        """Return the statistics stored for a usage aggregation, or None when none are.

        Parameters
        ----------
        farm_id
            The farm.
        request
            The request's canonical JSON, as given to :meth:`put_aggregation`.

        Returns
        -------
        list of dict or None
            The ``statistics`` items as stored (times as ISO 8601 text).

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from deadline_nb.cache import Cache
        >>> with tempfile.TemporaryDirectory() as tmp, Cache(pathlib.Path(tmp) / "c") as c:
        ...     c.put_aggregation("farm-1", '{"groupBy":["USER_ID"]}', [{"count": 2}])
        ...     c.aggregation("farm-1", '{"groupBy":["USER_ID"]}'), c.aggregation("farm-1", "{}")
        ([{'count': 2}], None)
        """
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM aggregations WHERE farm_id=? AND request=?", (farm_id, request)
            ).fetchone()
        if row is None:
            return None
        items: list[dict[str, Any]] = json.loads(_decompress(row[0]))
        return items

    @_recovering
    def put_aggregation(
        self, farm_id: str, request: str, statistics: Sequence[Mapping[str, Any]]
    ) -> None:
        """Store a usage aggregation's statistics (replacing any stored for the same request).

        Parameters
        ----------
        farm_id
            The farm.
        request
            The request's canonical JSON: the key to read them back with.
        statistics
            The ``statistics`` items of every page; datetimes are stored as ISO 8601 text.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from deadline_nb.cache import Cache
        >>> with tempfile.TemporaryDirectory() as tmp, Cache(pathlib.Path(tmp) / "c") as c:
        ...     c.put_aggregation("farm-1", "{}", [])
        ...     c.aggregation("farm-1", "{}")
        []
        """
        body = _compress(json.dumps(list(statistics), default=_encode).encode())
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO aggregations VALUES (?, ?, ?, ?)",
                (farm_id, request, time.time(), body),
            )

    @_recovering
    def clear(
        self, farm_id: str | None = None, queue_id: str | None = None, job_id: str | None = None
    ) -> None:
        """Forget everything stored (about one farm, queue or job when given).

        Parameters
        ----------
        farm_id, queue_id, job_id
            What to forget; all of it when none is given.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from deadline_nb.cache import Cache
        >>> with tempfile.TemporaryDirectory() as tmp, Cache(pathlib.Path(tmp) / "c") as c:
        ...     c.put("job", "f", "q", "j", [{"jobId": "j"}], "jobId")
        ...     c.clear(job_id="j")
        ...     c.items("job", "f", "q", "j")
        1
        []
        """
        where = []
        args = []
        for column, value in (("farm_id", farm_id), ("queue_id", queue_id), ("job_id", job_id)):
            if value is not None:
                where.append(f"{column}=?")
                args.append(value)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        with self._write() as db:
            # A new write number: a frame built from what was read before this is not stored.
            self._next_seq(db)
            self._written.clear()
            keys = f"SELECT key FROM jobs{clause}"
            for table in (
                "items",
                "blobs",
                "listings",
                "snapshots",
                "frames",
                "log_streams",
                "log_pages",
            ):
                db.execute(f"DELETE FROM {table} WHERE job IN ({keys})", args)
            # Usage aggregations belong to a farm, not a job: forgotten with their farm (or all).
            if queue_id is None and job_id is None:
                farm_clause = " WHERE farm_id=?" if farm_id is not None else ""
                db.execute(f"DELETE FROM aggregations{farm_clause}", args)


class Writer:
    """Stores session actions in a :class:`Cache` from a thread of its own.

    The fetch's calling thread hands each batch over and goes back to the network at once:
    packing, compressing and the SQLite write happen here, and the batches that come within
    ``gather`` seconds are written together (up to ``_BLOB_ITEMS`` actions, one transaction,
    one blob), so a fetch makes few, big writes. Every write is committed at once: a fetch
    killed at any moment loses only the batches still in line (at most ``gather`` seconds'
    worth, and the backlog), which the rerun fetches again.

    Parameters
    ----------
    cache
        Where to store.
    farm_id, queue_id, job_id
        Whose actions.
    backlog
        Batches that may wait in line before :meth:`put_actions` waits for the writer.
    remember
        As :meth:`Cache.put_actions`'s.
    gather
        Seconds a write waits for more batches (up to ``_BLOB_ITEMS`` actions) before it is
        committed: the most a kill loses beyond what waits in line.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from deadline_nb.cache import Cache, Writer
    >>> action = {"sessionActionId": "sessionaction-0123456789abcdef0123456789abcdef-0",
    ...           "status": "SUCCEEDED"}
    >>> with tempfile.TemporaryDirectory() as tmp, Cache(pathlib.Path(tmp) / "c") as c:
    ...     with Writer(c, "f", "q", "j") as writer:
    ...         writer.put_actions([action])
    ...     c.count("action", "f", "q", "j")
    1
    """

    def __init__(
        self,
        cache: Cache,
        farm_id: str,
        queue_id: str,
        job_id: str,
        *,
        backlog: int = 64,
        remember: bool = True,
        gather: float = _GATHER,
    ) -> None:
        self.cache = cache
        self.remember = remember
        self.gather = gather
        self.ids = (farm_id, queue_id, job_id)
        self.error: BaseException | None = None
        self._line: queue.Queue[tuple[list[Mapping[str, Any]], bytes | None, float] | None] = (
            queue.Queue(backlog)
        )
        self._thread = threading.Thread(target=self._run, name="deadline-nb-cache", daemon=True)
        self._thread.start()

    def put_actions(self, actions: Sequence[Mapping[str, Any]], body: bytes | None = None) -> None:
        """Queue full session actions to be stored (see :meth:`Cache.put_actions`).

        ``body``: the raw BatchGetSessionAction body they came in, if known.

        Raises the error the writer met on an earlier batch, if any: the fetch stops rather
        than fetch what it cannot keep.
        """
        if self.error is not None:
            raise self.error
        if actions:
            self._line.put((list(actions), body, time.time()))

    def _run(self) -> None:
        done = False
        while not done:
            first = self._line.get()
            if first is None:
                return
            batch, observed = list(first[0]), first[2]
            bodies: list[bytes] | None = [first[1]] if first[1] is not None else None
            # What else comes within _GATHER goes into the same write: a write (and its
            # commit) per 1,000 actions rather than per batch or two.
            until = time.monotonic() + self.gather
            while len(batch) < _BLOB_ITEMS:
                try:
                    more = self._line.get(timeout=max(0.0, until - time.monotonic()))
                except queue.Empty:
                    break
                if more is None:
                    done = True
                    break
                batch.extend(more[0])
                observed = more[2]
                # Raw bodies only when every batch of the write has one.
                bodies = [*bodies, more[1]] if bodies is not None and more[1] is not None else None
            if self.error is not None:
                continue  # drain the line without writing after a failure
            try:
                self.cache.put_actions(
                    *self.ids, batch, observed_at=observed, bodies=bodies, remember=self.remember
                )
            except BaseException as error:  # handed to the fetch's thread, which raises it
                self.error = error

    def close(self) -> None:
        """Write what is in line, stop the thread, and raise the error it met, if any."""
        if self._thread.is_alive():
            self._line.put(None)
            self._thread.join()
        if self.error is not None:
            raise self.error

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
