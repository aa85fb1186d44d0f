"""The worker's view of its own A1111: ready, right checkpoint, and one watched generation at a time.

A generation is an HTTP call that blocks for its whole run, so it runs in a helper thread while the
calling thread polls `/progress`: that is where the lease is renewed, a cancel becomes an interrupt, a
deadline or a stall is enforced, and a dead process is noticed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, Protocol

from worker.a1111.client import A1111Client, Progress, Txt2ImgResult
from worker.a1111.launch_options import LAUNCH_OPTIONS
from worker.a1111.watchdog import ProgressWatchdog, WatchState
from worker.errors import (
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    JobCancelled,
    ModelNotFound,
)
from worker.settings import RunLimits

log = logging.getLogger(__name__)
# A dying A1111 drops its connections a moment before its exit can be seen; wait this long for it.
EXIT_GRACE_S = 2.0


class OwnedProcess(Protocol):
    """What the backend needs from its A1111's process: a Supervisor when launched, else AttachedA1111."""

    @property
    def healthy(self) -> bool:
        """False once the process is in a restart loop: the worker must stop taking jobs."""

    @property
    def restartable(self) -> bool:
        """True when we own the process and a restart really starts a fresh one."""

    @property
    def pid(self) -> int | None:
        """The process id when we own it (a new one after every restart), else None."""

    def ensure_running(self) -> None:
        """Start or restart the process if it is not running; raises BackendUnavailable if it may not."""

    def restart(self, reason: str) -> None:
        """Stop the process and start it again (an attached one: wait for its owner to)."""

    def raise_if_dead(self, wait_s: float = 0.0) -> None:
        """Raises BackendCrashed if the process has exited since it was started, waiting up to `wait_s`
        for an exit that may be under way."""

    def kill_hung(self, reason: str) -> None:
        """Kill the process group of a hung A1111 and start it again."""

    def wait_ready(self, probe: Callable[[], bool], deadline_s: float | None = None) -> None:
        """Wait for `probe` to pass; raises BackendCrashed or BackendUnavailable."""

    def record_success(self) -> None:
        """A generation completed: a crash streak is over."""

    def stop(self, timeout_s: float | None = None) -> object:
        """Stop the process (and its group) if we own it."""


@dataclass(frozen=True)
class Watch:
    """How a generation is watched: a deadline, a stall limit, and a tick called at every poll."""

    deadline_s: float
    stall_s: float
    tick: Callable[[], bool]  # called every poll; True means "the caller asked to cancel"
    interrupt_grace_s: float
    on_progress: Callable[[Progress], None]  # every progress sample A1111 gives while the call runs


@dataclass(frozen=True)
class CheckpointSwitch:
    """A checkpoint load this backend made A1111 do."""

    previous: str | None  # the title A1111 had loaded (None: unknown)
    title: str
    seconds: float


