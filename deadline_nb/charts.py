"""The chart registry shared by the report and the explorer: one entry per chart.

:func:`deadline_nb.write_report` draws every chart of :data:`CHARTS`, in order, under its
``heading``; the explorer (:mod:`deadline_nb.widgets.explorer`) draws its tabs from the same
entries, by name, under their ``title``. Adding a chart is one entry here.

Each entry's ``draw`` takes a :class:`ChartData` (the actions, and what else a chart may need: the
progress snapshots, whether the job has finished, its task count, the workers' metrics) and an
Axes, and returns the Axes, or ``None`` when the data has nothing for it (frame times of actions
without task parameters); the entry says in a sentence why, for a whole job and for a selection
of actions. An entry's ``applies`` says whether the chart belongs with the data at all (the
memory chart only with a resources frame that has samples): a page or a tab that lists charts
leaves out those that do not apply rather than saying why each time.
Figures are made outside pyplot (:func:`figure`): nothing is shown in a notebook, nothing is left
open, and a background thread can draw. matplotlib is imported when a chart is drawn, not with
this module: the command line checks its arguments against the report before it fetches.

Like the plots, nothing here fetches.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import pandas as pd

from . import schema
from .frames.access import column_strings

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "CHARTS",
    "SCREEN_SIZE",
    "Chart",
    "ChartData",
    "figure",
    "frame_parameter",
    "progress_figure",
    "resources_sampled",
    "timeline_lanes",
]

#: The size (inches) of a chart shown on screen in the explorer, unless its entry says otherwise.
SCREEN_SIZE: Final[tuple[float, float]] = (11.0, 5.0)


@dataclass(frozen=True)
class ChartData:
    """What a chart is drawn from.

    Attributes
    ----------
    actions
        A session-action frame: a job's, or a selection of it.
    snapshots
        Progress snapshots (:data:`deadline_nb.schema.SNAPSHOT_COLUMNS`), or ``None``.
    finished
        Whether the job has finished (then its progress is its completion curve).
    tasks
        The job's number of tasks, to count completed tasks against; ``None`` for those seen.
    lanes
        The timeline's lanes (``"worker"``, ``"session"``); ``None`` for the plot's default.
    metrics
        The workers' host metrics (``job.metrics``), drawn as a memory strip under the
        timeline; ``None`` for none. ``actions`` may be the resources frame (``job.resources``):
        it is the actions frame with each action's memory appended, and every chart reads it.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> ChartData(dnb.session_action_frame([])).tasks is None
    True
    """

    actions: pd.DataFrame
    snapshots: pd.DataFrame | None = None
    finished: bool = False
    tasks: int | None = None
    lanes: str | None = None
    metrics: pd.DataFrame | None = None


@dataclass(frozen=True)
class Chart:
    """One chart: its name, its headings, how to draw it.

    Attributes
    ----------
    name
        The chart's name: files are ``<name>.png``, the report's anchor is ``chart-<name>``.
    heading
        Its heading in the report.
    title
        Its tab's title in the explorer.
    draw
        Draws the chart of a :class:`ChartData` on an Axes and returns it; ``None`` when the data
        has nothing for this chart.
    missing_job, missing_selection
        Why it is not drawn when ``draw`` returns ``None``: for a whole job (the report), and for
        a selection of actions (the explorer).
    screen_size
        Its figure's size (inches) on screen, from the data.
    screen_figure
        Draws the whole figure shown on screen instead of ``draw`` on one Axes: the progress
        tab's completion curve above the actions' progress (:func:`progress_figure`).
    applies
        Whether the chart belongs with the data at all; when not, :meth:`on_screen` and
        :meth:`on_slide` give ``None``, and a list of charts leaves it out.

    Examples
    --------
    >>> CHARTS["durations"].heading, CHARTS["durations"].title
    ('Durations by step', 'Durations')
    """

    name: str
    heading: str
    title: str
    draw: Callable[[ChartData, Axes], Axes | None]
    missing_job: str = ""
    missing_selection: str = ""
    screen_size: Callable[[ChartData], tuple[float, float]] = lambda data: SCREEN_SIZE
    screen_figure: Callable[[ChartData], Figure] | None = None
    applies: Callable[[ChartData], bool] = lambda data: True

    def on_screen(self, data: ChartData) -> Figure | None:
        """The chart as the explorer shows it: a figure of its screen size; ``None`` as ``draw``.

        Parameters
        ----------
        data
            What to draw.

        Returns
        -------
        matplotlib.figure.Figure or None

        Examples
        --------
        >>> import deadline_nb as dnb
        >>> CHARTS["frame_times"].on_screen(ChartData(dnb.session_action_frame([]))) is None
        True
        """
        if not self.applies(data):
            return None
        if self.screen_figure is not None:
            return self.screen_figure(data)
        fig = figure(self.screen_size(data))
        return fig if self.draw(data, fig.add_subplot()) is not None else None

    def on_slide(self, data: ChartData) -> Figure | None:
        """The chart as the report shows it: one Axes on a slide-sized figure; ``None`` as ``draw``.

        Parameters
        ----------
        data
            What to draw.

        Returns
        -------
        matplotlib.figure.Figure or None
            Sized :data:`deadline_nb.plots.SLIDE_SIZE` (1920 x 1080 when saved by
            :func:`deadline_nb.save_figure`).

        Examples
        --------
        >>> import deadline_nb as dnb
        >>> fig = CHARTS["status"].on_slide(ChartData(dnb.session_action_frame([])))
        >>> fig.get_size_inches().tolist()
        [12.8, 7.2]
        """
        from . import plots

        if not self.applies(data):
            return None
        fig = figure(plots.SLIDE_SIZE)
        return fig if self.draw(data, fig.add_subplot()) is not None else None


def figure(size: tuple[float, float]) -> Figure:
    """A new figure outside pyplot, with the constrained layout every chart here is drawn with.

    Not pyplot's: nothing global to close, nothing shown by itself in a notebook, and safe to
    draw from the explorer's watch thread.

    Parameters
    ----------
    size
        Width and height in inches.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> figure((4.0, 3.0)).get_size_inches().tolist()
    [4.0, 3.0]
    """
    from matplotlib.figure import Figure

    return Figure(figsize=size, layout="constrained")


def frame_parameter(df: pd.DataFrame) -> str | None:
    """The task parameter for the frame-times chart: ``Frame`` when there is one, else the first.

    Parameters
    ----------
    df
        A session-action frame.

    Returns
    -------
    str or None
        The parameter's name (without ``param.``); ``None`` when the frame has no parameter.

    Examples
    --------
    >>> import pandas as pd
    >>> frame_parameter(pd.DataFrame(columns=["param.Shot", "param.Frame"]))
    'Frame'
    >>> frame_parameter(pd.DataFrame(columns=["status"])) is None
    True
    """
    params = [c for c in df.columns if c.startswith(schema.PARAMETER_PREFIX)]
    if f"{schema.PARAMETER_PREFIX}Frame" in params:
        return "Frame"
    return params[0][len(schema.PARAMETER_PREFIX) :] if params else None


def resources_sampled(df: pd.DataFrame) -> bool:
    """Whether a frame has the resource columns and a task run its worker sampled.

    Parameters
    ----------
    df
        A session-action frame, or a resources frame (``job.resources``).

    Returns
    -------
    bool
        ``True`` when the memory chart has something to draw.

    Examples
    --------
    >>> import pandas as pd
    >>> resources_sampled(pd.DataFrame({"actionType": ["taskRun"]}))
    False
    >>> resources_sampled(pd.DataFrame({
    ...     "actionType": ["taskRun", "envEnter"], "metricSamples": [0, 3],
    ...     "memPeakBytes": [None, 2**30]}))
    False
    >>> resources_sampled(pd.DataFrame({
    ...     "actionType": ["taskRun"], "metricSamples": [4], "memPeakBytes": [2**30]}))
    True
    """
    if not {"metricSamples", "memPeakBytes", "actionType"} <= set(df.columns) or not len(df):
        return False
    runs = (column_strings(df, "actionType") == "taskRun").to_numpy()
    samples = pd.to_numeric(df["metricSamples"], errors="coerce").fillna(0).to_numpy() > 0
    return bool((runs & samples & df["memPeakBytes"].notna().to_numpy()).any())


def timeline_lanes(df: pd.DataFrame) -> str:
    """Lanes by worker when the frame knows its workers, else by session (without a warning).

    Parameters
    ----------
    df
        A session-action frame.

    Returns
    -------
    str
        ``"worker"`` or ``"session"``.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> timeline_lanes(dnb.session_action_frame([]))
    'session'
    """
    by_worker = "workerId" in df.columns and bool(df["workerId"].notna().any())
    return "worker" if by_worker else "session"


def progress_figure(data: ChartData) -> Figure:
    """Tasks completed (with the projection), over each action's progress or the running ones.

    The explorer's progress tab and :func:`deadline_nb.watch` draw this figure: the completion
    curve on top, counted against ``data.tasks``; under it, the progress of each action from
    its snapshots (those of the actions shown), else the running actions' bars, else nothing.

    Parameters
    ----------
    data
        The actions, their snapshots and the job's task count.

    Returns
    -------
    matplotlib.figure.Figure
        One or two Axes, one above the other.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm.model import JOBS, FarmModel
    >>> model = FarmModel(seed=0)
    >>> df = dnb.session_action_frame(
    ...     model.session_actions(model.job_by_name(JOBS["render"]).job_id))
    >>> len(progress_figure(ChartData(df, finished=True)).axes)
    1
    """
    from . import plots

    actions, snapshots = data.actions, data.snapshots
    if snapshots is not None and len(snapshots) and len(actions):
        snapshots = snapshots[snapshots["sessionActionId"].isin(actions["sessionActionId"])]
    has_snapshots = snapshots is not None and len(snapshots) > 0
    running = bool((column_strings(actions, "status") == "RUNNING").any())
    lower = "snapshots" if has_snapshots else "running" if running else None
    fig = figure((10.0, 7.5 if lower else 4.5))
    axes = fig.subplots(2 if lower else 1, 1, squeeze=False)[:, 0]
    plots.plot_progress(actions, kind="completed", tasks=data.tasks, ax=axes[0])
    if lower:
        plots.plot_progress(actions, kind=lower, snapshots=snapshots, ax=axes[1])
    return fig


# ---------------------------------------------------------------------------------------------
# how each chart is drawn


def _timeline(data: ChartData, ax: Axes) -> Axes:
    from . import plots

    metrics = data.metrics if data.metrics is not None and len(data.metrics) else None
    if data.lanes is None:
        return plots.plot_timeline(data.actions, metrics=metrics, ax=ax)
    return plots.plot_timeline(data.actions, lanes=data.lanes, metrics=metrics, ax=ax)


def _timeline_size(data: ChartData) -> tuple[float, float]:
    # One lane per worker (or session): the figure grows with them, within a screen's height.
    df = data.actions
    lanes = data.lanes or timeline_lanes(df)
    count = df["workerId" if lanes == "worker" else "sessionId"].nunique() if len(df) else 0
    strip = 1.0 if data.metrics is not None and len(data.metrics) else 0.0
    return (11.0, min(max(2.0 + 0.16 * count, 4.0), 16.0) + strip)


def _frame_times(data: ChartData, ax: Axes) -> Axes | None:
    from . import plots

    parameter = frame_parameter(data.actions)
    if parameter is None:
        return None
    return plots.plot_frame_times(data.actions, parameter=parameter, ax=ax)


def _memory(data: ChartData, ax: Axes) -> Axes | None:
    from . import plots

    parameter = frame_parameter(data.actions)
    if parameter is None or not resources_sampled(data.actions):
        return None
    return plots.plot_memory(data.actions, parameter=parameter, ax=ax)


def _durations(data: ChartData, ax: Axes) -> Axes:
    from . import plots

    return plots.plot_durations(data.actions, ax=ax)


def _status(data: ChartData, ax: Axes) -> Axes:
    from . import plots

    return plots.plot_status(data.actions, ax=ax)


def _exit_codes(data: ChartData, ax: Axes) -> Axes:
    from . import plots

    return plots.plot_exit_codes(data.actions, ax=ax)


def _concurrency(data: ChartData, ax: Axes) -> Axes:
    from . import plots

    return plots.plot_concurrency(data.actions, ax=ax)


def _progress(data: ChartData, ax: Axes) -> Axes:
    from . import plots

    # A finished job's story is its completion curve; an unfinished one shows where it is now.
    if data.finished:
        return plots.plot_progress(data.actions, kind="completed", tasks=data.tasks, ax=ax)
    snapshots = data.snapshots if data.snapshots is not None and len(data.snapshots) else None
    return plots.plot_progress(data.actions, snapshots=snapshots, ax=ax)


#: Every chart, in the report's order.
CHARTS: Final[Mapping[str, Chart]] = {
    chart.name: chart
    for chart in (
        Chart(
            "timeline",
            "Timeline: what ran where and when",
            "Timeline",
            _timeline,
            screen_size=_timeline_size,
        ),
        Chart(
            "frame_times",
            "Frame times, every attempt",
            "Frame times",
            _frame_times,
            missing_job="Not drawn: the job's tasks have no parameters.",
            missing_selection="No task parameters in these actions: nothing to put on the x axis.",
        ),
        Chart(
            "memory",
            "Peak memory per frame",
            "Memory",
            _memory,
            missing_job="Not drawn: no worker metrics were read for the job's task runs.",
            missing_selection="No sampled task runs with task parameters in these actions.",
            applies=lambda data: resources_sampled(data.actions),
        ),
        Chart("durations", "Durations by step", "Durations", _durations),
        Chart("status", "Task runs by status", "Status", _status),
        Chart("exit_codes", "Exit codes", "Exit codes", _exit_codes),
        Chart("concurrency", "Concurrency and utilisation", "Concurrency", _concurrency),
        Chart("progress", "Progress", "Progress", _progress, screen_figure=progress_figure),
    )
}
