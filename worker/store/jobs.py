"""Reads and fenced writes of the job record.

Every write a worker makes after its claim names the attempt number it claimed: a stale or duplicate
attempt matches no row and changes nothing (the fencing token of celery-notes §7).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Row, TextClause, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, sessionmaker

from worker.errors import InvalidRequest, JobNotFound
from worker.store.boundary import translate_db_errors
from worker.store.endings import record_end
from worker.store.listing import Cursor, JobFilter, JobPage, list_jobs, queue_position
from worker.store.models import Attempt, Image, Job
from worker.store.records import (
    AttemptReport,
    Claim,
    ExpiredLease,
    JobEnd,
    JobRef,
    LeaseExpiry,
    NewJob,
    StoredImage,
    utcnow,
)
from worker.store.stats import FleetStats, fleet_stats
from worker.vocabulary import AttemptOutcome, FailureCategory, JobStatus

# A lease renewal, a capacity update: losing one in a Postgres crash costs nothing, so they do not wait
# for the WAL to reach the disk (4 ms a commit on a VM disk; see docs/benchmarks.md).
ASYNC_COMMIT = text("SET LOCAL synchronous_commit = off")

CLAIM = text("""
WITH claimed AS (
    UPDATE jobs
    SET status = 'running', attempt = attempt + 1, worker = :worker, lease_expires_at = :lease_until,
        started_at = :now, updated_at = now()
    WHERE id = :id AND cancel_requested IS false
      AND (status = 'queued' OR (status = 'running' AND lease_expires_at < :now))
    RETURNING id, attempt, checkpoint, queue, params, seed, batch_size, max_attempts
), lost AS (
    UPDATE attempts
    SET outcome = :lost, category = :lost_category, finished_at = :now,
        message = 'its lease expired; attempt ' || (SELECT attempt FROM claimed) || ' was claimed by '
                  || :worker
    WHERE job_id = (SELECT id FROM claimed) AND outcome = 'running'
), added AS (
    INSERT INTO attempts (job_id, number, worker, outcome, batch_size, oom_count, timings, started_at)
    SELECT id, attempt, :worker, 'running', batch_size, 0, '{}'::jsonb, :now FROM claimed
)
SELECT claimed.*, ARRAY(
    SELECT CASE WHEN a.outcome = 'running' THEN :lost_category ELSE a.category END
    FROM attempts a
    WHERE a.job_id = claimed.id AND (a.category IS NOT NULL OR a.outcome = 'running')
    ORDER BY a.number
) AS previous
FROM claimed
""")  # earlier attempts are read as they were before this statement: one still `running` is the lost one


# What a statement that ends a job returns for `record_end`.
_ENDED = (Job.owner, Job.checkpoint, Job.callback_url, Job.params, Job.attempt)


def _end(row: Row[Any] | Job, job_id: uuid.UUID, status: JobStatus, category: str | None) -> JobEnd:
    return JobEnd(
        job_id, row.owner, row.checkpoint, status, category, row.callback_url, row.params, row.attempt
    )


class JobStore:
    """The job record in Postgres. Each method is one short transaction; the hot ones (create, claim,
    renew, complete, fail, hand back, status) are Core statements whose answers come from RETURNING.
    Every method raises RecordUnavailable when Postgres cannot be reached."""

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._clock = clock

    @property
    def engine(self) -> Engine:
        return self._engine

    @translate_db_errors
    def create(self, new: NewJob) -> tuple[JobRef, bool]:
        """Record a queued job: (the job, True). With an idempotency key its owner used already, the
        existing job is returned instead: (that job, False).

        `published_at` is set with the row: the caller publishes right after the commit, and a crash in
        between leaves a job the sweeper finds in no queue and publishes. Raises InvalidRequest when the
        idempotency key belongs to another caller.
        """
        job_id = uuid.uuid4()
        row = {
            "id": job_id,
            "status": JobStatus.QUEUED.value,
            "checkpoint": new.checkpoint,
            "queue": new.queue,
            "priority": new.priority,
            "params": new.params,
            "seed": new.seed,
            "batch_size": new.batch_size,
            "attempt": 0,
            "max_attempts": new.max_attempts,
            "owner": new.owner,
            "idempotency_key": new.idempotency_key,
            "callback_url": new.callback_url,
            "retry_of": new.retry_of,
            "published_at": self._clock(),
        }
        try:
            with self._engine.begin() as connection:
                connection.execute(insert(Job).values(row))
        except IntegrityError:
            if new.idempotency_key is None:
                raise
            with self._engine.connect() as connection:
                existing = connection.execute(
                    select(Job.id, Job.queue, Job.checkpoint, Job.owner).where(
                        Job.idempotency_key == new.idempotency_key
                    )
                ).one_or_none()
            if existing is None:
                raise
            if existing.owner != new.owner:
                raise InvalidRequest(
                    "Idempotency-Key is already used by another caller", field="Idempotency-Key"
                ) from None
            return JobRef(existing.id, existing.queue, existing.checkpoint), False
        return JobRef(job_id, new.queue, new.checkpoint), True

    @translate_db_errors
    def mark_published(self, job_id: uuid.UUID) -> None:
        with self._sessions.begin() as session:
            session.execute(update(Job).where(Job.id == job_id).values(published_at=self._clock()))

    @translate_db_errors
    def claim(self, job_id: uuid.UUID, worker: str, lease_s: float) -> Claim | None:
        """Take the job for one attempt; None if it is finished, cancelled or held by a live lease.

        One statement: the job row moves to `running` under the next attempt number, an attempt whose
        lease expired under another worker is recorded as lost, the new attempt is added, and the
        categories of the earlier attempts come back with the row.
        """
        now = self._clock()
        row = self._execute_one(
            CLAIM,
            {
                "id": job_id,
                "worker": worker,
                "now": now,
                "lease_until": now + timedelta(seconds=lease_s),
                "lost": AttemptOutcome.LOST.value,
                "lost_category": FailureCategory.BACKEND_UNAVAILABLE.value,
            },
        )
        if row is None:
            return None
        return Claim(
            row.id,
            row.attempt,
            row.checkpoint,
            row.queue,
            row.params,
            row.seed,
            row.batch_size,
            row.max_attempts,
            tuple(row.previous),
        )

    @translate_db_errors
    def renew_lease(self, job_id: uuid.UUID, attempt: int, lease_s: float) -> bool | None:
        """Extend the lease; returns whether a cancel was requested, or None if the claim is lost.

        Committed without waiting for the WAL flush: a renewal lost in a Postgres crash only makes the
        lease look older, and the next renewal comes within seconds.
        """
        with self._engine.begin() as connection:
            connection.execute(ASYNC_COMMIT)
            return connection.execute(
                update(Job)
                .where(Job.id == job_id, Job.attempt == attempt, Job.status == JobStatus.RUNNING.value)
                .values(lease_expires_at=self._clock() + timedelta(seconds=lease_s))
                .returning(Job.cancel_requested)
            ).scalar_one_or_none()

    @translate_db_errors
    def complete(
        self,
        job_id: uuid.UUID,
        attempt: int,
        images: Sequence[StoredImage],
        info: dict[str, Any],
        report: AttemptReport,
    ) -> bool:
        """Record success with its images in one transaction; False if the attempt was fenced off."""
        now = self._clock()
        with self._engine.begin() as connection:
            end = self._finish(connection, job_id, attempt, JobStatus.SUCCEEDED, None, None, info, now)
            if end is None:
                return False
            if images:
                connection.execute(insert(Image), [{"job_id": job_id, **vars(image)} for image in images])
            self._end_attempt(connection, job_id, attempt, AttemptOutcome.SUCCEEDED, None, None, report, now)
            record_end(connection, end, images=images, now=now)  # after the attempt: its OOMs are counted
        return True

    @translate_db_errors
    def fail(
        self,
        job_id: uuid.UUID,
        attempt: int,
        category: FailureCategory,
        message: str,
        report: AttemptReport,
    ) -> bool:
        """Record a final failure (or `cancelled`); False if the attempt was fenced off."""
        now = self._clock()
        status = JobStatus.CANCELLED if category is FailureCategory.CANCELLED else JobStatus.FAILED
        outcome = AttemptOutcome.CANCELLED if status is JobStatus.CANCELLED else AttemptOutcome.FAILED
        with self._engine.begin() as connection:
            end = self._finish(connection, job_id, attempt, status, category, message, None, now)
            if end is None:
                return False
            self._end_attempt(connection, job_id, attempt, outcome, category, message, report, now)
            record_end(connection, end, images=(), now=now)
        return True

    @translate_db_errors
    def hand_back(
        self,
        job_id: uuid.UUID,
        attempt: int,
        category: FailureCategory,
        message: str,
        report: AttemptReport,
    ) -> bool:
        """End this attempt as retried and put the job back to `queued`; False if fenced off."""
        now = self._clock()
        with self._engine.begin() as connection:
            result = connection.execute(
                update(Job)
                .where(Job.id == job_id, Job.attempt == attempt, Job.status == JobStatus.RUNNING.value)
                .values(status=JobStatus.QUEUED.value, lease_expires_at=None, worker=None)
            )
            if result.rowcount != 1:
                return False
            self._end_attempt(
                connection, job_id, attempt, AttemptOutcome.RETRIED, category, message, report, now
            )
        return True

    @translate_db_errors
    def request_cancel(self, job_id: uuid.UUID) -> Job:
        """Cancel a queued job at once; ask a running one to stop. Finished jobs are left as they are."""
        now = self._clock()
        with self._sessions.begin() as session:
            ended = session.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == JobStatus.QUEUED.value)
                .values(
                    status=JobStatus.CANCELLED.value,
                    cancel_requested=True,
                    failure_category=FailureCategory.CANCELLED.value,
                    failure_message="cancelled by the caller before it ran",
                    finished_at=now,
                )
                .returning(*_ENDED)
            ).one_or_none()
            if ended is not None:
                end = _end(ended, job_id, JobStatus.CANCELLED, FailureCategory.CANCELLED.value)
                record_end(session, end, images=(), now=now)
            session.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == JobStatus.RUNNING.value)
                .values(cancel_requested=True)
            )
        return self.get(job_id)

    @translate_db_errors
    def expired_leases(self, now: datetime, limit: int = 100) -> list[ExpiredLease]:
        """Running jobs whose lease ran out: their worker stopped renewing it."""
        with self._sessions() as session:
            rows = session.execute(
                select(Job.id, Job.attempt, Job.queue)
                .where(Job.status == JobStatus.RUNNING.value, Job.lease_expires_at < now)
                .limit(limit)
            ).all()
            return [ExpiredLease(row.id, row.attempt, row.queue) for row in rows]

    @translate_db_errors
    def end_leases_of(self, worker: str, now: datetime) -> list[ExpiredLease]:
        """Expire at `now` the leases of every job `worker` runs: called when its process is known to be
        dead, so its jobs need not wait for their leases to run out. `expire_lease` then hands them back."""
        with self._engine.begin() as connection:
            rows = connection.execute(
                update(Job)
                .where(Job.status == JobStatus.RUNNING.value, Job.worker == worker)
                .values(lease_expires_at=now - timedelta(microseconds=1))
                .returning(Job.id, Job.attempt, Job.queue)
            ).all()
            return [ExpiredLease(row.id, row.attempt, row.queue) for row in rows]

    @translate_db_errors
    def expire_lease(self, job_id: uuid.UUID, attempt: int, now: datetime) -> LeaseExpiry:
        """Record the attempt as lost; hand the job back, or fail it if it has no attempts left.

        SKIPPED when the lease is no longer expired under that attempt (renewed, finished, taken over)
        or another sweeper holds the row: then nothing was changed.
        """
        with self._sessions.begin() as session:
            job = session.scalar(
                select(Job)
                .where(
                    Job.id == job_id,
                    Job.attempt == attempt,
                    Job.status == JobStatus.RUNNING.value,
                    Job.lease_expires_at < now,
                )
                .with_for_update(skip_locked=True)
            )
            if job is None:
                return LeaseExpiry.SKIPPED
            message = f"worker {job.worker} stopped renewing its lease (it died or lost its connection)"
            category = FailureCategory.BACKEND_UNAVAILABLE
            retry = job.attempt < job.max_attempts
            job.lease_expires_at = None
            if retry:
                job.status, job.worker = JobStatus.QUEUED.value, None
            else:
                job.status, job.finished_at = JobStatus.FAILED.value, now
                job.failure_category = category.value
                job.failure_message = f"{message}; gave up after {job.attempt} attempts"
                end = _end(job, job.id, JobStatus.FAILED, category.value)
                record_end(session, end, images=(), now=now)
            session.execute(
                update(Attempt)
                .where(Attempt.job_id == job_id, Attempt.number == attempt)
                .values(
                    outcome=AttemptOutcome.LOST.value,
                    category=category.value,
                    message=message,
                    finished_at=now,
                )
            )
            return LeaseExpiry.HANDED_BACK if retry else LeaseExpiry.FAILED

    @translate_db_errors
    def queued_before(self, moment: datetime, limit: int = 500) -> list[tuple[uuid.UUID, str]]:
        """(job id, queue) of queued jobs not changed since `moment`: candidates for re-publishing."""
        with self._sessions() as session:
            rows = session.execute(
                select(Job.id, Job.queue)
                .where(Job.status == JobStatus.QUEUED.value, Job.updated_at < moment)
                .order_by(Job.created_at)
                .limit(limit)
            ).all()
            return [(row.id, row.queue) for row in rows]

    @translate_db_errors
    def standing(self, job_id: uuid.UUID) -> tuple[JobStatus, int | None]:
        """The job's status and, while it is queued, how many queued jobs are ahead of it on its queue
        (two indexed reads); raises JobNotFound."""
        with self._sessions() as session:
            row = session.execute(
                select(Job.status, Job.queue, Job.created_at).where(Job.id == job_id)
            ).one_or_none()
            if row is None:
                raise JobNotFound(f"no job with id {job_id}")
            status = JobStatus(row.status)
            if status is not JobStatus.QUEUED:
                return status, None
            return status, queue_position(session, row.queue, row.created_at, job_id)

    @translate_db_errors
    def page(self, where: JobFilter, *, limit: int, after: Cursor | None = None) -> JobPage:
        """One page of jobs, newest first (see `worker.store.listing`)."""
        return list_jobs(self._sessions, where, limit=limit, after=after)

    @translate_db_errors
    def stats(self, *, owner: str | None, hours: int) -> FleetStats:
        """Statistics of the last `hours` (see `worker.store.stats`)."""
        return fleet_stats(self._sessions, owner=owner, hours=hours, now=self._clock())

    @translate_db_errors
    def status(self, job_id: uuid.UUID) -> str:
        """The job's status alone (one indexed read); raises JobNotFound."""
        with self._engine.connect() as connection:
            status = connection.execute(select(Job.status).where(Job.id == job_id)).scalar_one_or_none()
        if status is None:
            raise JobNotFound(f"no job with id {job_id}")
        return status

    @translate_db_errors
    def oldest_queued(self, queues: Sequence[str]) -> datetime | None:
        """When the oldest job still queued in any of `queues` was created: one index probe per queue
        (`ix_jobs_queued`), whatever the size of the table."""
        oldest: datetime | None = None
        with self._engine.connect() as connection:
            for queue in queues:
                created = connection.scalar(
                    select(Job.created_at)
                    .where(Job.status == JobStatus.QUEUED.value, Job.queue == queue)
                    .order_by(Job.created_at)
                    .limit(1)
                )
                if created is not None and (oldest is None or created < oldest):
                    oldest = created
        return oldest

    @translate_db_errors
    def promote(self, source: str, target: str, before: datetime, limit: int = 100) -> list[uuid.UUID]:
        """Move queued jobs created before `before` from queue `source` to `target` (a batch lane's aged
        jobs to the interactive lane); returns their ids, to be published on `target`."""
        with self._engine.begin() as connection:
            waiting = (
                select(Job.id)
                .where(Job.status == JobStatus.QUEUED.value, Job.queue == source, Job.created_at < before)
                .order_by(Job.created_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
                .scalar_subquery()
            )
            rows = connection.execute(
                update(Job)
                .where(Job.id.in_(waiting), Job.status == JobStatus.QUEUED.value)
                .values(queue=target)
                .returning(Job.id)
            ).all()
            return [row.id for row in rows]

    @translate_db_errors
    def get(self, job_id: uuid.UUID) -> Job:
        """The job with its attempts and images; raises JobNotFound."""
        with self._sessions() as session:
            job = (
                session.execute(
                    select(Job)
                    .where(Job.id == job_id)
                    .options(  # one round trip
                        joinedload(Job.attempts), joinedload(Job.images), joinedload(Job.deliveries)
                    )
                )
                .unique()
                .scalar_one_or_none()
            )
            if job is None:
                raise JobNotFound(f"no job with id {job_id}")
            return job

    def _execute_one(self, statement: TextClause, params: dict[str, Any]) -> Row[Any] | None:
        with self._engine.begin() as connection:
            return connection.execute(statement, params).one_or_none()

    @staticmethod
    def _finish(
        connection: Connection,
        job_id: uuid.UUID,
        attempt: int,
        status: JobStatus,
        category: FailureCategory | None,
        message: str | None,
        info: dict[str, Any] | None,
        now: datetime,
    ) -> JobEnd | None:
        """End the job if this attempt still holds it; None if it was fenced off."""
        row = connection.execute(
            update(Job)
            .where(Job.id == job_id, Job.attempt == attempt, Job.status == JobStatus.RUNNING.value)
            .values(
                status=status.value,
                failure_category=category.value if category else None,
                failure_message=message,
                info=info,
                lease_expires_at=None,
                finished_at=now,
            )
            .returning(*_ENDED)
        ).one_or_none()
        return None if row is None else _end(row, job_id, status, category.value if category else None)

    @staticmethod
    def _end_attempt(
        connection: Connection,
        job_id: uuid.UUID,
        attempt: int,
        outcome: AttemptOutcome,
        category: FailureCategory | None,
        message: str | None,
        report: AttemptReport,
        now: datetime,
    ) -> None:
        connection.execute(
            update(Attempt)
            .where(Attempt.job_id == job_id, Attempt.number == attempt)
            .values(
                outcome=outcome.value,
                category=category.value if category else None,
                message=message,
                batch_size=report.batch_size,
                oom_count=report.oom_count,
                timings=report.timings,
                finished_at=now,
            )
        )
