"""Fleet statistics without scanning the jobs table.

Ended jobs are read from the hourly rollup (`job_outcomes_hourly`, kept in each job's ending
transaction): a window of `hours` reads at most hours × owners × checkpoints × outcomes rows. The live
part (queued and running jobs per checkpoint, the oldest wait) reads the partial index of pending jobs,
whose size is the queue, not the history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from worker.store.models import Job, JobOutcomeHour
from worker.store.rollup import hour_of
from worker.vocabulary import JobStatus


@dataclass
class QueueStats:
    """One checkpoint's queue right now."""

    checkpoint: str
    queued: int = 0
    running: int = 0
    oldest_wait_s: float | None = None  # how long the oldest queued job has waited


@dataclass
class FleetStats:
    """Counts over the last `hours` (ended jobs), and the queues as they are now."""

    hours: int
    by_status: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)
    images_per_hour: list[tuple[datetime, int, int]] = field(default_factory=list)  # (hour, images, jobs)
    queues: list[QueueStats] = field(default_factory=list)

    @property
    def success_rate(self) -> float | None:
        """Succeeded / (succeeded + failed) in the window; cancelled jobs count for neither."""
        done = self.by_status.get("succeeded", 0)
        failed = self.by_status.get("failed", 0)
        return round(done / (done + failed), 4) if done + failed else None


def fleet_stats(
    sessions: sessionmaker[Session], *, owner: str | None, hours: int, now: datetime
) -> FleetStats:
    """Statistics of `owner`'s jobs (None: everyone's) over the last `hours`; queues are fleet-wide."""
    stats = FleetStats(hours=hours, by_status={s.value: 0 for s in JobStatus})
    since = hour_of(now) - timedelta(hours=hours - 1)
    rollup = select(
        JobOutcomeHour.hour,
        JobOutcomeHour.status,
        JobOutcomeHour.category,
        func.sum(JobOutcomeHour.jobs),
        func.sum(JobOutcomeHour.images),
    ).where(JobOutcomeHour.hour >= since)
    if owner is not None:
        rollup = rollup.where(JobOutcomeHour.owner == owner)
    rollup = rollup.group_by(JobOutcomeHour.hour, JobOutcomeHour.status, JobOutcomeHour.category)
    pending = (
        select(Job.checkpoint, Job.status, func.count(), func.min(Job.created_at))
        .where(Job.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value]))
        .group_by(Job.checkpoint, Job.status)
    )
    mine = select(Job.status, func.count()).where(
        Job.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value])
    )
    if owner is not None:
        mine = mine.where(Job.owner == owner)
    with sessions() as session:
        ended = session.execute(rollup).all()
        live = session.execute(pending).all()
        own = session.execute(mine.group_by(Job.status)).all()
    hourly: dict[datetime, list[int]] = {}
    for hour, status, category, jobs, images in ended:
        stats.by_status[status] = stats.by_status.get(status, 0) + int(jobs)
        if category:
            stats.by_category[category] = stats.by_category.get(category, 0) + int(jobs)
        bucket = hourly.setdefault(hour, [0, 0])
        bucket[0] += int(images)
        bucket[1] += int(jobs)
    stats.images_per_hour = [(hour, images, jobs) for hour, (images, jobs) in sorted(hourly.items())]
    for status, count in own:
        stats.by_status[status] = int(count)
    queues: dict[str, QueueStats] = {}
    for checkpoint, status, count, oldest in live:
        queue = queues.setdefault(checkpoint, QueueStats(checkpoint))
        if status == JobStatus.QUEUED.value:
            queue.queued = int(count)
            queue.oldest_wait_s = round(max(0.0, (now - oldest).total_seconds()), 1)
        else:
            queue.running = int(count)
    stats.queues = sorted(queues.values(), key=lambda q: q.checkpoint)
    return stats
