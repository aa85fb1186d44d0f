from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from worker.a1111.exits import ExitKind, classify_exit
from worker.errors import BackendCrashed

K = ExitKind


@pytest.mark.parametrize(
    ("returncode", "stop_requested", "kind", "exit_code", "signum", "words"),
    [
        (0, True, K.STOPPED, 0, None, "stopped as asked (exit code 0)"),
        (-15, True, K.STOPPED, None, 15, "stopped as asked (killed with SIGTERM)"),
        (-9, True, K.STOPPED, None, 9, "stopped as asked (killed with SIGKILL)"),
        (1, True, K.STOPPED, 1, None, "stopped as asked (exit code 1)"),
        (0, False, K.EXITED_CLEAN_UNEXPECTEDLY, 0, None, "code 0 although nobody asked"),
        (1, False, K.CRASHED, 1, None, "exited with code 1"),
        (3, False, K.CRASHED, 3, None, "exited with code 3"),
        (128, False, K.CRASHED, 128, None, "exited with code 128"),
        (-9, False, K.KILLED_OOM_SUSPECTED, None, 9, "probably the kernel OOM killer"),
        (137, False, K.KILLED_OOM_SUSPECTED, 137, 9, "exit code 137, as a shell reports it"),
        (-11, False, K.KILLED_BY_SIGNAL, None, 11, "was killed by SIGSEGV"),
        (-6, False, K.KILLED_BY_SIGNAL, None, 6, "was killed by SIGABRT"),
        (-15, False, K.KILLED_BY_SIGNAL, None, 15, "was killed by SIGTERM"),
        (143, False, K.KILLED_BY_SIGNAL, 143, 15, "SIGTERM (exit code 143"),
        (-70, False, K.KILLED_BY_SIGNAL, None, 70, "was killed by signal 70"),
        (255, False, K.CRASHED, 255, None, "exited with code 255"),
    ],
)
def test_classify_exit(
    returncode: int,
    stop_requested: bool,
    kind: ExitKind,
    exit_code: int | None,
    signum: int | None,
    words: str,
) -> None:
    info = classify_exit(returncode, stop_requested=stop_requested)

    assert (info.kind, info.exit_code, info.signal) == (kind, exit_code, signum)
    assert words in info.description
    assert info.unexpected is (kind is not K.STOPPED)


def test_the_error_a_job_sees_carries_code_and_signal() -> None:
    error = classify_exit(-9, stop_requested=False).as_error("; last log lines:\nKilled")

    assert isinstance(error, BackendCrashed)
    assert (error.exit_code, error.signal) == (None, signal.SIGKILL)
    assert str(error).startswith("A1111 was killed by SIGKILL") and str(error).endswith("Killed")


@pytest.mark.parametrize(
    ("code", "kind"), [("raise SystemExit(3)", K.CRASHED), ("import os; os.abort()", None)]
)
def test_raw_wait_statuses_of_real_children(code: str, kind: ExitKind | None) -> None:
    with subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.DEVNULL) as child:
        _, status, _ = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here; tell Popen so

    info = classify_exit(os.waitstatus_to_exitcode(status), stop_requested=False)

    if kind is None:
        assert (info.kind, info.signal) == (K.KILLED_BY_SIGNAL, signal.SIGABRT)
    else:
        assert (info.kind, info.exit_code) == (kind, 3)
