"""Waiting for A1111 to be ready: its API answers *and* its checkpoint is loaded (reference §1)."""

from __future__ import annotations

from collections.abc import Callable

from worker.errors import BackendError, BackendUnavailable


def wait_until_ready(
    probe: Callable[[], bool],
    deadline_s: float,
    *,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    poll_interval_s: float,
    check_alive: Callable[[], None] = lambda: None,
    describe_failure: Callable[[], str] = lambda: "",
) -> None:
    """Return once `probe()` is true.

    `check_alive` runs before every probe and raises (BackendCrashed) if the process is gone, so a
    crash ends the wait at once. A probe that raises BackendError counts as "not ready yet".
    Raises BackendUnavailable after `deadline_s`, with `describe_failure()` appended.
    """
    deadline = clock() + deadline_s
    while True:
        check_alive()
        try:
            if probe():
                return
        except BackendError:
            pass
        if clock() >= deadline:
            check_alive()
            raise BackendUnavailable(
                f"A1111 did not become ready within {deadline_s:g} s{describe_failure()}"
            )
        sleep(poll_interval_s)
