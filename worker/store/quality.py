"""The quality record a caller reaches: feedback on images, per image and caller (`image_feedback`),
and the quality statistics (`worker.store.quality_stats`).

Explicit ratings and downloads are each counted in the hourly quality rollup in the same transaction
(`worker.store.rollup.count_feedback`).

A caller rates an image once: rating it again replaces the earlier rating (the rollup takes the old one
out and adds the new). Every download of an image counts, as implicit feedback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Row, select, update
from sqlalchemy.dialects.postgresql import insert

from worker.store.boundary import translate_db_errors
from worker.store.models import ImageFeedback, Job
from worker.store.quality_stats import QualityStats, quality_stats
from worker.store.records import utcnow
from worker.store.rollup import count_feedback


@dataclass(frozen=True)
class Rating:
    """A validated rating (`worker.jobs.feedback.FeedbackRequest` gives one)."""

    thumb: str | None  # "up" or "down"
    stars: int | None  # 1–5
    satisfaction: float  # the rating on 0–1
    reason: str | None


@dataclass(frozen=True)
class Feedback:
    """One caller's feedback on one image, as stored."""

    job_id: str
    index: int
    owner: str
    rating: str | int | None
    satisfaction: float | None
    reason: str | None
    rated_at: datetime | None
    downloads: int


class QualityStore:
    """Ratings and downloads of images, and statistics. Each method is one transaction; raises
    RecordUnavailable when Postgres cannot be reached."""

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._engine = engine
        self._clock = clock

    @translate_db_errors
    def rate(self, job: Job, index: int, owner: str | None, rating: Rating) -> Feedback:
        """Record (or replace) `owner`'s rating of image `index` of `job`, which must exist (the caller
        has checked it)."""
        now = self._clock()
        key: dict[str, Any] = {"job_id": job.id, "image_index": index, "owner": owner or ""}
        with self._engine.begin() as connection:
            # A row to lock first, so that two ratings at once by one caller are counted one after
            # the other (the second as a change of the first).
            connection.execute(insert(ImageFeedback).values(**key).on_conflict_do_nothing())
            old = self._locked(connection, key)
            row = {
                "thumb": rating.thumb,
                "stars": rating.stars,
                "satisfaction": rating.satisfaction,
                "reason": rating.reason,
                "rated_at": now,
            }
            connection.execute(update(ImageFeedback).where(*_match(key)).values(**row))
            had = old.satisfaction is not None
            count_feedback(
                connection,
                job,
                {
                    "ratings": 0 if had else 1,
                    "satisfaction_sum": rating.satisfaction - (old.satisfaction or 0.0),
                    "thumbs_up": (rating.thumb == "up") - (old.thumb == "up"),
                    "thumbs_down": (rating.thumb == "down") - (old.thumb == "down"),
                },
                now=now,
            )
            return _feedback(self._locked(connection, key))

    @translate_db_errors
    def downloaded(self, job: Job, index: int, owner: str | None) -> None:
        """Count one download of image `index` of `job` by `owner` (implicit feedback)."""
        now = self._clock()
        key = {"job_id": job.id, "image_index": index, "owner": owner or ""}
        statement = insert(ImageFeedback).values(
            **key, downloads=1, first_downloaded_at=now, last_downloaded_at=now
        )
        with self._engine.begin() as connection:
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=["job_id", "image_index", "owner"],
                    set_={"downloads": ImageFeedback.downloads + 1, "last_downloaded_at": now},
                )
            )
            count_feedback(connection, job, {"downloads": 1}, now=now)

    @translate_db_errors
    def of_job(self, job: Job, owner: str | None) -> list[Feedback]:
        """`owner`'s feedback on the images of `job`, by image index."""
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(*_COLUMNS)
                .where(ImageFeedback.job_id == job.id, ImageFeedback.owner == (owner or ""))
                .order_by(ImageFeedback.image_index)
            ).all()
        return [_feedback(row) for row in rows]

    def stats(self, *, owner: str | None, hours: int, by: tuple[str, ...], limit: int) -> QualityStats:
        """See `worker.store.quality_stats.quality_stats`."""
        return quality_stats(self._engine, owner=owner, hours=hours, by=by, limit=limit, now=self._clock())

    @staticmethod
    def _locked(connection: Connection, key: dict[str, Any]) -> Row[Any]:
        return connection.execute(select(*_COLUMNS).where(*_match(key)).with_for_update()).one()


_COLUMNS = tuple(ImageFeedback.__table__.c)


def _match(key: dict[str, Any]) -> list[ColumnElement[bool]]:
    return [ImageFeedback.__table__.c[name] == value for name, value in key.items()]


def _feedback(row: Row[Any]) -> Feedback:
    return Feedback(
        job_id=str(row.job_id),
        index=int(row.image_index),
        owner=str(row.owner),
        rating=row.thumb if row.thumb is not None else row.stars,
        satisfaction=row.satisfaction,
        reason=row.reason,
        rated_at=row.rated_at,
        downloads=int(row.downloads),
    )
