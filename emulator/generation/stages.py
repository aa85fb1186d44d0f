"""What each stage of a batch costs the card beyond its sampling steps: text encoding, the memory a
pass allocates (and how far it gets before an out-of-memory error), the VAE decode, and emptying the
cache afterwards. Durations are simulated seconds on the runtime's clock (docs/emulator.md, "Time")."""

from __future__ import annotations

from collections.abc import Hashable

from emulator.faults import FaultKind
from emulator.generation.job import Job
from emulator.generation.sampling import batch_eval_seconds
from emulator.gpu.oom import OutOfMemoryError
from emulator.gpu.timing import decode_seconds, empty_cache_seconds, encode_seconds
from emulator.gpu.vram import unet_working_mib, vae_working_mib
from emulator.models.checkpoints import Checkpoint
from emulator.runtime import Runtime


def encode_conds(rt: Runtime, job: Job, checkpoint: Checkpoint, batch: int, *, hires: bool) -> None:
    """`setup_conds` for batch `batch`: the prompt and negative prompt (and the hires pass's, which
    A1111 caches apart) through the text encoders, unless the cond caches already hold them."""
    first = batch * job.batch_size
    prompts = tuple(job.all_prompts[first : first + job.batch_size])
    negatives = tuple(job.all_negative_prompts[first : first + job.batch_size])
    common = (checkpoint.filename, job.steps, job.clip_skip, job.width, job.height)
    wanted: list[tuple[str, Hashable]] = [("c", (*common, prompts)), ("uc", (*common, negatives))]
    if hires:
        wanted += [("hr_c", (*common, "hires", prompts)), ("hr_uc", (*common, "hires", negatives))]
    misses = rt.conds.misses(wanted)
    rt.clock.sleep(misses * encode_seconds(checkpoint.arch) / rt.config.gpu_speed)


def _allocate(rt: Runtime, need_mib: float, pass_s: float, *, force: bool = False) -> None:
    """Allocate a pass's working memory. On an out-of-memory error the pass has run until the chunk
    that failed, i.e. the share of its memory that was allocated, before torch raises; that time is
    spent, then the error propagates (its cache is emptied when the request ends)."""
    try:
        rt.device.allocate_working(need_mib, force=force)
    except OutOfMemoryError as oom:
        rt.stats.bump("ooms")
        rt.clock.sleep(oom.allocated_share * pass_s)
        raise


def start_unet_pass(rt: Runtime, job: Job, checkpoint: Checkpoint, width: int, height: int) -> None:
    """Allocate the sampling pass at this size. Raises OutOfMemoryError during the first UNet
    evaluation when the activations do not fit, or whatever they need under an `oom` fault."""
    need = unet_working_mib(
        checkpoint.arch, width, height, job.batch_size, linear_attention=rt.config.linear_attention
    )
    forced = job.fault(FaultKind.OOM) is not None
    if forced:
        rt.stats.bump("faults_fired")
    _allocate(rt, need, batch_eval_seconds(rt, job, width, height), force=forced)


def decode(rt: Runtime, job: Job, checkpoint: Checkpoint, width: int, height: int) -> None:
    """The batch's VAE decode, one image at a time (`decode_latent_batch`). Raises OutOfMemoryError
    during the first image when the decoder's activations do not fit."""
    per_image_s = decode_seconds(checkpoint.arch, width, height) / rt.config.gpu_speed
    _allocate(rt, vae_working_mib(width, height, rt.config.precision), per_image_s)
    rt.clock.sleep(per_image_s * job.batch_size)


def empty_cache(rt: Runtime) -> None:
    """`devices.torch_gc()`: what the batch left in torch's cache is given back to the driver."""
    rt.clock.sleep(empty_cache_seconds(rt.device.release_working()))
