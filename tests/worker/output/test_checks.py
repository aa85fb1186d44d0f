"""Output quality control on real images: format, size, count, decodability, blank frames."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import images as img
from worker.errors import OutputInvalid
from worker.output.checks import MIN_PIXEL_STDDEV, check_images

GOOD = img.png(img.gradient(64, 64), "a cat\nSteps: 2, Seed: 1")
ALMOST_BLANK = img.with_stddev(MIN_PIXEL_STDDEV - 0.02)
JUST_VARIED = img.with_stddev(MIN_PIXEL_STDDEV + 0.02)


def _corrupt_crc(data: bytes) -> bytes:
    at = data.index(b"IDAT") + 8  # a byte inside the first IDAT body: its CRC no longer matches
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


# (case, images, expected count, words of the refusal or None when the images pass)
CASES: list[tuple[str, list[bytes], int, str | None]] = [
    ("a real gradient", [GOOD], 1, None),
    ("two real images", [GOOD, img.png(img.gradient(64, 64)[::-1])], 2, None),
    ("RGBA and palette PNGs", [img.png(img.gradient(), mode="RGBA"), img.png(img.gradient(), mode="P")], 2,
     None),
    ("std just above the threshold", [img.png(JUST_VARIED)], 1, None),
    ("JPEG given", [img.encoded(img.gradient(), "JPEG")], 1, "image 0 is JPEG, expected PNG"),
    ("WebP given", [img.encoded(img.gradient(), "WEBP")], 1, "image 0 is WEBP, expected PNG"),
    ("wrong width", [img.png(img.gradient(72, 64))], 1, "image 0 is 72x64, expected 64x64"),
    ("wrong height", [img.png(img.gradient(64, 56))], 1, "image 0 is 64x56, expected 64x64"),
    ("width and height swapped", [img.png(img.gradient(64, 128))], 1, "is 64x128, expected 64x64"),
    ("one image too few", [GOOD], 2, "A1111 returned 1 images, expected 2"),
    ("one image too many", [GOOD, GOOD], 1, "A1111 returned 2 images, expected 1"),
    ("no image at all", [], 1, "A1111 returned 0 images, expected 1"),
    ("undecodable bytes", [b"these are not the pixels you are looking for"], 1, "image 0 does not decode"),
    ("empty bytes", [b""], 1, "image 0 does not decode"),
    ("PNG truncated in its pixel data", [GOOD[: len(GOOD) // 2]], 1, "image 0 does not decode"),
    ("PNG signature only", [GOOD[:8]], 1, "image 0 does not decode"),
    ("PNG with a corrupt chunk", [_corrupt_crc(GOOD)], 1, "image 0 does not decode"),
    ("header claims 9000x9000", [img.png_header_only(9000, 9000)], 1, "image 0 is 9000x9000, expected"),
    ("decompression bomb", [img.png_header_only(20000, 20000)], 1, "image 0 does not decode"),
    ("all black (NaN VAE)", [img.png(img.uniform(0))], 1, "image 0 is blank"),
    ("uniform grey", [img.png(img.uniform(128))], 1, "image 0 is blank"),
    ("uniform white", [img.png(img.uniform(255))], 1, "image 0 is blank"),
    ("std just below the threshold", [img.png(ALMOST_BLANK)], 1, "image 0 is blank"),
    ("second image of two is black", [GOOD, img.png(img.uniform(0))], 2, "image 1 is blank"),
]  # fmt: skip


@pytest.mark.parametrize(("images", "count", "refusal"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_check_images(images: list[bytes], count: int, refusal: str | None) -> None:
    if refusal is None:
        checked = check_images(images, expected_count=count, width=64, height=64)
        assert [c.data for c in checked] == images
        assert all((c.width, c.height) == (64, 64) for c in checked)
    else:
        with pytest.raises(OutputInvalid, match=refusal.replace("+", r"\+")) as caught:
            check_images(images, expected_count=count, width=64, height=64)
        assert caught.value.category.value == "output_invalid"


def test_the_almost_uniform_images_sit_on_either_side_of_the_threshold() -> None:
    # The table's premise: population standard deviation, as ImageStat computes it.
    assert MIN_PIXEL_STDDEV - 0.05 < float(np.std(ALMOST_BLANK)) < MIN_PIXEL_STDDEV
    assert MIN_PIXEL_STDDEV < float(np.std(JUST_VARIED)) < MIN_PIXEL_STDDEV + 0.05


def test_the_blank_refusal_says_why() -> None:
    with pytest.raises(OutputInvalid) as caught:
        check_images([img.png(img.uniform(0))], expected_count=1, width=64, height=64)
    assert "standard deviation 0.00 < 2.0" in str(caught.value) and "NaN in the VAE" in str(caught.value)


def test_the_infotext_is_read_from_the_parameters_chunk() -> None:
    (checked,) = check_images([GOOD], expected_count=1, width=64, height=64)
    assert checked.infotext == "a cat\nSteps: 2, Seed: 1"
    (plain,) = check_images([img.png(img.gradient())], expected_count=1, width=64, height=64)
    assert plain.infotext == ""
