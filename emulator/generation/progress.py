"""A1111's global `shared.state`: what `/progress` reports and what interrupt and skip set.

It describes the one running job, whoever started it; `end()` resets only `job` and `job_count`, so
the other fields (interrupted and skipped included) stay stale until the next `begin()` (§10).
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any


class SharedState:
    """Thread-safe; every method takes the one lock briefly."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.skipped = False
        self.interrupted = False
        self.stopping_generation = False
        self.job = ""
        self.job_count = 0
        self.job_timestamp = "0"
        self.job_no = 0
        self.sampling_step = 0
        self.sampling_steps = 0
        self.time_start = 0.0
        self.current_image: bytes | None = None
        self.current_image_sampling_step = 0
        # (checkpoint, prompt, seed, width, height) of the batch's first image, for live previews
        self.preview_source: tuple[str, str, int, int, int] | None = None

    def begin(self, job: str) -> str:
        """Called when a job takes the queue lock; returns its job_timestamp."""
        with self._lock:
            self.sampling_step = 0
            self.time_start = time.time()
            self.job_count = -1
            self.job_no = 0
            self.job_timestamp = datetime.now().strftime("%Y%m%d%H%M%S")
            self.current_image = None
            self.current_image_sampling_step = 0
            self.preview_source = None
            self.skipped = False
            self.interrupted = False
            self.stopping_generation = False
            self.job = job
            return self.job_timestamp

    def end(self) -> None:
        with self._lock:
            self.job = ""
            self.job_count = 0

    def set_job(self, job: str | None = None, job_count: int | None = None) -> None:
        with self._lock:
            if job is not None:
                self.job = job
            if job_count is not None:
                self.job_count = job_count

    def start_sampling(self, steps: int) -> None:
        with self._lock:
            self.sampling_steps = steps
            self.sampling_step = 0

    def step(self, index: int) -> None:
        """The sampler callback: `index` is the 0-based step just taken."""
        with self._lock:
            self.sampling_step = index

    def next_job(self) -> None:
        with self._lock:
            self.job_no += 1
            self.sampling_step = 0
            self.current_image_sampling_step = 0

    def interrupt(self) -> None:
        with self._lock:
            self.interrupted = True

    def skip(self) -> None:
        with self._lock:
            self.skipped = True

    def clear_skip(self) -> None:
        with self._lock:
            self.skipped = False

    def flags(self) -> tuple[bool, bool]:
        """(interrupted, skipped)"""
        with self._lock:
            return self.interrupted, self.skipped

    def snapshot(self) -> dict[str, Any]:
        """`state` of `/progress`, in A1111's key order."""
        with self._lock:
            return self._snapshot()

    def _snapshot(self) -> dict[str, Any]:
        return {
            "skipped": self.skipped,
            "interrupted": self.interrupted,
            "stopping_generation": self.stopping_generation,
            "job": self.job,
            "job_count": self.job_count,
            "job_timestamp": self.job_timestamp,
            "job_no": self.job_no,
            "sampling_step": self.sampling_step,
            "sampling_steps": self.sampling_steps,
        }

    def report(self) -> tuple[float, float, dict[str, Any]]:
        """(progress, eta_relative, state) read together, by A1111's formula; (0, 0, state) when idle."""
        with self._lock:
            snapshot = self._snapshot()
            if self.job_count == 0:
                return 0.0, 0.0, snapshot
            value = 0.01
            if self.job_count > 0:
                value += self.job_no / self.job_count
            if self.sampling_steps > 0:
                value += 1 / self.job_count * self.sampling_step / self.sampling_steps
            elapsed = time.time() - self.time_start
            eta_relative = elapsed / value - elapsed if value else 0.0
            return min(value, 1.0), eta_relative, snapshot

    def take_preview_slot(self, every_n_steps: int) -> bool:
        """True when a new live preview is due (every `every_n_steps` sampling steps)."""
        with self._lock:
            if every_n_steps <= 0 or self.job_count == 0:
                return False
            if self.sampling_step - self.current_image_sampling_step < every_n_steps:
                return False
            self.current_image_sampling_step = self.sampling_step
            return True
