"""The lists a stock install serves: samplers, schedulers, upscalers, scripts, face restorers...; none
of them changes while the server runs."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.params import Depends

from emulator.generation.samplers import samplers_api, schedulers_api
from emulator.generation.upscalers import LATENT_UPSCALE_MODES, UPSCALERS
from emulator.routes.scripts import scripts_api
from emulator.runtime import Runtime


def register(app: FastAPI, rt: Runtime, deps: list[Depends]) -> None:
    def samplers() -> Any:
        return samplers_api()

    def schedulers() -> Any:
        return schedulers_api()

    def upscalers() -> Any:
        return [
            {"name": name, "model_name": model, "model_path": None, "model_url": None, "scale": scale}
            for name, model, scale in UPSCALERS
        ]

    def latent_upscale_modes() -> Any:
        return [{"name": name} for name in LATENT_UPSCALE_MODES]

    def face_restorers() -> Any:
        return [{"name": "CodeFormer", "cmd_dir": None}, {"name": "GFPGAN", "cmd_dir": None}]

    def realesrgan_models() -> Any:
        return [
            {"name": "R-ESRGAN General 4xV3", "path": None, "scale": 4},
            {"name": "R-ESRGAN 4x+", "path": None, "scale": 4},
            {"name": "R-ESRGAN 4x+ Anime6B", "path": None, "scale": 4},
        ]

    def empty_list() -> Any:
        return []

    def scripts() -> Any:
        return scripts_api(allow_code=bool(rt.config.a1111_flags.get("allow_code")))

    def refresh_vae() -> Any:
        with rt.queue_lock:
            pass
        return None

    route = app.add_api_route
    route("/sdapi/v1/samplers", samplers, methods=["GET"], dependencies=deps)
    route("/sdapi/v1/schedulers", schedulers, methods=["GET"], dependencies=deps)
    route("/sdapi/v1/upscalers", upscalers, methods=["GET"], dependencies=deps)
    route("/sdapi/v1/latent-upscale-modes", latent_upscale_modes, methods=["GET"], dependencies=deps)
    route("/sdapi/v1/face-restorers", face_restorers, methods=["GET"], dependencies=deps)
    route("/sdapi/v1/realesrgan-models", realesrgan_models, methods=["GET"], dependencies=deps)
    for path in ("sd-vae", "hypernetworks", "prompt-styles", "script-info", "extensions"):
        route(f"/sdapi/v1/{path}", empty_list, methods=["GET"], dependencies=deps)
    route("/sdapi/v1/scripts", scripts, methods=["GET"], dependencies=deps)
    route("/sdapi/v1/refresh-vae", refresh_vae, methods=["POST"], dependencies=deps)
