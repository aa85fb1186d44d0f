"""§15.7 samplers and schedulers (§5): the 1.10 lists and name resolution."""

from __future__ import annotations

import pytest

from emulator.generation.samplers import resolve, schedule_label
from tests.emulator.conftest import EmulatorProcess
from tests.emulator.helpers import SMALL, info_of

SAMPLER_NAMES = [
    "DPM++ 2M", "DPM++ SDE", "DPM++ 2M SDE", "DPM++ 2M SDE Heun", "DPM++ 2S a", "DPM++ 3M SDE", "Euler a",
    "Euler", "LMS", "Heun", "DPM2", "DPM2 a", "DPM fast", "DPM adaptive", "Restart", "DDIM", "DDIM CFG++",
    "PLMS", "UniPC", "LCM",
]  # fmt: skip


def test_samplers_list(shared_emulator: EmulatorProcess) -> None:
    # §15.7, §5: 20 samplers, DPM++ 2M first; option values stringified ("second_order": "True")
    samplers = shared_emulator.get("/sdapi/v1/samplers").json()
    assert [s["name"] for s in samplers] == SAMPLER_NAMES
    assert samplers[0] == {"name": "DPM++ 2M", "aliases": ["k_dpmpp_2m"], "options": {"scheduler": "karras"}}
    heun = next(s for s in samplers if s["name"] == "Heun")
    assert heun == {"name": "Heun", "aliases": ["k_heun"], "options": {"second_order": "True"}}


def test_schedulers_list(shared_emulator: EmulatorProcess) -> None:
    # §15.7, §5: 12 schedulers, name/label/aliases/default_rho/need_inner_model
    schedulers = shared_emulator.get("/sdapi/v1/schedulers").json()
    assert [s["label"] for s in schedulers] == [
        "Automatic", "Uniform", "Karras", "Exponential", "Polyexponential", "SGM Uniform", "KL Optimal",
        "Align Your Steps", "Simple", "Normal", "DDIM", "Beta",
    ]  # fmt: skip
    assert schedulers[0] == {
        "name": "automatic", "label": "Automatic", "aliases": None, "default_rho": -1.0,
        "need_inner_model": False,
    }  # fmt: skip
    assert schedulers[2]["default_rho"] == 7.0
    assert schedulers[5] == {
        "name": "sgm_uniform", "label": "SGM Uniform", "aliases": ["SGMUniform"], "default_rho": -1.0,
        "need_inner_model": True,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("sampler", "scheduler", "expected"),
    [
        ("DPM++ 2M Karras", None, ("DPM++ 2M", "Automatic")),  # legacy suffix = its default: Automatic
        ("DPM++ 2M SDE Karras", None, ("DPM++ 2M SDE", "Karras")),
        ("Euler a", None, ("Euler a", "Automatic")),
        ("Euler a", "karras", ("Euler a", "Karras")),  # name or label
        ("Euler", "nonsense", ("Euler", "Automatic")),  # unknown scheduler -> Automatic
        ("k_euler", None, ("DPM++ 2M", "Automatic")),  # aliases do not resolve
        ("euler a", None, ("DPM++ 2M", "Automatic")),  # case matters
        ("DPM++ 2M karras", None, ("DPM++ 2M", "Automatic")),  # the suffix may be the name
        ("DPM++ SDE Exponential", None, ("DPM++ SDE", "Exponential")),
        ("DPM++ 2M SGMUniform", None, ("DPM++ 2M", "SGM Uniform")),  # an alias as suffix
        ("DPM++ 2M SGM Uniform", None, ("DPM++ 2M", "Uniform")),  # " Uniform" is tried first
        (None, None, ("DPM++ 2M", "Automatic")),
        ("UniPC", "Karras", ("UniPC", "Karras")),
    ],
)
def test_resolution(sampler: str | None, scheduler: str | None, expected: tuple[str, str]) -> None:
    # §15.7, §5: get_sampler_and_scheduler
    assert resolve(sampler, scheduler) == expected


@pytest.mark.parametrize(
    ("sampler", "scheduler", "label"),
    [("DPM++ 2M", "Automatic", "Karras"), ("Euler a", "Automatic", "Automatic"),
     ("DDIM", "Automatic", "Automatic"), ("DPM++ 2M SDE", "Automatic", "Exponential"),
     ("Euler", "Karras", "Karras")],
)  # fmt: skip
def test_schedule_type_label(sampler: str, scheduler: str, label: str) -> None:
    # §15.7, §5: Schedule type = the sampler's default label, or Automatic
    assert schedule_label(sampler, scheduler) == label


def test_infotext_of_a_legacy_name(shared_emulator: EmulatorProcess) -> None:
    # §5: "DPM++ 2M Karras" -> Sampler: DPM++ 2M, Schedule type: Karras; the echo keeps the raw name
    response = shared_emulator.txt2img(prompt="x", sampler_name="DPM++ 2M Karras", **SMALL)
    info = info_of(response)
    assert info["sampler_name"] == "DPM++ 2M"
    assert "Sampler: DPM++ 2M, Schedule type: Karras," in info["infotexts"][0]
    assert info["extra_generation_params"] == {"Schedule type": "Karras"}
    assert response.json()["parameters"]["sampler_name"] == "DPM++ 2M Karras"
    assert response.json()["parameters"]["scheduler"] is None


def test_unknown_sampler_silently_becomes_dpmpp_2m(shared_emulator: EmulatorProcess) -> None:
    # §15.7, §5: unknown -> DPM++ 2M, HTTP 200 (validate_sampler_name is unreachable in 1.10)
    response = shared_emulator.txt2img(prompt="x", sampler_name="Magic Sampler", scheduler="zigzag", **SMALL)
    assert response.status_code == 200
    assert "Sampler: DPM++ 2M, Schedule type: Karras," in info_of(response)["infotexts"][0]


def test_sampler_index_is_used_without_sampler_name(shared_emulator: EmulatorProcess) -> None:
    # §3: sampler_name or sampler_index; sampler_index defaults to "Euler"
    response = shared_emulator.txt2img(prompt="x", sampler_index="Heun", **SMALL)
    assert info_of(response)["sampler_name"] == "Heun"
