"""Following a job over HTTP against a real fleet (stand-in A1111, GPU worker, two API replicas, the
webhook dispatcher): Server-Sent Events to the outcome, resumed on another replica, live figures in
GET /v1/jobs/{id}, heartbeats, and the signed webhook of a job that succeeded."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse
from sqlalchemy.orm import Session, sessionmaker

from tests.helpers.fleet import Fleet, running_fleet
from tests.helpers.receiver import Receiver, webhook_receiver

SLOW: dict[str, Any] = {
    "prompt": "a lighthouse",
    "checkpoint": "deliberate_v6",
    "steps": 100,
    "batch_size": 2,
}
UNSERVED = "jib_mix_illustrious_realistic_v2"  # no worker of this fleet serves it: its jobs stay queued


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as found:
        yield found


@pytest.fixture(scope="module")
def fleet(
    sdfleet_env: dict[str, str],
    models_volume: Path,
    tmp_path_factory: pytest.TempPathFactory,
    pg_sessions: sessionmaker[Session],
) -> Iterator[Fleet]:
    env = {
        "SDFLEET_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        "SDFLEET_EVENTS_HEARTBEAT_S": "0.5",
        "SDFLEET_PUBLIC_URL": "https://sdfleet.test",
    }
    log_dir = tmp_path_factory.mktemp("events-fleet")
    with running_fleet(
        sdfleet_env, models_volume, log_dir, pg_sessions, apis=2, dispatcher=True, env=env
    ) as f:
        yield f


def _client(fleet: Fleet, replica: int = 0) -> httpx.Client:
    auth = {"Authorization": f"Bearer {fleet.key}"}
    return httpx.Client(base_url=fleet.api_urls[replica], headers=auth, timeout=httpx.Timeout(30, read=60))


def _events(client: httpx.Client, job_id: str, last_event_id: str | None = None) -> Iterator[Any]:
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    with connect_sse(client, "GET", f"/v1/jobs/{job_id}/events", headers=headers) as source:
        assert source.response.status_code == 200
        yield from (sse for sse in source.iter_sse() if sse.data)  # not the heartbeats


def test_events_follow_a_job_to_its_outcome_and_its_webhook_is_signed(
    fleet: Fleet, receiver: Receiver
) -> None:
    with _client(fleet) as http:
        # Given a job with a callback URL
        job_id = http.post("/v1/jobs", json={**SLOW, "callback_url": receiver.url + "/hook"}).json()["id"]
        # When its events are followed
        events = [(sse.event, sse.id, json.loads(sse.data)) for sse in _events(http, job_id)]
        kinds = [kind for kind, _, _ in events]
        # Then it was started, made progress, and the stream ended with the outcome, carrying the job
        assert "started" in kinds and "progress" in kinds and kinds[-1] == "succeeded", kinds
        started = next(data for kind, _, data in events if kind == "started")
        assert started["worker"].startswith("gpu-") and "gpu" in started
        progress = [data for kind, _, data in events if kind == "progress"]
        for key in ("step", "steps", "fraction", "eta_s", "images_done", "images"):
            assert key in progress[0]
        assert progress[-1]["images"] == 2
        outcome = events[-1][2]["job"]
        assert outcome["status"] == "succeeded" and len(outcome["images"]) == 2
        assert all(event_id for kind, event_id, _ in events if kind != "queue")
        # And the webhook arrived, signed over the timestamp and the exact body
        [hook] = receiver.wait_for(1)
        assert hook.path == "/hook" and hook.headers["Sdfleet-Event"] == "job.succeeded"
        fields = dict(part.split("=", 1) for part in hook.headers["Sdfleet-Signature"].split(","))
        message = fields["t"].encode() + b"." + hook.body
        assert fields["v1"] == hmac.new(fleet.webhook_secret.encode(), message, hashlib.sha256).hexdigest()
        assert abs(time.time() - int(fields["t"])) < 120
        body = json.loads(hook.body)
        assert (body["id"], body["status"], len(body["images"])) == (job_id, "succeeded", 2)
        assert body["images"][0]["url"] == f"https://sdfleet.test/v1/jobs/{job_id}/images/0"
        # And the delivery is logged on the job
        deadline = time.monotonic() + 30
        while (hooks := http.get(f"/v1/jobs/{job_id}").json()["webhooks"])[0]["state"] != "delivered":
            assert time.monotonic() < deadline, hooks
            time.sleep(0.2)
        [entry] = hooks[0]["log"]
        assert entry["status_code"] == 200 and entry["try"] == 1 and entry["duration_ms"] >= 0


def test_a_stream_resumes_on_another_replica_and_get_shows_live_progress(fleet: Fleet) -> None:
    with _client(fleet, 0) as first, _client(fleet, 1) as second:
        job_id = first.post("/v1/jobs", json=SLOW).json()["id"]
        # Given a reader that saw the job start and then lost its connection
        seen: list[tuple[str, str]] = []
        for sse in _events(first, job_id):
            if sse.id:
                seen.append((sse.event, sse.id))
            if sse.event == "progress":
                break
        last_id = seen[-1][1]
        # When GET is asked while it runs
        live = second.get(f"/v1/jobs/{job_id}").json()
        # Then it shows the latest progress (or the job has just finished)
        if live["status"] == "running":
            assert live["live"]["progress"]["steps"] == 100 and live["live"]["eta_s"] is not None
        # When the reader reconnects to the other replica with Last-Event-ID
        rest = [(sse.event, sse.id) for sse in _events(second, job_id, last_event_id=last_id)]
        # Then it gets what followed, nothing twice, ending with the outcome
        assert rest[-1][0] == "succeeded"
        ids = [event_id for _, event_id in rest if event_id]
        assert all(event_id not in {i for _, i in seen} for event_id in ids)
        assert ids == sorted(ids, key=lambda i: tuple(int(n) for n in i.split("-")))


def test_a_queued_job_shows_its_position_heartbeats_and_its_cancel(fleet: Fleet) -> None:
    with _client(fleet) as http:
        ahead = http.post("/v1/jobs", json={"prompt": "x", "checkpoint": UNSERVED}).json()["id"]
        job_id = http.post("/v1/jobs", json={"prompt": "y", "checkpoint": UNSERVED}).json()["id"]
        lines: list[str] = []
        with http.stream("GET", f"/v1/jobs/{job_id}/events") as response:
            for line in response.iter_lines():
                lines.append(line)
                if line.startswith(":") and not any(x.startswith(": ping") for x in lines[:-1]):
                    http.post(f"/v1/jobs/{job_id}/cancel")  # after the first heartbeat
        http.post(f"/v1/jobs/{ahead}/cancel")
    events = [line.split(": ", 1)[1] for line in lines if line.startswith("event:")]
    assert events[0] == "queue" and events[-1] == "cancelled"
    position = json.loads(next(line for line in lines if line.startswith("data:"))[5:])
    assert position["position"] >= 1
    assert any(line.startswith(":") for line in lines)  # the heartbeat comment


def test_events_of_an_unknown_job_or_a_bad_last_event_id(fleet: Fleet) -> None:
    with _client(fleet) as http:
        assert http.get("/v1/jobs/00000000-0000-0000-0000-000000000000/events").status_code == 404
        job_id = http.post("/v1/jobs", json={"prompt": "x", "checkpoint": UNSERVED}).json()["id"]
        response = http.get(f"/v1/jobs/{job_id}/events", headers={"Last-Event-ID": "yesterday"})
        assert response.status_code == 422 and "Last-Event-ID" in response.text
        http.post(f"/v1/jobs/{job_id}/cancel")
