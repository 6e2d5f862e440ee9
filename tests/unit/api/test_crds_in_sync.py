"""The checked-in CRDs are exactly what the pydantic models generate (`make crds`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from paved.api.crds import (
    ALL_KINDS,
    PEERING_FILE,
    POLICY_FILE,
    Kind,
    file_name,
    render,
    render_peering,
    render_policies,
)
from paved.api.reference import render_reference

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("kind", ALL_KINDS, ids=lambda k: k.kind)
@pytest.mark.parametrize("folder", ["crds", "charts/paved/crds"])
def test_checked_in_crd_matches_the_models(kind: Kind, folder: str) -> None:
    checked_in = (ROOT / folder / file_name(kind)).read_text()
    assert checked_in == render(kind), f"{folder}/{file_name(kind)} is stale: run `make crds`"


@pytest.mark.parametrize("folder", ["crds", "charts/paved/crds"])
def test_checked_in_policies_match_the_models(folder: str) -> None:
    assert (ROOT / folder / POLICY_FILE).read_text() == render_policies()


@pytest.mark.parametrize("folder", ["crds", "charts/paved/crds"])
def test_checked_in_peering_definitions_match(folder: str) -> None:
    assert (ROOT / folder / PEERING_FILE).read_text() == render_peering()


@pytest.mark.parametrize("kind", ALL_KINDS, ids=lambda k: k.kind)
def test_api_reference_pages_match_the_models(kind: Kind) -> None:
    page = ROOT / "docs" / "api" / f"{kind.singular}.md"
    assert page.read_text() == render_reference(kind), f"{page} is stale: run `make crds`"


def test_no_stray_crd_files() -> None:
    expected = {file_name(kind) for kind in ALL_KINDS} | {POLICY_FILE, PEERING_FILE}
    for folder in ("crds", "charts/paved/crds"):
        assert {p.name for p in (ROOT / folder).glob("*.yaml")} == expected
