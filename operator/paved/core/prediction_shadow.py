"""A new model version's predictions beside the served ones: how they compare, and whether they
may replace them.

Pure. Both runs scored the same entities as of the same time, so the differences are the
models' alone: the score distribution's shift (PSI, as the drift gate measures it), whether the
two rank entities alike (Spearman's correlation), and the share of entities whose decision (the
spec's threshold) flips. The limits are the spec's; whether the version may serve at all is
the promotion rule's (`promotion_policy.promotion_refusal`, sign-off included), the same one
that governs a model reaching production.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from paved.api.batch_prediction import ShadowLimits
from paved.core.gates import psi_numeric

# Under this many entities scored by both, the numbers say too little to replace anything.
MIN_COMPARED: Final = 20
ROLLBACK_REQUESTED: Final = "paved.dev/rollback-predictions"  # a new value: restore the previous
ACCEPT_REQUESTED: Final = "paved.dev/accept-predictions"  # a model version: accept it though held


@dataclass(frozen=True)
class Comparison:
    compared: int
    score_psi: float | None
    rank_agreement: float | None
    decision_flips: float | None


def compare(served: ArrayLike, shadow: ArrayLike, *, threshold: float) -> Comparison:
    """The two runs' scores of the same entities, in the same order."""
    before = np.asarray(served, dtype=np.float64)
    after = np.asarray(shadow, dtype=np.float64)
    both = ~(np.isnan(before) | np.isnan(after))
    before, after = before[both], after[both]
    if before.size < MIN_COMPARED:
        return Comparison(int(before.size), None, None, None)
    flips = float(np.mean((before >= threshold) != (after >= threshold)))
    return Comparison(int(before.size), psi_numeric(before, after), _spearman(before, after), flips)


def _spearman(a: NDArray[np.float64], b: NDArray[np.float64]) -> float | None:
    ranks_a, ranks_b = _ranks(a), _ranks(b)
    if np.std(ranks_a) == 0 or np.std(ranks_b) == 0:
        return None  # a constant score ranks nothing
    return float(np.corrcoef(ranks_a, ranks_b)[0, 1])


def _ranks(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """Average ranks (ties share theirs), as Spearman's correlation wants them."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.r_[0, np.flatnonzero(np.diff(ordered)) + 1]
    ends = np.r_[starts[1:], ordered.size]
    average = (starts + ends - 1) / 2.0
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = np.repeat(average, ends - starts)
    return ranks


def breaches(comparison: Comparison, limits: ShadowLimits) -> Sequence[str]:
    """What keeps the new predictions from replacing the served ones, in words; none: nothing."""
    if comparison.score_psi is None:
        return [f"only {comparison.compared} entities were scored by both; too few to judge"]
    found = []
    if comparison.score_psi > limits.max_score_psi:
        found.append(f"score PSI {comparison.score_psi:.4f} > {limits.max_score_psi:g}")
    agreement = comparison.rank_agreement
    if agreement is None or agreement < limits.min_rank_agreement:
        shown = "undefined" if agreement is None else f"{agreement:.4f}"
        found.append(f"rank agreement {shown} < {limits.min_rank_agreement:g}")
    flips = comparison.decision_flips
    if flips is not None and flips > limits.max_decision_flips:
        found.append(f"decisions flipped {flips:.2%} > {limits.max_decision_flips:.2%}")
    return found


def summary(comparison: Comparison) -> str:
    if comparison.score_psi is None:
        return f"{comparison.compared} entities compared"
    agreement = comparison.rank_agreement
    return (
        f"{comparison.compared} entities compared: score PSI {comparison.score_psi:.4f}, rank "
        f"agreement {'undefined' if agreement is None else f'{agreement:.4f}'}, decisions "
        f"flipped {comparison.decision_flips or 0:.2%}"
    )
