"""save_figure: a figure as a slide-ready PNG, SVG or PDF with the job in its metadata."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from matplotlib.text import Text

from ..errors import Problems, bad_argument, bad_argument_type
from ..text import REPLACED, clean_text, printable_text
from .shared import (
    jobs_drawn,
)

__all__ = ["SLIDE_DPI", "SLIDE_SIZE", "save_figure"]

#: save_figure's default: 1920 x 1080 pixels, 16:9, text legible when projected.
SLIDE_SIZE: Final[tuple[float, float]] = (12.8, 7.2)
SLIDE_DPI: Final[int] = 150


_FORMATS: Final = (".png", ".svg", ".pdf")
_SVG_KEYS: Final = frozenset(
    {
        "Coverage",
        "Contributor",
        "Creator",
        "Date",
        "Description",
        "Format",
        "Identifier",
        "Keywords",
        "Language",
        "Publisher",
        "Relation",
        "Rights",
        "Source",
        "Subject",
        "Title",
        "Type",
    }
)
_PDF_KEYS: Final = frozenset(
    {"Title", "Author", "Subject", "Keywords", "Creator", "Producer", "CreationDate", "ModDate"}
)


def save_figure(
    fig_or_ax: Figure | SubFigure | Axes,
    path: str | Path,
    *,
    title: str | None = None,
    metadata: Mapping[str, str] | None = None,
    size: tuple[float, float] | None = SLIDE_SIZE,
    dpi: float = SLIDE_DPI,
) -> Path:
    """Save a figure as PNG, SVG or PDF (by the path's suffix), slide-ready, with metadata.

    The file records the job ids the plots drew (from their frames' ``jobId``), the generation
    time (UTC) and this package's version. The figure is drawn at ``size`` for the file and put
    back to its own size afterwards; no global ``rcParams`` are touched.

    Parameters
    ----------
    fig_or_ax
        A figure, or any Axes on it.
    path
        Where to write; the suffix (``.png``, ``.svg``, ``.pdf``) picks the format.
    title
        Set as the figure's title (``suptitle``) and the file's title.
    metadata
        More text to record (or to override the defaults): PNG keeps every key; SVG and PDF keep
        their standard keys and fold any other into their description. Control characters
        (NUL...) in it, in ``title`` and in any text drawn become U+FFFD in the file, so that an
        SVG stays well-formed XML.
    size
        Width and height in inches for the file; ``None`` keeps the figure's size. The default,
        12.8 x 7.2 at 150 dpi, is 1920 x 1080 pixels.
    dpi
        Resolution of PNG output (and of rasterized parts of SVG and PDF).

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ValueError
        When the suffix is not one of ``.png``, ``.svg``, ``.pdf``.

    Warns
    -----
    DataWarning
        When ``title`` or ``metadata`` holds lone surrogates (not Unicode text, no file can hold
        them): they become U+FFFD.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import matplotlib.pyplot as plt
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm.model import JOBS, FarmModel
    >>> from deadline_nb.plots import plot_status, save_figure
    >>> model = FarmModel(seed=0)
    >>> df = dnb.session_action_frame(
    ...     model.session_actions(model.job_by_name(JOBS["failing"]).job_id))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = save_figure(plot_status(df), pathlib.Path(tmp) / "status.png", title="sq030")
    ...     out.read_bytes()[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
    >>> plt.close("all")
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _FORMATS:
        raise bad_argument("path", f"end in one of {list(_FORMATS)}", str(path))
    fig = fig_or_ax.get_figure() if isinstance(fig_or_ax, Axes) else fig_or_ax
    if isinstance(fig, SubFigure):
        fig = fig.figure
    if not isinstance(fig, Figure):
        raise bad_argument_type("fig_or_ax", "a matplotlib Figure or Axes", fig_or_ax)
    problems = Problems("file")
    if title is not None:
        title = _printable("title", title, str(path), problems)
        fig.suptitle(title)
    extra = {
        _printable("metadata", k, str(path), problems): _printable(
            "metadata", v, str(path), problems
        )
        for k, v in (metadata or {}).items()
    }
    problems.emit()
    # Labels drawn from the data (step names, messages) may hold control characters, which no
    # font has a glyph for: drawn as U+FFFD, as the file's text holds them.
    for text in fig.findobj(Text):
        shown = text.get_text()
        if isinstance(shown, str) and printable_text(shown) != shown:
            text.set_text(printable_text(shown))
    jobs = jobs_drawn(fig)
    info = _metadata(suffix, title, jobs, extra)
    original = fig.get_size_inches().copy()
    try:
        if size is not None:
            fig.set_size_inches(size)
        if suffix == ".svg":
            # Drawn texts (step names, messages) go into the SVG as they are; XML cannot hold
            # a control character, and one would make the whole file unreadable.
            buffer = io.StringIO()
            fig.savefig(buffer, format="svg", dpi=dpi, metadata=info)
            path.write_text(printable_text(buffer.getvalue()), encoding="utf-8")
        else:
            fig.savefig(path, format=suffix[1:], dpi=dpi, metadata=info)
    finally:
        fig.set_size_inches(original)
    return path


def _printable(what: str, value: object, where: str, problems: Problems) -> str:
    """Text for a file's title or metadata: lone surrogates reported, every control replaced."""
    text, changed = clean_text(str(value))
    if changed:
        problems.add(f"{what} {REPLACED}", where)
    return printable_text(text)


def _metadata(
    suffix: str, title: str | None, jobs: Sequence[str], extra: dict[str, str]
) -> dict[str, Any]:
    """The metadata dict each backend accepts: PNG any text keys; SVG Dublin Core; PDF its info."""
    from ..version import __version__

    now = datetime.now(timezone.utc).replace(microsecond=0)
    software = f"deadline_nb {__version__} (matplotlib {mpl.__version__})"
    description = f"AWS Deadline Cloud job {', '.join(jobs)}" if jobs else "AWS Deadline Cloud"
    if suffix == ".png":
        info: dict[str, Any] = {
            "Software": software,
            "Creation Time": now.isoformat(),
            "Description": description,
        }
        if jobs:
            info["Job"] = ", ".join(jobs)
        if title:
            info["Title"] = title
        info.update(extra)
        return info
    allowed = _SVG_KEYS if suffix == ".svg" else _PDF_KEYS
    folded = [f"{k}: {v}" for k, v in extra.items() if k not in allowed]
    kept = {k: v for k, v in extra.items() if k in allowed}
    text = "; ".join([description, *folded])
    if suffix == ".svg":
        info = {"Creator": software, "Date": now.isoformat(), "Description": text}
        if jobs:
            info["Identifier"] = ", ".join(jobs)
    else:
        info = {"Creator": software, "CreationDate": now, "Subject": text}
        if jobs:
            info["Keywords"] = ", ".join(jobs)
    if title:
        info["Title"] = title
    info.update(kept)
    return info
