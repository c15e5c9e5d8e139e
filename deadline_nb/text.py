"""Text as the package shows and writes it: shared by frames, summaries, plots, report, widgets.

How ids and durations read (:func:`short_id`, :func:`format_seconds`), and text from the API made
safe to store and to write: :func:`clean_text` (used by the frame readers, and by the report and
plots for text that does not come through a frame) and :func:`printable_text` (used where text
goes into XML, HTML or file metadata).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

import numpy as np

__all__ = [
    "REPLACED",
    "clean_text",
    "environment_name",
    "format_seconds",
    "printable_text",
    "short_id",
    "short_labels",
]

# `<prefix>-<32 lowercase hex>`, the prefix being everything before the first dash: worker-...,
# session-... One compiled pattern: a timeline of 20,000 session lanes shortens its labels at once.
_LONG_ID: Final = re.compile(r"([^-]*)-([0-9a-f]{32})")
_ENVIRONMENT_ID: Final = re.compile(r"(?:STEP:step|JOB:job)-[0-9a-f]{32}:(.*)", re.DOTALL)


def short_id(label: str, digits: int = 8) -> str:
    """``worker-<32 hex>`` -> ``worker-<8 hex>``: a readable id; other labels stay as they are.

    Examples
    --------
    >>> short_id("worker-" + "0123456789abcdef" * 2)
    'worker-01234567'
    >>> short_id("Crowd Sim")
    'Crowd Sim'
    """
    match = _LONG_ID.fullmatch(label)
    return f"{match[1]}-{match[2][:digits]}" if match else label


def environment_name(environment_id: str) -> str:
    """An environment's name from its id (``STEP:step-<hex>:<name>``, ``JOB:job-<hex>:<name>``).

    Those are the two forms of the API's ``EnvironmentId`` (botocore's ``deadline`` model gives
    its pattern); any other text is returned as it is.

    Examples
    --------
    >>> environment_name("STEP:step-" + "0" * 32 + ":Golaem: crowd")
    'Golaem: crowd'
    >>> environment_name("Rez")
    'Rez'
    """
    match = _ENVIRONMENT_ID.fullmatch(environment_id)
    return match[1] if match else environment_id


def short_labels(labels: Sequence[str]) -> list[str]:
    """Ids shortened to the fewest hex digits (8 or more) that keep them apart.

    Examples
    --------
    >>> short_labels(["worker-" + "ab" * 4 + "0" * 24, "worker-" + "ab" * 4 + "1" * 24])
    ['worker-abababab0000', 'worker-abababab1111']
    """
    labels = list(labels)
    matches = [_LONG_ID.fullmatch(label) for label in labels]
    distinct = len(set(labels))
    for digits in (8, 12, 16, 24, 32):
        short = [
            f"{m[1]}-{m[2][:digits]}" if m else label
            for m, label in zip(matches, labels, strict=True)
        ]
        if len(set(short)) == distinct:
            return short
    return labels


def format_seconds(seconds: float) -> str:
    """12.3 -> '12.3s', 754 -> '12m 34s', 7384 -> '2h 03m': what a TD reads at a glance.

    Examples
    --------
    >>> format_seconds(754)
    '12m 34s'
    """
    if not np.isfinite(seconds):
        return "n/a"
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    hours, rest = divmod(whole, 3600)
    return f"{hours}h {rest // 60:02d}m"


#: How a warning says that :func:`clean_text` changed a value: "<field> {REPLACED}".
REPLACED: Final = "held lone surrogates (not Unicode text); each was replaced with U+FFFD"

# Code points that XML 1.0 cannot hold or HTML calls a parse error: the C0 controls but tab,
# newline and carriage return; DEL and the C1 controls; surrogates; the noncharacters FFFE/FFFF.
_UNPRINTABLE: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def clean_text(value: str) -> tuple[str, bool]:
    """Text that UTF-8 can encode: each lone surrogate becomes U+FFFD; ``(text, changed)``.

    JSON may spell a lone surrogate (``"\\ud800"``), and ``json.loads`` and botocore pass it
    through, but neither Arrow nor any file can hold it. Well-formed text costs one encode; only
    text that fails it is rebuilt (a surrogate pair, which only Python code can make, is joined
    into its character).

    Parameters
    ----------
    value
        Any text.

    Returns
    -------
    tuple of (str, bool)
        The text, and whether it was changed.

    Examples
    --------
    >>> clean_text("frame 12")
    ('frame 12', False)
    >>> text, changed = clean_text("bad " + chr(0xD800) + " text")
    >>> text == "bad " + chr(0xFFFD) + " text", changed
    (True, True)
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # UTF-16 with surrogatepass keeps pairs as pairs, so that decoding joins them and
        # replaces only the lone ones.
        return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace"), True
    return value, False


def printable_text(value: object) -> str:
    """Text that XML, HTML and file metadata can hold: control characters become U+FFFD.

    Tab, newline and carriage return stay; the other C0 controls (NUL...), DEL, the C1 controls,
    lone surrogates and U+FFFE/U+FFFF each become U+FFFD. A progress message is whatever a
    render script printed, and one NUL makes a whole SVG file unreadable.

    Parameters
    ----------
    value
        Text, or anything ``str()`` turns into text.

    Returns
    -------
    str
        The text, with each such code point replaced.

    Examples
    --------
    >>> printable_text("sq010" + chr(0) + " shot") == "sq010" + chr(0xFFFD) + " shot"
    True
    """
    text = value if isinstance(value, str) else str(value)
    return _UNPRINTABLE.sub("\ufffd", text)
