"""No A1111 outlives its worker, even a SIGKILLed one: parent-death signal, group sentinel, killpg."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.worker.a1111.children import group_members, is_gone, python, read_pids, wait_for
from tests.worker.a1111.conftest import Scripts
from worker.a1111.process import spawn_group

REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def leftovers() -> Iterator[list[int]]:
    """PIDs a failed test may leave behind; SIGKILLed one by one at teardown."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if not is_gone(pid):
            os.kill(pid, signal.SIGKILL)


def run_worker_then_kill_it(
    scripts: Scripts, tmp_path: Path, sentinel: str, leftovers: list[int]
) -> tuple[int, int]:
    pid_file = tmp_path / "pids"
    worker = subprocess.Popen(
        [
            sys.executable,
            str(scripts.worker),
            str(REPO_ROOT),
            str(scripts.with_grandchild),
            str(pid_file),
            sentinel,
        ],
        start_new_session=True,
    )
    try:
        child, grandchild = read_pids(pid_file)
        leftovers.extend([child, grandchild])
        assert not is_gone(child) and not is_gone(grandchild)
        worker.kill()
    finally:
        worker.kill()
        worker.wait()
    return child, grandchild


def test_a_killed_worker_takes_its_a1111_and_its_children(
    scripts: Scripts, tmp_path: Path, leftovers: list[int]
) -> None:
    child, grandchild = run_worker_then_kill_it(scripts, tmp_path, "sentinel", leftovers)

    assert wait_for(lambda: is_gone(child), 2.0), "PR_SET_PDEATHSIG did not kill the A1111 process"
    assert wait_for(lambda: is_gone(grandchild), 2.0), "the sentinel did not kill A1111's child"


def test_without_the_sentinel_the_grandchild_would_be_orphaned(
    scripts: Scripts, tmp_path: Path, leftovers: list[int]
) -> None:
    # Why the sentinel exists: the kernel gives the parent-death signal to the direct child only.
    child, grandchild = run_worker_then_kill_it(scripts, tmp_path, "no-sentinel", leftovers)

    assert wait_for(lambda: is_gone(child), 2.0)
    assert not wait_for(lambda: is_gone(grandchild), 0.5)


def test_the_group_leader_is_seen_exited_before_it_is_reaped(scripts: Scripts, tmp_path: Path) -> None:
    log = tmp_path / "a1111.log"
    process = spawn_group(python(scripts.exit_3), {}, log)
    try:
        assert process.wait_exited(10.0)
        assert Path(f"/proc/{process.pid}").exists()  # a zombie still holds the pid (and group id)
        process.signal_group(signal.SIGKILL)  # harmless on a group with only a zombie left
    finally:
        assert process.reap(5.0) == 3
        process.release()
    assert group_members(process.pid) == []


def test_releasing_stops_the_sentinel_without_touching_the_group(scripts: Scripts, tmp_path: Path) -> None:
    process = spawn_group(python(scripts.ignores_sigterm), {}, tmp_path / "a1111.log")
    try:
        process.release()  # as if the leader were reaped: the sentinel goes, quietly
        assert not process.wait_exited(0.3)
    finally:
        process.signal_group(signal.SIGKILL)
        process.reap(5.0)
