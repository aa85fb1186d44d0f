"""Hang detection: a generation whose progress has not advanced for too long is stalled.

Fed with whatever marks progress (for A1111's `/progress`: `(job_count, job_no, sampling_step)`); any
change counts as an advance. The caller decides what a stall leads to (interrupt, then kill).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from enum import StrEnum


class WatchState(StrEnum):
    OK = "ok"  # progress advanced within the allowed time
    STALLED = "stalled"  # no advance for longer than allowed: interrupt, then kill and restart


_NOTHING_YET = object()


class ProgressWatchdog:
    """Starts counting at construction, as if a first observation had just been made."""

    def __init__(self, stall_after_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.stall_after_s = stall_after_s
        self._clock = clock
        self._last_mark: Hashable = _NOTHING_YET
        self._last_advance = clock()
        self._allowed_s = stall_after_s

    @property
    def stalled_for_s(self) -> float:
        return self._clock() - self._last_advance

    @property
    def allowed_s(self) -> float:
        """How long the current mark may last before it counts as a stall."""
        return self._allowed_s

    @property
    def last_mark(self) -> Hashable:
        return None if self._last_mark is _NOTHING_YET else self._last_mark

    def observe(self, mark: Hashable, *, allowed_s: float | None = None) -> WatchState:
        """Record one observation; `allowed_s` replaces `stall_after_s` while this mark lasts.

        A slow phase without steps (a checkpoint switch shows `job_count == -1` for minutes) is given
        its own allowance this way instead of a longer limit for every step.
        """
        if mark != self._last_mark:
            self._last_mark = mark
            self._last_advance = self._clock()
            self._allowed_s = self.stall_after_s if allowed_s is None else allowed_s
        elif allowed_s is not None:
            self._allowed_s = allowed_s
        return self.check()

    def check(self) -> WatchState:
        """The state now, without a new observation (e.g. when `/progress` did not answer)."""
        return WatchState.STALLED if self.stalled_for_s > self._allowed_s else WatchState.OK
