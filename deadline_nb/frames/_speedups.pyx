# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled fast path of :func:`deadline_nb.frames.session_action_frame` for boto3 results.

Reading 100,000 actions is bound by memory, not by Python: every pass over the scattered dicts
costs a cache miss per object. This walks each action once, depth first (item, definition,
task run, parameters, values, datetimes), while its objects are in cache, and converts aware
datetimes to nanoseconds in C.

It handles only well-formed input, as boto3 returns it: plain dicts, one known member per
``definition`` union and per parameter value (text that UTF-8 can encode), datetimes for the time
fields. For anything else
it returns ``None`` and the NumPy reader beside it (:mod:`deadline_nb.frames.actions`, which
reports each problem) does the work, so the two readers never need to agree on error handling,
only on results: the tests run both (``deadline_nb.frames.use_reader``).
"""

from cpython.datetime cimport (
    datetime_tzinfo,
    import_datetime,
    PyDateTime_CheckExact,
    PyDateTime_DATE_GET_HOUR,
    PyDateTime_DATE_GET_MICROSECOND,
    PyDateTime_DATE_GET_MINUTE,
    PyDateTime_DATE_GET_SECOND,
    PyDateTime_GET_DAY,
    PyDateTime_GET_MONTH,
    PyDateTime_GET_YEAR,
    timedelta_days,
    timedelta_microseconds,
    timedelta_seconds,
)
from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from libc.stdint cimport int64_t

import datetime as _datetime
from array import array

import_datetime()

cdef object UTC = _datetime.timezone.utc
cdef object TIMEZONE = _datetime.timezone
cdef int64_t NAT = -9223372036854775807 - 1
# Days from 1970-01-01 that still fit in int64 nanoseconds (pandas' own bounds).
cdef int64_t MIN_DAYS = -106751
cdef int64_t MAX_DAYS = 106750

cdef tuple TOP = ("sessionActionId", "farmId", "queueId", "jobId", "sessionId", "status",
                  "progressPercent", "progressMessage", "processExitCode")
TOP_FIELDS = TOP
cdef tuple TIMES = ("startedAt", "endedAt", "workerUpdatedAt")
cdef dict ACTION_CODES = {"envEnter": 0, "envExit": 1, "taskRun": 2,
                          "syncInputJobAttachments": 3}
cdef dict VALUE_CODES = {"int": 0, "float": 1, "string": 2, "path": 3, "chunkInt": 4}


cdef inline int64_t days_from_civil(int64_t y, int64_t m, int64_t d):
    # Howard Hinnant's algorithm; years here are 1..9999, so C division is floor division.
    cdef int64_t era, yoe, doy, doe
    if m <= 2:
        y -= 1
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


cdef class _Zone:
    """The last time zone seen, and its offset when the zone has a fixed one."""
    cdef object tz
    cdef bint fixed
    cdef int64_t offset_ns

    def __cinit__(self):
        self.tz = None
        self.fixed = False
        self.offset_ns = 0


cdef inline int64_t offset_of(object tz, object value, _Zone zone) except? -1:
    """UTC offset of an aware datetime in ns; -1 with an exception is impossible, so except?."""
    cdef object delta
    cdef int64_t ns
    if tz is UTC:
        return 0
    if tz is zone.tz and zone.fixed:
        return zone.offset_ns
    delta = tz.utcoffset(value)
    if delta is None:
        raise ValueError("naive")
    ns = ((<int64_t>timedelta_days(delta) * 86400 + timedelta_seconds(delta)) * 1000000
          + timedelta_microseconds(delta)) * 1000
    # datetime.timezone and dateutil's tzutc/tzoffset have one offset for every moment.
    if type(tz) is TIMEZONE or type(tz).__name__ in ("tzutc", "tzoffset"):
        zone.tz = tz
        zone.fixed = True
        zone.offset_ns = ns
    return ns


cdef inline int64_t to_ns(object value, _Zone zone, list naive, Py_ssize_t row) except? -1:
    cdef int64_t days
    cdef object tz = datetime_tzinfo(value)
    days = days_from_civil(PyDateTime_GET_YEAR(value), PyDateTime_GET_MONTH(value),
                           PyDateTime_GET_DAY(value))
    if days < MIN_DAYS or days > MAX_DAYS:
        raise OverflowError("out of range")
    cdef int64_t ns = (((days * 24 + PyDateTime_DATE_GET_HOUR(value)) * 60
                        + PyDateTime_DATE_GET_MINUTE(value)) * 60
                       + PyDateTime_DATE_GET_SECOND(value)) * 1000000
    ns = (ns + PyDateTime_DATE_GET_MICROSECOND(value)) * 1000
    if tz is None:
        naive.append(row)
        return ns
    return ns - offset_of(tz, value, zone)


def extract(list items):
    """Read well-formed boto3 session actions column by column, or return ``None``.

    Returns
    -------
    tuple or None
        ``(top, times, naive, kinds, environment, step, task, parameters)``: ``top`` a list of
        lists, one per name in ``TOP`` (``None`` where missing); ``times`` three int64 arrays of
        nanoseconds (``NAT`` where missing); ``naive`` the rows with a naive datetime;
        ``kinds`` the action type codes (bytes, in ``schema.ACTION_TYPES`` order); then
        the environment, step and task lists, and ``parameters``: name -> (rows, type codes
        as bytes, texts) in the order ``int, float, string, path, chunkInt``.
    """
    cdef Py_ssize_t n = len(items), row, j
    cdef list top = [[None] * n for _ in range(len(TOP))]
    cdef list times = [array("q", [NAT]) * n for _ in range(3)]
    cdef int64_t[:] started = times[0], ended = times[1], updated = times[2]
    cdef list naive = []
    cdef bytearray kinds = bytearray(n)
    cdef list environment = [None] * n
    cdef list step = [None] * n
    cdef list task = [None] * n
    cdef dict parameters = {}
    cdef _Zone zone = _Zone()
    cdef object item, value, definition, member, body, params, name, union, kind, text
    cdef object code
    cdef list entry
    cdef Py_ssize_t size
    try:
        for row in range(n):
            item = items[row]
            if type(item) is not dict:
                return None
            for j in range(len(TOP)):
                value = (<dict>item).get(TOP[j])
                if value is not None:
                    (<list>top[j])[row] = value
            for j in range(3):
                value = (<dict>item).get(TIMES[j])
                if value is None:
                    continue
                if not PyDateTime_CheckExact(value):
                    return None
                if j == 0:
                    started[row] = to_ns(value, zone, naive, row)
                elif j == 1:
                    ended[row] = to_ns(value, zone, naive, row)
                else:
                    updated[row] = to_ns(value, zone, naive, row)
            definition = (<dict>item).get("definition")
            if type(definition) is not dict or len(<dict>definition) != 1:
                return None
            for member, body in (<dict>definition).items():
                code = ACTION_CODES.get(member)
                if code is None or type(body) is not dict:
                    return None
                kinds[row] = <int>code
                if code <= 1:
                    environment[row] = (<dict>body).get("environmentId")
                    continue
                step[row] = (<dict>body).get("stepId")
                if code == 3:
                    continue
                task[row] = (<dict>body).get("taskId")
                params = (<dict>body).get("parameters")
                if not params:
                    continue
                if type(params) is not dict:
                    return None
                for name, union in (<dict>params).items():
                    if type(union) is not dict or len(<dict>union) != 1:
                        return None
                    for kind, text in (<dict>union).items():
                        code = VALUE_CODES.get(kind)
                        if code is None or type(text) is not str:
                            return None
                        # UTF-8 as Arrow reads it (ASCII text is its own, nothing is made): a
                        # lone surrogate raises UnicodeEncodeError, a ValueError, and the
                        # NumPy reader reads it as U+FFFD and says so.
                        PyUnicode_AsUTF8AndSize(text, &size)
                        entry = parameters.get(name)
                        if entry is None:
                            if type(name) is not str:
                                return None
                            PyUnicode_AsUTF8AndSize(name, &size)
                            entry = [array("q"), bytearray(), []]
                            parameters[name] = entry
                        (<object>entry[0]).append(row)
                        (<bytearray>entry[1]).append(<int>code)
                        (<list>entry[2]).append(text)
    except (ValueError, OverflowError, TypeError):
        # A zone with no offset, a date out of range, a lone surrogate in a parameter: the
        # Python path says so.
        return None
    return top, times, naive, bytes(kinds), environment, step, task, parameters
