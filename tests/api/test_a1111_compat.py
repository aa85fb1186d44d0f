"""An existing A1111 client (webuiapi, unmodified) pointed at the producer runs jobs on the fleet."""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import webuiapi
from sqlalchemy.orm import Session, sessionmaker

from tests.helpers.processes import Processes
from worker.store.api_keys import ApiKeys


def _client(api_url: str, key: str) -> webuiapi.WebUIApi:
    parts = urlsplit(api_url)
    client = webuiapi.WebUIApi(host=parts.hostname, port=parts.port)
    client.set_auth("my-app", key)
    return client


def test_webuiapi_txt2img_runs_as_a_queued_job(
    processes: Processes, models_volume: Path, pg_sessions: sessionmaker[Session]
) -> None:
    # Given a fleet of one worker and the API, and an API key used as A1111's --api-auth password
    a1111 = processes.emulator(models_volume, "deliberate_v6.safetensors")
    processes.worker("gpu-compat", ["deliberate_v6"], a1111_url=a1111.url)
    api_url = processes.api()
    key = ApiKeys(pg_sessions).create(f"compat-{uuid.uuid4().hex[:6]}")
    client = _client(api_url, key)
    # When the unmodified A1111 client asks for two images with a seed and a checkpoint title
    result = client.txt2img(
        prompt="a lighthouse", seed=99, steps=5, batch_size=2, width=256, height=256,
        sampler_name="DPM++ 2M", scheduler="Karras",
        override_settings={"sd_model_checkpoint": "deliberate_v6.safetensors [0123456789]"},
    )  # fmt: skip
    # Then it gets A1111's answer: decoded images, seeds seed+k, the infotext, and the job id
    assert [image.size for image in result.images] == [(256, 256), (256, 256)]
    assert result.info["all_seeds"] == [99, 100]
    assert "Seed: 99" in result.info["infotexts"][0]
    job_id = result.info["sdfleet_job_id"]
    job = httpx.get(f"{api_url}/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {key}"}).json()
    assert (job["status"], job["checkpoint"], job["batch_size"]) == ("succeeded", "deliberate_v6", 2)


def test_webuiapi_sees_a_clear_error_for_a_bad_request(
    sdfleet_env: dict[str, str], processes: Processes, pg_sessions: sessionmaker[Session]
) -> None:
    api_url = processes.api()
    key = ApiKeys(pg_sessions).create(f"compat-{uuid.uuid4().hex[:6]}")
    with pytest.raises(RuntimeError) as error:
        _client(api_url, key).txt2img(prompt="x", steps=500)
    assert "422" in str(error.value) and "steps must be from 1 to 150" in str(error.value)
    models = httpx.get(f"{api_url}/sdapi/v1/sd-models", auth=("u", key)).json()
    assert {m["model_name"] for m in models} >= {"deliberate_v6", "jib_mix_illustrious_realistic_v2"}
