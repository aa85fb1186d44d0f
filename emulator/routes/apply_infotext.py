"""The `infotext` request field (api.py `apply_infotext`): values parsed from an infotext fill the
request fields the client did not send, and settings such as Clip skip become override_settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emulator.generation.infotext import parse
from emulator.runtime import Runtime

# infotext label -> (request field, type); the paste fields of txt2img and its always-on scripts.
_FIELDS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "Prompt": ("prompt", str),
    "Negative prompt": ("negative_prompt", str),
    "Steps": ("steps", int),
    "Sampler": ("sampler_name", str),
    "Schedule type": ("scheduler", str),
    "CFG scale": ("cfg_scale", float),
    "Seed": ("seed", int),
    "Variation seed": ("subseed", int),
    "Variation seed strength": ("subseed_strength", float),
    "Size-1": ("width", int),
    "Size-2": ("height", int),
    "Batch size": ("batch_size", int),
    "Denoising strength": ("denoising_strength", float),
}
# infotext label -> (option key, type), the options that carry an `infotext=` label
_SETTINGS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "Clip skip": ("CLIP_stop_at_last_layers", int),
    "RNG": ("randn_source", str),
    "ENSD": ("eta_noise_seed_delta", int),
    "Tiling": ("tiling", lambda v: str(v) == "True"),
}


def apply_infotext(rt: Runtime, req: dict[str, Any], explicit: set[str]) -> None:
    """Mutates `req` in place (the `parameters` echo shows the result). Raises ValueError for an
    infotext value that does not convert, as A1111 does (a 500)."""
    text = req.get("infotext")
    if not text:
        return
    params = parse(text)
    for label, (field, kind) in _FIELDS.items():
        if field in explicit or params.get(label) is None:
            continue
        req[field] = kind(params[label])
    if req["override_settings"] is None:
        req["override_settings"] = {}
    for label, (key, kind) in _SETTINGS.items():
        if params.get(label) is None:
            continue
        value = kind(params[label])
        if value != rt.options.get(key) and key not in req["override_settings"]:
            req["override_settings"][key] = value
