"""The quality routes over HTTP against the real API process: feedback on an image (422 naming the field,
404 for another caller's job), downloads counted as implicit feedback, the quality statistics, every
request's latency by route template at /metrics, and OpenAPI declaring it all."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.helpers import images as img
from tests.helpers.processes import Processes, base_env
from worker.output.files import ResultStore
from worker.store.api_keys import ApiKeys
from worker.store.jobs import JobStore
from worker.store.records import AttemptReport, NewJob, StoredImage

PARAMS = {"width": 64, "height": 64, "sampler": "DPM++ 2M", "scheduler": "Karras", "preset": None,
          "loras": [{"name": "detail_tweaker_xl", "weight": 0.5}]}  # fmt: skip


def _succeeded_job(store: JobStore, results: ResultStore, owner: str, checkpoint: str) -> str:
    """A job of `owner`'s that ran and stored two images (one below the floor), as a worker leaves it."""
    ref, _ = store.create(NewJob(checkpoint, "sd.x", PARAMS, 1, 2, 1, owner=owner))
    assert store.claim(ref.id, "w", 60) is not None
    stored = []
    for index, score in ((0, 0.91), (1, 0.42)):
        path = results.write(ref.id, 1, index, img.png(img.gradient()))
        stored.append(StoredImage(index, 1 + index, path, 64, 64, "0" * 64, "", score, score < 0.5, None))
    assert store.complete(ref.id, 1, stored, {}, AttemptReport(2))
    return str(ref.id)


@pytest.fixture(scope="module")
def owner(api_key: str, pg_sessions: sessionmaker[Session]) -> str:
    caller = ApiKeys(pg_sessions).authenticate(api_key)
    assert caller is not None
    return caller.name


@pytest.fixture(scope="module")
def checkpoint() -> str:
    return f"ck-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def job_id(job_store: JobStore, sdfleet_env: dict[str, str], owner: str, checkpoint: str) -> str:
    return _succeeded_job(job_store, ResultStore(Path(sdfleet_env["SDFLEET_RESULT_DIR"])), owner, checkpoint)


def test_the_job_view_shows_each_images_score_and_flag(http: httpx.Client, job_id: str) -> None:
    images = http.get(f"/v1/jobs/{job_id}").json()["images"]
    assert [(i["quality_score"], i["low_quality"]) for i in images] == [(0.91, False), (0.42, True)]


def test_a_rating_is_recorded_and_replaced(http: httpx.Client, job_id: str) -> None:
    first = http.post(f"/v1/jobs/{job_id}/images/0/feedback", json={"rating": "up"})
    assert first.status_code == 200, first.text
    assert first.json() | {"rated_at": None} == {
        "job_id": job_id, "index": 0, "rating": "up", "satisfaction": 1.0, "reason": None, "rated_at": None,
        "downloads": 0,
    }  # fmt: skip
    again = http.post(f"/v1/jobs/{job_id}/images/0/feedback", json={"rating": 4, "reason": "a bit soft"})
    assert (again.json()["rating"], again.json()["satisfaction"], again.json()["reason"]) == (
        4,
        0.75,
        "a bit soft",
    )


# (body, the field the 422 names)
INVALID = [
    ({"rating": "meh"}, ["body", "rating"]),
    ({"rating": 9}, ["body", "rating"]),
    ({"rating": "up", "reason": "x" * 501}, ["body", "reason"]),
    ({"rating": "up", "comment": "hi"}, ["body", "comment"]),
    ({}, ["body", "rating"]),
]


@pytest.mark.parametrize(("body", "loc"), INVALID)
def test_bad_feedback_is_422_naming_the_field(
    http: httpx.Client, job_id: str, body: dict[str, object], loc: list[str]
) -> None:
    response = http.post(f"/v1/jobs/{job_id}/images/1/feedback", json=body)
    assert response.status_code == 422
    assert loc in [problem["loc"] for problem in response.json()["detail"]]


def test_a_bad_index_is_422_and_a_missing_image_404(http: httpx.Client, job_id: str) -> None:
    negative = http.post(f"/v1/jobs/{job_id}/images/-1/feedback", json={"rating": "up"})
    assert negative.status_code == 422 and ["path", "index"] in [p["loc"] for p in negative.json()["detail"]]
    missing = http.post(f"/v1/jobs/{job_id}/images/2/feedback", json={"rating": "up"})
    assert missing.status_code == 404 and "has no image 2" in missing.json()["message"]


def test_another_callers_job_is_404_for_feedback_and_download(
    http: httpx.Client, job_store: JobStore, sdfleet_env: dict[str, str], checkpoint: str
) -> None:
    theirs = _succeeded_job(job_store, ResultStore(Path(sdfleet_env["SDFLEET_RESULT_DIR"])), "someone-else",
                            checkpoint)  # fmt: skip
    assert http.post(f"/v1/jobs/{theirs}/images/0/feedback", json={"rating": "down"}).status_code == 404
    assert http.get(f"/v1/jobs/{theirs}/images/0").status_code == 404
    assert http.post(f"/v1/jobs/{uuid.uuid4()}/images/0/feedback", json={"rating": "up"}).status_code == 404


