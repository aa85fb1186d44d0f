"""Why an A1111 process ended, told from its exit status and whether we asked it to stop."""

from __future__ import annotations

import signal
from dataclasses import dataclass
from enum import StrEnum

from worker.errors import BackendCrashed

# A shell launcher (`bash webui.sh`) reports a child killed by signal N as exit code 128 + N.
_SHELL_SIGNAL_BASE = 128


class ExitKind(StrEnum):
    """How the process ended, from the operator's point of view."""

    STOPPED = "stopped"  # we asked it to stop (stop(), restart(), kill_hung()); not a failure
    CRASHED = "crashed"  # exited with a non-zero code: a Python traceback is in the log
    KILLED_OOM_SUSPECTED = "killed_oom_suspected"  # SIGKILL nobody here sent: probably the OOM killer
    KILLED_BY_SIGNAL = "killed_by_signal"  # any other signal: SIGSEGV in a CUDA library, SIGTERM from outside
    EXITED_CLEAN_UNEXPECTEDLY = "exited_clean_unexpectedly"  # code 0 though nobody asked it to stop


@dataclass(frozen=True)
class ExitInfo:
    kind: ExitKind
    exit_code: int | None  # the process's exit code, None when a signal ended it
    signal: int | None  # the signal that ended it (or its shell launcher's child), else None
    description: str  # one sentence for the log and the job's failure message

    @property
    def unexpected(self) -> bool:
        return self.kind is not ExitKind.STOPPED

    def as_error(self, context: str = "") -> BackendCrashed:
        """The exception a job sees when this exit took its A1111 away."""
        return BackendCrashed(
            f"A1111 {self.description}{context}", exit_code=self.exit_code, signal=self.signal
        )


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def classify_exit(returncode: int, *, stop_requested: bool) -> ExitInfo:
    """Classify a `Popen.returncode` (negative: killed by that signal)."""
    signum: int | None = -returncode if returncode < 0 else None
    code: int | None = returncode if returncode >= 0 else None
    via_shell = ""
    if code is not None and _SHELL_SIGNAL_BASE < code <= _SHELL_SIGNAL_BASE + 64:
        signum = code - _SHELL_SIGNAL_BASE
        via_shell = f" (exit code {code}, as a shell reports it)"
    if stop_requested:
        how = f"killed with {signal_name(signum)}" if signum is not None else f"exit code {code}"
        return ExitInfo(ExitKind.STOPPED, code, signum, f"stopped as asked ({how})")
    if signum == signal.SIGKILL:
        return ExitInfo(
            ExitKind.KILLED_OOM_SUSPECTED,
            code,
            signum,
            f"was killed by SIGKILL{via_shell} that sdfleet did not send: probably the kernel OOM killer "
            "(host RAM, not VRAM); check `dmesg` or `journalctl -k` for 'Out of memory'",
        )
    if signum is not None:
        return ExitInfo(
            ExitKind.KILLED_BY_SIGNAL, code, signum, f"was killed by {signal_name(signum)}{via_shell}"
        )
    if code == 0:
        return ExitInfo(
            ExitKind.EXITED_CLEAN_UNEXPECTEDLY, 0, None, "exited with code 0 although nobody asked it to stop"
        )
    return ExitInfo(ExitKind.CRASHED, code, None, f"exited with code {code}; its log has the traceback")
