"""Real images for quality-control and output tests, built with Pillow and numpy."""

from __future__ import annotations

import io
import math
import struct
import zlib

import numpy as np
from PIL import Image, PngImagePlugin

Pixels = np.ndarray


def gradient(width: int = 64, height: int = 64) -> Pixels:
    """A smooth colour gradient: what a real picture looks like to the blank check."""
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :, None]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None, None]
    rgb = np.concatenate([np.broadcast_to(x, (height, width, 1)), np.broadcast_to(y, (height, width, 1)),
                          np.broadcast_to((x + y) / 2, (height, width, 1))], axis=2)  # fmt: skip
    return rgb.round().astype(np.uint8)


def uniform(value: int, width: int = 64, height: int = 64) -> Pixels:
    return np.full((height, width, 3), value, dtype=np.uint8)


def with_stddev(target: float, width: int = 64, height: int = 64, step: int = 10) -> Pixels:
    """Grey 128 with the fraction of pixels at 128 + step that gives a standard deviation near `target`
    (population std of a two-valued image: step * sqrt(p * (1 - p)))."""
    fraction = (1 - math.sqrt(1 - 4 * (target / step) ** 2)) / 2
    flat = np.full(width * height, 128, dtype=np.uint8)
    flat[: round(fraction * width * height)] = 128 + step
    return np.repeat(flat.reshape(height, width, 1), 3, axis=2)


def png(pixels: Pixels, parameters: str | None = None, mode: str = "RGB") -> bytes:
    """PNG bytes as A1111 writes them: the infotext in a `parameters` text chunk."""
    info = None
    if parameters is not None:
        info = PngImagePlugin.PngInfo()
        info.add_text("parameters", parameters)
    out = io.BytesIO()
    Image.fromarray(pixels, "RGB").convert(mode).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def encoded(pixels: Pixels, fmt: str) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(out, format=fmt)
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims `width` x `height` but whose data is a few bytes: what a decompression
    bomb or a hostile peer sends."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
            + chunk(b"IEND", b""))  # fmt: skip


def decode(data: bytes) -> tuple[str | None, tuple[int, int], Pixels]:
    with Image.open(io.BytesIO(data)) as image:
        return image.format, image.size, np.asarray(image.convert("RGB"))
