"""`/v1/checkpoints`, `/v1/loras`, `/v1/presets` and LoRA requests, through real HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

SDXL = "jib_mix_illustrious_realistic_v2"


def test_checkpoints_list_the_catalogue_with_architectures(http: httpx.Client) -> None:
    listed = {c["name"]: c for c in http.get("/v1/checkpoints").json()}
    assert listed["deliberate_v6"]["architecture"] == "sd15" and listed["deliberate_v6"]["default"]
    assert listed[SDXL]["architecture"] == "sdxl" and listed[SDXL]["usable"]
    assert listed[SDXL]["display_name"] == "Jib Mix Illustrious Realistic v2.0 Revelation"


def test_loras_show_weights_and_compatibility(http: httpx.Client) -> None:
    listed = {lora["name"]: lora for lora in http.get("/v1/loras").json()}
    assert len(listed) == 9
    tweaker = listed["detail_tweaker_xl"]
    assert tweaker["default_weight"] == 1.5
    assert tweaker["compatible_checkpoints"] == [SDXL]
    assert listed["boring_reality_primary_v4"]["family"] == listed["boring_reality_primary_v3"]["family"]


def test_presets_are_listed(http: httpx.Client) -> None:
    names = {p["name"] for p in http.get("/v1/presets").json()}
    assert {"realism", "detail", "dramatic_lighting"} <= names


def _submit(http: httpx.Client, **body: Any) -> httpx.Response:
    return http.post("/v1/jobs", json={"prompt": "portrait", "checkpoint": SDXL, **body})


def test_loras_resolve_with_default_weights_and_preset_overrides(http: httpx.Client) -> None:
    accepted = _submit(http, preset="realism", loras=[{"name": "real_skin_slider", "weight": 0.5}])
    assert accepted.status_code == 202, accepted.text
    job = http.get(accepted.json()["url"]).json()
    weights = {lora["name"]: lora["weight"] for lora in job["params"]["loras"]}
    assert weights == {
        "epicrealismxl_kiss_enhancer": 1.0,
        "boring_reality_primary_v4": 0.4,
        "real_skin_slider": 0.5,
    }


def test_prompt_tags_become_checked_loras(http: httpx.Client) -> None:
    accepted = _submit(http, prompt="portrait <lora:detail_tweaker_xl:0.7>, film grain")
    assert accepted.status_code == 202, accepted.text
    job = http.get(accepted.json()["url"]).json()
    assert job["params"]["prompt"] == "portrait , film grain"
    assert job["params"]["loras"] == [
        {"name": "detail_tweaker_xl", "a1111_name": "detail_tweaker_xl", "weight": 0.7}
    ]


@pytest.mark.parametrize(
    ("body", "category", "words"),
    [
        ({"loras": [{"name": "nope"}]}, "lora_not_found", "available for sdxl"),
        ({"checkpoint": "deliberate_v6", "loras": [{"name": "detail_tweaker_xl"}]},
         "lora_incompatible", "sd15"),
        ({"loras": [{"name": "detail_tweaker_xl", "weight": 3.5}]}, "invalid_request", "-3 to 3"),
        ({"loras": [{"name": "boring_reality_primary_v3"}, {"name": "boring_reality_primary_v4"}]},
         "invalid_request", "cannot be combined"),
        ({"preset": "nope"}, "invalid_request", "presets:"),
        ({"prompt": "x <lora:nope:1>"}, "lora_not_found", "nope"),
        ({"prompt": "x <hypernet:h:1>"}, "invalid_request", "only <lora:name:weight>"),
        ({"prompt": "x <lora:detail_tweaker_xl:lots>"}, "invalid_request", "not a number"),
        ({"loras": [{"name": "../../etc/passwd"}]}, "invalid_request", "loras[0].name"),
        ({"pony_realism_slider": 1}, "invalid_request", "unknown field"),
        ({"loras": [{"name": "pony_realism_slider", "weight": 5}, {"name": "real_skin_slider", "weight": 2}]},
         "invalid_request", "total LoRA weight"),
    ],
)  # fmt: skip
def test_lora_problems_are_422_naming_the_cause(
    http: httpx.Client, body: dict[str, Any], category: str, words: str
) -> None:
    refused = _submit(http, **body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"] == category
    assert words in refused.json()["message"]
