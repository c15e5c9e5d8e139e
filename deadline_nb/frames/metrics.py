"""Worker host metrics: the agent's metrics lines -> a metrics frame; joined to session actions.

Pure pandas and NumPy: no client, no network. :func:`metrics_frame` reads the lines of worker
logs, :func:`resource_frame` joins the samples to a job's session actions (what memory and CPU
each action saw on its worker).

What the worker agent writes (checked in aws-deadline/deadline-cloud-worker-agent)
----------------------------------------------------------------------------------
- Where: the worker log, CloudWatch Logs group ``/aws/deadline/<farmId>/<fleetId>``, one stream
  per worker named by the worker id (``docs/logging.md``, "Worker logs"; ``GetWorker``'s and
  ``GetSession``'s ``workerLog`` ``log`` member names it in botocore's ``deadline`` model).
- Who: ``src/deadline_worker_agent/metrics.py``, ``HostMetricsLogger``: a thread that, every
  ``interval_s`` seconds, logs ``MetricsLogEvent(subtype=MetricsLogEventSubtype.SYSTEM,
  metrics=stats)`` at INFO. Every figure is text (``str(...)``): ``cpu-usage-percent``
  (``psutil.cpu_percent()``), ``memory-total-bytes``, ``memory-used-bytes`` (total less
  available), ``memory-used-percent``, ``swap-used-bytes``, ``total-disk-bytes``,
  ``total-disk-used-bytes``, ``total-disk-used-percent`` (``round(used / total, 1)``: a
  fraction, despite its name), ``user-disk-available-bytes``,
  ``network-sent-bytes-per-second``, ``network-recv-bytes-per-second``,
  ``disk-read-bytes-per-second``, ``disk-write-bytes-per-second``; the network and disk rates
  are ``NOT_AVAILABLE`` when psutil has no counters, the disk rates ``NOT_SUPPORTED`` where
  psutil gives no byte counts. On hosts where ``nvidia-smi`` answers, also
  ``gpu-utilization-percent``, ``gpu-memory-used-mib``, ``gpu-memory-total-mib``,
  ``gpu-memory-used-percent``, ``gpu-memory-utilization-percent``. A collection that fails logs
  nothing for that interval.
- How often: ``host_metrics_logging_interval_seconds``, default 60 (``config/settings.py``,
  ``WorkerSettings``; :data:`AGENT_INTERVAL_SECONDS`); ``host_metrics_logging`` (default true)
  turns it off, and customer-managed hosts may not send worker logs at all.
- The line: ``src/deadline_worker_agent/log_messages.py``. ``MetricsLogEvent`` has ``ti`` 📊,
  ``type`` ``Metrics``, ``subtype`` ``System``; its message is ``"<name> <value>"`` pairs joined
  by spaces, in the order above. ``LogRecordStringTranslationFilter`` also builds the
  structured form, ``json.dumps({"level": ..., "ti": ..., "type": ..., "subtype": ...,
  **metrics}, ensure_ascii=False)``. The CloudWatch stream always gets the structured form
  (``log_sync/cloudwatch.py``, ``stream_cloudwatch_logs``: format ``%(json)s``; the event's
  timestamp is ``int(record.created * 1000)``), so a CloudWatch event looks like::

      {"level": "INFO", "ti": "📊", "type": "Metrics", "subtype": "System",
       "cpu-usage-percent": "12.5", "memory-total-bytes": "68719476736", ...}

  The local files and the console (``startup/entrypoint.py``, ``_configure_base_logging``) use
  ``[%(asctime)s][%(levelname)-8s] %(desc)s%(message)s`` (``desc`` is ``"📊 Metrics.System 📊 "``),
  or ``[%(asctime)s] %(json)s`` with ``structured_logs``. :func:`parse_metrics_line` reads all
  three; the time of a sample is the event's timestamp.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final

import numpy as np
import pandas as pd

from .. import schema
from ..errors import Problems, bad_argument_type
from .access import NAT, effective_ends, utc_ns

__all__ = [
    "AGENT_FIGURES",
    "AGENT_INTERVAL_SECONDS",
    "NOT_AVAILABLE",
    "metrics_frame",
    "metrics_frame_from_arrays",
    "parse_metrics_line",
    "resource_frame",
]

#: The agent's default ``host_metrics_logging_interval_seconds``.
AGENT_INTERVAL_SECONDS: Final[float] = 60.0

#: What the agent writes for a figure it could not measure.
NOT_AVAILABLE: Final[frozenset[str]] = frozenset({"NOT_AVAILABLE", "NOT_SUPPORTED"})

#: The agent's figure names -> the metrics frame's columns (:data:`schema.METRIC_COLUMNS`).
AGENT_FIGURES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "cpu-usage-percent": "cpuPercent",
        "memory-total-bytes": "memTotalBytes",
        "memory-used-bytes": "memUsedBytes",
        "memory-used-percent": "memUsedPercent",
        "swap-used-bytes": "swapUsedBytes",
        "total-disk-bytes": "diskTotalBytes",
        "total-disk-used-bytes": "diskUsedBytes",
        "total-disk-used-percent": "diskUsedPercent",
        "user-disk-available-bytes": "diskAvailableBytes",
        "network-sent-bytes-per-second": "netSentBytesPerSecond",
        "network-recv-bytes-per-second": "netRecvBytesPerSecond",
        "disk-read-bytes-per-second": "diskReadBytesPerSecond",
        "disk-write-bytes-per-second": "diskWriteBytesPerSecond",
        "gpu-utilization-percent": "gpuPercent",
        "gpu-memory-used-mib": "gpuMemUsedMiB",
        "gpu-memory-total-mib": "gpuMemTotalMiB",
        "gpu-memory-used-percent": "gpuMemUsedPercent",
        "gpu-memory-utilization-percent": "gpuMemUtilizationPercent",
    }
)

_ID_COLUMNS: Final = ("farmId", "fleetId", "workerId", "timestamp")
_FIGURE_COLUMNS: Final = tuple(c for c in schema.METRIC_COLUMNS if c not in _ID_COLUMNS)
_INT_COLUMNS: Final = frozenset(
    c for c in _FIGURE_COLUMNS if isinstance(schema.METRIC_COLUMNS[c], pd.Int64Dtype)
)
_STRUCTURE_KEYS: Final = frozenset({"level", "ti", "type", "subtype", "exception"})
# The unstructured form: "... Metrics.System 📊 name value name value ..."
_TEXT_LINE: Final = re.compile(r"(?:^|\s)Metrics\.System\s+(?:\S*[^\x00-\x7f]\S*\s+)?(.*)$")
_NAME: Final = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)+")
_MS_PER_NS: Final = 1_000_000


def parse_metrics_line(message: str) -> dict[str, str] | None:
    """Return the figures of one host-metrics line of a worker log, or None for another line.

    Parameters
    ----------
    message
        A worker log line: the structured (JSON) form CloudWatch holds, or the agent's
        unstructured form (``... 📊 Metrics.System 📊 cpu-usage-percent 12.5 ...``).

    Returns
    -------
    dict or None
        The agent's figure name -> its text, as written (``"NOT_AVAILABLE"`` included); None
        when the line is not a host-metrics line.

    Raises
    ------
    ValueError
        When the line is a host-metrics line that cannot be read (cut short, not JSON, names
        without values), saying why.

    Examples
    --------
    >>> parse_metrics_line('{"level": "INFO", "ti": "📊", "type": "Metrics", '
    ...                    '"subtype": "System", "cpu-usage-percent": "12.5"}')
    {'cpu-usage-percent': '12.5'}
    >>> parse_metrics_line("[2026-01-01 10:00:00,000][INFO    ] 📊 Metrics.System 📊 "
    ...                    "cpu-usage-percent 3.0 swap-used-bytes NOT_AVAILABLE")
    {'cpu-usage-percent': '3.0', 'swap-used-bytes': 'NOT_AVAILABLE'}
    >>> parse_metrics_line('{"level": "INFO", "msg": "Worker Agent starting"}') is None
    True
    """
    if "Metrics" not in message:
        return None
    brace = message.find("{")
    if brace >= 0 and ('"Metrics"' in message or '"type"' in message):
        try:
            record = json.loads(message[brace:])
        except ValueError:
            if '"type": "Metrics"' in message or '"type":"Metrics"' in message:
                raise ValueError("a host-metrics line that is not valid JSON") from None
            return None
        if not isinstance(record, dict) or record.get("type") != "Metrics":
            return None
        figures = {k: v for k, v in record.items() if k not in _STRUCTURE_KEYS}
        if not figures:
            raise ValueError("a host-metrics line with no figures")
        if all(isinstance(v, str) for v in figures.values()):
            return figures
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in figures.items()}
    found = _TEXT_LINE.search(message)
    if found is None:
        return None
    words = found.group(1).split()
    if not words or len(words) % 2 or not all(_NAME.fullmatch(w) for w in words[::2]):
        raise ValueError("a host-metrics line whose names and values do not pair up")
    return dict(zip(words[::2], words[1::2], strict=True))


def _events_by_worker(events: Any, worker_id: str | None) -> list[tuple[str, list[Any]]]:
    """The input's events grouped by worker (stream), in the forms :func:`metrics_frame` takes."""
    if isinstance(events, Mapping) and "events" not in events:
        out = []
        for name, value in events.items():
            out.append((str(name), _flatten(value)))
        return out
    grouped: dict[str, list[Any]] = {}
    for event in _flatten(events):
        stream = event.get("logStreamName") if isinstance(event, Mapping) else None
        name = stream if isinstance(stream, str) else worker_id
        if name is None:
            raise ValueError(
                "An event names no worker (no logStreamName): pass worker_id=..., or a mapping "
                "{worker id: events}."
            )
        grouped.setdefault(name, []).append(event)
    return list(grouped.items())


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, Mapping):
        return list(value.get("events") or [])
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise bad_argument_type("events", "worker log events", value)
    out: list[Any] = []
    for item in value:
        if isinstance(item, Mapping) and "events" in item and "message" not in item:
            out.extend(item.get("events") or [])
        else:
            out.append(item)
    return out


