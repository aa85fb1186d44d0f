"""The file a job's image is stored as: A1111's PNG with sdfleet's chunks, or a JPEG or WebP made from it.

Quality control has already run on A1111's PNG. A JPEG or WebP keeps A1111's infotext where A1111
itself puts it for those formats, EXIF UserComment (`worker.output.exif`), so A1111's "PNG Info" and other
readers find it; and again in XMP, as `exif:UserComment`, beside the job id and attempt (`sdfleet:jobId`,
`sdfleet:attempt`).
"""

from __future__ import annotations

import io
import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
from PIL import Image

from worker.errors import InternalError
from worker.output.checks import CheckedImage
from worker.output.exif import user_comment_exif
from worker.output.png_chunks import with_job_metadata

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutputFormat:
    suffix: str
    media_type: str
    pillow_format: str


FORMATS: dict[str, OutputFormat] = {
    "png": OutputFormat(".png", "image/png", "PNG"),
    "jpeg": OutputFormat(".jpg", "image/jpeg", "JPEG"),
    "webp": OutputFormat(".webp", "image/webp", "WEBP"),
}
_MEDIA_TYPES = {f.suffix: f.media_type for f in FORMATS.values()}
DEFAULT_QUALITY = 90

# A JPEG APP1 segment holds at most 65,533 bytes; Pillow's XMP segment also carries a 29-byte namespace.
JPEG_EXIF_MAX_BYTES = 65_533
JPEG_XMP_MAX_BYTES = 65_533 - 29
# What submission allows of prompt + negative prompt (UTF-16 code units) for a JPEG, leaving ~6,000
# units of the EXIF segment for the LoRA tags and the parameters line A1111 adds to the infotext.
JPEG_PROMPT_MAX_UTF16_UNITS = 26_000

XMP_NAMESPACE = "urn:sdfleet:xmp:1.0#"
# Characters XML 1.0 cannot carry, even escaped; they become U+FFFD in the XMP copy (EXIF keeps them).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class OutputImage:
    """The bytes to store for one image, and how to name and serve them."""

    data: bytes
    suffix: str
    media_type: str


def output_image(
    image: CheckedImage, params: Mapping[str, Any], *, job_id: uuid.UUID | str, attempt: int
) -> OutputImage:
    """What the runner stores for one checked image, in the job's `output_format` (default PNG).

    Raises InternalError when the metadata cannot fit a JPEG (submission refuses such prompts).
    """
    return encode_output(
        image.data,
        image.infotext,
        output_format=str(params.get("output_format", "png")),
        quality=int(params.get("output_quality", DEFAULT_QUALITY)),
        job_id=job_id,
        attempt=attempt,
        pixels=image.pixels,
    )


def encode_output(
    png: bytes,
    infotext: str,
    *,
    output_format: str,
    quality: int,
    job_id: uuid.UUID | str,
    attempt: int,
    pixels: np.ndarray | None = None,
) -> OutputImage:
    """`png` (A1111's, already checked) as `output_format`, with the infotext and the job id kept.

    `pixels`: its RGB pixels when the checks decoded them already (a JPEG or WebP is made from them
    rather than from decoding `png` again)."""
    fmt = FORMATS[output_format]
    if output_format == "png":
        return OutputImage(with_job_metadata(png, job_id, attempt), fmt.suffix, fmt.media_type)
    exif = user_comment_exif(infotext)
    if output_format == "jpeg" and len(exif) > JPEG_EXIF_MAX_BYTES:
        raise InternalError(
            f"the infotext needs {len(exif)} bytes of EXIF, more than a JPEG segment holds "
            f"({JPEG_EXIF_MAX_BYTES}); submission should have refused this prompt for JPEG output"
        )
    xmp = xmp_packet(infotext, job_id, attempt)
    if output_format == "jpeg" and len(xmp) > JPEG_XMP_MAX_BYTES:
        log.warning("job %s: infotext too long for JPEG XMP; it is kept in EXIF only", job_id)
        xmp = xmp_packet(None, job_id, attempt)
    if pixels is not None:
        rgb = Image.fromarray(pixels, "RGB")
    else:
        with Image.open(io.BytesIO(png)) as decoded:
            rgb = decoded.convert("RGB")  # as A1111 does for jpg/webp: neither keeps an alpha channel here
    out = io.BytesIO()
    rgb.save(out, format=fmt.pillow_format, quality=quality, exif=exif, xmp=xmp)
    return OutputImage(out.getvalue(), fmt.suffix, fmt.media_type)


def xmp_packet(infotext: str | None, job_id: uuid.UUID | str, attempt: int) -> bytes:
    """An XMP packet with the infotext (if given) as exif:UserComment and the job id and attempt."""
    comment = ""
    if infotext is not None:
        text = escape(_NOT_XML.sub("\ufffd", infotext))
        comment = (
            "<exif:UserComment><rdf:Alt>"
            f'<rdf:li xml:lang="x-default">{text}</rdf:li>'
            "</rdf:Alt></exif:UserComment>"
        )
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:exif="http://ns.adobe.com/exif/1.0/" '
        f'xmlns:sdfleet="{XMP_NAMESPACE}">'
        f"<sdfleet:jobId>{escape(str(job_id))}</sdfleet:jobId>"
        f"<sdfleet:attempt>{int(attempt)}</sdfleet:attempt>"
        f"{comment}"
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    ).encode()


def media_type(path: str | PurePath) -> str:
    """The media type to serve a stored image with, from its file suffix."""
    return _MEDIA_TYPES.get(PurePath(path).suffix.lower(), "application/octet-stream")


def utf16_units(text: str) -> int:
    """How many UTF-16 code units `text` takes (characters outside the BMP take two)."""
    return len(text.encode("utf-16-le", errors="surrogatepass")) // 2
