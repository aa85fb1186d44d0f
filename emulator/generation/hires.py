"""Hires fix (`enable_hr`) for txt2img: target size, infotext parameters and the pass's step count."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from emulator.generation.upscalers import LATENT_UPSCALE_MODES, UPSCALER_NAMES


@dataclass(frozen=True)
class HiresPlan:
    width: int
    height: int
    steps: int  # sampling steps the second pass actually runs
    extra: dict[str, Any]


def plan(width: int, height: int, steps: int, denoising: float | None, hr: dict[str, Any]) -> HiresPlan:
    """The second pass of a txt2img with `enable_hr`.

    Raises Exception for an unknown upscaler (as processing.py does) and TypeError when the API
    default `denoising_strength=None` reaches the pass (A1111's `p.denoising_strength > 0`).
    """
    upscaler = hr.get("hr_upscaler")
    if upscaler is not None and upscaler not in LATENT_UPSCALE_MODES and upscaler not in UPSCALER_NAMES:
        raise Exception(f"could not find upscaler named {upscaler}")
    scale = float(hr.get("hr_scale") or 2.0)
    resize_x, resize_y = int(hr.get("hr_resize_x") or 0), int(hr.get("hr_resize_y") or 0)
    extra: dict[str, Any] = {"Denoising strength": denoising}
    if resize_x == 0 and resize_y == 0:
        target_w, target_h = int(width * scale), int(height * scale)
        extra["Hires upscale"] = scale
    else:
        target_w = resize_x or resize_y * width // height
        target_h = resize_y or resize_x * height // width
        extra["Hires resize"] = f"{resize_x}x{resize_y}"
    second = int(hr.get("hr_second_pass_steps") or 0)
    if second:
        extra["Hires steps"] = second
    if upscaler is not None:
        extra["Hires upscaler"] = upscaler
    if denoising is None:
        hires_steps = 0  # the pass fails before sampling; see run-time check
    else:
        hires_steps = max(1, int((second or steps) * min(max(denoising, 0.0), 1.0)))
    return HiresPlan(target_w, target_h, hires_steps, extra)


def check_denoising(denoising: float | None) -> None:
    """Raises TypeError like A1111's hires pass does when denoising_strength was left at None."""
    if denoising is None:
        raise TypeError("'>' not supported between instances of 'NoneType' and 'int'")
