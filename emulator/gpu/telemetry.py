"""What the card's sensors would report, modelled from the simulated load (docs/emulator.md, "Telemetry").

The GPU is *busy* while kernels run (text encoding, sampling, VAE decode; not checkpoint loads or cache
emptying), and idle otherwise. From that one signal, on the simulated time line:

- utilisation is the busy share of the last `window_s` (NVML's "percent of time over the past sample
  period during which one or more kernels was executing"; the period is 1/6 s to 1 s by product);
- power is idle or load power, averaged over the same window (NVML's reading on Ampere and later is a
  1 s average); energy is its integral since start;
- temperature follows a first-order model, dT/dt = (T_target - T) / tau, with T_target the idle or
  the load temperature, integrated exactly between changes of state.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from emulator.gpu.clock import Clock


@dataclass(frozen=True)
class Thermals:
    """The reference card's figures (RTX 4080 Founders Edition; sources in docs/emulator.md)."""

    idle_c: float = 35.0  # idle with the fans stopped: 32.5 °C on an open bench (hardwareluxx)
    load_c: float = 64.0  # sustained load: 64 °C (thefpsreview), 63.7 °C (hardwareluxx)
    tau_s: float = 60.0  # thermal time constant of the card and its cooler: a choice
    idle_w: float = 13.0  # idle board power
    load_w: float = 300.0  # sustained board power: 309 W (thefpsreview), ~296 W (HWiNFO trace)
    window_s: float = 1.0  # NVML's utilisation and power averaging period


@dataclass(frozen=True)
class Reading:
    """One sample, in the units and types DCGM reports."""

    utilization_pct: int
    temperature_c: int
    power_w: float
    energy_mj: int


class Telemetry:
    """Thread-safe; the generation thread marks busy spans, any thread reads."""

    def __init__(self, clock: Clock, thermals: Thermals | None = None) -> None:
        self.clock = clock
        self.thermals = thermals or Thermals()
        self._lock = threading.Lock()
        self._depth = 0
        self._busy_since: float | None = None
        self._spans: deque[tuple[float, float]] = deque()  # closed busy spans still inside the window
        self._t = clock.now()
        self._temperature_c = self.thermals.idle_c
        self._energy_j = 0.0

    @contextmanager
    def busy(self) -> Iterator[None]:
        """The GPU runs kernels for the duration of the block (nested blocks count once)."""
        with self._lock:
            self._depth += 1
            if self._depth == 1:
                now = self._advance()
                self._busy_since = now
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0:
                    now = self._advance()
                    assert self._busy_since is not None
                    self._spans.append((self._busy_since, now))
                    self._busy_since = None

    def reading(self) -> Reading:
        """The sensors now."""
        with self._lock:
            now = self._advance()
            t = self.thermals
            start = now - t.window_s
            while self._spans and self._spans[0][1] <= start:
                self._spans.popleft()
            spans = [*self._spans, *([(self._busy_since, now)] if self._busy_since is not None else [])]
            busy_s = sum(max(0.0, min(end, now) - max(begin, start)) for begin, end in spans)
            share = min(1.0, busy_s / t.window_s)
            return Reading(
                utilization_pct=round(100 * share),
                temperature_c=round(self._temperature_c),
                power_w=t.idle_w + (t.load_w - t.idle_w) * share,
                energy_mj=int(self._energy_j * 1000),
            )

    def _advance(self) -> float:
        """Integrate temperature and energy up to now in the current state; returns now."""
        now = max(self.clock.now(), self._t)
        elapsed = now - self._t
        if elapsed > 0:
            t = self.thermals
            busy = self._busy_since is not None
            target = t.load_c if busy else t.idle_c
            self._temperature_c = target + (self._temperature_c - target) * math.exp(-elapsed / t.tau_s)
            self._energy_j += (t.load_w if busy else t.idle_w) * elapsed
            self._t = now
        return now
