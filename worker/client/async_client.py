"""The asyncio client: `AsyncSdfleetClient(base_url, api_key)`, the same calls as `SdfleetClient`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from httpx_sse import aconnect_sse

from worker.client.common import JobEvent, headers, image_path, list_query, parse_event, quality_query
from worker.client.errors import error_for, unreachable
from worker.client.sync_client import RECONNECTS
from worker.errors import ApiUnavailable
from worker.jobs.documents import Accepted, JobDocument, JobList, StatsDocument
from worker.jobs.quality_documents import FeedbackDocument, QualityStatsDocument


class AsyncSdfleetClient:
    """As `SdfleetClient`, for asyncio applications; raises the same exceptions."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout_s: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=headers(api_key), timeout=timeout_s, transport=transport
        )

    async def __aenter__(self) -> AsyncSdfleetClient:
        return self

    async def __aexit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise unreachable(self.base_url, exc) from exc
        if response.is_error:
            raise error_for(response)
        return response

    async def submit(self, prompt: str, *, idempotency_key: str | None = None, **params: Any) -> str:
        extra = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        response = await self._call("POST", "/v1/jobs", json={"prompt": prompt, **params}, headers=extra)
        return Accepted.model_validate(response.json()).id

    async def get(self, job_id: str) -> JobDocument:
        return JobDocument.model_validate((await self._call("GET", f"/v1/jobs/{job_id}")).json())

    async def cancel(self, job_id: str) -> JobDocument:
        return JobDocument.model_validate((await self._call("POST", f"/v1/jobs/{job_id}/cancel")).json())

    async def retry(self, job_id: str) -> str:
        return Accepted.model_validate((await self._call("POST", f"/v1/jobs/{job_id}/retry")).json()).id

    async def list_jobs(
        self,
        *,
        status: str | list[str] | None = None,
        checkpoint: str | None = None,
        failure_category: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> JobList:
        query = list_query(
            status=status,
            checkpoint=checkpoint,
            failure_category=failure_category,
            created_after=created_after,
            created_before=created_before,
            limit=limit,
            cursor=cursor,
        )
        return JobList.model_validate((await self._call("GET", "/v1/jobs", params=query)).json())

    async def stats(self, hours: int = 24) -> StatsDocument:
        response = await self._call("GET", "/v1/stats", params={"hours": hours})
        return StatsDocument.model_validate(response.json())

    async def quality_stats(
        self, hours: int = 24, *, by: list[str] | None = None, limit: int = 50
    ) -> QualityStatsDocument:
        """As `SdfleetClient.quality_stats`."""
        response = await self._call("GET", "/v1/stats/quality", params=quality_query(hours, by, limit))
        return QualityStatsDocument.model_validate(response.json())

    async def rate_image(
        self, job_id: str, index: int, rating: str | int, reason: str | None = None
    ) -> FeedbackDocument:
        """As `SdfleetClient.rate_image`."""
        body = {"rating": rating, **({"reason": reason} if reason is not None else {})}
        response = await self._call("POST", f"/v1/jobs/{job_id}/images/{index}/feedback", json=body)
        return FeedbackDocument.model_validate(response.json())

    async def events(self, job_id: str, *, last_event_id: str | None = None) -> AsyncIterator[JobEvent]:
        """As `SdfleetClient.events`."""
        drops = 0
        while True:
            extra = {"Last-Event-ID": last_event_id} if last_event_id else {}
            try:
                async with aconnect_sse(
                    self._http, "GET", f"/v1/jobs/{job_id}/events", headers=extra
                ) as source:
                    if source.response.is_error:
                        await source.response.aread()
                        raise error_for(source.response)
                    async for sse in source.aiter_sse():
                        if not sse.data:
                            continue  # a heartbeat comment
                        event = parse_event(sse)
                        drops = 0
                        last_event_id = event.id or last_event_id
                        yield event
                        if event.final:
                            return
            except httpx.HTTPError as exc:
                drops += 1
                if drops > RECONNECTS:
                    raise unreachable(self.base_url, exc) from exc
                await asyncio.sleep(min(2.0, 0.2 * drops))
                continue
            drops += 1
            if drops > RECONNECTS:
                raise ApiUnavailable(f"the event stream of job {job_id} keeps ending without an outcome")

    async def wait(self, job_id: str, *, on_event: Callable[[JobEvent], None] | None = None) -> JobDocument:
        async for event in self.events(job_id):
            if on_event is not None:
                on_event(event)
            if event.final and event.job is not None:
                return event.job
        return await self.get(job_id)

    async def download_images(self, job: JobDocument, folder: Path) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        saved = []
        for image in job.images:
            target = image_path(folder, job, image)
            response = await self._call("GET", f"/v1/jobs/{job.id}/images/{image.index}")
            target.write_bytes(response.content)
            saved.append(target)
        return saved
