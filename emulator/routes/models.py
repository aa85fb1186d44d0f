"""Checkpoint, LoRA and embedding routes: listing, refreshing, loading and unloading."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.params import Depends

from emulator.models.embeddings import embeddings_api
from emulator.runtime import Runtime


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

    route = app.add_api_route
    route("/sdapi/v1/sd-models", sd_models, methods=["GET"], dependencies=deps)
    route("/sdapi/v1/refresh-checkpoints", refresh_checkpoints, methods=["POST"], dependencies=deps)
    route("/sdapi/v1/reload-checkpoint", reload_checkpoint, methods=["POST"], dependencies=deps)
    route("/sdapi/v1/unload-checkpoint", unload_checkpoint, methods=["POST"], dependencies=deps)
    route("/sdapi/v1/embeddings", embeddings, methods=["GET"], dependencies=deps)
    route("/sdapi/v1/refresh-embeddings", refresh_embeddings, methods=["POST"], dependencies=deps)
    # the Lora extension adds these itself, without the API's auth dependency
    app.add_api_route("/sdapi/v1/loras", loras, methods=["GET"])
    app.add_api_route("/sdapi/v1/refresh-loras", refresh_loras, methods=["POST"])
