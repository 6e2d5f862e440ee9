"""KFP's API server (REST v2beta1) reduced to its documented HTTP contract: the one fake here.

It serves what `kfp.Client` calls to get or create an experiment and find, create or read a run,
in memory, recording every request. JSON is the server's: proto field names, empty fields left
out, enums by name, int64 as strings, errors as google.rpc.Status. Anything else answers 501.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from kfp_server_api.models import (  # type: ignore[import-untyped]
    V2beta1Experiment,
    V2beta1Run,
    V2beta1RuntimeConfig,
)

API: Final = "/apis/v2beta1"
STATES: Final = (
    "RUNTIME_STATE_UNSPECIFIED",
    "PENDING",
    "RUNNING",
    "SUCCEEDED",
    "SKIPPED",
    "FAILED",
    "CANCELING",
    "CANCELED",
    "PAUSED",
)
TERMINAL_STATES: Final = frozenset({"SUCCEEDED", "SKIPPED", "FAILED", "CANCELED"})
# gRPC status codes and the HTTP statuses grpc-gateway answers them with.
UNKNOWN, INVALID_ARGUMENT, NOT_FOUND = 2, 3, 5
ALREADY_EXISTS, UNIMPLEMENTED, UNAVAILABLE = 6, 12, 14
_HTTP: Final = {2: 500, 3: 400, 5: 404, 6: 409, 12: 501, 14: 503}
_EQUALS: Final = (1, "EQUALS")  # the client sends the number, protojson accepts either
# The server rejects unknown fields (DiscardUnknown: false); the client's models list the known.
_RUN_FIELDS: Final = frozenset(V2beta1Run.attribute_map.values())
_EXPERIMENT_FIELDS: Final = frozenset(V2beta1Experiment.attribute_map.values())
_RUNTIME_CONFIG_FIELDS: Final = frozenset(V2beta1RuntimeConfig.attribute_map.values())


class ApiError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: Any


class KfpContract:
    """Serve it with `with KfpContract() as contract:`; `contract.url` is the host to give."""

    def __init__(self) -> None:
        self.url = ""
        self.requests: list[Request] = []
        self.unimplemented: list[str] = []
        self.experiments: dict[str, dict[str, Any]] = {}
        self._runs: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._failures: deque[tuple[int, str]] = deque()
        self._scripts: dict[str, deque[str]] = {}
        self._racing: set[str] = set()
        self._ids = 0
        self._server: ThreadingHTTPServer | None = None
        self.default_experiment = self._add_experiment("Default", "")  # single-user mode has it

    def __enter__(self) -> KfpContract:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        serve = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        serve.start()  # a short poll interval: closing waits for one
        self._server = server
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop answering: from now on, connections to `url` are refused."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # What the test sees and steers.

    @property
    def runs(self) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(json.dumps(_public(r))) for r in self._ordered(self._runs.values())]

    def sent(self, method: str, path: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and r.path == API + path]

    def move(self, run_id: str, state: str, error: str | None = None) -> None:
        """Put the run in `state`, as the persistence agent reports it; `error` is the run's."""
        with self._lock:
            self._move(self._runs[run_id], state, error)

    def move_on_each_get(self, run_id: str, *states: str) -> None:
        """Each GET of the run first moves it to the next of `states`."""
        assert set(states) <= set(STATES), f"{states} are not all V2beta1RuntimeStates"
        with self._lock:
            self._scripts[run_id] = deque(states)

    def finish_task(self, run_id: str, task: str) -> None:
        """`task` SUCCEEDED while the run goes on, as the persistence agent reports it."""
        with self._lock:
            for detail in self._runs[run_id]["run_details"]["task_details"]:
                if detail["display_name"] == task:
                    detail["state"] = "SUCCEEDED"

    def fail_task(self, run_id: str, task: str, message: str) -> None:
        """The run FAILED in `task`, with the error on the task only."""
        with self._lock:
            run = self._runs[run_id]
            self._move(run, "FAILED", None)
            for detail in run["run_details"]["task_details"]:
                if detail["display_name"] == task:
                    detail["state"] = "FAILED"
                    detail["error"] = {"code": UNKNOWN, "message": message}

    def answer_next(self, code: int, message: str) -> None:
        """The next request is answered with this error instead."""
        with self._lock:
            self._failures.append((code, message))

    def race_experiment(self, name: str) -> None:
        """Another writer creates experiment `name` just before the next create of it lands."""
        with self._lock:
            self._racing.add(name)

    # The API.

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> Any:
        route = path.removeprefix(API).strip("/").split("/")
        with self._lock:
            self.requests.append(Request(method, path, query, body))
            if self._failures:
                raise ApiError(*self._failures.popleft())
            match method, route:
                case "GET", ["healthz"]:
                    return {
                        "commit_sha": "unknown",
                        "tag_name": "unknown",
                        "multi_user": False,
                        "pipeline_store": "database",
                    }
                case "GET", ["experiments"]:
                    found = self._list(self.experiments.values(), query)
                    return _page("experiments", found, query)
                case "POST", ["experiments"]:
                    return self._create_experiment(body)
                case "GET", ["experiments", experiment_id]:
                    return self._experiment(experiment_id)
                case "GET", ["runs"]:
                    runs = [r for r in self._runs.values() if _in(r, query.get("experiment_id"))]
                    return _page("runs", self._list(runs, query), query)
                case "POST", ["runs"]:
                    return self._create_run(body)
                case "GET", ["runs", run_id]:
                    if self._scripts.get(run_id):
                        self._move(self._runs[run_id], self._scripts[run_id].popleft(), None)
                    return self._run(run_id)
            self.unimplemented.append(f"{method} {path}")
        raise ApiError(UNIMPLEMENTED, f"{method} {path} is not implemented by the contract fake")

    def _create_experiment(self, body: Any) -> dict[str, Any]:
        _known_fields(body, _EXPERIMENT_FIELDS, "experiment")
        name, namespace = body.get("display_name", ""), body.get("namespace", "")
        if not name:
            raise ApiError(INVALID_ARGUMENT, "Experiment must have a non-empty name")
        if name in self._racing:
            self._racing.remove(name)
            self._add_experiment(name, namespace)
        if any(e["display_name"] == name for e in self.experiments.values()):
            raise ApiError(ALREADY_EXISTS, f"an experiment named {name} already exists")
        return self._add_experiment(name, namespace, body.get("description", ""))

    def _add_experiment(self, name: str, namespace: str, description: str = "") -> dict[str, Any]:
        experiment = {
            "experiment_id": str(uuid.uuid4()),
            "display_name": name,
            "description": description,
            "created_at": _now(),
            "namespace": namespace,
            "storage_state": "AVAILABLE",
        }
        stored = {k: v for k, v in experiment.items() if v}  # empty fields are not sent
        self.experiments[stored["experiment_id"]] = stored
        return stored

    def _experiment(self, experiment_id: str) -> dict[str, Any]:
        if experiment_id not in self.experiments:
            raise ApiError(NOT_FOUND, f"Experiment {experiment_id} not found")
        return self.experiments[experiment_id]

    def _create_run(self, body: Any) -> dict[str, Any]:
        _known_fields(body, _RUN_FIELDS, "run")
        _known_fields(body.get("runtime_config", {}), _RUNTIME_CONFIG_FIELDS, "runtime_config")
        if not body.get("display_name"):
            raise ApiError(INVALID_ARGUMENT, "The run name is empty")
        spec = _pipeline_spec(body.get("pipeline_spec"))
        if not isinstance(spec, dict) or not spec.get("pipelineInfo", {}).get("name"):
            raise ApiError(INVALID_ARGUMENT, "The run has no pipeline spec with a pipeline name")
        declared = spec.get("root", {}).get("inputDefinitions", {}).get("parameters", {})
        given = body.get("runtime_config", {}).get("parameters", {})
        missing = [n for n, d in declared.items() if n not in given and not d.get("isOptional")]
        if set(given) - set(declared) or missing:
            raise ApiError(
                INVALID_ARGUMENT,
                f"parameters {sorted(given)} do not match the pipeline's inputs {sorted(declared)}",
            )
        experiment_id = body.get("experiment_id") or self.default_experiment["experiment_id"]
        self._experiment(experiment_id)
        run = {
            **body,
            "experiment_id": experiment_id,
            "run_id": str(uuid.uuid4()),
            "storage_state": "AVAILABLE",
            "created_at": _now(),
            "scheduled_at": _now(),
            "state_history": [],
            "_order": self._next_id(),
            "run_details": {
                "pipeline_context_id": str(self._next_id()),
                "pipeline_run_context_id": str(self._next_id()),
                "task_details": self._tasks(spec),
            },
        }
        self._move(run, "PENDING", None)
        self._runs[run["run_id"]] = run
        return _public(run)

    def _tasks(self, spec: dict[str, Any]) -> list[dict[str, Any]]:
        """One detail per task of the root DAG, as the API reports them: MLMD ids, no values."""
        components = spec.get("components", {})
        details = []
        for name, task in spec["root"].get("dag", {}).get("tasks", {}).items():
            component = components.get(task["componentRef"]["name"], {})
            artifacts = component.get("outputDefinitions", {}).get("artifacts", {})
            details.append(
                {
                    "task_id": str(uuid.uuid4()),
                    "display_name": name,
                    "state": "PENDING",
                    "execution_id": str(self._next_id()),
                    "outputs": {a: {"artifact_ids": [str(self._next_id())]} for a in artifacts},
                }
            )
        return details

    def _next_id(self) -> int:
        self._ids += 1
        return self._ids

    def _run(self, run_id: str) -> dict[str, Any]:
        if run_id not in self._runs:
            raise ApiError(NOT_FOUND, f"Failed to get run: ResourceNotFoundError: Run {run_id}")
        return _public(self._runs[run_id])

    def _move(self, run: dict[str, Any], state: str, error: str | None) -> None:
        assert state in STATES, f"{state} is not a V2beta1RuntimeState"
        now = _now()
        status: dict[str, Any] = {"update_time": now, "state": state}
        if error is not None:
            run["error"] = status["error"] = {"code": UNKNOWN, "message": error}
        run["state"] = state
        run["state_history"].append(status)
        if state in TERMINAL_STATES:
            run["finished_at"] = now
        if state in {"SUCCEEDED", "SKIPPED"}:
            for detail in run["run_details"]["task_details"]:
                detail["state"] = state

    def _list(self, items: Any, query: dict[str, str]) -> list[dict[str, Any]]:
        """Items matching the filter, in the order `sort_by` asks for."""
        found = [i for i in items if all(_matches(i, p) for p in self._predicates(query))]
        match query.get("sort_by", ""):
            case "" | "created_at" | "created_at asc":
                return self._ordered(found)
            case "created_at desc":
                return self._ordered(found)[::-1]
            case other:
                self.unimplemented.append(f"sort_by={other}")
                raise ApiError(UNIMPLEMENTED, f"sort_by {other!r} is not implemented by the fake")

    def _predicates(self, query: dict[str, str]) -> list[dict[str, Any]]:
        predicates: list[dict[str, Any]] = json.loads(query.get("filter") or "{}").get(
            "predicates", []
        )
        for predicate in predicates:
            if predicate.get("key") != "display_name" or predicate.get("operation") not in _EQUALS:
                self.unimplemented.append(f"filter {predicate}")
                raise ApiError(UNIMPLEMENTED, f"filter {predicate} is not implemented by the fake")
        return predicates

    @staticmethod
    def _ordered(items: Any) -> list[dict[str, Any]]:
        return sorted(items, key=lambda i: (i["created_at"], i.get("_order", 0)))


