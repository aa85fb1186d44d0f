"""Injected faults, for tests and fleet rehearsals. Set only through `/emulator/v1/faults`, the
`--emu-fault` flag or `A1111_EMU_FAULTS`; nothing a client puts in an A1111 request triggers one.

A fault applies to the next `times` txt2img requests (default 1; null = until cleared). Step faults
fire once `at_step` sampling steps of the request have run (0 = before the first step).
"""

from __future__ import annotations

import threading
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class FaultKind(StrEnum):
    CRASH = "crash"  # the process dies at a step: os._exit (mode "exit") or SIGKILL (mode "sigkill")
    HANG = "hang"  # progress stops at a step; the request never returns until the faults are cleared
    SLOW = "slow"  # every step takes `factor` times longer
    HTTP500 = "http500"  # the request fails at a step with A1111's error envelope
    CORRUPT_BASE64 = "corrupt_base64"  # the response's images are not valid base64
    BLANK_IMAGE = "blank_image"  # all-black images, as from a NaN VAE
    NOISY_IMAGE = "noisy_image"  # images still half noise, as a sampler stopped early leaves them
    REFUSE_CONNECTIONS = "refuse_connections"  # the listening socket is closed for `seconds`
    OOM = "oom"  # a CUDA OOM in the first UNet evaluation, whatever the memory model says
    SLOW_STARTUP = "slow_startup"  # start-up only: listen `seconds` late


class FaultSpec(BaseModel):
    """One fault as posted to the admin API."""

    model_config = ConfigDict(extra="forbid")

    kind: FaultKind
    at_step: int = Field(0, ge=0)
    times: int | None = Field(1, ge=1)
    mode: str = Field("exit", pattern="^(exit|sigkill)$")
    exit_code: int = 1
    factor: float = Field(10.0, gt=0)
    seconds: float = Field(5.0, ge=0)
    error: str = "RuntimeError"
    message: str = "emulated failure"


class Fault(FaultSpec):
    id: int
    fired: int = 0

    def public(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


# Kinds that act inside a txt2img request (consumed when the request starts).
REQUEST_KINDS = frozenset(
    {FaultKind.CRASH, FaultKind.HANG, FaultKind.SLOW, FaultKind.HTTP500, FaultKind.CORRUPT_BASE64,
     FaultKind.BLANK_IMAGE, FaultKind.NOISY_IMAGE, FaultKind.OOM}
)  # fmt: skip


class FaultBook:
    """The active faults. Thread-safe; `clear()` also releases any hung request."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._faults: list[Fault] = []
        self._next_id = 1
        self._generation = 0

    def add(self, specs: list[FaultSpec]) -> list[Fault]:
        with self._cond:
            added = []
            for spec in specs:
                fault = Fault(id=self._next_id, **spec.model_dump())
                self._next_id += 1
                added.append(fault)
            self._faults.extend(added)
            return added

    def active(self) -> list[Fault]:
        with self._cond:
            return [f.model_copy() for f in self._faults]

    def clear(self) -> None:
        with self._cond:
            self._faults.clear()
            self._generation += 1
            self._cond.notify_all()

    def take_for_request(self) -> list[Fault]:
        """The faults that apply to the txt2img request starting now; one-shot ones are used up."""
        with self._cond:
            taken = [f for f in self._faults if f.kind in REQUEST_KINDS]
            for fault in taken:
                fault.fired += 1
            self._faults = [f for f in self._faults if f not in taken or f.times is None or f.fired < f.times]
            return [f.model_copy() for f in taken]

    def wait_until_cleared(self, timeout_s: float | None = None) -> bool:
        """Blocks a hung request until `clear()`; True if it was cleared."""
        with self._cond:
            start = self._generation
            return self._cond.wait_for(lambda: self._generation != start, timeout=timeout_s)
