"""Where quality comes from: success rate, failure categories, OOMs, mean output-quality score and
feedback of the jobs that ended in a window, broken down by what they ran.

Read from the hourly rollup (`worker.store.rollup`), never the jobs table: one indexed range of
`quality_hourly` (its primary key starts with the hour), whose size is hours × combinations in use,
whatever the number of jobs. Figures are summed per group in SQL and per status and category in Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, func, select

from worker.store.boundary import translate_db_errors
from worker.store.models import QualityHour
from worker.store.rollup import COUNTERS, hour_of
from worker.vocabulary import JobStatus


class Dimension(StrEnum):
    """What the statistics break jobs down by (`worker.store.rollup.Dimensions`)."""

    CHECKPOINT = "checkpoint"
    LORAS = "loras"  # the LoRA combination: names sorted, joined by "+"
    PRESET = "preset"
    SAMPLER = "sampler"  # with its schedule: "DPM++ 2M Karras"
    RESOLUTION = "resolution"  # "WIDTHxHEIGHT"


DIMENSIONS = tuple(d.value for d in Dimension)


@dataclass
class Figures:
    """The figures of one group of ended jobs (or of all of them)."""

    jobs: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    failure_categories: dict[str, int] = field(default_factory=dict)  # failed and cancelled jobs
    attempts: int = 0
    oom_events: int = 0
    images: int = 0
    scored_images: int = 0
    score_sum: float = 0.0
    low_quality_images: int = 0
    ratings: int = 0
    satisfaction_sum: float = 0.0
    thumbs_up: int = 0
    thumbs_down: int = 0
    downloads: int = 0

    def add(self, status: str, category: str, sums: dict[str, Any]) -> None:
        for name in COUNTERS:  # SUM() of a bigint is a numeric: back to each counter's own type
            current = getattr(self, name)
            setattr(self, name, current + type(current)(sums[name] or 0))
        jobs = int(sums["jobs"] or 0)
        if status == JobStatus.SUCCEEDED:
            self.succeeded += jobs
        elif status == JobStatus.FAILED:
            self.failed += jobs
        elif status == JobStatus.CANCELLED:
            self.cancelled += jobs
        if category and jobs:
            self.failure_categories[category] = self.failure_categories.get(category, 0) + jobs

    @property
    def success_rate(self) -> float | None:
        """Succeeded / (succeeded + failed); cancelled jobs count for neither."""
        ended = self.succeeded + self.failed
        return round(self.succeeded / ended, 4) if ended else None

    @property
    def mean_quality_score(self) -> float | None:
        return round(self.score_sum / self.scored_images, 4) if self.scored_images else None

    @property
    def low_quality_share(self) -> float | None:
        return round(self.low_quality_images / self.scored_images, 4) if self.scored_images else None

    @property
    def mean_satisfaction(self) -> float | None:
        """The mean rating on 0–1 (up 1, down 0, n stars (n − 1)/4)."""
        return round(self.satisfaction_sum / self.ratings, 4) if self.ratings else None

    def as_json(self) -> dict[str, Any]:
        return {
            "jobs": self.jobs,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "success_rate": self.success_rate,
            "failure_categories": dict(sorted(self.failure_categories.items(), key=lambda kv: -kv[1])),
            "attempts": self.attempts,
            "oom_events": self.oom_events,
            "images": self.images,
            "mean_quality_score": self.mean_quality_score,
            "low_quality_images": self.low_quality_images,
            "low_quality_share": self.low_quality_share,
            "feedback": {
                "ratings": self.ratings,
                "mean_satisfaction": self.mean_satisfaction,
                "thumbs_up": self.thumbs_up,
                "thumbs_down": self.thumbs_down,
                "downloads": self.downloads,
            },
        }


@dataclass
class QualityStats:
    """The jobs that ended from `since` (the start of an hour) until now, grouped by `by`."""

    since: datetime
    hours: int
    by: tuple[str, ...]
    totals: Figures
    groups: list[tuple[dict[str, str], Figures]]  # the largest groups (by jobs) first
    group_count: int  # how many groups there are, also those left out by the limit


@translate_db_errors
def quality_stats(
    engine: Engine,
    *,
    owner: str | None,
    hours: int,
    by: tuple[str, ...] = DIMENSIONS,
    limit: int = 50,
    now: datetime,
) -> QualityStats:
    """The figures of `owner`'s jobs (None: everyone's) that ended in the last `hours` (the current hour
    included), grouped by the dimensions `by` (a subset of DIMENSIONS; none: totals only). Raises
    ValueError for an unknown dimension, RecordUnavailable when Postgres cannot be reached."""
    unknown = [name for name in by if name not in DIMENSIONS]
    if unknown:
        raise ValueError(f"not a dimension: {', '.join(unknown)} (known: {', '.join(DIMENSIONS)})")
    since = hour_of(now) - timedelta(hours=hours - 1)
    table = QualityHour.__table__
    keys = [table.c[name] for name in by]
    query = (
        select(*keys, table.c.status, table.c.category, *(func.sum(table.c[n]).label(n) for n in COUNTERS))
        .where(table.c.hour >= since)
        .group_by(*keys, table.c.status, table.c.category)
    )
    if owner is not None:
        query = query.where(table.c.owner == owner)
    with engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    totals = Figures()
    groups: dict[tuple[str, ...], Figures] = {}
    for row in rows:
        sums = {name: row[name] for name in COUNTERS}
        totals.add(row["status"], row["category"], sums)
        groups.setdefault(tuple(row[name] for name in by), Figures()).add(
            row["status"], row["category"], sums
        )
    ranked = sorted(groups.items(), key=lambda item: (-item[1].jobs, item[0]))
    return QualityStats(
        since=since,
        hours=hours,
        by=by,
        totals=totals,
        groups=[(dict(zip(by, key, strict=True)), figures) for key, figures in ranked[:limit]] if by else [],
        group_count=len(groups) if by else 0,
    )
