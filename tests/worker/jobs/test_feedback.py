"""A rating as a caller sends it: thumbs or 1–5 stars, an optional reason of bounded length; anything
else is refused naming the field and what is allowed."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from worker.jobs.feedback import FeedbackRequest

# (body, the words of the refusal)
REFUSED = [
    ({"rating": "meh"}, "rating must be 'up', 'down' or a whole number of stars from 1 to 5"),
    ({"rating": 6}, "got 6"),
    ({"rating": 0}, "got 0"),
    ({"rating": True}, "got True"),
    ({"rating": 2.5}, "got 2.5"),
    ({}, "Field required"),
    ({"rating": "up", "reason": "x" * 501}, "at most 500 characters"),
    ({"rating": "up", "stars": 3}, "Extra inputs are not permitted"),
]


@pytest.mark.parametrize(("body", "words"), REFUSED)
def test_a_bad_rating_is_refused_naming_the_field(body: dict[str, object], words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        FeedbackRequest.model_validate(body)
    assert words in str(caught.value)


def test_thumbs_are_read_in_any_case() -> None:
    assert FeedbackRequest.model_validate({"rating": " UP "}).as_rating().thumb == "up"


# (rating, thumb, stars, satisfaction)
SCALES = [("up", "up", None, 1.0), ("down", "down", None, 0.0), (1, None, 1, 0.0), (3, None, 3, 0.5),
          (5, None, 5, 1.0)]  # fmt: skip


@pytest.mark.parametrize(("rating", "thumb", "stars", "satisfaction"), SCALES)
def test_every_rating_has_a_satisfaction_on_one_scale(
    rating: str | int, thumb: str | None, stars: int | None, satisfaction: float
) -> None:
    stored = FeedbackRequest(rating=rating, reason="why").as_rating()
    assert (stored.thumb, stored.stars, stored.satisfaction, stored.reason) == (
        thumb,
        stars,
        satisfaction,
        "why",
    )
