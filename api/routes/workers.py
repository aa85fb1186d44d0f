"""`/v1/workers`: every GPU worker of the fleet as it last published itself (Redis; no Postgres)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from api.deps import CallerDep, ResourcesDep
from worker.fleet.table import fleet

router = APIRouter(prefix="/v1/workers", tags=["fleet"])


@router.get("", summary="Every worker: state, loaded checkpoint, current job, VRAM, GPU, counters")
async def list_workers(resources: ResourcesDep, caller: CallerDep) -> dict[str, Any]:
    views = await run_in_threadpool(fleet, resources.settings)
    return {
        "offline_after_s": resources.settings.worker_offline_after_s,
        "workers": [view.as_json() for view in views],
    }
