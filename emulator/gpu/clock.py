"""Simulated time: every sleep of the emulator goes through a clock, scaled by the time-scale factor.

Simulated seconds are the card's seconds (a 20-step job takes 0.8 of them whatever the scale); a clock
also says what simulated time it is now, which is what the telemetry model integrates over.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """What the emulator needs from time; tests pass a fake one."""

    def now(self) -> float:
        """Simulated seconds since the clock started."""
        ...

    def sleep(self, simulated_s: float) -> None:
        """Let `simulated_s` simulated seconds pass."""
        ...

    def slept_s(self) -> float:
        """Simulated seconds slept so far, the sum of every `sleep` argument (exact, unlike `now`)."""
        ...


class SimClock:
    """`sleep(s)` sleeps `s * scale` real seconds and `now()` is real time divided by the scale.

    With scale 0 nothing sleeps; simulated time is then real time plus everything slept, so work still
    takes its simulated length on the simulated time line. Thread-safe.
    """

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self._started = time.monotonic()
        self._lock = threading.Lock()
        self._slept_s = 0.0

    def now(self) -> float:
        elapsed = time.monotonic() - self._started
        if self.scale > 0:
            return elapsed / self.scale
        with self._lock:
            return elapsed + self._slept_s

    def sleep(self, simulated_s: float) -> None:
        if simulated_s <= 0:
            return
        with self._lock:
            self._slept_s += simulated_s
        real = simulated_s * self.scale
        if real > 0:
            time.sleep(real)

    def slept_s(self) -> float:
        with self._lock:
            return self._slept_s
