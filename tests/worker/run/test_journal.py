"""An attempt's journal: its timeline, timed from the claim, and its progress samples, throttled."""

from __future__ import annotations

import uuid

from worker.a1111.client import Progress
from worker.run.journal import AttemptJournal
from worker.vocabulary import EventKind


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _progress(step: int, steps: int = 20, *, job_count: int = 1, job_no: int = 0) -> Progress:
    return Progress(step / steps, job_count, job_no, step, steps, False, eta_relative=(steps - step) * 0.1)


def test_the_timeline_is_timed_from_the_claim() -> None:
    clock = Clock()
    journal = AttemptJournal(uuid.uuid4(), 1, None, clock=clock)
    journal.record(EventKind.STARTED, worker="gpu0")
    clock.now += 1.25
    journal.record("stored", images=2)

    assert journal.timeline == [
        {"t": 0.0, "event": "started", "worker": "gpu0"},
        {"t": 1.25, "event": "stored", "images": 2},
    ]


def test_progress_is_sampled_at_most_once_a_second_plus_the_last_step() -> None:
    clock = Clock()
    journal = AttemptJournal(uuid.uuid4(), 1, None, clock=clock, progress_every_s=1.0)
    journal.progress(_progress(0, job_count=0), images_done=0, images=2)  # idle: A1111 not on our job yet
    for step in range(1, 21):  # 20 steps, 0.2 s apart
        clock.now += 0.2
        journal.progress(_progress(step), images_done=0, images=2)
        journal.progress(_progress(step), images_done=0, images=2)  # the same sample twice

    steps = [entry["step"] for entry in journal.timeline]
    assert steps == [1, 6, 11, 16, 20]
    assert journal.timeline[-1] == {
        "t": 4.0, "event": "progress", "step": 20, "steps": 20, "fraction": 1.0, "eta_s": 0.0,
        "images_done": 0, "images": 2,
    }  # fmt: skip
