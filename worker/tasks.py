"""The public task, `txt2img`. Thin: load the job by id, call the job logic, report the outcome.

A caller submits with keyword arguments (the job schema): `txt2img.delay(prompt=..., steps=20)`. That
validates, writes the job row, and only then publishes a message carrying the job id alone; the
AsyncResult's id is the job id, and `.get()` returns the job as the API shows it.
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

from celery import Task
from celery.exceptions import Ignore
from celery.result import AsyncResult

if TYPE_CHECKING:
    from worker.context import WorkerContext

from worker.celery_app import app, ensure_configured
from worker.errors import JobNotFound
from worker.jobs.submit import submit
from worker.jobs.view import job_view
from worker.queues import checkpoint_queue

log = logging.getLogger(__name__)


class JobResult(AsyncResult):  # type: ignore[type-arg]
    """The AsyncResult of a job: `.get()` polls the Postgres result backend every 0.1 s, not 0.5 s."""

    def get(  # type: ignore[override]  # the same parameters; only the interval default differs
        self, timeout: float | None = None, propagate: bool = True, interval: float = 0.1, **kwargs: Any
    ) -> Any:
        return super().get(timeout=timeout, propagate=propagate, interval=interval, **kwargs)


class Txt2ImgTask(Task):  # type: ignore[type-arg]
    """Submission through `delay`/`apply_async` goes through the job schema and the record first."""

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
        ensure_configured()
        kwargs = dict(kwargs or {})
        if set(kwargs) == {"job_id"} and not args:  # our own publish, a retry, or the sweeper
            return super().apply_async(args, kwargs, task_id=task_id, **options)
        from worker.context import producer_context  # the producer is built on first use, not at import

        producer = producer_context()
        job_id = submit(
            kwargs,
            store=producer.store,
            resolver=producer.resolver,
            settings=producer.settings,
            publish=lambda jid, queue: self.publish(jid, queue),
        )
        return self.AsyncResult(job_id)

    def AsyncResult(self, task_id: str, **kwargs: Any) -> JobResult:  # noqa: N802 - Celery's name
        return JobResult(task_id, backend=self.backend, task_name=self.name, app=self.app, **kwargs)

    def publish(self, job_id: str, queue: str) -> None:
        """Ring the doorbell for a recorded job: a message with its id, on its checkpoint's queue."""
        super().apply_async(kwargs={"job_id": job_id}, task_id=job_id, queue=queue)


@app.task(base=Txt2ImgTask, bind=True, name="sdfleet.txt2img", max_retries=None)
def txt2img(self: Txt2ImgTask, job_id: str) -> dict[str, Any]:
    """Run job `job_id` on this worker's GPU; returns the job once it is finished."""
    from worker.context import worker_context

    context = worker_context()
    if _unhealthy(context):
        # A restart loop took this GPU out of rotation: the job goes back to the queue untouched.
        _leave_rotation(self, context.settings.checkpoints)
        self.publish(job_id, context.store.get(uuid.UUID(job_id)).queue)
        raise Ignore()
    outcome = context.runner.run(uuid.UUID(job_id))
    if _unhealthy(context):
        _leave_rotation(self, context.settings.checkpoints)
    if outcome.kind == "retry":
        raise self.retry(countdown=outcome.retry_in_s, max_retries=None)
    try:
        job = context.store.get(uuid.UUID(job_id))
    except JobNotFound:
        log.warning("message for unknown job %s dropped (another deployment's, or deleted)", job_id)
        raise Ignore() from None
    if outcome.kind == "duplicate" and job.status not in ("succeeded", "failed", "cancelled"):
        raise Ignore()  # another delivery holds the job; its result will be stored by that one
    return job_view(job)


def _unhealthy(context: WorkerContext) -> bool:
    return not context.backend.healthy


def _leave_rotation(task: Txt2ImgTask, checkpoints: list[str]) -> None:
    """Stop this worker consuming its queues (it stays up, visible in Flower, for an operator to look at)."""
    hostname = str(task.request.hostname)
    log.error(
        "worker %s is unhealthy (A1111 restart loop): it stops taking jobs; restart the worker, or "
        "`celery -A worker.celery_app control add_consumer <queue> -d %s` once A1111 is fixed",
        hostname,
        hostname,
    )
    for checkpoint in checkpoints:
        task.app.control.cancel_consumer(checkpoint_queue(checkpoint), destination=[hostname])
