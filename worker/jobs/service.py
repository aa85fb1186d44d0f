"""The job service: what the API, the CLI's client and `txt2img.delay` may do with jobs — submit, get,
wait, cancel, retry, list, view, and what a job is doing now.

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
from worker.errors import InvalidRequest, JobNotFound
from worker.events.stream import JobEvents
from worker.events.waiting import wait_for_end
from worker.jobs.feedback import FeedbackRequest
from worker.jobs.submit import prepare
from worker.jobs.view import Live, job_view
from worker.output.encode import media_type
from worker.output.files import ResultStore
from worker.registry.resolver import RegistryResolver
from worker.settings import CoreSettings
from worker.store.jobs import JobStore
from worker.store.listing import Cursor, JobFilter, JobPage
from worker.store.models import Image, Job
from worker.store.quality import Feedback, QualityStore
from worker.store.quality_stats import DIMENSIONS, QualityStats
from worker.store.records import NewJob
from worker.store.stats import FleetStats
from worker.vocabulary import EventKind, JobStatus
from worker.webhooks.guard import CallbackGuard

Publish = Callable[[str, str], None]  # (job id, queue)
SigningSecret = Callable[[str], str | None]  # API key name -> the secret that signs its webhooks

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
        guard: CallbackGuard | None = None,
        signing_secret: SigningSecret | None = None,
        quality: QualityStore | None = None,
    ) -> None:
        self.store = store
        self.quality = quality or QualityStore(store.engine)  # feedback and statistics
        self.resolver = resolver
        self.settings = settings
        self.results = results
        self.events = events
        self._publish = publish
        self.guard = guard or CallbackGuard.from_settings(
            settings.webhook_allowed_networks, settings.webhook_allowed_hosts
        )
        self._signing_secret = signing_secret

    def submit(
        self,
        data: Any,
        *,
        owner: str | None = None,
        idempotency_key: str | None = None,
        default_callback_url: str | None = None,
    ) -> str:
        """Validate and record a job, publish it, and return its id; raises JobRejected children.

        With an `idempotency_key` already used by `owner`, the existing job's id is returned and
        nothing is published again. The callback URL (the request's, else `default_callback_url`) must
        pass the SSRF guard, and there must be a secret to sign its webhook with.
        """
        new = prepare(data, self.resolver, self.settings)
        wanted = data.get("callback_url") if isinstance(data, dict) else None
        callback_url = self._checked_callback(wanted or default_callback_url, owner)
        new = NewJob(
            **{**vars(new), "owner": owner, "idempotency_key": idempotency_key, "callback_url": callback_url}
        )
        return self._record(new)

    def _record(self, new: NewJob) -> str:
        job, created = self.store.create(new)
        if created:
            # No event yet: a queued job is only its row and its message (a Redis stream costs ~3 KB,
            # so streams begin when a worker starts the job; the API reports a queued job from its row).
            self._publish(str(job.id), job.queue)
        return str(job.id)

    def _checked_callback(self, url: str | None, owner: str | None) -> str | None:
        """Raises InvalidRequest (field `callback_url`) when the URL may not be called or signed for."""
        if not url:
            return None
        self.guard.check(url)
        if owner is None:
            secret = self.settings.webhook_secret
        else:
            secret = self._signing_secret(owner) if self._signing_secret is not None else None
        if not secret:
            how = (
                f"give the key a webhook secret: sdfleet keys webhook-secret {owner}"
                if owner
                else "set SDFLEET_WEBHOOK_SECRET"
            )
            raise InvalidRequest(f"callback_url: there is no secret to sign its webhook with; {how}",
                                 field="callback_url", value=url)  # fmt: skip
        return url

    def retry(self, job_id: str | uuid.UUID, *, caller: str | None = None) -> str:
        """A new job with the failed or cancelled job's parameters and seed, linked to it (`retry_of`);
        returns its id. Raises JobNotFound, or InvalidRequest (field `status`) for a job that did not
        fail and was not cancelled."""
        original = self.get(job_id, caller=caller)
        if original.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
            raise InvalidRequest(
                f"only a failed or cancelled job can be retried; job {original.id} is {original.status}",
                field="status",
                value=original.status,
            )
        return self._record(
            NewJob(
                checkpoint=original.checkpoint,
                queue=original.queue,
                params=original.params,
                seed=original.seed,
                batch_size=original.batch_size,
                max_attempts=self.settings.max_attempts,
                owner=original.owner,
                callback_url=original.callback_url,
                retry_of=original.id,
            )
        )

    def get(self, job_id: str | uuid.UUID, *, caller: str | None = None) -> Job:
        """The job with its attempts and images. Raises JobNotFound for an id that is not a UUID, names
        no job, or names another caller's job (`caller` None: any job)."""
        job = self.store.get(_parse_id(job_id))
        if caller is not None and job.owner not in (None, caller):
            raise JobNotFound(f"no job with id {job_id}")
        return job

    def live(self, job: Job) -> Live | None:
        """What an unfinished job is doing now: its queue position, or its latest progress (None for a
        finished job)."""
        if job.status == JobStatus.QUEUED:
            return Live(queue_position=self.store.standing(job.id)[1])
        if job.status != JobStatus.RUNNING:
            return None
        progress = self.events.last(job.id, EventKind.PROGRESS) if self.events is not None else None
        if progress is None or progress.data.get("attempt") != job.attempt:
            return Live()
        return Live(progress=progress.data, eta_s=progress.data.get("eta_s"))

    def list(self, where: JobFilter, *, limit: int = 50, cursor: str | None = None) -> JobPage:
        """One page of jobs, newest first; `cursor` is a previous page's `next_cursor`. Raises
        InvalidRequest (field `cursor`) for a cursor this service did not give."""
        return self.store.page(where, limit=limit, after=Cursor.decode(cursor) if cursor else None)

    def stats(self, *, owner: str | None, hours: int = 24) -> FleetStats:
        """Counts of `owner`'s jobs (None: everyone's) over the last `hours`, and the queues now."""
        return self.store.stats(owner=owner, hours=hours)

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
        """(path, media type) of image `index` of `job`, or None if it has no such image; not counted
        as a download (see `download_image`)."""
        for image in job.images:
            if image.index == index:
                path = self.results.path(image.storage_path)
                return path, media_type(path)
        return None

    def rate_image(
        self, job_id: str | uuid.UUID, index: int, request: FeedbackRequest, *, caller: str | None
    ) -> Feedback:
        """Record `caller`'s rating of image `index` of their job (a new rating replaces theirs). Raises
        JobNotFound for another caller's job or an image the job does not have."""
        job = self.get(job_id, caller=caller)
        self._image(job, index)
        return self.quality.rate(job, index, caller, request.as_rating())

    def download_image(self, job_id: str | uuid.UUID, index: int, *, caller: str | None) -> tuple[Path, str]:
        """(path, media type) of image `index` of `caller`'s job, the download counted as implicit
        feedback. Raises JobNotFound for another caller's job or an image the job does not have."""
        job = self.get(job_id, caller=caller)
        self._image(job, index)
        self.quality.downloaded(job, index, caller)
        found = self.image_file(job, index)
        assert found is not None  # the image exists: checked above
        return found

    def quality_stats(
        self, *, caller: str | None, hours: int, by: tuple[str, ...] = DIMENSIONS, limit: int = 50
    ) -> QualityStats:
        """Quality statistics of `caller`'s jobs (None: everyone's) that ended in the last `hours`."""
        return self.quality.stats(owner=caller, hours=hours, by=by, limit=limit)

    @staticmethod
    def _image(job: Job, index: int) -> Image:
        for image in job.images:
            if image.index == index:
                return image
        raise JobNotFound(
            f"job {job.id} has no image {index} (it has {len(job.images)}; status {job.status})"
        )

    @staticmethod
    def view(job: Job, *, image_url: str | None = None, live: Live | None = None) -> dict[str, Any]:
        """The JSON form of a job (see `worker.jobs.view`)."""
        return job_view(job, image_url=image_url, live=live)


def _parse_id(job_id: str | uuid.UUID) -> uuid.UUID:
    if isinstance(job_id, uuid.UUID):
        return job_id
    try:
        return uuid.UUID(job_id)
    except ValueError:
        raise JobNotFound(f"no job with id {job_id!r}: job ids are UUIDs") from None
