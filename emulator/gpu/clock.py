"""Simulated durations: every sleep of the emulator goes through here, scaled by the time-scale factor."""

from __future__ import annotations

import time


class SimClock:
    """`sleep(simulated_s)` sleeps `simulated_s * scale` real seconds (0 scale: no sleeping at all)."""

    def __init__(self, scale: float) -> None:
        self.scale = scale

    def sleep(self, simulated_s: float) -> None:
        real = simulated_s * self.scale
        if real > 0:
            time.sleep(real)
