"""The EXIF block A1111 writes into its JPEG and WebP files: the infotext as the Exif IFD's UserComment.

A1111 writes `piexif.dump({"Exif": {UserComment: UserComment.dump(text, encoding="unicode")}})`: the
8-byte prefix `UNICODE\\0` then UTF-16 big-endian, stored with EXIF type UNDEFINED (7), and reads it back
with piexif, which only returns bytes for that type. Pillow's `Image.Exif` would store a bytes value of
an unregistered tag as BYTE (1), which piexif returns as a tuple of ints and A1111's reader then fails
on; so the block is written here, in piexif's layout (big-endian TIFF, IFD0 pointing to the Exif IFD).
"""

from __future__ import annotations

import struct

EXIF_HEADER = b"Exif\x00\x00"
USER_COMMENT_UNICODE = b"UNICODE\x00"
EXIF_IFD_POINTER = 0x8769
USER_COMMENT = 0x9286
_LONG, _UNDEFINED = 4, 7
_IFD_SIZE = 2 + 12 + 4  # one entry: count, entry, next-IFD offset


def user_comment_value(text: str) -> bytes:
    """`text` as piexif's UNICODE UserComment. Raises UnicodeEncodeError for a lone surrogate."""
    return USER_COMMENT_UNICODE + text.encode("utf-16-be")


def user_comment_exif(text: str) -> bytes:
    """An EXIF block (with its `Exif\\0\\0` header, as Pillow's `exif=` takes it) holding `text` only."""
    value = user_comment_value(text)
    exif_ifd_at = 8 + _IFD_SIZE
    value_at = exif_ifd_at + _IFD_SIZE
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8)
    tiff += _ifd(EXIF_IFD_POINTER, _LONG, 1, struct.pack(">I", exif_ifd_at))
    tiff += _ifd(USER_COMMENT, _UNDEFINED, len(value), struct.pack(">I", value_at))
    return EXIF_HEADER + tiff + value


def _ifd(tag: int, kind: int, count: int, field: bytes) -> bytes:
    return struct.pack(">HHHI", 1, tag, kind, count) + field + struct.pack(">I", 0)
