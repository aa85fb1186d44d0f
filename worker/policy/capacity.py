"""Where what each GPU holds is remembered, per (GPU, architecture, width × height).

`PostgresCapacity` is shared by all workers and survives restarts, so the next job of a shape that ran
out of memory is pre-split and does not OOM again. `CachedCapacity` is what a worker uses: it reads a
shape from Postgres once, keeps it, and writes only when an OOM or a success changes what is known (a
card whose figures are settled costs no database work per job). A worker restart reads afresh.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from worker.errors import RecordUnavailable
from worker.policy.oom import ShapeCapacity
from worker.store.boundary import translate_db_errors
from worker.store.models import GpuCapacity

log = logging.getLogger(__name__)


class CapacityMemory(Protocol):
    def known(self, gpu: str, architecture: str, pixels: int) -> ShapeCapacity: ...

    def known_max(self, gpu: str, architecture: str, pixels: int) -> int | None: ...

    def held_elsewhere(self, gpu: str, architecture: str, pixels: int) -> int | None:
        """The largest batch of this shape any *other* GPU is known to have completed."""
        ...

    def record_oom(self, gpu: str, architecture: str, pixels: int, *, batch_size: int) -> None: ...

    def record_success(self, gpu: str, architecture: str, pixels: int, *, batch_size: int) -> None: ...


class PostgresCapacity:
    """Capacity memory in the `gpu_capacity` table; each update is a locked read-modify-write."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    @translate_db_errors
    def known(self, gpu: str, architecture: str, pixels: int) -> ShapeCapacity:
        with self._sessions() as session:
            row = session.get(GpuCapacity, (gpu, architecture, pixels))
            if row is None:
                return ShapeCapacity()
            return ShapeCapacity(row.largest_ok, row.smallest_oom, row.batch_limit)

    def known_max(self, gpu: str, architecture: str, pixels: int) -> int | None:
        return self.known(gpu, architecture, pixels).limit

    @translate_db_errors
    def held_elsewhere(self, gpu: str, architecture: str, pixels: int) -> int | None:
        with self._sessions() as session:
            return session.scalar(
                select(func.max(GpuCapacity.largest_ok)).where(
                    GpuCapacity.gpu != gpu,
                    GpuCapacity.architecture == architecture,
                    GpuCapacity.pixels == pixels,
                )
            )

    def shapes(self, gpu: str) -> list[dict[str, int | str | None]]:
        """What `gpu` is known to hold, shape by shape (for the fleet's view of it)."""
        with self._sessions() as session:
            rows = session.scalars(
                select(GpuCapacity).where(GpuCapacity.gpu == gpu).order_by(GpuCapacity.pixels)
            ).all()
            return [
                {
                    "architecture": row.architecture,
                    "pixels": row.pixels,
                    "batch_limit": row.batch_limit,
                    "largest_ok": row.largest_ok,
                    "smallest_oom": row.smallest_oom,
                }
                for row in rows
            ]

    def record_oom(self, gpu: str, architecture: str, pixels: int, *, batch_size: int) -> ShapeCapacity:
        return self._update(gpu, architecture, pixels, lambda c: c.after_oom(batch_size))

    def record_success(self, gpu: str, architecture: str, pixels: int, *, batch_size: int) -> ShapeCapacity:
        return self._update(gpu, architecture, pixels, lambda c: c.after_success(batch_size))

    @translate_db_errors
    def _update(
        self, gpu: str, architecture: str, pixels: int, change: Callable[[ShapeCapacity], ShapeCapacity]
    ) -> ShapeCapacity:
        """A locked read-modify-write (several workers may share a GPU label); returns the new value.
        Committed without waiting for the WAL flush: a lost update is learned again."""
        with self._sessions.begin() as session:
            session.execute(text("SET LOCAL synchronous_commit = off"))
            session.execute(
                insert(GpuCapacity)
                .values(gpu=gpu, architecture=architecture, pixels=pixels)
                .on_conflict_do_nothing()
            )
            row = session.scalar(
                select(GpuCapacity)
                .where(
                    GpuCapacity.gpu == gpu,
                    GpuCapacity.architecture == architecture,
                    GpuCapacity.pixels == pixels,
                )
                .with_for_update()
            )
            assert row is not None  # inserted above if it was missing
            new = change(ShapeCapacity(row.largest_ok, row.smallest_oom, row.batch_limit))
            row.largest_ok, row.smallest_oom, row.batch_limit = new.largest_ok, new.smallest_oom, new.limit
        return new


class CachedCapacity:
    """A worker's capacity memory: `PostgresCapacity` read once per shape and written only on change."""

    def __init__(self, shared: PostgresCapacity) -> None:
        self._shared = shared
        self._known: dict[tuple[str, str, int], ShapeCapacity] = {}

    def known(self, gpu: str, architecture: str, pixels: int) -> ShapeCapacity:
        key = (gpu, architecture, pixels)
        if key not in self._known:
            try:
                self._known[key] = self._shared.known(*key)
            except RecordUnavailable as exc:  # learn afresh rather than stop the job
                log.warning("capacity of %s not read (%s); starting from nothing", key, exc)
                return ShapeCapacity()
        return self._known[key]

    def known_max(self, gpu: str, architecture: str, pixels: int) -> int | None:
        return self.known(gpu, architecture, pixels).limit

    def held_elsewhere(self, gpu: str, architecture: str, pixels: int) -> int | None:
        try:
            return self._shared.held_elsewhere(gpu, architecture, pixels)
        except RecordUnavailable:
            return None  # not known: an OOM is then not retried elsewhere

    def record_oom(self, gpu: str, architecture: str, pixels: int, *, batch_size: int) -> None:
        """Always written: an OOM is rare, and another worker sharing the label should learn it."""
        key = (gpu, architecture, pixels)
        current = self.known(*key)
        self._known[key] = self._write(
            key, current.after_oom(batch_size), self._shared.record_oom, batch_size
        )

    def record_success(self, gpu: str, architecture: str, pixels: int, *, batch_size: int) -> None:
        key = (gpu, architecture, pixels)
        current = self.known(*key)
        if current.after_success(batch_size) != current:
            new = self._write(key, current.after_success(batch_size), self._shared.record_success, batch_size)
            self._known[key] = new

    @staticmethod
    def _write(
        key: tuple[str, str, int],
        local: ShapeCapacity,
        write: Callable[..., ShapeCapacity],
        batch_size: int,
    ) -> ShapeCapacity:
        """The shared value after the write, or `local` (this worker's view) while Postgres is away."""
        try:
            return write(*key, batch_size=batch_size)
        except RecordUnavailable as exc:
            log.warning("capacity of %s not written (%s); kept in this worker", key, exc)
            return local
