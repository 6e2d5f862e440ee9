"""A namespace reads only under <data root>/<namespace>/: paths are refused as written when they
leave it, and matches are refused when their real path does (the caller resolves links)."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from paved.api.model_version import ModelVersionSpec
from paved.core.data_paths import check_inside, namespace_root, path_acceptance, resolve
from paved.errors import PathOutsideDataRootError
from tests.support.training import example

ROOT = PurePosixPath("/srv/data/team-a")


def test_a_namespace_root_is_its_folder_under_the_data_root() -> None:
    assert namespace_root("/srv/data", "team-a") == ROOT
    assert namespace_root("/srv/data", None) == PurePosixPath("/srv/data")


@pytest.mark.parametrize("namespace", ["..", ".", "", "a/b", "Team", "a b"])
def test_a_namespace_that_is_no_namespace_name_has_no_root(namespace: str) -> None:
    with pytest.raises(ValueError, match="is not a namespace name"):
        namespace_root("/srv/data", namespace)


@pytest.mark.parametrize(
    ("path", "resolved"),
    [
        ("activity/*.parquet", "/srv/data/team-a/activity/*.parquet"),
        ("./activity//part-0.parquet", "/srv/data/team-a/activity/part-0.parquet"),
        ("activity/**/*.parquet", "/srv/data/team-a/activity/**/*.parquet"),
        ("a..b/x.parquet", "/srv/data/team-a/a..b/x.parquet"),
    ],
)
def test_a_relative_path_or_glob_resolves_under_the_namespace_root(
    path: str, resolved: str
) -> None:
    assert str(resolve("spec.source.path", path, ROOT)) == resolved


@pytest.mark.parametrize(
    ("path", "refusal"),
    [
        ("/etc/passwd", "is absolute"),
        ("/srv/data/team-a/activity/*.parquet", "is absolute"),  # even its own root, as written
        ("..", "climbs out"),
        ("../team-b/activity/*.parquet", "climbs out"),  # another namespace
        ("activity/../../team-b/x.parquet", "climbs out"),
        ("activity/..", "climbs out"),
        ("*/../../*", "climbs out"),
        ("activity/\x00.parquet", "NUL"),
        (".", "names no file"),
        ("./", "names no file"),
    ],
)
def test_a_path_that_leaves_the_root_as_written_is_refused_naming_field_and_path(
    path: str, refusal: str
) -> None:
    with pytest.raises(PathOutsideDataRootError, match=refusal) as raised:
        resolve("spec.labels.path", path, ROOT)
    assert str(raised.value).startswith(f"spec.labels.path {path!r}")
    assert raised.value.reason == "PathOutsideDataRoot"


def test_matches_whose_real_path_is_under_the_root_pass() -> None:
    check_inside(
        "spec.source.path",
        "activity/*.parquet",
        "/srv/data/team-a",
        matched={
            "/srv/data/team-a/activity/a.parquet": "/srv/data/team-a/activity/a.parquet",
            "/srv/data/team-a/activity/b.parquet": "/srv/data/team-a/shared/b.parquet",
        },
    )


@pytest.mark.parametrize(
    "real",
    [
        "/etc/passwd",  # a link out
        "/srv/data/team-b/activity/a.parquet",  # a link into another namespace
        "/srv/data/team-a-old/a.parquet",  # a sibling whose name starts like the root's
        "/srv/data",  # the data root above the namespace
    ],
)
def test_a_match_whose_real_path_is_outside_the_root_is_refused_naming_both(real: str) -> None:
    match = "/srv/data/team-a/activity/a.parquet"
    with pytest.raises(PathOutsideDataRootError) as raised:
        check_inside(
            "spec.source.path", "activity/*.parquet", "/srv/data/team-a", matched={match: real}
        )
    message = str(raised.value)
    assert message.startswith("spec.source.path 'activity/*.parquet' matches " + match)
    assert f"resolves to {real}: outside the namespace's data root /srv/data/team-a/" in message


def test_a_model_version_with_labels_outside_the_root_is_not_accepted() -> None:
    spec = example("02-modelversion.yaml")["spec"]
    spec["labels"]["path"] = "../team-b/churn_labels.parquet"
    observed = path_acceptance(ModelVersionSpec.model_validate(spec), "/srv/data", "team-a")
    assert observed is not None
    assert (observed.type, observed.status, observed.reason) == (
        "Accepted",
        "False",
        "PathOutsideDataRoot",
    )
    assert "spec.labels.path '../team-b/churn_labels.parquet' climbs out" in observed.message
    spec["labels"]["path"] = "churn_labels.parquet"
    assert path_acceptance(ModelVersionSpec.model_validate(spec), "/srv/data", "team-a") is None
