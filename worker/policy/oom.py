"""The OOM policy: how large a sub-batch to try, and what an OOM or a success teaches us.

Pure functions over what is known of one shape (worker GPU, architecture, width × height). The store
that remembers it across jobs and workers is `worker.policy.capacity`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class ShapeCapacity:
    """What one GPU is known to hold for one (architecture, pixels) shape."""

    largest_ok: int | None = None  # the largest batch that succeeded
    smallest_oom: int | None = None  # the smallest batch that ran out of memory
    limit: int | None = None  # the batch size to try at most next time

    def after_oom(self, batch_size: int) -> ShapeCapacity:
        """An OOM at `batch_size`: halve, but never below the largest size known to succeed.

        Going straight down to a known success would, when that success is small (a card that ran
        batches of 1), split the rest of the job into many tiny sub-batches; halving towards it costs at
        most one more OOM per halving and lands near what the card holds.
        """
        smallest = batch_size if self.smallest_oom is None else min(self.smallest_oom, batch_size)
        largest_ok = self.largest_ok if (self.largest_ok or 0) < batch_size else None
        limit = max(1, batch_size // 2, largest_ok or 0)
        return ShapeCapacity(largest_ok=largest_ok, smallest_oom=smallest, limit=limit)

    def after_success(self, batch_size: int) -> ShapeCapacity:
        """A success at `batch_size` raises the remembered bound to it if it is larger.

        The next try then probes halfway towards the smallest known OOM, so the bound converges on what
        the card holds (at most one OOM per halving over the card's life) instead of staying wherever the
        first halving left it; a success at or above that OOM shows it was transient, and lifts the cap.
        """
        largest = max(self.largest_ok or 0, batch_size)
        if self.smallest_oom is None or self.smallest_oom <= largest:
            return ShapeCapacity(largest_ok=largest, smallest_oom=None, limit=None)
        return ShapeCapacity(
            largest_ok=largest, smallest_oom=self.smallest_oom, limit=(largest + self.smallest_oom) // 2
        )


def next_chunk(remaining: int, limit: int | None) -> int:
    """The size of the next sub-batch: everything that is left, capped by what the GPU is known to hold."""
    if remaining < 1:
        raise ValueError("nothing remains to generate")
    return remaining if limit is None else max(1, min(remaining, limit))


class Cleanup(StrEnum):
    """What to do after an OOM at batch 1, before the next (and last) try."""

    RELOAD = "reload_checkpoint"  # unload and reload the checkpoint: frees what a failed call left behind
    RESTART = "restart_a1111"  # a fresh process: ends fragmentation and leaks a reload cannot reach
    GIVE_UP = "give_up"  # the job is `oom`


def emergency_cleanup(done: Sequence[Cleanup], *, held_before: bool, can_restart: bool) -> Cleanup:
    """The next cleanup after an OOM at batch 1, given those already done for this attempt.

    First a checkpoint reload. A restart only if this GPU is known to have held this shape before
    (`held_before`): then the shape fits and the process's memory is what is wrong. A shape never held
    is simply too large for this card, and a restart would cost a minute for nothing.
    """
    if Cleanup.RELOAD not in done:
        return Cleanup.RELOAD
    if held_before and can_restart and Cleanup.RESTART not in done:
        return Cleanup.RESTART
    return Cleanup.GIVE_UP
