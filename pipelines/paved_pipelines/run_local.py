"""Run the training pipeline under KFP's local runner, in a process of its own.

The operator starts this detached, so its event loop never blocks and an operator restart does
not kill the run; the outcome is written atomically to the result file the operator polls.

    python -m paved_pipelines.run_local --request R.json --root DIR --result RESULT.json
        [--docker DOCKER.json]

With `--docker`, each task runs in a container (KFP's `DockerRunner`, with the arguments the
operator wrote: `paved.adapters.pipelines.kfp_docker`); without it, as a process of this one.
"""

from __future__ import annotations

import argparse
import json
import os
import traceback
from pathlib import Path
from typing import Any


def _write(result: Path, document: dict[str, object]) -> None:
    temporary = result.with_suffix(".tmp")
    temporary.write_text(json.dumps(document))
    os.replace(temporary, result)


def _task_runner(docker: Path | None) -> Any:
    from kfp import local

    if docker is None:
        return local.SubprocessRunner(use_venv=False)
    arguments = json.loads(docker.read_text())
    # Credentials travel by name: their values are this process's, never in the file.
    forwarded = {name: os.environ[name] for name in arguments.pop("forward") if name in os.environ}
    arguments["environment"] = forwarded | arguments["environment"]
    return local.DockerRunner(**arguments)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--request", type=Path, required=True)
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("--docker", type=Path)
    arguments = parser.parse_args()
    try:
        from kfp import local

        from paved_pipelines.training import tabular_classifier

        # DockerRunner mounts the pipeline root at the same path: it must be absolute.
        root = str(arguments.root.resolve())
        local.init(runner=_task_runner(arguments.docker), pipeline_root=root)
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
