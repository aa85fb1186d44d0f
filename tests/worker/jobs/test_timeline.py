"""The generation log as `sdfleet jobs show --timeline` prints it: each kind of step in words, entries
of an unknown or older shape shown as their fields, and each attempt headed by when it was claimed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from worker.jobs.documents import JobDocument
from worker.jobs.timeline import Step, describe, timeline

# (entry, its details)
ENTRIES: list[tuple[dict[str, Any], str]] = [
    ({"event": "started", "worker": "gpu0@h", "gpu": "gpu0"}, "claimed by gpu0@h (GPU gpu0)"),
    ({"event": "checkpoint", "previous": "a.safetensors", "title": "b.safetensors", "seconds": 2.5},
     "switched from a.safetensors to b.safetensors in 2.500 s"),
    ({"event": "loras", "loras": [{"name": "detail_tweaker_xl", "weight": 0.8}], "first_call_s": 4.123},
     "detail_tweaker_xl:0.8; the first call (which loads them) took 4.12 s"),
    ({"event": "progress", "step": 5, "steps": 20, "fraction": 0.25, "eta_s": 3.14, "images_done": 0,
      "images": 2}, "step 5/20 (25%), images 0/2, about 3.1 s left"),
    ({"event": "oom", "batch_size": 8, "next_batch_size": 4}, "CUDA out of memory at batch 8; next batch 4"),
    ({"event": "cleanup", "step": "reload"}, "emergency cleanup before one more try at batch 1: reload"),
    ({"event": "generated", "batch_size": 2, "first_index": 0, "seconds": 1.5},
     "batch of 2 from image 0 in 1.500 s"),
    ({"event": "scored", "scores": [0.93, 0.41], "low_quality": [1], "seconds": 0.004},
     "quality 0.93, 0.41; below the floor: image 1 in 0.004 s"),
    ({"event": "encoded", "images": 2, "output_format": "webp", "seconds": 0.02},
     "2 image(s) as webp in 0.020 s"),
    ({"event": "stored", "images": 2, "first_index": 0}, "2 image(s) from index 0 written"),
    ({"event": "something_new", "a": 1, "b": "x"}, "a=1, b=x"),
    ({"event": "generated", "batch_size": 2}, "batch_size=2"),  # an older shape: shown as it is
]  # fmt: skip


@pytest.mark.parametrize(("entry", "details"), ENTRIES)
def test_describe(entry: dict[str, Any], details: str) -> None:
    assert describe({"t": 1.0, **entry}) == details


def test_each_attempt_is_headed_by_its_claim_and_outcome() -> None:
    queued = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    job = JobDocument.model_validate({
        "id": "j", "status": "succeeded", "checkpoint": "c", "params": {}, "seed": 1, "batch_size": 1,
        "attempts": 2, "max_attempts": 4, "created_at": queued,
        "attempt_history": [
            {"number": 1, "worker": "gpu0", "outcome": "retried", "category": "low_quality",
             "message": "image 0 scored 0.31", "batch_size": 1, "started_at": datetime(2026, 1, 1, 12, 0, 2,
                                                                                       tzinfo=UTC),
             "timings": {"total_s": 3.5, "timeline": [{"t": 0.0, "event": "started", "worker": "gpu0",
                                                       "gpu": "gpu0"}]}},
            {"number": 2, "worker": "gpu1", "outcome": "succeeded", "batch_size": 1, "timings": {}},
        ],
    })  # fmt: skip
    (first, steps), (second, none) = timeline(job)
    assert first == (
        "attempt 1 on gpu0: retried, low_quality (image 0 scored 0.31), claimed 2.00 s after the job was "
        "queued, 3.50 s in all"
    )
    assert steps == [Step(0.0, "started", "claimed by gpu0 (GPU gpu0)")]
    assert second == "attempt 2 on gpu1: succeeded" and none == []
