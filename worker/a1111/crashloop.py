"""When to stop restarting A1111: a streak of crashes makes the worker unhealthy instead of burning jobs."""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum


class GuardState(StrEnum):
    HEALTHY = "healthy"  # restarts are allowed
    UNHEALTHY = "unhealthy"  # a restart loop was seen; stays so until reset() (an operator's decision)


class CrashLoopGuard:
    """Counts crashes since the last success; `max_crashes` of them within `window_s` trip it for good.

    A crash older than `window_s` no longer counts, so three crashes a day apart are not a loop.
    """

    def __init__(
        self, max_crashes: int = 3, window_s: float = 600.0, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_crashes = max_crashes
        self.window_s = window_s
        self._clock = clock
        self._crashes: list[float] = []
        self._tripped = False

    @property
    def state(self) -> GuardState:
        return GuardState.UNHEALTHY if self._tripped else GuardState.HEALTHY

    @property
    def healthy(self) -> bool:
        return not self._tripped

    @property
    def streak(self) -> int:
        """Crashes in the current streak that still count."""
        self._forget_old()
        return len(self._crashes)

    def record_crash(self) -> GuardState:
        self._crashes.append(self._clock())
        if self.streak >= self.max_crashes:
            self._tripped = True
        return self.state

    def record_success(self) -> None:
        """Called when A1111 did real work (a job finished); ends the streak but does not untrip."""
        self._crashes.clear()

    def describe(self) -> str:
        return f"{self.max_crashes} crashes in a row within {self.window_s:g} s"

    def _forget_old(self) -> None:
        now = self._clock()
        self._crashes = [t for t in self._crashes if now - t <= self.window_s]


def restart_delay_s(streak: int, *, base_s: float = 1.0, cap_s: float = 4.0) -> float:
    """Pause before restarting after the `streak`-th crash in a row: 0 (no crash), 1, 2, 4, 4, … s."""
    if streak <= 0:
        return 0.0
    return min(cap_s, base_s * 2.0 ** (streak - 1))
