"""The job id in A1111's PNG: text chunks added before the image data, all A1111 wrote kept byte for byte."""

from __future__ import annotations

import io
import struct
import uuid
import zlib

import pytest
from PIL import Image

from tests.helpers import images as img
from worker.errors import OutputInvalid
from worker.output.png_chunks import png_chunks, with_job_metadata

JOB = uuid.UUID("6f1c8a52-7a0e-4d1e-9a57-0d0c7e0a1b2c")
INFOTEXT = (
    "a lighthouse <lora:detail_tweaker_xl:1.5>\nNegative prompt: blurry\n"
    "Steps: 4, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7.0, Seed: 42, Size: 64x64, "
    "Model: deliberate_v6, Clip skip: 2, Version: v1.10.1"
)
A1111_PNG = img.png(img.gradient(64, 48), INFOTEXT)


def _text(data: bytes) -> dict[str, str]:
    """The text Pillow shows when a file is opened, before its pixels are decoded (A1111's "PNG Info")."""
    with Image.open(io.BytesIO(data)) as image:
        return {k: v for k, v in image.info.items() if isinstance(v, str)}


def test_the_job_id_and_attempt_are_text_chunks_pillow_reads_at_open() -> None:
    tagged = with_job_metadata(A1111_PNG, JOB, attempt=2)
    assert _text(tagged) == {"parameters": INFOTEXT, "sdfleet-job-id": str(JOB), "sdfleet-attempt": "2"}


def test_everything_a1111_wrote_is_kept_byte_for_byte_and_the_pixels_are_not_reencoded() -> None:
    tagged = with_job_metadata(A1111_PNG, JOB, attempt=1)
    before, after = png_chunks(A1111_PNG), png_chunks(tagged)
    idat = [kind for kind, _ in before].index(b"IDAT")
    assert [kind for kind, _ in after[idat : idat + 3]] == [b"tEXt", b"tEXt", b"IDAT"]
    assert after[:idat] + after[idat + 2 :] == before  # IHDR, the parameters chunk, IDAT...: identical bytes
    added = b"".join(raw for _, raw in after[idat : idat + 2])
    offset = A1111_PNG.index(before[idat][1])
    assert tagged == A1111_PNG[:offset] + added + A1111_PNG[offset:]
    assert (img.decode(tagged)[2] == img.decode(A1111_PNG)[2]).all()


def test_every_chunk_crc_is_valid() -> None:
    for kind, raw in png_chunks(with_job_metadata(A1111_PNG, JOB, attempt=3)):
        (crc,) = struct.unpack(">I", raw[-4:])
        assert crc == zlib.crc32(raw[4:-4]), kind


def test_a_non_latin1_infotext_in_itxt_is_kept() -> None:
    source = img.png(img.gradient(), "一只猫在雪中 🦊\nSteps: 2")
    assert b"iTXt" in source
    assert _text(with_job_metadata(source, JOB))["parameters"] == "一只猫在雪中 🦊\nSteps: 2"


def test_tagging_again_replaces_the_previous_job_id() -> None:
    twice = with_job_metadata(with_job_metadata(A1111_PNG, uuid.uuid4(), attempt=1), JOB, attempt=2)
    assert _text(twice)["sdfleet-job-id"] == str(JOB) and _text(twice)["sdfleet-attempt"] == "2"
    assert [kind for kind, _ in png_chunks(twice)].count(b"tEXt") == 3  # parameters + ours, once each


def test_without_an_attempt_only_the_job_id_is_added() -> None:
    assert "sdfleet-attempt" not in _text(with_job_metadata(A1111_PNG, str(JOB)))


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"GIF89a...", "signature"),
        (A1111_PNG[:-12], "without an IEND"),
        (A1111_PNG[:-30], "runs past the end"),
        (img.encoded(img.gradient(), "JPEG"), "signature"),
    ],
    ids=["not a PNG", "no IEND", "truncated chunk", "a JPEG"],
)
def test_a_broken_png_is_output_invalid(data: bytes, words: str) -> None:
    with pytest.raises(OutputInvalid, match=words):
        with_job_metadata(data, JOB)


def test_bytes_after_iend_are_dropped() -> None:
    tagged = with_job_metadata(A1111_PNG + b"trailing junk", JOB)
    assert tagged.endswith(A1111_PNG[-12:])
