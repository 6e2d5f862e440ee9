"""Models that score rows: loaded from where the registry says a version's files are."""

from __future__ import annotations

from typing import Protocol

import pyarrow as pa

from paved.errors import PermanentError


class ModelUnloadableError(PermanentError):
    """The version's files cannot be loaded as a model that scores (missing, corrupt, another
    flavour); the message says which URI and why."""

    reason = "ModelUnloadable"


class Scorer(Protocol):
    @property
    def features(self) -> tuple[str, ...]:
        """The columns the model reads, by name, in the order it was trained on."""
        ...

    def score(self, rows: pa.Table) -> pa.Array:
        """One float64 score per row (the positive class's probability), in row order."""
        ...


class ModelLoader(Protocol):
    def load(self, uri: str) -> Scorer:
        """The model stored at `uri` (a storage URI); ModelUnloadableError when it cannot be
        loaded, RegistryUnavailableError when where it is stored cannot be reached."""
        ...
