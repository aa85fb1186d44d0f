"""The shipped catalogue: the spec's models as data, consistent, and matched to files by sha256 or name."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest

from worker.errors import ConfigurationError
from worker.registry.architecture import Architecture, ModelKind
from worker.registry.catalogue import fold_filename, load_catalogue, parse_catalogue

SPEC_LORA_SCALES = {  # DESIGN.md "Models and LoRAs named by the subsystem spec"
    "detail_tweaker_xl": 1.5,
    "hand_detail_flux_xl": 1.0,
    "boring_reality_primary_v3": 0.3,
    "boring_reality_primary_v4": 0.4,
    "epicrealismxl_kiss_enhancer": 1.0,
    "real_skin_slider": 1.0,
    "dramatic_lighting_slider": 1.0,
    "pony_realism_slider": 3.0,
    "amateur_style_slider_pony": 1.0,
}


def _raw() -> dict[str, Any]:
    text = resources.files("worker.registry").joinpath("catalogue.json").read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def test_the_spec_checkpoints_with_deliberate_as_default() -> None:
    catalogue = load_catalogue()
    checkpoints = {e.key: e.architecture for e in catalogue.entries(ModelKind.CHECKPOINT)}
    assert checkpoints == {"deliberate_v6": "sd15", "jib_mix_illustrious_realistic_v2": "sdxl"}
    default = catalogue.default_checkpoint
    assert default is not None and default.key == "deliberate_v6"


def test_the_nine_loras_with_the_spec_scales() -> None:
    catalogue = load_catalogue()
    loras = catalogue.entries(ModelKind.LORA)
    assert {e.key: e.default_weight for e in loras} == SPEC_LORA_SCALES
    assert all(e.architecture is Architecture.SDXL for e in loras)
    for entry in loras:
        assert entry.weight_range is not None
        low, high = entry.weight_range
        assert low <= (entry.default_weight or 0) <= high
        assert entry.notes, f"{entry.key} records no evidence"


def test_the_two_boring_reality_versions_are_one_family() -> None:
    catalogue = load_catalogue()
    families = {e.key: e.family for e in catalogue.entries(ModelKind.LORA) if e.family}
    assert families == {
        "boring_reality_primary_v3": "boring_reality",
        "boring_reality_primary_v4": "boring_reality",
    }


def test_presets_and_balancing() -> None:
    catalogue = load_catalogue()
    assert {"realism", "detail", "dramatic_lighting", "skin"} <= set(catalogue.presets)
    assert catalogue.balancing.max_total_weight[Architecture.SDXL] == 6.0
    assert catalogue.weight_rule(None) == catalogue.balancing.uncatalogued
    assert catalogue.weight_rule("pony_realism_slider").weight_range == (-5.0, 5.0)


@pytest.mark.parametrize(
    ("kind", "stem", "sha256", "expected", "how"),
    [
        (ModelKind.LORA, "detail_tweaker_xl", None, "detail_tweaker_xl", "filename"),
        (ModelKind.LORA, "add-detail-xl", None, "detail_tweaker_xl", "filename"),
        (ModelKind.LORA, "Pony Realism Slider", None, "pony_realism_slider", "filename"),
        (ModelKind.LORA, "boringRealism_primaryV4", None, "boring_reality_primary_v4", "filename"),
        (
            ModelKind.LORA,
            "anything",
            "11ecf170d9419c658ece68b5f82af296a84a6c5393849f2c547cebba30a2eeb4",
            "boring_reality_primary_v4",
            "sha256",
        ),  # fmt: skip
        (ModelKind.CHECKPOINT, "Deliberate_v6", None, "deliberate_v6", "filename"),
        (ModelKind.CHECKPOINT, "detail_tweaker_xl", None, None, None),  # a LoRA key is not a checkpoint
        (ModelKind.LORA, "my_own_lora", None, None, None),
    ],
)
def test_matching(
    kind: ModelKind, stem: str, sha256: str | None, expected: str | None, how: str | None
) -> None:
    match = load_catalogue().match(kind, stem, sha256)
    assert (match[0].key, match[1]) == (expected, how) if match else expected is None


def test_fold_filename() -> None:
    assert fold_filename(" Dramatic Lighting-Slider ") == "dramatic_lighting_slider"


def _broken(change: str) -> dict[str, Any]:
    document = _raw()
    loras = {e["key"]: e for e in document["models"]}
    if change == "duplicate key":
        document["models"].append(dict(loras["real_skin_slider"]))
    elif change == "default outside range":
        loras["real_skin_slider"]["default_weight"] = 9.0
    elif change == "reversed range":
        loras["real_skin_slider"]["weight_range"] = [5.0, -5.0]
    elif change == "preset names unknown lora":
        document["presets"]["realism"]["variants"]["sdxl"].append({"lora": "nope", "weight": 1.0})
    elif change == "preset weight out of range":
        document["presets"]["realism"]["variants"]["sdxl"][1]["weight"] = 1.5
    elif change == "preset family conflict":
        document["presets"]["skin"]["variants"]["sdxl"].append(
            {"lora": "boring_reality_primary_v4", "weight": 0.4}
        )
    elif change == "preset wrong architecture":
        document["presets"]["detail"]["variants"] = {
            "sd15": document["presets"]["detail"]["variants"]["sdxl"]
        }
    elif change == "preset over the cap":
        document["balancing"]["max_total_weight"]["sdxl"] = 2.0
    elif change == "unknown architecture":
        loras["real_skin_slider"]["architecture"] = "unknown"
    elif change == "checkpoint with weights":
        document["models"][0]["default_weight"] = 1.0
    elif change == "bad sha256":
        loras["real_skin_slider"]["sha256"] = ["ABC"]
    elif change == "two defaults":
        document["models"][1]["default"] = True
    elif change == "unknown field":
        loras["real_skin_slider"]["colour"] = "blue"
    elif change == "key not a name":
        loras["real_skin_slider"]["key"] = "../x"
    return document


@pytest.mark.parametrize(
    "change",
    [
        "duplicate key", "default outside range", "reversed range", "preset names unknown lora",
        "preset weight out of range", "preset family conflict", "preset wrong architecture",
        "preset over the cap", "unknown architecture", "checkpoint with weights", "bad sha256",
        "two defaults", "unknown field", "key not a name",
    ],
)  # fmt: skip
def test_an_inconsistent_catalogue_is_a_configuration_error(change: str) -> None:
    with pytest.raises(ConfigurationError, match="model catalogue is invalid"):
        parse_catalogue(json.dumps(_broken(change)))


def test_a_catalogue_that_is_not_json() -> None:
    with pytest.raises(ConfigurationError):
        parse_catalogue("{")
