"""`/v1/jobs`: submit, read, cancel, and fetch images."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse

from api.deps import CallerDep, Resources, ResourcesDep
from worker.apikeys import Caller
from worker.db.models import Job
from worker.errors import InvalidRequest, JobNotFound
from worker.jobs.schema import JobRequest
from worker.jobs.submit import submit
from worker.jobs.view import job_view
from worker.output import media_type
from worker.tasks import txt2img

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

_REQUEST_SCHEMA = JobRequest.model_json_schema(ref_template="#/components/schemas/{model}")
_REQUEST_DEFS = _REQUEST_SCHEMA.pop("$defs", {})


def _image_url(request: Request, resources: Resources) -> str:
    base = (resources.settings.public_url or str(request.base_url)).rstrip("/")
    return base + "/v1/jobs/{job_id}/images/{index}"


def _own_job(resources: Resources, job_id: str, caller: Caller | None) -> Job:
    try:
        parsed = uuid.UUID(job_id)
    except ValueError:
        raise JobNotFound(f"no job with id {job_id!r}: job ids are UUIDs") from None
    job = resources.store.get(parsed)
    if caller is not None and job.owner not in (None, caller.name):
        raise JobNotFound(f"no job with id {job_id}")
    return job


@router.post(
    "",
    status_code=202,
    summary="Submit a text-to-image job",
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": _REQUEST_SCHEMA}}}
    },
    responses={
        202: {"description": "Accepted: the job is recorded and queued"},
        422: {"description": "Invalid"},
    },
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
        submit,
        data,
        store=resources.store,
        resolver=resources.resolver,
        settings=resources.settings,
        publish=txt2img.publish,
        owner=caller.name if caller else None,
        idempotency_key=idempotency_key,
    )
    url = str(request.url_for("get_job", job_id=job_id))
    return JSONResponse(
        {"id": job_id, "status": "queued", "url": url}, status_code=202, headers={"Location": url}
    )


@router.get("/{job_id}", name="get_job", summary="A job with its status, attempts and images")
def get_job(job_id: str, request: Request, resources: ResourcesDep, caller: CallerDep) -> dict[str, Any]:
    return job_view(_own_job(resources, job_id, caller), image_url=_image_url(request, resources))


@router.post(
    "/{job_id}/cancel", summary="Cancel a job: a queued job never runs, a running one is interrupted"
)
def cancel_job(job_id: str, request: Request, resources: ResourcesDep, caller: CallerDep) -> dict[str, Any]:
    job = _own_job(resources, job_id, caller)
    return job_view(resources.store.request_cancel(job.id), image_url=_image_url(request, resources))


@router.get(
    "/{job_id}/images/{index}",
    summary="One image of a job, in the format it was stored in (the job's output_format)",
    response_class=FileResponse,
    responses={200: {"content": {"image/png": {}, "image/jpeg": {}, "image/webp": {}}}},
)
def get_image(job_id: str, index: int, resources: ResourcesDep, caller: CallerDep) -> FileResponse:
    job = _own_job(resources, job_id, caller)
    for image in job.images:
        if image.index == index:
            path = resources.results.path(image.storage_path)
            return FileResponse(path, media_type=media_type(path))
    raise HTTPException(
        404, f"job {job_id} has no image {index} (it has {len(job.images)}; status {job.status})"
    )
