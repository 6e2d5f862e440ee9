"""The pipeline contract, checked over a team's compiled IR before any run: what is missing or
of the wrong type is named; the IR is read as data, never run."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from paved.core.pipeline_contract import (
    INPUTS,
    OUTPUTS,
    Breach,
    CompiledIR,
    PipelineMissing,
    PipelineText,
    Problem,
    check,
    checked,
    parse,
)
from paved.core.reasons import ModelVersionReason

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = (ROOT / "examples" / "team-pipeline" / "churn-lgbm.yaml").read_text()


def _ir() -> dict[str, Any]:
    parsed = parse(EXAMPLE)
    assert not isinstance(parsed, Breach)
    return copy.deepcopy(dict(parsed))


def _breaches(ir: dict[str, Any]) -> list[tuple[Problem, str]]:
    return [(b.problem, b.name) for b in check(ir)]


def test_the_example_team_pipeline_meets_the_contract() -> None:
    assert check(_ir()) == ()


def test_a_missing_output_is_named_with_what_paved_reads_in_it() -> None:
    ir = _ir()
    del ir["root"]["outputDefinitions"]["artifacts"]["evaluation"]
    (breach,) = check(ir)
    assert (breach.problem, breach.name) == (Problem.MISSING_OUTPUT, "evaluation")
    assert "system.Dataset" in str(breach)
    assert "score" in str(breach)


def test_every_missing_required_input_is_named_and_an_optional_one_is_not() -> None:
    ir = _ir()
    ir["root"]["inputDefinitions"] = {}
    required = [(Problem.MISSING_INPUT, d.name) for d in INPUTS if d.required]
    assert _breaches(ir) == required
    assert "entity_columns" not in {name for _, name in required}


def test_a_wrong_type_names_both_types() -> None:
    ir = _ir()
    ir["root"]["inputDefinitions"]["parameters"]["seed"]["parameterType"] = "STRING"
    ir["root"]["outputDefinitions"]["artifacts"]["model"]["artifactType"]["schemaTitle"] = (
        "system.Artifact"
    )
    found = {b.name: str(b) for b in check(ir)}
    assert found["seed"] == "wrong type seed (STRING, the contract says NUMBER_INTEGER)"
    assert "system.Artifact, the contract says system.Model" in found["model"]


def test_an_input_paved_does_not_pass_needs_a_default() -> None:
    ir = _ir()
    parameters = ir["root"]["inputDefinitions"]["parameters"]
    parameters["bucket"] = {"parameterType": "STRING"}
    parameters["depth"] = {"parameterType": "NUMBER_INTEGER", "defaultValue": 3.0}
    parameters["note"] = {"parameterType": "STRING", "isOptional": True}
    assert _breaches(ir) == [(Problem.UNKNOWN_INPUT, "bucket")]


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("root: [unclosed", "not YAML"),
        ("just text", "no root"),
        (yaml.safe_dump({"root": {"executorLabel": "exec-train"}}), "no dag"),
        ("x" * (1024 * 1024 + 1), "over"),
    ],
    ids=["not-yaml", "not-a-mapping", "a-component-not-a-pipeline", "too-large"],
)
def test_what_is_not_a_compiled_pipeline_says_so(text: str, why: str) -> None:
    parsed = parse(text)
    assert isinstance(parsed, Breach)
    assert parsed.problem is Problem.NOT_A_PIPELINE
    assert why in parsed.detail


def test_checked_gives_the_ir_to_run_or_the_condition_that_stops_the_run() -> None:
    source = "ConfigMap churn-lgbm key pipeline.yaml"
    good = checked(PipelineText(source, EXAMPLE))
    assert isinstance(good, CompiledIR)
    assert good.digest.startswith("sha256:")
    assert len(good.digest) == 71

    broken = checked(PipelineText(source, EXAMPLE.replace("evaluation:", "scored:")))
    assert not isinstance(broken, CompiledIR)
    assert (broken.type, broken.status) == ("Trained", "False")
    assert broken.reason is ModelVersionReason.PIPELINE_CONTRACT_BROKEN
    assert broken.message.startswith(
        f"The pipeline in {source} breaks the pipeline contract: missing output evaluation"
    )
    assert broken.message.endswith("No run started.")

    missing = checked(PipelineMissing(source, "no ConfigMap churn-lgbm in ml"))
    assert not isinstance(missing, CompiledIR)
    assert missing.reason is ModelVersionReason.PIPELINE_NOT_FOUND
    assert "no ConfigMap churn-lgbm in ml" in missing.message


def test_the_contract_declares_the_outputs_paved_reads() -> None:
    assert [d.name for d in OUTPUTS] == ["model", "metrics", "evaluation"]
