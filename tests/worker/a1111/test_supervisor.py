"""The supervisor against real child processes: real PIDs, real process groups, real signals."""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.worker.a1111.children import group_members, is_gone, python, read_pids, wait_for
from tests.worker.a1111.conftest import MakeSupervisor, Scripts, loaded_probe
from worker.a1111.command import a1111_command, a1111_env
from worker.a1111.crashloop import CrashLoopGuard
from worker.a1111.exits import ExitKind
from worker.a1111.supervisor import Supervisor
from worker.errors import BackendCrashed, BackendUnavailable, ConfigurationError, InternalError


def standin_cmd(scripts: Scripts, tmp_path: Path, port: int) -> list[str]:
    launcher = [sys.executable, str(scripts.standin)]
    return a1111_command(volume=tmp_path, port=port, ckpt=tmp_path / "model.safetensors", launcher=launcher)


def wait_ended(supervisor: Supervisor) -> None:
    assert wait_for(lambda: supervisor.poll() is not None), "the child did not end"


def test_start_wait_ready_and_stop(
    make_supervisor: MakeSupervisor, scripts: Scripts, tmp_path: Path, standin_port: int, a1111_log: Path
) -> None:
    supervisor = make_supervisor(
        standin_cmd(scripts, tmp_path, standin_port), a1111_env(0, {"STANDIN_LOAD_S": "0.3"})
    )

    supervisor.start()
    pid = supervisor.pid
    assert pid is not None
    supervisor.wait_ready(loaded_probe(standin_port), 10)

    assert (supervisor.running, supervisor.healthy) == (True, True)
    assert group_members(pid) == [pid]  # its own process group, led by itself
    info = supervisor.stop()
    assert info is not None and info.kind is ExitKind.STOPPED
    assert (is_gone(pid), supervisor.pid, supervisor.running) == (True, None, False)
    log = a1111_log.read_text()
    assert "=== sdfleet" in log and "starting A1111" in log and f"standin: listening on {standin_port}" in log


def test_ready_deadline_reports_the_log_tail(
    make_supervisor: MakeSupervisor, scripts: Scripts, tmp_path: Path, standin_port: int
) -> None:
    supervisor = make_supervisor(standin_cmd(scripts, tmp_path, standin_port), {"STANDIN_LOAD_S": "-1"})
    supervisor.start()

    with pytest.raises(BackendUnavailable) as raised:
        supervisor.wait_ready(loaded_probe(standin_port), 0.5)

    message = str(raised.value)
    assert message.startswith("A1111 did not become ready within 0.5 s; last log lines:")
    assert "standin: still loading the checkpoint" in message
    assert supervisor.running  # a slow A1111 is not killed by a failed wait


def test_crash_while_waiting_raises_at_once(make_supervisor: MakeSupervisor, scripts: Scripts) -> None:
    supervisor = make_supervisor(python(scripts.exit_3, "0.2"))
    supervisor.start()
    started = time.monotonic()

    with pytest.raises(BackendCrashed) as raised:
        supervisor.wait_ready(lambda: False, 60)

    assert time.monotonic() - started < 5
    assert raised.value.exit_code == 3 and raised.value.signal is None
    assert "exited with code 3" in str(raised.value)
    assert "CUDA error: an illegal memory access" in str(raised.value)  # the log's tail


def test_sigkill_nobody_sent_is_a_suspected_oom_kill(
    make_supervisor: MakeSupervisor, scripts: Scripts
) -> None:
    supervisor = make_supervisor(python(scripts.sigkill_self))
    supervisor.start()
    wait_ended(supervisor)

    info = supervisor.last_exit
    assert info is not None and info.kind is ExitKind.KILLED_OOM_SUSPECTED
    with pytest.raises(BackendCrashed) as raised:
        supervisor.raise_if_dead()
    assert raised.value.signal == signal.SIGKILL and raised.value.exit_code is None
    assert "OOM killer" in str(raised.value) and "dmesg" in str(raised.value)


