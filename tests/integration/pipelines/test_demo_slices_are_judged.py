"""The demo's data judges every slice its ModelVersions declare: the training run, over the
demo's own world and manifests, finds enough holdout rows in each slice to judge it (never
"too few rows; not judged"), with v2 judged against v1 and v3 against v2 as the demo does."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from paved.core.gates import Verdict
from paved_local.demo import data
from paved_local.demo.scenario import manifests
from paved_pipelines.steps import (
    Baseline,
    build_training_set,
    evaluate,
    feature_definitions,
    split_by_time,
    train,
)
from tests.support.training import request_from

NAMESPACE = "demo"
# The ModelVersions in the demo's order, each judged against the one serving when it trains.
CHAIN = (
    ("02-modelversion-v1.yaml", None),
    ("03-modelversion-v2.yaml", "churn-v1"),
    ("05-modelversion-v3.yaml", "churn-v2"),
)


def test_every_slice_the_demo_declares_is_judged(tmp_path: Path) -> None:
    # The demo's world as `paved demo` makes it (its default 1,500 users).
    data.generate(tmp_path / NAMESPACE, dt.datetime.now(dt.UTC))
    documents = manifests()
    view = documents["01-featureview.yaml"]
    serving: Baseline | None = None
    for manifest, reference in CHAIN:
        request = request_from(
            view, documents[manifest], data_root=tmp_path, namespace=NAMESPACE, run_key=manifest
        )
        assert request.gates.slices, f"{manifest} declares no slice"
        earlier, later = split_by_time(
            build_training_set(request),
            request.labels.timestamp_column,
            request.validation_fraction,
        )
        features = feature_definitions(request)
        model = train(earlier, features, request.parameters, request.seed)
        outcome = evaluate(model, earlier, later, features, request, baseline=serving)

        slices = {v.gate: v for v in outcome.verdicts if v.gate.startswith("slice:")}
        assert set(slices) == {f"slice:{s.name}" for s in request.gates.slices}
        for gate, verdict in slices.items():
            assert verdict.verdict is not Verdict.INCONCLUSIVE, f"{manifest} {gate}: {verdict}"
            if reference is not None:
                assert f" vs {reference} " in verdict.message, verdict.message
        serving = Baseline(documents[manifest]["metadata"]["name"], model)
