"""The storage initializer's part of the data plane: fetch a model's files from its storage URI
as KServe's storage initializer (the init container Seldon Core v1 and KServe run before the model
server) does, with `kserve-storage`, into a local cache the model is then loaded from.

Each fetch is a process of its own (`python -m paved_local.dataplane.storage URI DIR`), as the
init container is: `kserve-storage` downloads through a fork-based `multiprocessing.Pool`, which
deadlocks when forked from the data plane's threads, and a hung or crashing download then fails
one model, never the data plane.

Which URIs are refused before any download is `paved_local.seldon.storage_uris`' rule, the
same the Seldon stand-in's init container applies on a cluster.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Final

from paved_local.seldon.storage_uris import FETCHABLE, refusal

__all__ = ["FETCHABLE", "FetchFailedError", "StorageUriRefusedError", "fetch", "refusal"]

_DONE: Final = ".fetched"
FETCH_TIMEOUT_SECONDS: Final = 300.0


class StorageUriRefusedError(ValueError):
    """No storage initializer can fetch this URI; the message says why."""


class FetchFailedError(RuntimeError):
    """The storage initializer could not fetch the URI; the message ends with what it said."""


def fetch(uri: str, cache: Path) -> Path:
    """The local directory holding `uri`'s files, downloaded once into `cache`.

    A download lands in a temporary directory first and is renamed into place, so a crash
    half-way leaves nothing that looks fetched."""
    refused = refusal(uri)
    if refused is not None:
        raise StorageUriRefusedError(refused)
    target = cache / hashlib.sha256(uri.encode()).hexdigest()[:24]
    if (target / _DONE).is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(dir=cache, prefix=".fetching-"))
    try:
        _initialize(uri, partial)
        (partial / _DONE).write_text(uri)
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def _initialize(uri: str, into: Path) -> None:
    """Run the storage initializer on `uri` as its own process, as an init container runs."""
    command = [sys.executable, "-m", "paved_local.dataplane.storage", uri, str(into)]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=FETCH_TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise FetchFailedError(f"not fetched in {FETCH_TIMEOUT_SECONDS:.0f}s") from error
    if done.returncode != 0:
        said = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise FetchFailedError(f"the storage initializer failed: {said}")


def main() -> None:
    from kserve_storage import Storage  # only here: the data plane never imports it

    uri, into = sys.argv[1:3]
    Storage.download(uri, into)


if __name__ == "__main__":
    main()