def test_stop_kills_the_whole_group(
    make_supervisor: MakeSupervisor, scripts: Scripts, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pids"
    supervisor = make_supervisor(python(scripts.with_grandchild, str(pid_file)))
    supervisor.start()
    child, grandchild = read_pids(pid_file)
    assert set(group_members(child)) == {child, grandchild}

    supervisor.stop()

    assert is_gone(child)
    assert wait_for(lambda: is_gone(grandchild), 2.0)
    assert group_members(child) == []


def test_a_child_that_ignores_sigterm_is_killed_after_the_stop_timeout(
    make_supervisor: MakeSupervisor, scripts: Scripts, a1111_log: Path
) -> None:
    supervisor = make_supervisor(python(scripts.ignores_sigterm), stop_timeout_s=0.4)
    supervisor.start()
    pid = supervisor.pid
    assert pid is not None
    assert wait_for(lambda: "ignoring SIGTERM" in a1111_log.read_text())
    started = time.monotonic()

    info = supervisor.stop()

    assert 0.4 <= time.monotonic() - started < 3
    assert info is not None and info.kind is ExitKind.STOPPED and info.signal == signal.SIGKILL
    assert is_gone(pid)


def test_three_crashes_in_a_row_make_it_unhealthy(make_supervisor: MakeSupervisor, scripts: Scripts) -> None:
    slept: list[float] = []
    supervisor = make_supervisor(python(scripts.exit_3), sleep=slept.append)
    supervisor.start()

    # Given two crashes, each followed by a restart after a growing pause
    for _ in range(2):
        wait_ended(supervisor)
        supervisor.ensure_running()
    assert slept == [1.0, 2.0]
    assert supervisor.crash_guard.streak == 2

    # When it crashes a third time
    wait_ended(supervisor)

    # Then it stays down, and asking for it says why
    assert not supervisor.healthy
    with pytest.raises(BackendUnavailable, match=r"^restart loop: 3 crashes in a row"):
        supervisor.ensure_running()
    with pytest.raises(BackendUnavailable, match="restart loop"):
        supervisor.restart("operator asked")
    assert supervisor.pid is None


def test_a_success_ends_the_crash_streak(make_supervisor: MakeSupervisor, scripts: Scripts) -> None:
    supervisor = make_supervisor(python(scripts.exit_3), sleep=lambda _s: None)
    supervisor.start()
    for _ in range(2):
        wait_ended(supervisor)
        supervisor.ensure_running()

    supervisor.record_success()
    wait_ended(supervisor)

    assert supervisor.healthy and supervisor.crash_guard.streak == 1


def test_kill_hung_kills_and_restarts(
    make_supervisor: MakeSupervisor, scripts: Scripts, tmp_path: Path, standin_port: int
) -> None:
    slept: list[float] = []
    supervisor = make_supervisor(
        standin_cmd(scripts, tmp_path, standin_port), {"STANDIN_LOAD_S": "0"}, sleep=slept.append
    )
    supervisor.start()
    supervisor.wait_ready(loaded_probe(standin_port), 10)
    hung_pid = supervisor.pid
    assert hung_pid is not None
    slept.clear()

    supervisor.kill_hung("no progress for 60 s")

    assert is_gone(hung_pid)
    assert supervisor.pid not in (None, hung_pid)
    last = supervisor.last_exit
    assert last is None  # the new run has not ended
    assert supervisor.crash_guard.streak == 1 and slept == [1.0]
    supervisor.wait_ready(loaded_probe(standin_port), 10)


def test_kill_hung_once_unhealthy_leaves_it_down(
    make_supervisor: MakeSupervisor, scripts: Scripts, tmp_path: Path, standin_port: int
) -> None:
    guard = CrashLoopGuard(max_crashes=1)
    supervisor = make_supervisor(standin_cmd(scripts, tmp_path, standin_port), crash_guard=guard)
    supervisor.start()

    supervisor.kill_hung("stuck at step 3")

    assert not supervisor.healthy and supervisor.pid is None
    last = supervisor.last_exit
    assert last is not None and last.kind is ExitKind.STOPPED and "hung: stuck at step 3" in last.description
    with pytest.raises(BackendUnavailable, match="restart loop"):
        supervisor.ensure_running()


def test_a_stopped_supervisor_is_unavailable_not_crashed(
    make_supervisor: MakeSupervisor, scripts: Scripts
) -> None:
    supervisor = make_supervisor(python(scripts.ignores_sigterm), stop_timeout_s=0.1)
    with pytest.raises(BackendUnavailable, match="not been started"):
        supervisor.raise_if_dead()
    supervisor.start()
    supervisor.raise_if_dead()

    supervisor.stop()

    with pytest.raises(BackendUnavailable, match="not running: stopped as asked"):
        supervisor.raise_if_dead()
    assert supervisor.healthy and supervisor.crash_guard.streak == 0


def test_ensure_running_starts_then_restarts(make_supervisor: MakeSupervisor, scripts: Scripts) -> None:
    supervisor = make_supervisor(python(scripts.sigkill_self, "0.1"), sleep=lambda _s: None)
    supervisor.ensure_running()
    first = supervisor.pid
    wait_ended(supervisor)

    supervisor.ensure_running()

    assert supervisor.pid not in (None, first)
    assert supervisor.crash_guard.streak == 1


def test_every_start_is_marked_in_the_log(
    make_supervisor: MakeSupervisor, scripts: Scripts, a1111_log: Path
) -> None:
    supervisor = make_supervisor(python(scripts.exit_3), sleep=lambda _s: None)
    supervisor.start()
    wait_ended(supervisor)
    supervisor.ensure_running()
    wait_ended(supervisor)

    text = a1111_log.read_text()
    assert text.count("starting A1111") == 2
    assert text.count("RuntimeError: CUDA error") == 2
    assert "RuntimeError: CUDA error" in supervisor.log_tail(3)


def test_an_unrunnable_command_is_a_configuration_error(
    make_supervisor: MakeSupervisor, tmp_path: Path
) -> None:
    supervisor = make_supervisor([str(tmp_path / "no-such-webui")])

    with pytest.raises(ConfigurationError, match="cannot launch A1111"):
        supervisor.start()


def test_only_the_owner_thread_may_start(make_supervisor: MakeSupervisor, scripts: Scripts) -> None:
    supervisor = make_supervisor(python(scripts.ignores_sigterm))
    raised: list[BaseException] = []

    def start_elsewhere() -> None:
        try:
            supervisor.start()
        except InternalError as exc:
            raised.append(exc)

    thread = threading.Thread(target=start_elsewhere)
    thread.start()
    thread.join()

    assert len(raised) == 1 and "parent-death signal" in str(raised[0])
    assert supervisor.pid is None
