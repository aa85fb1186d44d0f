"""Submission's pure part: validate, check content, resolve against the model registry, normalise.

What comes out (`NewJob`) is what a worker needs and nothing it must look up again; `worker.jobs.service`
records it and publishes its id.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Protocol

from worker.errors import InvalidRequest
from worker.jobs.prompt_tags import TAG, TagLora, extract_lora_tags
from worker.jobs.queues import lane_queue
from worker.jobs.request import JobRequest, parse_job_request
from worker.jobs.samplers import effective_schedule, resolve_sampler
from worker.output.encode import JPEG_PROMPT_MAX_UTF16_UNITS, utf16_units
from worker.policy.content import ContentPolicy, policy_for
from worker.registry.loras import ResolvedLora
from worker.registry.resolver import ResolvedCheckpoint
from worker.settings import CoreSettings
from worker.store.records import NewJob
from worker.vocabulary import Lane

NATIVE_SIZE = {"sd15": 512, "sdxl": 1024}


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


@dataclass(frozen=True)
class ParsedRequest:
    """A request that passed the schema, with its prompt's LoRA tags taken out (parsed once)."""

    request: JobRequest
    prompt: str  # the prompt without its LoRA tags: what conditions the model
    tagged: list[TagLora]  # the LoRAs its tags asked for

    @classmethod
    def parse(cls, data: Any, *, max_batch_size: int) -> ParsedRequest:
        """Raises InvalidRequest naming the field, the value and what is allowed."""
        request = parse_job_request(data, max_batch_size=max_batch_size)
        prompt, tagged = extract_lora_tags(request.prompt)
        if TAG.search(request.negative_prompt):
            raise InvalidRequest(
                "negative_prompt may not contain <lora:…> or other extra network tags: A1111 applies "
                "networks from the prompt only",
                field="negative_prompt",
            )
        return cls(request, prompt, tagged)


def normalise(
    parsed: ParsedRequest,
    resolver: ModelResolver,
    settings: CoreSettings,
    *,
    rng: random.Random | None = None,
) -> NewJob:
    """Resolve names, defaults and the seed: the params a worker needs and nothing it must look up."""
    request = parsed.request
    checkpoint = resolver.resolve_checkpoint(request.checkpoint or settings.default_checkpoint)
    choice = resolve_sampler(request.sampler_name, request.scheduler)
    if choice is None:  # the schema already checked both names; this guards a schema change
        raise InvalidRequest(f"sampler {request.sampler_name!r} is not known", field="sampler_name")
    size = NATIVE_SIZE.get(checkpoint.architecture, 512)
    width, height = request.width or size, request.height or size
    if width * height > settings.max_pixels:
        raise InvalidRequest(
            f"width × height must be at most {settings.max_pixels} pixels, got {width}×{height}",
            field="width",
            value=width,
        )
    _check_jpeg_metadata(request)
    wanted = [lora.model_dump() for lora in request.loras] + [vars(tag) for tag in parsed.tagged]
    loras = resolver.resolve_loras(checkpoint, wanted, request.preset)
    seed = request.seed if request.seed != -1 else (rng or random.SystemRandom()).randrange(4294967294)
    params = {
        "prompt": parsed.prompt,
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
    lane = Lane(request.priority)
    return NewJob(
        checkpoint=checkpoint.name,
        queue=lane_queue(checkpoint.name, lane),
        priority=lane.value,
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


def check_content(parsed: ParsedRequest, policy: ContentPolicy) -> None:
    """Apply the content policy to what A1111 will see: the prompt without its LoRA tags, and the LoRAs
    the caller named in `loras` or in tags. Raises ContentBlocked."""
    named = [(f"loras[{i}].name", lora.name) for i, lora in enumerate(parsed.request.loras)]
    policy.check(parsed.prompt, loras=named + [("prompt", tag.name) for tag in parsed.tagged])


def prepare(data: Any, resolver: ModelResolver, settings: CoreSettings) -> NewJob:
    """Validate, check content and resolve `data` into a job ready to record; raises JobRejected children."""
    parsed = ParsedRequest.parse(data, max_batch_size=settings.max_batch_size)
    check_content(parsed, policy_for(tuple(settings.blocked_terms)))
    return normalise(parsed, resolver, settings)
