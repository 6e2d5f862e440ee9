"""A handler's error that is not a passing outage ends as a condition with a reason and the
error's message, and a Warning event, on the resource; kopf retries it with a growing pause.
Called through `_kopf`'s adapter, as kopf calls it."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any, cast

import kopf
import pytest

from paved.adapters.offline.duckdb import DuckDBEngine
from paved.api.crds import FEATURE_VIEW, MODEL_VERSION, ROLLOUT
from paved.api.meta import MESSAGE_MAX_LENGTH
from paved.api.rollout import RolloutStatus
from paved.controllers._kopf import Reconciled, Resource
from paved.controllers.feature_view import keep_features_fresh
from paved.errors import PermanentError, TransientError
from paved.ports import Ports
from tests.support.adapter import Event, Kopf, body, recorded_events
from tests.support.training import example

__all__ = ["recorded_events"]  # the fixture, for pytest

NOTHING = cast(Any, None)
PORTS = Ports(NOTHING, NOTHING, NOTHING, NOTHING, NOTHING, NOTHING, NOTHING, "/data", "c0ffee")
ROLLOUT_SPEC = example("03-rollout.yaml")["spec"]
MODEL_VERSION_SPEC = example("02-modelversion.yaml")["spec"]


def raising(error: Exception) -> Any:
    async def handler(_resource: Resource, _ports: Ports, _now: dt.datetime) -> Reconciled:
        raise error

    return handler


async def test_an_unknown_pipeline_is_a_condition_and_a_warning(
    recorded_events: list[Event],
) -> None:
    unknown = PermanentError(
        "unknown pipeline 'xgb' in spec.pipeline.name; known pipelines: tabular-classifier",
        reason="UnknownPipeline",
    )
    kopf_ = Kopf(MODEL_VERSION, raising(unknown), PORTS, recorded_events)

    outcome = await kopf_.call(body(MODEL_VERSION, MODEL_VERSION_SPEC))

    trained = outcome.condition("Trained")
    assert (trained["status"], trained["reason"]) == ("False", "UnknownPipeline")
    assert trained["message"].startswith("unknown pipeline 'xgb' in spec.pipeline.name")
    assert outcome.events == [Event("Warning", "UnknownPipeline", trained["message"])]
    assert isinstance(outcome.error, kopf.TemporaryError)


async def _delays(kopf_: Kopf, calls: int) -> list[float | None]:
    delays = []
    for _ in range(calls):
        outcome = await kopf_.call(body(MODEL_VERSION, MODEL_VERSION_SPEC))
        assert isinstance(outcome.error, kopf.TemporaryError)
        delays.append(outcome.error.delay)
    return delays


async def test_retries_back_off_exponentially_and_are_capped(recorded_events: list[Event]) -> None:
    kopf_ = Kopf(MODEL_VERSION, raising(PermanentError("no")), PORTS, recorded_events)
    assert await _delays(kopf_, 6) == [5, 10, 20, 40, 60, 60]


async def test_an_outage_or_a_success_starts_the_backoff_again(
    recorded_events: list[Event],
) -> None:
    """kopf's own retry count also counts outages: one must not lengthen the next pause."""
    kopf_ = Kopf(MODEL_VERSION, raising(PermanentError("no")), PORTS, recorded_events)
    assert await _delays(kopf_, 3) == [5, 10, 20]
    kopf_.handler = raising(TransientError("MLflow is down", 10))
    assert await _delays(kopf_, 4) == [10, 10, 10, 10]
    kopf_.handler = raising(PermanentError("no"))
    assert await _delays(kopf_, 2) == [5, 10]


async def test_an_unexpected_exception_is_reported_too(recorded_events: list[Event]) -> None:
    bug = ZeroDivisionError("float division by zero")
    outcome = await Kopf(ROLLOUT, raising(bug), PORTS, recorded_events).call(
        body(ROLLOUT, ROLLOUT_SPEC)
    )
    progressing = outcome.condition("Progressing")
    assert (progressing["status"], progressing["reason"]) == ("False", "ReconcileError")
    assert "ZeroDivisionError: float division by zero" in progressing["message"]
    assert "its log has the traceback" in progressing["message"]
    assert [e.type for e in outcome.events] == ["Warning"]


async def test_a_failure_that_repeats_is_not_written_or_told_again(
    recorded_events: list[Event],
) -> None:
    kopf_ = Kopf(MODEL_VERSION, raising(PermanentError("no such file")), PORTS, recorded_events)
    first = await kopf_.call(body(MODEL_VERSION, MODEL_VERSION_SPEC))
    again = await kopf_.call(body(MODEL_VERSION, MODEL_VERSION_SPEC, first.patch["status"]))
    assert "status" not in again.patch
    assert again.events == []

    # Failing for another reason is news.
    kopf_.handler = raising(PermanentError("another file", reason="SourceUnreadable"))
    other = await kopf_.call(body(MODEL_VERSION, MODEL_VERSION_SPEC, first.patch["status"]))
    assert other.condition("Trained")["reason"] == "SourceUnreadable"
    assert [(e.type, e.reason) for e in other.events] == [("Warning", "SourceUnreadable")]


