"""JPEG and WebP output: the infotext in EXIF UserComment as A1111 writes it, and in XMP with the job id.

EXIF is read back here the way A1111 1.10 reads it (`read_info_from_image`: piexif.load, then
`UserComment.load`), written out independently of `worker.output.exif`: the value must be EXIF type UNDEFINED,
start with `UNICODE\\0` and be UTF-16 big-endian.
"""

from __future__ import annotations

import io
import struct
import uuid
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from tests.helpers import images as img
from worker.errors import InternalError
from worker.output.checks import check_images
from worker.output.encode import (
    FORMATS,
    JPEG_XMP_MAX_BYTES,
    XMP_NAMESPACE,
    encode_output,
    media_type,
    output_image,
)
from worker.output.png_chunks import with_job_metadata

JOB = uuid.UUID("0b7e2d9c-31a4-4c55-8f0e-7d2a96c1e0f4")
INFOTEXT = (
    'un renard roux dans la neige, «lumière douce» 🦊 <lora:real_skin_slider:1> & "quotes" <tags>\n'
    "Negative prompt: blurry\n"
    "Steps: 4, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7.0, Seed: 7, Size: 96x64, "
    'Lora hashes: "real_skin_slider: 0123456789ab", Version: v1.10.1'
)
PIXELS = img.gradient(96, 64)
A1111_PNG = img.png(PIXELS, INFOTEXT)
NS = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "exif": "http://ns.adobe.com/exif/1.0/",
    "sdfleet": XMP_NAMESPACE,
}


def a1111_user_comment(exif: bytes) -> str:
    """A1111's reading of the EXIF block: piexif.load + piexif.helper.UserComment.load."""
    tiff = exif[6:] if exif.startswith(b"Exif\x00\x00") else exif
    order = {b"II": "<", b"MM": ">"}[tiff[:2]]

    def entries(offset: int) -> dict[int, tuple[int, int, bytes]]:
        (count,) = struct.unpack_from(order + "H", tiff, offset)
        found = {}
        for i in range(count):
            tag, kind, n, field = struct.unpack_from(order + "HHI4s", tiff, offset + 2 + 12 * i)
            found[tag] = (kind, n, field)
        return found

    (ifd0,) = struct.unpack_from(order + "I", tiff, 4)
    _, _, pointer = entries(ifd0)[0x8769]
    kind, n, field = entries(struct.unpack(order + "I", pointer)[0])[0x9286]
    assert kind == 7, f"UserComment has EXIF type {kind}; piexif returns bytes only for UNDEFINED (7)"
    value = field[:n] if n <= 4 else tiff[struct.unpack(order + "I", field)[0] :][:n]
    assert value[:8] == b"UNICODE\x00", value[:8]
    return value[8:].decode("utf_16_be")


def xmp_fields(xmp: bytes) -> dict[str, str | None]:
    description = ET.fromstring(xmp).find(".//rdf:Description", NS)
    assert description is not None
    comment = description.find("exif:UserComment/rdf:Alt/rdf:li", NS)
    return {
        "jobId": description.findtext("sdfleet:jobId", namespaces=NS),
        "attempt": description.findtext("sdfleet:attempt", namespaces=NS),
        "UserComment": comment.text if comment is not None else None,
    }


def _open(data: bytes) -> tuple[str | None, tuple[int, int], bytes, bytes, np.ndarray]:
    with Image.open(io.BytesIO(data)) as image:
        pixels = np.asarray(image.convert("RGB"))
        return image.format, image.size, image.info["exif"], image.info["xmp"], pixels


@pytest.mark.parametrize(("output_format", "pillow_format"), [("jpeg", "JPEG"), ("webp", "WEBP")])
def test_jpeg_and_webp_keep_the_infotext_in_exif_and_xmp_with_the_job_id(
    output_format: str, pillow_format: str
) -> None:
    out = encode_output(A1111_PNG, INFOTEXT, output_format=output_format, quality=90, job_id=JOB, attempt=2)
    assert (out.suffix, out.media_type) == (FORMATS[output_format].suffix, FORMATS[output_format].media_type)
    fmt, size, exif, xmp, pixels = _open(out.data)
    assert (fmt, size) == (pillow_format, (96, 64))
    assert a1111_user_comment(exif) == INFOTEXT
    assert xmp_fields(xmp) == {"jobId": str(JOB), "attempt": "2", "UserComment": INFOTEXT}
    # The pixels are A1111's, within what a quality-90 lossy encoder changes.
    assert float(np.abs(pixels.astype(int) - PIXELS.astype(int)).mean()) < 3.0


def test_pillow_reads_the_same_user_comment() -> None:
    out = encode_output(A1111_PNG, INFOTEXT, output_format="jpeg", quality=90, job_id=JOB, attempt=1)
    with Image.open(io.BytesIO(out.data)) as image:
        value = image.getexif().get_ifd(0x8769)[0x9286]
    assert value == b"UNICODE\x00" + INFOTEXT.encode("utf-16-be")


