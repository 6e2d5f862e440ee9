"""How a ModelVersion's status follows from its run, its gates and its registry stage.

Pure: the controller observes; these functions decide the phase and the conditions.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Final

from paved.api.model_version import ModelVersionSpec, Phase, Stage
from paved.core.conditions import Observation
from paved.core.gates import GateVerdict, blocking

TRAINED: Final = "Trained"
GATES_PASSED: Final = "GatesPassed"
APPROVED: Final = "Approved"


def run_key(uid: str, spec: ModelVersionSpec) -> str:
    """One training run and one registered version per object and training input.

    Everything in the spec but the approval goes in: a sign-off bumps the generation but changes
    nothing the run depends on, so it must not train again.
    """
    training = spec.model_dump(by_alias=True, mode="json", exclude={"approval"})
    digest = hashlib.sha256(json.dumps(training, sort_keys=True).encode()).hexdigest()[:12]
    return f"{uid}-{digest}"


def phase_for_stage(stage: Stage) -> Phase:
    return {
        Stage.TRAINED: Phase.HELD,
        Stage.STAGING: Phase.STAGING,
        Stage.PRODUCTION: Phase.PRODUCTION,
        Stage.ARCHIVED: Phase.ARCHIVED,
    }[stage]


def gates_condition(verdicts: Sequence[GateVerdict]) -> Observation:
    failed = blocking(verdicts)
    if not failed:
        return Observation(GATES_PASSED, "True", "GatesPassed", f"All {len(verdicts)} gates pass.")
    return Observation(
        GATES_PASSED, "False", failed[0].reason, "; ".join(v.message for v in failed)
    )


def approval_condition(required: bool, approved_by: str | None) -> Observation:
    if approved_by:
        return Observation(APPROVED, "True", "SignedOff", f"Signed off by {approved_by}.")
    if not required:
        return Observation(APPROVED, "True", "NotRequired", "No sign-off is required.")
    return Observation(APPROVED, "False", "AwaitingSignOff", "Production needs a sign-off.")
