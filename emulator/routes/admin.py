"""The emulator's own admin API under `/emulator/v1/` (docs/emulator.md): faults, stats, config.

Kept apart from the A1111 routes on purpose: nothing in an A1111 request can reach it. It has no
authentication; like A1111 the server listens on every interface by default, so changing faults (which
can kill the process) is refused to clients outside this host unless the operator exposed the server
on purpose with `--listen` or `--server-name`.
"""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any, Protocol

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from emulator.faults import Fault, FaultKind, FaultSpec
from emulator.runtime import Runtime


class Listener(Protocol):
    """What the admin API needs from the server: closing the listening socket for a while."""

    async def refuse_for(self, seconds: float) -> None: ...


def _stats(rt: Runtime) -> dict[str, Any]:
    loaded = rt.loader.loaded
    return {
        **rt.stats.snapshot(),
        "loaded_model": loaded.title if loaded else None,
        "loaded_model_arch": loaded.arch.value if loaded else None,
        "model_on_device": rt.loader.on_device,
        "model_loading": rt.loader.is_loading(),
        "queue_waiting": rt.queue_lock.waiting(),
        "queue_busy": rt.queue_lock.locked(),
        "vram_resident_mib": round(rt.device.resident_mib(), 1),
        "clock_slept_s": round(rt.clock.slept_s(), 6),
        "cuda_oom_events": rt.device.num_ooms,
        "active_faults": len(rt.faults.active()),
    }


def _config(rt: Runtime) -> dict[str, Any]:
    c = rt.config
    return {
        "host": c.host, "port": c.port, "time_scale": c.time_scale, "vram_mb": c.vram_mb,
        "gpu_speed": c.gpu_speed, "linear_attention": c.linear_attention,
        "load_s": {arch.value: s for arch, s in c.load_s.items()}, "sampler_mode": c.sampler_mode,
        "version": c.version, "hashing": c.hashing, "ckpt_dir": str(c.ckpt_dir) if c.ckpt_dir else None,
        "lora_dir": str(c.lora_dir) if c.lora_dir else None,
        "no_half": c.precision.no_half, "no_half_vae": c.precision.no_half_vae,
        "gpu": {"index": c.gpu.index, "name": c.gpu.name, "uuid": c.gpu.uuid, "hostname": c.gpu.hostname},
    }  # fmt: skip


def _public(faults: list[Fault]) -> list[dict[str, Any]]:
    return [fault.public() for fault in faults]


def is_loopback(host: str | None) -> bool:
    """Whether a client address is this host's loopback (IPv4-mapped IPv6 included)."""
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def register(app: FastAPI, rt: Runtime, listener: Listener | None) -> None:
    pending: set[asyncio.Task[None]] = set()

    def local_only(request: Request) -> None:
        """Raises HTTPException 403 for a client outside this host, unless exposed on purpose."""
        if rt.config.admin_from_network or is_loopback(request.client.host if request.client else None):
            return
        raise HTTPException(
            403,
            "faults can be changed only from this host (start with --listen or --server-name to allow it)",
        )

    async def add_faults(body: FaultSpec | list[FaultSpec]) -> Any:
        specs = body if isinstance(body, list) else [body]
        if any(spec.kind is FaultKind.SLOW_STARTUP for spec in specs):
            raise HTTPException(
                422, "slow_startup acts at start-up only: pass it with --emu-fault or A1111_EMU_FAULTS"
            )
        refusals = [s for s in specs if s.kind is FaultKind.REFUSE_CONNECTIONS]
        if refusals and listener is None:
            raise HTTPException(
                409, "this server cannot close its listener (not started by python -m emulator)"
            )
        added = rt.faults.add([s for s in specs if s.kind is not FaultKind.REFUSE_CONNECTIONS])
        for spec in refusals:
            assert listener is not None
            task = asyncio.create_task(_refuse_soon(listener, spec.seconds))
            pending.add(task)
            task.add_done_callback(pending.discard)
            rt.stats.bump("faults_fired")
        return JSONResponse({"added": _public(added), "faults": _public(rt.faults.active())})

    def list_faults() -> Any:
        return {"faults": _public(rt.faults.active())}

    def clear_faults() -> Any:
        rt.faults.clear()
        return {"faults": []}

    def stats() -> Any:
        return _stats(rt)

    def config() -> Any:
        return _config(rt)

    writes = [Depends(local_only)]
    app.add_api_route("/emulator/v1/faults", add_faults, methods=["POST"], dependencies=writes)
    app.add_api_route("/emulator/v1/faults", list_faults, methods=["GET"])
    app.add_api_route("/emulator/v1/faults", clear_faults, methods=["DELETE"], dependencies=writes)
    app.add_api_route("/emulator/v1/stats", stats, methods=["GET"])
    app.add_api_route("/emulator/v1/config", config, methods=["GET"])


async def _refuse_soon(listener: Listener, seconds: float) -> None:
    await asyncio.sleep(0.05)  # let the admin response go out first
    await listener.refuse_for(seconds)
