"""GPU figures from a dcgm-exporter page (the format of NVIDIA's exporter), read through a hostile or
friendly HTTP peer at the edge."""

from __future__ import annotations

import httpx

from worker.fleet.gpu import DcgmProbe, GpuReading, gpu_probe, parse_dcgm

PAGE = """# HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %).
# TYPE DCGM_FI_DEV_GPU_UTIL gauge
DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-a",modelName="NVIDIA GeForce RTX 4090",Hostname="h"} 12
DCGM_FI_DEV_GPU_UTIL{gpu="1",UUID="GPU-b",modelName="NVIDIA GeForce RTX 4090",Hostname="h"} 97
# HELP DCGM_FI_DEV_GPU_TEMP GPU temperature (in C).
# TYPE DCGM_FI_DEV_GPU_TEMP gauge
DCGM_FI_DEV_GPU_TEMP{gpu="0",UUID="GPU-a"} 41
DCGM_FI_DEV_GPU_TEMP{gpu="1",UUID="GPU-b"} 78
# TYPE DCGM_FI_DEV_FB_USED gauge
DCGM_FI_DEV_FB_USED{gpu="1",UUID="GPU-b"} 20480
# TYPE DCGM_FI_DEV_FB_FREE gauge
DCGM_FI_DEV_FB_FREE{gpu="1",UUID="GPU-b"} 4096
# TYPE DCGM_FI_DEV_POWER_USAGE gauge
DCGM_FI_DEV_POWER_USAGE{gpu="1",UUID="GPU-b"} 402.5
"""


def test_the_figures_of_our_gpu_are_picked_by_its_index() -> None:
    assert parse_dcgm(PAGE, 1) == GpuReading(97.0, 78.0, 20480.0, 24576.0, 402.5)
    assert parse_dcgm(PAGE, 0) == GpuReading(12.0, 41.0, None, None, None)
    assert parse_dcgm(PAGE, 7) is None


def test_a_page_of_one_gpu_is_ours_whatever_its_label() -> None:
    one = 'DCGM_FI_DEV_GPU_UTIL{gpu="0"} 55\nDCGM_FI_DEV_GPU_TEMP{gpu="0"} 60\n'
    assert parse_dcgm(one, 3) == GpuReading(55.0, 60.0, None, None, None)


def test_a_probe_reads_the_page_and_survives_a_bad_peer() -> None:
    good = DcgmProbe(
        "http://gpu/metrics", 1, transport=httpx.MockTransport(lambda r: httpx.Response(200, text=PAGE))
    )
    assert good.read() == GpuReading(97.0, 78.0, 20480.0, 24576.0, 402.5)
    for answer in (httpx.Response(500, text="boom"), httpx.Response(200, text="{not prometheus")):
        bad = DcgmProbe("http://gpu/metrics", 1, transport=httpx.MockTransport(lambda r, a=answer: a))
        assert bad.read() is None


def test_without_nvml_or_a_url_there_is_no_probe() -> None:
    assert gpu_probe(0, None) is None  # no NVIDIA driver on this machine
    assert isinstance(gpu_probe(0, "http://gpu/metrics"), DcgmProbe)
