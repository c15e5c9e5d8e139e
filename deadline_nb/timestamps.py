"""Timestamps of API responses -> aware datetimes, fast: shared by the client factory
(:func:`deadline_nb.client`) and the local farm's own client, which stand apart otherwise.
"""

from __future__ import annotations

import datetime
import sys
from typing import Any, Final

__all__ = ["parse_timestamp"]


# fromisoformat reads any ISO 8601 text, "Z" included, from Python 3.11 on.
_READS_Z: Final = sys.version_info >= (3, 11)
_fromisoformat: Final = datetime.datetime.fromisoformat


def parse_timestamp(value: Any) -> datetime.datetime:
    """Parse a timestamp from a response: ISO 8601 with the standard library, else as botocore.

    A drop-in ``timestamp_parser`` for botocore's response parsers, about 200 times faster than
    its ``dateutil`` path on the text Deadline Cloud sends: a 100-item
    ``BatchGetSessionAction`` carries some 300 timestamps, which botocore parses in about 25 ms,
    more than the call takes on a fast network.

    Parameters
    ----------
    value
        ISO 8601 text such as ``"2026-03-02T08:00:00.000Z"``, or epoch seconds.

    Returns
    -------
    datetime.datetime
        An aware datetime.

    Examples
    --------
    >>> from deadline_nb.timestamps import parse_timestamp
    >>> parse_timestamp("2026-03-02T08:00:00.250Z").isoformat()
    '2026-03-02T08:00:00.250000+00:00'
    """
    if isinstance(value, str):
        try:
            # Python 3.11 reads the "Z" itself: half the cost, on a million timestamps a job
            parsed = _fromisoformat(value if _READS_Z else value.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed
    # Imported here, past the common case: an import statement costs more than the parse.
    import botocore.utils  # only for the rare forms fromisoformat does not read

    stock: datetime.datetime = botocore.utils.parse_timestamp(value)
    return stock
