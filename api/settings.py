"""Settings of the API process (`SDFLEET_*` variables; see docs/configuration.md)."""

from __future__ import annotations

from pydantic import Field

from worker.settings import CoreSettings


class ApiSettings(CoreSettings):
    """The producer API: the core settings plus how it listens and authenticates."""

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_processes: int = Field(
        default=1, ge=1, description="API processes (uvicorn workers); about one per core is enough."
    )
    api_auth: bool = Field(default=True, description="Require an API key on /v1 routes.")
    sync_wait_s: float = Field(default=600.0, description="Longest wait of the A1111-compatible routes.")
    events_heartbeat_s: float = Field(
        default=15.0, gt=0, description="A comment line on an idle event stream this often (for proxies)."
    )
    queue_position_every_s: float = Field(
        default=2.0, gt=0, description="How often an event stream re-reads a queued job's position."
    )
