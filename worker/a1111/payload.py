"""Turn a stored job (its normalised params) into A1111's `/sdapi/v1/txt2img` request body."""

from __future__ import annotations

from typing import Any


def lora_tags(loras: list[dict[str, Any]]) -> str:
    """`<lora:NAME:WEIGHT>` tags for resolved LoRAs (NAME is the file's basename, as A1111 resolves it)."""
    return "".join(f"<lora:{lora['a1111_name']}:{format_weight(lora['weight'])}>" for lora in loras)


def format_weight(weight: float) -> str:
    """The shortest text that parses back to exactly `weight` ("1", "0.5", "0.123456789"): `:g` would
    round to six digits, so A1111 would apply a weight other than the one resolved and recorded."""
    text = repr(float(weight))
    return text[:-2] if text.endswith(".0") else text


def build_txt2img(params: dict[str, Any], *, seed: int, batch_size: int) -> dict[str, Any]:
    """The request for one sub-batch whose first image has `seed`; images k get `seed + k`.

    Clip skip is always sent in `override_settings`: A1111 does not restore a key missing from its
    config.json, so sending it only when > 1 would leak one job's clip skip into the next (§8).
    """
    prompt = params["prompt"]
    tags = lora_tags(params.get("loras", []))
    return {
        "prompt": f"{prompt} {tags}".strip() if tags else prompt,
        "negative_prompt": params.get("negative_prompt", ""),
        "seed": seed,
        "subseed": -1,
        "subseed_strength": 0,
        "sampler_name": params["sampler"],
        "scheduler": params["scheduler"],
        "steps": params["steps"],
        "cfg_scale": params["cfg_scale"],
        "width": params["width"],
        "height": params["height"],
        "batch_size": batch_size,
        "n_iter": 1,
        "restore_faces": False,
        "tiling": False,
        "enable_hr": False,
        "override_settings": {"CLIP_stop_at_last_layers": params.get("clip_skip", 1)},
        "override_settings_restore_afterwards": True,
        "send_images": True,
        "save_images": False,
    }
