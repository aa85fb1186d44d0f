"""LoRA resolution policy, as tables: every rule, with weights just inside and just outside the ranges."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from worker.errors import InvalidRequest, JobRejected, LoraIncompatible, LoraNotFound, ModelInvalid
from worker.registry.architecture import Architecture, ModelKind
from worker.registry.catalogue import load_catalogue
from worker.registry.entries import EntryStatus, ModelEntry
from worker.registry.loras import LoraRequest, ResolvedLora, resolve_loras

CATALOGUE = load_catalogue()
SDXL, SD15 = Architecture.SDXL, Architecture.SD15


def _entry(
    name: str, architecture: Architecture, *, key: str | None = None, status: str = "ok"
) -> ModelEntry:
    return ModelEntry(
        name=name,
        kind=ModelKind.LORA,
        path=f"models/loras/{name}.safetensors",
        filename=f"{name}.safetensors",
        a1111_name=f"{name}-file",
        size_bytes=1,
        mtime_ns=1,
        ctime_ns=1,
        architecture=architecture,
        detected_architecture=architecture,
        status=EntryStatus(status),
        reason=None if status == "ok" else "tensor 'x' overlaps",
        catalogue_key=key,
        validated_at=datetime(2025, 1, 1, tzinfo=UTC),
    )


AVAILABLE = {
    **{e.key: _entry(e.key, e.architecture, key=e.key) for e in CATALOGUE.entries(ModelKind.LORA)},
    "my_sd15_style": _entry("my_sd15_style", SD15),
    "my_sdxl_style": _entry("my_sdxl_style", SDXL),
    "flux_thing": _entry("flux_thing", Architecture.UNKNOWN),
    "broken": _entry("broken", SDXL, status="invalid"),
}

DT, HD = "detail_tweaker_xl", "hand_detail_flux_xl"
BR3, BR4 = "boring_reality_primary_v3", "boring_reality_primary_v4"
KISS, SKIN = "epicrealismxl_kiss_enhancer", "real_skin_slider"
DRAMA, PONY = "dramatic_lighting_slider", "pony_realism_slider"
MINE_XL, MINE_15 = "my_sdxl_style", "my_sd15_style"
Asked = list[tuple[str, float | None]]


def resolve(
    arch: Architecture, *loras: tuple[str, float | None], preset: str | None = None
) -> list[tuple[str, float]]:
    requested = [LoraRequest(name, weight) for name, weight in loras]
    result = resolve_loras(arch, requested, preset, available=AVAILABLE, catalogue=CATALOGUE)
    return [(lora.name, lora.weight) for lora in result]


# ── accepted ──────────────────────────────────────────────────────────────────────────────────────

ACCEPTED = [
    pytest.param(SDXL, [], None, [], id="nothing asked"),
    pytest.param(SDXL, [(DT, None)], None, [(DT, 1.5)], id="catalogue default weight"),
    pytest.param(SDXL, [(DT, 0.5)], None, [(DT, 0.5)], id="explicit weight"),
    pytest.param(SDXL, [(PONY, 5.0)], None, [(PONY, 5.0)], id="slider at its top"),
    pytest.param(SDXL, [(SKIN, -5.0)], None, [(SKIN, -5.0)], id="slider at its bottom"),
    pytest.param(SDXL, [(DT, -3.0)], None, [(DT, -3.0)], id="detail tweaker at its bottom"),
    pytest.param(SDXL, [(HD, 0.0)], None, [], id="enhancer at zero is dropped"),
    pytest.param(SDXL, [(HD, 2.0)], None, [(HD, 2.0)], id="enhancer at its top"),
    pytest.param(SDXL, [(BR4, 1.0)], None, [(BR4, 1.0)], id="boring reality at its top"),
    pytest.param(SD15, [(MINE_15, None)], None, [(MINE_15, 1.0)], id="uncatalogued default 1.0"),
    pytest.param(SDXL, [(MINE_XL, -2.0)], None, [(MINE_XL, -2.0)], id="uncatalogued at its bottom"),
    pytest.param(SDXL, [(MINE_XL, 2)], None, [(MINE_XL, 2.0)], id="integer weight"),
    pytest.param(SDXL, [], "realism", [(KISS, 1.0), (BR4, 0.4), (SKIN, 1.0)], id="preset expands"),
    pytest.param(
        SDXL,
        [(SKIN, 2.5)],
        "realism",
        [(KISS, 1.0), (BR4, 0.4), (SKIN, 2.5)],
        id="explicit overrides in place",
    ),
    pytest.param(
        SDXL,
        [(BR4, None)],
        "realism",
        [(KISS, 1.0), (BR4, 0.4), (SKIN, 1.0)],
        id="no weight keeps the preset's",
    ),
    pytest.param(
        SDXL, [(KISS, 0)], "realism", [(BR4, 0.4), (SKIN, 1.0)], id="weight 0 removes a preset LoRA"
    ),
    pytest.param(
        SDXL,
        [(BR3, None)],
        "realism",
        [(KISS, 1.0), (SKIN, 1.0), (BR3, 0.3)],
        id="family member replaces preset's",
    ),
    pytest.param(
        SDXL,
        [(MINE_XL, 0.5), (DT, 1.0)],
        "dramatic_lighting",
        [(DRAMA, 1.0), (DT, 1.0), (MINE_XL, 0.5)],
        id="preset then request order",
    ),
    pytest.param(SDXL, [(PONY, 3.0), (SKIN, -3.0)], None, [(PONY, 3.0), (SKIN, -3.0)], id="total at the cap"),
    pytest.param(
        SDXL,
        [(MINE_XL, 0.1), (BR4, 0.1), (PONY, 4.9), (SKIN, 0.9)],  # sums to 6.000000000000001
        None,
        [(MINE_XL, 0.1), (BR4, 0.1), (PONY, 4.9), (SKIN, 0.9)],
        id="float sum at the cap",
    ),
    pytest.param(
        SDXL,
        [(DT, 0.5), (HD, 0.5), (BR4, 0.4), (KISS, 0.5), (SKIN, 0.5), (MINE_XL, 0.5)],
        None,
        [(DT, 0.5), (HD, 0.5), (BR4, 0.4), (KISS, 0.5), (SKIN, 0.5), (MINE_XL, 0.5)],
        id="six LoRAs",
    ),
]


@pytest.mark.parametrize(("arch", "loras", "preset", "expected"), ACCEPTED)
def test_accepted(
    arch: Architecture, loras: Asked, preset: str | None, expected: list[tuple[str, float]]
) -> None:
    result = resolve(arch, *loras, preset=preset)
    assert [name for name, _ in result] == [name for name, _ in expected]
    assert [weight for _, weight in result] == pytest.approx([weight for _, weight in expected])


def test_resolved_loras_carry_the_a1111_name() -> None:
    result = resolve_loras(SDXL, [LoraRequest(SKIN)], None, available=AVAILABLE, catalogue=CATALOGUE)
    assert result == [ResolvedLora(SKIN, "real_skin_slider-file", 1.0)]


def test_every_preset_resolves_on_sdxl_with_its_catalogue_weights() -> None:
    for name, preset in CATALOGUE.presets.items():
        assert resolve(SDXL, preset=name) == [(item.lora, item.weight) for item in preset.variants[SDXL]]


# ── refused ───────────────────────────────────────────────────────────────────────────────────────

REFUSED = [
    pytest.param(
        SDXL, [], "cinematic", InvalidRequest, "preset",
        "preset 'cinematic' is not known; presets: amateur, detail, dramatic_lighting", id="unknown preset",
    ),
    pytest.param(
        SDXL, [], "../realism", InvalidRequest, "preset", "path separator", id="preset name is a path"
    ),
    pytest.param(
        SD15, [], "realism", LoraIncompatible, "preset",
        "preset 'realism' is for sdxl checkpoints; the checkpoint is sd15", id="sdxl preset on sd15",
    ),
    pytest.param(
        SDXL, [("../checkpoints/x", None)], None, InvalidRequest, "loras[0].name", "path separator",
        id="name traversal",
    ),
    pytest.param(
        SDXL, [(DT, 1.0), (MINE_XL, 1.0), (DT, 0.5)], None, InvalidRequest, "loras[2].name",
        "'detail_tweaker_xl' is named twice (also loras[0])", id="named twice",
    ),
    pytest.param(
        SDXL, [("nope", None)], None, LoraNotFound, "loras[0].name",
        "LoRA 'nope' is not on the model volume; available for sdxl: amateur_style_slider_pony, ",
        id="not on the volume",
    ),
    pytest.param(
        SD15, [("nope", None)], None, LoraNotFound, "loras[0].name", "available for sd15: my_sd15_style",
        id="not found lists the architecture's LoRAs",
    ),
    pytest.param(
        SDXL, [("broken", None)], None, ModelInvalid, "loras[0].name",
        "LoRA 'broken' (models/loras/broken.safetensors) is invalid: tensor 'x' overlaps", id="invalid file",
    ),
    pytest.param(
        SD15, [(DT, None)], None, LoraIncompatible, "loras[0].name",
        "LoRA 'detail_tweaker_xl' is sdxl but the checkpoint is sd15", id="sdxl LoRA on sd15",
    ),
    pytest.param(
        SDXL, [(MINE_15, None)], None, LoraIncompatible, "loras[0].name",
        "LoRA 'my_sd15_style' is sd15 but the checkpoint is sdxl", id="sd15 LoRA on sdxl",
    ),
    pytest.param(
        SDXL, [("flux_thing", None)], None, LoraIncompatible, "loras[0].name",
        "cannot be detected from its tensor names", id="unknown architecture",
    ),
    pytest.param(
        Architecture.UNKNOWN, [("flux_thing", None)], None, LoraIncompatible, "loras[0].name",
        "cannot be checked against the unknown checkpoint", id="unknown on unknown checkpoint",
    ),
    pytest.param(
        SDXL, [(PONY, 5.01)], None, InvalidRequest, "loras[0].weight",
        "loras[0].weight 5.01 for LoRA 'pony_realism_slider' is outside its allowed range -5 to 5",
        id="slider just over",
    ),
    pytest.param(
        SDXL, [(SKIN, -5.01)], None, InvalidRequest, "loras[0].weight", "outside its allowed range -5 to 5",
        id="slider just under",
    ),
    pytest.param(
        SDXL, [(DT, 3.01)], None, InvalidRequest, "loras[0].weight", "outside its allowed range -3 to 3",
        id="detail tweaker just over",
    ),
    pytest.param(
        SDXL, [(HD, -0.01)], None, InvalidRequest, "loras[0].weight", "outside its allowed range 0 to 2",
        id="enhancer just under",
    ),
    pytest.param(
        SDXL, [(BR3, 1.01)], None, InvalidRequest, "loras[0].weight", "outside its allowed range 0 to 1",
        id="boring reality just over",
    ),
    pytest.param(
        SDXL, [(MINE_XL, 2.01)], None, InvalidRequest, "loras[0].weight", "outside its allowed range -2 to 2",
        id="uncatalogued just over",
    ),
    pytest.param(
        SDXL, [(MINE_XL, float("nan"))], None, InvalidRequest, "loras[0].weight", "is not a finite number",
        id="not a number",
    ),
    pytest.param(
        SDXL, [(MINE_XL, float("inf"))], None, InvalidRequest, "loras[0].weight", "is not a finite number",
        id="infinite",
    ),
    pytest.param(
        SDXL, [(SKIN, 6.0)], "realism", InvalidRequest, "loras[0].weight", "6 for LoRA 'real_skin_slider'",
        id="override out of range",
    ),
    pytest.param(
        SDXL, [(BR3, None), (BR4, None)], None, InvalidRequest, "loras[1].name",
        "LoRAs 'boring_reality_primary_v3' (loras[0]) and 'boring_reality_primary_v4' (loras[1]) are both "
        "of family 'boring_reality' and cannot be combined; choose one",
        id="two of one family",
    ),
    pytest.param(
        SDXL, [(PONY, 3.0), (SKIN, -3.01)], None, InvalidRequest, "loras",
        "total LoRA weight 6.01 (pony_realism_slider 3 + real_skin_slider 3.01) for a sdxl checkpoint "
        "is at most 6",
        id="total just over the cap",
    ),
    pytest.param(
        SDXL, [(PONY, 4.0)], "realism", InvalidRequest, "loras", "total LoRA weight 6.4",
        id="preset plus explicit over the cap",
    ),
    pytest.param(
        SDXL, [(DT, 0.1), (HD, 0.1), (BR4, 0.1), (KISS, 0.1), (SKIN, 0.1), (MINE_XL, 0.1), (DRAMA, 0.1)],
        None, InvalidRequest, "loras", "a job may use at most 6 LoRAs, got 7", id="seven LoRAs",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("arch", "loras", "preset", "error", "field", "message"), REFUSED)
def test_refused(
    arch: Architecture, loras: Asked, preset: str | None, error: type[JobRejected], field: str, message: str
) -> None:
    with pytest.raises(JobRejected) as raised:
        resolve(arch, *loras, preset=preset)
    assert type(raised.value) is error
    assert raised.value.field == field
    assert message in raised.value.message


def test_the_sd15_cap_holds_for_uncatalogued_loras() -> None:
    sd15 = {"a": _entry("a", SD15), "b": _entry("b", SD15), "c": _entry("c", SD15)}
    requested = [LoraRequest("a", 2.0), LoraRequest("b", 2.0)]
    assert len(resolve_loras(SD15, requested, None, available=sd15, catalogue=CATALOGUE)) == 2
    with pytest.raises(InvalidRequest, match="total LoRA weight 4.5 .* is at most 4"):
        resolve_loras(SD15, [*requested, LoraRequest("c", 0.5)], None, available=sd15, catalogue=CATALOGUE)


def test_a_preset_lora_missing_from_the_volume_names_the_preset() -> None:
    available = {k: v for k, v in AVAILABLE.items() if k != "real_skin_slider"}
    with pytest.raises(LoraNotFound) as raised:
        resolve_loras(SDXL, [], "skin", available=available, catalogue=CATALOGUE)
    assert raised.value.field == "preset"
    assert "LoRA 'real_skin_slider' (named by the preset) is not on the model volume" in raised.value.message
