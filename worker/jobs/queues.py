"""Queue names: two lanes per checkpoint (`sd.<checkpoint>.interactive`, `sd.<checkpoint>.batch`), plus
a CPU-only control queue for the sweeper.

A worker consumes the lanes of the checkpoint its A1111 has loaded, interactive first (the broker's
`queue_order_strategy` is `priority`: the order a worker lists its queues in is the order it serves them).
"""

from __future__ import annotations

import re

from worker.vocabulary import Lane

CONTROL_QUEUE = "sdfleet.control"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def checkpoint_queue(checkpoint: str) -> str:
    """The stem of `checkpoint`'s queues, e.g. `sd.deliberate_v6`."""
    return "sd." + _UNSAFE.sub("_", checkpoint)


def lane_queue(checkpoint: str, lane: Lane) -> str:
    """The queue of one lane of `checkpoint`, e.g. `sd.deliberate_v6.interactive`."""
    return f"{checkpoint_queue(checkpoint)}.{lane.value}"


def checkpoint_queues(checkpoint: str) -> list[str]:
    """Both lanes of `checkpoint`, in the order a worker serves them: interactive first."""
    return [lane_queue(checkpoint, lane) for lane in (Lane.INTERACTIVE, Lane.BATCH)]


def checkpoint_of(queues: list[str], served: list[str]) -> str | None:
    """Which of the `served` checkpoints a worker consuming `queues` is on (None: none of them)."""
    consumed = set(queues)
    for checkpoint in served:
        if consumed & set(checkpoint_queues(checkpoint)):
            return checkpoint
    return None
