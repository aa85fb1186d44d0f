"""Which GPUs a launcher runs workers on, and what each worker is called and listens on.

`--gpus 0,1,2,3` names GPUs by their nvidia-smi index; `--gpus all` asks NVML how many there are;
`--emulate N` runs N A1111 stand-ins instead (the local stack, tests). Worker i is node `gpu<i>@<host>`,
its A1111 listens on `a1111_base_port + i` and its metrics on `metrics_base_port + i`.
"""

from __future__ import annotations

from dataclasses import dataclass

from worker.errors import ConfigurationError
from worker.fleet.gpu import nvml_gpu_count


@dataclass(frozen=True)
class GpuSlot:
    """One GPU of a launcher: its worker's name, its A1111's port, and the checkpoints it serves."""

    index: int
    a1111_port: int
    metrics_port: int | None
    checkpoints: tuple[str, ...]  # the first is loaded at start

    @property
    def name(self) -> str:
        return f"gpu{self.index}"


def parse_gpus(spec: str, *, detect: bool = True) -> list[int]:
    """GPU indexes from `--gpus`: a comma-separated list, or `all` (NVML).

    Raises ConfigurationError for an index that is not a number, a repeated index, or `all` on a host
    where NVML finds no GPU.
    """
    text = spec.strip().lower()
    if text == "all":
        count = nvml_gpu_count() if detect else None
        if not count:
            raise ConfigurationError(
                "--gpus all: NVML finds no NVIDIA GPU on this host (no driver, or none visible); name them "
                "with --gpus 0,1 or run stand-ins with --emulate N"
            )
        return list(range(count))
    try:
        indexes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigurationError(f"--gpus {spec!r}: give GPU indexes like 0,1,2 or 'all'") from None
    if not indexes or any(i < 0 for i in indexes) or len(set(indexes)) != len(indexes):
        raise ConfigurationError(f"--gpus {spec!r}: give distinct GPU indexes ≥ 0, like 0,1,2, or 'all'")
    return indexes


def plan_slots(
    indexes: list[int], checkpoints: list[str], *, a1111_base_port: int, metrics_base_port: int | None
) -> list[GpuSlot]:
    """One slot per GPU. Their first checkpoints take turns through `checkpoints`, so a fleet starts
    spread over what it serves (the balancer moves workers from there)."""
    if not checkpoints:
        raise ConfigurationError("a worker needs at least one checkpoint to serve (SDFLEET_CHECKPOINTS)")
    slots = []
    for position, index in enumerate(indexes):
        turn = position % len(checkpoints)
        slots.append(
            GpuSlot(
                index=index,
                a1111_port=a1111_base_port + position,
                metrics_port=metrics_base_port + position if metrics_base_port else None,
                checkpoints=tuple(checkpoints[turn:] + checkpoints[:turn]),
            )
        )
    return slots
