"""Queue names: one queue per checkpoint, plus a CPU-only control queue for the sweeper."""

from __future__ import annotations

import re

CONTROL_QUEUE = "sdfleet.control"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def checkpoint_queue(checkpoint: str) -> str:
    """The queue that the workers serving `checkpoint` consume, e.g. `sd.deliberate_v6`."""
    return "sd." + _UNSAFE.sub("_", checkpoint)
