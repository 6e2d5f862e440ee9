"""kopf handlers, thin: read, observe through ports, decide in the core, act, write status.

Importing this package registers every handler with kopf.
"""

from paved.controllers import (
    batch_prediction,
    feature_view,
    model_monitor,
    model_version,
    rollout,
    streaming_prediction,
)

__all__ = [
    "batch_prediction",
    "feature_view",
    "model_monitor",
    "model_version",
    "rollout",
    "streaming_prediction",
]