async def test_a_40_kb_message_is_truncated_with_a_marker_and_the_status_still_written(
    recorded_events: list[Event],
) -> None:
    path = "data/" + "a" * 40_000 + ".parquet"
    error = PermanentError(f"no Parquet file matches {path}", reason="SourceDataError")
    outcome = await Kopf(FEATURE_VIEW, raising(error), PORTS, recorded_events).call(
        body(FEATURE_VIEW, example("01-featureview.yaml")["spec"])
    )
    message = outcome.condition("Ready")["message"]
    assert len(message) == MESSAGE_MAX_LENGTH
    assert message.endswith("characters in all]")
    assert message.startswith("no Parquet file matches data/aaaa")


async def test_a_status_the_schema_would_refuse_is_never_written(
    recorded_events: list[Event],
) -> None:
    """`Infinity` in a status patch is refused by the API server: the handler's status is not
    written, and a condition says why."""

    async def infinite(_resource: Resource, _ports: Ports, _now: dt.datetime) -> Reconciled:
        return Reconciled(
            [],
            status_updates={
                "breaches": 1,
                "message": "ok",
                "traffic": None,
                "experiment": {
                    "outcome": "win",
                    "effect": math.inf,
                    "low": 0,
                    "high": 1,
                    "p_value": 0.01,
                    "samples_baseline": 1,
                    "samples_candidate": 1,
                    "required_per_arm": 1,
                    "at": "2026-11-27T00:00:00Z",
                },
            },
        )

    outcome = await Kopf(ROLLOUT, infinite, PORTS, recorded_events).call(
        body(ROLLOUT, ROLLOUT_SPEC)
    )
    status = outcome.patch["status"]
    assert "experiment" not in status
    assert status["breaches"] == 0  # as it was: nothing of the refused status is written
    progressing = outcome.condition("Progressing")
    assert progressing["reason"] == "ReconcileError"
    assert "finite number" in progressing["message"]
    RolloutStatus.model_validate(status)


async def test_an_invalid_spec_is_reported_and_retried_with_backoff(
    recorded_events: list[Event],
) -> None:
    spec = ROLLOUT_SPEC | {"analysis": {"window": "1.5m"}}
    outcome = await Kopf(
        ROLLOUT, raising(AssertionError("not called")), PORTS, recorded_events
    ).call(body(ROLLOUT, spec))
    accepted = outcome.condition("Accepted")
    assert (accepted["status"], accepted["reason"]) == ("False", "InvalidSpec")
    assert "spec.analysis.window" in accepted["message"]
    assert isinstance(outcome.error, kopf.TemporaryError)
    assert outcome.error.delay == 5


async def test_an_outage_keeps_its_own_retry_and_writes_no_condition(
    recorded_events: list[Event],
) -> None:
    down = TransientError("Prometheus at http://prom cannot be reached", 7)
    outcome = await Kopf(ROLLOUT, raising(down), PORTS, recorded_events).call(
        body(ROLLOUT, ROLLOUT_SPEC)
    )
    assert "status" not in outcome.patch
    assert isinstance(outcome.error, kopf.TemporaryError)
    assert outcome.error.delay == 7


def _not_parquet(root: Path) -> None:
    (root / "events.parquet").write_text("not parquet at all")


def _a_directory(root: Path) -> None:
    (root / "events.parquet").mkdir()


@pytest.mark.parametrize(
    ("make_source", "expected"),
    [
        (_not_parquet, "events.parquet cannot be read as Parquet"),
        (_a_directory, "events.parquet is a directory, not a Parquet file"),
    ],
    ids=["not-parquet", "a-directory"],
)
async def test_an_unreadable_source_makes_the_feature_view_not_ready_saying_why(
    recorded_events: list[Event], tmp_path: Path, make_source: Any, expected: str
) -> None:
    namespace_root = tmp_path / "ml"  # the objects' namespace: its data root
    namespace_root.mkdir()
    make_source(namespace_root)
    spec = example("01-featureview.yaml")["spec"] | {
        "source": {"path": "events.parquet", "timestampField": "event_timestamp"}
    }
    ports = Ports(
        NOTHING,
        DuckDBEngine(),
        NOTHING,
        NOTHING,
        NOTHING,
        NOTHING,
        NOTHING,
        str(tmp_path),
        "c0ffee",
    )
    outcome = await Kopf(FEATURE_VIEW, keep_features_fresh, ports, recorded_events).call(
        body(FEATURE_VIEW, spec)
    )
    ready = outcome.condition("Ready")
    assert (ready["status"], ready["reason"]) == ("False", "SourceUnreadable")
    assert expected in ready["message"]
    assert ("Warning", "SourceUnreadable") in [(e.type, e.reason) for e in outcome.events]
