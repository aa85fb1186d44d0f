"""An A1111 someone else runs, known only by its URL: watched over HTTP, never started or killed.

Its process is invisible to us, so a crash shows up as the client failing to connect
(BackendUnavailable), and a "restart" can only wait for whoever runs it to bring it back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from worker.a1111.readiness import wait_until_ready

log = logging.getLogger(__name__)


class AttachedA1111:
    """The same interface as Supervisor, for an A1111 at `url` that we do not own."""

    pid = None
    healthy = True  # a restart loop is the owner's to notice; the client reports each failure
    restartable = False  # its owner restarts it, not us

    def __init__(
        self,
        url: str,
        *,
        probe: Callable[[], bool] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        come_back_deadline_s: float,
        poll_interval_s: float,
    ) -> None:
        self.url = url
        self.come_back_deadline_s = come_back_deadline_s
        self.poll_interval_s = poll_interval_s
        self._probe = probe
        self._clock = clock
        self._sleep = sleep

    def start(self) -> None:
        """Nothing to start."""

    def stop(self, timeout_s: float | None = None) -> None:
        """Nothing to stop: its owner runs it."""

    def poll(self) -> None:
        """Its process is not ours to see."""

    def raise_if_dead(self, wait_s: float = 0.0) -> None:
        """Never raises: a dead attached A1111 is reported by the client as BackendUnavailable."""

    def ensure_running(self) -> None:
        """Nothing to start."""

    def record_success(self) -> None:
        """Nothing to count."""

    def wait_ready(self, probe: Callable[[], bool], deadline_s: float | None = None) -> None:
        """Wait until `probe()` passes; raises BackendUnavailable after `deadline_s`."""
        limit_s = self.come_back_deadline_s if deadline_s is None else deadline_s
        wait_until_ready(
            probe,
            limit_s,
            clock=self._clock,
            sleep=self._sleep,
            poll_interval_s=self.poll_interval_s,
            describe_failure=lambda: f" (attached at {self.url}; it is not ours to restart)",
        )

    def restart(self, reason: str) -> None:
        """Wait for A1111 to come back (when a probe was given); raises BackendUnavailable if it does not."""
        log.warning("A1111 at %s needs a restart (%s), which its owner must do; waiting", self.url, reason)
        if self._probe is not None:
            self.wait_ready(self._probe)

    def kill_hung(self, reason: str) -> None:
        """We cannot kill it: log, and let the job fail as a timeout."""
        log.error("A1111 at %s is hung (%s); it is not ours to kill", self.url, reason)
