"""The generation-parameters text A1111 writes into PNGs (`create_infotext`) and reads back
(`parse_generation_parameters`), a1111-api.md §11."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

# The fixed keys of processing.create_infotext, in order. Extra generation parameters follow them,
# then Version and User; an extra key that is also fixed keeps the fixed position and takes its value.
FIXED_KEYS = (
    "Steps", "Sampler", "Schedule type", "CFG scale", "Image CFG scale", "Seed", "Face restoration", "Size",
    "Model hash", "Model", "FP8 weight", "Cache FP16 weight for LoRA", "VAE hash", "VAE", "Variation seed",
    "Variation seed strength", "Seed resize from", "Denoising strength", "Conditional mask weight",
    "Clip skip", "ENSD", "Token merging ratio", "Token merging ratio hr", "Init image hash", "RNG", "Tiling",
)  # fmt: skip
TAIL_KEYS = ("Version", "User")

_PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
_IMAGE_SIZE = re.compile(r"^(\d+)x(\d+)$")
# Keys parse_generation_parameters fills in when absent, with the value it uses.
_PARSE_DEFAULTS: tuple[tuple[str, Any], ...] = (
    ("Hires sampler", "Use same sampler"),
    ("Hires checkpoint", "Use same checkpoint"),
    ("Hires prompt", ""),
    ("Hires negative prompt", ""),
    ("Mask mode", "Inpaint masked"),
    ("Masked content", "original"),
    ("Inpaint area", "Whole picture"),
    ("Masked area padding", 32),
)
_PARSE_DEFAULTS_LATE: tuple[tuple[str, Any], ...] = (
    ("RNG", "GPU"),
    ("Schedule type", "Automatic"),
    ("Schedule max sigma", 0),
    ("Schedule min sigma", 0),
    ("Schedule rho", 0),
    ("VAE Encoder", "Full"),
    ("VAE Decoder", "Full"),
    ("FP8 weight", "Disable"),
)


def quote(value: object) -> object:
    """JSON-quote values holding a comma, colon or newline, as infotext_utils.quote does."""
    text = str(value)
    if "," not in text and "\n" not in text and ":" not in text:
        return value
    return json.dumps(value, ensure_ascii=False)


def create(
    prompt: str, negative_prompt: str, fixed: Mapping[str, object], extra: Mapping[str, object],
    tail: Mapping[str, object],
) -> str:  # fmt: skip
    """The infotext of one image; None values are left out."""
    params: dict[str, object] = {key: fixed.get(key) for key in FIXED_KEYS}
    params.update(extra)
    params.update({key: tail.get(key) for key in TAIL_KEYS})
    text = ", ".join(k if k == v else f"{k}: {quote(v)}" for k, v in params.items() if v is not None)
    negative = f"\nNegative prompt: {negative_prompt}" if negative_prompt else ""
    return f"{prompt}{negative}\n{text}".strip()


def _unquote(text: str) -> str:
    if not text or text[0] != '"' or text[-1] != '"':
        return text
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, str) else text


def parse(text: str) -> dict[str, Any]:
    """`/sdapi/v1/png-info`'s `parameters`: prompt, negative prompt, every `k: v`, then A1111's defaults."""
    result: dict[str, Any] = {}
    *lines, last = text.strip().split("\n")
    if len(_PARAM.findall(last)) < 3:
        lines.append(last)
        last = ""
    prompt, negative, in_negative = "", "", False
    for line in (raw.strip() for raw in lines):
        if line.startswith("Negative prompt:"):
            in_negative = True
            line = line[16:].strip()
        if in_negative:
            negative += ("" if negative == "" else "\n") + line
        else:
            prompt += ("" if prompt == "" else "\n") + line
    result["Prompt"] = prompt
    result["Negative prompt"] = negative
    for key, value in _PARAM.findall(last):
        if value[:1] == '"' and value[-1:] == '"':
            value = _unquote(value)
        size = _IMAGE_SIZE.match(value)
        if size is not None:
            result[f"{key}-1"], result[f"{key}-2"] = size.group(1), size.group(2)
        else:
            result[key] = value
    result.setdefault("Clip skip", "1")
    if "Hires resize-1" not in result:
        result["Hires resize-1"] = 0
        result["Hires resize-2"] = 0
    for key, default in _PARSE_DEFAULTS:
        result.setdefault(key, default)
    for key, default in _PARSE_DEFAULTS_LATE:
        result.setdefault(key, default)
    if result["FP8 weight"] != "Disable":
        result.setdefault("Cache FP16 weight for LoRA", False)
    return result
