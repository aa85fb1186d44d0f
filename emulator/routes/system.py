"""Memory, command-line flags and the server-stop routes."""

from __future__ import annotations

import os
import threading
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.params import Depends

from emulator.runtime import Runtime


def ram_usage() -> dict[str, Any]:
    """The `ram` object of `/memory` in bytes, read from /proc (A1111 uses psutil, which we do not depend
    on): used is this process's RSS, as A1111 reports it; {error} where /proc is missing."""
    try:
        with open("/proc/self/statm") as statm:
            rss = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError, IndexError) as exc:
        return {"error": f"{exc}"}
    return {"free": float(total - rss), "used": rss, "total": float(total)}


def register(app: FastAPI, rt: Runtime, deps: list[Depends]) -> None:
    def memory() -> Any:
        return {"ram": ram_usage(), "cuda": rt.device.memory_stats()}

    def cmd_flags() -> Any:
        return rt.config.a1111_flags

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
    if rt.config.api_server_stop:
        route("/sdapi/v1/server-kill", server_kill, methods=["POST"], dependencies=deps)
        route("/sdapi/v1/server-restart", server_restart, methods=["POST"], dependencies=deps)
        route("/sdapi/v1/server-stop", server_stop, methods=["POST"], dependencies=deps)