def _ms_of(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        return None
    if stamp is pd.NaT:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return int(stamp.value // _MS_PER_NS)


def metrics_frame(
    events: Any,
    *,
    farm_id: str | None = None,
    fleet_id: str | Mapping[str, str] | None = None,
    worker_id: str | None = None,
) -> pd.DataFrame:
    """Turn worker log events into a metrics frame: one row per host-metrics sample.

    Parameters
    ----------
    events
        CloudWatch Logs events of worker streams, as boto3 or the AWS CLI give them: a mapping
        ``{worker id: events}`` (events: a list, a GetLogEvents response, or a list of
        responses), or a list of events (FilterLogEvents events name their worker stream in
        ``logStreamName``; give ``worker_id`` for GetLogEvents events). Lines that are not
        host metrics (the agent's other lines) are skipped.
    farm_id, fleet_id
        Fill ``farmId`` and ``fleetId`` (the events do not carry them); ``fleet_id`` may also
        be a mapping ``{worker id: fleet id}``.
    worker_id
        The worker of events that name none.

    Returns
    -------
    pandas.DataFrame
        The columns of :data:`deadline_nb.schema.METRIC_COLUMNS`, sorted by ``workerId`` then
        ``timestamp``; NA where the agent wrote ``NOT_AVAILABLE`` or did not write the figure.

    Warns
    -----
    DataWarning
        Once per kind of problem (a metrics line that cannot be read, dropped; a figure that is
        not a number, kept as NA), naming the lines concerned (worker and time).

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> line = ('{"level": "INFO", "ti": "📊", "type": "Metrics", "subtype": "System", '
    ...         '"cpu-usage-percent": "85.0", "memory-total-bytes": "68719476736", '
    ...         '"memory-used-bytes": "34359738368", "memory-used-percent": "50.0"}')
    >>> df = dnb.metrics_frame({"worker-1": [{"timestamp": 1795730400000, "message": line}]})
    >>> df[["workerId", "cpuPercent", "memUsedBytes", "swapUsedBytes"]]
       workerId  cpuPercent  memUsedBytes  swapUsedBytes
    0  worker-1        85.0   34359738368           <NA>
    """
    names: list[str] = []
    counts: list[int] = []
    stamps: list[Any] = []
    messages: list[Any] = []
    for name, items in _events_by_worker(events, worker_id):
        names.append(name)
        counts.append(len(items))
        for event in items:
            if isinstance(event, Mapping):
                stamps.append(event.get("timestamp"))
                messages.append(event.get("message"))
            else:
                stamps.append(None)
                messages.append(None)
    return _build(names, counts, stamps, messages, farm_id, fleet_id, stacklevel=3)


def metrics_frame_from_arrays(
    worker_ids: Sequence[str],
    counts: Sequence[int] | np.ndarray,
    timestamps: np.ndarray,
    messages: Any,
    *,
    farm_id: str | None = None,
    fleet_id: str | Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """:func:`metrics_frame` of events already in columns (what the cache keeps of streams).

    ``counts[i]`` events of ``worker_ids[i]`` come one after another; ``timestamps`` are epoch
    ms, ``messages`` text (a list, or an Arrow array).

    Examples
    --------
    >>> import numpy as np
    >>> from deadline_nb.frames.metrics import metrics_frame_from_arrays
    >>> line = "📊 Metrics.System 📊 cpu-usage-percent 7.5"
    >>> df = metrics_frame_from_arrays(["worker-1"], [1], np.array([1795730400000]), [line])
    >>> df["cpuPercent"].tolist()
    [7.5]
    """
    texts = messages.to_pylist() if hasattr(messages, "to_pylist") else list(messages)
    stamps = np.asarray(timestamps, dtype=np.int64).tolist()
    return _build(
        [str(w) for w in worker_ids],
        [int(c) for c in counts],
        stamps,
        texts,
        farm_id,
        fleet_id,
        stacklevel=3,
    )


def _build(
    names: Sequence[str],
    counts: Sequence[int],
    stamps: Sequence[Any],
    messages: Sequence[Any],
    farm_id: str | None,
    fleet_id: str | Mapping[str, str] | None,
    *,
    stacklevel: int,
) -> pd.DataFrame:
    problems = Problems("line")
    workers: list[str] = []
    times: list[int] = []
    rows: list[dict[str, Any]] = []
    where: list[str] = []
    at = 0
    for name, count in zip(names, counts, strict=True):
        for i in range(at, at + count):
            message = messages[i]
            # A cheap test first: most lines of a worker log are not metrics.
            if not isinstance(message, str) or "Metrics" not in message:
                continue
            try:
                figures = parse_metrics_line(message)
            except ValueError as error:
                problems.add(
                    f"Host-metrics lines that cannot be read ({error}) were dropped",
                    f"{name} at {stamps[i]}",
                )
                continue
            if figures is None:
                continue
            ms = _ms_of(stamps[i])
            if ms is None:
                problems.add(
                    "Host-metrics lines without a readable timestamp were dropped",
                    f"{name} at {stamps[i]}",
                )
                continue
            workers.append(name)
            times.append(ms)
            rows.append(figures)
            where.append(f"{name} at {stamps[i]}")
        at += count
    # One vectorised conversion per figure, not one Python call per value.
    columns: dict[str, np.ndarray] = {}
    table = pd.DataFrame.from_records(rows, columns=list(AGENT_FIGURES)) if rows else None
    for figure, column in AGENT_FIGURES.items():
        texts = table[figure].astype(object) if table is not None else pd.Series([], dtype=object)
        numbers = pd.to_numeric(texts, errors="coerce")
        values = np.array(numbers.to_numpy(dtype=np.float64, na_value=np.nan), copy=True)
        given = texts.notna().to_numpy() & ~texts.isin(NOT_AVAILABLE).to_numpy()
        bad = given & ~np.isfinite(values)
        values[~np.isfinite(values)] = np.nan
        for bad_at in np.flatnonzero(bad).tolist():
            problems.add(f"{figure} is not a number and was kept as missing", where[bad_at])
        if column in _INT_COLUMNS:
            with np.errstate(invalid="ignore"):
                fraction = ~np.isnan(values) & (values != np.floor(values))
            for bad_at in np.flatnonzero(fraction).tolist():
                problems.add(
                    f"{figure} is not a whole number and was kept as missing", where[bad_at]
                )
            values[fraction] = np.nan
        columns[column] = values
    problems.emit(stacklevel=stacklevel + 1)
    return _assemble(workers, times, columns, farm_id, fleet_id)


def _assemble(
    workers: list[str],
    times: list[int],
    columns: dict[str, np.ndarray],
    farm_id: str | None,
    fleet_id: str | Mapping[str, str] | None,
) -> pd.DataFrame:
    n = len(workers)
    worker_arr = np.asarray(workers, dtype=object)
    time_arr = np.asarray(times, dtype=np.int64)
    order = np.lexsort((time_arr, worker_arr.astype(str))) if n else np.zeros(0, dtype=np.int64)
    worker_arr, time_arr = worker_arr[order], time_arr[order]
    if isinstance(fleet_id, Mapping):
        fleets: Any = [fleet_id.get(w) for w in worker_arr]
    else:
        fleets = [fleet_id] * n
    data: dict[str, Any] = {
        "farmId": pd.Categorical([farm_id] * n),
        "fleetId": pd.Categorical(fleets),
        "workerId": pd.Categorical(worker_arr, categories=sorted(set(workers))),
        "timestamp": pd.to_datetime(time_arr, unit="ms", utc=True).as_unit("ns"),
    }
    for column in _FIGURE_COLUMNS:
        values = np.asarray(columns[column], dtype=np.float64)[order]
        missing = np.isnan(values)
        if column in _INT_COLUMNS:
            data[column] = pd.arrays.IntegerArray(
                np.where(missing, 0, values).astype(np.int64), missing
            )
        else:
            data[column] = pd.arrays.FloatingArray(np.where(missing, 0.0, values), missing)
    frame = pd.DataFrame(data)
    return frame.astype(dict(schema.METRIC_COLUMNS))


# ---------------------------------------------------------------------------------------------
# the join


def _figure(metrics: pd.DataFrame, column: str) -> np.ndarray:
    """A figure as float64 with NaN for missing (a missing column: all NaN)."""
    if column not in metrics.columns:
        return np.full(len(metrics), np.nan)
    return np.asarray(metrics[column].astype("Float64").to_numpy(np.float64, na_value=np.nan))


def resource_frame(actions: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """Return the actions with what memory and CPU each saw on its worker while it ran.

    Every attempted action gets the host-metrics samples of its worker taken within its
    window, from ``startedAt`` to ``endedAt`` both included (a running action: to its last
    update from the worker, as :func:`deadline_nb.summarize` counts it). The join is sorted
    searches over all workers at once: a 10,000-action job takes milliseconds.

    Parameters
    ----------
    actions
        A job's actions with their workers (``job.actions`` from :func:`deadline_nb.load_job`,
        or any frame with ``workerId``, ``startedAt`` and ``endedAt``).
    metrics
        A metrics frame (:func:`metrics_frame`, ``job.metrics``).

    Returns
    -------
    pandas.DataFrame
        The same rows in the same order, the same columns, then those of
        :data:`deadline_nb.schema.RESOURCE_COLUMNS`. ``metricSamples`` is 0 when the worker
        logged samples but none fell inside the action (a short action between two samples),
        NA when nothing is known (never started, no worker, no samples of that worker); every
        figure is NA unless ``metricSamples`` is positive: never a guess.

    Warns
    -----
    DataWarning
        When ``actions`` has no ``workerId`` column (every figure is NA then).

    Examples
    --------
    >>> import pandas as pd
    >>> import deadline_nb as dnb
    >>> t = pd.Timestamp("2026-11-27 10:00", tz="UTC")
    >>> actions = pd.DataFrame({"workerId": ["worker-1", "worker-1"],
    ...                         "startedAt": [t, t + pd.Timedelta("150s")],
    ...                         "endedAt": [t + pd.Timedelta("130s"), t + pd.Timedelta("170s")]})
    >>> line = ('{{"type": "Metrics", "subtype": "System", "cpu-usage-percent": "{}", '
    ...         '"memory-total-bytes": "64", "memory-used-bytes": "{}"}}')
    >>> events = [{"timestamp": int((t + pd.Timedelta(seconds=s)).timestamp() * 1000),
    ...            "message": line.format(c, m)} for s, c, m in [(0, 10, 8), (60, 90, 40),
    ...                                                         (120, 50, 20)]]
    >>> out = dnb.resource_frame(actions, dnb.metrics_frame({"worker-1": events}))
    >>> out[["metricSamples", "memPeakBytes", "cpuMeanPercent", "cpuMaxPercent"]]
       metricSamples  memPeakBytes  cpuMeanPercent  cpuMaxPercent
    0              3            40            50.0           90.0
    1              0          <NA>            <NA>           <NA>
    """
    import warnings

    from ..errors import DataWarning

    n = len(actions)
    out = actions.drop(columns=[c for c in schema.RESOURCE_COLUMNS if c in actions.columns])
    samples = np.zeros(n, dtype=np.int64)
    known = np.zeros(n, dtype=bool)
    peak = np.full(n, np.nan)
    peak_pct = np.full(n, np.nan)
    total = np.full(n, np.nan)
    cpu_mean = np.full(n, np.nan)
    cpu_max = np.full(n, np.nan)
    if "workerId" not in actions.columns:
        warnings.warn(
            "The actions have no workerId column, so no samples could be joined to them "
            "(use a job's actions from load_job).",
            DataWarning,
            stacklevel=2,
        )
    elif n and len(metrics):
        _join(actions, metrics, samples, known, peak, peak_pct, total, cpu_mean, cpu_max)
    filled = known & (samples > 0)
    columns = {
        "metricSamples": pd.arrays.IntegerArray(samples, ~known),
        "memPeakBytes": _ints(peak, filled),
        "memPeakPercent": _floats(peak_pct, filled),
        "memTotalBytes": _ints(total, filled),
        "cpuMeanPercent": _floats(cpu_mean, filled),
        "cpuMaxPercent": _floats(cpu_max, filled),
    }
    for name, values in columns.items():
        out[name] = pd.Series(values, index=actions.index, dtype=schema.RESOURCE_COLUMNS[name])  # type: ignore[call-overload]
    return out


def _ints(values: np.ndarray, filled: np.ndarray) -> pd.arrays.IntegerArray:
    missing = ~filled | np.isnan(values)
    return pd.arrays.IntegerArray(np.where(missing, 0, values).astype(np.int64), missing)


def _floats(values: np.ndarray, filled: np.ndarray) -> pd.arrays.FloatingArray:
    missing = ~filled | np.isnan(values)
    return pd.arrays.FloatingArray(np.where(missing, 0.0, values), missing)


def _join(
    actions: pd.DataFrame,
    metrics: pd.DataFrame,
    samples: np.ndarray,
    known: np.ndarray,
    peak: np.ndarray,
    peak_pct: np.ndarray,
    total: np.ndarray,
    cpu_mean: np.ndarray,
    cpu_max: np.ndarray,
) -> None:
    """Fill the output arrays in place: one composite key (worker, ms) searched for all."""
    # Workers of both frames on one set of codes.
    a_workers = actions["workerId"].astype(object)
    m_workers = metrics["workerId"].astype(object)
    codes, uniques = pd.factorize(pd.concat([m_workers, a_workers], ignore_index=True))
    m_code = codes[: len(metrics)].astype(np.int64)
    a_code = codes[len(metrics) :].astype(np.int64)
    m_ns = utc_ns(metrics, "timestamp")
    usable = (m_code >= 0) & (m_ns != NAT)
    m_code, m_ns = m_code[usable], m_ns[usable]
    if not len(m_ns):
        return
    # Samples are at whole milliseconds (CloudWatch's timestamps); an action's window
    # [start, end] in ns holds a sample at t ms exactly when ceil(start) <= t <= floor(end).
    m_ms = m_ns // _MS_PER_NS
    start, end, _ = effective_ends(actions)
    attempted = (start != NAT) & (a_code >= 0)
    has_samples = np.zeros(len(uniques) + 1, dtype=bool)
    has_samples[m_code] = True
    ok = attempted & has_samples[a_code]
    known[:] = ok
    if not ok.any():
        return
    lo_ms = -((-start[ok]) // _MS_PER_NS)
    hi_ms = end[ok] // _MS_PER_NS
    base = int(min(m_ms.min(), lo_ms.min()))
    span = int(max(m_ms.max(), hi_ms.max())) - base + 2
    if span * (len(uniques) + 1) >= 2**62:
        raise ValueError(
            "The metrics and actions span too long a time to join (over a century): pass the "
            "samples of the job's own time."
        )
    m_key = m_code * span + (m_ms - base)
    order = np.argsort(m_key, kind="stable")
    m_key = m_key[order]
    figures = {
        name: _figure(metrics, name)[usable][order]
        for name in ("memUsedBytes", "memUsedPercent", "memTotalBytes", "cpuPercent")
    }
    a_base = a_code[ok] * span
    lo = np.searchsorted(m_key, a_base + (lo_ms - base), side="left")
    hi = np.searchsorted(m_key, a_base + (hi_ms - base), side="right")
    count = np.maximum(hi - lo, 0)
    samples[ok] = count
    targets = np.flatnonzero(ok)[count > 0]
    lo, count = lo[count > 0], count[count > 0]
    if not len(count):
        return
    # Every (action, sample) pair, segment after segment: windows on one worker barely
    # overlap, so this is about as long as the samples themselves.
    firsts = np.cumsum(count) - count
    flat = np.arange(int(count.sum()), dtype=np.int64) + np.repeat(lo - firsts, count)
    used = figures["memUsedBytes"][flat]
    pct = figures["memUsedPercent"][flat]
    cpu = figures["cpuPercent"][flat]
    with np.errstate(invalid="ignore"):
        peak[targets] = np.fmax.reduceat(used, firsts)
        peak_pct[targets] = np.fmax.reduceat(pct, firsts)
        cpu_max[targets] = np.fmax.reduceat(cpu, firsts)
        present = ~np.isnan(cpu)
        cpu_sum = np.add.reduceat(np.where(present, cpu, 0.0), firsts)
        cpu_n = np.add.reduceat(present.astype(np.int64), firsts)
        cpu_mean[targets] = np.where(cpu_n > 0, cpu_sum / np.maximum(cpu_n, 1), np.nan)
    # The total at the peak sample: the first sample of each segment that reaches its peak.
    size = len(flat)
    at_peak = used == np.repeat(peak[targets], count)
    first = np.minimum.reduceat(np.where(at_peak, np.arange(size), size), firsts)
    found = first < size
    total_values = np.full(len(targets), np.nan)
    total_values[found] = figures["memTotalBytes"][flat[first[found]]]
    total[targets] = total_values
