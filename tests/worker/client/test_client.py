"""The Python HTTP client, blocking and asyncio, against a real fleet (stand-in A1111, GPU worker, API):
submit, follow, wait, download; and the API's refusals as sdfleet's exceptions."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy.orm import Session, sessionmaker

from tests.helpers.fleet import Fleet, running_fleet
from worker.client import AsyncSdfleetClient, JobEvent, SdfleetClient
from worker.errors import AccessDenied, ApiUnavailable, InvalidRequest, JobNotFound, ModelNotFound


@pytest.fixture(scope="module")
def fleet(
    sdfleet_env: dict[str, str],
    models_volume: Path,
    tmp_path_factory: pytest.TempPathFactory,
    pg_sessions: sessionmaker[Session],
) -> Iterator[Fleet]:
    with running_fleet(
        sdfleet_env, models_volume, tmp_path_factory.mktemp("client-fleet"), pg_sessions, time_scale=0.2
    ) as found:
        yield found


def test_submit_wait_and_download(fleet: Fleet, tmp_path: Path) -> None:
    seen: list[JobEvent] = []
    with SdfleetClient(fleet.api_url, fleet.key) as client:
        job_id = client.submit("a red fox", checkpoint="deliberate_v6", steps=8, batch_size=2, seed=5)
        job = client.wait(job_id, on_event=seen.append)
        assert (job.id, job.status, job.seed) == (job_id, "succeeded", 5)
        assert seen[-1].final and "started" in [event.event for event in seen]
        paths = client.download_images(job, tmp_path / "out")
        assert [p.name for p in paths] == [f"{job_id}-0.png", f"{job_id}-1.png"]
        with Image.open(paths[0]) as image:
            assert image.size == (512, 512)
        listed = client.list_jobs(status="succeeded", limit=5)
        assert job_id in [summary.id for summary in listed.jobs]
        assert client.stats().by_status["succeeded"] >= 1


def test_the_async_client_does_the_same(fleet: Fleet, tmp_path: Path) -> None:
    async def run() -> None:
        async with AsyncSdfleetClient(fleet.api_url, fleet.key) as client:
            job_id = await client.submit("a lighthouse", steps=6, sampler_name="Euler a")
            kinds = [event.event async for event in client.events(job_id)]
            assert kinds[-1] == "succeeded"
            job = await client.get(job_id)
            assert job.params["sampler"] == "Euler a" and job.live is None
            assert len(await client.download_images(job, tmp_path)) == 1
            with pytest.raises(JobNotFound):
                await client.get(str(uuid.uuid4()))
            rated = await client.rate_image(job_id, 0, "down", reason="too dark")
            assert (rated.rating, rated.satisfaction, rated.downloads) == ("down", 0.0, 1)
            with pytest.raises(InvalidRequest) as refused:
                await client.rate_image(job_id, 0, 11)
            assert refused.value.field == "rating"
            stats = await client.quality_stats(1, by=["sampler"])
            assert "Euler a" in [group.key["sampler"] for group in stats.groups]

    asyncio.run(run())


def test_refusals_are_sdfleets_exceptions(fleet: Fleet) -> None:
    with SdfleetClient(fleet.api_url, fleet.key) as client:
        with pytest.raises(InvalidRequest) as invalid:
            client.submit("x", steps=151, cfg_scale=99)
        assert [p.field for p in invalid.value.problems] == ["steps", "cfg_scale"]
        assert invalid.value.field == "steps" and invalid.value.value == 151
        with pytest.raises(ModelNotFound):
            client.submit("x", checkpoint="nope")
        with pytest.raises(JobNotFound):
            client.get(str(uuid.uuid4()))
        with pytest.raises(InvalidRequest) as bad_cursor:
            client.list_jobs(cursor="not-ours")
        assert bad_cursor.value.field == "cursor"
    with SdfleetClient(fleet.api_url, "sdf_wrong") as stranger, pytest.raises(AccessDenied):
        stranger.get(str(uuid.uuid4()))
    with SdfleetClient("http://127.0.0.1:9", fleet.key) as nowhere, pytest.raises(ApiUnavailable):
        nowhere.get(str(uuid.uuid4()))
