"""The key scheme: `pv:<namespace>:<view>:<version>:<entity>`, one string key per entity.

A view belongs to its namespace, so two namespaces' views of one name (even of one definition,
so one version) never share a key. Kubernetes names hold no `:` and no glob specials, so a
view's keys, or all its versions', are one SCAN pattern.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from paved.core.feature_views import ViewDefinition
from paved.ports.online import EntityRow

KEY_PREFIX: Final = "pv"


def version_prefix(view: ViewDefinition) -> str:
    """Every key of one view version starts so."""
    return f"{view_prefix(view.namespace, view.name)}{view.version}:"


def view_prefix(namespace: str, name: str) -> str:
    """Every version's keys of one FeatureView start so (names hold no `:`, no glob specials)."""
    return f"{KEY_PREFIX}:{namespace}:{name}:"


def entity_key(values: Iterable[object]) -> str:
    """Type-tagged, strings length-prefixed: 1 and "1" differ, and so do ("a:i2",) and ("a", 2)."""
    return ":".join(map(_key_part, values))


def _key_part(value: object) -> str:
    if type(value) is int:
        return f"i{value}"
    if type(value) is str:
        return f"s{len(value)}:{value}"
    raise TypeError(f"join key values must be int or str, not {type(value).__name__}")


def entity_key_of(row: EntityRow, join_keys: tuple[str, ...]) -> str:
    """The entity part of the key of `row`'s values in a view joined on `join_keys`."""
    try:
        if len(join_keys) == 1:  # the usual case, read per entity row: spare the join
            return _key_part(row[join_keys[0]])
        return entity_key([row[name] for name in join_keys])
    except KeyError as error:
        raise KeyError(f"an entity row lacks join key {error}: it needs {join_keys}") from None
