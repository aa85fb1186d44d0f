"""Deterministic stand-in pictures and their PNG encoding.

A picture is a pure function of (checkpoint, prompt, seed, width, height): a smooth colour field with
fine grain, so it is never uniform (quality checks reject blank frames) and equal seeds give the same
bytes whatever the batch. PNG encoding is deterministic too: same pixels and text, same bytes.
"""

from __future__ import annotations

import base64
import hashlib
import io

import numpy as np
from PIL import Image, PngImagePlugin

_GRID_CELLS = 6  # coarse control points per side of the colour field


def _rng(*parts: object) -> np.random.Generator:
    digest = hashlib.sha256("\x00".join(str(p) for p in parts).encode("utf8")).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "little"))


def render(checkpoint: str, prompt: str, seed: int, width: int, height: int) -> np.ndarray:
    """The finished picture, H x W x 3 uint8."""
    rng = _rng("image", checkpoint, prompt, seed, width, height)
    coarse = rng.integers(0, 256, size=(_GRID_CELLS, _GRID_CELLS, 3), dtype=np.uint8)
    field = np.asarray(Image.fromarray(coarse, "RGB").resize((width, height), Image.Resampling.BICUBIC))
    grain = rng.integers(-10, 11, size=(height, width, 1), dtype=np.int16)
    pixels: np.ndarray = np.clip(field.astype(np.int16) + grain, 0, 255).astype(np.uint8)
    return pixels


def partial(final: np.ndarray, seed: int, fraction_done: float) -> np.ndarray:
    """What an interrupted sampler returns: the picture still mixed with its starting noise."""
    done = min(max(fraction_done, 0.0), 1.0)
    height, width = final.shape[:2]
    noise = _rng("noise", seed, width, height).integers(0, 256, size=final.shape, dtype=np.uint8)
    mixed = final.astype(np.float32) * done + noise.astype(np.float32) * (1.0 - done)
    return mixed.round().astype(np.uint8)


def blank(width: int, height: int) -> np.ndarray:
    """The all-black frame A1111 returns when the VAE produced NaNs."""
    return np.zeros((height, width, 3), dtype=np.uint8)


def grid(pictures: list[np.ndarray]) -> np.ndarray:
    """A1111's `image_grid` with default options: round(sqrt(n)) rows on a white background."""
    rows = min(len(pictures), max(1, round(len(pictures) ** 0.5)))
    cols = -(-len(pictures) // rows)
    height = max(p.shape[0] for p in pictures)
    width = max(p.shape[1] for p in pictures)
    canvas = np.full((rows * height, cols * width, 3), 255, dtype=np.uint8)
    for index, picture in enumerate(pictures):
        top = index // cols * height + (height - picture.shape[0]) // 2
        left = index % cols * width + (width - picture.shape[1]) // 2
        canvas[top : top + picture.shape[0], left : left + picture.shape[1]] = picture
    return canvas


def encode_png(pixels: np.ndarray, parameters: str | None) -> bytes:
    """PNG bytes with `parameters` as a text chunk (tEXt, or iTXt if not latin-1), as A1111 writes it."""
    info = None
    if parameters is not None:
        info = PngImagePlugin.PngInfo()
        info.add_text("parameters", parameters)
    out = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def to_base64(png: bytes) -> str:
    return base64.b64encode(png).decode("ascii")


def read_parameters(data: bytes) -> tuple[str | None, dict[str, object]]:
    """(`parameters` text, other text items) of an image. Raises OSError/ValueError if undecodable."""
    with Image.open(io.BytesIO(data)) as image:
        items = {k: v for k, v in (image.info or {}).items() if isinstance(k, str)}
    text = items.pop("parameters", None)
    for ignored in ("dpi", "exif", "icc_profile", "gamma", "transparency", "srgb", "chromaticity"):
        items.pop(ignored, None)
    return (text if isinstance(text, str) else None), items
