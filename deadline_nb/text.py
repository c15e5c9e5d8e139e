"""How ids and durations read as text: shared by summaries, plots, traces, report, widgets."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["format_seconds", "short_id", "short_labels"]


def short_id(label: str, digits: int = 8) -> str:
    """``worker-<32 hex>`` -> ``worker-<8 hex>``: a readable id; other labels stay as they are."""
    prefix, sep, rest = label.partition("-")
    if sep and len(rest) == 32 and all(c in "0123456789abcdef" for c in rest):
        return f"{prefix}-{rest[:digits]}"
    return label


def short_labels(labels: Sequence[str]) -> list[str]:
    """Ids shortened to the fewest hex digits (8 or more) that keep them apart."""
    for digits in (8, 12, 16, 24, 32):
        short = [short_id(label, digits) for label in labels]
        if len(set(short)) == len(set(labels)):
            return short
    return list(labels)


def format_seconds(seconds: float) -> str:
    """12.3 -> '12.3s', 754 -> '12m 34s', 7384 -> '2h 03m': what a TD reads at a glance."""
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
