"""Memory, command-line flags, the static lists (upscalers, VAEs...) and the server-stop routes."""

from __future__ import annotations

import os
import threading
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.params import Depends

from emulator.host_memory import ram_usage
from emulator.runtime import Runtime
from emulator.scripts import SCRIPT_NAMES
from emulator.upscalers import LATENT_UPSCALE_MODES, UPSCALERS


def register(app: FastAPI, rt: Runtime, deps: list[Depends]) -> None:
    def memory() -> Any:
        return {"ram": ram_usage(), "cuda": rt.device.memory_stats()}

    def cmd_flags() -> Any:
        return rt.config.a1111_flags

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
        return SCRIPT_NAMES

    def refresh_vae() -> Any:
        with rt.queue_lock:
            pass
        return None

    def server_kill() -> Any:
        threading.Timer(0.1, os._exit, args=(0,)).start()
        return None

    def server_restart() -> Any:
        if not os.environ.get("SD_WEBUI_RESTART"):
            raise HTTPException(status_code=501, detail="Restart not supported")
        threading.Timer(0.1, os._exit, args=(0,)).start()
        return None

    def server_stop() -> Any:
        return "Stopping."  # only the UI loop acts on it: with --nowebui nothing stops (§2)

    route = app.add_api_route
    route("/sdapi/v1/memory", memory, methods=["GET"], dependencies=deps)
    route("/sdapi/v1/cmd-flags", cmd_flags, methods=["GET"], dependencies=deps)
    route("/sdapi/v1/upscalers", upscalers, methods=["GET"], dependencies=deps)
    route("/sdapi/v1/latent-upscale-modes", latent_upscale_modes, methods=["GET"], dependencies=deps)
    route("/sdapi/v1/face-restorers", face_restorers, methods=["GET"], dependencies=deps)
    route("/sdapi/v1/realesrgan-models", realesrgan_models, methods=["GET"], dependencies=deps)
    for path in ("sd-vae", "hypernetworks", "prompt-styles", "script-info", "extensions"):
        route(f"/sdapi/v1/{path}", empty_list, methods=["GET"], dependencies=deps)
    route("/sdapi/v1/scripts", scripts, methods=["GET"], dependencies=deps)
    route("/sdapi/v1/refresh-vae", refresh_vae, methods=["POST"], dependencies=deps)
    if rt.config.api_server_stop:
        route("/sdapi/v1/server-kill", server_kill, methods=["POST"], dependencies=deps)
        route("/sdapi/v1/server-restart", server_restart, methods=["POST"], dependencies=deps)
        route("/sdapi/v1/server-stop", server_stop, methods=["POST"], dependencies=deps)
