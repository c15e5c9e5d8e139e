"""Pickers and an explorer for JupyterLab (ipywidgets 8): from nothing to a job's timeline.

- :mod:`~deadline_nb.widgets.picker`: :class:`JobPicker`, farm -> queue -> job -> step/session.
- :mod:`~deadline_nb.widgets.explorer`: :class:`Explorer` and :func:`explore`, a job's charts
  (from :mod:`deadline_nb.charts`, the registry the report draws too) with filters, refresh,
  export and a watch mode.
- :mod:`~deadline_nb.widgets.logview`: :class:`LogTab`, the explorer's Log tab (an action's log,
  and a search over the job's logs).
- :mod:`~deadline_nb.widgets.watching`: :func:`watch`, the same polling as a blocking loop.
- :mod:`~deadline_nb.widgets.shared`: what those share (output helpers, the progress line).

The package :mod:`deadline_nb` imports this on first use of one of its names, so
``import deadline_nb`` does not import ipywidgets.
"""

from __future__ import annotations

from .explorer import EXPLORER_CHARTS, TABS, Explorer, explore
from .logview import LogTab
from .picker import JobPicker
from .shared import ALL
from .watching import watch

__all__ = [
    "ALL",
    "EXPLORER_CHARTS",
    "TABS",
    "Explorer",
    "JobPicker",
    "LogTab",
    "explore",
    "watch",
]
