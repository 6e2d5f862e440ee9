"""Where a namespace's data lives, and whether a path a user named stays there.

Each namespace reads only under `<data root>/<namespace>/`. A source or labels path is relative
to it: an absolute path or a `..` segment is refused as written, and every file or directory the
path matches must have its real path (links resolved, which only the caller can observe) under
the real path of the namespace's root. Pure: the adapters glob and resolve links, then ask here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Final

from paved.api.batch_prediction import BatchPredictionSpec
from paved.api.feature_view import FeatureViewSpec
from paved.api.model_version import ModelVersionSpec
from paved.api.rollout import RolloutSpec
from paved.core.conditions import Observation
from paved.errors import PathOutsideDataRootError

# A namespace is a DNS label (RFC 1123): never empty, ".", ".." or anything with a slash.
_NAMESPACE: Final = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def namespace_root(data_root: str, namespace: str | None) -> PurePosixPath:
    """`<data_root>/<namespace>`; the data root itself for None (a caller with no namespace)."""
    root = PurePosixPath(data_root)
    if not root.is_absolute():
        raise ValueError(f"the data root {data_root!r} must be an absolute path")
    if namespace is None:
        return root
    if not _NAMESPACE.fullmatch(namespace):
        raise ValueError(f"{namespace!r} is not a namespace name")
    return root / namespace


def resolve(field: str, path: str, root: PurePosixPath) -> PurePosixPath:
    """`path` (a file, directory or glob) under `root`, as written: refused when absolute, when
    any segment is `..`, or when it holds a NUL. Links are the caller's to check
    (`check_inside`), since only I/O can see them."""
    parts = [part for part in path.split("/") if part not in ("", ".")]
    refusal = _refusal(path, parts)
    if refusal is not None:
        raise PathOutsideDataRootError(f"{field} {path!r} {refusal} ({root}/)")
    return root.joinpath(*parts)


def _refusal(path: str, parts: list[str]) -> str | None:
    if path.startswith("/"):
        return "is absolute; give it relative to the namespace's data root"
    if ".." in parts:
        return "climbs out with '..'"
    if "\x00" in path:
        return "holds a NUL character"
    if not parts:
        return "names no file"
    return None


def check_inside(field: str, path: str, real_root: str, *, matched: Mapping[str, str]) -> None:
    """PathOutsideDataRootError naming the first match (path → real path, in the caller's
    order) whose real path is not under `real_root`, the namespace's root with links resolved."""
    root = PurePosixPath(real_root)
    for match, real in matched.items():
        if not PurePosixPath(real).is_relative_to(root):
            raise PathOutsideDataRootError(
                f"{field} {path!r} matches {match}, which resolves to {real}:"
                f" outside the namespace's data root {root}/"
            )


def paths_of(
    spec: FeatureViewSpec | ModelVersionSpec | RolloutSpec | BatchPredictionSpec,
) -> list[tuple[str, str]]:
    """The data paths a spec names, as (field, path)."""
    match spec:
        case FeatureViewSpec():
            return [("spec.source.path", spec.source.path)]
        case ModelVersionSpec():
            return [("spec.labels.path", spec.labels.path)]
        case RolloutSpec():
            return []
        case BatchPredictionSpec():
            source = spec.entities.source
            return [("spec.entities.source.path", source.path)] if source else []


def path_acceptance(
    spec: FeatureViewSpec | ModelVersionSpec | RolloutSpec | BatchPredictionSpec,
    data_root: str,
    namespace: str,
) -> Observation | None:
    """Accepted=False (PathOutsideDataRoot) for the first path that leaves the namespace's data
    root as written; None when none does (links are checked where the files are read)."""
    root = namespace_root(data_root, namespace)
    for field, path in paths_of(spec):
        try:
            resolve(field, path, root)
        except PathOutsideDataRootError as error:
            return Observation("Accepted", "False", error.reason, str(error))
    return None
