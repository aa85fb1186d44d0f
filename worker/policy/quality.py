"""What the runner does with an image's output-quality score (`worker.output.quality`): a pure policy.

An image below the floor is `low_quality`: kept, flagged, never dropped. Whether such a job is tried
again is the operator's choice (`quality_retry`, off by default), and then only as the retry policy
allows `low_quality` (once, within the job's attempts). A retry runs the same seeds, so a low score that
comes from the prompt and parameters comes back the same; it helps where the cause was transient (a
faulty card or driver, a sampler cut short), which is why it is off by default.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from worker.policy.retry import decide_retry
from worker.vocabulary import FailureCategory


@dataclass(frozen=True)
class QualityPolicy:
    """The worker's settings for quality (`quality_floor`, `quality_retry`)."""

    floor: float  # a score below it is low quality (0: none is)
    retry: bool  # retry a job with a low-quality image once, as the retry policy allows

    def is_low(self, score: float) -> bool:
        return score < self.floor


def retry_for_low_quality(
    policy: QualityPolicy,
    scores: Sequence[float],
    *,
    attempt: int,
    max_attempts: int,
    previous: Sequence[FailureCategory],
) -> bool:
    """Whether this attempt should give its images up and be retried: some score is low, the operator
    retries low scores, and the retry policy grants `low_quality` another try (else they are kept)."""
    if not policy.retry or not any(policy.is_low(score) for score in scores):
        return False
    return decide_retry(FailureCategory.LOW_QUALITY, attempt, max_attempts, previous).retry
