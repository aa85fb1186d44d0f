"""Webhook delivery against real processes: the API records a job with a callback URL, the job ends
(a cancel: no GPU needed), the dispatcher process POSTs it to a real local receiver, signed, retrying
after a failure, and logs each try on the job. The SSRF guard is checked again at delivery: a dispatcher
that does not allow loopback refuses a URL the API accepted."""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.helpers.processes import Processes, base_env
from tests.helpers.receiver import Receiver, webhook_receiver
from worker.store.api_keys import ApiKeys
from worker.webhooks.signature import verify

LOOPBACK = {"SDFLEET_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8"}
QUEUED_FOREVER = {"prompt": "x", "checkpoint": "jib_mix_illustrious_realistic_v2"}  # no worker here


@pytest.fixture(scope="module")
def api(sdfleet_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    procs = Processes(tmp_path_factory.mktemp("webhook-api"), {**base_env(), **sdfleet_env, **LOOPBACK})
    try:
        yield procs.api()
    finally:
        procs.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as found:
        yield found


def _dispatcher(processes: Processes, env: dict[str, str]) -> None:
    command = [sys.executable, "-m", "worker.cli.main", "dispatcher"]
    processes.group.start(
        "dispatcher", command, {**processes.env, "SDFLEET_WEBHOOK_RETRY_BASE_S": "0.2", **env}
    )


def _hooks(http: httpx.Client, job_id: str, state: str, timeout_s: float = 60) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while True:
        hooks: list[dict[str, Any]] = http.get(f"/v1/jobs/{job_id}").json()["webhooks"]
        if hooks and hooks[0]["state"] == state:
            return hooks
        assert time.monotonic() < deadline, hooks
        time.sleep(0.1)


def test_a_failed_try_is_retried_and_every_try_is_logged(
    api: str, processes: Processes, receiver: Receiver, pg_sessions: sessionmaker[Session]
) -> None:
    # Given a key whose default callback is the receiver, which fails once
    keys = ApiKeys(pg_sessions)
    name = f"hooks-{uuid.uuid4().hex[:6]}"
    key = keys.create(name, callback_url=receiver.url + "/default")
    secret = keys.webhook_secret(name) or ""
    receiver.answers = [500]
    _dispatcher(processes, LOOPBACK)
    with httpx.Client(base_url=api, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
        # When a job without its own callback URL ends
        job_id = http.post("/v1/jobs", json=QUEUED_FOREVER).json()["id"]
        http.post(f"/v1/jobs/{job_id}/cancel")
        # Then the receiver gets it twice (a 500, then a retry), signed with the key's secret
        first, second = receiver.wait_for(2)
        for hook in (first, second):
            assert hook.path == "/default"
            assert verify(secret, hook.headers["Sdfleet-Signature"], hook.body)
            assert not verify("whsec_someone-else", hook.headers["Sdfleet-Signature"], hook.body)
        assert json.loads(second.body)["status"] == "cancelled"
        assert first.headers["Sdfleet-Delivery"] == second.headers["Sdfleet-Delivery"]
        # And the job keeps the log of both tries
        [hook] = _hooks(http, job_id, "delivered")
        assert [entry["status_code"] for entry in hook["log"]] == [500, 200]
        assert hook["log"][0]["retry_in_s"] == 0.2 and hook["event"] == "job.cancelled"


def test_the_guard_is_checked_again_at_delivery(
    api: str, processes: Processes, receiver: Receiver, pg_sessions: sessionmaker[Session]
) -> None:
    # Given a job whose loopback callback the API allowed, and a dispatcher that does not allow it
    key = ApiKeys(pg_sessions).create(f"hooks-{uuid.uuid4().hex[:6]}")
    _dispatcher(processes, {"SDFLEET_WEBHOOK_ALLOWED_NETWORKS": ""})
    with httpx.Client(base_url=api, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
        job_id = http.post("/v1/jobs", json={**QUEUED_FOREVER, "callback_url": receiver.url}).json()["id"]
        # When the job ends
        http.post(f"/v1/jobs/{job_id}/cancel")
        # Then nothing is sent, and the refusal is logged
        [hook] = _hooks(http, job_id, "failed")
        assert "loopback" in hook["log"][0]["error"] and hook["log"][0]["status_code"] is None
    assert receiver.requests == []
