"""Quality: feedback on an image (`POST /v1/jobs/{id}/images/{index}/feedback`) and where quality comes
from (`GET /v1/stats/quality`). A caller rates and sees its own jobs; without API auth, every job."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from api.deps import CallerDep, ResourcesDep
from api.responses import ERRORS
from worker.jobs.feedback import FeedbackRequest
from worker.jobs.quality_documents import FeedbackDocument, QualityStatsDocument
from worker.store.quality_stats import DIMENSIONS, Dimension

router = APIRouter(tags=["quality"])
MAX_STATS_HOURS = 24 * 31
MAX_GROUPS = 500
_INVALID: dict[int | str, dict[str, Any]] = {422: ERRORS[422]}


@router.post(
    "/v1/jobs/{job_id}/images/{index}/feedback",
    summary="Rate one image of a job: 'up'/'down' or 1–5 stars, with an optional reason; rating it "
    "again replaces the caller's earlier rating",
    response_model=FeedbackDocument,
    responses=ERRORS,
)
def rate_image(
    job_id: str,
    index: Annotated[int, Path(ge=0, le=10_000)],
    body: FeedbackRequest,
    resources: ResourcesDep,
    caller: CallerDep,
) -> FeedbackDocument:
    feedback = resources.jobs.rate_image(job_id, index, body, caller=caller.name if caller else None)
    return FeedbackDocument.of(feedback)


@router.get(
    "/v1/stats/quality",
    summary="Success rate, failure categories, OOMs, mean quality score and feedback of the jobs that "
    "ended in the last `hours`, grouped by checkpoint, LoRA combination, preset, sampler, resolution",
    response_model=QualityStatsDocument,
    responses=_INVALID,
)
def quality_stats(
    resources: ResourcesDep,
    caller: CallerDep,
    hours: Annotated[
        int, Query(ge=1, le=MAX_STATS_HOURS, description="The window, the current hour included")
    ] = 24,
    by: Annotated[
        list[Dimension] | None, Query(description="Group by these dimensions together (default: all five)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_GROUPS, description="At most this many groups")] = 50,
) -> Any:
    dimensions = tuple(str(d.value) for d in by) if by else DIMENSIONS
    stats = resources.jobs.quality_stats(
        caller=caller.name if caller else None, hours=hours, by=tuple(dict.fromkeys(dimensions)), limit=limit
    )
    return QualityStatsDocument.of(stats)
