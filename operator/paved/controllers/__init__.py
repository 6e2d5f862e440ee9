"""kopf handlers, thin: read, observe through ports, decide in the core, act, write status.

Importing this package registers every handler with kopf.
"""

from paved.controllers import acceptance

__all__ = ["acceptance"]
