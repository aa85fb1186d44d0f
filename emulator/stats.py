"""Counters for `GET /emulator/v1/stats`: what the emulator did since it started."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Counters:
    txt2img_requests: int = 0
    txt2img_succeeded: int = 0
    txt2img_failed: int = 0
    txt2img_interrupted: int = 0
    images_generated: int = 0
    sampling_steps: int = 0
    checkpoint_loads: int = 0
    checkpoint_load_seconds: float = 0.0  # simulated seconds, before the time scale
    checkpoint_loads_by_name: dict[str, int] = field(default_factory=dict)
    ooms: int = 0
    interrupts: int = 0
    skips: int = 0
    faults_fired: int = 0


class Stats:
    """Thread-safe counters; `bump` and `record_load` are the only writers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters = Counters()
        self.started_at = time.time()

    def bump(self, name: str, amount: int = 1) -> None:
        with self._lock:
            setattr(self._counters, name, getattr(self._counters, name) + amount)

    def record_load(self, checkpoint_name: str, simulated_s: float) -> None:
        with self._lock:
            c = self._counters
            c.checkpoint_loads += 1
            c.checkpoint_load_seconds += simulated_s
            c.checkpoint_loads_by_name[checkpoint_name] = (
                c.checkpoint_loads_by_name.get(checkpoint_name, 0) + 1
            )

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            data = asdict(self._counters)
        data["uptime_s"] = round(time.time() - self.started_at, 3)
        return data
