"""`GET /v1/jobs` (a caller's jobs, newest first, filtered, keyset-paginated) and `GET /v1/stats`.

The logic is the job service's (`JobService.list`, `JobService.stats`); these routes only read the
query. A caller sees its own jobs; without API auth (an operator's deployment) every job.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from api.deps import CallerDep, ResourcesDep
from api.responses import ERRORS
from api.routes.jobs import image_url, owner
from worker.jobs.documents import JobList, StatsDocument
from worker.jobs.view import job_summary
from worker.store.listing import MAX_PAGE, JobFilter
from worker.vocabulary import FailureCategory, JobStatus

router = APIRouter(tags=["jobs"])
MAX_STATS_HOURS = 24 * 31


@router.get(
    "/v1/jobs",
    summary="The caller's jobs, newest first, filtered; pass next_cursor as cursor for the next page",
    response_model=JobList,
    responses=ERRORS,
)
def list_jobs(
    request: Request,
    resources: ResourcesDep,
    caller: CallerDep,
    status: Annotated[list[JobStatus] | None, Query(description="One or more statuses")] = None,
    checkpoint: Annotated[str | None, Query(max_length=128)] = None,
    failure_category: Annotated[FailureCategory | None, Query()] = None,
    created_after: Annotated[datetime | None, Query(description="ISO 8601, inclusive")] = None,
    created_before: Annotated[datetime | None, Query(description="ISO 8601, exclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    where = JobFilter(
        owner=owner(caller),
        statuses=tuple(status or ()),
        checkpoint=checkpoint,
        failure_category=failure_category.value if failure_category else None,
        created_after=created_after,
        created_before=created_before,
    )
    page = resources.jobs.list(where, limit=limit, cursor=cursor)
    url = image_url(request, resources)
    return {
        "jobs": [job_summary(job, image_url=url) for job in page.jobs],
        "next_cursor": page.next_cursor.encode() if page.next_cursor else None,
    }


@router.get(
    "/v1/stats",
    summary="Jobs by status and failure category, images per hour and success rate over the last `hours` "
    "(the caller's jobs), and each checkpoint's queue now (fleet-wide)",
    response_model=StatsDocument,
    responses=ERRORS,
)
def stats(
    resources: ResourcesDep,
    caller: CallerDep,
    hours: Annotated[int, Query(ge=1, le=MAX_STATS_HOURS)] = 24,
) -> dict[str, Any]:
    figures = resources.jobs.stats(owner=owner(caller), hours=hours)
    return {
        "hours": figures.hours,
        "by_status": figures.by_status,
        "by_category": figures.by_category,
        "images_per_hour": [
            {"hour": hour, "images": images, "jobs": jobs} for hour, images, jobs in figures.images_per_hour
        ],
        "success_rate": figures.success_rate,
        "queues": [vars(queue) for queue in figures.queues],
    }
