"""What a caller may say about one image: a rating, thumbs (`"up"`/`"down"`) or stars (1–5), and an
optional reason. Validated here (the API answers 422 naming the field); stored by
`worker.store.quality`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from worker.store.quality import Rating

REASON_MAX_CHARS = 500
THUMBS = ("up", "down")
STARS = range(1, 6)


class FeedbackRequest(BaseModel):
    """The body of `POST /v1/jobs/{id}/images/{index}/feedback`."""

    model_config = ConfigDict(extra="forbid")

    rating: Literal["up", "down"] | int = Field(
        description="'up' or 'down', or a whole number of stars from 1 to 5", examples=["up", 4]
    )
    reason: str | None = Field(
        default=None, max_length=REASON_MAX_CHARS, description="Why, in the caller's words (optional)"
    )

    @field_validator("rating", mode="before")
    @classmethod
    def _rating(cls, value: Any) -> str | int:
        if isinstance(value, str) and value.strip().lower() in THUMBS:
            return value.strip().lower()
        if isinstance(value, int) and not isinstance(value, bool) and value in STARS:
            return value
        raise PydanticCustomError(
            "rating",
            "rating must be 'up', 'down' or a whole number of stars from 1 to 5, got {value}",
            {"value": repr(value)},
        )

    def as_rating(self) -> Rating:
        """The rating to store, with its satisfaction on one scale, 0–1: up 1, down 0, n stars (n − 1)/4."""
        if isinstance(self.rating, str):
            return Rating(self.rating, None, 1.0 if self.rating == "up" else 0.0, self.reason)
        return Rating(None, self.rating, (self.rating - 1) / 4, self.reason)
