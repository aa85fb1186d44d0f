"""Every parameter bound, just inside and just outside, through the HTTP API (DESIGN.md ranges)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

BASE: dict[str, Any] = {"prompt": "a test", "checkpoint": "deliberate_v6"}

# (field, value just inside, value just outside, words the message must contain)
CASES = [
    ("steps", 1, 0, "from 1 to 150"),
    ("steps", 150, 151, "from 1 to 150"),
    ("cfg_scale", 1, 0.99, "from 1 to 30"),
    ("cfg_scale", 30, 30.01, "from 1 to 30"),
    ("width", 64, 56, "multiple of 8 from 64 to 2048"),
    ("width", 2048, 2056, "multiple of 8 from 64 to 2048"),
    ("width", 512, 513, "multiple of 8"),
    ("height", 64, 56, "multiple of 8 from 64 to 2048"),
    ("height", 2048, 2056, "multiple of 8 from 64 to 2048"),
    ("clip_skip", 1, 0, "from 1 to 12"),
    ("clip_skip", 12, 13, "from 1 to 12"),
    ("batch_size", 1, 0, "from 1 to 16"),
    ("batch_size", 16, 17, "from 1 to 16"),
    ("seed", -1, -2, "-1 (random) or from 0 to 4294967295"),
    ("seed", 4294967295, 4294967296, "-1 (random) or from 0 to 4294967295"),
    ("output_quality", 1, 0, "from 1 to 100"),
    ("output_quality", 100, 101, "from 1 to 100"),
    ("output_format", "webp", "gif", "must be one of"),
    ("sampler", "DPM++ SDE Karras", "DPM++ 9M", "must be one of"),
    ("sampler_name", "Euler a", "DPM++ 9M", "must be one of"),
    ("scheduler", "Karras", "Wobbly", "must be one of"),
]


@pytest.mark.parametrize(("field", "inside", "outside", "words"), CASES)
def test_bound(http: httpx.Client, field: str, inside: Any, outside: Any, words: str) -> None:
    size = {"width": 512, "height": 512} if field in ("width", "height") else {}
    accepted = http.post("/v1/jobs", json={**BASE, **size, field: inside})
    assert accepted.status_code == 202, accepted.text
    refused = http.post("/v1/jobs", json={**BASE, **size, field: outside})
    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert body["error"] == "invalid_request"
    problem = body["detail"][0]
    assert problem["loc"] == ["body", field]
    assert words in problem["msg"] and repr(outside) in problem["msg"]


@pytest.mark.parametrize(
    "sampler", ["DPM++ 2M Karras", "Euler a", "DDIM", "LMS", "Heun", "DPM++ SDE Karras", "UniPC"]
)
def test_the_seven_samplers_of_the_spec_are_accepted(http: httpx.Client, sampler: str) -> None:
    assert http.post("/v1/jobs", json={**BASE, "sampler": sampler}).status_code == 202


def test_wrong_types_name_the_field_and_range(http: httpx.Client) -> None:
    refused = http.post("/v1/jobs", json={**BASE, "steps": "many"})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["msg"] == "steps must be a number from 1 to 150, got 'many'"


def test_pixel_budget(http: httpx.Client) -> None:
    refused = http.post("/v1/jobs", json={**BASE, "width": 2048, "height": 2048, "batch_size": 1})
    assert refused.status_code == 202  # 2048² is the default budget exactly
