"""Job lists: newest first, filtered, paginated by keyset (an opaque cursor), never by OFFSET.

A page reads `limit + 1` rows along an index on (owner, created_at, id) or (created_at, id), starting
after the cursor's (created_at, id), so page 1,000 costs what page 1 does.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, func, select, tuple_
from sqlalchemy.orm import Session, selectinload, sessionmaker

from worker.errors import InvalidRequest
from worker.store.models import Job
from worker.vocabulary import JobStatus

MAX_PAGE = 200


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: the last job's creation time and id (an opaque token to callers)."""

    created_at: datetime
    job_id: uuid.UUID

    def encode(self) -> str:
        raw = json.dumps([self.created_at.isoformat(), str(self.job_id)]).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        """Raises InvalidRequest (field `cursor`) for a token this API did not give."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            created, job_id = json.loads(raw)
            return cls(datetime.fromisoformat(created), uuid.UUID(job_id))
        except (ValueError, TypeError, binascii.Error):
            raise InvalidRequest(
                "cursor is not one this API gave: pass next_cursor from the previous page unchanged",
                field="cursor",
                value=token,
            ) from None


@dataclass(frozen=True)
class JobFilter:
    """Which jobs to list; every field None or empty means "any"."""

    owner: str | None = None  # None: everyone's jobs (an operator's view)
    statuses: Sequence[JobStatus] = field(default_factory=tuple)
    checkpoint: str | None = None
    failure_category: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None

    def apply(self, query: Select[Job]) -> Select[Job]:
        if self.owner is not None:
            query = query.where(Job.owner == self.owner)
        if self.statuses:
            query = query.where(Job.status.in_([s.value for s in self.statuses]))
        if self.checkpoint is not None:
            query = query.where(Job.checkpoint == self.checkpoint)
        if self.failure_category is not None:
            query = query.where(Job.failure_category == self.failure_category)
        if self.created_after is not None:
            query = query.where(Job.created_at >= self.created_after)
        if self.created_before is not None:
            query = query.where(Job.created_at < self.created_before)
        return query


@dataclass(frozen=True)
class JobPage:
    jobs: list[Job]
    next_cursor: Cursor | None  # None: this is the last page


def list_jobs(
    sessions: sessionmaker[Session], where: JobFilter, *, limit: int, after: Cursor | None = None
) -> JobPage:
    """One page of jobs, newest first, with their images (for thumbnails) but not their attempts."""
    limit = max(1, min(limit, MAX_PAGE))
    query = where.apply(select(Job))
    if after is not None:
        query = query.where(tuple_(Job.created_at, Job.id) < tuple_(after.created_at, after.job_id))
    query = query.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit + 1)
    with sessions() as session:
        jobs = list(session.scalars(query.options(selectinload(Job.images))).all())
    more = len(jobs) > limit
    jobs = jobs[:limit]
    last = jobs[-1] if more else None
    return JobPage(jobs, Cursor(last.created_at, last.id) if last is not None else None)


def queue_position(session: Session, queue: str, created_at: datetime, job_id: uuid.UUID) -> int:
    """How many queued jobs of `queue` were queued before this one (0: it is next), along the partial
    index of queued jobs: the cost grows with the queue ahead, not with the table."""
    ahead = session.scalar(
        select(func.count())
        .select_from(Job)
        .where(
            Job.status == JobStatus.QUEUED.value,
            Job.queue == queue,
            tuple_(Job.created_at, Job.id) < tuple_(created_at, job_id),
        )
    )
    return int(ahead or 0)
