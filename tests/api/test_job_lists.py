"""`GET /v1/jobs`, `GET /v1/stats`, `POST /v1/jobs/{id}/retry` and the seed's field names, over HTTP
against the real API (no worker: jobs stay queued until cancelled)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from worker.store.api_keys import ApiKeys

VALID: dict[str, Any] = {"prompt": "a lighthouse", "checkpoint": "deliberate_v6"}


@pytest.fixture
def other(api_url: str, pg_sessions: sessionmaker[Session]) -> Iterator[httpx.Client]:
    """A second caller, with a key of its own."""
    key = ApiKeys(pg_sessions).create(f"other-{uuid.uuid4().hex[:8]}")
    with httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        yield client


def test_the_seeds_field_names_are_accepted(http: httpx.Client) -> None:
    body = {"prompt": "x", "negative_prompt": "blur", "steps": 5, "cfg_scale": 6.5, "width": 512,
            "height": 576, "sampler_name": "Euler a", "seed": 3, "batch_size": 2, "clip_skip": 2}  # fmt: skip
    response = http.post("/v1/jobs", json=body)
    assert response.status_code == 202, response.text
    params = http.get(response.json()["url"]).json()["params"]
    assert (params["sampler"], params["height"], params["clip_skip"]) == ("Euler a", 576, 2)


def test_both_spellings_of_one_field_are_refused_by_name(http: httpx.Client) -> None:
    response = http.post("/v1/jobs", json={**VALID, "sampler": "Euler a", "sampler_name": "DDIM"})
    assert response.status_code == 422
    body = response.json()
    assert body["detail"][0]["loc"] == ["body", "sampler"]
    assert "sampler and sampler_name" in body["message"]
    assert "unknown field 'sampler_nme'" in http.post("/v1/jobs", json={**VALID, "sampler_nme": "x"}).text


def test_a_bad_sampler_name_is_named_as_given(http: httpx.Client) -> None:
    problem = http.post("/v1/jobs", json={**VALID, "sampler_name": "DPM++ 9M"}).json()["detail"][0]
    assert problem["loc"] == ["body", "sampler_name"] and "must be one of" in problem["msg"]


def test_list_is_newest_first_paginated_and_the_callers_own(http: httpx.Client, other: httpx.Client) -> None:
    # Given three jobs of this caller (one cancelled) and one of another caller
    ids = [http.post("/v1/jobs", json={**VALID, "seed": n}).json()["id"] for n in range(3)]
    http.post(f"/v1/jobs/{ids[0]}/cancel")
    theirs = other.post("/v1/jobs", json=VALID).json()["id"]
    # When the list is read two at a time
    first = http.get("/v1/jobs", params={"limit": 2}).json()
    second = http.get("/v1/jobs", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    # Then pages follow each other without overlap, newest first, and hold only the caller's jobs
    listed = [job["id"] for job in first["jobs"] + second["jobs"]]
    assert listed[:3] == ids[::-1]
    assert len(set(listed)) == len(listed) and theirs not in listed
    assert theirs in [job["id"] for job in other.get("/v1/jobs").json()["jobs"]]
    # And filters narrow it
    cancelled = http.get("/v1/jobs", params={"status": "cancelled", "failure_category": "cancelled"}).json()
    assert ids[0] in [job["id"] for job in cancelled["jobs"]]
    assert all(job["status"] == "cancelled" for job in cancelled["jobs"])
    queued = http.get("/v1/jobs", params=[("status", "queued"), ("checkpoint", "deliberate_v6")]).json()
    assert set(ids[1:]) <= {job["id"] for job in queued["jobs"]}
    later = http.get("/v1/jobs", params={"created_after": "2999-01-01T00:00:00Z"}).json()
    assert later == {"jobs": [], "next_cursor": None}


@pytest.mark.parametrize(
    ("params", "field"),
    [({"cursor": "not-ours"}, "cursor"), ({"status": "lost"}, "status"), ({"limit": 0}, "limit")],
)
def test_bad_list_queries_are_422_naming_the_parameter(
    http: httpx.Client, params: dict[str, Any], field: str
) -> None:
    response = http.get("/v1/jobs", params=params)
    assert response.status_code == 422, response.text
    assert field in str(response.json()["detail"][0]["loc"])


def test_stats_count_outcomes_and_show_the_queues(http: httpx.Client, other: httpx.Client) -> None:
    before = http.get("/v1/stats").json()
    job_id = http.post("/v1/jobs", json=VALID).json()["id"]
    http.post(f"/v1/jobs/{job_id}/cancel")
    other_id = other.post("/v1/jobs", json=VALID).json()["id"]
    other.post(f"/v1/jobs/{other_id}/cancel")
    http.post("/v1/jobs", json=VALID)  # stays queued
    after = http.get("/v1/stats").json()
    assert after["by_status"]["cancelled"] == before["by_status"]["cancelled"] + 1  # not the other's
    assert after["by_category"]["cancelled"] == before["by_category"].get("cancelled", 0) + 1
    assert after["by_status"]["queued"] >= 1
    queue = {q["checkpoint"]: q for q in after["queues"]}["deliberate_v6"]
    assert queue["queued"] >= 1 and queue["oldest_wait_s"] >= 0
    assert sum(hour["jobs"] for hour in after["images_per_hour"]) >= 1
    assert http.get("/v1/stats", params={"hours": 0}).status_code == 422


def test_retry_makes_a_linked_job_with_the_same_params(http: httpx.Client, other: httpx.Client) -> None:
    original = http.post("/v1/jobs", json={**VALID, "seed": 77, "steps": 9}).json()["id"]
    refused = http.post(f"/v1/jobs/{original}/retry")
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "status"]
    http.post(f"/v1/jobs/{original}/cancel")
    assert other.post(f"/v1/jobs/{original}/retry").status_code == 404
    response = http.post(f"/v1/jobs/{original}/retry")
    assert response.status_code == 202, response.text
    retried = http.get(response.json()["url"]).json()
    first = http.get(f"/v1/jobs/{original}").json()
    assert retried["retry_of"] == original and retried["id"] != original
    assert (retried["status"], retried["seed"], retried["params"]) == ("queued", 77, first["params"])


def test_a_queued_job_shows_its_queue_position(http: httpx.Client) -> None:
    ahead = http.post("/v1/jobs", json=VALID).json()["id"]
    job = http.get(http.post("/v1/jobs", json=VALID).json()["url"]).json()
    assert job["live"]["queue_position"] >= 1
    assert http.get(f"/v1/jobs/{ahead}").json()["live"]["queue_position"] < job["live"]["queue_position"]
    assert http.get(f"/v1/jobs/{http.post(f'/v1/jobs/{ahead}/cancel').json()['id']}").json()["live"] is None


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/hook", "http://169.254.169.254/latest/meta-data", "http://[::1]/x",
            "http://10.0.0.1/x", "gopher://example.com/"]
)  # fmt: skip
def test_callback_urls_to_internal_addresses_are_refused_at_submit(http: httpx.Client, url: str) -> None:
    response = http.post("/v1/jobs", json={**VALID, "callback_url": url})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "callback_url"]
