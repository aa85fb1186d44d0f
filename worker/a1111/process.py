"""One launched A1111 at the OS level: its own process group, tied to our life, signalled and reaped.

Three mechanisms keep an A1111 from outliving its worker, each covering what the one before cannot:

1. `stop()` signals the whole process group (`os.killpg`), so A1111's own children go with it.
2. The direct child gets `PR_SET_PDEATHSIG=SIGKILL`, so a SIGKILLed worker takes its A1111 along.
   The kernel sends it when the *thread* that forked the child exits, not the process: spawn only from
   a thread that lives as long as the worker (a Celery pool process's main thread).
3. The kernel gives that signal to the direct child only. A1111's children would be orphaned, so a
   sentinel (`/bin/sh`, in a session of its own) blocks reading a pipe whose only writer is this
   process; when this process dies, however it dies, the sentinel reads EOF and SIGKILLs the group.

The group leader is detected as exited without being reaped (`waitid(WNOWAIT)`, pidfd): while its
zombie exists its pid cannot be reused, so signalling its group afterwards cannot hit a stranger.

Limits: a descendant that calls `setsid()` leaves the group and is beyond all three. The prctl runs in
a `preexec_fn`, which CPython warns can deadlock in a process with threads; ours only calls a function
pointer resolved before the fork, and takes no lock of ours.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import select
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache, partial
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_SENTINEL_SCRIPT = 'read -r _ignored; kill -s KILL -- "-$1" 2>/dev/null'


class ChildProcess(Protocol):
    """What the supervisor needs from one launched process and its group."""

    @property
    def pid(self) -> int: ...

    def exited(self) -> bool:
        """True once the group leader has exited; it stays unreaped until `reap`."""
        ...

    def wait_exited(self, timeout_s: float) -> bool:
        """Block until the leader has exited or `timeout_s` has passed; returns `exited()`."""
        ...

    def signal_group(self, sig: int) -> None:
        """Send `sig` to the whole group; a group that is already gone is not an error."""
        ...

    def reap(self, timeout_s: float) -> int:
        """Wait for the leader and return its `Popen.returncode`; raises subprocess.TimeoutExpired."""
        ...

    def release(self) -> None:
        """Stops the sentinel; called after the group's final SIGKILL and before the leader is reaped,
        so the sentinel never outlives the zombie that keeps the group id ours."""
        ...


Spawn = Callable[[Sequence[str], Mapping[str, str], Path, Path | None], ChildProcess]


@lru_cache(maxsize=1)
def _prctl() -> Callable[..., int] | None:
    # Resolved in the parent: looking a symbol up between fork and exec could take the loader's lock.
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
        return prctl
    except (OSError, AttributeError):
        return None


def _die_with_parent(parent_pid: int, prctl: Callable[..., int] | None) -> None:
    """Runs in the child between fork and exec."""
    if prctl is not None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before prctl: the signal will never come
        os.kill(os.getpid(), signal.SIGKILL)


class GroupProcess:
    """A `Popen` that leads its own process group, with an optional sentinel watching over the group."""

    def __init__(self, popen: subprocess.Popen[bytes], sentinel: subprocess.Popen[bytes] | None) -> None:
        self._popen = popen
        self._sentinel = sentinel

    @property
    def pid(self) -> int:
        return self._popen.pid

    def exited(self) -> bool:
        if self._popen.returncode is not None:
            return True
        try:
            return os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:  # somebody else reaped it; Popen.wait will report code 0
            return True

    def wait_exited(self, timeout_s: float) -> bool:
        if self.exited():
            return True
        try:
            pidfd = os.pidfd_open(self.pid)  # readable once the process has exited; does not reap it
        except ProcessLookupError:
            return self.exited()
        except OSError:  # no pidfd before Linux 5.3: poll instead
            deadline = time.monotonic() + timeout_s
            while not self.exited() and time.monotonic() < deadline:
                time.sleep(0.05)
            return self.exited()
        try:
            poller = select.poll()
            poller.register(pidfd, select.POLLIN)
            poller.poll(max(0, int(timeout_s * 1000)))
        finally:
            os.close(pidfd)
        return self.exited()

    def signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            pass
        except PermissionError:
            log.warning("not allowed to send %s to process group %s", signal.Signals(sig).name, self.pid)

    def reap(self, timeout_s: float) -> int:
        return self._popen.wait(timeout_s)

    def release(self) -> None:
        sentinel, self._sentinel = self._sentinel, None
        if sentinel is not None:
            # SIGKILL the sentinel itself: closing its pipe first would make it signal the group.
            with contextlib.suppress(ProcessLookupError):
                sentinel.kill()
            sentinel.wait()
            if sentinel.stdin is not None:
                sentinel.stdin.close()


def spawn_group(
    cmd: Sequence[str],
    env: Mapping[str, str],
    log_path: Path,
    cwd: Path | None = None,
    *,
    sentinel: bool = True,
) -> GroupProcess:
    """Start `cmd` as the leader of a new session and process group, output appended to `log_path`.

    Raises OSError (FileNotFoundError, PermissionError) when `cmd` cannot be executed.
    """
    with open(log_path, "ab") as out:
        popen = subprocess.Popen(
            list(cmd),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=partial(_die_with_parent, os.getpid(), _prctl()),
        )
    if not sentinel:
        return GroupProcess(popen, None)
    try:
        watcher = subprocess.Popen(
            ["/bin/sh", "-c", _SENTINEL_SCRIPT, "sdfleet-a1111-sentinel", str(popen.pid)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError:
        log.warning("no sentinel for A1111 pid %s: its children may outlive a killed worker", popen.pid)
        return GroupProcess(popen, None)
    return GroupProcess(popen, watcher)
