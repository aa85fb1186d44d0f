"""Keeping children alive: a child that exits is started again after a pause that grows with its streak
of exits (1, 2, 4 … s, capped), as the A1111 supervisor restarts A1111 (`worker/a1111/crashloop.py`).

Unlike A1111's guard, a streak never retires a child for good: a launcher or a local stack has no
operator at hand, so a child in a restart loop is retried at the capped pause and logged loudly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from worker.a1111.crashloop import CrashLoopGuard, restart_delay_s
from worker.stack.processes import Child, ProcessGroup

log = logging.getLogger(__name__)


@dataclass
class _Watch:
    guard: CrashLoopGuard
    due_at: float | None = None  # when the exited child is started again
    restarts: int = 0
    history: list[int] = field(default_factory=list)  # exit codes, newest last


class Keeper:
    """Restarts the children of `group` that exit, with backoff. Call `check()` periodically."""

    def __init__(
        self,
        group: ProcessGroup,
        *,
        clock: Callable[[], float] = time.monotonic,
        cap_s: float = 30.0,
        on_exit: Callable[[Child, int], None] = lambda child, code: None,
    ) -> None:
        self.group = group
        self._clock = clock
        self._cap_s = cap_s
        self._on_exit = on_exit
        self._watches: dict[str, _Watch] = {}

    def restarts(self, name: str) -> int:
        watch = self._watches.get(name)
        return watch.restarts if watch else 0

    def check(self) -> list[str]:
        """Notice exits and start again the children whose pause is over; returns the names restarted."""
        now = self._clock()
        started = []
        for child in list(self.group.children):
            watch = self._watches.setdefault(child.name, _Watch(CrashLoopGuard(5, 600.0, clock=self._clock)))
            if child.alive():
                continue
            code = child.process.returncode
            if watch.due_at is None:
                watch.guard.record_crash()
                watch.history.append(code)
                delay_s = restart_delay_s(watch.guard.streak, cap_s=self._cap_s)
                watch.due_at = now + delay_s
                log.error(
                    "%s exited with %s; starting it again in %g s (%s exits in its streak); log %s",
                    child.name, code, delay_s, watch.guard.streak, child.log_path,
                )  # fmt: skip
                self._on_exit(child, code)
            if now >= watch.due_at:
                self.group.restart(child)
                watch.due_at = None
                watch.restarts += 1
                started.append(child.name)
        return started
