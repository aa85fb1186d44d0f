"""One attempt's journal: every step it takes, timed from its claim, kept as the attempt's timeline and
sent to the job's event stream as it happens.

The timeline is stored with the attempt (its `timings["timeline"]`), so one job can be debugged after
the fact; the stream feeds live progress and wakes waiting callers. Sampling progress is sampled: at
most one progress entry every `progress_every_s`, plus the last step.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from worker.a1111.client import Progress
from worker.events.stream import JobEvents
from worker.vocabulary import EventKind, FailureCategory

PROGRESS_EVERY_S = 1.0


class AttemptJournal:
    """Records the steps of attempt `attempt` of job `job_id`; `events` None: the timeline only."""

    def __init__(
        self,
        job_id: uuid.UUID,
        attempt: int,
        events: JobEvents | None,
        *,
        progress_every_s: float = PROGRESS_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.job_id = job_id
        self.attempt = attempt
        self._events = events
        self._progress_every_s = progress_every_s
        self._clock = clock
        self._started = clock()
        self._last_progress = float("-inf")
        self._last_mark: tuple[int, int] | None = None
        self.timeline: list[dict[str, Any]] = []

    def record(self, kind: EventKind | str, **data: Any) -> None:
        """One step: kept in the timeline; sent to the job's stream when it is an `EventKind`."""
        self.timeline.append({"t": round(self._clock() - self._started, 3), "event": str(kind), **data})
        if isinstance(kind, EventKind) and self._events is not None:
            self._events.emit(self.job_id, kind, attempt=self.attempt, **data)

    def announce(self, kind: EventKind, **data: Any) -> None:
        """Send an outcome to the job's stream (after its row is committed); not part of the timeline."""
        if self._events is not None:
            self._events.emit(self.job_id, kind, attempt=self.attempt, **data)

    def announce_failure(self, category: FailureCategory, message: str) -> None:
        """The job ended without images: cancelled by its caller, or failed for good."""
        kind = EventKind.CANCELLED if category is FailureCategory.CANCELLED else EventKind.FAILED
        self.announce(kind, category=category.value, message=message)

    def progress(self, progress: Progress, *, images_done: int, images: int) -> None:
        """A sample of A1111's progress during a sub-batch of this attempt (throttled)."""
        if progress.job_count <= 0 or progress.sampling_steps <= 0:
            return  # A1111 is idle or loading: nothing of ours to report yet
        mark = (progress.job_no, progress.sampling_step)
        now = self._clock()
        last_step = progress.sampling_step >= progress.sampling_steps
        if mark == self._last_mark or (now - self._last_progress < self._progress_every_s and not last_step):
            return
        self._last_mark, self._last_progress = mark, now
        self.record(
            EventKind.PROGRESS,
            step=progress.sampling_step,
            steps=progress.sampling_steps,
            fraction=round(progress.progress, 4),
            eta_s=round(progress.eta_relative, 2),
            images_done=images_done,
            images=images,
        )
