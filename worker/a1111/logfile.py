"""The A1111 log file: appended to across restarts, one marker line per start, read back from its end."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

_TAIL_BYTES = 64 * 1024


def write_start_marker(path: Path, cmd: Sequence[str]) -> None:
    """Append the line that separates one run from the previous one; creates the folder if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S%z")
    with open(path, "ab") as out:
        out.write(f"\n=== sdfleet {stamp} starting A1111: {' '.join(cmd)}\n".encode())


def log_tail(path: Path, n_lines: int = 20) -> str:
    """The last `n_lines` lines of the log (from at most its last 64 KiB); "" if there is no log."""
    try:
        with open(path, "rb") as log:
            size = log.seek(0, os.SEEK_END)
            log.seek(max(0, size - _TAIL_BYTES))
            data = log.read()
    except OSError:
        return ""
    lines = data.decode(errors="replace").splitlines()
    if size > _TAIL_BYTES:
        lines = lines[1:]  # the first line read is probably cut
    return "\n".join(lines[-n_lines:]) if n_lines > 0 else ""
