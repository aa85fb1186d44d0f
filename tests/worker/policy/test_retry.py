"""The retry policy as a table: caller faults never, backend faults within bounds."""

from __future__ import annotations

import pytest

from worker.policy.retry import GpuKnowledge, decide_retry
from worker.vocabulary import FailureCategory as C

NEVER = [C.INVALID_REQUEST, C.MODEL_NOT_FOUND, C.LORA_NOT_FOUND, C.LORA_INCOMPATIBLE, C.MODEL_INVALID,
         C.CONTENT_BLOCKED, C.CANCELLED, C.OOM, C.INTERNAL]  # fmt: skip
# (OOM: with nothing known about the GPUs; see the OOM table below)


@pytest.mark.parametrize("category", NEVER)
def test_caller_faults_and_final_categories_are_never_retried(category: C) -> None:
    assert decide_retry(category, attempt=1, max_attempts=5).retry is False


@pytest.mark.parametrize(
    ("category", "attempt", "previous", "retry"),
    [
        (C.BACKEND_UNAVAILABLE, 1, [], True),
        (C.BACKEND_UNAVAILABLE, 3, [C.BACKEND_UNAVAILABLE] * 2, True),
        (C.BACKEND_UNAVAILABLE, 4, [C.BACKEND_UNAVAILABLE] * 3, False),  # max_attempts reached
        (C.BACKEND_CRASHED, 1, [], True),
        (C.TIMEOUT, 1, [], True),
        (C.TIMEOUT, 2, [C.TIMEOUT], False),  # once only
        (C.TIMEOUT, 2, [C.BACKEND_CRASHED], True),
        (C.OUTPUT_INVALID, 1, [], True),
        (C.OUTPUT_INVALID, 2, [C.OUTPUT_INVALID], False),
    ],
)
def test_backend_faults_are_retried_within_bounds(
    category: C, attempt: int, previous: list[C], retry: bool
) -> None:
    assert decide_retry(category, attempt, max_attempts=4, previous=previous).retry is retry


def test_every_category_has_a_rule() -> None:
    for category in C:
        decide_retry(category, 1, 4)


def test_delay_grows_and_is_capped() -> None:
    delays = [decide_retry(C.BACKEND_CRASHED, n, 100).delay_s for n in range(1, 10)]
    assert delays == sorted(delays)
    assert max(delays) == 30.0


@pytest.mark.parametrize(
    ("gpu", "previous", "retry"),
    [
        (None, [], False),  # nothing known about the shape anywhere: final
        (GpuKnowledge(held_here=None, held_elsewhere=None), [], False),
        (GpuKnowledge(held_here=None, held_elsewhere=2), [], True),  # a bigger card holds it: go there
        (GpuKnowledge(held_here=None, held_elsewhere=2), [C.OOM], False),  # once only
        (GpuKnowledge(held_here=1, held_elsewhere=4), [], False),  # this card holds it too: cleanup ran
        (GpuKnowledge(held_here=None, held_elsewhere=0), [], False),
    ],
)
def test_an_oom_at_batch_1_is_retried_only_where_another_gpu_holds_the_shape(
    gpu: GpuKnowledge | None, previous: list[C], retry: bool
) -> None:
    assert decide_retry(C.OOM, 1, max_attempts=4, previous=previous, gpu=gpu).retry is retry


def test_an_oom_retry_still_respects_max_attempts() -> None:
    gpu = GpuKnowledge(held_elsewhere=3)
    assert decide_retry(C.OOM, 4, max_attempts=4, gpu=gpu).retry is False
