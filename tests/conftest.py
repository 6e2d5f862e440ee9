"""Tiers by folder (unit, integration, e2e, cluster), and the local platform started once
per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from paved_local.platform import QUIET_ENVIRONMENT

pytest_plugins = ["tests.support.fixtures"]

_TIERS = {"unit": 10, "integration": 300, "e2e": 600, "cluster": 900}  # per-test timeout in seconds
_TESTS = Path(__file__).parent

os.environ.update(QUIET_ENVIRONMENT)


def _tier(item: pytest.Item) -> str:
    return Path(item.fspath).relative_to(_TESTS).parts[0]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Fast feedback first: unit, then integration, then e2e (a stable sort keeps file order).
    order = list(_TIERS)
    items.sort(key=lambda i: order.index(t) if (t := _tier(i)) in order else len(order))
    for item in items:
        tier = _tier(item)
        if tier in _TIERS:
            item.add_marker(getattr(pytest.mark, tier))
            if item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(_TIERS[tier]))


def pytest_runtest_setup(item: pytest.Item) -> None:
    # The tiers run in order, so the local platform's last user has run by now. (Imported here:
    # `pytest_plugins` imports the fixtures module first, with its asserts rewritten.)
    from tests.support.fixtures import BEFORE_CLUSTER_TIER

    if _tier(item) == "cluster":
        while BEFORE_CLUSTER_TIER:
            BEFORE_CLUSTER_TIER.pop(0)()
