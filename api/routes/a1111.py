"""A1111-compatible routes, so an existing A1111 client (webuiapi, a RunPod handler, a UI) can point at
the producer: `POST /sdapi/v1/txt2img` becomes a queued job, waited for, answered in A1111's shape.

The request follows A1111's defaults and leniency (unknown keys ignored, `steps` 50, sampler "Euler");
the checkpoint comes from `override_settings.sd_model_checkpoint`; errors use A1111's envelope
`{"error", "detail", "body", "errors"}` so clients that parse it keep working.
"""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import PurePath
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.deps import CallerDep, Resources, ResourcesDep
from worker.errors import JobRejected
from worker.jobs.samplers import SAMPLERS, SCHEDULERS
from worker.jobs.service import Job
from worker.vocabulary import JobStatus

router = APIRouter(prefix="/sdapi/v1", tags=["A1111-compatible"])

A1111_DEFAULTS: dict[str, Any] = {
    "prompt": "",
    "negative_prompt": "",
    "seed": -1,
    "sampler_name": None,
    "sampler_index": "Euler",
    "scheduler": None,
    "batch_size": 1,
    "n_iter": 1,
    "steps": 50,
    "cfg_scale": 7.0,
    "width": 512,
    "height": 512,
    "override_settings": None,
}
FAILURE_TYPES = {"oom": "OutOfMemoryError", "timeout": "TimeoutError", "cancelled": "InterruptedException"}


def envelope(error: str, errors: str, status: int, detail: str = "") -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail, "body": "", "errors": errors}, status_code=status)


def to_job_request(body: dict[str, Any], checkpoints: list[str]) -> dict[str, Any]:
    """Map an A1111 txt2img body onto the job schema (values are validated by the schema afterwards)."""
    merged = {**A1111_DEFAULTS, **{k: v for k, v in body.items() if k in A1111_DEFAULTS and v is not None}}
    overrides = merged["override_settings"] or {}
    request: dict[str, Any] = {
        "prompt": merged["prompt"],
        "negative_prompt": merged["negative_prompt"],
        "seed": merged["seed"],
        "sampler": merged["sampler_name"] or merged["sampler_index"],
        "steps": merged["steps"],
        "cfg_scale": merged["cfg_scale"],
        "width": merged["width"],
        "height": merged["height"],
        "batch_size": int(merged["batch_size"]) * int(merged["n_iter"]),
        "priority": "interactive",  # an A1111 client waits for its answer
    }
    if merged["scheduler"] and merged["scheduler"] != "Automatic":
        request["scheduler"] = merged["scheduler"]
    if isinstance(overrides, dict):
        if overrides.get("CLIP_stop_at_last_layers") is not None:
            request["clip_skip"] = overrides["CLIP_stop_at_last_layers"]
        wanted = overrides.get("sd_model_checkpoint")
        if wanted:
            request["checkpoint"] = _checkpoint_name(str(wanted), checkpoints)
    return request


def _checkpoint_name(wanted: str, checkpoints: list[str]) -> str:
    """A1111 titles look like 'name.safetensors [hash]'; accept those, filenames and bare names."""
    stem = PurePath(wanted.split(" [")[0]).stem
    return stem if stem in checkpoints else wanted


def a1111_response(job: Job, request_body: dict[str, Any], resources: Resources) -> dict[str, Any]:
    paths = [resources.jobs.results.path(image.storage_path) for image in job.images]
    images = [base64.b64encode(path.read_bytes()).decode() for path in paths]
    info = dict(job.info or {})
    info["all_seeds"] = [i.seed for i in job.images]
    info["infotexts"] = [i.infotext for i in job.images]
    info["seed"] = job.seed
    info["sdfleet_job_id"] = str(job.id)
    return {"images": images, "parameters": {**A1111_DEFAULTS, **request_body}, "info": json.dumps(info)}


@router.post("/txt2img", summary="A1111's txt2img: queued as a job, answered when it is done")
async def txt2img_compat(request: Request, resources: ResourcesDep, caller: CallerDep) -> JSONResponse:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        return envelope("JSONDecodeError", str(exc), 422)
    if not isinstance(body, dict):
        return envelope("ValidationError", "the request body must be a JSON object", 422)
    if body.get("enable_hr"):
        return envelope("HTTPException", "", 422, "hires fix (enable_hr) is not supported by sdfleet")
    try:
        checkpoints = await run_in_threadpool(resources.jobs.resolver.checkpoint_names)
        job_id = await run_in_threadpool(
            resources.jobs.submit, to_job_request(body, checkpoints), owner=caller.name if caller else None
        )
    except JobRejected as exc:
        return envelope("HTTPException", str(exc), 422, detail=str(exc))
    job = await _wait(resources, job_id)
    if job.status == JobStatus.SUCCEEDED:
        return JSONResponse(await run_in_threadpool(a1111_response, job, body, resources))
    if not JobStatus(job.status).is_terminal:
        return envelope("TimeoutError", f"job {job_id} is still {job.status}; poll /v1/jobs/{job_id}", 504)
    kind = FAILURE_TYPES.get(job.failure_category or "", "RuntimeError")
    return envelope(kind, f"{job.failure_message} (job {job_id}, {job.failure_category})", 500)


async def _wait(resources: Resources, job_id: str) -> Job:
    """The job once it has ended, or as it is after `sync_wait_s`; woken by its terminal event."""

    async def ended() -> bool:
        status = await run_in_threadpool(resources.jobs.store.status, uuid.UUID(job_id))
        return JobStatus(status).is_terminal

    await resources.events.wait_for_end(job_id, ended=ended, timeout_s=resources.settings.sync_wait_s)
    return await run_in_threadpool(resources.jobs.get, job_id)


@router.get("/sd-models", summary="Checkpoints, in A1111's shape (as with --no-hashing)")
def sd_models(resources: ResourcesDep, caller: CallerDep) -> list[dict[str, Any]]:
    return [
        {"title": f"{name}.safetensors", "model_name": name, "hash": None, "sha256": None,
         "filename": f"{name}.safetensors", "config": None}
        for name in resources.jobs.resolver.checkpoint_names()
    ]  # fmt: skip


@router.get("/samplers", summary="Samplers, in A1111's shape")
def samplers(caller: CallerDep) -> list[dict[str, Any]]:
    return [{"name": name, "aliases": [], "options": {}} for name in SAMPLERS]


@router.get("/schedulers", summary="Schedulers, in A1111's shape")
def schedulers(caller: CallerDep) -> list[dict[str, Any]]:
    return [
        {"name": names[0], "label": label, "aliases": None, "default_rho": -1.0, "need_inner_model": False}
        for label, names in SCHEDULERS.items()
    ]


@router.get("/options", summary="The default checkpoint, as A1111's sd_model_checkpoint")
def options(resources: ResourcesDep, caller: CallerDep) -> dict[str, Any]:
    return {"sd_model_checkpoint": f"{resources.settings.default_checkpoint}.safetensors"}


@router.get("/progress", summary="Always idle: sdfleet jobs report progress at /v1/jobs/{id}")
def progress(caller: CallerDep) -> dict[str, Any]:
    state = {"skipped": False, "interrupted": False, "stopping_generation": False, "job": "", "job_count": 0,
             "job_timestamp": "0", "job_no": 0, "sampling_step": 0, "sampling_steps": 0}  # fmt: skip
    return {"progress": 0.0, "eta_relative": 0.0, "state": state, "current_image": None, "textinfo": None}
