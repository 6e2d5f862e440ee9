#!/usr/bin/python3
"""runc for machines that withhold capabilities from every process they start.

Some VMs start their processes with a bounding set that lacks CAP_SYS_RESOURCE. runc cannot
grant a capability outside its own bounding set, so `docker run --privileged` (which asks for
all of them) fails with "unable to apply caps: operation not permitted". Registered as
dockerd's default runtime, this wrapper removes the withheld capabilities from the container's
`config.json` (create, run) or from the `--process` file (exec) and then runs runc itself. The
container ends up with exactly the capabilities it would have had anyway: the machine would
never have let it hold the others.

`paved-runc --withheld` prints the withheld capabilities, one per line (nothing on a normal
host); scripts/docker/setup-docker.sh installs the wrapper only when it prints something.
Standard library only: it runs under the system's python3, outside any virtual environment.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

# Linux's capability numbers (include/uapi/linux/capability.h), in order.
CAPABILITIES = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
]

# runc's global options that take a value: the command is the first word that is not one.
_GLOBAL_VALUES = {"--root", "--log", "--log-format", "--criu", "--rootless"}
# The file each command reads its capabilities from, and where they sit in it.
_EDITED = {"create": ("--bundle", "-b"), "run": ("--bundle", "-b"), "exec": ("--process", "-p")}


def withheld(bounding: int, last_cap: int) -> list[str]:
    """The capabilities the kernel knows (up to `last_cap`) that the bounding set lacks."""
    known = CAPABILITIES[: last_cap + 1]
    return [f"CAP_{name}" for bit, name in enumerate(known) if not bounding >> bit & 1]


def without(capabilities: Mapping[str, Any], dropped: Iterable[str]) -> dict[str, Any]:
    """An OCI `capabilities` object with `dropped` removed from each of its sets."""
    gone = set(dropped)
    return {
        kind: [cap for cap in caps if cap not in gone] if isinstance(caps, list) else caps
        for kind, caps in capabilities.items()
    }


def edit_spec(spec: dict[str, Any], dropped: Iterable[str], *, process_file: bool) -> bool:
    """Removes `dropped` from a config.json (or, with `process_file`, an exec process file).

    Returns whether anything changed, so an untouched file is not rewritten."""
    process = spec if process_file else spec.get("process", {})
    capabilities = process.get("capabilities")
    if not capabilities:
        return False
    edited = without(capabilities, dropped)
    if edited == capabilities:
        return False
    process["capabilities"] = edited
    return True


def spec_file(argv: list[str], cwd: Path) -> tuple[Path, bool] | None:
    """The file runc will read capabilities from for this command line, and whether it is an
    exec process file; None for commands that start nothing (state, kill, delete, ...)."""
    index = 0
    while index < len(argv) and argv[index].startswith("-"):
        index += 2 if argv[index] in _GLOBAL_VALUES else 1
    command, rest = (argv[index], argv[index + 1 :]) if index < len(argv) else ("", [])
    if command not in _EDITED:
        return None
    long, short = _EDITED[command]
    given = None
    for position, word in enumerate(rest):
        if word.startswith(long + "="):
            given = Path(word.split("=", 1)[1])
        elif word in (long, short) and position + 1 < len(rest):
            given = Path(rest[position + 1])
    if command == "exec":
        # Without --process, exec takes its command line as arguments: nothing to edit.
        return (given, True) if given else None
    # runc's default bundle is the working directory.
    return (given or cwd) / "config.json", False


def _bounding_set() -> int:
    status = Path("/proc/self/status").read_text()
    return int(
        next(line.split()[1] for line in status.splitlines() if line.startswith("CapBnd:")), 16
    )


def _last_cap() -> int:
    return int(Path("/proc/sys/kernel/cap_last_cap").read_text())


def main(argv: list[str]) -> None:
    dropped = withheld(_bounding_set(), _last_cap())
    if argv == ["--withheld"]:
        print("\n".join(dropped))
        return
    target = spec_file(argv, Path.cwd())
    if dropped and target is not None:
        path, process_file = target
        spec = json.loads(path.read_text())
        if edit_spec(spec, dropped, process_file=process_file):
            path.write_text(json.dumps(spec))
    runc = os.environ.get("PAVED_RUNC_BINARY") or shutil.which("runc") or "/usr/sbin/runc"
    os.execv(runc, [runc, *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
