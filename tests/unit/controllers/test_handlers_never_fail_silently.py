"""Property: for any resource the CRD schema admits, each handler, called through `_kopf`'s
adapter as kopf calls it, either reconciles or reports a condition that says why not. It never
lets an exception out to kopf's log alone, and never writes a status the API server would
refuse (a string past its maxLength, a NaN, an unknown field)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import kopf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paved.api.crds import FEATURE_VIEW, MODEL_VERSION, ROLLOUT, Kind, openapi_schema
from paved.controllers._kopf import Handler, status_patch
from paved.controllers.feature_view import keep_features_fresh
from paved.controllers.model_version import train_and_promote
from paved.controllers.rollout import progress_rollout
from paved.core.failures import FAILURE_CONDITIONS, UNEXPECTED
from paved.core.model_versions import PipelineRun
from paved.core.pipeline_contract import BuiltInPipeline, TrainingPipeline
from paved.errors import PermanentError
from tests.support.adapter import Event, Kopf, body
from tests.support.model_versions import Runner
from tests.support.schema_strategies import from_schema, schema_errors
from tests.support.scripted_ports import Metrics, indices, scripted_ports
from tests.support.training import example

FEATURE_VIEW_BODY = example("01-featureview.yaml")
# Bounded so the tier stays in seconds; CI runs the same examples every time (derandomize).
PROPERTY = settings(
    max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
# About 3 s each on a quiet machine; room for a busy one.
SLOW = pytest.mark.timeout(60)
TICKS = 3  # reconciles per resource, each starting from the status the one before wrote


class KnownPipelines(Runner):
    """Refuses an unknown pipeline as the real runners do."""

    async def start(self, run_key: str, pipeline: TrainingPipeline, request: str) -> PipelineRun:
        if pipeline != BuiltInPipeline("tabular-classifier"):
            raise PermanentError(f"unknown pipeline {pipeline!r}", reason="UnknownPipeline")
        return await super().start(run_key, pipeline, request)


def _data_root() -> Path:
    """A data root with a file that is not Parquet, a directory and a real source."""
    root = Path(tempfile.mkdtemp(prefix="paved-property-"))
    (root / "not_parquet.parquet").write_text("PAR1? no")
    (root / "a_directory").mkdir()
    return root


DATA_ROOT = _data_root()


async def _reconcile(
    kind: Kind, handler: Handler, spec: dict[str, Any], ports: Any, seen: dict[str, Any]
) -> None:
    """`TICKS` reconciles of one resource: each one reconciles or reports a condition, and what
    it writes is what the API server would take."""
    events: list[Event] = []
    kopf_ = Kopf(kind, handler, ports, events)
    status: dict[str, Any] = {}
    schema = openapi_schema(kind.status)
    for tick in range(TICKS):
        outcome = await kopf_.call(body(kind, spec, status, version=tick), indices=seen)
        assert outcome.error is None or isinstance(outcome.error, kopf.TemporaryError)
        patch = outcome.patch.get("status", {})
        assert not schema_errors(patch, schema, "status"), schema_errors(patch, schema, "status")
        # The next tick comes at once: the Rollout decides (and reads its guardrails) again.
        status = {k: v for k, v in (status | patch).items() if v is not None}
        status.pop("nextCheckAt", None)
        status.pop("lastAnalysisAt", None)
        if outcome.error is not None:
            conditions = {c["type"]: c for c in status.get("conditions", [])}
            failed = [c for c in conditions.values() if c["status"] != "True" and c["message"]]
            assert failed, f"{kind.kind} failed ({outcome.error}) and no condition says why"
            unexpected = [c for c in failed if c["reason"] == UNEXPECTED]
            assert not unexpected, unexpected[0]["message"]


def _spec(kind: Kind) -> st.SearchStrategy[dict[str, Any]]:
    return from_schema(openapi_schema(kind.spec))


@SLOW
@PROPERTY
@given(
    spec=_spec(FEATURE_VIEW),
    path=st.sampled_from(["missing.parquet", "not_parquet.parquet", "a_directory", None]),
)
async def test_a_feature_view_reconciles_or_says_why_not(
    spec: dict[str, Any], path: str | None
) -> None:
    if path is not None:
        spec = spec | {"source": spec["source"] | {"path": path}}
    await _reconcile(FEATURE_VIEW, keep_features_fresh, spec, scripted_ports(str(DATA_ROOT)), {})


@SLOW
@PROPERTY
@given(spec=_spec(MODEL_VERSION), known_pipeline=st.booleans())
async def test_a_model_version_reconciles_or_says_why_not(
    spec: dict[str, Any], known_pipeline: bool
) -> None:
    if known_pipeline:
        spec = spec | {"pipeline": spec["pipeline"] | {"name": "tabular-classifier"}}
    ports = scripted_ports(str(DATA_ROOT))
    ports = type(ports)(**{**ports.__dict__, "runner": KnownPipelines()})
    views = {s["featureView"] for s in spec["features"]}
    seen = indices(*(("FeatureView", name, FEATURE_VIEW_BODY) for name in views))
    await _reconcile(MODEL_VERSION, train_and_promote, spec, ports, seen)


READINGS = st.none() | st.floats() | st.sampled_from([float("inf"), float("-inf"), float("nan")])


def _model_version(phase: str) -> dict[str, Any]:
    registry = {"name": "churn", "version": "2", "uri": "models:/churn/2"}
    return {"spec": {"model": "churn"}, "status": {"phase": phase, "registry": registry}}


@SLOW
@PROPERTY
@given(spec=_spec(ROLLOUT), reading=READINGS, samples=READINGS)
async def test_a_rollout_reconciles_or_says_why_not(
    spec: dict[str, Any], reading: float | None, samples: float | None
) -> None:
    metrics = Metrics(lambda q: samples if q.startswith("sum(increase(") else reading)
    names = {spec["candidate"], spec.get("baseline") or spec["candidate"]}
    seen = indices(*(("ModelVersion", name, _model_version("Staging")) for name in names))
    await _reconcile(ROLLOUT, progress_rollout, spec, scripted_ports(str(DATA_ROOT), metrics), seen)


def test_the_failure_conditions_cover_every_kind() -> None:
    assert set(FAILURE_CONDITIONS) == {FEATURE_VIEW.kind, MODEL_VERSION.kind, ROLLOUT.kind}


@pytest.mark.parametrize("kind", [FEATURE_VIEW, MODEL_VERSION, ROLLOUT], ids=lambda k: k.kind)
def test_an_empty_status_patch_is_what_the_schema_takes(kind: Kind) -> None:
    """The check above is not vacuous: it refuses what the API server refuses."""
    empty = kind.status()
    schema = openapi_schema(kind.status)
    assert not schema_errors(status_patch(empty, empty), schema)
    assert schema_errors({"message": "x" * 40_000}, schema)  # every kind has no such field
    assert schema_errors({"conditions": [{"message": "x" * 40_000}]}, schema)
    assert schema_errors({"observedGeneration": float("nan")}, schema)
