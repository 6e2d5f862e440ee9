"""What a source or labels path matches on disk stays under the namespace's data root, links
resolved: a link out, a glob that matches one, a directory that holds one, are refused."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from paved.adapters.offline.parquet import data_files, parquet_source
from paved.api.feature_view import FeatureViewSpec
from paved.core.feature_views import view_definition
from paved.errors import PathOutsideDataRootError


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """<tmp>/data/team-a holds activity/a.parquet; <tmp>/data/team-b and <tmp>/secret exist."""
    for folder in ("data/team-a/activity", "data/team-b", "secret"):
        (tmp_path / folder).mkdir(parents=True)
    table = pa.table({"user_id": pa.array([1], pa.int64())})
    for file in ("data/team-a/activity/a.parquet", "data/team-b/b.parquet", "secret/s.parquet"):
        pq.write_table(table, tmp_path / file)
    return tmp_path / "data" / "team-a"


def test_files_under_the_root_are_found_as_real_paths(root: Path) -> None:
    (root / "latest.parquet").symlink_to(root / "activity" / "a.parquet")  # a link inside
    real = str(root / "activity" / "a.parquet")
    assert data_files("spec.labels.path", "activity/*.parquet", str(root)) == [real]
    assert data_files("spec.labels.path", "activity", str(root)) == [real]
    assert data_files("spec.labels.path", "latest.parquet", str(root)) == [real]


def test_an_absolute_path_is_refused(root: Path) -> None:
    secret = str(root.parent.parent / "secret" / "s.parquet")
    with pytest.raises(PathOutsideDataRootError, match="is absolute"):
        data_files("spec.labels.path", secret, str(root))


def test_a_path_into_another_namespace_is_refused(root: Path) -> None:
    with pytest.raises(PathOutsideDataRootError, match=r"climbs out with '\.\.'"):
        data_files("spec.labels.path", "../team-b/b.parquet", str(root))


def test_a_link_out_is_refused_naming_where_it_leads(root: Path) -> None:
    secret = root.parent.parent / "secret" / "s.parquet"
    (root / "labels.parquet").symlink_to(secret)
    with pytest.raises(PathOutsideDataRootError, match=f"which resolves to {secret}: outside"):
        data_files("spec.labels.path", "labels.parquet", str(root))


def test_a_glob_that_matches_a_link_out_is_refused(root: Path) -> None:
    (root / "activity" / "z.parquet").symlink_to(root.parent / "team-b" / "b.parquet")
    with pytest.raises(PathOutsideDataRootError, match=r"matches .*activity/z\.parquet"):
        data_files("spec.labels.path", "activity/*.parquet", str(root))


def test_a_glob_through_a_linked_directory_out_is_refused(root: Path) -> None:
    (root / "mounted").symlink_to(root.parent.parent / "secret")
    with pytest.raises(PathOutsideDataRootError, match="secret"):
        data_files("spec.labels.path", "*/*.parquet", str(root))


def test_a_directory_holding_a_link_out_is_refused(root: Path) -> None:
    (root / "activity" / "leak").symlink_to(root.parent.parent / "secret")
    with pytest.raises(PathOutsideDataRootError, match="leak"):
        data_files("spec.labels.path", "activity", str(root))


def test_a_feature_view_source_through_a_link_out_has_no_files(root: Path) -> None:
    (root / "activity" / "z.parquet").symlink_to(root.parent.parent / "secret" / "s.parquet")
    spec = FeatureViewSpec.model_validate(
        {
            "entity": {"name": "user", "joinKeys": ["user_id"]},
            "source": {"path": "activity/*.parquet", "timestampField": "ts"},
            "features": [{"name": "x", "dtype": "int64"}],
        }
    )
    view = view_definition("v", spec, str(root.parent), namespace="team-a")
    with pytest.raises(PathOutsideDataRootError, match=r"FeatureView v: spec\.source\.path"):
        parquet_source(view)