class Backend:
    """One A1111, owned (with a supervisor) or attached (URL only)."""

    def __init__(
        self,
        client: A1111Client,
        *,
        process: OwnedProcess,
        limits: RunLimits,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.process = process
        self._poll_s = limits.poll_interval_s
        self._startup_deadline_s = limits.startup_deadline_s
        self._checkpoint_load_s = limits.checkpoint_load_deadline_s
        self._clock = clock
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="a1111-call")
        self._loaded_title: str | None = None
        # (process id, checkpoint file) proven by the last generation: the next job of that checkpoint
        # skips the four readiness and checkpoint calls; any error, restart or switch forgets it.
        self._verified: tuple[int | None, str] | None = None
        self._expected_model: str | None = None
        self._checkpoint_file: str | None = None
        self._settled_pid: int | None = None  # the A1111 start that has our LAUNCH_OPTIONS

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()
        self.process.stop()

    @property
    def healthy(self) -> bool:
        return self.process.healthy

    def ensure_ready(self) -> None:
        """Start A1111 if we own it (restart it if it died) and wait until it has a loaded checkpoint;
        an A1111 we launched gets LAUNCH_OPTIONS once per start."""
        self.process.ensure_running()
        if self._verified is not None and self._verified[0] == self.process.pid:
            return
        self.process.wait_ready(self.client.is_ready, self._startup_deadline_s)
        pid = self.process.pid
        if pid is not None and pid != self._settled_pid:
            self.client.set_options(dict(LAUNCH_OPTIONS))
            self._settled_pid = pid

    def ensure_checkpoint(self, filename: str) -> CheckpointSwitch | None:
        """Make A1111 load the checkpoint stored as `filename`; returns the switch it made, if any.

        Raises ModelNotFound when A1111 does not list the file even after a refresh, BackendTimeout when
        the load passes its deadline.
        """
        self._expected_model = PurePath(filename).stem
        self._checkpoint_file = filename
        if self._verified == (self.process.pid, filename) and self._loaded_title is not None:
            return None
        self._verified = None
        title = self._title_for(filename)
        if title is None:
            self.client.refresh_checkpoints()
            title = self._title_for(filename)
        if title is None:
            raise ModelNotFound(f"A1111 at {self.client.base_url} does not list checkpoint file {filename}")
        current = self.client.options().get("sd_model_checkpoint")
        switch = None
        if current != title:
            log.info("switching A1111 checkpoint from %s to %s", current, title)
            started = self._clock()
            self._switch_checkpoint(title)
            previous = current if isinstance(current, str) else None
            switch = CheckpointSwitch(previous, title, round(self._clock() - started, 3))
        self._loaded_title = title
        return switch

    def _switch_checkpoint(self, title: str) -> None:
        """Load `title` within the checkpoint-load deadline; raises BackendTimeout after killing (and
        restarting, when owned) an A1111 whose load hung: it would hold its queue lock for good.

        A1111 answers 200 even when the switch did not take: a load still in progress when the request
        came (the start-up load) writes its own title back when it ends, and a failed load restores the
        old one. So the option is read back, and the switch asked for once more if it did not stick;
        raises BackendUnavailable if it still does not.
        """
        for _ in range(2):
            try:
                self.client.set_options({"sd_model_checkpoint": title}, timeout_s=self._checkpoint_load_s)
            except BackendTimeout as exc:
                reason = f"loading checkpoint {title} took longer than {self._checkpoint_load_s:g} s"
                self.process.kill_hung(reason)
                self.forget_checkpoint()
                then = "A1111 was restarted" if self.process.restartable else "A1111 is not ours to restart"
                raise BackendTimeout(f"{reason}; {then}") from exc
            current = self.client.options().get("sd_model_checkpoint")
            if current == title:
                return
            log.warning("A1111 kept checkpoint %s after a switch to %s; asking again", current, title)
        raise BackendUnavailable(f"A1111 did not switch to checkpoint {title} (it kept {current})")

    def forget_checkpoint(self) -> None:
        """Called after a restart or an error: the next job must check readiness and the checkpoint."""
        self._loaded_title = None
        self._verified = None

    def reload_checkpoint(self) -> None:
        """Unload the checkpoint and load it again: frees the VRAM a failed generation left allocated."""
        self.client.unload_checkpoint()
        self.client.reload_checkpoint()

    def restart(self, reason: str, checkpoint_file: str) -> None:
        """Restart A1111 (when owned) and wait until it is ready with `checkpoint_file` loaded."""
        self.process.restart(reason)
        self.forget_checkpoint()
        self.ensure_ready()
        self.ensure_checkpoint(checkpoint_file)

    def generate(self, payload: dict[str, Any], watch: Watch) -> Txt2ImgResult:
        """Run one txt2img call under `watch`.

        Raises JobCancelled (after an interrupt), BackendTimeout (deadline or stall; A1111 was
        interrupted, and killed if it did not stop), BackendCrashed, or whatever the call raised.
        """
        future = self._pool.submit(
            self.client.txt2img, payload, timeout_s=watch.deadline_s + self._checkpoint_load_s + 60
        )
        started = self._clock()
        # Idle (job_count 0: waiting for A1111's lock or its start-up load) or loading (-1): a cold load
        # may take minutes without being a hang, so those phases get the checkpoint-load allowance.
        watchdog = ProgressWatchdog(max(watch.stall_s, self._checkpoint_load_s), clock=self._clock)
        active = False  # has A1111 begun our job? The deadline counts from when sampling begins.
        while True:
            try:
                result = future.result(timeout=self._poll_s)
            except FutureTimeout:
                pass
            except BackendUnavailable:
                self.forget_checkpoint()
                # A dying A1111 drops its connections a moment before it can be seen to have exited.
                self.process.raise_if_dead(wait_s=EXIT_GRACE_S)
                raise
            except BackendError:
                self.forget_checkpoint()
                self.process.raise_if_dead()
                raise
            else:
                self._check_model(result)
                self.process.record_success()
                return result
            now = self._clock()
            if watch.tick():
                self._stop(future, watch, kill=False)
                raise JobCancelled("cancelled by the caller while running; A1111 was interrupted")
            self.process.raise_if_dead()
            progress = self._progress()
            if progress is None:
                state = watchdog.check()
            else:
                sampling = progress.job_count > 0
                if sampling and not active:
                    active, started = True, now
                mark = (progress.job_count, progress.job_no, progress.sampling_step)
                state = watchdog.observe(mark, allowed_s=watch.stall_s if sampling else None)
                watch.on_progress(progress)
            deadline = watch.deadline_s if active else watch.deadline_s + self._checkpoint_load_s
            if now - started > deadline:
                self._stop(future, watch, kill=True)
                raise BackendTimeout(
                    f"generation exceeded its deadline of {watch.deadline_s:.0f} s; A1111 was interrupted"
                )
            if state is WatchState.STALLED:
                self._stop(future, watch, kill=True)
                raise BackendTimeout(
                    f"A1111 made no progress for {watchdog.allowed_s:.0f} s (stuck at "
                    f"{watchdog.last_mark}); it was interrupted and restarted"
                )

    def _check_model(self, result: Txt2ImgResult) -> None:
        """After a generation: was it made with our checkpoint? (An attached A1111 may be shared.)"""
        made_with = result.info.get("sd_model_name")
        expected = self._expected_model
        if expected is not None and isinstance(made_with, str) and made_with != expected:
            self.forget_checkpoint()
            raise BackendUnavailable(
                f"A1111 generated with checkpoint {made_with!r} instead of {expected!r}: something else "
                "switched it during the job"
            )
        if self._loaded_title is not None and self._checkpoint_file is not None:
            self._verified = (self.process.pid, self._checkpoint_file)

    def _progress(self) -> Progress | None:
        try:
            return self.client.progress()
        except BackendError:
            return None

    def _stop(self, future: Future[Txt2ImgResult], watch: Watch, *, kill: bool) -> None:
        """Interrupt A1111; if the call does not return within the grace period, kill A1111."""
        try:
            self.client.interrupt()
        except BackendError as exc:
            log.warning("interrupt failed: %s", exc)
        try:
            future.result(timeout=watch.interrupt_grace_s)
            return
        except FutureTimeout:
            pass
        except BackendError:
            return
        if kill:
            self.process.kill_hung("generation did not stop after an interrupt")
            self.forget_checkpoint()

    def _title_for(self, filename: str) -> str | None:
        wanted = PurePath(filename).name
        for checkpoint in self.client.checkpoints():
            if PurePath(checkpoint.filename).name == wanted:
                return checkpoint.title
        return None
