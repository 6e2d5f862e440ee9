from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.churn_data import write_churn_data
from tests.support.training import NAMESPACE


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic churn data under `<data root>/<NAMESPACE>/`, one copy a test module."""
    root = tmp_path_factory.mktemp("churn")
    write_churn_data(root / NAMESPACE)
    return root
