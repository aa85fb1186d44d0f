"""Checkpoint, LoRA, embedding, option, sampler and scheduler routes."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.params import Depends
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from emulator.embeddings import embeddings_api
from emulator.runtime import Runtime
from emulator.samplers import samplers_api, schedulers_api
from emulator.v1_validation import json_body_errors, to_dict


def _set_options(rt: Runtime, values: dict[str, Any]) -> None:
    """POST /options: exact-alias check first, then each key in order; a checkpoint change loads
    behind the queue lock. Raises RuntimeError for an unknown checkpoint, KeyError for an unknown key."""
    name = values.get("sd_model_checkpoint")
    if name is not None and rt.checkpoints.by_alias(name) is None:
        raise RuntimeError(f"model {name!r} not found")
    for key, value in values.items():
        changed = rt.options.set(key, value)
        if changed and key == "sd_model_checkpoint":
            with rt.queue_lock:  # wrap_queued_call(reload_model_weights)
                try:
                    rt.loader.reload_weights()
                except Exception:  # A1111 prints it, restores nothing else and still answers 200
                    pass
    rt.options.save()


def register(app: FastAPI, rt: Runtime, deps: list[Depends]) -> None:
    def sd_models() -> Any:
        return [c.api_item() for c in rt.checkpoints.all()]

    def refresh_checkpoints() -> Any:
        with rt.queue_lock:
            cmd_ckpt = rt.checkpoints.refresh()
            if cmd_ckpt is not None:
                # list_models points the option back at --ckpt on every refresh; the loaded model stays,
                # so the next plain txt2img reloads the --ckpt model (a real A1111 quirk)
                rt.options.restore("sd_model_checkpoint", cmd_ckpt.title)
        return None

    def reload_checkpoint() -> Any:
        rt.loader.to_device()
        return {}

    def unload_checkpoint() -> Any:
        rt.loader.unload()
        return {}

    async def loras() -> Any:
        return [lora.api_item() for lora in rt.loras.all()]

    async def refresh_loras() -> Any:
        rt.loras.refresh()  # async in A1111 too: it blocks the event loop while it scans
        return None

    def embeddings() -> Any:
        loaded = rt.loader.loaded
        return embeddings_api(rt.config.embeddings_dir, loaded.arch if loaded else None)

    def refresh_embeddings() -> Any:
        with rt.queue_lock:
            pass
        return None

    def get_options() -> Any:
        return rt.options.api_view()

    async def set_options(request: Request) -> Any:
        body, errors = json_body_errors(await request.body(), request.headers.get("content-type"))
        if errors:
            return JSONResponse(status_code=422, content={"detail": errors})
        try:
            values = to_dict(body) if not isinstance(body, bytes | str) else None
        except ValueError:
            values = None
        if values is None:
            detail = [{"loc": ["body"], "msg": "value is not a valid dict", "type": "type_error.dict"}]
            return JSONResponse(status_code=422, content={"detail": detail})
        await run_in_threadpool(_set_options, rt, values)
        return None

    def samplers() -> Any:
        return samplers_api()

    def schedulers() -> Any:
        return schedulers_api()

    route = app.add_api_route
    route("/sdapi/v1/sd-models", sd_models, methods=["GET"], dependencies=deps)
    route("/sdapi/v1/refresh-checkpoints", refresh_checkpoints, methods=["POST"], dependencies=deps)
    route("/sdapi/v1/reload-checkpoint", reload_checkpoint, methods=["POST"], dependencies=deps)
    route("/sdapi/v1/unload-checkpoint", unload_checkpoint, methods=["POST"], dependencies=deps)
    route("/sdapi/v1/embeddings", embeddings, methods=["GET"], dependencies=deps)
    route("/sdapi/v1/refresh-embeddings", refresh_embeddings, methods=["POST"], dependencies=deps)
    route("/sdapi/v1/options", get_options, methods=["GET"], dependencies=deps)
    route("/sdapi/v1/options", set_options, methods=["POST"], dependencies=deps)
    route("/sdapi/v1/samplers", samplers, methods=["GET"], dependencies=deps)
    route("/sdapi/v1/schedulers", schedulers, methods=["GET"], dependencies=deps)
    # the Lora extension adds these itself, without the API's auth dependency
    app.add_api_route("/sdapi/v1/loras", loras, methods=["GET"])
    app.add_api_route("/sdapi/v1/refresh-loras", refresh_loras, methods=["POST"])
