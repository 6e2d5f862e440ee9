"""Whether a platform process still runs its program, judged from /proc."""

from __future__ import annotations

from paved_local.processes import runs

# /proc/<pid>/stat after the command name: state, ppid, pgrp, session, tty, tpgid, flags, ...
RUNNING = "4242 (kube-apiserver) S 1 4242 4242 0 -1 4194560 1 0 0 0"
ZOMBIE = "4242 (kube-apiserver) Z 1 4242 4242 0 -1 4194560 1 0 0 0"
KERNEL_THREAD = "4242 (kworker/0:1) I 2 0 0 0 -1 69238880 0 0 0 0"
APISERVER = "/cache/toolchain/bin/kube-apiserver"


def test_a_process_mid_exec_without_a_command_line_yet_counts_as_running() -> None:
    assert runs(RUNNING, b"", APISERVER)


def test_a_recycled_pid_or_an_exited_process_does_not() -> None:
    assert runs(RUNNING, b"/cache/toolchain/bin/kube-apiserver\0--etcd-servers=x\0", APISERVER)
    assert not runs(RUNNING, b"/usr/bin/python3\0-m\0http.server\0", APISERVER)
    assert not runs(ZOMBIE, b"", APISERVER)
    assert not runs(KERNEL_THREAD, b"", APISERVER)
