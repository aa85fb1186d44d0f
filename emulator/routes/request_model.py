"""The txt2img request model: A1111's field list, order and defaults (a1111-api.md §3), v1 semantics."""

from __future__ import annotations

from typing import Any

from emulator.routes.body import NOT_A_DICT, RequestInvalid
from emulator.routes.v1_validation import (
    Coercer,
    V1Error,
    to_bool,
    to_dict,
    to_float,
    to_int,
    to_list,
    to_str,
    to_str_list,
    validate_fields,
)

_S, _I, _F, _B, _D = to_str, to_int, to_float, to_bool, to_dict
# name -> (coercer, default); a callable default is a factory. The order is the `parameters` echo order.
TXT2IMG_FIELDS: dict[str, tuple[Coercer, Any]] = {
    "prompt": (_S, ""),
    "negative_prompt": (_S, ""),
    "styles": (to_str_list, None),
    "seed": (_I, -1),
    "subseed": (_I, -1),
    "subseed_strength": (_F, 0),
    "seed_resize_from_h": (_I, -1),
    "seed_resize_from_w": (_I, -1),
    "sampler_name": (_S, None),
    "scheduler": (_S, None),
    "batch_size": (_I, 1),
    "n_iter": (_I, 1),
    "steps": (_I, 50),
    "cfg_scale": (_F, 7.0),
    "width": (_I, 512),
    "height": (_I, 512),
    "restore_faces": (_B, None),
    "tiling": (_B, None),
    "do_not_save_samples": (_B, False),
    "do_not_save_grid": (_B, False),
    "eta": (_F, None),
    "denoising_strength": (_F, None),
    "s_min_uncond": (_F, None),
    "s_churn": (_F, None),
    "s_tmax": (_F, None),
    "s_tmin": (_F, None),
    "s_noise": (_F, None),
    "override_settings": (_D, None),
    "override_settings_restore_afterwards": (_B, True),
    "refiner_checkpoint": (_S, None),
    "refiner_switch_at": (_F, None),
    "disable_extra_networks": (_B, False),
    "firstpass_image": (_S, None),
    "comments": (_D, None),
    "enable_hr": (_B, False),
    "firstphase_width": (_I, 0),
    "firstphase_height": (_I, 0),
    "hr_scale": (_F, 2.0),
    "hr_upscaler": (_S, None),
    "hr_second_pass_steps": (_I, 0),
    "hr_resize_x": (_I, 0),
    "hr_resize_y": (_I, 0),
    "hr_checkpoint_name": (_S, None),
    "hr_sampler_name": (_S, None),
    "hr_scheduler": (_S, None),
    "hr_prompt": (_S, ""),
    "hr_negative_prompt": (_S, ""),
    "force_task_id": (_S, None),
    "sampler_index": (_S, "Euler"),
    "script_name": (_S, None),
    "script_args": (to_list, list),
    "send_images": (_B, True),
    "save_images": (_B, False),
    "alwayson_scripts": (_D, dict),
    "infotext": (_S, None),
}


_HIRES_ONLY = {
    "enable_hr", "firstphase_width", "firstphase_height", "hr_scale", "hr_upscaler", "hr_second_pass_steps",
    "hr_resize_x", "hr_resize_y", "hr_checkpoint_name", "hr_sampler_name", "hr_scheduler", "hr_prompt",
    "hr_negative_prompt",
}  # fmt: skip
_IMG2IMG_EXTRA: dict[str, tuple[Coercer, Any]] = {
    "init_images": (to_list, None),
    "resize_mode": (_I, 0),
    "image_cfg_scale": (_F, None),
    "mask": (_S, None),
    "mask_blur_x": (_I, 4),
    "mask_blur_y": (_I, 4),
    "mask_blur": (_I, None),
    "mask_round": (_B, True),
    "inpainting_fill": (_I, 0),
    "inpaint_full_res": (_B, True),
    "inpaint_full_res_padding": (_I, 0),
    "inpainting_mask_invert": (_I, 0),
    "initial_noise_multiplier": (_F, None),
    "latent_mask": (_S, None),
    "include_init_images": (_B, False),
}


def _img2img_fields() -> dict[str, tuple[Coercer, Any]]:
    """txt2img's fields without hires fix, denoising 0.75, and the img2img ones after `comments`."""
    fields: dict[str, tuple[Coercer, Any]] = {}
    for name, spec in TXT2IMG_FIELDS.items():
        if name in _HIRES_ONLY:
            continue
        fields[name] = (_F, 0.75) if name == "denoising_strength" else spec
        if name == "comments":
            fields.update(_IMG2IMG_EXTRA)
    return fields


IMG2IMG_FIELDS = _img2img_fields()


def parse_model(body: Any, fields: dict[str, tuple[Coercer, Any]]) -> dict[str, Any]:
    """Every field of `fields`, coerced, defaults filled. Raises RequestInvalid."""
    if not isinstance(body, dict):
        try:
            body = to_dict(body) if not isinstance(body, bytes | str) else None
        except V1Error:
            body = None
        if body is None:
            raise RequestInvalid([NOT_A_DICT])
    values, errors = validate_fields(body, fields)
    if errors:
        raise RequestInvalid(errors)
    return values


def parse_txt2img(body: Any) -> dict[str, Any]:
    """The txt2img request with every §3 field. Raises RequestInvalid."""
    return parse_model(body, TXT2IMG_FIELDS)


def parse_img2img(body: Any) -> dict[str, Any]:
    """The img2img request (§3: no hires fix, denoising_strength 0.75, init images). Raises RequestInvalid."""
    return parse_model(body, IMG2IMG_FIELDS)
