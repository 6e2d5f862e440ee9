"""The pipeline contract: what a team's training pipeline declares so paved can run it. Pure.

paved runs a team's pipeline between its own steps: before it, the point-in-time join (the
training set and its lineage); after it, the gates and the registry. So a team's pipeline only
trains. It is a compiled KFP v2 pipeline (IR) whose root declares the inputs paved passes and
the outputs paved reads, each by name and type; `check` compares the IR's root with them before
a run starts, and names what is missing. ADR 0037.

The IR is data: parsed with a safe YAML loader, never imported or evaluated here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, assert_never

import yaml

from paved.core.conditions import Observation
from paved.core.model_versions import TRAINED
from paved.core.reasons import ModelVersionReason

# The evaluation Dataset's column with the candidate's score for each holdout row: the positive
# class's probability, as the served model's pyfunc `predict` returns it in its last column.
SCORE_COLUMN: Final = "score"
# A ConfigMap holds at most 1 MiB; an IR past it cannot have come from one.
MAX_IR_BYTES: Final = 1024 * 1024


class ParameterType(StrEnum):
    """A KFP v2 IR parameter type (`parameterType`)."""

    STRING = "STRING"
    NUMBER_INTEGER = "NUMBER_INTEGER"
    NUMBER_DOUBLE = "NUMBER_DOUBLE"
    LIST = "LIST"
    STRUCT = "STRUCT"


class ArtifactType(StrEnum):
    """A KFP v2 IR artifact type (`artifactType.schemaTitle`)."""

    DATASET = "system.Dataset"
    MODEL = "system.Model"
    METRICS = "system.Metrics"


@dataclass(frozen=True)
class Declared:
    """One input or output of the contract: its name in the pipeline's signature, its type."""

    name: str
    type: ParameterType | ArtifactType
    meaning: str
    required: bool = True  # an optional input is passed when the pipeline declares it


INPUTS: Final = (
    Declared(
        "training_set",
        ArtifactType.DATASET,
        "Parquet from the point-in-time join: the entity, timestamp, feature, label and cohort"
        " columns, one row per label",
    ),
    Declared("entity_columns", ParameterType.LIST, "the labels' entity columns", required=False),
    Declared("timestamp_column", ParameterType.STRING, "the labels' event time column"),
    Declared("label_column", ParameterType.STRING, "the label (0 or 1)"),
    Declared(
        "query_column",
        ParameterType.STRING,
        "a ranking task's query column: the rows of one query are one list (else empty)",
        required=False,
    ),
    Declared("feature_columns", ParameterType.LIST, "the features to train on, in order"),
    Declared("parameters", ParameterType.STRUCT, "spec.pipeline.parameters"),
    Declared("seed", ParameterType.NUMBER_INTEGER, "spec.pipeline.seed"),
    Declared(
        "validation_fraction",
        ParameterType.NUMBER_DOUBLE,
        "the latest fraction of rows, by time, to hold out for evaluation",
    ),
)
OUTPUTS: Final = (
    Declared(
        "model",
        ArtifactType.MODEL,
        "an MLflow model directory (MLmodel at its root) whose pyfunc predict returns the"
        " positive class's probability in its last column: what the model server loads",
    ),
    Declared("metrics", ArtifactType.METRICS, "the pipeline's own metrics, kept as lineage"),
    Declared(
        "evaluation",
        ArtifactType.DATASET,
        f"Parquet: the held-out rows of training_set, every column kept, and `{SCORE_COLUMN}`",
    ),
)


class Problem(StrEnum):
    NOT_A_PIPELINE = "not a compiled KFP pipeline"
    MISSING_INPUT = "missing input"
    MISSING_OUTPUT = "missing output"
    WRONG_TYPE = "wrong type"
    UNKNOWN_INPUT = "input paved does not pass"


@dataclass(frozen=True)
class Breach:
    """One way an IR breaks the contract."""

    problem: Problem
    name: str
    detail: str

    def __str__(self) -> str:
        return f"{self.problem.value} {self.name} ({self.detail})"


def parse(text: str) -> Mapping[str, Any] | Breach:
    """The IR as data, or why it is not one."""
    if len(text.encode()) > MAX_IR_BYTES:
        return Breach(Problem.NOT_A_PIPELINE, "IR", f"over {MAX_IR_BYTES} bytes")
    try:
        # The pipeline spec, then the platform spec when it has one (kfp-kubernetes).
        document = next(iter(yaml.safe_load_all(text)), None)
    except yaml.YAMLError as error:
        return Breach(Problem.NOT_A_PIPELINE, "IR", f"not YAML: {error}")
    if not isinstance(document, Mapping) or not isinstance(document.get("root"), Mapping):
        return Breach(Problem.NOT_A_PIPELINE, "IR", "no root: compile it with kfp's compiler")
    if not isinstance(document["root"].get("dag"), Mapping):
        return Breach(Problem.NOT_A_PIPELINE, "IR", "its root is not a pipeline (no dag)")
    return document


