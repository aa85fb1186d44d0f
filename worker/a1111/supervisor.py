"""Supervision of one launched A1111: start it, wait for it, notice and classify its end, restart it
within limits, stop it with everything it started.

One thread owns a supervisor: the Celery pool process's main thread, which lives as long as the worker.
It must be that thread that starts A1111, because the kernel sends the parent-death signal when the
thread that forked the child exits (process.py); `start()` refuses any other thread.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from worker.a1111.crashloop import CrashLoopGuard, restart_delay_s
from worker.a1111.exits import ExitInfo, classify_exit
from worker.a1111.logfile import log_tail, write_start_marker
from worker.a1111.process import ChildProcess, Spawn, spawn_group
from worker.a1111.readiness import wait_until_ready
from worker.errors import BackendUnavailable, ConfigurationError, InternalError

log = logging.getLogger(__name__)


class Supervisor:
    """Owns one A1111 process (the "launched" mode; attached.py is the other)."""

    reap_timeout_s = 10.0  # after SIGKILL; longer means the process is stuck in the kernel (GPU driver)

    def __init__(
        self,
        cmd: Sequence[str],
        env: Mapping[str, str],
        log_path: Path,
        *,
        cwd: Path | None = None,
        spawn: Spawn = spawn_group,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        startup_deadline_s: float,
        stop_timeout_s: float = 30.0,
        poll_interval_s: float = 0.25,
        crash_guard: CrashLoopGuard | None = None,
        backoff: Callable[[int], float] = restart_delay_s,
    ) -> None:
        self.cmd = list(cmd)
        self.env = dict(env)
        self.log_path = log_path
        self.cwd = cwd
        self.startup_deadline_s = startup_deadline_s
        self.stop_timeout_s = stop_timeout_s
        self.poll_interval_s = poll_interval_s
        self.crash_guard = crash_guard if crash_guard is not None else CrashLoopGuard(clock=clock)
        self._spawn = spawn
        self._clock = clock
        self._sleep = sleep
        self._backoff = backoff
        self._owner = threading.get_ident()
        self._child: ChildProcess | None = None
        self._stop_requested = False
        self._last_exit: ExitInfo | None = None

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child is not None else None

    @property
    def running(self) -> bool:
        self.poll()
        return self._child is not None

    @property
    def healthy(self) -> bool:
        """False once a restart loop was seen: the worker should stop taking jobs."""
        return self.crash_guard.healthy

    @property
    def last_exit(self) -> ExitInfo | None:
        return self._last_exit

    def start(self) -> None:
        """Launch A1111 unless it runs; does not wait for it to be ready.

        Raises BackendUnavailable after a restart loop, ConfigurationError when the command cannot be
        executed or the log written, InternalError when called from a thread other than the owner's.
        """
        if self.running:
            return
        if not self.healthy:
            raise self._loop_error("not started")
        if threading.get_ident() != self._owner:
            raise InternalError(
                "A1111 must be started from the thread that owns its supervisor: the parent-death "
                "signal fires when the starting thread exits"
            )
        try:
            write_start_marker(self.log_path, self.cmd)
            self._child = self._spawn(self.cmd, self.env, self.log_path, self.cwd)
        except OSError as exc:
            raise ConfigurationError(f"cannot launch A1111 with {self.cmd[0]!r}: {exc}") from exc
        self._stop_requested = False
        self._last_exit = None
        log.info("started A1111 (pid %s), log %s", self._child.pid, self.log_path)

    def poll(self) -> ExitInfo | None:
        """Non-blocking. None while A1111 runs or before the first start; else how its last run ended.

        An end nobody asked for is logged and counted as a crash, once.
        """
        child = self._child
        if child is None:
            return self._last_exit
        if not child.exited():
            return None
        return self._finish(child)

    @property
    def restartable(self) -> bool:
        return True

    def raise_if_dead(self, wait_s: float = 0.0) -> None:
        """Raises BackendCrashed if A1111 ended unexpectedly, BackendUnavailable if it is not running.

        With `wait_s`, first waits that long for an exit that may be under way (its sockets close
        before it becomes a zombie), so a crash is not mistaken for a refused connection.
        """
        child = self._child
        if child is not None and wait_s > 0:
            child.wait_exited(wait_s)
        info = self.poll()
        if self._child is not None:
            return
        if info is None:
            raise BackendUnavailable("A1111 has not been started")
        if not info.unexpected:
            raise BackendUnavailable(f"A1111 is not running: {info.description}")
        raise info.as_error(f"; last log lines:\n{self.log_tail(10)}")

    def wait_ready(self, probe: Callable[[], bool], deadline_s: float | None = None) -> None:
        """Wait until `probe()` says A1111 answers with its checkpoint loaded.

        Raises BackendCrashed as soon as the process ends, BackendUnavailable (with the log's tail)
        after `deadline_s` (default: `startup_deadline_s`).
        """
        limit_s = self.startup_deadline_s if deadline_s is None else deadline_s
        wait_until_ready(
            probe,
            limit_s,
            clock=self._clock,
            sleep=self._sleep,
            poll_interval_s=self.poll_interval_s,
            check_alive=self.raise_if_dead,
            describe_failure=lambda: f"; last log lines:\n{self.log_tail()}",
        )

    def ensure_running(self) -> None:
        """Start A1111, or restart it if it has ended; raises what start() and restart() raise."""
        info = self.poll()
        if self._child is not None:
            return
        if info is None:
            self.start()
        else:
            self.restart(f"it {info.description}")

    def restart(self, reason: str) -> None:
        """Stop A1111 if it runs, pause after a crash (1, 2, 4 s …), start it again.

        Raises BackendUnavailable instead once the crash guard has tripped.
        """
        self.stop()
        if not self.healthy:
            raise self._loop_error(reason)
        delay_s = self._backoff(self.crash_guard.streak)
        log.warning("restarting A1111 in %g s: %s", delay_s, reason)
        if delay_s > 0:
            self._sleep(delay_s)
        self.start()

    def kill_hung(self, reason: str) -> None:
        """SIGKILL the group of an A1111 that stopped making progress, then start it again.

        Counts toward the crash guard (a GPU that hangs job after job is a restart loop too); once
        that has tripped, A1111 stays down and the next ensure_running() raises.
        """
        child = self._child
        if child is not None and not child.exited():
            log.error("A1111 (pid %s) is hung (%s): killing its process group", child.pid, reason)
            self._stop_requested = True
            child.signal_group(signal.SIGKILL)
            info = self._finish(child)
            self._last_exit = replace(info, description=f"was killed by sdfleet because it hung: {reason}")
            self.crash_guard.record_crash()
        else:
            self.poll()
        if not self.healthy:
            log.error("not restarting A1111: %s", self._loop_error(reason))
            return
        self.restart(reason)

    def stop(self, timeout_s: float | None = None) -> ExitInfo | None:
        """SIGTERM A1111's process group, SIGKILL whatever is left after `stop_timeout_s`, reap.

        Returns how it ended (None if it never ran). Raises BackendUnavailable only if the process
        survives SIGKILL for `reap_timeout_s`.
        """
        child = self._child
        if child is None:
            return self._last_exit
        if child.exited():
            return self._finish(child)
        self._stop_requested = True
        child.signal_group(signal.SIGTERM)
        grace_s = self.stop_timeout_s if timeout_s is None else timeout_s
        if not child.wait_exited(grace_s):
            log.warning(
                "A1111 (pid %s) ignored SIGTERM for %g s; killing its process group", child.pid, grace_s
            )
        return self._finish(child)

    def record_success(self) -> None:
        """Called when A1111 completed a job: the crash streak is over."""
        self.crash_guard.record_success()

    def log_tail(self, n_lines: int = 20) -> str:
        return log_tail(self.log_path, n_lines)

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _finish(self, child: ChildProcess) -> ExitInfo:
        # SIGKILL what the leader left behind while its unreaped zombie keeps the group id ours.
        child.signal_group(signal.SIGKILL)
        child.release()
        try:
            returncode = child.reap(self.reap_timeout_s)
        except subprocess.TimeoutExpired as exc:
            raise BackendUnavailable(
                f"A1111 (pid {child.pid}) did not die within {self.reap_timeout_s:g} s of SIGKILL; "
                "it is probably stuck in the GPU driver"
            ) from exc
        self._child = None
        info = classify_exit(returncode, stop_requested=self._stop_requested)
        self._last_exit = info
        if info.unexpected:
            self.crash_guard.record_crash()
            log.error("A1111 (pid %s) %s", child.pid, info.description)
        else:
            log.info("A1111 (pid %s) %s", child.pid, info.description)
        return info

    def _loop_error(self, reason: str) -> BackendUnavailable:
        last = f"; last exit: {self._last_exit.description}" if self._last_exit else ""
        return BackendUnavailable(
            f"restart loop: {self.crash_guard.describe()}; A1111 is not restarted ({reason}){last}. "
            "The worker is unhealthy until an operator resets it."
        )
