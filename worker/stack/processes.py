"""Child processes of a local stack: each in its own process group, logged to a file, stopped in order.

Each child also gets PR_SET_PDEATHSIG=SIGTERM, so a SIGKILLed `sdfleet up` does not leave them behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class ProcessGroup:
    """The children of one stack, stopped in reverse start order."""

    log_dir: Path
    children: list[Child] = field(default_factory=list)

    def start(self, name: str, args: Sequence[str], env: Mapping[str, str], cwd: Path | None = None) -> Child:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        with open(log_path, "ab") as out:
            out.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(args)}\n".encode())
            out.flush()
            process = subprocess.Popen(
                list(args),
                env=dict(env),
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        child = Child(name, process, log_path, tuple(args), dict(env), cwd)
        self.children.append(child)
        log.info("started %s (pid %s), log %s", name, process.pid, log_path)
        return child

    def restart(self, child: Child) -> Child:
        """Start `child`'s command again in its place (what is left of its old group is killed first)."""
        _signal_group(child.process, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.process.wait(5)
        position = self.children.index(child)
        self.children.remove(child)
        new = self.start(child.name, child.args, child.env, child.cwd)
        self.children.remove(new)
        self.children.insert(position, new)
        return new

    def get(self, name: str) -> Child | None:
        return next((c for c in self.children if c.name == name), None)

    def dead(self) -> list[Child]:
        return [c for c in self.children if not c.alive()]

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM every child's group (newest first), then SIGKILL what is left after `timeout_s`."""
        for child in reversed(self.children):
            _signal_group(child.process, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for child in reversed(self.children):
            try:
                child.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop within %s s; killing it", child.name, timeout_s)
            _signal_group(child.process, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(5)
        self.children.clear()


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)
