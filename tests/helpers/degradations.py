"""Deliberately damaged versions of a good image, at two strengths each: the calibration set of the
output-quality score (`worker.output.quality`). Each damage is one a diffusion pipeline really produces:
softness (too few steps, an upscaler), burnt or crushed exposure (cfg_scale too high), a washed-out or
partly flat picture, residual noise (a sampler stopped early), a colour cast."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageFilter

Pixels = np.ndarray
Damage = Callable[[Pixels], Pixels]


def blurred(radius: float) -> Damage:
    def damage(pixels: Pixels) -> Pixels:
        return np.asarray(Image.fromarray(pixels, "RGB").filter(ImageFilter.GaussianBlur(radius)))

    return damage


def exposed(gain: float, offset: float) -> Damage:
    """Every value times `gain` plus `offset`, clipped to 0–255: over-exposed (gain > 1) or crushed."""

    def damage(pixels: Pixels) -> Pixels:
        return _clip(pixels.astype(np.float32) * gain + offset)

    return damage


def washed_out(contrast: float) -> Damage:
    """Every channel pulled towards its mean: `contrast` 1 keeps the image, 0 makes it flat."""

    def damage(pixels: Pixels) -> Pixels:
        values = pixels.astype(np.float32)
        mean = values.mean(axis=(0, 1))
        return _clip(mean + (values - mean) * contrast)

    return damage


def flat_top(share: float) -> Damage:
    """The top `share` of the rows painted in their mean colour: a region the model left empty."""

    def damage(pixels: Pixels) -> Pixels:
        out = pixels.copy()
        rows = round(pixels.shape[0] * share)
        out[:rows] = pixels[:rows].reshape(-1, 3).mean(axis=0).round().astype(np.uint8)
        return out

    return damage


def noisy(sigma: float, seed: int = 0) -> Damage:
    """Gaussian noise of `sigma` added to each channel (a fixed seed: the set is deterministic)."""

    def damage(pixels: Pixels) -> Pixels:
        noise = np.random.default_rng(seed).normal(0.0, sigma, pixels.shape)
        return _clip(pixels.astype(np.float32) + noise)

    return damage


WARM = np.array([1.0, 0.4, -1.0], dtype=np.float32)  # the direction of a cast in a neutral image


def tinted(share: float) -> Damage:
    """Blended `share` of the way towards a strong colour in the direction the image's mean colour
    already leans from grey (warm for a neutral image): its colour balance pushed further from neutral,
    as a wrong white balance or a tinting LoRA does. (A tint against the image's own lean would correct
    its cast, not damage it.)"""

    def damage(pixels: Pixels) -> Pixels:
        values = pixels.astype(np.float32)
        mean = values.mean(axis=(0, 1))
        lean = mean - mean.mean()
        direction = lean if float(np.linalg.norm(lean)) >= 1.0 else WARM
        colour = mean.mean() + 120.0 * direction / float(np.linalg.norm(direction))
        return _clip(values * (1 - share) + colour * share)

    return damage


# name -> (mild, strong)
DAMAGES: dict[str, tuple[Damage, Damage]] = {
    "blurred": (blurred(1.0), blurred(3.0)),
    "over-exposed": (exposed(1.6, 40), exposed(2.2, 70)),
    "under-exposed": (exposed(0.5, -25), exposed(0.35, -45)),
    "washed out": (washed_out(0.4), washed_out(0.15)),
    "flat region": (flat_top(0.3), flat_top(0.6)),
    "noisy": (noisy(12.0), noisy(30.0)),
    "colour cast": (tinted(0.25), tinted(0.5)),
}


def _clip(values: np.ndarray) -> Pixels:
    clipped: Pixels = np.clip(values.round(), 0, 255).astype(np.uint8)
    return clipped
