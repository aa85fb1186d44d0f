"""`POST /sdapi/v1/txt2img` and `/img2img` (api.py `text2imgapi`, `img2imgapi`): check, queue, process,
answer."""

from __future__ import annotations

import base64
import binascii
import copy
import json
from typing import Any

from fastapi import HTTPException

from emulator.faults import FaultKind
from emulator.generation import images
from emulator.generation.job import Job, job_from_request
from emulator.generation.processing import Processed, process_images
from emulator.generation.samplers import V19_SAMPLER_NAMES, resolve
from emulator.generation.stages import empty_cache
from emulator.routes.apply_infotext import apply_infotext
from emulator.routes.scripts import check_alwayson, check_script_name
from emulator.runtime import Runtime


def _resolve_sampler(rt: Runtime, req: dict[str, Any]) -> tuple[str, str | None]:
    """The sampler name and the scheduler `p` gets. Raises HTTPException 404 in 1.9 mode."""
    raw = req["sampler_name"] or req["sampler_index"]
    if rt.config.sampler_mode == "1.9":
        if raw not in V19_SAMPLER_NAMES:
            raise HTTPException(status_code=404, detail="Sampler not found")
        return raw, req["scheduler"]
    sampler, scheduler = resolve(raw, req["scheduler"])
    if not req["scheduler"] and scheduler != "Automatic":
        return sampler, scheduler
    return sampler, req["scheduler"]


def _decode_image(encoding: object) -> None:
    """api.py `decode_base64_to_image` for a base64 or data-URL image. Raises HTTPException 500
    "Invalid encoded image", or AttributeError for a value that is not a string, as A1111 does."""
    if not isinstance(encoding, str):
        raise AttributeError(f"'{type(encoding).__name__}' object has no attribute 'startswith'")
    text = encoding
    try:
        if text.startswith("data:image/"):
            text = text.split(";")[1].split(",")[1]
        images.read_parameters(base64.b64decode(text))
    except (OSError, ValueError, IndexError, binascii.Error) as exc:
        raise HTTPException(status_code=500, detail="Invalid encoded image") from exc


def _check_img2img_inputs(req: dict[str, Any]) -> None:
    """What img2imgapi checks before anything else: init images present (404) and a mask that decodes."""
    if req["init_images"] is None:
        raise HTTPException(status_code=404, detail="Init image not found")
    if req["mask"]:
        _decode_image(req["mask"])


def run_generation(
    rt: Runtime, req: dict[str, Any], explicit: set[str], mode: str = "txt2img"
) -> dict[str, Any]:
    """The txt2img (or img2img) response for a validated request (`explicit`: the keys the client sent).

    Raises HTTPException (scripts, 1.9 sampler names, init images), OutOfMemoryError, KeyError and the
    rest of what generation raises, in the order api.py meets them; the caller wraps them in A1111's
    error envelope.
    """
    rt.stats.bump("txt2img_requests")
    if mode == "img2img":
        _check_img2img_inputs(req)
    allow_code = bool(rt.config.a1111_flags.get("allow_code"))
    # api.py's order: infotext, the selectable script, the sampler (1.9's 404), then the always-on scripts
    apply_infotext(rt, req, explicit)
    check_script_name(req["script_name"], mode, allow_code=allow_code)
    sampler, scheduler = _resolve_sampler(rt, req)
    check_alwayson(req["alwayson_scripts"], mode, allow_code=allow_code)
    job = job_from_request(req, sampler, scheduler)
    with rt.queue_lock:
        rt.loader.wait_initial_load()
        if mode == "img2img":
            for encoding in req["init_images"]:  # decoded under the lock, before state.begin (api.py:539)
                _decode_image(encoding)
        job_timestamp = rt.state.begin(f"scripts_{mode}")
        job.faults = rt.faults.take_for_request()
        try:
            processed = process_images(rt, job)
            if rt.state.flags()[0]:  # interrupted while it ran (begin() cleared any earlier flag)
                rt.stats.bump("txt2img_interrupted")
        finally:
            rt.state.end()
            empty_cache(rt)  # state.end()'s torch_gc(): after an error, what the failed pass cached
    index_of_first_image = 0
    grid_wanted = req["save_images"] and rt.options.get("return_grid")
    if grid_wanted and len(processed.pixels) > 1:  # save_images=false sets do_not_save_grid
        processed.pixels.insert(0, images.grid(processed.pixels))
        processed.infotexts.insert(0, processed.infotexts[0])  # the main prompt's text, seed of image 0
        index_of_first_image = 1
    pairs = zip(processed.pixels, processed.infotexts, strict=True)
    pngs = [images.encode_png(pixels, text) for pixels, text in pairs]
    encoded = [images.to_base64(png) for png in pngs] if req["send_images"] else []
    if job.fault(FaultKind.CORRUPT_BASE64) is not None:
        encoded = [_corrupt(item) for item in encoded]
    return {
        "images": encoded,
        "parameters": copy.deepcopy(req),
        "info": json.dumps(info_dict(rt, job, processed, job_timestamp, index_of_first_image)),
    }


def _corrupt(item: str) -> str:
    return "!" + item[1 : len(item) // 2] + "%%" if item else "%%"


def info_dict(
    rt: Runtime, job: Job, processed: Processed, job_timestamp: str, index_of_first_image: int = 0
) -> dict[str, Any]:
    """`Processed.js()`, keys in A1111's order (a1111-api.md §4)."""
    checkpoint = processed.checkpoint
    restore = bool(job.restore_faces)
    return {
        "prompt": job.all_prompts[0] if job.all_prompts else job.prompt,
        "all_prompts": job.all_prompts,
        "negative_prompt": job.all_negative_prompts[0] if job.all_negative_prompts else job.negative_prompt,
        "all_negative_prompts": job.all_negative_prompts,
        "seed": job.all_seeds[0] if job.all_seeds else -1,
        "all_seeds": job.all_seeds,
        "subseed": job.all_subseeds[0] if job.all_subseeds else -1,
        "all_subseeds": job.all_subseeds,
        "subseed_strength": job.subseed_strength,
        "width": job.width,
        "height": job.height,
        "sampler_name": job.sampler_name,
        "cfg_scale": job.cfg_scale,
        "steps": job.steps,
        "batch_size": job.batch_size,
        "restore_faces": restore,
        "face_restoration_model": rt.options.get("face_restoration_model") if restore else None,
        "sd_model_name": checkpoint.name_for_extra if checkpoint else None,
        "sd_model_hash": checkpoint.shorthash if checkpoint else None,
        "sd_vae_name": None,
        "sd_vae_hash": None,
        "seed_resize_from_w": job.seed_resize_from_w,
        "seed_resize_from_h": job.seed_resize_from_h,
        "denoising_strength": job.denoising_strength,
        "extra_generation_params": job.extra,
        "index_of_first_image": index_of_first_image,
        "infotexts": processed.infotexts,
        "styles": job.styles,
        "job_timestamp": job_timestamp,
        "clip_skip": processed.clip_skip,
        "is_using_inpainting_conditioning": False,
        "version": rt.config.version,
    }
