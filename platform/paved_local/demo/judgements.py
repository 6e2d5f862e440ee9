"""What each gate judged against, read back from the verdict the ModelVersion's status reports
(name, verdict, value, threshold, message): the rows of the report's gate tables.

The status names a gate's reference only in its message, so the reference is read from the
forms `paved.core.gates` writes them in. tests/unit/demo/test_judgements.py builds verdicts
with those very functions: a change of wording there fails here rather than in a report.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from paved_local.demo.record import GateResult

_VERSUS: Final = re.compile(
    r"^(?P<compared>.+ vs (?P<reference>\S+) \S+) on the same (?P<rows>holdout|\d+ rows): "
)
_FLOOR_MET: Final = re.compile(r"^(?P<measured>.+); no reference: absolute floor (?P<floor>\S+)$")
_PAST_FLOOR: Final = re.compile(r"^(?P<measured>.+) is past the absolute floor (?P<floor>\S+)$")
_UNSCORED: Final = re.compile(
    r"^(?P<measured>.+); reference (?P<reference>\S+) not scored on the same holdout "
    r"\((?P<why>.*)\); not judged$"
)
_TOO_FEW: Final = re.compile(r"^slice \S+: (?P<rows>\d+) rows < minimum (?P<minimum>\d+); ")
_DRIFT: Final = re.compile(
    r"^(?P<feature>\S+): PSI (?P<psi>\S+) (?:≤|>) (?P<limit>\S+)(?P<noise> \(noise floor [^)]*\))?"
    r", training vs serving inputs of (?P<entities>\S+) entities$"
)


@dataclass(frozen=True)
class Judgement:
    reference: str  # what the candidate was judged against
    compared: str  # the candidate against it, with the numbers
    threshold: str  # the bar, as a person reads it


def serving_reference(gates: Sequence[GateResult]) -> str | None:
    """The model serving when these gates ran, as their comparisons name it (None: a first
    model, judged on the absolute floors)."""
    for gate in gates:
        found = _VERSUS.match(gate.message) or _UNSCORED.match(gate.message)
        if found is not None:
            return found["reference"]
    return None


def judgement(gate: GateResult, serving: str | None) -> Judgement:
    """`serving`: the model serving when the candidate trained; its drift gates compare with
    what that model is served."""
    kind = gate.gate.split(":", 1)[0]
    if kind == "drift":
        return _drift(gate.message, serving)
    if kind == "schema":
        return Judgement("the FeatureView's declared schema", gate.message, "type, nulls, range")
    if kind == "golden":
        return Judgement("the golden cases' expectations", gate.message, "no case wrong")
    return _metric(gate)


def _metric(gate: GateResult) -> Judgement:
    """A metric or slice gate: against the serving model on the same rows, or a floor."""
    message = gate.message
    if found := _VERSUS.match(message):
        worse = "" if gate.value is None else f" (is {gate.value:+.4f})"
        return Judgement(
            f"{found['reference']} on the same {found['rows']}",
            found["compared"],
            f"worse by at most {_number(gate.threshold)}{worse}",
        )
    if found := _FLOOR_MET.match(message):
        return Judgement(
            "no model serving: the absolute floor", found["measured"], f"floor {found['floor']}"
        )
    if found := _PAST_FLOOR.match(message):
        return Judgement("the absolute floor", found["measured"], f"floor {found['floor']}")
    if found := _UNSCORED.match(message):
        reference = f"{found['reference']}, not scored: {found['why']}"
        return Judgement(reference, found["measured"], "-")
    if found := _TOO_FEW.match(message):
        rows = f"{found['rows']} rows"
        return Judgement(
            "nothing: too few rows to judge", rows, f"at least {found['minimum']} rows"
        )
    return Judgement("nothing to compare with", message, "-")


def _drift(message: str, serving: str | None) -> Judgement:
    found = _DRIFT.match(message)
    if found is None:
        return Judgement("no serving inputs", message, "-")
    inputs = f"serving inputs: the online store's values of {found['entities']} entities"
    reference = f"{inputs}, as {serving} is served" if serving else inputs
    noise = " (the noise floor)" if found["noise"] else ""
    compared = f"{found['feature']}: training vs serving inputs, PSI {found['psi']}"
    return Judgement(reference, compared, f"PSI at most {found['limit']}{noise}")


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
