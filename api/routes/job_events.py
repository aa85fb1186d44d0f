"""`GET /v1/jobs/{id}/events`: a job's progress as Server-Sent Events (sse-starlette), until its outcome.

Events: `queue` ({"position"}) while it is queued, then the job's stream as it happens (`started`,
`checkpoint`, `progress`, `oom`, `retry`, `lost`, each with its stream id as the SSE id), then the outcome
(`succeeded`, `failed` or `cancelled`, with the job's JSON view in `job`), and the response ends. Send
`Last-Event-ID` to resume after an event (any replica serves it: the stream is in Redis). A comment line
every `SDFLEET_EVENTS_HEARTBEAT_S` keeps proxies from closing an idle stream. Postgres is read in the
thread pool and Redis with redis.asyncio: the event loop never blocks.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.concurrency import run_in_threadpool
from sse_starlette import EventSourceResponse, ServerSentEvent

from api.deps import CallerDep, ResourcesDep
from api.responses import ERRORS
from api.routes.jobs import image_url, owner
from worker.errors import InvalidRequest
from worker.events.follow import EVENT_ID, Standing, Update, follow

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
RECONNECT_MS = 2000  # what a browser's EventSource waits before it reconnects


@router.get(
    "/{job_id}/events",
    summary="Follow a job: queue position, started, progress, OOM splits, retries, then the outcome (SSE)",
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": "text/event-stream; each event's data is a JSON object with `event` and `id`",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **ERRORS,
    },
)
async def job_events(
    job_id: str,
    request: Request,
    resources: ResourcesDep,
    caller: CallerDep,
    last_event_id: Annotated[str | None, Header(max_length=64)] = None,
) -> EventSourceResponse:
    if last_event_id is not None and not EVENT_ID.match(last_event_id):
        raise InvalidRequest(
            f"Last-Event-ID must be an id this stream sent (like 1733130000000-0), got {last_event_id!r}",
            field="Last-Event-ID",
            value=last_event_id,
        )
    jobs = resources.jobs
    job = await run_in_threadpool(jobs.get, job_id, caller=owner(caller))  # 404 before the stream starts
    url = image_url(request, resources)

    async def standing() -> Standing:
        status, position = await run_in_threadpool(jobs.store.standing, job.id)
        return Standing(status, position)

    async def outcome() -> dict[str, Any]:
        return jobs.view(await run_in_threadpool(jobs.get, job.id), image_url=url)

    updates = follow(
        uuid.UUID(str(job.id)),
        events=resources.events,
        standing=standing,
        outcome=outcome,
        after=last_event_id or "0",
        recheck_s=resources.settings.queue_position_every_s,
    )
    return EventSourceResponse(_sse(updates), ping=resources.settings.events_heartbeat_s)


async def _sse(updates: AsyncIterator[Update]) -> AsyncIterator[ServerSentEvent]:
    first = True
    async for update in updates:
        yield ServerSentEvent(
            data=json.dumps(update.data, default=str),
            event=update.event,
            id=update.id,
            retry=RECONNECT_MS if first else None,
        )
        first = False
