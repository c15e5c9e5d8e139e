"""Helpers for the fetch tests: count what a client sends, and compare with the farm's truth."""

from __future__ import annotations

import collections
from datetime import datetime
from typing import Any

from deadline_nb.cache import action_state

READ_PREFIXES = ("Get", "List", "BatchGet", "Search")


class Recorder:
    """Record every operation a boto3 client sends, and the identifiers of batch calls."""

    def __init__(self, client: Any) -> None:
        self.calls: collections.Counter[str] = collections.Counter()
        self.batched: list[str] = []
        self.gets: list[str] = []
        client.meta.events.register("provide-client-params.deadline", self._record)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls[model.name] += 1
        if model.name == "BatchGetSessionAction":
            self.batched.extend(i["sessionActionId"] for i in params["identifiers"])
        elif model.name == "GetSessionAction":
            self.gets.append(params["sessionActionId"])

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def clear(self) -> None:
        self.calls.clear()
        self.batched.clear()
        self.gets.clear()


def epoch(value: Any) -> Any:
    """Datetimes (nested anywhere) -> epoch seconds rounded to ms, as the model keeps them."""
    if isinstance(value, datetime):
        return round(value.timestamp(), 3)
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {k: epoch(v) for k, v in value.items()}
    if isinstance(value, list):
        return [epoch(v) for v in value]
    return value


def by_id(actions: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {a["sessionActionId"]: epoch(a) for a in actions}


def changed_between(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> set[str]:
    """Ids of actions whose listing summary differs between two views of a job (or are new)."""
    old = {a["sessionActionId"]: action_state(epoch_to_datetime(a)) for a in before}
    return {
        a["sessionActionId"]
        for a in after
        if old.get(a["sessionActionId"]) != action_state(epoch_to_datetime(a))
    }


def epoch_to_datetime(action: dict[str, Any]) -> dict[str, Any]:
    from datetime import timezone

    out = dict(action)
    for key in ("startedAt", "endedAt", "workerUpdatedAt"):
        if isinstance(out.get(key), (int, float)):
            out[key] = datetime.fromtimestamp(out[key], timezone.utc)
    return out
