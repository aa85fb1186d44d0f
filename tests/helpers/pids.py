"""Processes seen from outside, through /proc: what a test finds of an A1111 a worker launched."""

from __future__ import annotations

import os
from pathlib import Path


def live_cmdline(pid: int) -> list[str] | None:
    """The argv of a live process, or None once it has exited (a zombie counts as exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    if stat.rsplit(")", 1)[1].split()[0] in ("Z", "X"):  # a zombie is dead; PID 1 here never reaps
        return None
    return raw.decode(errors="replace").split("\0")


def _live() -> list[tuple[int, list[str]]]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            argv = live_cmdline(int(entry))
            if argv:
                found.append((int(entry), argv))
    return found


def _listens_on(argv: list[str], port: int) -> bool:
    index = argv.index("--port") if "--port" in argv else -1
    return 0 <= index < len(argv) - 1 and argv[index + 1] == str(port)


def emulator_pids(port: int) -> list[int]:
    """Live processes whose command line is a stand-in A1111 listening on `port`."""
    return [pid for pid, argv in _live() if "emulator" in argv and _listens_on(argv, port)]


def a1111_pids(port: int) -> list[int]:
    """Live A1111s (real, or the stand-in) started with `--api ... --port <port>`."""
    return [pid for pid, argv in _live() if "--api" in argv and _listens_on(argv, port)]


def a1111_auth(pid: int) -> tuple[str, str] | None:
    """The `--api-auth user:password` an A1111 was started with (as anyone on this host running as its
    user could read it), or None."""
    argv = live_cmdline(pid) or []
    if "--api-auth" not in argv[:-1]:
        return None
    user, _, password = argv[argv.index("--api-auth") + 1].partition(":")
    return user, password


def live_processes(*parts: str) -> list[int]:
    """Live processes whose command line contains every one of `parts`."""
    return [pid for pid, argv in _live() if all(any(part in arg for arg in argv) for part in parts)]
