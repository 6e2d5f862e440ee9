"""kopf handlers, thin: read, observe through ports, decide in the core, act, write status.

Importing this package registers every handler with kopf.
"""

from paved.controllers import acceptance, feature_view, model_version

__all__ = ["acceptance", "feature_view", "model_version"]
