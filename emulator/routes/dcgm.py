"""`GET /emulator/v1/dcgm-metrics`: the card's telemetry in NVIDIA dcgm-exporter's text format, so a
worker reads the stand-in exactly as it reads `http://host:9400/metrics` on a real host.

The format is dcgm-exporter 4.5.3-4.8.2's (`internal/pkg/rendermetrics/render_metrics.go`, the GPU
template): per metric a `# HELP` and a `# TYPE` line from `etc/default-counters.csv`, then one sample
with the labels `gpu`, `UUID`, `pci_bus_id`, `device`, `modelName`, `Hostname` and the label-type
counters (the default set has `DCGM_FI_DRIVER_VERSION`). Integer fields print as `%d`, doubles
(power) as `%f`. The body is served as Go sniffs it, `text/plain; charset=utf-8`.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from emulator.gpu.identity import GpuIdentity
from emulator.gpu.telemetry import Reading
from emulator.runtime import Runtime

MIB = 1024 * 1024
# (field, Prometheus type, help) as default-counters.csv has them, in its order. dcgm-exporter's own
# order varies between scrapes (it ranges over a Go map), so consumers must not depend on it.
FIELDS = (
    ("DCGM_FI_DEV_GPU_TEMP", "gauge", "GPU temperature (in C)."),
    ("DCGM_FI_DEV_POWER_USAGE", "gauge", "Power draw (in W)."),
    ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "counter", "Total energy consumption since boot (in mJ)."),
    ("DCGM_FI_DEV_GPU_UTIL", "gauge", "GPU utilization (in %)."),
    ("DCGM_FI_DEV_FB_FREE", "gauge", "Framebuffer memory free (in MiB)."),
    ("DCGM_FI_DEV_FB_USED", "gauge", "Framebuffer memory used (in MiB)."),
)


def labels(gpu: GpuIdentity) -> str:
    hostname = f',Hostname="{gpu.hostname}"' if gpu.hostname else ""
    return (
        f'gpu="{gpu.index}",UUID="{gpu.uuid}",pci_bus_id="{gpu.pci_bus_id}",device="{gpu.device}",'
        f'modelName="{gpu.name}"{hostname},DCGM_FI_DRIVER_VERSION="{gpu.driver_version}"'
    )


def render(gpu: GpuIdentity, reading: Reading, fb_used_mib: int, fb_free_mib: int) -> str:
    """The exposition text of one GPU."""
    values = {
        "DCGM_FI_DEV_GPU_TEMP": f"{reading.temperature_c:d}",
        "DCGM_FI_DEV_POWER_USAGE": f"{reading.power_w:f}",
        "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION": f"{reading.energy_mj:d}",
        "DCGM_FI_DEV_GPU_UTIL": f"{reading.utilization_pct:d}",
        "DCGM_FI_DEV_FB_FREE": f"{fb_free_mib:d}",
        "DCGM_FI_DEV_FB_USED": f"{fb_used_mib:d}",
    }
    sample_labels = labels(gpu)
    return "".join(
        f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n{name}{{{sample_labels}}} {values[name]}\n"
        for name, kind, help_text in FIELDS
    )


def register(app: FastAPI, rt: Runtime) -> None:
    def dcgm_metrics() -> PlainTextResponse:
        used_mib, total_mib = rt.device.framebuffer_mib()
        text = render(rt.config.gpu, rt.telemetry.reading(), used_mib, total_mib - used_mib)
        headers = {"X-Content-Type-Options": "nosniff"}
        return PlainTextResponse(text, media_type="text/plain; charset=utf-8", headers=headers)

    app.add_api_route("/emulator/v1/dcgm-metrics", dcgm_metrics, methods=["GET"])
