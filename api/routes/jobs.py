"""`/v1/jobs`: submit, read, cancel, retry, and fetch images."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse

from api.deps import CallerDep, Resources, ResourcesDep
from api.responses import ERRORS, NOT_FOUND
from worker.errors import InvalidRequest
from worker.jobs.documents import Accepted, JobDocument
from worker.jobs.request import JobRequest
from worker.jobs.view import IMAGE_PATH
from worker.store.api_keys import Caller

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

_REQUEST_SCHEMA = JobRequest.model_json_schema(ref_template="#/components/schemas/{model}")
_REQUEST_DEFS = _REQUEST_SCHEMA.pop("$defs", {})


def image_url(request: Request, resources: Resources) -> str:
    """The image route as a format string (`{job_id}`, `{index}`), below the public or request's URL."""
    base = (resources.settings.public_url or str(request.base_url)).rstrip("/")
    return base + IMAGE_PATH


def owner(caller: Caller | None) -> str | None:
    return caller.name if caller else None


def accepted(request: Request, job_id: str) -> JSONResponse:
    url = str(request.url_for("get_job", job_id=job_id))
    body = Accepted(id=job_id, status="queued", url=url).model_dump()
    return JSONResponse(body, status_code=202, headers={"Location": url})


@router.post(
    "",
    status_code=202,
    summary="Submit a text-to-image job",
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": _REQUEST_SCHEMA}}}
    },
    response_model=Accepted,
    responses={202: {"description": "Accepted: the job is recorded and queued"}, **ERRORS},
)
async def create_job(
    request: Request,
    resources: ResourcesDep,
    caller: CallerDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JSONResponse:
    raw = await request.body()
    try:
        data: Any = json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"the request body is not valid JSON: {exc}", field="body") from None
    job_id = await run_in_threadpool(
        resources.jobs.submit,
        data,
        owner=owner(caller),
        idempotency_key=idempotency_key,
        default_callback_url=caller.callback_url if caller else None,
    )
    return accepted(request, job_id)


@router.get(
    "/{job_id}",
    name="get_job",
    summary="A job with its status, attempts, images, webhook log and live figures (queue position, "
    "progress, ETA)",
    response_model=JobDocument,
    responses=NOT_FOUND,
)
def get_job(job_id: str, request: Request, resources: ResourcesDep, caller: CallerDep) -> dict[str, Any]:
    job = resources.jobs.get(job_id, caller=owner(caller))
    live = resources.jobs.live(job)
    return resources.jobs.view(job, image_url=image_url(request, resources), live=live)


@router.post(
    "/{job_id}/cancel",
    summary="Cancel a job: a queued job never runs, a running one is interrupted",
    response_model=JobDocument,
    responses=NOT_FOUND,
)
def cancel_job(job_id: str, request: Request, resources: ResourcesDep, caller: CallerDep) -> dict[str, Any]:
    job = resources.jobs.cancel(job_id, caller=owner(caller))
    return resources.jobs.view(job, image_url=image_url(request, resources))


@router.post(
    "/{job_id}/retry",
    status_code=202,
    summary="A new job with a failed or cancelled job's parameters and seed, linked to it (retry_of)",
    response_model=Accepted,
    responses={202: {"description": "Accepted: the new job is queued"}, **ERRORS},
)
def retry_job(job_id: str, request: Request, resources: ResourcesDep, caller: CallerDep) -> JSONResponse:
    return accepted(request, resources.jobs.retry(job_id, caller=owner(caller)))


@router.get(
    "/{job_id}/images/{index}",
    summary="One image of a job, in the format it was stored in (the job's output_format)",
    response_class=FileResponse,
    responses={200: {"content": {"image/png": {}, "image/jpeg": {}, "image/webp": {}}}, **NOT_FOUND},
)
def get_image(job_id: str, index: int, resources: ResourcesDep, caller: CallerDep) -> FileResponse:
    """The download is counted as the caller's implicit feedback on the image."""
    path, kind = resources.jobs.download_image(job_id, index, caller=owner(caller))
    return FileResponse(path, media_type=kind)