def test_downloads_count_as_implicit_feedback(http: httpx.Client, job_id: str) -> None:
    for _ in range(2):
        response = http.get(f"/v1/jobs/{job_id}/images/1")
        assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    rated = http.post(f"/v1/jobs/{job_id}/images/1/feedback", json={"rating": "down"}).json()
    assert rated["downloads"] == 2


def test_quality_statistics_break_the_callers_jobs_down(
    http: httpx.Client, job_id: str, checkpoint: str
) -> None:
    # Given this module's jobs on its own checkpoint, one of them rated and downloaded here
    http.post(f"/v1/jobs/{job_id}/images/0/feedback", json={"rating": "up"})
    http.get(f"/v1/jobs/{job_id}/images/0")

    response = http.get("/v1/stats/quality", params={"hours": 2, "by": ["checkpoint", "loras"]})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["by"] == ["checkpoint", "loras"] and body["hours"] == 2
    (mine,) = [g for g in body["groups"] if g["key"]["checkpoint"] == checkpoint]
    assert mine["key"]["loras"] == "detail_tweaker_xl"
    figures = mine["figures"]
    assert figures["succeeded"] >= 1 and figures["success_rate"] == 1.0
    assert figures["mean_quality_score"] == pytest.approx((0.91 + 0.42) / 2)
    assert figures["low_quality_share"] == 0.5
    assert figures["feedback"]["ratings"] >= 1 and figures["feedback"]["downloads"] >= 1


def test_quality_statistics_count_only_the_callers_jobs(
    http: httpx.Client, job_store: JobStore, sdfleet_env: dict[str, str]
) -> None:
    results = ResultStore(Path(sdfleet_env["SDFLEET_RESULT_DIR"]))
    theirs = f"ck-{uuid.uuid4().hex[:8]}"
    _succeeded_job(job_store, results, "someone-else", theirs)
    body = http.get("/v1/stats/quality", params={"by": "checkpoint", "limit": 500}).json()
    assert theirs not in [g["key"]["checkpoint"] for g in body["groups"]]
    assert body["group_count"] == len(body["groups"]) >= 1


@pytest.mark.parametrize(
    ("params", "loc"),
    [({"hours": 0}, ["query", "hours"]), ({"hours": 745}, ["query", "hours"]),
     ({"by": "colour"}, ["query", "by", 0]), ({"limit": 0}, ["query", "limit"])],
)  # fmt: skip
def test_bad_statistics_queries_are_422_naming_the_parameter(
    http: httpx.Client, params: dict[str, object], loc: list[object]
) -> None:
    response = http.get("/v1/stats/quality", params=params)
    assert response.status_code == 422 and loc in [p["loc"] for p in response.json()["detail"]]


def test_metrics_time_every_request_by_route_template(http: httpx.Client, api_url: str) -> None:
    missing = uuid.uuid4()
    http.get(f"/v1/jobs/{missing}")
    http.get("/no/such/route")
    text = httpx.get(api_url + "/metrics", timeout=30).text
    assert re.search(
        r'sdfleet_api_request_seconds_count\{method="GET",route="/v1/jobs/\{job_id\}",status="404"\} \d', text
    )
    assert 'route="<unmatched>",status="404"' in text
    assert str(missing) not in text  # the template, never the raw path
    assert (
        'sdfleet_api_request_seconds_bucket{le="0.005",method="GET",route="/healthz"' in text
        or "/healthz" not in text
    )


def test_openapi_declares_the_quality_routes_schemas(api_url: str) -> None:
    spec = httpx.get(api_url + "/openapi.json", timeout=30).json()
    feedback = spec["paths"]["/v1/jobs/{job_id}/images/{index}/feedback"]["post"]
    assert feedback["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "FeedbackRequest"
    )
    assert feedback["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "FeedbackDocument"
    )
    assert {"404", "422"} <= set(feedback["responses"])
    stats = spec["paths"]["/v1/stats/quality"]["get"]
    assert stats["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "QualityStatsDocument"
    )
    assert {p["name"] for p in stats["parameters"]} == {"hours", "by", "limit"}


def test_an_api_of_several_processes_counts_every_request_whichever_process_serves_the_scrape(
    sdfleet_env: dict[str, str], tmp_path: Path
) -> None:
    # Given an API of three processes, each taking its share of 60 requests
    procs = Processes(tmp_path / "logs", {**base_env(), **sdfleet_env, "SDFLEET_API_PROCESSES": "3",
                                          "SDFLEET_STATE_DIR": str(tmp_path / "state")})  # fmt: skip
    try:
        url = procs.api()
        for _ in range(60):
            httpx.get(url + "/healthz", timeout=30)
        # Then every scrape, whichever process answers it, counts all of them
        pattern = re.compile(
            r'sdfleet_api_request_seconds_count\{method="GET",route="/healthz",status="200"\} (\S+)'
        )
        counts = set()
        for _ in range(6):
            match = pattern.search(httpx.get(url + "/metrics", timeout=30).text)
            assert match is not None
            counts.add(float(match.group(1)))
        assert min(counts) >= 60  # the readiness polls of the start add a few
    finally:
        procs.stop()
