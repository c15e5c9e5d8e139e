"""Plots of a job's session actions for investigations and postmortems, with matplotlib.

Every plot keeps seaborn's contract: ``plot_x(df, *, ..., ax=None, **kwargs) -> Axes``. It draws
on ``ax`` (or on a new figure), returns the Axes, never calls ``plt.show()``, never fetches, and
draws an empty, labelled Axes for a frame with no rows (or nothing to show) instead of raising.
``**kwargs`` go to the main artist (the collection, the bars, the lines).

* Colour options keep seaborn's names and meanings: ``hue=`` colours by a column (``"status"``,
  ``"actionType"``, ``"step"``), ``color=`` is one matplotlib colour (everything in it without
  ``hue``; shades of it for the hue's groups with ``hue``), ``palette=`` gives the groups' colours
  (a colormap name, a list, or a mapping of hue values to colours) and wins over ``color``.
  ``lanes=`` picks a timeline's rows. A wrong value raises
  :func:`deadline_nb.errors.bad_argument`'s error, which names the argument.
* Default colours come from :mod:`deadline_nb.schema` (``STATUS_COLORS``, ``ACTION_TYPE_COLORS``),
  the same in every plot; steps take a qualitative colormap in the order they first appear.
* Times: ``tz="UTC"`` (the default), ``"local"`` (this machine's zone) or an IANA name such as
  ``"Europe/London"``; the frame's times may be in any zone (or naive, read as UTC).
* Big frames are drawn as collections (one ``PolyCollection`` of rectangles for a timeline, not
  one artist per action): a 100,000-action timeline draws and saves in about a second.
* Frames from :func:`deadline_nb.load_job` carry ``stepName``, ``workerId`` and ``fleetId``; a frame
  straight from :func:`deadline_nb.session_action_frame` has none, and a plot that needs them falls
  back (lanes by session instead of by worker; steps by id instead of name) with one
  :class:`~deadline_nb.errors.DataWarning`.
* No global ``rcParams`` are changed; :func:`save_figure` restores the figure's size after saving.

One module per chart family (``timeline``, ``frame_times``, ``memory``, ``durations``, ``progress``,
``concurrency``, ``counts`` for status and exit codes, ``usage`` for a farm's usage and cost, drawn
from a usage frame rather than actions, ``history`` for the queue history's trend and job
comparison, drawn from :mod:`deadline_nb.history_db`'s answers) and ``save`` for files; what they
share (axes, time zones, colours and ``hue``/``color``/``palette``, legends, empty states) is in
``shared``. Import the plots from here: ``from deadline_nb.plots import plot_timeline``.
"""

from __future__ import annotations

from .concurrency import plot_concurrency
from .counts import plot_exit_codes, plot_status
from .durations import plot_durations
from .frame_times import plot_frame_times
from .history import plot_compare, plot_trend
from .memory import plot_memory
from .progress import plot_progress
from .save import SLIDE_DPI, SLIDE_SIZE, save_figure
from .shared import Palette
from .timeline import plot_timeline
from .usage import plot_usage

__all__ = [
    "SLIDE_DPI",
    "SLIDE_SIZE",
    "Palette",
    "plot_compare",
    "plot_concurrency",
    "plot_durations",
    "plot_exit_codes",
    "plot_frame_times",
    "plot_memory",
    "plot_progress",
    "plot_status",
    "plot_timeline",
    "plot_trend",
    "plot_usage",
    "save_figure",
]
