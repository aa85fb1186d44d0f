"""`sdfleet worker --gpus 0,1 | all | --emulate N`: one launcher per host, one Celery worker (and through
it one A1111) per GPU, kept running.

- Worker i is node `gpu<i>@<host>`, pinned to its GPU (`CUDA_VISIBLE_DEVICES`, also given to its A1111 by
  `worker/a1111/command.py`), its A1111 on `a1111_base_port + i`.
- A worker that dies is started again with backoff (`keeper.py`); the jobs it held are handed back at once
  (`recover_worker`) instead of waiting for their leases. One GPU's trouble never touches the others.
- SIGTERM drains: each worker gets SIGTERM (Celery's warm shutdown: no new job; the running one may
  finish within `drain_grace_s`, after which the worker itself interrupts it in A1111 and hands it back);
  whatever is still running after that grace and a margin is killed, and its jobs handed back.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from worker.cli.commands import emulator_launcher, worker_command
from worker.fleet.keeper import Keeper
from worker.fleet.slots import GpuSlot
from worker.settings import WorkerSettings
from worker.stack.processes import Child, ProcessGroup

log = logging.getLogger(__name__)
DRAIN_MARGIN_S = 30.0  # beyond the grace: the interrupt, the hand-back, Celery's own exit


class Launcher:
    """The workers of one host."""

    def __init__(
        self,
        settings: WorkerSettings,
        slots: list[GpuSlot],
        *,
        emulate: bool = False,
        loglevel: str = "INFO",
        recover: Callable[[str], object] | None = None,
        restart_cap_s: float = 30.0,
    ) -> None:
        self.settings = settings
        self.slots = slots
        self.emulate = emulate
        self.loglevel = loglevel
        self.group = ProcessGroup(settings.state_dir.resolve() / "logs")
        self.keeper = Keeper(self.group, cap_s=restart_cap_s, on_exit=self._died)
        self._recover = recover
        self._nodes = {slot.name: self.node(slot) for slot in slots}

    def node(self, slot: GpuSlot) -> str:
        return f"{slot.name}@{self.settings.host_name}"

    def env(self, slot: GpuSlot) -> dict[str, str]:
        """The environment of one GPU's worker: the launcher's own, plus who and where it is."""
        env = {
            **os.environ,
            "SDFLEET_WORKER_NAME": slot.name,
            "SDFLEET_HOST_NAME": self.settings.host_name,
            "SDFLEET_GPU_INDEX": str(slot.index),
            "SDFLEET_CHECKPOINTS": json.dumps(list(slot.checkpoints)),
            "SDFLEET_A1111_URL": f"http://127.0.0.1:{slot.a1111_port}",
            "SDFLEET_A1111_LAUNCH": "true",
            "CUDA_VISIBLE_DEVICES": str(slot.index),
            "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
            "PYTHONUNBUFFERED": "1",
        }
        if slot.metrics_port:
            env["SDFLEET_METRICS_PORT"] = str(slot.metrics_port)
        if self.emulate:
            # Stand-ins instead of A1111; each serves a dcgm-exporter page of its simulated GPU.
            env["SDFLEET_A1111_COMMAND"] = json.dumps(emulator_launcher())
            env.setdefault(
                "SDFLEET_GPU_METRICS_URL", f"http://127.0.0.1:{slot.a1111_port}/emulator/v1/dcgm-metrics"
            )
        return env

    def start(self) -> None:
        for slot in self.slots:
            command = worker_command(
                slot.name, list(slot.checkpoints), host=self.settings.host_name, loglevel=self.loglevel
            )
            self.group.start(slot.name, command, self.env(slot))

    def run(self, stopping: threading.Event, poll_s: float = 0.5) -> None:
        """Keep the workers running until `stopping` is set, then drain them."""
        self.start()
        log.info("launcher on %s: %s", self.settings.host_name, ", ".join(self._nodes.values()))
        while not stopping.wait(poll_s):
            self.keeper.check()
        self.drain()

    def drain(self) -> None:
        """Warm-stop every worker; kill what outlives the grace, and hand its jobs back."""
        s = self.settings
        limit_s = s.drain_grace_s + s.a1111_interrupt_grace_s + 2 * s.heartbeat_s + DRAIN_MARGIN_S
        log.info("draining %s workers (grace %g s)", len(self.group.children), s.drain_grace_s)
        for child in self.group.children:
            if child.alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.process.pid, signal.SIGTERM)  # the main process only: a warm shutdown
        deadline = time.monotonic() + limit_s
        for child in self.group.children:
            try:
                child.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("%s did not stop within %g s; killing it", child.name, limit_s)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(10)
            self._hand_back(child.name)
        self.group.children.clear()

    def _died(self, child: Child, code: int) -> None:
        self._hand_back(child.name)

    def _hand_back(self, name: str) -> None:
        if self._recover is None:
            return
        try:
            self._recover(self._nodes[name])
        except Exception:  # the sweeper recovers them anyway once their leases expire
            log.exception("handing back the jobs of %s failed; the sweeper will", self._nodes[name])


def run_launcher(launcher: Launcher) -> int:
    """Run `launcher` in the foreground until SIGTERM or SIGINT; returns the exit code."""
    stopping = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        log.info("launcher: %s received, draining", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        launcher.run(stopping)
    finally:
        if launcher.group.children:
            launcher.group.stop()
    print(f"launcher on {launcher.settings.host_name} stopped", file=sys.stderr, flush=True)
    return 0
