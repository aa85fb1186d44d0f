"""The blocking client: `SdfleetClient(base_url, api_key)`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from httpx_sse import connect_sse

from worker.client.common import JobEvent, headers, image_path, list_query, parse_event, quality_query
from worker.client.errors import error_for, unreachable
from worker.errors import ApiUnavailable
from worker.jobs.documents import Accepted, JobDocument, JobList, JobSummary, StatsDocument
from worker.jobs.quality_documents import FeedbackDocument, QualityStatsDocument

RECONNECTS = 5  # an event stream that drops is resumed (Last-Event-ID) this many times in a row


class SdfleetClient:
    """Submit, read, list, follow and download jobs of one sdfleet API. Raises `worker.errors`
    exceptions: `JobRejected` children for a 422 (with `.problems`), `JobNotFound`, `AccessDenied`,
    `ApiUnavailable` (429/503, or the API cannot be reached)."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers(api_key), timeout=timeout_s, transport=transport
        )

    def __enter__(self) -> SdfleetClient:
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise unreachable(self.base_url, exc) from exc
        if response.is_error:
            raise error_for(response)
        return response

    def submit(self, prompt: str, *, idempotency_key: str | None = None, **params: Any) -> str:
        """Submit a job (fields as in docs/jobs.md) and return its id."""
        extra = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        response = self._call("POST", "/v1/jobs", json={"prompt": prompt, **params}, headers=extra)
        return Accepted.model_validate(response.json()).id

    def get(self, job_id: str) -> JobDocument:
        return JobDocument.model_validate(self._call("GET", f"/v1/jobs/{job_id}").json())

    def cancel(self, job_id: str) -> JobDocument:
        return JobDocument.model_validate(self._call("POST", f"/v1/jobs/{job_id}/cancel").json())

    def retry(self, job_id: str) -> str:
        """A new job from a failed or cancelled one; returns the new job's id."""
        return Accepted.model_validate(self._call("POST", f"/v1/jobs/{job_id}/retry").json()).id

    def list_jobs(
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
        """One page of the caller's jobs, newest first; pass `next_cursor` back for the next page."""
        query = list_query(
            status=status,
            checkpoint=checkpoint,
            failure_category=failure_category,
            created_after=created_after,
            created_before=created_before,
            limit=limit,
            cursor=cursor,
        )
        return JobList.model_validate(self._call("GET", "/v1/jobs", params=query).json())

    def iter_jobs(self, **filters: Any) -> Iterator[JobSummary]:
        """Every job `list_jobs` would give, page after page."""
        cursor = None
        while True:
            page = self.list_jobs(**filters, cursor=cursor)
            yield from page.jobs
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def stats(self, hours: int = 24) -> StatsDocument:
        return StatsDocument.model_validate(self._call("GET", "/v1/stats", params={"hours": hours}).json())

    def quality_stats(
        self, hours: int = 24, *, by: list[str] | None = None, limit: int = 50
    ) -> QualityStatsDocument:
        """Where quality comes from: the caller's jobs that ended in the last `hours`, grouped `by`."""
        query = quality_query(hours, by, limit)
        return QualityStatsDocument.model_validate(
            self._call("GET", "/v1/stats/quality", params=query).json()
        )

    def rate_image(
        self, job_id: str, index: int, rating: str | int, reason: str | None = None
    ) -> FeedbackDocument:
        """Rate image `index` of a job: "up"/"down" or 1–5 stars; a new rating replaces the caller's."""
        body = {"rating": rating, **({"reason": reason} if reason is not None else {})}
        response = self._call("POST", f"/v1/jobs/{job_id}/images/{index}/feedback", json=body)
        return FeedbackDocument.model_validate(response.json())

    def events(self, job_id: str, *, last_event_id: str | None = None) -> Iterator[JobEvent]:
        """The job's events until its outcome (the last one yielded). A dropped connection is resumed
        after the last event received (Last-Event-ID), up to RECONNECTS times in a row."""
        drops = 0
        while True:
            extra = {"Last-Event-ID": last_event_id} if last_event_id else {}
            try:
                with connect_sse(self._http, "GET", f"/v1/jobs/{job_id}/events", headers=extra) as source:
                    if source.response.is_error:
                        source.response.read()
                        raise error_for(source.response)
                    for sse in source.iter_sse():
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
                time.sleep(min(2.0, 0.2 * drops))
                continue
            drops += 1  # the stream ended without an outcome (a replica stopped): resume
            if drops > RECONNECTS:
                raise ApiUnavailable(f"the event stream of job {job_id} keeps ending without an outcome")

    def wait(self, job_id: str, *, on_event: Callable[[JobEvent], None] | None = None) -> JobDocument:
        """The job once it has ended, following its events (each passed to `on_event`)."""
        for event in self.events(job_id):
            if on_event is not None:
                on_event(event)
            if event.final and event.job is not None:
                return event.job
        return self.get(job_id)

    def download_images(self, job: JobDocument, folder: Path) -> list[Path]:
        """Save every image of `job` into `folder` (created if missing); returns the paths."""
        folder.mkdir(parents=True, exist_ok=True)
        saved = []
        for image in job.images:
            target = image_path(folder, job, image)
            response = self._call("GET", f"/v1/jobs/{job.id}/images/{image.index}")
            target.write_bytes(response.content)
            saved.append(target)
        return saved
