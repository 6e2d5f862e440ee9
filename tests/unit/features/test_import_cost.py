"""`import paved.features` loads what the SDK needs and nothing the operator or a cluster does:
no kopf, no Kubernetes client, no scipy (seconds of import between them), and no pandas, DuckDB,
Redis client or Spark until a call needs one. Run in a fresh interpreter: this one has imported
everything already."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

NOT_LOADED = ("kopf", "kubernetes", "scipy", "pandas", "duckdb", "redis", "pyspark", "polars")


# A fresh interpreter importing pyarrow and pydantic: about a second alone, far more on a
# machine busy with other work than the unit tier's 10 s allow.
@pytest.mark.timeout(120)
def test_importing_the_sdk_loads_neither_the_operator_nor_a_cluster_client() -> None:
    probe = (
        "import json, sys; import paved.features; "
        f"print(json.dumps([m for m in {NOT_LOADED!r} if m in sys.modules]))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True, timeout=120
    )
    assert json.loads(loaded.stdout) == []
