"""The explorer's Findings panel: :func:`deadline_nb.diagnose`'s findings, one to choose.

Choosing a finding filters the explorer to the actions it is about (its ``sessionActionIds``; a
finding about workers only, such as setup overhead, to those workers' actions); choosing
"all actions" again lifts that filter. The panel shows the chosen finding's evidence and what to
look at next.
"""

from __future__ import annotations

import html
from typing import Any, Final

import ipywidgets as widgets
import numpy as np
import pandas as pd

from .. import schema

__all__ = ["NO_FINDING", "FindingsPanel"]

#: The panel's value when no finding is chosen: the explorer shows every action.
NO_FINDING: Final = -1

_SEVERITY_COLORS: Final = {"critical": "#b42318", "warning": "#b26b00", "info": "#5b6475"}


class FindingsPanel(widgets.VBox):
    """A list of findings to choose from, and the chosen one's evidence.

    Attributes
    ----------
    select : ipywidgets.Select
        One option per finding (``[CRITICAL] <title>``) after "all actions"; its value is the
        finding's row number, or :data:`NO_FINDING`.
    detail : ipywidgets.HTML
        The chosen finding's evidence and next step, or a summary of the findings.
    findings : pandas.DataFrame
        What :meth:`set_findings` was given.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm.model import JOBS, FarmModel
    >>> model = FarmModel(seed=0)
    >>> df = dnb.session_action_frame(
    ...     model.session_actions(model.job_by_name(JOBS["failing"]).job_id))
    >>> panel = FindingsPanel()
    >>> panel.set_findings(dnb.diagnose(df))
    >>> panel.select.value = 0
    >>> int(panel.mask(df).sum())
    3
    """

    def __init__(self, **kwargs: Any) -> None:
        self.select = widgets.Select(
            options=[("all actions", NO_FINDING)],
            value=NO_FINDING,
            rows=8,
            layout=widgets.Layout(width="100%"),
        )
        self.detail = widgets.HTML()
        self.findings = schema.empty_frame(schema.FINDING_COLUMNS)
        super().__init__([self.select, self.detail], **kwargs)
        self.select.observe(self._show, names="value")
        self._show()

    def set_findings(self, findings: pd.DataFrame) -> None:
        """Show these findings; the chosen one stays chosen when it is still among them."""
        chosen = self.chosen
        title = None if chosen is None else str(chosen["title"])
        self.findings = findings.reset_index(drop=True)
        options = [("all actions", NO_FINDING)] + [
            (f"[{str(row.severity).upper()}] {row.title}", i)
            for i, row in enumerate(self.findings.itertuples(index=False))
        ]
        titles = [str(t) for t in self.findings["title"]]
        value = titles.index(title) if title in titles else NO_FINDING
        with self.hold_trait_notifications():
            self.select.options = options
            self.select.value = value
        self._show()

    @property
    def chosen(self) -> pd.Series | None:
        """The chosen finding's row, or None."""
        value = self.select.value
        if value is None or value == NO_FINDING or value >= len(self.findings):
            return None
        row: pd.Series = self.findings.iloc[int(value)]
        return row

    def mask(self, frame: pd.DataFrame) -> np.ndarray | None:
        """Which of ``frame``'s actions the chosen finding is about (None: no finding chosen)."""
        row = self.chosen
        if row is None:
            return None
        if row["sessionActionIds"] and "sessionActionId" in frame.columns:
            column, values = "sessionActionId", list(row["sessionActionIds"])
        elif row["workerIds"] and "workerId" in frame.columns:
            column, values = "workerId", list(row["workerIds"])
        else:
            return None
        return frame[column].astype(object).isin(values).to_numpy()

    def _show(self, change: Any = None) -> None:
        row = self.chosen
        if row is None:
            counts = self.findings["severity"].astype(str).value_counts()
            said = ", ".join(f"{int(counts[s])} {s}" for s in schema.SEVERITIES if s in counts)
            unchecked = self.findings.attrs.get("unchecked") or {}
            lines = [
                f"<p>{html.escape(said) if said else 'No findings.'} Choose one to show only "
                "its actions in the other tabs.</p>"
            ]
            if unchecked:
                lines.append(
                    "<p style='color:#5b6475'>Not checked: "
                    + html.escape("; ".join(f"{k} ({v})" for k, v in unchecked.items()))
                    + "</p>"
                )
            self.detail.value = "".join(lines)
            return
        severity = str(row["severity"])
        color = _SEVERITY_COLORS.get(severity, "#5b6475")
        self.detail.value = (
            f"<p><b style='color:{color}'>{html.escape(severity.upper())}</b> "
            f"{html.escape(str(row['title']))}</p>"
            f"<p>{html.escape(str(row['evidence']))}</p>"
            f"<p>Next: <code>{html.escape(str(row['next']))}</code></p>"
            f"<p style='color:#5b6475'>The other tabs show its {len(row['sessionActionIds'])} "
            "actions (with the filters above).</p>"
        )
