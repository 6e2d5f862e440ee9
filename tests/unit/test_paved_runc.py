"""paved-runc, the OCI runtime wrapper that lets `docker run --privileged` work on machines that
withhold CAP_SYS_RESOURCE: what it removes from a container's spec, and which file it edits for
the command lines containerd's shim gives runc."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "oci"
# The bounding set of the VMs paved's CI runs on: everything up to CAP_CHECKPOINT_RESTORE (40)
# but CAP_SYS_RESOURCE (24).
THESE_VMS = 0x1FFFEFFFFFF
NORMAL_HOST = 0x1FFFFFFFFFF
SHIM = ["--root", "/var/run/docker/runtime-runc/moby", "--log", "/run/x/log.json"]
SHIM += ["--log-format", "json"]


def _load() -> ModuleType:
    # A script run by the system's python3, not a module of the project: loaded by its path.
    spec = importlib.util.spec_from_file_location(
        "paved_runc", ROOT / "scripts/docker/paved_runc.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


paved_runc = _load()


def test_the_machine_withholds_sys_resource_and_a_normal_host_nothing() -> None:
    assert paved_runc.withheld(THESE_VMS, last_cap=40) == ["CAP_SYS_RESOURCE"]
    assert paved_runc.withheld(NORMAL_HOST, last_cap=40) == []


def test_capabilities_the_kernel_does_not_know_are_not_withheld() -> None:
    # An older kernel (cap_last_cap 37) has no bits for PERFMON, BPF, CHECKPOINT_RESTORE:
    # a normal host there must not get the wrapper.
    assert paved_runc.withheld((1 << 38) - 1, last_cap=37) == []


def test_a_privileged_containers_config_loses_sys_resource_from_every_set() -> None:
    spec = json.loads((FIXTURES / "privileged-config.json").read_text())
    before = spec["process"]["capabilities"]
    assert all("CAP_SYS_RESOURCE" in caps for caps in before.values())

    changed = paved_runc.edit_spec(spec, ["CAP_SYS_RESOURCE"], process_file=False)

    after = spec["process"]["capabilities"]
    assert changed
    assert set(after) == set(before)
    for kind, caps in after.items():
        assert caps == [cap for cap in before[kind] if cap != "CAP_SYS_RESOURCE"]
    assert spec["process"]["args"] == ["/sbin/init"]


def test_an_exec_process_file_loses_sys_resource() -> None:
    process = json.loads((FIXTURES / "privileged-exec-process.json").read_text())

    changed = paved_runc.edit_spec(process, ["CAP_SYS_RESOURCE"], process_file=True)

    assert changed
    assert all("CAP_SYS_RESOURCE" not in caps for caps in process["capabilities"].values())
    assert "CAP_SYS_ADMIN" in process["capabilities"]["bounding"]


def test_an_unprivileged_spec_is_left_as_it_is() -> None:
    spec = {"process": {"capabilities": {"bounding": ["CAP_CHOWN", "CAP_KILL"]}}}
    assert not paved_runc.edit_spec(spec, ["CAP_SYS_RESOURCE"], process_file=False)
    assert spec == {"process": {"capabilities": {"bounding": ["CAP_CHOWN", "CAP_KILL"]}}}


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            [*SHIM, "create", "--bundle", "/b/1", "--pid-file", "/b/1/init.pid", "1"],
            (Path("/b/1/config.json"), False),
        ),
        ([*SHIM, "run", "--bundle=/b/2", "2"], (Path("/b/2/config.json"), False)),
        ([*SHIM, "create", "3"], (Path("/cwd/config.json"), False)),
        (
            [*SHIM, "exec", "--process", "/tmp/runc-process1", "--detach", "1"],
            (Path("/tmp/runc-process1"), True),
        ),
        ([*SHIM, "exec", "-p", "/tmp/runc-process2", "1"], (Path("/tmp/runc-process2"), True)),
        ([*SHIM, "exec", "1", "ls"], None),
        ([*SHIM, "delete", "--force", "1"], None),
        ([*SHIM, "state", "1"], None),
        (["--version"], None),
    ],
)
def test_the_file_runc_reads_capabilities_from(
    argv: list[str], expected: tuple[Path, bool] | None
) -> None:
    assert paved_runc.spec_file(argv, Path("/cwd")) == expected
