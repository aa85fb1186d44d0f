"""Submission: validate, resolve against the model registry, record the job, then publish its id.

The row is committed before the message is published (Postgres is the record, Redis the doorbell); a
crash between the two leaves a queued job with `published_at` unset, which the sweeper publishes.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from worker.a1111.samplers import effective_schedule, resolve_sampler
from worker.errors import InvalidRequest
from worker.jobs.prompt_tags import TAG, extract_lora_tags
from worker.jobs.records import NewJob
from worker.jobs.schema import JobRequest, parse_job_request
from worker.jobs.store import JobStore
from worker.output import JPEG_PROMPT_MAX_UTF16_UNITS, utf16_units
from worker.policy.content import ContentPolicy, policy_for
from worker.queues import checkpoint_queue
from worker.registry.loras import ResolvedLora
from worker.settings import CoreSettings

NATIVE_SIZE = {"sd15": 512, "sdxl": 1024}


@dataclass(frozen=True)
class ResolvedCheckpoint:
    name: str
    architecture: str


class ModelResolver(Protocol):
    """What submission needs from the model registry."""

    def resolve_checkpoint(self, name: str) -> ResolvedCheckpoint:
        """Raises ModelNotFound or ModelInvalid."""
        ...

    def resolve_loras(
        self, checkpoint: ResolvedCheckpoint, requested: list[dict[str, Any]], preset: str | None
    ) -> list[ResolvedLora]:
        """Raises LoraNotFound, LoraIncompatible or InvalidRequest."""
        ...


Publish = Callable[[str, str], None]  # (job id, queue)


def normalise(
    request: JobRequest, resolver: ModelResolver, settings: CoreSettings, *, rng: random.Random | None = None
) -> NewJob:
    """Resolve names, defaults and the seed: the params a worker needs and nothing it must look up."""
    checkpoint = resolver.resolve_checkpoint(request.checkpoint or settings.default_checkpoint)
    choice = resolve_sampler(request.sampler, request.scheduler)
    if choice is None:  # the schema already checked both names; this guards a schema change
        raise InvalidRequest(f"sampler {request.sampler!r} is not known", field="sampler")
    size = NATIVE_SIZE.get(checkpoint.architecture, 512)
    width, height = request.width or size, request.height or size
    if width * height > settings.max_pixels:
        raise InvalidRequest(
            f"width × height must be at most {settings.max_pixels} pixels, got {width}×{height}",
            field="width",
            value=width,
        )
    _check_jpeg_metadata(request)
    prompt, tagged = extract_lora_tags(request.prompt)
    if TAG.search(request.negative_prompt):
        raise InvalidRequest(
            "negative_prompt may not contain <lora:…> or other extra network tags: A1111 applies networks "
            "from the prompt only",
            field="negative_prompt",
        )
    wanted = [lora.model_dump() for lora in request.loras] + [vars(tag) for tag in tagged]
    loras = resolver.resolve_loras(checkpoint, wanted, request.preset)
    seed = request.seed if request.seed != -1 else (rng or random.SystemRandom()).randrange(4294967294)
    params = {
        "prompt": prompt,
        "negative_prompt": request.negative_prompt,
        "steps": request.steps,
        "cfg_scale": request.cfg_scale,
        "width": width,
        "height": height,
        "sampler": choice.sampler,
        "scheduler": effective_schedule(choice),
        "clip_skip": request.clip_skip,
        "batch_size": request.batch_size,
        "seed": seed,
        "requested_seed": request.seed,
        "loras": [vars(lora) for lora in loras],
        "preset": request.preset,
        "architecture": checkpoint.architecture,
        "output_format": request.output_format,
        "output_quality": request.output_quality,
    }
    return NewJob(
        checkpoint=checkpoint.name,
        queue=checkpoint_queue(checkpoint.name),
        params=params,
        seed=seed,
        batch_size=request.batch_size,
        max_attempts=settings.max_attempts,
    )


def _check_jpeg_metadata(request: JobRequest) -> None:
    """A JPEG's EXIF segment must hold the whole infotext; refuse now rather than after generating."""
    if request.output_format != "jpeg":
        return
    units = utf16_units(request.prompt) + utf16_units(request.negative_prompt)
    if units > JPEG_PROMPT_MAX_UTF16_UNITS:
        raise InvalidRequest(
            f"output_format 'jpeg' cannot keep this prompt in its metadata: prompt and negative_prompt "
            f"take {units} UTF-16 code units, a JPEG's EXIF segment leaves room for "
            f"{JPEG_PROMPT_MAX_UTF16_UNITS}; use png or webp",
            field="output_format",
            value=request.output_format,
        )


def check_content(request: JobRequest, policy: ContentPolicy) -> None:
    """Apply the content policy to what A1111 will see: the prompt without its LoRA tags, and the LoRAs
    the caller named in `loras` or in tags. Raises ContentBlocked, or InvalidRequest for a bad tag."""
    prompt, tagged = extract_lora_tags(request.prompt)
    named = [(f"loras[{i}].name", lora.name) for i, lora in enumerate(request.loras)]
    policy.check(prompt, loras=named + [("prompt", tag.name) for tag in tagged])


def submit(
    data: Any,
    *,
    store: JobStore,
    resolver: ModelResolver,
    settings: CoreSettings,
    publish: Publish,
    owner: str | None = None,
    idempotency_key: str | None = None,
) -> str:
    """Validate and record a job, publish it, and return its id; raises JobRejected children."""
    request = parse_job_request(data, max_batch_size=settings.max_batch_size)
    check_content(request, policy_for(tuple(settings.blocked_terms)))
    new = normalise(request, resolver, settings)
    new = NewJob(**{**vars(new), "owner": owner, "idempotency_key": idempotency_key})
    job = store.create(new)
    if job.published_at is None:
        publish(str(job.id), job.queue)
        store.mark_published(job.id)
    return str(job.id)