def test_quality_is_passed_to_the_encoder() -> None:
    sizes = {
        q: len(encode_output(A1111_PNG, "", output_format="jpeg", quality=q, job_id=JOB, attempt=1).data)
        for q in (5, 95)
    }
    assert sizes[5] < sizes[95]


def test_png_output_is_a1111s_png_with_the_job_id_chunks() -> None:
    out = encode_output(A1111_PNG, INFOTEXT, output_format="png", quality=90, job_id=JOB, attempt=1)
    assert (out.suffix, out.media_type) == (".png", "image/png")
    assert out.data == with_job_metadata(A1111_PNG, JOB, 1)


def test_an_rgba_png_becomes_rgb() -> None:
    rgba = img.png(PIXELS, INFOTEXT, mode="RGBA")
    for fmt in ("jpeg", "webp"):
        out = encode_output(rgba, INFOTEXT, output_format=fmt, quality=90, job_id=JOB, attempt=1)
        with Image.open(io.BytesIO(out.data)) as image:
            assert image.mode == "RGB"


def test_characters_xml_cannot_carry_are_replaced_in_xmp_only() -> None:
    text = "bell\x07 and nul-free control \x1b[0m\nSteps: 2"
    out = encode_output(img.png(PIXELS, None), text, output_format="webp", quality=90, job_id=JOB, attempt=1)
    _, _, exif, xmp, _ = _open(out.data)
    assert a1111_user_comment(exif) == text
    assert xmp_fields(xmp)["UserComment"] == "bell\ufffd and nul-free control \ufffd[0m\nSteps: 2"


def test_an_infotext_too_long_for_jpeg_xmp_is_kept_in_exif_only() -> None:
    text = "&" * (JPEG_XMP_MAX_BYTES // 4)  # 1 byte in EXIF's UTF-16 half, 5 bytes escaped in XMP
    out = encode_output(A1111_PNG, text, output_format="jpeg", quality=90, job_id=JOB, attempt=1)
    _, _, exif, xmp, _ = _open(out.data)
    assert a1111_user_comment(exif) == text
    assert xmp_fields(xmp) == {"jobId": str(JOB), "attempt": "1", "UserComment": None}
    webp = encode_output(A1111_PNG, text, output_format="webp", quality=90, job_id=JOB, attempt=1)
    assert xmp_fields(_open(webp.data)[3])["UserComment"] == text  # WebP has no 64 KB segment limit


def test_an_infotext_too_long_for_jpeg_exif_is_an_internal_error() -> None:
    text = "🦊" * 17_000  # 68,000 bytes of UTF-16: submission refuses such prompts for JPEG
    with pytest.raises(InternalError, match="more than a JPEG segment holds"):
        encode_output(A1111_PNG, text, output_format="jpeg", quality=90, job_id=JOB, attempt=1)
    webp = encode_output(A1111_PNG, text, output_format="webp", quality=90, job_id=JOB, attempt=1)
    assert a1111_user_comment(_open(webp.data)[2]) == text


def test_output_image_follows_the_jobs_params() -> None:
    (checked,) = check_images([A1111_PNG], expected_count=1, width=96, height=64)
    assert output_image(checked, {}, job_id=JOB, attempt=1).suffix == ".png"  # jobs stored before the field
    webp = output_image(checked, {"output_format": "webp", "output_quality": 80}, job_id=JOB, attempt=3)
    assert webp.suffix == ".webp" and a1111_user_comment(_open(webp.data)[2]) == INFOTEXT


@pytest.mark.parametrize(
    ("path", "expected"),
    [("j/attempt-1/000.png", "image/png"), ("j/attempt-1/000.jpg", "image/jpeg"),
     ("j/attempt-2/003.webp", "image/webp"), ("j/attempt-1/000.JPG", "image/jpeg"),
     ("j/attempt-1/000.tmp", "application/octet-stream")],
)  # fmt: skip
def test_media_type_from_the_stored_suffix(path: str, expected: str) -> None:
    assert media_type(path) == expected


@pytest.mark.parametrize("fmt", ["jpeg", "webp"])
def test_a_checked_image_is_converted_from_the_pixels_the_checks_decoded(fmt: str) -> None:
    # The checks decode A1111's PNG once; converting from those pixels gives the same file as decoding
    # the PNG again would.
    for mode in ("RGB", "RGBA"):
        data = img.png(PIXELS, INFOTEXT, mode=mode)
        (checked,) = check_images([data], expected_count=1, width=96, height=64)
        params = {"output_format": fmt, "output_quality": 80}
        from_pixels = output_image(checked, params, job_id=JOB, attempt=1)
        decoded_again = encode_output(data, INFOTEXT, output_format=fmt, quality=80, job_id=JOB, attempt=1)
        assert from_pixels.data == decoded_again.data
