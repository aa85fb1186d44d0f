"""What one image of a job is: its pixels and its infotext (processing.create_infotext)."""

from __future__ import annotations

from typing import Any

from emulator.generation import images
from emulator.generation.infotext import create
from emulator.generation.job import Job
from emulator.generation.samplers import schedule_label
from emulator.models.checkpoints import Checkpoint
from emulator.runtime import Runtime


def image_infotext(rt: Runtime, job: Job, checkpoint: Checkpoint, index: int) -> str:
    """The infotext of image `index` of the job (§11), with the options in force during the job."""
    opts = rt.options
    restore = bool(job.restore_faces)
    fixed: dict[str, object] = {
        "Steps": job.steps,
        "Sampler": job.sampler_name,
        "Schedule type": schedule_label(job.sampler_name, job.scheduler) if job.scheduler else None,
        "CFG scale": job.cfg_scale,
        "Seed": job.all_seeds[index],
        "Face restoration": opts.get("face_restoration_model") if restore else None,
        "Size": f"{job.width}x{job.height}",
        "Model hash": checkpoint.shorthash if opts.get("add_model_hash_to_info") else None,
        "Model": checkpoint.name_for_extra if opts.get("add_model_name_to_info") else None,
        "Variation seed": None if job.subseed_strength == 0 else job.all_subseeds[index],
        "Variation seed strength": None if job.subseed_strength == 0 else job.subseed_strength,
        "Seed resize from": None
        if job.seed_resize_from_w <= 0 or job.seed_resize_from_h <= 0
        else f"{job.seed_resize_from_w}x{job.seed_resize_from_h}",
        "Denoising strength": job.extra.get("Denoising strength"),
        "Clip skip": None if job.clip_skip <= 1 else job.clip_skip,
        "RNG": opts.get("randn_source") if opts.get("randn_source") != "GPU" else None,
        "Tiling": "True" if job.tiling else None,
    }
    tail = {"Version": rt.config.version if opts.get("add_version_to_infotext") else None}
    return create(job.all_prompts[index], job.all_negative_prompts[index], fixed, job.extra, tail)


def image_pixels(
    job: Job, checkpoint: Checkpoint, index: int, fraction: float, blank: bool, size: tuple[int, int]
) -> Any:
    """Image `index`: finished, still noisy after `fraction` of its steps, or black for a blank fault."""
    width, height = size
    if blank:
        return images.blank(width, height)
    seed = job.all_seeds[index]
    final = images.render(checkpoint.name_for_extra, job.all_prompts[index], seed, width, height)
    return final if fraction >= 1.0 else images.partial(final, seed, fraction)
