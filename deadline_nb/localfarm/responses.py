"""The read operations of the Deadline Cloud API, answered from the farm's model.

One method of :class:`FarmResponses` per operation, as moto lays a service out: it takes the
operation's input (parsed and validated by :mod:`.routes`), looks the resources up in the
:class:`~deadline_nb.localfarm.model.FarmModel`, raises the service's errors
(:mod:`.exceptions`) for what the farm does not have, and returns the output in the shape of the
API, timestamps still as epoch seconds (:mod:`.server` sends them as ISO 8601 text).
:data:`OPERATION_HANDLERS` is the table from operation name to method.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, Final

from botocore.model import Shape

from .exceptions import ApiError, not_found, validation_error
from .model import FarmModel
from .shapes import parse_timestamp, service_model
from .usage import FarmStatistics
from .views import JobView

__all__ = ["OPERATIONS", "OPERATION_HANDLERS", "SEARCH_WINDOW", "FarmResponses"]

_DEFAULT_PAGE: Final = 100

# SearchJobs field names (as the service and the deadline CLI spell them) -> job members, by
# kind: what each filter may name. A string filter on a date (or the reverse) is refused, as a
# filter on a field the index does not have is.
_STRING_FIELDS: Final[Mapping[str, str]] = {
    "JOB_ID": "jobId",
    "QUEUE_ID": "queueId",
    "NAME": "name",
    "TASK_RUN_STATUS": "taskRunStatus",
    "TARGET_TASK_RUN_STATUS": "targetTaskRunStatus",
    "LIFECYCLE_STATUS": "lifecycleStatus",
    "CREATED_BY": "createdBy",
    "UPDATED_BY": "updatedBy",
}
_DATE_FIELDS: Final[Mapping[str, str]] = {
    "CREATED_AT": "createdAt",
    "STARTED_AT": "startedAt",
    "ENDED_AT": "endedAt",
    "UPDATED_AT": "updatedAt",
}
_NUMBER_FIELDS: Final[Mapping[str, str]] = {"PRIORITY": "priority"}
_SEARCH_FIELDS: Final[Mapping[str, str]] = {**_STRING_FIELDS, **_DATE_FIELDS, **_NUMBER_FIELDS}

# The operators each filter takes, as the model's documentation of each member says.
_STRING_OPERATORS: Final = ("EQUAL", "NOT_EQUAL")
_LIST_OPERATORS: Final = ("ANY_EQUALS", "ALL_NOT_EQUALS")
_DATE_OPERATORS: Final = (
    "EQUAL",
    "GREATER_THAN_EQUAL_TO",
    "GREATER_THAN",
    "LESS_THAN_EQUAL_TO",
    "LESS_THAN",
)

#: The most results a search reaches: ``itemOffset`` and ``totalResults`` stop at 10,000.
SEARCH_WINDOW: Final = 10_000


def _project(value: Any, shape: Shape) -> Any:
    """Keep only what ``shape`` has: turns a Get* output into the List* summary of it."""
    if shape.type_name == "structure" and isinstance(value, dict):
        members = shape.members  # type: ignore[attr-defined]
        return {k: _project(v, members[k]) for k, v in value.items() if k in members}
    if shape.type_name == "list" and isinstance(value, list):
        member = shape.member  # type: ignore[attr-defined]
        if member.type_name == "structure":
            return [_project(v, member) for v in value]
    return value


def _no_fault() -> bool:
    return False


class FarmResponses:
    """The answers to every read operation, from one farm's model.

    Parameters
    ----------
    model
        The farm.
    item_fault
        Called once per item of a BatchGet* call: when it returns true, that item comes back in
        the call's ``errors`` as a transient ``InternalServerErrorException``. Never, by default.

    Examples
    --------
    >>> from deadline_nb.localfarm.model import FarmModel
    >>> from deadline_nb.localfarm.responses import FarmResponses
    >>> model = FarmModel(seed=0)
    >>> FarmResponses(model).respond("GetFarm", {"farmId": model.farm_id})["displayName"]
    'Studio Farm'
    """

    def __init__(self, model: FarmModel, *, item_fault: Callable[[], bool] = _no_fault) -> None:
        self.model = model
        self._item_fault = item_fault
        #: The farm's usage aggregations (:mod:`.usage`), with their test knobs.
        self.statistics = FarmStatistics(model)
        self._searches: dict[str, tuple[int, list[tuple[str, Mapping[str, Any]]]]] = {}

    def respond(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """Answer one operation.

        Parameters
        ----------
        operation
            Its name, one of :data:`OPERATIONS`.
        params
            Its input, parsed and validated.

        Returns
        -------
        dict
            Its output, timestamps as epoch seconds.

        Raises
        ------
        ApiError
            The service's error for this request, such as ``ResourceNotFoundException``.

        Examples
        --------
        >>> from deadline_nb.localfarm.model import FarmModel
        >>> from deadline_nb.localfarm.responses import FarmResponses
        >>> from deadline_nb.localfarm.exceptions import ApiError
        >>> try:
        ...     FarmResponses(FarmModel(seed=0)).respond("GetFarm", {"farmId": "farm-1"})
        ... except ApiError as error:
        ...     print(error.code)
        ResourceNotFoundException
        """
        return OPERATION_HANDLERS[operation](self, params)

    # ---- lookups that raise the service's errors

    def _farm(self, p: Mapping[str, Any]) -> None:
        if p["farmId"] != self.model.farm_id:
            raise not_found("farm", p["farmId"])

    def _queue(self, p: Mapping[str, Any]) -> dict[str, Any]:
        self._farm(p)
        for queue in self.model.queues:
            if queue["queueId"] == p["queueId"]:
                return queue
        raise not_found("queue", p["queueId"], farmId=p["farmId"])

    def _fleet(self, p: Mapping[str, Any]) -> dict[str, Any]:
        self._farm(p)
        for fleet in self.model.fleets:
            if fleet["fleetId"] == p["fleetId"]:
                return fleet
        raise not_found("fleet", p["fleetId"], farmId=p["farmId"])

    def _worker(self, p: Mapping[str, Any]) -> dict[str, Any]:
        self._fleet(p)
        for worker in self.model.workers:
            if worker["workerId"] == p["workerId"] and worker["fleetId"] == p["fleetId"]:
                return worker
        raise not_found("worker", p["workerId"], farmId=p["farmId"], fleetId=p["fleetId"])

    def _job(self, p: Mapping[str, Any]) -> JobView:
        self._queue(p)
        job_id = p["jobId"]
        if not self.model.has_job(job_id) or self.model.job_queue(job_id) != p["queueId"]:
            raise not_found("job", job_id, farmId=p["farmId"], queueId=p["queueId"])
        return self.model.view(job_id)

    def _context(self, p: Mapping[str, Any], *names: str) -> dict[str, str]:
        return {n: p[n] for n in names if n in p}

    def _step(self, p: Mapping[str, Any], view: JobView) -> dict[str, Any]:
        step = view.step_by_id.get(p["stepId"])
        if step is None:
            raise not_found("step", p["stepId"], **self._context(p, "farmId", "queueId", "jobId"))
        return step

    def _task(self, p: Mapping[str, Any], view: JobView) -> dict[str, Any]:
        self._step(p, view)
        task = view.task_by_id.get(p["taskId"])
        if task is None or view.task_step[p["taskId"]] != p["stepId"]:
            raise not_found(
                "task", p["taskId"], **self._context(p, "farmId", "queueId", "jobId", "stepId")
            )
        return task

    def _session(self, p: Mapping[str, Any], view: JobView) -> dict[str, Any]:
        session = view.session_by_id.get(p["sessionId"])
        if session is None:
            raise not_found(
                "session", p["sessionId"], **self._context(p, "farmId", "queueId", "jobId")
            )
        return session

    def _action(self, p: Mapping[str, Any], view: JobView) -> dict[str, Any]:
        action = view.action_by_id.get(p["sessionActionId"])
        if action is None:
            raise not_found(
                "session-action",
                p["sessionActionId"],
                **self._context(p, "farmId", "queueId", "jobId"),
            )
        return action

    # ---- pagination

    def _page(
        self,
        operation: str,
        p: Mapping[str, Any],
        items: list[Any],
        key: str,
        shape_of: str,
        materialise: Callable[[Any], Any] | None = None,
    ) -> dict[str, Any]:
        """One page of ``items`` as ``{key: [...], "nextToken": ...}`` projected on a summary shape.

        The token is opaque to clients: the offset and a digest of the query it belongs to, so
        that a token used with another query (another job, another filter) is rejected, as AWS
        rejects it.
        """
        size = p.get("maxResults", _DEFAULT_PAGE)
        query = {k: v for k, v in p.items() if k not in ("nextToken", "maxResults")}
        digest = hashlib.blake2b(
            json.dumps([operation, query], sort_keys=True).encode(), digest_size=8
        ).hexdigest()
        offset = 0
        token = p.get("nextToken")
        if token:
            try:
                decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
                offset = int(decoded["o"])
                valid = decoded["q"] == digest and 0 <= offset <= len(items)
            except (ValueError, KeyError, TypeError, binascii.Error):
                valid = False
            if not valid:
                raise validation_error(
                    "The nextToken is not valid for this request.",
                    "FIELD_VALIDATION_FAILED",
                    ["nextToken: not a token of this query"],
                )
        shape = service_model().shape_for(shape_of)
        window = items[offset : offset + size]
        if materialise is not None:  # only this page's items are made (simulated) in full
            window = [materialise(item) for item in window]
        page = [_project(item, shape) for item in window]
        out: dict[str, Any] = {key: page}
        if offset + size < len(items):
            raw = json.dumps({"o": offset + size, "q": digest}, separators=(",", ":"))
            out["nextToken"] = base64.urlsafe_b64encode(raw.encode()).decode()
        return out

    # ---- operations: farms, queues, fleets, workers

    def list_farms(self, p: dict[str, Any]) -> dict[str, Any]:
        """Answer ``ListFarms``."""
        return self._page("ListFarms", p, [self.model.farm], "farms", "FarmSummary")

    def get_farm(self, p: dict[str, Any]) -> dict[str, Any]:
        """Answer ``GetFarm``."""
        self._farm(p)
        return self.model.farm

    def list_queues(self, p: dict[str, Any]) -> dict[str, Any]:
        """Answer ``ListQueues``."""
        self._farm(p)
        queues = [q for q in self.model.queues if p.get("status") in (None, q["status"])]
        return self._page("ListQueues", p, queues, "queues", "QueueSummary")

    def get_queue(self, p: dict[str, Any]) -> dict[str, Any]:
        """Answer ``GetQueue``."""
        return self._queue(p)

    def list_fleets(self, p: dict[str, Any]) -> dict[str, Any]:
        """Answer ``ListFleets``."""
        self._farm(p)
        fleets = [
            f
            for f in self.model.fleets
            if p.get("status") in (None, f["status"])
            and p.get("displayName") in (None, f["displayName"])
        ]
        return self._page("ListFleets", p, fleets, "fleets", "FleetSummary")

    def get_fleet(self, p: dict[str, Any]) -> dict[str, Any]:
        """Answer ``GetFleet``."""
        return self._fleet(p)

    def list_workers(self, p: dict[str, Any]) -> dict[str, Any]:
        """Answer ``ListWorkers``."""
        self._fleet(p)
        workers = self.model.fleet_workers(p["fleetId"])
        return self._page("ListWorkers", p, workers, "workers", "WorkerSummary")

    def get_worker(self, p: dict[str, Any]) -> dict[str, Any]:
        """Answer ``GetWorker``."""
        return self._worker(p)

    def list_sessions_for_worker(self, p: dict[str, Any]) -> dict[str, Any]:
        """Answer ``ListSessionsForWorker``."""
        self._worker(p)
        sessions: list[dict[str, Any]] = []
        for spec in self.model.jobs:
            for session in self.model.view(spec.job_id).sessions:
                if session["workerId"] == p["workerId"]:
                    sessions.append({**session, "queueId": spec.queue_id, "jobId": spec.job_id})
        sessions.sort(key=lambda s: (s["startedAt"], s["sessionId"]))
        return self._page("ListSessionsForWorker", p, sessions, "sessions", "WorkerSessionSummary")

    # ---- jobs

    def list_jobs(self, p: dict[str, Any]) -> dict[str, Any]:
        """Answer ``ListJobs``."""
        self._queue(p)
        specs = self.model.queue_jobs(p["queueId"])
        return self._page(
            "ListJobs", p, specs, "jobs", "JobSummary", lambda s: self.model.view(s.job_id).job
        )

    def get_job(self, p: dict[str, Any]) -> dict[str, Any]:
        """Answer ``GetJob``."""
        return self._job(p).job

    def batch_get_job(self, p: dict[str, Any]) -> dict[str, Any]:
        """Answer ``BatchGetJob``."""
        items, errors = self._batch(p, lambda ident: self._job(ident).job)
        return {"jobs": items, "errors": errors}

    def search_jobs(self, p: dict[str, Any]) -> dict[str, Any]:
        """Answer ``SearchJobs``.

        Filters and sorts every job of the queues, then returns the page at ``itemOffset``.
        Results stop at :data:`SEARCH_WINDOW` (the model caps ``itemOffset``,
        ``nextItemOffset`` and ``totalResults`` there). Filters and sorts on a job's name, ids,
        submitter, priority, submission time and parameters are answered without simulating a
        job; statuses and start or end times simulate each job they look at, once.
        """
        self._farm(p)
        for queue_id in p["queueIds"]:
            self._queue({"farmId": p["farmId"], "queueId": queue_id})
        query = {k: v for k, v in p.items() if k not in ("itemOffset", "pageSize")}
        key = json.dumps(query, sort_keys=True, default=str)
        # One result list per query and second of the model's clock, as a search index keeps
        # one snapshot while a client pages through it: 200 pages of a 20,000-job queue then
        # filter and sort it once, not 200 times.
        second = math.floor(self.model.now())
        memo = self._searches.get(key)
        if memo is not None and memo[0] == second:
            jobs = memo[1]
        else:
            jobs = self._search(p)
            if len(self._searches) >= 16:
                self._searches.pop(next(iter(self._searches)))
            self._searches[key] = (second, jobs)
        total = min(len(jobs), SEARCH_WINDOW)
        offset, size = p["itemOffset"], p.get("pageSize", _DEFAULT_PAGE)
        shape = service_model().shape_for("JobSearchSummary")
        out: dict[str, Any] = {
            "jobs": [
                _project(self._summary(job), shape)
                for job in jobs[offset : min(offset + size, total)]
            ],
            "totalResults": total,
        }
        if offset + size < total:
            out["nextItemOffset"] = offset + size
        return out

    def _search(self, p: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
        """Every job of the queues that passes the filters, as (queue id, record), sorted."""
        jobs: list[tuple[str, Mapping[str, Any]]] = [
            found for queue_id in p["queueIds"] for found in self.model.queue_records(queue_id)
        ]
        expression = p.get("filterExpressions")
        if expression is not None:
            _check_group(expression, depth=1)
            jobs = [job for job in jobs if _matches_group(_WithQueue(job[1], job[0]), expression)]
        sorts = p.get("sortExpressions") or [
            {"fieldSort": {"name": "CREATED_AT", "sortOrder": "DESCENDING"}}
        ]
        for sort in reversed(sorts):  # stable sorts, last key first
            jobs = _sorted_jobs(jobs, sort)
        return jobs

    def _summary(self, job: tuple[str, Mapping[str, Any]]) -> dict[str, Any]:
        """A job as SearchJobs returns it: GetJob's fields, ``jobParameters`` for ``parameters``."""
        queue_id, record = job
        out = {"queueId": queue_id, **self.model.view(record["jobId"]).job}
        parameters = out.pop("parameters", None)
        if parameters:
            out["jobParameters"] = parameters
        return out

    # ---- steps and tasks

    def list_steps(self, p: dict[str, Any]) -> dict[str, Any]:
        """Answer ``ListSteps``."""
        view = self._job(p)
        return self._page("ListSteps", p, view.steps, "steps", "StepSummary")

    def get_step(self, p: dict[str, Any]) -> dict[str, Any]:
        """Answer ``GetStep``."""
        return self._step(p, self._job(p))

    def batch_get_step(self, p: dict[str, Any]) -> dict[str, Any]:
        """Answer ``BatchGetStep``."""
        items, errors = self._batch(p, lambda ident: self._step(ident, self._job(ident)))
        return {"steps": items, "errors": errors}

    def list_tasks(self, p: dict[str, Any]) -> dict[str, Any]:
        """Answer ``ListTasks``."""
        view = self._job(p)
        self._step(p, view)
        return self._page("ListTasks", p, view.tasks[p["stepId"]], "tasks", "TaskSummary")

    def get_task(self, p: dict[str, Any]) -> dict[str, Any]:
        """Answer ``GetTask``."""
        return self._task(p, self._job(p))

    def batch_get_task(self, p: dict[str, Any]) -> dict[str, Any]:
        """Answer ``BatchGetTask``."""
        items, errors = self._batch(p, lambda ident: self._task(ident, self._job(ident)))
        return {"tasks": items, "errors": errors}

    # ---- sessions and session actions

    def list_sessions(self, p: dict[str, Any]) -> dict[str, Any]:
        """Answer ``ListSessions``."""
        view = self._job(p)
        return self._page("ListSessions", p, view.sessions, "sessions", "SessionSummary")

    def get_session(self, p: dict[str, Any]) -> dict[str, Any]:
        """Answer ``GetSession``."""
        return self._session(p, self._job(p))

    def batch_get_session(self, p: dict[str, Any]) -> dict[str, Any]:
        """Answer ``BatchGetSession``."""
        items, errors = self._batch(p, lambda ident: self._session(ident, self._job(ident)))
        return {"sessions": items, "errors": errors}

    def list_session_actions(self, p: dict[str, Any]) -> dict[str, Any]:
        """Answer ``ListSessionActions``."""
        view = self._job(p)
        session_id, task_id = p.get("sessionId"), p.get("taskId")
        if session_id is not None:
            actions = view.actions_by_session.get(session_id, [])
            if task_id is not None:
                actions = [
                    a
                    for a in actions
                    if a["definition"].get("taskRun", {}).get("taskId") == task_id
                ]
        elif task_id is not None:
            actions = view.actions_by_task.get(task_id, [])
        else:
            actions = view.actions
        return self._page(
            "ListSessionActions", p, actions, "sessionActions", "SessionActionSummary"
        )

    def get_session_action(self, p: dict[str, Any]) -> dict[str, Any]:
        """Answer ``GetSessionAction``."""
        return self._action(p, self._job(p))

    def batch_get_session_action(self, p: dict[str, Any]) -> dict[str, Any]:
        """Answer ``BatchGetSessionAction``."""
        items, errors = self._batch(p, lambda ident: self._action(ident, self._job(ident)))
        return {"sessionActions": items, "errors": errors}

    # ---- usage statistics (:mod:`.usage`)

    def start_sessions_statistics_aggregation(self, p: dict[str, Any]) -> dict[str, Any]:
        """Answer ``StartSessionsStatisticsAggregation``: the one operation that is not a read.

        It changes nothing the farm bills: it starts a computation whose results live an hour.
        """
        self._farm(p)
        return self.statistics.start(
            {
                **p,
                "startTime": parse_timestamp(p["startTime"]),
                "endTime": parse_timestamp(p["endTime"]),
            }
        )

    def get_sessions_statistics_aggregation(self, p: dict[str, Any]) -> dict[str, Any]:
        """Answer ``GetSessionsStatisticsAggregation``."""
        self._farm(p)
        return self.statistics.get(p)

    def _batch(
        self, p: Mapping[str, Any], get: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Answer each identifier on its own: what fails goes in ``errors``, the call succeeds."""
        items: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for ident in p["identifiers"]:
            try:
                if self._item_fault():
                    raise ApiError(
                        "InternalServerErrorException",
                        "Internal error for this item (injected).",
                    )
                items.append({**ident, **get(ident)})
            except ApiError as error:
                errors.append({**ident, "code": error.code, "message": error.message})
        return items, errors


# ---- SearchJobs filters and sorts


class _WithQueue(Mapping[str, Any]):
    """A job record with the queue it was found in (the search's summaries carry it)."""

    __slots__ = ("_job", "_queue_id")

    def __init__(self, job: Mapping[str, Any], queue_id: str) -> None:
        self._job = job
        self._queue_id = queue_id

    def __getitem__(self, key: str) -> Any:
        return self._queue_id if key == "queueId" else self._job[key]

    def __iter__(self) -> Iterator[str]:
        yield "queueId"
        yield from (k for k in self._job if k != "queueId")

    def __len__(self) -> int:
        return len(list(iter(self)))


def _invalid(message: str, field: str) -> ApiError:
    return validation_error(message, "FIELD_VALIDATION_FAILED", [f"{field}: {message}"])


def _field(name: str, kinds: Mapping[str, str] = _SEARCH_FIELDS, what: str = "search") -> str:
    member = kinds.get(name)
    if member is None:
        raise _invalid(
            f"{name!r} is not a {what} field; the {what} fields are {sorted(kinds)}.", "name"
        )
    return member


def _check_operator(operator: str, allowed: tuple[str, ...], filter_kind: str) -> None:
    if operator not in allowed:
        raise _invalid(
            f"The operator {operator!r} is not supported by {filter_kind}; use one of "
            f"{list(allowed)}.",
            "operator",
        )


def _check_group(group: Mapping[str, Any], depth: int) -> None:
    """Refuse what the service refuses before anything is matched: unknown fields, operators a
    filter does not take, and groups nested deeper than two ("two groupings per search")."""
    for expression in group["filters"]:
        ((kind, spec),) = expression.items()
        if kind == "groupFilter":
            if depth >= 2:
                raise _invalid(
                    "A search takes two levels of grouping at most: a group filter inside a "
                    "group filter is not supported.",
                    "groupFilter",
                )
            _check_group(spec, depth + 1)
        elif kind == "stringFilter":
            _field(spec["name"], {**_STRING_FIELDS, **_NUMBER_FIELDS}, "string")
            _check_operator(spec["operator"], _STRING_OPERATORS, "stringFilter")
        elif kind == "stringListFilter":
            _field(spec["name"], {**_STRING_FIELDS, **_NUMBER_FIELDS}, "string")
            _check_operator(spec["operator"], _LIST_OPERATORS, "stringListFilter")
        elif kind == "dateTimeFilter":
            _field(spec["name"], _DATE_FIELDS, "date-time")
            _check_operator(spec["operator"], _DATE_OPERATORS, "dateTimeFilter")
        elif kind not in ("searchTermFilter", "parameterFilter"):
            raise _invalid(f"Unknown filter {kind!r}.", "filters")


def _compare(left: Any, operator: str, right: Any) -> bool:
    if left is None:
        return operator in ("NOT_EQUAL", "ALL_NOT_EQUALS")
    if operator == "EQUAL":
        return bool(left == right)
    if operator == "NOT_EQUAL":
        return bool(left != right)
    if operator == "ANY_EQUALS":
        return left in right if isinstance(right, list) else bool(left == right)
    if operator == "ALL_NOT_EQUALS":
        return left not in right if isinstance(right, list) else bool(left != right)
    if operator == "GREATER_THAN_EQUAL_TO":
        return bool(left >= right)
    if operator == "GREATER_THAN":
        return bool(left > right)
    if operator == "LESS_THAN_EQUAL_TO":
        return bool(left <= right)
    if operator == "LESS_THAN":
        return bool(left < right)
    raise _invalid(f"Unknown operator {operator!r}.", "operator")


# Word separators of a search term: names are spelled sq010_sh020_lighting_v003.
_WORDS: Final = re.compile(r"[\s_.\-/]+")


def _search_term(name: str, term: str, match_type: str) -> bool:
    """The model's two match types, case-insensitive as a search index is.

    ``CONTAINS``: the exact term is in the name. ``FUZZY_MATCH`` (the default): "a portion of
    the search term is found" in the name: any of its words.
    """
    name, term = name.lower(), term.lower()
    if match_type == "CONTAINS":
        return term in name
    return any(word in name for word in _WORDS.split(term) if word)


def _parameter_value(job: Mapping[str, Any], name: str) -> tuple[str, str] | None:
    """A job parameter's type (``int``, ``float``, ``string``, ``path``, ...) and value."""
    parameter = (job.get("parameters") or {}).get(name)
    if not parameter:
        return None
    ((kind, value),) = parameter.items()
    return kind, value


def _typed(kind: str, value: Any, *, field: str) -> Any:
    """A parameter's text as it compares: numbers as numbers, the rest as text."""
    if kind in ("int", "float"):
        try:
            return int(value) if kind == "int" else float(value)
        except (TypeError, ValueError):
            raise _invalid(f"{value!r} is not a number, but the parameter is one.", field) from None
    return value


def _matches(job: Mapping[str, Any], expression: Mapping[str, Any]) -> bool:
    ((kind, spec),) = expression.items()
    if kind == "groupFilter":
        return _matches_group(job, spec)
    if kind == "searchTermFilter":
        return _search_term(
            str(job["name"]), spec["searchTerm"], spec.get("matchType", "FUZZY_MATCH")
        )
    if kind == "stringFilter":
        member = _field(spec["name"])
        value = job.get(member)
        return _compare(None if value is None else str(value), spec["operator"], spec["value"])
    if kind == "stringListFilter":
        member = _field(spec["name"])
        value = job.get(member)
        return _compare(None if value is None else str(value), spec["operator"], spec["values"])
    if kind == "dateTimeFilter":
        when = parse_timestamp(spec["dateTime"])  # validated on the way in
        return _compare(job.get(_field(spec["name"])), spec["operator"], when)
    if kind == "parameterFilter":
        found = _parameter_value(job, spec["name"])
        if found is None:
            return _compare(None, spec["operator"], spec["value"])
        kind_, value = found
        right = _typed(kind_, spec["value"], field="parameterFilter.value")
        return _compare(_typed(kind_, value, field="parameters"), spec["operator"], right)
    raise _invalid(f"Unknown filter {kind!r}.", "filters")


# Cheap filters first: they need no simulation, so an AND group rarely simulates a job.
_CHEAP_FIELDS: Final = frozenset(
    {"JOB_ID", "QUEUE_ID", "NAME", "CREATED_BY", "LIFECYCLE_STATUS", "CREATED_AT", "PRIORITY"}
)


def _cost(expression: Mapping[str, Any]) -> int:
    ((kind, spec),) = expression.items()
    if kind in ("searchTermFilter", "parameterFilter"):
        return 0
    if kind == "groupFilter":
        return max((_cost(f) for f in spec["filters"]), default=0)
    return 0 if spec.get("name") in _CHEAP_FIELDS else 1


def _matches_group(job: Mapping[str, Any], group: Mapping[str, Any]) -> bool:
    # The result does not depend on the order: every filter is a pure test.
    results = (_matches(job, f) for f in sorted(group["filters"], key=_cost))
    return all(results) if group["operator"] == "AND" else any(results)


_Found = tuple[str, Mapping[str, Any]]  # (queue id, job record)


def _sorted_jobs(jobs: list[_Found], sort: Mapping[str, Any]) -> list[_Found]:
    ((kind, spec),) = sort.items()
    if kind == "userJobsFirst":
        user = spec["userIdentityId"]
        return sorted(jobs, key=lambda j: j[1].get("createdBy") != user)
    descending = spec["sortOrder"] == "DESCENDING"
    if kind == "fieldSort":
        member = _field(spec["name"])
        if member == "queueId":
            return _sort_missing_last(jobs, lambda j: j[0], descending)
        return _sort_missing_last(jobs, lambda j: j[1].get(member), descending)
    if kind == "parameterSort":
        name = spec["name"]

        def parameter(job: _Found) -> Any:
            # Numbers before text, so that a parameter typed both ways still sorts.
            found = _parameter_value(job[1], name)
            if found is None:
                return None
            kind_, value = found
            if kind_ in ("int", "float"):
                with contextlib.suppress(ApiError):
                    return (0, _typed(kind_, value, field="parameters"), "")
            return (1, 0, str(value))

        return _sort_missing_last(jobs, parameter, descending)
    raise _invalid(f"Unknown sort {kind!r}.", "sortExpressions")


def _sort_missing_last(
    jobs: list[_Found], key: Callable[[_Found], Any], descending: bool
) -> list[_Found]:
    keyed = [(key(j), j) for j in jobs]
    present = [(k, j) for k, j in keyed if k is not None]
    present.sort(key=lambda kj: kj[0], reverse=descending)
    return [j for _, j in present] + [j for k, j in keyed if k is None]


#: Operation name -> the method of :class:`FarmResponses` that answers it.
OPERATION_HANDLERS: Final[
    Mapping[str, Callable[[FarmResponses, dict[str, Any]], dict[str, Any]]]
] = MappingProxyType(
    {
        "ListFarms": FarmResponses.list_farms,
        "GetFarm": FarmResponses.get_farm,
        "ListQueues": FarmResponses.list_queues,
        "GetQueue": FarmResponses.get_queue,
        "ListFleets": FarmResponses.list_fleets,
        "GetFleet": FarmResponses.get_fleet,
        "ListWorkers": FarmResponses.list_workers,
        "GetWorker": FarmResponses.get_worker,
        "SearchJobs": FarmResponses.search_jobs,
        "ListJobs": FarmResponses.list_jobs,
        "GetJob": FarmResponses.get_job,
        "BatchGetJob": FarmResponses.batch_get_job,
        "ListSteps": FarmResponses.list_steps,
        "GetStep": FarmResponses.get_step,
        "BatchGetStep": FarmResponses.batch_get_step,
        "ListTasks": FarmResponses.list_tasks,
        "GetTask": FarmResponses.get_task,
        "BatchGetTask": FarmResponses.batch_get_task,
        "ListSessions": FarmResponses.list_sessions,
        "GetSession": FarmResponses.get_session,
        "BatchGetSession": FarmResponses.batch_get_session,
        "ListSessionsForWorker": FarmResponses.list_sessions_for_worker,
        "ListSessionActions": FarmResponses.list_session_actions,
        "GetSessionAction": FarmResponses.get_session_action,
        "BatchGetSessionAction": FarmResponses.batch_get_session_action,
        "StartSessionsStatisticsAggregation": FarmResponses.start_sessions_statistics_aggregation,
        "GetSessionsStatisticsAggregation": FarmResponses.get_sessions_statistics_aggregation,
    }
)

#: The operations the local farm serves: every read of farms, queues, fleets, workers, jobs,
#: steps, tasks, sessions and session actions, and the usage statistics (whose start is the one
#: operation that is not a read: it creates nothing anyone pays for).
OPERATIONS: Final[tuple[str, ...]] = tuple(OPERATION_HANDLERS)