def _handler(contract: KfpContract) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def _answer(self, method: str) -> None:
            url = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
                status, answer = 200, contract.handle(method, url.path, query, body)
            except ApiError as error:
                status = _HTTP[error.code]
                answer = {"code": error.code, "message": str(error), "details": []}
            except ValueError as error:  # a body that is not JSON
                status, answer = 400, {"code": INVALID_ARGUMENT, "message": str(error)}
            payload = json.dumps(answer).encode()
            self.send_response(status, HTTPStatus(status).phrase)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            """Requests are recorded in `contract.requests`, not logged."""

    return Handler


def _known_fields(body: Any, known: frozenset[str], what: str) -> None:
    if not isinstance(body, dict):
        raise ApiError(INVALID_ARGUMENT, f"the {what} must be a JSON object")
    if unknown := set(body) - known:
        raise ApiError(INVALID_ARGUMENT, f"unknown field(s) {sorted(unknown)} in the {what}")


def _in(run: dict[str, Any], experiment_id: str | None) -> bool:
    return not experiment_id or run["experiment_id"] == experiment_id


def _matches(item: dict[str, Any], predicate: dict[str, Any]) -> bool:
    value = predicate.get("string_value", predicate.get("stringValue"))
    return bool(item.get(predicate["key"]) == value)


def _page(kind: str, items: list[dict[str, Any]], query: dict[str, str]) -> dict[str, Any]:
    start = int(query.get("page_token") or 0)
    size = int(query.get("page_size") or 20)
    page: dict[str, Any] = {kind: [_public(i) for i in items[start : start + size]]}
    page["total_size"] = len(items)
    if start + size < len(items):
        page["next_page_token"] = str(start + size)
    return {k: v for k, v in page.items() if v}


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if not k.startswith("_")}


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _pipeline_spec(sent: Any) -> Any:
    """The PipelineSpec a run's `pipeline_spec` Struct holds: the spec itself, or, with
    platform-specific configuration (kfp-kubernetes), the spec under `pipeline_spec` beside a
    `platform_spec`, as KFP's API server reads it (`pipelineSpecStructToYamlString`)."""
    if isinstance(sent, dict) and "pipeline_spec" in sent:
        if set(sent) - {"pipeline_spec", "platform_spec"}:
            raise ApiError(INVALID_ARGUMENT, f"unknown fields beside pipeline_spec: {set(sent)}")
        return sent["pipeline_spec"]
    return sent
