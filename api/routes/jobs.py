"""`/v1/jobs`: submit, read, cancel, and fetch images."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse

from api.deps import CallerDep, Resources, ResourcesDep
from worker.errors import InvalidRequest
from worker.jobs.request import JobRequest
from worker.store.api_keys import Caller

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

_REQUEST_SCHEMA = JobRequest.model_json_schema(ref_template="#/components/schemas/{model}")
_REQUEST_DEFS = _REQUEST_SCHEMA.pop("$defs", {})


def _image_url(request: Request, resources: Resources) -> str:
    base = (resources.settings.public_url or str(request.base_url)).rstrip("/")
    return base + "/v1/jobs/{job_id}/images/{index}"


def _owner(caller: Caller | None) -> str | None:
    return caller.name if caller else None


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
        resources.jobs.submit, data, owner=_owner(caller), idempotency_key=idempotency_key
    )
    url = str(request.url_for("get_job", job_id=job_id))
    return JSONResponse(
        {"id": job_id, "status": "queued", "url": url}, status_code=202, headers={"Location": url}
    )


@router.get("/{job_id}", name="get_job", summary="A job with its status, attempts and images")
def get_job(job_id: str, request: Request, resources: ResourcesDep, caller: CallerDep) -> dict[str, Any]:
    job = resources.jobs.get(job_id, caller=_owner(caller))
    return resources.jobs.view(job, image_url=_image_url(request, resources))


@router.post(
    "/{job_id}/cancel", summary="Cancel a job: a queued job never runs, a running one is interrupted"
)
def cancel_job(job_id: str, request: Request, resources: ResourcesDep, caller: CallerDep) -> dict[str, Any]:
    job = resources.jobs.cancel(job_id, caller=_owner(caller))
    return resources.jobs.view(job, image_url=_image_url(request, resources))


@router.get(
    "/{job_id}/images/{index}",
    summary="One image of a job, in the format it was stored in (the job's output_format)",
    response_class=FileResponse,
    responses={200: {"content": {"image/png": {}, "image/jpeg": {}, "image/webp": {}}}},
)
def get_image(job_id: str, index: int, resources: ResourcesDep, caller: CallerDep) -> FileResponse:
    job = resources.jobs.get(job_id, caller=_owner(caller))
    found = resources.jobs.image_file(job, index)
    if found is not None:
        path, kind = found
        return FileResponse(path, media_type=kind)
    raise HTTPException(
        404, f"job {job_id} has no image {index} (it has {len(job.images)}; status {job.status})"
    )
