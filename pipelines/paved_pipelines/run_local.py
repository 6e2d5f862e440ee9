"""Run the training pipeline under KFP's local runner, in a process of its own.

The operator starts this detached, so its event loop never blocks and an operator restart does
not kill the run; the outcome is written atomically to the result file the operator polls.

    python -m paved_pipelines.run_local --request R.json --root DIR --result RESULT.json
        [--docker DOCKER.json] [--pipeline-file IR.yaml | --package MODULE.FUNCTION]

With `--docker`, each task runs in a container (KFP's `DockerRunner`, with the arguments the
operator wrote: `paved.adapters.pipelines.kfp_docker`); without it, as a process of this one.
Without `--pipeline-file` or `--package` it runs the built-in tabular classifier; with one, a
team's pipeline between paved's steps (`paved_pipelines.team`, ADR 0037), checked against the
pipeline contract before any task runs.
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


def _pipeline(arguments: argparse.Namespace) -> Any:
    if arguments.pipeline_file is not None:
        from paved_pipelines.team import around, checked_component

        ir = arguments.pipeline_file
        return around(checked_component(ir.read_text(), f"IR file {ir.name}"))
    if arguments.package is not None:
        from paved_pipelines.team import around, from_package

        return around(from_package(arguments.package))
    from paved_pipelines.training import tabular_classifier

    return tabular_classifier


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--request", type=Path, required=True)
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("--docker", type=Path)
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--pipeline-file", type=Path)
    which.add_argument("--package")
    arguments = parser.parse_args()
    try:
        from kfp import local

        pipeline = _pipeline(arguments)
        # DockerRunner mounts the pipeline root at the same path: it must be absolute.
        root = str(arguments.root.resolve())
        local.init(runner=_task_runner(arguments.docker), pipeline_root=root)
        run = pipeline(request=arguments.request.read_text())
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
