"""A team's training pipeline between paved's own steps (ADR 0037): paved's `prepare` (the
point-in-time join and its lineage) → the contract's inputs → the team's pipeline, as a nested
pipeline → `judge_and_log` (paved's gates on the team's model and evaluation, then MLflow).

(No `from __future__ import annotations` here: KFP reads the annotations at decoration time.)

The team's pipeline is a KFP component: its compiled IR loaded as data, or its pipeline
function imported from a package, which only the run's process does (`run_local`), never the
operator. Either must meet `paved.core.pipeline_contract` (`checked_component`).
"""

import importlib
import tempfile
from pathlib import Path
from typing import Any, Final, NamedTuple

from kfp import compiler, components, dsl, kubernetes
from kfp.dsl import Dataset, Input, Metrics, Model

from paved.core.pipeline_contract import INPUTS, Breach, check, parse
from paved.settings import TASK_DATA_ROOT
from paved_pipelines.training import IMAGE, TRAINING_DATA, prepare, reaches_mlflow

PIPELINE_NAME: Final = "team-pipeline"
# The contract's parameters, which `contract_inputs` hands the team's pipeline; the training
# set is `prepare`'s artifact.
PARAMETERS: Final = tuple(d.name for d in INPUTS if d.name != "training_set")


class ContractError(ValueError):
    """The team's pipeline breaks the pipeline contract; the message names what is missing."""


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def contract_inputs(
    request: str,
) -> NamedTuple(
    "Inputs",
    entity_columns=list,
    timestamp_column=str,
    label_column=str,
    query_column=str,
    feature_columns=list,
    parameters=dict,
    seed=int,
    validation_fraction=float,
):
    """The contract's parameters, from the request paved passes."""
    from paved_pipelines.judging import contract_inputs as inputs

    return inputs(request)


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def judge_and_log(
    request: str,
    lineage: str,
    training_set: Input[Dataset],
    model: Input[Model],
    metrics: Input[Metrics],
    evaluation: Input[Dataset],
) -> str:
    """paved's gates on the team's model and evaluation; the run logged to MLflow."""
    from paved_pipelines.judging import judge_and_log as judge

    return judge(
        request,
        lineage,
        training_set=training_set.path,
        model=model.path,
        metrics=dict(metrics.metadata),
        evaluation=evaluation.path,
    )


def around(team: Any) -> Any:
    """The pipeline that runs `team` (a component meeting the contract) between paved's steps."""

    @dsl.pipeline(name=PIPELINE_NAME, description="paved's join, a team's training, the gates.")
    def team_pipeline(request: str) -> str:
        prepared = prepare(request=request)
        kubernetes.mount_pvc(prepared, pvc_name=TRAINING_DATA, mount_path=TASK_DATA_ROOT)
        given = contract_inputs(request=request)
        # Every input the team's pipeline declares (an optional one it may leave out).
        declared = [name for name in PARAMETERS if name in team.component_spec.inputs]
        trained = team(
            training_set=prepared.outputs["training_set"],
            **{name: given.outputs[name] for name in declared},
        )
        judged = judge_and_log(
            request=request,
            lineage=prepared.outputs["Output"],
            training_set=prepared.outputs["training_set"],
            model=trained.outputs["model"],
            metrics=trained.outputs["metrics"],
            evaluation=trained.outputs["evaluation"],
        )
        reaches_mlflow(judged)
        return judged.output

    return team_pipeline


def checked_component(ir: str, source: str) -> Any:
    """The compiled pipeline `ir` as a component, once it meets the contract."""
    parsed = parse(ir)
    breaches = (parsed,) if isinstance(parsed, Breach) else check(parsed)
    if breaches:
        named = "; ".join(str(b) for b in breaches)
        raise ContractError(f"the pipeline in {source} breaks the pipeline contract: {named}")
    return components.load_component_from_text(ir)


def from_package(path: str) -> Any:
    """The pipeline function `path` names (module, then attribute), compiled and checked: an
    import runs the team's code, so only a run's process calls this."""
    module, _, attribute = path.rpartition(".")
    function = getattr(importlib.import_module(module), attribute, None)
    if function is None:
        raise ContractError(f"package {path}: module {module} has no {attribute}")
    with tempfile.TemporaryDirectory() as scratch:
        compiled = Path(scratch) / "pipeline.yaml"
        try:
            compiler.Compiler().compile(function, str(compiled))
        except Exception as error:  # whatever kfp says, the run reports it
            message = f"package {path} does not compile as a KFP pipeline: {error}"
            raise ContractError(message) from error
        return checked_component(compiled.read_text(), f"package {path}")


def compile_around(ir: str, source: str, destination: Path) -> Path:
    """The pipeline package (IR) of paved's steps around the compiled `ir`: what a KFP
    installation runs. Loads the IR as data; runs none of it."""
    compiler.Compiler().compile(around(checked_component(ir, source)), str(destination))
    return destination