def check(ir: Mapping[str, Any]) -> tuple[Breach, ...]:
    """Every breach of the contract in the IR's root signature; () when it meets it."""
    root = ir["root"]
    inputs = _declared(root.get("inputDefinitions"))
    outputs = _declared(root.get("outputDefinitions"))
    breaches = [*_compare(INPUTS, inputs, Problem.MISSING_INPUT)]
    breaches += _compare(OUTPUTS, outputs, Problem.MISSING_OUTPUT)
    known = {declared.name for declared in INPUTS}
    for name, definition in sorted(_definitions(root.get("inputDefinitions")).items()):
        # An input paved does not pass must do without: a default, or optional.
        if name not in known and not _optional(definition):
            detail = "paved cannot fill it: give it a default"
            breaches.append(Breach(Problem.UNKNOWN_INPUT, name, detail))
    return tuple(breaches)


def refusal(source: str, breaches: Sequence[Breach]) -> Observation:
    """The Trained condition of a pipeline that breaks the contract: no run starts."""
    named = "; ".join(str(b) for b in breaches)
    message = f"The pipeline in {source} breaks the pipeline contract: {named}. No run started."
    return Observation(TRAINED, "False", ModelVersionReason.PIPELINE_CONTRACT_BROKEN, message)


def _compare(
    contract: Sequence[Declared], found: Mapping[str, str], missing: Problem
) -> list[Breach]:
    breaches = []
    for declared in contract:
        actual = found.get(declared.name)
        if actual is None and not declared.required:
            continue
        if actual is None:
            breaches.append(Breach(missing, declared.name, f"{declared.type}: {declared.meaning}"))
        elif actual != declared.type:
            detail = f"{actual}, the contract says {declared.type}"
            breaches.append(Breach(Problem.WRONG_TYPE, declared.name, detail))
    return breaches


def _definitions(section: Any) -> dict[str, Any]:
    """Parameters and artifacts of an input or output section, by name."""
    if not isinstance(section, Mapping):
        return {}
    found: dict[str, Any] = {}
    for kind in ("parameters", "artifacts"):
        named = section.get(kind)
        if isinstance(named, Mapping):
            found |= {str(name): definition for name, definition in named.items()}
    return found


def _declared(section: Any) -> dict[str, str]:
    """Each name's type as the IR declares it: a parameter type or an artifact's schema."""
    types: dict[str, str] = {}
    for name, definition in _definitions(section).items():
        if not isinstance(definition, Mapping):
            continue
        artifact = definition.get("artifactType")
        if isinstance(artifact, Mapping):
            types[name] = str(artifact.get("schemaTitle"))
        else:
            types[name] = str(definition.get("parameterType"))
    return types


def _optional(definition: Any) -> bool:
    return isinstance(definition, Mapping) and (
        bool(definition.get("isOptional")) or "defaultValue" in definition
    )


# -- what a runner is asked to run, and what the controller read of a team's IR --


@dataclass(frozen=True)
class BuiltInPipeline:
    """One of paved's own pipelines, by name (`spec.pipeline.name`)."""

    name: str


@dataclass(frozen=True)
class CompiledIR:
    """A team's compiled pipeline that meets the contract: its IR YAML and where it came from."""

    source: str  # e.g. "ConfigMap churn-lgbm key pipeline.yaml": messages name it
    text: str

    @property
    def digest(self) -> str:
        """sha256 of the IR: which pipeline trained, as lineage records it."""
        return "sha256:" + hashlib.sha256(self.text.encode()).hexdigest()


@dataclass(frozen=True)
class PackagePipeline:
    """A team's KFP pipeline function by its dotted path; only the run's process imports it,
    compiles it and checks it against the contract before any task runs."""

    path: str


TrainingPipeline = BuiltInPipeline | CompiledIR | PackagePipeline


@dataclass(frozen=True)
class PipelineText:
    """The IR text the controller read from `source`."""

    source: str
    text: str


@dataclass(frozen=True)
class PipelineMissing:
    """`source` could not be read: no such ConfigMap, or no such key in it."""

    source: str
    problem: str


def checked(read: PipelineText | PipelineMissing) -> CompiledIR | Observation:
    """The pipeline to run, or the Trained condition that says why none starts."""
    if isinstance(read, PipelineMissing):
        message = f"The pipeline in {read.source} cannot be read: {read.problem}. No run started."
        return Observation(TRAINED, "False", ModelVersionReason.PIPELINE_NOT_FOUND, message)
    parsed = parse(read.text)
    if isinstance(parsed, Breach):
        return refusal(read.source, (parsed,))
    breaches = check(parsed)
    if breaches:
        return refusal(read.source, breaches)
    return CompiledIR(read.source, read.text)


def described(pipeline: TrainingPipeline) -> str:
    """How lineage names the pipeline that trained: a team's IR with its digest."""
    match pipeline:
        case BuiltInPipeline(name=name):
            return name
        case CompiledIR(source=source):
            return f"{source} ({pipeline.digest})"
        case PackagePipeline(path=path):
            return f"package {path}"
        case _:
            assert_never(pipeline)
