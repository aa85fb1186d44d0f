"""`process_images`: override_settings around the job, then seeds, LoRAs, VRAM, batches and images."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from emulator.faults import FaultKind
from emulator.generation import hires, stages
from emulator.generation.job import Job
from emulator.generation.outputs import image_infotext, image_pixels
from emulator.generation.samplers import SAMPLERS_BY_NAME, resolve, schedule_label
from emulator.generation.sampling import sample_batch
from emulator.gpu.vram import lora_mib
from emulator.models.checkpoints import Checkpoint
from emulator.models.loras import prompt_loras
from emulator.runtime import Runtime


@dataclass
class Processed:
    pixels: list[Any] = field(default_factory=list)  # numpy arrays, one per returned image
    infotexts: list[str] = field(default_factory=list)
    checkpoint: Checkpoint | None = None
    clip_skip: int = 1


def process_images(rt: Runtime, job: Job) -> Processed:
    """Apply override_settings, run the job, restore the stored options (also after an error).

    Raises KeyError for an unknown option key and whatever generation raises.
    """
    stored = rt.options.stored(job.override_settings.keys())
    try:
        if rt.checkpoints.by_alias(job.override_settings.get("sd_model_checkpoint")) is None:
            # an unknown (or absent) checkpoint override is dropped silently, from the request's own dict
            job.override_settings.pop("sd_model_checkpoint", None)
            rt.loader.reload_weights()
        for key, value in job.override_settings.items():
            rt.options.set(key, value)
            if key == "sd_model_checkpoint":
                rt.loader.reload_weights()
        return _process_inner(rt, job)
    finally:
        if job.restore_afterwards:
            for key, value in stored.items():
                rt.options.restore(key, value)  # the checkpoint is NOT reloaded back (§8)


def _fixed_seed(rt: Runtime, seed: int | None) -> int:
    return rt.random_seed() if seed is None or seed == -1 else seed


def _activate_loras(rt: Runtime, job: Job) -> None:
    """Load the prompt's LoRAs (unknown ones are skipped silently) and add `Lora hashes`.

    A LoRA of the other family (SDXL on SD1.5) loads and takes VRAM but applies to nothing; A1111
    only prints "Failed to match keys" and does not fail either.
    """
    for key in rt.device.resident_keys("lora:"):
        rt.device.drop_resident(key)
    if job.disable_extra_networks:
        return
    hashes: dict[str, str] = {}
    for name, _weight in prompt_loras(job.prompt):
        lora = rt.loras.find(name)
        if lora is None:
            continue
        rt.device.set_resident(f"lora:{lora.path}", lora_mib(lora.arch, lora.rank))
        if lora.shorthash:
            hashes[name.replace(":", "").replace(",", "")] = lora.shorthash
    if hashes and rt.options.get("lora_add_hashes_to_infotext"):
        job.extra["Lora hashes"] = ", ".join(f"{k}: {v}" for k, v in hashes.items())


def _prepare(rt: Runtime, job: Job) -> Checkpoint:
    checkpoint = rt.loader.require_on_device()
    seed, subseed = _fixed_seed(rt, job.seed), _fixed_seed(rt, job.subseed)
    if job.restore_faces is None:
        job.restore_faces = bool(rt.options.get("face_restoration"))
    if job.tiling is None:
        job.tiling = bool(rt.options.get("tiling"))
    total = job.batch_size * job.n_iter
    job.all_prompts = [job.prompt] * total
    job.all_negative_prompts = [job.negative_prompt] * total
    job.all_seeds = [seed + (k if job.subseed_strength == 0 else 0) for k in range(total)]
    job.all_subseeds = [subseed + k for k in range(total)]
    job.clip_skip = _int_option(rt.options.get("CLIP_stop_at_last_layers"), 1)
    if rt.config.sampler_mode != "1.9":
        # 1.10's fix_p_invalid_sampler_and_scheduler: the scheduler becomes a label, "Automatic" when unset;
        # 1.9 leaves None, so its infotexts have no fixed Schedule type
        job.sampler_name, job.scheduler = resolve(job.sampler_name, job.scheduler, convert_automatic=False)
    return checkpoint


def _int_option(value: object, default: int) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return default


NOISY_FRACTION_DONE = 0.5  # the `noisy_image` fault: pictures look as if half their steps had run


def _process_inner(rt: Runtime, job: Job) -> Processed:
    checkpoint = _prepare(rt, job)
    if job.img2img:
        job.extra["Denoising strength"] = job.denoising_strength
    hr_plan = (
        hires.plan(job.width, job.height, job.steps, job.denoising_strength, job.hr)
        if job.enable_hr
        else None
    )
    if hr_plan is not None:
        job.extra.update(hr_plan.extra)
    _activate_loras(rt, job)
    if rt.state.snapshot()["job_count"] == -1:
        rt.state.set_job(job_count=job.n_iter * (2 if hr_plan else 1))
    label = schedule_label(job.sampler_name, job.scheduler or "Automatic")
    if SAMPLERS_BY_NAME[job.sampler_name].kdiffusion and label != "Automatic":
        job.extra["Schedule type"] = label  # k-diffusion's get_sigmas records the schedule it used
    result = Processed(checkpoint=checkpoint, clip_skip=job.clip_skip)
    if not rt.options.get("persistent_cond_cache"):
        rt.conds.clear()
    steps_run = 0
    blank = job.fault(FaultKind.BLANK_IMAGE) is not None
    noisy = job.fault(FaultKind.NOISY_IMAGE) is not None
    for n in range(job.n_iter):
        interrupted, skipped = rt.state.flags()
        if skipped:
            rt.state.clear_skip()
        if interrupted:
            break
        if job.n_iter > 1:
            rt.state.set_job(job=f"Batch {n + 1} out of {job.n_iter}")
        first = n * job.batch_size
        rt.state.preview_source = (
            checkpoint.name_for_extra,
            job.all_prompts[first],
            job.all_seeds[first],
            job.width,
            job.height,
        )
        with rt.telemetry.busy():
            stages.encode_conds(rt, job, checkpoint, n, hires=hr_plan is not None)
            stages.start_unet_pass(rt, job, checkpoint, job.width, job.height)
            done = sample_batch(rt, job, job.sample_steps, job.width, job.height, steps_run)
            steps_run += done
            fraction, size = done / job.sample_steps if job.sample_steps else 1.0, (job.width, job.height)
            if hr_plan is not None and not rt.state.flags()[0]:
                fraction, size = _hires_pass(rt, job, checkpoint, hr_plan, steps_run)
                steps_run += hr_plan.steps
            stages.decode(rt, job, checkpoint, *size)
            if noisy:
                fraction = min(fraction, NOISY_FRACTION_DONE)
        stages.empty_cache(rt)  # torch_gc() after every batch (processing.py:1012)
        for i in range(n * job.batch_size, (n + 1) * job.batch_size):
            result.pixels.append(image_pixels(job, checkpoint, i, fraction, blank, size))
            result.infotexts.append(image_infotext(rt, job, checkpoint, i))
        rt.stats.bump("images_generated", job.batch_size)
        rt.state.next_job()
    return result


def _hires_pass(
    rt: Runtime, job: Job, checkpoint: Checkpoint, hr_plan: hires.HiresPlan, steps_before: int
) -> tuple[float, tuple[int, int]]:
    """The second pass at the target size. Raises TypeError without denoising_strength, or an OOM."""
    rt.state.next_job()
    hires.check_denoising(job.denoising_strength)
    stages.start_unet_pass(rt, job, checkpoint, hr_plan.width, hr_plan.height)
    done = sample_batch(rt, job, hr_plan.steps, hr_plan.width, hr_plan.height, steps_before)
    return (done / hr_plan.steps if hr_plan.steps else 1.0), (hr_plan.width, hr_plan.height)
