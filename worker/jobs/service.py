"""The job service: what the API and `txt2img.delay` may do with jobs — submit, get, wait, cancel, view.

This is the one door between the producer side and the job logic. Submission records the job first and
then publishes its id (Postgres is the record, Redis the doorbell): a crash between the two leaves a
queued job whose message is in no queue, which the sweeper publishes. Waiting is woken by the job's
event stream (`worker.events`), with the row as the truth.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from worker.celery_app import publish_job
from worker.errors import JobNotFound
from worker.events.stream import JobEvents
from worker.events.waiting import wait_for_end
from worker.jobs.submit import prepare
from worker.jobs.view import job_view
from worker.output.encode import media_type
from worker.output.files import ResultStore
from worker.registry.resolver import RegistryResolver
from worker.settings import CoreSettings
from worker.store.jobs import JobStore
from worker.store.models import Job
from worker.store.records import NewJob
from worker.vocabulary import EventKind, JobStatus

Publish = Callable[[str, str], None]  # (job id, queue)

__all__ = ["Job", "JobService", "Publish"]


class JobService:
    """Jobs as callers see them. Each method is a few short transactions; none waits for a GPU."""

    def __init__(
        self,
        *,
        store: JobStore,
        resolver: RegistryResolver,
        settings: CoreSettings,
        results: ResultStore,
        events: JobEvents | None,
        publish: Publish = publish_job,
    ) -> None:
        self.store = store
        self.resolver = resolver
        self.settings = settings
        self.results = results
        self.events = events
        self._publish = publish

    def submit(self, data: Any, *, owner: str | None = None, idempotency_key: str | None = None) -> str:
        """Validate and record a job, publish it, and return its id; raises JobRejected children.

        With an `idempotency_key` already used by `owner`, the existing job's id is returned and
        nothing is published again.
        """
        new = prepare(data, self.resolver, self.settings)
        new = NewJob(**{**vars(new), "owner": owner, "idempotency_key": idempotency_key})
        job, created = self.store.create(new)
        if created:
            # No event yet: a queued job is only its row and its message (a Redis stream costs ~3 KB,
            # so streams begin when a worker starts the job; the API reports a queued job from its row).
            self._publish(str(job.id), job.queue)
        return str(job.id)

    def get(self, job_id: str | uuid.UUID, *, caller: str | None = None) -> Job:
        """The job with its attempts and images. Raises JobNotFound for an id that is not a UUID, names
        no job, or names another caller's job (`caller` None: any job)."""
        job = self.store.get(_parse_id(job_id))
        if caller is not None and job.owner not in (None, caller):
            raise JobNotFound(f"no job with id {job_id}")
        return job

    def wait(self, job_id: str | uuid.UUID, *, timeout_s: float | None) -> Job:
        """The job once it has ended, or as it is when `timeout_s` passes (None: no limit)."""
        parsed = _parse_id(job_id)
        if self.events is not None:
            wait_for_end(self.events, parsed, ended=lambda: self._ended(parsed), timeout_s=timeout_s)
        return self.store.get(parsed)

    def _ended(self, job_id: uuid.UUID) -> bool:
        return JobStatus(self.store.status(job_id)).is_terminal

    def cancel(self, job_id: str | uuid.UUID, *, caller: str | None = None) -> Job:
        """Cancel a queued job at once; ask a running one to stop. Finished jobs are left as they are."""
        job = self.get(job_id, caller=caller)
        cancelled = self.store.request_cancel(job.id)
        if (
            self.events is not None
            and cancelled.status == JobStatus.CANCELLED
            and job.status != cancelled.status
        ):
            self.events.emit(job.id, EventKind.CANCELLED, message=cancelled.failure_message)
        return cancelled

    def image_file(self, job: Job, index: int) -> tuple[Path, str] | None:
        """(path, media type) of image `index` of `job`, or None if it has no such image."""
        for image in job.images:
            if image.index == index:
                path = self.results.path(image.storage_path)
                return path, media_type(path)
        return None

    @staticmethod
    def view(job: Job, *, image_url: str | None = None) -> dict[str, Any]:
        """The JSON form of a job (see `worker.jobs.view`)."""
        return job_view(job, image_url=image_url)


def _parse_id(job_id: str | uuid.UUID) -> uuid.UUID:
    if isinstance(job_id, uuid.UUID):
        return job_id
    try:
        return uuid.UUID(job_id)
    except ValueError:
        raise JobNotFound(f"no job with id {job_id!r}: job ids are UUIDs") from None
