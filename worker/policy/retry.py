"""The retry policy: a pure function of the failure category and the job's attempt history.

Caller faults are never retried; backend faults are, within bounds; an OOM is final here because the
OOM policy already split the batch down to 1 and cleaned up once before giving up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from worker.taxonomy import FailureCategory as C

# category -> how many times that category may be retried within one job (None: up to max_attempts)
RETRIES: dict[C, int | None] = {
    C.INVALID_REQUEST: 0,
    C.MODEL_NOT_FOUND: 0,
    C.LORA_NOT_FOUND: 0,
    C.LORA_INCOMPATIBLE: 0,
    C.MODEL_INVALID: 0,
    C.CONTENT_BLOCKED: 0,
    C.CANCELLED: 0,
    C.OOM: 0,
    C.INTERNAL: 0,
    C.BACKEND_UNAVAILABLE: None,
    C.BACKEND_CRASHED: None,
    C.TIMEOUT: 1,
    C.OUTPUT_INVALID: 1,
}
BASE_DELAY_S = 1.0
MAX_DELAY_S = 30.0


@dataclass(frozen=True)
class RetryDecision:
    retry: bool
    delay_s: float
    reason: str


def decide_retry(category: C, attempt: int, max_attempts: int, previous: Sequence[C] = ()) -> RetryDecision:
    """Whether attempt number `attempt` (1-based), which failed with `category`, gets another try.

    `previous` holds the categories of the job's earlier failed attempts (not this one).
    """
    allowed = RETRIES[category]
    if allowed == 0:
        return RetryDecision(False, 0.0, f"{category.value} is not retried")
    if attempt >= max_attempts:
        return RetryDecision(False, 0.0, f"gave up after {attempt} attempts")
    if allowed is not None and sum(1 for c in previous if c is category) >= allowed:
        return RetryDecision(False, 0.0, f"{category.value} is retried {allowed} time(s) only")
    delay = min(MAX_DELAY_S, BASE_DELAY_S * 2 ** (attempt - 1))
    return RetryDecision(True, delay, f"{category.value}: retry {attempt} of {max_attempts - 1}")
