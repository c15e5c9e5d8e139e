"""How ids and durations read as text: shared by summaries, plots, traces, report, widgets."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

import numpy as np

__all__ = ["format_seconds", "short_id", "short_labels"]

# `<prefix>-<32 lowercase hex>`, the prefix being everything before the first dash: worker-...,
# session-... One compiled pattern: a timeline of 20,000 session lanes shortens its labels at once.
_LONG_ID: Final = re.compile(r"([^-]*)-([0-9a-f]{32})")


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
