"""The result store: image files under one directory, at paths that name the job and the attempt.

Files are written before the job row is committed (temp file, fsync, rename), and `make_durable` then
flushes the folders that name them, so a row never points to a half-written or vanished image; an
attempt that is fenced off leaves files no row points to.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

from worker.errors import InternalError


class ResultStore:
    """Image files below `root`; the paths stored in Postgres are relative to it."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def write(self, job_id: uuid.UUID, attempt: int, index: int, data: bytes, suffix: str = ".png") -> str:
        """Write one image atomically and return its path relative to the root."""
        relative = Path(str(job_id)) / f"attempt-{attempt}" / f"{index:03d}{suffix}"
        target = self.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_suffix(target.suffix + ".tmp")
        with open(temp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
        return relative.as_posix()

    def make_durable(self, job_id: uuid.UUID, attempt: int) -> None:
        """Flush the attempt's folder and the folders above it up to the root, so the renames that put
        its files there survive a crash; called once per attempt, before its row is committed."""
        folder = self.root / str(job_id) / f"attempt-{attempt}"
        for directory in (folder, folder.parent, self.root):
            descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)

    def path(self, relative: str) -> Path:
        """The absolute path of a stored image; raises InternalError if it would leave the root."""
        target = (self.root / relative).resolve()
        if not target.is_relative_to(self.root):
            raise InternalError(f"stored image path {relative!r} leaves the result directory")
        return target


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
