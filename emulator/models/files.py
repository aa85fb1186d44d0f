"""File walking and sorting the way A1111's `walk_files` does it (natural order, case-insensitive)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str) -> list[int | str]:
    return [int(part) if part.isdigit() else part.lower() for part in _DIGITS.split(text)]


def walk_files(root: Path | None, extensions: Iterable[str]) -> Iterator[Path]:
    """Files under `root` with one of `extensions` (lower-case, with dot), directories in natural order."""
    if root is None or not root.is_dir():
        return
    allowed = tuple(extensions)
    walked = sorted(os.walk(root, followlinks=True), key=lambda item: natural_key(item[0]))
    for folder, _dirs, files in walked:
        for name in sorted(files, key=natural_key):
            if os.path.splitext(name)[1].lower() in allowed:
                yield Path(folder) / name
