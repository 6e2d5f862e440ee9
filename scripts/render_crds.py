"""Write crds/*.yaml and the chart's copy from the pydantic models (`make crds`)."""

from __future__ import annotations

from pathlib import Path

from paved.api.crds import (
    ALL_KINDS,
    PEERING_FILE,
    POLICY_FILE,
    file_name,
    render,
    render_peering,
    render_policies,
)
from paved.api.reference import render_reference

ROOT = Path(__file__).resolve().parents[1]
DESTINATIONS = (ROOT / "crds", ROOT / "charts" / "paved" / "crds")
REFERENCE = ROOT / "docs" / "api"


def main() -> None:
    for destination in DESTINATIONS:
        destination.mkdir(parents=True, exist_ok=True)
        for kind in ALL_KINDS:
            (destination / file_name(kind)).write_text(render(kind))
            print(f"wrote {(destination / file_name(kind)).relative_to(ROOT)}")
        (destination / POLICY_FILE).write_text(render_policies())
        print(f"wrote {(destination / POLICY_FILE).relative_to(ROOT)}")
        (destination / PEERING_FILE).write_text(render_peering())
        print(f"wrote {(destination / PEERING_FILE).relative_to(ROOT)}")
    REFERENCE.mkdir(parents=True, exist_ok=True)
    for kind in ALL_KINDS:
        page = REFERENCE / f"{kind.singular}.md"
        page.write_text(render_reference(kind))
        print(f"wrote {page.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
