"""What the blocking and the asyncio client share: query building, event parsing, file names."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from httpx_sse import ServerSentEvent

from worker.jobs.documents import ImageRef, JobDocument

FINAL_EVENTS = ("succeeded", "failed", "cancelled")
API_KEY_HEADER = "Authorization"


@dataclass(frozen=True)
class JobEvent:
    """One Server-Sent Event of a job: its id (None for the queue position), kind and data."""

    id: str | None
    event: str
    data: dict[str, Any]

    @property
    def final(self) -> bool:
        """The outcome: the last event of the stream; `job` holds the finished job."""
        return self.event in FINAL_EVENTS

    @property
    def job(self) -> JobDocument | None:
        found = self.data.get("job")
        return JobDocument.model_validate(found) if self.final and isinstance(found, dict) else None


def parse_event(sse: ServerSentEvent) -> JobEvent:
    try:
        data = json.loads(sse.data) if sse.data else {}
    except ValueError:
        data = {"raw": sse.data}
    return JobEvent(sse.id or None, sse.event, data if isinstance(data, dict) else {"value": data})


def headers(api_key: str | None) -> dict[str, str]:
    return {API_KEY_HEADER: f"Bearer {api_key}"} if api_key else {}


def list_query(
    *,
    status: str | list[str] | None,
    checkpoint: str | None,
    failure_category: str | None,
    created_after: datetime | None,
    created_before: datetime | None,
    limit: int,
    cursor: str | None,
) -> list[tuple[str, str]]:
    query: list[tuple[str, str]] = [("limit", str(limit))]
    for value in [status] if isinstance(status, str) else status or []:
        query.append(("status", value))
    named = {"checkpoint": checkpoint, "failure_category": failure_category, "cursor": cursor}
    query += [(key, value) for key, value in named.items() if value is not None]
    for key, moment in (("created_after", created_after), ("created_before", created_before)):
        if moment is not None:
            query.append((key, moment.isoformat()))
    return query


def quality_query(hours: int, by: list[str] | None, limit: int) -> dict[str, Any]:
    """The query of GET /v1/stats/quality (`by` None: the server's default, all five dimensions)."""
    return {"hours": hours, "limit": limit, **({"by": by} if by else {})}


def image_path(folder: Path, job: JobDocument, image: ImageRef) -> Path:
    """Where an image of `job` is saved: `<folder>/<job id>-<index>.<its format>`."""
    suffix = Path(image.path).suffix or ".png"
    return folder / f"{job.id}-{image.index}{suffix}"
