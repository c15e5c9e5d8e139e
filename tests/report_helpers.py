"""Reading a report back: the page's tags and text, and the checks every report must pass."""

from __future__ import annotations

import html.parser
import re


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
