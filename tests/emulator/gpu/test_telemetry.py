"""The telemetry model (docs/emulator.md "Telemetry") on a fake clock: every figure is exact."""

from __future__ import annotations

import math
import re

import pytest

from emulator.gpu.identity import GpuIdentity, host_index
from emulator.gpu.telemetry import Reading, Telemetry, Thermals
from tests.emulator.helpers import FakeClock

T = Thermals()


def run(telemetry: Telemetry, clock: FakeClock, busy_s: float) -> None:
    with telemetry.busy():
        clock.advance(busy_s)


def test_an_idle_card_reads_idle_figures_and_integrates_idle_power() -> None:
    clock = FakeClock()
    telemetry = Telemetry(clock)
    clock.advance(100.0)
    assert telemetry.reading() == Reading(
        utilization_pct=0, temperature_c=35, power_w=13.0, energy_mj=int(13.0 * 100.0 * 1000)
    )


def test_utilisation_and_power_are_the_busy_share_of_the_last_second() -> None:
    clock = FakeClock(10.0)
    telemetry = Telemetry(clock)
    run(telemetry, clock, 0.25)
    clock.advance(0.5)
    run(telemetry, clock, 0.25)  # busy 0.5 s of the last 1 s
    reading = telemetry.reading()
    assert reading.utilization_pct == 50
    assert reading.power_w == pytest.approx(13.0 + (300.0 - 13.0) * 0.5)
    clock.advance(0.5)  # the first span has left the window
    assert telemetry.reading().utilization_pct == 25
    clock.advance(0.5)
    assert telemetry.reading().utilization_pct == 0


def test_a_running_span_counts_while_it_runs_and_nested_spans_count_once() -> None:
    clock = FakeClock()
    telemetry = Telemetry(clock)
    with telemetry.busy():
        clock.advance(2.0)
        with telemetry.busy():
            clock.advance(0.3)
        assert telemetry.reading().utilization_pct == 100
        clock.advance(0.7)
    clock.advance(0.4)
    assert telemetry.reading().utilization_pct == 60


def test_temperature_is_first_order_towards_the_load_temperature_and_back() -> None:
    clock = FakeClock()
    telemetry = Telemetry(clock)
    run(telemetry, clock, T.tau_s)  # one time constant: 63 % of the way
    expected = T.load_c + (T.idle_c - T.load_c) * math.exp(-1)
    assert telemetry.reading().temperature_c == round(expected) == 53
    run(telemetry, clock, 4 * T.tau_s)  # five in all: within 1 % of the load temperature
    assert telemetry.reading().temperature_c == 64
    clock.advance(T.tau_s)  # idle again: back down along the same curve
    hot = T.load_c + (expected - T.load_c) * math.exp(-4)
    assert telemetry.reading().temperature_c == round(T.idle_c + (hot - T.idle_c) * math.exp(-1))


def test_energy_is_the_integral_of_idle_and_load_power() -> None:
    clock = FakeClock()
    telemetry = Telemetry(clock)
    clock.advance(10.0)
    run(telemetry, clock, 3.0)
    clock.advance(7.0)
    assert telemetry.reading().energy_mj == int((13.0 * 17.0 + 300.0 * 3.0) * 1000)


def test_reading_is_deterministic_under_a_fixed_clock() -> None:
    clock = FakeClock()
    telemetry = Telemetry(clock)
    run(telemetry, clock, 12.5)
    assert telemetry.reading() == telemetry.reading() == telemetry.reading()


@pytest.mark.parametrize(
    ("visible", "device_id", "index"),
    [(None, None, 0), ("2", None, 2), ("3,1", "1", 1), ("GPU-abc", None, 0), (None, "1", 1), ("", "0", 0)],
)
def test_the_host_index_follows_cuda_visible_devices_and_device_id(
    visible: str | None, device_id: str | None, index: int
) -> None:
    # the worker pins each A1111 with CUDA_VISIBLE_DEVICES=<nvidia-smi index>; --device-id counts inside it
    env = {} if visible is None else {"CUDA_VISIBLE_DEVICES": visible}
    assert host_index(env, device_id) == index


def test_identity_is_nvml_shaped_and_stable() -> None:
    gpu = GpuIdentity(index=3, hostname="gpu-host-1")
    assert re.fullmatch(r"GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", gpu.uuid)
    assert gpu.uuid == GpuIdentity(index=3, hostname="gpu-host-1").uuid != GpuIdentity(index=2).uuid
    assert (gpu.pci_bus_id, gpu.device) == ("00000000:04:00.0", "nvidia3")
