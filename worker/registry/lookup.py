"""The model volume registry: names → model files, for submission and for the worker.

Names are only ever looked up here, never joined into paths. A lookup reads the registry file (no
lock); a name that is missing, or a file changed since the scan, triggers a rescan (at most one per
`rescan_interval_s` for misses), so files an operator adds are found without a restart. Scans and
last-used updates take the volume's registry lock; see `store`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from worker.errors import BackendUnavailable, JobRejected, LoraNotFound, ModelInvalid, ModelNotFound
from worker.registry.architecture import ModelKind
from worker.registry.cache_file import FileStamp, RegistryStore
from worker.registry.catalogue import Catalogue, load_catalogue
from worker.registry.entries import ModelEntry, RegistrySnapshot
from worker.registry.names import validate_name
from worker.registry.scanner import Hasher, build_snapshot, sha256_file
from worker.registry.walk import inside

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


class Registry:
    """One volume's model registry. Cheap to build; nothing is read until it is used."""

    def __init__(
        self,
        volume: Path,
        catalogue: Catalogue | None = None,
        *,
        hasher: Hasher = sha256_file,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        scan_lock_timeout_s: float = 600.0,
        use_lock_timeout_s: float = 5.0,
        rescan_interval_s: float = 30.0,
        used_write_interval_s: float = 60.0,
    ) -> None:
        self.volume = volume.resolve()
        self.catalogue = catalogue if catalogue is not None else load_catalogue()
        self.store = RegistryStore(self.volume / "models", monotonic=monotonic)
        self._hasher = hasher
        self._clock = clock
        self._monotonic = monotonic
        self._scan_lock_timeout_s = scan_lock_timeout_s
        self._use_lock_timeout_s = use_lock_timeout_s
        self._rescan_interval_s = rescan_interval_s
        self._used_write_interval_s = used_write_interval_s
        self._cached: tuple[FileStamp | None, RegistrySnapshot] | None = None
        self._last_triggered_scan: float | None = None

    def scan(self) -> RegistrySnapshot:
        """Rescan the volume and write the registry. Raises BackendUnavailable if the lock is not had."""
        try:
            with self.store.locked(self._scan_lock_timeout_s):
                snapshot = build_snapshot(
                    self.volume, self.catalogue, self.store.read(), hasher=self._hasher, now=self._clock()
                )
                self.store.write(snapshot)
                self._cached = (self.store.stamp(), snapshot)
        except TimeoutError as exc:
            raise BackendUnavailable(f"model registry is busy: {exc}") from exc
        for skipped in snapshot.skipped:
            log.warning("model volume: skipped %s: %s", skipped.path, skipped.reason)
        return snapshot

    def snapshot(self) -> RegistrySnapshot:
        """The registry as last written; scans when there is none or it cannot be trusted."""
        stamp = self.store.stamp()
        if self._cached is not None and stamp is not None and self._cached[0] == stamp:
            return self._cached[1]
        snapshot = self.store.read() if stamp is not None else None
        if snapshot is None:
            return self.scan()
        self._cached = (stamp, snapshot)
        return snapshot

    def checkpoints(self) -> list[ModelEntry]:
        return self.snapshot().of_kind(ModelKind.CHECKPOINT)

    def loras(self) -> list[ModelEntry]:
        return self.snapshot().of_kind(ModelKind.LORA)

    def embeddings(self) -> list[ModelEntry]:
        return self.snapshot().of_kind(ModelKind.EMBEDDING)

    def loras_by_name(self) -> dict[str, ModelEntry]:
        """Every LoRA entry by registry name (usable or not), for `loras.resolve_loras`."""
        return {entry.name: entry for entry in self.loras()}

    def checkpoint(self, name: str, *, field: str = "checkpoint") -> ModelEntry:
        """The usable checkpoint `name`. Raises InvalidRequest, ModelNotFound or ModelInvalid."""
        return self._lookup(ModelKind.CHECKPOINT, name, field)

    def lora(self, name: str, *, field: str = "loras") -> ModelEntry:
        """The usable LoRA `name`. Raises InvalidRequest, LoraNotFound or ModelInvalid."""
        return self._lookup(ModelKind.LORA, name, field)

    def _lookup(self, kind: ModelKind, name: str, field: str) -> ModelEntry:
        validate_name(name, field=field)
        entry = self.snapshot().find(kind, name)
        if entry is None and self._may_rescan():
            entry = self.scan().find(kind, name)
        if entry is None:
            raise self._not_found(kind, name, field)
        if self._changed_on_disk(entry):
            if not self._may_rescan():
                raise ModelInvalid(
                    f"{kind} {name!r} ({entry.path}) is changing on disk; try again when it is complete",
                    field=field,
                    value=name,
                )
            entry = self.scan().find(kind, name)
            if entry is None:
                raise self._not_found(kind, name, field)
        if not entry.usable:
            raise ModelInvalid(
                f"{kind} {name!r} ({entry.path}) is {entry.status}: {entry.reason}", field=field, value=name
            )
        return entry

    def _may_rescan(self) -> bool:
        now = self._monotonic()
        if (
            self._last_triggered_scan is not None
            and now - self._last_triggered_scan < self._rescan_interval_s
        ):
            return False
        self._last_triggered_scan = now
        return True

    def _changed_on_disk(self, entry: ModelEntry) -> bool:
        try:
            st = os.stat(self.absolute_path(entry))
        except FileNotFoundError:
            return True
        return (st.st_size, st.st_mtime_ns, st.st_ctime_ns) != (
            entry.size_bytes,
            entry.mtime_ns,
            entry.ctime_ns,
        )

    def _not_found(self, kind: ModelKind, name: str, field: str) -> JobRejected:
        usable = [entry.name for entry in self.snapshot().of_kind(kind) if entry.usable]
        message = f"{kind} {name!r} is not on the model volume; available: {', '.join(usable) or 'none'}"
        error = LoraNotFound if kind is ModelKind.LORA else ModelNotFound
        return error(message, field=field, value=name)

    def absolute_path(self, entry: ModelEntry) -> Path:
        """Where `entry`'s file is; raises ModelInvalid if that would leave the volume."""
        path = self.volume / entry.path
        if not inside(path.resolve(), self.volume):
            raise ModelInvalid(f"{entry.path} resolves outside the model volume", value=entry.name)
        return path

    def mark_used(self, *names: str) -> None:
        """Record that entries named `names` (any kind) were used now. Best effort: never raises.

        Skips the write when every one was already marked within `used_write_interval_s`, so a busy
        worker does not rewrite the registry for every job.
        """
        now = self._clock()
        try:
            wanted = {entry.name for entry in self.snapshot().entries if entry.name in names}
            if not any(
                self._stale_use(entry, now) for entry in self.snapshot().entries if entry.name in wanted
            ):
                return
            with self.store.locked(self._use_lock_timeout_s):
                current = self.store.read()
                if current is None:
                    return
                for entry in current.entries:
                    if entry.name in wanted:
                        current = current.replace(entry.model_copy(update={"last_used_at": now}))
                self.store.write(current)
                self._cached = (self.store.stamp(), current)
        except (OSError, TimeoutError, BackendUnavailable) as exc:
            log.warning("could not record use of %s in the model registry: %s", ", ".join(names), exc)

    def _stale_use(self, entry: ModelEntry, now: datetime) -> bool:
        last = entry.last_used_at
        return last is None or (now - last).total_seconds() >= self._used_write_interval_s
