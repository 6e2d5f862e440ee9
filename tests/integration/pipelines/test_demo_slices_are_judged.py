"""The demo's data judges every slice its ModelVersions declare: the training run, over the
demo's own world and manifests, finds enough holdout rows in each slice to judge it (never
"too few rows; not judged"), with v2 judged against v1 and v3 against v2 as the demo does."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from paved.core.gates import Verdict
from paved_local.demo import data
from paved_local.demo.scenario import manifests
from paved_pipelines.request import TrainingRequest
from paved_pipelines.steps import (
    Baseline,
    build_training_set,
    evaluate,
    feature_definitions,
    split_by_time,
    train,
)

NAMESPACE = "demo"
# The ModelVersions in the demo's order, each judged against the one serving when it trains.
CHAIN = (
    ("02-modelversion-v1.yaml", None),
    ("03-modelversion-v2.yaml", "churn-v1"),
    ("05-modelversion-v3.yaml", "churn-v2"),
)


def _request(root: Path, document: dict[str, Any], view: dict[str, Any]) -> TrainingRequest:
    spec = document["spec"]
    return TrainingRequest.model_validate(
        {
            "run_key": f"demo-{document['metadata']['name']}",
            "model": spec["model"],
            "namespace": NAMESPACE,
            "model_version": document["metadata"]["name"],
            "feature_views": {view["metadata"]["name"]: view["spec"]},
            "features": spec["features"],
            "labels": spec["labels"],
            "data_root": str(root),
            "parameters": spec["pipeline"]["parameters"],
            "seed": spec["pipeline"]["seed"],
            "gates": spec["gates"],
            "production": None,
        }
    )


def test_every_slice_the_demo_declares_is_judged(tmp_path: Path) -> None:
    # The demo's world as `paved demo` makes it (its default 1,500 users).
    data.generate(tmp_path / NAMESPACE, dt.datetime.now(dt.UTC))
    documents = manifests()
    view = documents["01-featureview.yaml"]
    serving: Baseline | None = None
    for manifest, reference in CHAIN:
        request = _request(tmp_path, documents[manifest], view)
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
