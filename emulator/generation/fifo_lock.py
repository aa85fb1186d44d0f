"""A lock whose waiters acquire it in arrival order, like A1111's `modules/fifo_lock.FIFOLock`."""

from __future__ import annotations

import collections
import threading
from types import TracebackType


class FIFOLock:
    """Non-reentrant; `with lock:` blocks until every earlier waiter has had its turn."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inner = threading.Lock()
        self._queue: collections.deque[threading.Event] = collections.deque()

    def acquire(self) -> None:
        with self._inner:
            got = self._lock.acquire(False)
            if got:
                return
            turn = threading.Event()
            self._queue.append(turn)
        turn.wait()

    def release(self) -> None:
        with self._inner:
            if self._queue:
                # hand the lock straight to the oldest waiter: it stays held, never free to be stolen
                self._queue.popleft().set()
            else:
                self._lock.release()

    def waiting(self) -> int:
        with self._inner:
            return len(self._queue)

    def locked(self) -> bool:
        return self._lock.locked()

    def __enter__(self) -> FIFOLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
