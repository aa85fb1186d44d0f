"""`models/cache_registry.json` on a volume shared by many workers on many hosts.

Writers serialise on an exclusive `flock` of `models/.cache_registry.lock` and replace the file
atomically (temp file in the same folder, fsync, `os.replace`, fsync of the folder), so a reader,
which takes no lock, sees the old registry or the new one and never half of either. A registry that
does not parse or fit the schema is reported as absent (with a warning), so the caller rescans.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from pydantic import ValidationError

from worker.registry.entries import RegistrySnapshot

log = logging.getLogger(__name__)

REGISTRY_FILENAME = "cache_registry.json"
LOCK_FILENAME = ".cache_registry.lock"

FileStamp = tuple[int, int, int, int]  # device, inode, size, mtime_ns: changes whenever the file is replaced


class RegistryStore:
    """Reads and writes one volume's registry file; `write` only inside `locked()`."""

    def __init__(
        self,
        models_dir: Path,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.models_dir = models_dir
        self.path = models_dir / REGISTRY_FILENAME
        self.lock_path = models_dir / LOCK_FILENAME
        self._monotonic = monotonic
        self._sleep = sleep
        self._held = False

    def stamp(self) -> FileStamp | None:
        """Identifies the registry file's current version; None when there is none."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

    def read(self) -> RegistrySnapshot | None:
        """The registry, or None when it is missing, unreadable, corrupt or of another schema."""
        try:
            text = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("model registry %s cannot be read (%s); a rescan will rebuild it", self.path, exc)
            return None
        try:
            return RegistrySnapshot.model_validate_json(text)
        except ValidationError as exc:
            log.warning(
                "model registry %s is corrupt or of another schema; it will be rebuilt by a rescan: %s",
                self.path,
                _first_error(exc),
            )
            return None

    @contextlib.contextmanager
    def locked(self, timeout_s: float) -> Iterator[None]:
        """Hold the volume's registry lock. Raises TimeoutError if not acquired within `timeout_s`."""
        self.models_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            self._acquire(fd, timeout_s)
            self._held = True
            try:
                yield
            finally:
                self._held = False
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _acquire(self, fd: int, timeout_s: float) -> None:
        deadline = self._monotonic() + timeout_s
        next_log = self._monotonic() + 30.0
        delay_s = 0.005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
                    raise
            now = self._monotonic()
            if now >= deadline:
                raise TimeoutError(f"registry lock {self.lock_path} not acquired within {timeout_s:g} s")
            if now >= next_log:
                log.info("waiting for model registry lock %s (another scan holds it)", self.lock_path)
                next_log = now + 30.0
            self._sleep(min(delay_s, max(deadline - now, 0.0)))
            delay_s = min(delay_s * 2, 0.25)

    def write(self, snapshot: RegistrySnapshot) -> None:
        """Replace the registry atomically. Only while `locked()` is held."""
        if not self._held:
            raise RuntimeError("RegistryStore.write outside locked()")
        data = snapshot.model_dump_json(indent=2).encode() + b"\n"
        temp = self.models_dir / f".{REGISTRY_FILENAME}.{os.getpid()}.{time.monotonic_ns()}.tmp"
        try:
            with open(temp, "xb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, self.path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        _fsync_dir(self.models_dir)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    except OSError:  # some network filesystems refuse fsync on a directory; the rename is done anyway
        pass
    finally:
        os.close(fd)


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "document"
    return f"{where}: {error['msg']} ({exc.error_count()} problem(s))"
