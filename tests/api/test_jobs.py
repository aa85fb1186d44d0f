"""`/v1/jobs` through real HTTP: accepted jobs are recorded; bad input is a 4xx naming the field."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from worker.store.jobs import JobStore

VALID: dict[str, Any] = {"prompt": "a lighthouse", "checkpoint": "deliberate_v6"}


def test_submit_records_the_job_before_answering_202(http: httpx.Client, job_store: JobStore) -> None:
    response = http.post("/v1/jobs", json={**VALID, "steps": 12, "seed": 7, "batch_size": 2})
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued"
    assert body["url"].endswith(f"/v1/jobs/{body['id']}")
    job = job_store.get(uuid.UUID(body["id"]))
    assert (job.status, job.checkpoint, job.seed, job.batch_size) == ("queued", "deliberate_v6", 7, 2)
    assert job.params["steps"] == 12
    assert job.params["sampler"] == "DPM++ 2M" and job.params["scheduler"] == "Karras"
    assert job.published_at is not None
    shown = http.get(f"/v1/jobs/{body['id']}").json()
    for key in ("id", "status", "checkpoint", "params", "attempts", "failure_category", "failure_message",
                "images"):  # fmt: skip
        assert key in shown


def test_random_seed_is_resolved_at_submit(http: httpx.Client) -> None:
    job = http.get(http.post("/v1/jobs", json=VALID).json()["url"]).json()
    assert 0 <= job["seed"] < 2**32
    assert job["params"]["requested_seed"] == -1


def test_sdxl_checkpoint_defaults_to_its_native_size(http: httpx.Client) -> None:
    body = {"prompt": "x", "checkpoint": "jib_mix_illustrious_realistic_v2"}
    job = http.get(http.post("/v1/jobs", json=body).json()["url"]).json()
    assert (job["params"]["width"], job["params"]["height"]) == (1024, 1024)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "body"),
        (b"[1, 2]", "body"),
        (b"", "body"),
        (b'"a string"', "body"),
        (b'{"prompt": "x", "steps": 1e400}', "steps"),
    ],
)
def test_malformed_bodies_are_422_not_500(http: httpx.Client, body: bytes, field: str) -> None:
    response = http.post("/v1/jobs", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][1] == field


def test_unknown_checkpoint_lists_the_available_ones(http: httpx.Client) -> None:
    response = http.post("/v1/jobs", json={"prompt": "x", "checkpoint": "nope"})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "model_not_found"
    assert "deliberate_v6" in body["message"] and "jib_mix_illustrious_realistic_v2" in body["message"]


def test_unknown_field_is_named(http: httpx.Client) -> None:
    response = http.post("/v1/jobs", json={**VALID, "stpes": 20})
    assert response.status_code == 422
    assert "unknown field 'stpes'" in response.json()["message"]


def test_missing_or_wrong_key_is_401(api_url: str) -> None:
    assert httpx.post(api_url + "/v1/jobs", json=VALID).status_code == 401
    wrong = {"Authorization": "Bearer sdf_not-a-key"}
    assert httpx.post(api_url + "/v1/jobs", json=VALID, headers=wrong).status_code == 401


def test_unknown_job_is_404(http: httpx.Client) -> None:
    assert http.get(f"/v1/jobs/{uuid.uuid4()}").status_code == 404
    assert http.get("/v1/jobs/not-a-uuid").status_code == 404
    assert http.get(f"/v1/jobs/{uuid.uuid4()}/images/0").status_code == 404


def test_cancel_of_a_queued_job(http: httpx.Client) -> None:
    url = http.post("/v1/jobs", json=VALID).json()["url"]
    cancelled = http.post(url + "/cancel").json()
    assert (cancelled["status"], cancelled["failure_category"]) == ("cancelled", "cancelled")


def test_idempotency_key_gives_the_same_job(http: httpx.Client) -> None:
    headers = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    first = http.post("/v1/jobs", json=VALID, headers=headers).json()["id"]
    assert http.post("/v1/jobs", json=VALID, headers=headers).json()["id"] == first


def test_openapi_describes_the_job_schema(api_url: str) -> None:
    spec = httpx.get(api_url + "/openapi.json").json()
    schema = spec["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "prompt" in schema["properties"] and "steps" in schema["properties"]


def test_health(api_url: str) -> None:
    assert httpx.get(api_url + "/healthz").json() == {"status": "ok"}
    assert httpx.get(api_url + "/readyz").json()["status"] == "ok"


def test_metrics_report_queues_by_lane(http: httpx.Client, api_url: str) -> None:
    http.post("/v1/jobs", json=VALID)
    text = httpx.get(api_url + "/metrics").text
    labels = '{checkpoint="deliberate_v6",lane="batch",queue="sd.deliberate_v6.batch"}'
    depth = re.search(r"^sdfleet_queue_depth" + re.escape(labels) + r" (\S+)$", text, re.M)
    oldest = re.search(r"^sdfleet_oldest_queued_seconds" + re.escape(labels) + r" (\S+)$", text, re.M)
    assert depth and float(depth.group(1)) >= 1, text
    assert oldest and float(oldest.group(1)) > 0, text
    assert "sdfleet_workers{" in text


def test_a_job_defaults_to_the_batch_lane_and_may_ask_for_interactive(http: httpx.Client) -> None:
    batch = http.get(http.post("/v1/jobs", json=VALID).json()["url"]).json()
    interactive = http.get(
        http.post("/v1/jobs", json={**VALID, "priority": "interactive"}).json()["url"]
    ).json()
    assert (batch["priority"], interactive["priority"]) == ("batch", "interactive")
    refused = http.post("/v1/jobs", json={**VALID, "priority": "urgent"})
    assert refused.status_code == 422 and "priority" in refused.text and "interactive, batch" in refused.text
