"""sdfleet's own metadata in the PNGs A1111 returns: the job id and the attempt, as PNG text chunks.

The chunks are inserted before the first IDAT and every other chunk is copied byte for byte, so the
pixels and A1111's `parameters` infotext stay exactly as A1111 wrote them (nothing is decoded or
re-encoded). Before IDAT rather than before IEND: readers that stop at the image data (Pillow's
`Image.open(...).info`, which A1111's "PNG Info" uses) see text chunks placed there only.
"""

from __future__ import annotations

import struct
import uuid
import zlib

from worker.errors import OutputInvalid

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JOB_ID_KEY = "sdfleet-job-id"
ATTEMPT_KEY = "sdfleet-attempt"
_OURS = {JOB_ID_KEY.encode("latin-1"), ATTEMPT_KEY.encode("latin-1")}
_TEXT_TYPES = {b"tEXt", b"zTXt", b"iTXt"}  # each body starts with `keyword\0`


def text_chunk(keyword: str, text: str) -> bytes:
    """One tEXt chunk (length, type, body, CRC over type and body); both strings must be latin-1."""
    body = keyword.encode("latin-1") + b"\x00" + text.encode("latin-1")
    return struct.pack(">I", len(body)) + b"tEXt" + body + struct.pack(">I", zlib.crc32(b"tEXt" + body))


def png_chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    """(type, whole chunk bytes) up to and including IEND. Raises ValueError if the structure is broken."""
    if not png.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG: the signature is missing")
    chunks, offset = [], len(PNG_SIGNATURE)
    while offset + 12 <= len(png):
        (length,) = struct.unpack_from(">I", png, offset)
        end = offset + 12 + length
        if end > len(png):
            raise ValueError(f"chunk at byte {offset} runs past the end of the file")
        kind = png[offset + 4 : offset + 8]
        chunks.append((kind, png[offset:end]))
        if kind == b"IEND":
            return chunks
        offset = end
    raise ValueError("the PNG ends without an IEND chunk")


def with_job_metadata(png: bytes, job_id: uuid.UUID | str, attempt: int | None = None) -> bytes:
    """`png` with `sdfleet-job-id` (and `sdfleet-attempt`) tEXt chunks before the image data.

    Text chunks already carrying these keywords are dropped, so a file names one job. Raises
    OutputInvalid when `png` is not a well-formed PNG.
    """
    try:
        chunks = png_chunks(png)
    except ValueError as exc:
        raise OutputInvalid(f"cannot add the job id to the image: {exc}") from exc
    kept = [(kind, raw) for kind, raw in chunks if not (kind in _TEXT_TYPES and _keyword(raw) in _OURS)]
    ours = [text_chunk(JOB_ID_KEY, str(job_id))]
    if attempt is not None:
        ours.append(text_chunk(ATTEMPT_KEY, str(attempt)))
    at = next(i for i, (kind, _) in enumerate(kept) if kind in (b"IDAT", b"IEND"))
    raws = [raw for _, raw in kept]
    return PNG_SIGNATURE + b"".join(raws[:at] + ours + raws[at:])


def _keyword(raw_chunk: bytes) -> bytes:
    return raw_chunk[8:-4].split(b"\x00", 1)[0]
