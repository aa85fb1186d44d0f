"""Submission with a real job store and registry: the content policy, output formats, refused text."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from worker.errors import ContentBlocked, InvalidRequest, JobRejected
from worker.jobs.service import JobService
from worker.output.encode import JPEG_PROMPT_MAX_UTF16_UNITS
from worker.output.files import ResultStore
from worker.registry.resolver import RegistryResolver
from worker.settings import CoreSettings
from worker.store.jobs import JobStore
from worker.store.models import Job

SDXL = "jib_mix_illustrious_realistic_v2"
BLOCKED = ["gore", "re:pony"]


class Submitter:
    """The job service's `submit` on the suite's Postgres and demo volume, recording what it publishes."""

    def __init__(self, store: JobStore, volume: Path, sessions: sessionmaker[Session]) -> None:
        self.store, self.resolver, self.sessions = store, RegistryResolver.for_volume(volume), sessions
        self.published: list[tuple[str, str]] = []
        self.created: list[uuid.UUID] = []

    def __call__(self, data: dict[str, Any], blocked_terms: list[str] | None = None) -> Job:
        settings = CoreSettings(blocked_terms=BLOCKED if blocked_terms is None else blocked_terms)
        publish = lambda job_id, queue: self.published.append((job_id, queue))  # noqa: E731
        service = JobService(
            store=self.store,
            resolver=self.resolver,
            settings=settings,
            results=ResultStore(settings.result_dir),
            events=None,
            publish=publish,
        )
        job_id = service.submit(data)
        self.created.append(uuid.UUID(job_id))
        return self.store.get(uuid.UUID(job_id))

    def refused(self, data: dict[str, Any], blocked_terms: list[str] | None = None) -> JobRejected:
        """The refusal of `data`, checking that nothing was recorded or published."""
        before, published = self.count(), len(self.published)
        with pytest.raises(JobRejected) as caught:
            self(data, blocked_terms)
        assert (self.count(), len(self.published)) == (before, published)
        return caught.value

    def count(self) -> int:
        with self.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(Job)) or 0)


@pytest.fixture
def submitted(
    job_store: JobStore, models_volume: Path, pg_sessions: sessionmaker[Session]
) -> Iterator[Submitter]:
    submitter = Submitter(job_store, models_volume, pg_sessions)
    yield submitter
    for job_id in submitter.created:  # never published: leave no queued job for a later sweeper to run
        job_store.request_cancel(job_id)


# (case, request, the field the refusal names)
REFUSED = [
    ("blocked word", {"prompt": "a scene of gore"}, "prompt"),
    ("blocked word split by a LoRA tag", {"prompt": "go<lora:real_skin_slider:1>re", "checkpoint": SDXL},
     "prompt"),
    ("LoRA named in loras", {"prompt": "x", "checkpoint": SDXL, "loras": [{"name": "pony_realism_slider"}]},
     "loras[0].name"),
    ("LoRA named in a tag", {"prompt": "x <lora:pony_realism_slider:1>", "checkpoint": SDXL}, "prompt"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "field"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_the_content_policy_refuses_before_anything_is_recorded(
    submitted: Submitter, data: dict[str, Any], field: str
) -> None:
    refusal = submitted.refused(data)
    assert isinstance(refusal, ContentBlocked) and refusal.category.value == "content_blocked"
    assert refusal.field == field and "content policy" in str(refusal)


ACCEPTED = [
    ("blocked word in the negative prompt", {"prompt": "a meadow", "negative_prompt": "gore, blood"}),
    ("blocked word inside a longer word", {"prompt": "a gorecki symphony"}),
    ("preset LoRAs are the operator's", {"prompt": "x", "checkpoint": SDXL, "preset": "pony_realism"}),
]  # fmt: skip


@pytest.mark.parametrize("data", [c[1] for c in ACCEPTED], ids=[c[0] for c in ACCEPTED])
def test_what_the_policy_lets_through(submitted: Submitter, data: dict[str, Any]) -> None:
    assert submitted(data).status == "queued"


def test_without_blocked_terms_nothing_is_refused(submitted: Submitter) -> None:
    assert submitted({"prompt": "gore"}, blocked_terms=[]).status == "queued"


def test_output_format_and_quality_are_stored_in_params(submitted: Submitter) -> None:
    default = submitted({"prompt": "x"}).params
    assert (default["output_format"], default["output_quality"]) == ("png", 90)
    job = submitted({"prompt": "x", "output_format": "JPG", "output_quality": 75})
    assert (job.params["output_format"], job.params["output_quality"]) == ("jpeg", 75)


def test_a_prompt_too_long_for_jpeg_metadata_is_refused_at_submit(submitted: Submitter) -> None:
    half = "🦊" * (JPEG_PROMPT_MAX_UTF16_UNITS // 4 + 1)  # two UTF-16 units each
    data = {"prompt": half, "negative_prompt": half, "output_format": "jpeg"}
    refusal = submitted.refused(data)
    assert isinstance(refusal, InvalidRequest) and refusal.field == "output_format"
    assert "use png or webp" in str(refusal)
    assert submitted({**data, "output_format": "webp"}).status == "queued"


def test_a_nul_character_is_a_422_not_a_database_error(submitted: Submitter) -> None:
    refusal = submitted.refused({"prompt": "a \x00 cat"})
    assert isinstance(refusal, InvalidRequest) and refusal.field == "prompt"
    assert "must not contain NUL characters" in str(refusal)
