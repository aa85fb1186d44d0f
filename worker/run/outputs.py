"""What the runner does with a sub-batch's checked images: score them, then encode and store them, each
step timed in the attempt's journal."""

from __future__ import annotations

import time
from collections.abc import Callable

from worker.output.checks import CheckedImage
from worker.output.encode import output_image
from worker.output.files import ResultStore, sha256_hex
from worker.output.quality import QualityScore, score_pixels
from worker.policy.quality import QualityPolicy
from worker.run.journal import AttemptJournal
from worker.store.records import Claim, StoredImage
from worker.vocabulary import EventKind


def score_images(
    checked: list[CheckedImage],
    policy: QualityPolicy,
    journal: AttemptJournal,
    *,
    first_index: int,
    clock: Callable[[], float] = time.monotonic,
) -> list[QualityScore]:
    """The output-quality score of each image, from the pixels the checks decoded; the `scored` event
    goes to the timeline and the job's stream (where the worker's metrics hear it)."""
    started = clock()
    scores = [score_pixels(image.pixels) for image in checked]
    journal.record(
        EventKind.SCORED,
        first_index=first_index,
        scores=[score.score for score in scores],
        low_quality=[first_index + i for i, score in enumerate(scores) if policy.is_low(score.score)],
        seconds=round(clock() - started, 3),
    )
    return scores


def low_quality_message(scores: list[QualityScore], policy: QualityPolicy, *, first_index: int) -> str | None:
    """What to say about the worst image below the floor (its weakest part names the likely cause);
    None when no image is below it."""
    low = [(first_index + i, score) for i, score in enumerate(scores) if policy.is_low(score.score)]
    if not low:
        return None
    index, worst = min(low, key=lambda pair: pair[1].score)
    weakest = min(worst.parts, key=lambda name: worst.parts[name])
    return (
        f"image {index} scored {worst.score:.2f} (weakest part: {weakest} {worst.parts[weakest]:.2f}), "
        f"below the quality floor {policy.floor:.2f}"
    )


def store_images(
    checked: list[CheckedImage],
    scores: list[QualityScore],
    claim: Claim,
    results: ResultStore,
    policy: QualityPolicy,
    journal: AttemptJournal,
    *,
    first_index: int,
    clock: Callable[[], float] = time.monotonic,
) -> list[StoredImage]:
    """Encode the images in the job's output format, then write them to the result store."""
    started = clock()
    outputs = [output_image(i, claim.params, job_id=claim.job_id, attempt=claim.attempt) for i in checked]
    journal.record(
        "encoded",
        output_format=str(claim.params.get("output_format", "png")),
        images=len(outputs),
        seconds=round(clock() - started, 3),
    )
    started = clock()
    stored = []
    for offset, (image, score, output) in enumerate(zip(checked, scores, outputs, strict=True)):
        index = first_index + offset
        stored.append(
            StoredImage(
                index=index,
                seed=claim.seed + index,
                storage_path=results.write(claim.job_id, claim.attempt, index, output.data, output.suffix),
                width=image.width,
                height=image.height,
                sha256=sha256_hex(output.data),
                infotext=image.infotext,
                quality_score=score.score,
                low_quality=policy.is_low(score.score),
                quality=score.as_json(),
            )
        )
    journal.record("stored", images=len(stored), first_index=first_index, seconds=round(clock() - started, 3))
    return stored
