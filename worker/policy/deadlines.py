"""The generation deadline: how long one txt2img call of a given shape may run.

(A1111's start-up and checkpoint-load deadlines are settings: `SDFLEET_A1111_STARTUP_DEADLINE_S`,
`SDFLEET_A1111_CHECKPOINT_LOAD_DEADLINE_S`.)

Generous on purpose: a deadline exists to catch a hung GPU, not to race a slow one. The per-step
allowance is calibrated on the slowest common case, SDXL at 1024² on a consumer card (about 3.6 it/s in
A1111 on an RTX 4080, peers.md), times a safety factor.
"""

from __future__ import annotations

from dataclasses import dataclass

REFERENCE_PIXELS = 1024 * 1024


@dataclass(frozen=True)
class Deadlines:
    per_step_s: float = 2.0  # per step of a 1024² image at batch 1 (8× the slow-card figure)
    overhead_s: float = 60.0  # text encoding, VAE decode, PNG encoding and transfer
    minimum_s: float = 120.0


def generation_deadline_s(
    *,
    steps: int,
    width: int,
    height: int,
    batch_size: int,
    factor: float = 1.0,
    deadlines: Deadlines | None = None,
) -> float:
    """How long one txt2img call of this shape may run before it is interrupted; `factor` stretches it
    for hardware slower than the cards the table is calibrated on (`SDFLEET_A1111_DEADLINE_FACTOR`)."""
    d = deadlines or Deadlines()
    scale = max(1.0, (width * height) / REFERENCE_PIXELS)
    return factor * max(d.minimum_s, d.overhead_s + steps * d.per_step_s * scale * batch_size)
