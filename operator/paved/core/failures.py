"""What a reconcile that failed says on the resource: a condition with a reason and the error's
message, and when to try again.

Pure. A handler's error that is not a passing outage (an adapter's PermanentError, or anything
unexpected: a bug, a library failing on bad data) must not end as a line in the operator's log
only: it becomes the kind's main condition, False, so `kubectl describe` says what went wrong
and what to fix. Retries back off exponentially, capped, so a resource that fails for good
costs little.
"""

from __future__ import annotations

import re
from typing import Final

from paved.core.conditions import Observation
from paved.core.reasons import FailureReason
from paved.errors import PermanentError

# The condition a failure is reported on: the one that says whether the kind does its job.
FAILURE_CONDITIONS: Final = {
    "FeatureView": "Ready",
    "ModelVersion": "Trained",
    "Rollout": "Progressing",
}
UNEXPECTED: Final = FailureReason.RECONCILE_ERROR
BACKOFF_FIRST_SECONDS: Final = 5.0
BACKOFF_CAP_SECONDS: Final = 60.0
_REASON = re.compile(r"^[A-Z][A-Za-z0-9]{0,127}$")


def backoff_seconds(failures: int) -> float:
    """5 s after the first failure in a row, doubling with each further one, at most a minute.
    Outages do not count: they have their own retry, and one must not lengthen the pause after
    the next failure."""
    doubled: float = BACKOFF_FIRST_SECONDS * 2.0 ** min(max(failures - 1, 0), 16)
    return min(doubled, BACKOFF_CAP_SECONDS)


def failure(kind: str, error: Exception) -> Observation:
    """The condition that reports `error` on a resource of `kind`."""
    condition = FAILURE_CONDITIONS.get(kind, "Ready")
    if isinstance(error, PermanentError):
        reason = error.reason if _REASON.match(error.reason) else PermanentError.reason
        detail = str(error) or type(error).__name__
        message = (
            f"{detail}. Retrying cannot help until the resource or what it names changes;"
            " the operator looks again with growing pauses, at most a minute apart."
        )
        return Observation(condition, "False", reason, message)
    detail = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    message = (
        f"The operator failed on this {kind}: {detail}. Check what the spec names (files,"
        " names, values) against this error; if it looks right, this is a bug in the operator:"
        " its log has the traceback. It tries again with growing pauses, at most a minute apart."
    )
    return Observation(condition, "False", UNEXPECTED, message)
