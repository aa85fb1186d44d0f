"""`GET /emulator/v1/dcgm-metrics` in dcgm-exporter 4.5.3-4.8.2's exact text format
(`internal/pkg/rendermetrics/render_metrics.go` GPU template, `etc/default-counters.csv` help texts,
`internal/pkg/collector/gpu_collector.go:316-386` labels and value formats)."""

from __future__ import annotations

import socket

import pytest
from prometheus_client.parser import text_string_to_metric_families

from emulator.app import create_app
from emulator.cli import ConfigError, parse_config
from emulator.gpu.timing import step_seconds
from emulator.models.arch import Arch
from emulator.runtime import build_runtime
from tests.emulator.conftest import EmulatorProcess, StartEmulator
from tests.emulator.helpers import SMALL, Background, FakeClock, InProcess, poll_until

MIB = 1024 * 1024


@pytest.fixture
def fake_clock_app() -> tuple[InProcess, FakeClock]:
    config = parse_config(
        ["--nowebui", "--emu-gpu-name", "NVIDIA GeForce RTX 4090"], {"CUDA_VISIBLE_DEVICES": "1"}
    )
    clock = FakeClock()
    return InProcess(create_app(build_runtime(config, clock=clock))), clock


def test_the_exposition_is_dcgm_exporters_to_the_byte(fake_clock_app: tuple[InProcess, FakeClock]) -> None:
    # Given an idle card 100 simulated seconds after start, nothing loaded: only the CUDA context in use
    client, clock = fake_clock_app
    clock.advance(100.0)
    response = client.get("/emulator/v1/dcgm-metrics")
    labels = (
        f'gpu="1",UUID="{client.get("/emulator/v1/config").json()["gpu"]["uuid"]}",'
        'pci_bus_id="00000000:02:00.0",device="nvidia1",modelName="NVIDIA GeForce RTX 4090",'
        f'Hostname="{socket.gethostname()}",DCGM_FI_DRIVER_VERSION="550.127.05"'
    )
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.text == (
        "# HELP DCGM_FI_DEV_GPU_TEMP GPU temperature (in C).\n"
        "# TYPE DCGM_FI_DEV_GPU_TEMP gauge\n"
        f"DCGM_FI_DEV_GPU_TEMP{{{labels}}} 35\n"
        "# HELP DCGM_FI_DEV_POWER_USAGE Power draw (in W).\n"
        "# TYPE DCGM_FI_DEV_POWER_USAGE gauge\n"
        f"DCGM_FI_DEV_POWER_USAGE{{{labels}}} 13.000000\n"
        "# HELP DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION Total energy consumption since boot (in mJ).\n"
        "# TYPE DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION counter\n"
        f"DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{{{labels}}} 1300000\n"
        "# HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %).\n"
        "# TYPE DCGM_FI_DEV_GPU_UTIL gauge\n"
        f"DCGM_FI_DEV_GPU_UTIL{{{labels}}} 0\n"
        "# HELP DCGM_FI_DEV_FB_FREE Framebuffer memory free (in MiB).\n"
        "# TYPE DCGM_FI_DEV_FB_FREE gauge\n"
        f"DCGM_FI_DEV_FB_FREE{{{labels}}} 24176\n"
        "# HELP DCGM_FI_DEV_FB_USED Framebuffer memory used (in MiB).\n"
        "# TYPE DCGM_FI_DEV_FB_USED gauge\n"
        f"DCGM_FI_DEV_FB_USED{{{labels}}} 400\n"
    )
    assert client.get("/emulator/v1/dcgm-metrics").text == response.text  # a fixed clock, a fixed text


def test_a_gpu_name_dcgm_could_not_print_is_refused() -> None:
    with pytest.raises(ConfigError):
        parse_config(["--emu-gpu-name", 'RTX "4090"'], {})


def samples(emulator: EmulatorProcess) -> dict[str, float]:
    text = emulator.get("/emulator/v1/dcgm-metrics").text
    return {family.name: family.samples[0].value for family in text_string_to_metric_families(text)}


@pytest.fixture
def pinned_emulator(a1111_emulator: StartEmulator) -> EmulatorProcess:
    # the worker starts each A1111 with CUDA_VISIBLE_DEVICES=<its GPU index>
    return a1111_emulator(env={"CUDA_VISIBLE_DEVICES": "2", "A1111_EMU_GPU_NAME": "NVIDIA RTX A5000"})


def test_a_running_emulator_reports_its_card_and_memory(pinned_emulator: EmulatorProcess) -> None:
    text = pinned_emulator.get("/emulator/v1/dcgm-metrics").text
    families = {family.name: family for family in text_string_to_metric_families(text)}
    sample = families["DCGM_FI_DEV_FB_USED"].samples[0]
    assert sample.labels["gpu"] == "2" and sample.labels["device"] == "nvidia2"
    assert sample.labels["modelName"] == "NVIDIA RTX A5000" and sample.labels["UUID"].startswith("GPU-")
    assert families["DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"].type == "counter"
    # And memory is the device's: what torch reserved plus the context, out of --emu-vram-mb
    values = samples(pinned_emulator)
    system = pinned_emulator.get("/sdapi/v1/memory").json()["cuda"]["system"]
    assert values["DCGM_FI_DEV_FB_USED"] == round(system["used"] / MIB)
    assert values["DCGM_FI_DEV_FB_USED"] + values["DCGM_FI_DEV_FB_FREE"] == 24576


def test_load_raises_utilisation_power_and_temperature_and_idle_brings_them_down(
    pinned_emulator: EmulatorProcess,
) -> None:
    # Given a job slowed to take many simulated minutes (each step 10 simulated s, 0.1 s real)
    emulator = pinned_emulator
    idle = samples(emulator)
    assert (idle["DCGM_FI_DEV_GPU_UTIL"], idle["DCGM_FI_DEV_GPU_TEMP"]) == (0, 35)
    step_s = step_seconds(Arch.SD15, 64, 64, 1, linear_attention=True)
    emulator.post("/emulator/v1/faults", json={"kind": "slow", "factor": 10.0 / step_s})
    job = Background(lambda: emulator.txt2img(prompt="hot", **{**SMALL, "steps": 150}))
    # When it runs, the card is busy, draws load power and warms up towards 64 °C
    poll_until(lambda: samples(emulator)["DCGM_FI_DEV_GPU_UTIL"] >= 90, timeout_s=30)
    assert samples(emulator)["DCGM_FI_DEV_POWER_USAGE"] > 250
    poll_until(lambda: samples(emulator)["DCGM_FI_DEV_GPU_TEMP"] >= 55, timeout_s=30)
    # Then, interrupted and idle, utilisation drops at once and the card cools down
    emulator.post("/sdapi/v1/interrupt")
    assert job.result().status_code == 200
    poll_until(lambda: samples(emulator)["DCGM_FI_DEV_GPU_UTIL"] == 0, timeout_s=30)
    assert samples(emulator)["DCGM_FI_DEV_POWER_USAGE"] == 13.0
    poll_until(lambda: samples(emulator)["DCGM_FI_DEV_GPU_TEMP"] <= 40, timeout_s=30)
