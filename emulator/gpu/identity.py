"""Which card this is, as NVML and DCGM name it: index, UUID, PCI bus id, model name, host, driver."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_NAME = "NVIDIA GeForce RTX 4080"  # the reference card of the time and telemetry models
DRIVER_VERSION = "550.127.05"  # a plausible driver for it; reported as DCGM_FI_DRIVER_VERSION


@dataclass(frozen=True)
class GpuIdentity:
    """`index` is the host's numbering (nvidia-smi's, with CUDA_DEVICE_ORDER=PCI_BUS_ID)."""

    index: int = 0
    name: str = DEFAULT_NAME
    hostname: str = ""
    driver_version: str = DRIVER_VERSION

    @property
    def uuid(self) -> str:
        """Stable per host and index, in NVML's `GPU-xxxxxxxx-xxxx-...` form."""
        return f"GPU-{uuid.uuid5(uuid.NAMESPACE_DNS, f'{self.index}.{self.hostname}.sdfleet-emulator')}"

    @property
    def pci_bus_id(self) -> str:
        return f"00000000:{self.index + 1:02X}:00.0"

    @property
    def device(self) -> str:
        return f"nvidia{self.index}"


def host_index(env: Mapping[str, str], device_id: str | None) -> int:
    """The host's index of the card a process uses: `--device-id` (A1111's cuda:N) counts among the
    devices CUDA_VISIBLE_DEVICES lists, when it lists indices; otherwise it is the index itself."""
    try:
        ordinal = int(device_id) if device_id else 0
    except ValueError:
        ordinal = 0
    visible = [part.strip() for part in env.get("CUDA_VISIBLE_DEVICES", "").split(",") if part.strip()]
    if 0 <= ordinal < len(visible) and visible[ordinal].isdigit():
        return int(visible[ordinal])
    return ordinal
