"""GPU figures a worker publishes beside what A1111 reports: utilisation, temperature, memory, power.

Two sources, tried in order: NVML (`nvidia-ml-py`) when this host has an NVIDIA driver, else a
dcgm-exporter text page (`SDFLEET_GPU_METRICS_URL`, e.g. NVIDIA's dcgm-exporter on :9400/metrics).
Both are read at the one boundary here; a failed read is `None`, never an exception in the caller.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import pynvml
from prometheus_client.parser import text_string_to_metric_families

log = logging.getLogger(__name__)
MIB = 1024 * 1024


@dataclass(frozen=True)
class GpuReading:
    """One look at a GPU; a figure the source does not give is None."""

    utilization_pct: float | None = None
    temperature_c: float | None = None
    memory_used_mb: float | None = None
    memory_total_mb: float | None = None
    power_w: float | None = None


class GpuProbe(Protocol):
    def read(self) -> GpuReading | None:
        """The GPU's figures now, or None when they cannot be read."""


def nvml_gpu_count() -> int | None:
    """How many GPUs NVML sees on this host; None when there is no NVIDIA driver (no GPU here)."""
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return None
    try:
        return int(pynvml.nvmlDeviceGetCount())
    finally:
        pynvml.nvmlShutdown()


class NvmlProbe:
    """GPU `index` (as nvidia-smi numbers them) through NVML; build it with `NvmlProbe.open`."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle

    @classmethod
    def open(cls, index: int) -> NvmlProbe | None:
        """None when NVML is missing or has no GPU `index`."""
        try:
            pynvml.nvmlInit()
            return cls(pynvml.nvmlDeviceGetHandleByIndex(index))
        except pynvml.NVMLError:
            return None

    def read(self) -> GpuReading | None:
        try:
            utilization = pynvml.nvmlDeviceGetUtilizationRates(self._handle)
            memory = pynvml.nvmlDeviceGetMemoryInfo(self._handle)
            temperature = pynvml.nvmlDeviceGetTemperature(self._handle, pynvml.NVML_TEMPERATURE_GPU)
            power_mw = pynvml.nvmlDeviceGetPowerUsage(self._handle)
        except pynvml.NVMLError as exc:
            log.warning("NVML read failed: %s", exc)
            return None
        return GpuReading(
            utilization_pct=float(utilization.gpu),
            temperature_c=float(temperature),
            memory_used_mb=memory.used / MIB,
            memory_total_mb=memory.total / MIB,
            power_w=power_mw / 1000.0,
        )


_DCGM_FIELDS = {
    "DCGM_FI_DEV_GPU_UTIL": "utilization_pct",
    "DCGM_FI_DEV_GPU_TEMP": "temperature_c",
    "DCGM_FI_DEV_FB_USED": "memory_used_mb",
    "DCGM_FI_DEV_FB_FREE": "memory_free_mb",
    "DCGM_FI_DEV_POWER_USAGE": "power_w",
}


def parse_dcgm(text: str, gpu_index: int) -> GpuReading | None:
    """The figures of GPU `gpu_index` in a dcgm-exporter page (label `gpu`); a page describing one GPU
    only is taken as ours whatever its label (an exporter inside a container numbers from 0).

    Raises ValueError when the page is not Prometheus text.
    """
    per_gpu: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        field = _DCGM_FIELDS.get(family.name)
        if field is None:
            continue
        for sample in family.samples:
            per_gpu.setdefault(sample.labels.get("gpu", "0"), {})[field] = float(sample.value)
    figures = per_gpu.get(str(gpu_index))
    if figures is None and len(per_gpu) == 1:
        figures = next(iter(per_gpu.values()))
    if figures is None:
        return None
    used, free = figures.get("memory_used_mb"), figures.get("memory_free_mb")
    return GpuReading(
        utilization_pct=figures.get("utilization_pct"),
        temperature_c=figures.get("temperature_c"),
        memory_used_mb=used,
        memory_total_mb=used + free if used is not None and free is not None else None,
        power_w=figures.get("power_w"),
    )


class DcgmProbe:
    """GPU `gpu_index` as a dcgm-exporter page at `url` describes it."""

    def __init__(self, url: str, gpu_index: int, *, transport: httpx.BaseTransport | None = None) -> None:
        self.url = url
        self.gpu_index = gpu_index
        self._http = httpx.Client(timeout=httpx.Timeout(2.0), transport=transport)

    def read(self) -> GpuReading | None:
        try:
            response = self._http.get(self.url)
            response.raise_for_status()
            return parse_dcgm(response.text, self.gpu_index)
        except (httpx.HTTPError, ValueError) as exc:
            log.debug("GPU metrics from %s not read: %s", self.url, exc)
            return None

    def close(self) -> None:
        self._http.close()


def gpu_probe(gpu_index: int, metrics_url: str | None) -> GpuProbe | None:
    """NVML when this host has the GPU, else the dcgm-exporter page when one is configured, else None."""
    nvml = NvmlProbe.open(gpu_index)
    if nvml is not None:
        return nvml
    if metrics_url:
        return DcgmProbe(metrics_url, gpu_index)
    return None
