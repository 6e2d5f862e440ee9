"""The example team pipeline's checked-in IR (what a ConfigMap carries) is its source compiled,
and paved's steps compile around it: the team's training sits between the join and the gates."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import yaml
from kfp import compiler

from paved_pipelines.team import (
    PARAMETERS,
    ContractError,
    checked_component,
    compile_around,
    from_package,
)
from tests.support.team_pipelines import NO_EVALUATION

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
EXAMPLE = EXAMPLES / "team-pipeline"
RANKER = EXAMPLES / "ranking-pipeline" / "search-lambdarank.yaml"


def _source(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("source", "function"),
    [
        ("team-pipeline/churn_lgbm.py", "churn_lgbm"),
        ("ranking-pipeline/search_lambdarank.py", "search_lambdarank"),
    ],
)
def test_the_checked_in_ir_is_its_source_compiled(
    tmp_path: Path, source: str, function: str
) -> None:
    module = _source(EXAMPLES / source)
    fresh = tmp_path / "pipeline.yaml"
    compiler.Compiler().compile(getattr(module, function), str(fresh))
    checked_in = module.COMPILED.read_text()
    assert fresh.read_text() == checked_in, f"run `python examples/{source}`"


def test_a_ranker_pipeline_is_handed_its_query_column(tmp_path: Path) -> None:
    package = compile_around(RANKER.read_text(), "the ranking example", tmp_path / "team.yaml")
    pipeline, _ = yaml.safe_load_all(package.read_text())
    ranker = pipeline["root"]["dag"]["tasks"]["search-lambdarank"]["inputs"]["parameters"]
    assert ranker["query_column"]["taskOutputParameter"] == {
        "producerTask": "contract-inputs",
        "outputParameterKey": "query_column",
    }


def test_paved_steps_run_around_the_team_pipeline(tmp_path: Path) -> None:
    ir = (EXAMPLE / "churn-lgbm.yaml").read_text()
    package = compile_around(ir, "the example", tmp_path / "team.yaml")
    pipeline, platform = yaml.safe_load_all(package.read_text())
    tasks = pipeline["root"]["dag"]["tasks"]
    assert set(tasks) == {"prepare", "contract-inputs", "churn-lgbm", "judge-and-log"}
    team = tasks["churn-lgbm"]
    assert team["dependentTasks"] == ["contract-inputs", "prepare"]
    assert set(team["inputs"]["artifacts"]) == {"training_set"}
    # Every parameter the team's pipeline declares, none it left out (entity_columns).
    declared = set(checked_component(ir, "the example").component_spec.inputs)
    assert set(team["inputs"]["parameters"]) == set(PARAMETERS) & declared
    assert "entity_columns" not in team["inputs"]["parameters"]
    judged = tasks["judge-and-log"]["inputs"]["artifacts"]
    assert {"model", "metrics", "evaluation"} <= set(judged)
    # Only paved's tasks reach the data volume and MLflow: the team's gets the training set.
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert set(executors) == {"exec-prepare", "exec-judge-and-log"}


def test_a_package_is_compiled_and_checked_in_the_run_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLE))
    (tmp_path / "team_broken.py").write_text(NO_EVALUATION)
    monkeypatch.syspath_prepend(str(tmp_path))

    met = from_package("churn_lgbm.churn_lgbm")
    assert set(met.component_spec.outputs) == {"model", "metrics", "evaluation"}
    with pytest.raises(ContractError, match=r"package team_broken.no_evaluation breaks") as broken:
        from_package("team_broken.no_evaluation")
    assert "missing output evaluation (system.Dataset" in str(broken.value)
    assert "missing input seed" in str(broken.value)
    with pytest.raises(ContractError, match="module churn_lgbm has no pipeline"):
        from_package("churn_lgbm.pipeline")
