"""The retry policy: a pure function of the failure category, the job's attempt history, and what is
known about the GPU that failed.

Caller faults are never retried; backend faults are, within bounds. An OOM has already been through the
OOM policy (split down to batch 1, one emergency cleanup, one more try), so retrying it on the same card
is pointless; it is retried once only when another GPU is known to hold one image of that shape and this
one is not, so that a fleet with mixed cards can still run it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from worker.policy.backoff import backoff_s
from worker.vocabulary import FailureCategory as C

# category -> how many times that category may be retried within one job (None: up to max_attempts)
RETRIES: dict[C, int | None] = {
    C.INVALID_REQUEST: 0,
    C.MODEL_NOT_FOUND: 0,
    C.LORA_NOT_FOUND: 0,
    C.LORA_INCOMPATIBLE: 0,
    C.MODEL_INVALID: 0,
    C.CONTENT_BLOCKED: 0,
    C.CANCELLED: 0,
    C.OOM: 1,  # only on another card: see `_oom_elsewhere`
    C.INTERNAL: 0,
    C.BACKEND_UNAVAILABLE: None,
    C.BACKEND_CRASHED: None,
    C.TIMEOUT: 1,
    C.OUTPUT_INVALID: 1,
    C.LOW_QUALITY: 1,  # only when the operator turned it on (`quality_retry`): see worker.policy.quality
}
BASE_DELAY_S = 1.0
MAX_DELAY_S = 30.0


@dataclass(frozen=True)
class GpuKnowledge:
    """What the capacity memory says about the failed job's shape (architecture, width × height)."""

    held_here: int | None = None  # the largest batch this GPU is known to have completed
    held_elsewhere: int | None = None  # the largest batch any other GPU is known to have completed


@dataclass(frozen=True)
class RetryDecision:
    retry: bool
    delay_s: float
    reason: str


def decide_retry(
    category: C,
    attempt: int,
    max_attempts: int,
    previous: Sequence[C] = (),
    gpu: GpuKnowledge | None = None,
) -> RetryDecision:
    """Whether attempt number `attempt` (1-based), which failed with `category`, gets another try.

    `previous` holds the categories of the job's earlier failed attempts (not this one).
    """
    allowed = RETRIES[category]
    if allowed == 0:
        return RetryDecision(False, 0.0, f"{category.value} is not retried")
    if category is C.OOM and not _oom_elsewhere(gpu or GpuKnowledge()):
        return RetryDecision(False, 0.0, "oom is not retried: no other GPU is known to hold this shape")
    if attempt >= max_attempts:
        return RetryDecision(False, 0.0, f"gave up after {attempt} attempts")
    if allowed is not None and sum(1 for c in previous if c is category) >= allowed:
        return RetryDecision(False, 0.0, f"{category.value} is retried {allowed} time(s) only")
    delay = backoff_s(attempt, base_s=BASE_DELAY_S, cap_s=MAX_DELAY_S)
    return RetryDecision(True, delay, f"{category.value}: retry {attempt} of {max_attempts - 1}")


def _oom_elsewhere(gpu: GpuKnowledge) -> bool:
    """An OOM at batch 1 is worth another try only on a card that holds the shape when this one does not."""
    return gpu.held_here is None and (gpu.held_elsewhere or 0) >= 1
