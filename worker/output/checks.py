"""Output quality control: are the images A1111 returned the images we asked for?

Each image must decode as a PNG of the requested size, the count must match, and an image must not be
blank or uniform (A1111's NaN-VAE black frames, which `--no-half-vae` exists to prevent). The pixels are
decoded here once and kept with the checked image: the quality score (`worker.output.quality`) and a
conversion to JPEG or WebP (`worker.output.encode`) read them instead of decoding the PNG again.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from worker.errors import OutputInvalid

# A frame whose pixel values barely vary is blank: real images have a standard deviation in the tens.
MIN_PIXEL_STDDEV = 2.0
# What Pillow raises for bytes that are not a whole, sane image (the bomb error is not an OSError; the
# warning is raised only where warnings are errors).
_UNDECODABLE = (
    UnidentifiedImageError,
    OSError,
    SyntaxError,
    ValueError,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
)


@dataclass(frozen=True)
class CheckedImage:
    """An image that passed the checks, with what was read from it."""

    data: bytes
    width: int
    height: int
    infotext: str
    pixels: np.ndarray  # H x W x 3 uint8 RGB, as decoded (alpha dropped, as A1111 does for jpg/webp)


def check_images(images: list[bytes], *, expected_count: int, width: int, height: int) -> list[CheckedImage]:
    """Check every image; raises OutputInvalid naming the first problem found."""
    if len(images) != expected_count:
        raise OutputInvalid(f"A1111 returned {len(images)} images, expected {expected_count}")
    return [_check_one(i, data, width, height) for i, data in enumerate(images)]


def _check_one(index: int, data: bytes, width: int, height: int) -> CheckedImage:
    try:
        with Image.open(io.BytesIO(data)) as image:
            # Format and size come from the header: a wrong or oversized image is refused before its
            # pixels are decompressed.
            if image.format != "PNG":
                raise OutputInvalid(f"image {index} is {image.format}, expected PNG")
            if image.size != (width, height):
                found = f"{image.size[0]}x{image.size[1]}"
                raise OutputInvalid(f"image {index} is {found}, expected {width}x{height}")
            image.load()
            infotext = image.info.get("parameters")
            pixels = np.asarray(image.convert("RGB"))
    except _UNDECODABLE as exc:
        raise OutputInvalid(f"image {index} does not decode: {exc}") from exc
    stddev = _stddev(pixels)
    if stddev < MIN_PIXEL_STDDEV:
        raise OutputInvalid(
            f"image {index} is blank (pixel standard deviation {stddev:.2f} < {MIN_PIXEL_STDDEV}); "
            "a NaN in the VAE gives such black frames"
        )
    return CheckedImage(data, width, height, infotext if isinstance(infotext, str) else "", pixels)


def _stddev(pixels: np.ndarray) -> float:
    """The largest of the channels' population standard deviations."""
    return float(pixels.reshape(-1, 3).std(axis=0).max())
