"""The public task, `txt2img`. Thin: load the job by id, call the runner, report the outcome.

A caller submits with keyword arguments (the job schema): `txt2img.delay(prompt=..., steps=20)`. That
goes through the job service (validate, record), which publishes a message carrying the job id alone;
the AsyncResult's id is the job id, and `.get()` returns the job as the API shows it. Every message
this task receives was published by `worker.celery_app.publish_job`.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from celery import Task
from celery.exceptions import Ignore, TimeoutError
from celery.result import AsyncResult

from worker.celery_app import TASK_NAME, app, ensure_configured, publish_job
from worker.context import WorkerContext, producer_context, worker_context
from worker.errors import JobNotFound, RecordUnavailable
from worker.jobs.queues import checkpoint_queues
from worker.vocabulary import JobStatus, RunOutcome

log = logging.getLogger(__name__)
CLAIM_RETRY_S = 5.0  # a delivery that found Postgres away is published again after this


class JobResult(AsyncResult):  # type: ignore[type-arg]
    """The AsyncResult of a job. There is no result backend: the job row is the result.

    `.get()` waits for the job to end — woken by its event stream, reading the row now and then — and
    returns the job as the API shows it; `.state` maps the job's status onto Celery's states.
    """

    def get(  # type: ignore[override]  # Celery's own parameters are accepted and ignored
        self, timeout: float | None = None, propagate: bool = True, interval: float = 0.5, **_: Any
    ) -> dict[str, Any]:
        """The finished job. Raises celery.exceptions.TimeoutError if it has not ended by `timeout`."""
        jobs = producer_context().jobs
        job = jobs.wait(self.id, timeout_s=timeout)
        if not JobStatus(job.status).is_terminal:
            raise TimeoutError(f"job {self.id} is still {job.status} after {timeout} s")
        return jobs.view(job)

    @property
    def state(self) -> str:  # type: ignore[override]  # REVOKED is one of Celery's states too
        status = JobStatus(producer_context().jobs.store.status(uuid.UUID(self.id)))
        return _CELERY_STATES[status]

    status = state  # type: ignore[assignment]  # Celery's alias

    def ready(self) -> bool:
        return self.state in ("SUCCESS", "FAILURE", "REVOKED")

    def successful(self) -> bool:
        return self.state == "SUCCESS"

    def failed(self) -> bool:
        return self.state in ("FAILURE", "REVOKED")


_CELERY_STATES = {
    JobStatus.QUEUED: "PENDING",
    JobStatus.RUNNING: "STARTED",
    JobStatus.SUCCEEDED: "SUCCESS",
    JobStatus.FAILED: "FAILURE",
    JobStatus.CANCELLED: "REVOKED",
}


class Txt2ImgTask(Task):  # type: ignore[type-arg]
    """Submission through `delay`/`apply_async` goes through the job service: the record comes first."""

    def delay(self, *args: Any, **kwargs: Any) -> AsyncResult:  # type: ignore[type-arg]
        if args:
            raise TypeError("txt2img takes keyword arguments only, e.g. txt2img.delay(prompt='a cat')")
        return self.apply_async(kwargs=kwargs)

    def apply_async(  # type: ignore[override]
        self,
        args: Any = None,
        kwargs: dict[str, Any] | None = None,
        task_id: str | None = None,
        **options: Any,
    ) -> AsyncResult:  # type: ignore[type-arg]
        """Submit a job with the job schema's fields as `kwargs`; raises JobRejected children."""
        if args:
            raise TypeError("txt2img takes keyword arguments only, e.g. txt2img.delay(prompt='a cat')")
        ensure_configured()
        job_id = producer_context().jobs.submit(dict(kwargs or {}))
        return self.AsyncResult(job_id)

    def AsyncResult(self, task_id: str, **kwargs: Any) -> JobResult:  # noqa: N802 - Celery's name
        return JobResult(task_id, task_name=self.name, app=self.app, **kwargs)


@app.task(base=Txt2ImgTask, bind=True, name=TASK_NAME)
def txt2img(self: Txt2ImgTask, job_id: str) -> None:
    """Run job `job_id` on this worker's GPU. Returns nothing: the job row is the result."""
    context = worker_context()
    if _unhealthy(context):
        # A restart loop took this GPU out of rotation: the job goes back to the queue untouched.
        _leave_rotation(self, context)
        publish_job(job_id, context.store.get(uuid.UUID(job_id)).queue)
        raise Ignore()
    try:
        outcome = context.runner.run(uuid.UUID(job_id))
    except RecordUnavailable as exc:  # Postgres is away before the claim: ring again in a while
        log.warning("job %s not claimed (%s); published again in %s s", job_id, exc, CLAIM_RETRY_S)
        queue = (self.request.delivery_info or {}).get("routing_key")
        if queue:  # else the sweeper publishes it again once Postgres is back
            publish_job(job_id, str(queue), countdown_s=CLAIM_RETRY_S)
        raise Ignore() from exc
    if _unhealthy(context):
        _leave_rotation(self, context)
    if outcome.kind is RunOutcome.RETRY:
        publish_job(job_id, outcome.queue, countdown_s=outcome.retry_in_s)
        raise Ignore()
    if outcome.kind is RunOutcome.DUPLICATE:
        try:
            context.store.status(uuid.UUID(job_id))
        except JobNotFound:
            log.warning("message for unknown job %s dropped (another deployment's, or deleted)", job_id)
        raise Ignore()  # finished already, or another delivery holds the job and will record it


def _unhealthy(context: WorkerContext) -> bool:
    """Read afresh at each call: a job can put its GPU into a restart loop."""
    return not context.backend.healthy


def _leave_rotation(task: Txt2ImgTask, context: WorkerContext) -> None:
    """Stop this worker consuming its queues (it stays up, visible in Flower, for an operator to look at)."""
    hostname = str(task.request.hostname)
    log.error(
        "worker %s is unhealthy (A1111 restart loop): it stops taking jobs; restart the worker, or "
        "`celery -A worker.celery_app control add_consumer <queue> -d %s` once A1111 is fixed",
        hostname,
        hostname,
    )
    for checkpoint in context.settings.checkpoints:
        for queue in checkpoint_queues(checkpoint):
            task.app.control.cancel_consumer(queue, destination=[hostname])
