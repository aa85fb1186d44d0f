"""`--gpus` and the slots of a launcher."""

from __future__ import annotations

import pytest

from worker.errors import ConfigurationError
from worker.fleet.slots import GpuSlot, parse_gpus, plan_slots


@pytest.mark.parametrize(("spec", "expected"), [("0", [0]), ("0,1,2,3", [0, 1, 2, 3]), (" 2, 5 ", [2, 5])])
def test_gpu_lists(spec: str, expected: list[int]) -> None:
    assert parse_gpus(spec) == expected


@pytest.mark.parametrize("spec", ["", "x", "0,0", "-1", "1,,a"])
def test_bad_gpu_lists_name_the_fix(spec: str) -> None:
    with pytest.raises(ConfigurationError, match="--gpus"):
        parse_gpus(spec)


def test_all_without_a_gpu_is_a_clear_error() -> None:
    # This machine has no NVIDIA driver: NVML finds nothing
    with pytest.raises(ConfigurationError, match="NVML finds no NVIDIA GPU.*--emulate"):
        parse_gpus("all")


def test_slots_spread_their_first_checkpoint_and_number_their_ports() -> None:
    slots = plan_slots([0, 1, 3], ["a", "b"], a1111_base_port=3000, metrics_base_port=9200)
    assert slots == [
        GpuSlot(0, 3000, 9200, ("a", "b")),
        GpuSlot(1, 3001, 9201, ("b", "a")),
        GpuSlot(3, 3002, 9202, ("a", "b")),
    ]
    assert [s.name for s in slots] == ["gpu0", "gpu1", "gpu3"]
    assert plan_slots([0], ["a"], a1111_base_port=3000, metrics_base_port=None)[0].metrics_port is None
    with pytest.raises(ConfigurationError):
        plan_slots([0], [], a1111_base_port=3000, metrics_base_port=None)
