"""`sdfleet workers`: the fleet as a table (rich), or as the JSON `GET /v1/workers` returns."""

from __future__ import annotations

import json
import time

import redis
from rich.console import Console
from rich.table import Table

from worker.errors import ConfigurationError
from worker.fleet.state import WorkerState, WorkerView, read_fleet
from worker.settings import CoreSettings

_STYLE = {
    WorkerState.IDLE: "green",
    WorkerState.BUSY: "cyan",
    WorkerState.STARTING: "yellow",
    WorkerState.DRAINING: "magenta",
    WorkerState.UNHEALTHY: "bold red",
    WorkerState.OFFLINE: "dim",
}


def fleet(settings: CoreSettings) -> list[WorkerView]:
    """Every worker's view, read from Redis; raises ConfigurationError without a Redis URL."""
    if not settings.redis_url:
        raise ConfigurationError("SDFLEET_REDIS_URL is not set: the fleet's state lives in Redis")
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=5)
    try:
        return read_fleet(client, settings.worker_offline_after_s)
    finally:
        client.close()


def _number(value: float | None, unit: str = "", digits: int = 0) -> str:
    return "–" if value is None else f"{value:.{digits}f}{unit}"


def table(views: list[WorkerView], now: float) -> Table:
    grid = Table(title=f"sdfleet: {len(views)} workers", title_justify="left")
    for column in ("worker", "gpu", "state", "model", "job", "VRAM (MiB)", "util", "temp", "jobs", "images",
                   "heartbeat"):  # fmt: skip
        grid.add_column(column, justify="right" if column in ("jobs", "images", "util", "temp") else "left")
    for v in views:
        model = f"{v.checkpoint or '–'} ({v.model_status or '?'})"
        if v.assigned and v.assigned != v.checkpoint:
            model += f" → {v.assigned}"
        vram = f"{_number(v.vram_used_mb)}/{_number(v.vram_total_mb)}"
        seen = f"{now - v.last_heartbeat:.0f} s ago" if v.last_heartbeat else "never"
        grid.add_row(
            v.name,
            f"{v.gpu_index if v.gpu_index is not None else '–'} {v.gpu_label or ''}".strip(),
            f"[{_STYLE[v.state]}]{v.state.value}[/]",
            model,
            (v.job or "")[:8],
            vram,
            _number(v.gpu_utilization_pct, "%"),
            _number(v.gpu_temperature_c, "°C"),
            str(v.jobs_done),
            str(v.images_done),
            seen,
        )
    return grid


def print_fleet(settings: CoreSettings, *, as_json: bool = False, console: Console | None = None) -> int:
    views = fleet(settings)
    out = console or Console()
    if as_json:
        out.print_json(json.dumps({"workers": [v.as_json() for v in views]}))
    else:
        out.print(table(views, time.time()))
    return 0
