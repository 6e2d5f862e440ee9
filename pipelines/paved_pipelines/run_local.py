"""Run the training pipeline under KFP's local runner, in a process of its own.

The operator starts this detached, so its event loop never blocks and an operator restart does
not kill the run; the outcome is written atomically to the result file the operator polls.

    python -m paved_pipelines.run_local --request R.json --root DIR --result RESULT.json
"""

from __future__ import annotations

import argparse
import json
import os
import traceback
from pathlib import Path


def _write(result: Path, document: dict[str, object]) -> None:
    temporary = result.with_suffix(".tmp")
    temporary.write_text(json.dumps(document))
    os.replace(temporary, result)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--request", type=Path, required=True)
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--result", type=Path, required=True)
    arguments = parser.parse_args()
    try:
        from kfp import local

        from paved_pipelines.training import tabular_classifier

        local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(arguments.root))
        run = tabular_classifier(request=arguments.request.read_text())
        _write(arguments.result, {"state": "SUCCEEDED", "output": run.output})
    except Exception as error:  # every failure must reach the result file
        _write(
            arguments.result,
            {
                "state": "FAILED",
                "error": f"{type(error).__name__}: {error}",
                "traceback": traceback.format_exc()[-4000:],
            },
        )


if __name__ == "__main__":
    main()
