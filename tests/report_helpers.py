"""Reading a report back: the page's tags and text, and the checks every report must pass."""

from __future__ import annotations

import html
import html.parser
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from deadline_nb.localfarm import FarmModel


class Page(html.parser.HTMLParser):
    """What the tests look at in a report: tags, links, ids, charts and the visible text."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.links: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.ids: list[str] = []
        self.attributes: set[str] = set()
        self.text: list[str] = []
        self.figures: dict[str, str] = {}  # chart name -> "svg" or "png"
        self._chart: str | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            self.attributes.add(name)
            if name in ("src", "href", "xlink:href", "action", "data", "poster", "srcset"):
                self.links.append((tag, name, value or ""))
            if name == "id" and value:
                self.ids.append(value)
                if value.startswith("chart-"):
                    self._chart = value.removeprefix("chart-")
        if self._chart and tag == "svg":
            self.figures[self._chart] = "svg"
            self._chart = None
        if self._chart and tag == "img":
            src = dict(attrs).get("src") or ""
            self.figures[self._chart] = "png" if src.startswith("data:image/png;base64,") else src
            self._chart = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def assert_self_contained(text: str) -> Page:
    page = Page(text)
    external = [
        link for link in page.links if not link[2].startswith(("data:", "#")) or link[2] == "#"
    ]
    assert external == []
    assert not {"script", "link", "iframe", "object", "embed", "base"} & set(page.tags)
    assert not re.search(r"url\(\s*['\"]?(?!#|data:)", text)  # CSS pulls nothing in
    assert "@import" not in text and "http://" not in text and "https://" not in text
    assert not [a for a in page.attributes if a.startswith("on")]  # no handler: nothing runs
    return page


# ---- the HTML file


# ---- what a report must show, from the local farm's ground truth (its model)


def failed_runs(model: FarmModel, job_id: str) -> list[dict[str, Any]]:
    """The job's failed task runs, as the model made them."""
    return [
        a
        for a in model.session_actions(job_id)
        if a["status"] == "FAILED" and "taskRun" in a["definition"]
    ]


def parameters_text(action: Mapping[str, Any]) -> str:
    """A task run's parameters as the report writes them: ``Frame=24``."""
    parameters = action["definition"]["taskRun"].get("parameters") or {}
    return ", ".join(f"{name}={next(iter(v.values()))}" for name, v in parameters.items())


def retried_tasks(model: FarmModel, job_id: str) -> int:
    """Tasks the model ran more than once."""
    view = model.view(job_id)
    return sum(
        sum(1 for a in actions if a.get("startedAt") is not None) > 1
        for actions in view.actions_by_task.values()
    )


def utc_text(epoch: float) -> str:
    """An epoch time as the report writes it."""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


_LOG_HEADING = re.compile(r'<h3 id="log-([^"]+)">')
_PRE = re.compile(r'<pre class="log">(.*?)</pre>', re.DOTALL)
_NUMBER = re.compile(r'<span class="ln">([0-9,]+)</span>')
_GAP = re.compile(r'<span class="gap">[^<]*</span>\n?')
_CUT = re.compile(r'<span class="cut"> … ([0-9,]+) more characters</span>')


class LogLine(NamedTuple):
    """One line of a failed action's log as the report shows it."""

    number: int
    text: str  # unescaped, without the cut note
    marked: bool
    cut: int  # characters left out


def log_blocks(text: str) -> dict[str, list[LogLine]]:
    """The failed actions' logs on a report page: each action's lines, in order, by its id.

    An action whose block has no ``pre`` (no line in its window) has an empty list.
    """
    headings = list(_LOG_HEADING.finditer(text))
    blocks: dict[str, list[LogLine]] = {}
    for k, heading in enumerate(headings):
        end = (
            headings[k + 1].start()
            if k + 1 < len(headings)
            else text.index("</section>", heading.end())
        )
        pre = _PRE.search(text, heading.end(), end)
        lines: list[LogLine] = []
        if pre is not None:
            parts = _NUMBER.split(pre.group(1))
            for number, body in zip(parts[1::2], parts[2::2], strict=True):
                body = _GAP.sub("", body)
                body = body[:-1] if body.endswith("\n") else body
                cut = _CUT.search(body)
                body = _CUT.sub("", body)
                marked = body.startswith("<mark>") and body.endswith("</mark>")
                body = body.removeprefix("<mark>").removesuffix("</mark>") if marked else body
                assert "<" not in body, body  # nothing but escaped text is left
                lines.append(
                    LogLine(
                        int(number.replace(",", "")),
                        html.unescape(body),
                        marked,
                        int(cut.group(1).replace(",", "")) if cut else 0,
                    )
                )
        blocks[html.unescape(heading.group(1))] = lines
    return blocks
