"""The JSON documents of the quality routes, as pydantic models: what OpenAPI declares and what the
API's answers are checked against (`GET /v1/stats/quality`, `POST …/images/{index}/feedback`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from worker.jobs.documents import Document
from worker.store.quality import Feedback
from worker.store.quality_stats import Figures, QualityStats


class FeedbackDocument(Document):
    """A caller's feedback on one image, as stored."""

    job_id: str
    index: int
    rating: str | int | None = Field(description="'up', 'down', or 1–5 stars; null if only downloaded")
    satisfaction: float | None = Field(description="The rating on 0–1: up 1, down 0, n stars (n − 1)/4")
    reason: str | None
    rated_at: datetime | None
    downloads: int = Field(description="How often this caller downloaded the image (implicit feedback)")

    @classmethod
    def of(cls, feedback: Feedback) -> FeedbackDocument:
        return cls(
            job_id=feedback.job_id,
            index=feedback.index,
            rating=feedback.rating,
            satisfaction=feedback.satisfaction,
            reason=feedback.reason,
            rated_at=feedback.rated_at,
            downloads=feedback.downloads,
        )


class FeedbackFigures(Document):
    ratings: int
    mean_satisfaction: float | None = Field(description="Mean rating on 0–1")
    thumbs_up: int
    thumbs_down: int
    downloads: int


class FiguresDocument(Document):
    """The figures of a group of jobs that ended in the window."""

    jobs: int
    succeeded: int
    failed: int
    cancelled: int
    success_rate: float | None = Field(description="succeeded / (succeeded + failed); null with neither")
    failure_categories: dict[str, int] = Field(description="Failed and cancelled jobs by final category")
    attempts: int
    oom_events: int = Field(description="CUDA OOMs met by all attempts of these jobs")
    images: int
    mean_quality_score: float | None = Field(description="Mean output-quality score of the images (0–1)")
    low_quality_images: int
    low_quality_share: float | None
    feedback: FeedbackFigures


class GroupDocument(Document):
    key: dict[str, str] = Field(description="The group's value of each `by` dimension ('' for none)")
    figures: FiguresDocument


class QualityStatsDocument(Document):
    """Jobs that ended in the window, in total and grouped by what they ran."""

    since: datetime = Field(description="Start of the window (the start of an hour)")
    hours: int
    by: list[str]
    totals: FiguresDocument
    groups: list[GroupDocument] = Field(description="The largest groups (by jobs) first, up to `limit`")
    group_count: int = Field(description="How many groups there are, also those beyond `limit`")

    @classmethod
    def of(cls, stats: QualityStats) -> QualityStatsDocument:
        return cls(
            since=stats.since,
            hours=stats.hours,
            by=list(stats.by),
            totals=_figures(stats.totals),
            groups=[GroupDocument(key=key, figures=_figures(figures)) for key, figures in stats.groups],
            group_count=stats.group_count,
        )


def _figures(figures: Figures) -> FiguresDocument:
    return FiguresDocument.model_validate(figures.as_json())
