"""`/v1/checkpoints`, `/v1/loras`, `/v1/presets`: what the model registry holds, to choose from."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import CallerDep, ResourcesDep
from worker.registry.entries import ModelEntry

router = APIRouter(prefix="/v1", tags=["models"])


def _entry(entry: ModelEntry) -> dict[str, Any]:
    return {
        "name": entry.name,
        "architecture": entry.architecture.value,
        "usable": entry.usable,
        "status": entry.status.value,
        "reason": entry.reason,
        "file": entry.filename,
        "size_bytes": entry.size_bytes,
        "sha256": entry.sha256,
        "dtype": entry.dtype,
        "catalogue": entry.catalogue_key,
        "source": entry.source.model_dump(exclude_none=True) if entry.source else None,
        "last_used_at": entry.last_used_at.isoformat() if entry.last_used_at else None,
    }


@router.get("/checkpoints", summary="Checkpoints on the model volume")
def checkpoints(resources: ResourcesDep, caller: CallerDep) -> list[dict[str, Any]]:
    registry = resources.jobs.resolver.registry
    default = resources.settings.default_checkpoint
    return [
        {**_entry(e), "default": e.name == default, "display_name": _display(resources, e)}
        for e in registry.checkpoints()
    ]


@router.get("/loras", summary="LoRAs on the model volume, with weights and compatible checkpoints")
def loras(resources: ResourcesDep, caller: CallerDep) -> list[dict[str, Any]]:
    registry = resources.jobs.resolver.registry
    catalogue = registry.catalogue
    checkpoints = registry.checkpoints()
    result = []
    for entry in registry.loras():
        rule = catalogue.weight_rule(entry.catalogue_key)
        catalogued = catalogue.entry(entry.catalogue_key) if entry.catalogue_key else None
        result.append(
            {
                **_entry(entry),
                "display_name": _display(resources, entry),
                "a1111_name": entry.a1111_name,
                "default_weight": rule.default_weight,
                "weight_range": list(rule.weight_range),
                "family": catalogued.family if catalogued else None,
                "compatible_checkpoints": [
                    c.name for c in checkpoints if c.usable and c.architecture is entry.architecture
                ],
            }
        )
    return result


@router.get("/presets", summary="Named LoRA combinations, per checkpoint architecture")
def presets(resources: ResourcesDep, caller: CallerDep) -> list[dict[str, Any]]:
    catalogue = resources.jobs.resolver.registry.catalogue
    return [
        {
            "name": name,
            "description": preset.description,
            "variants": {
                arch.value: [{"lora": item.lora, "weight": item.weight} for item in items]
                for arch, items in preset.variants.items()
            },
        }
        for name, preset in sorted(catalogue.presets.items())
    ]


def _display(resources: ResourcesDep, entry: ModelEntry) -> str:
    found = (
        resources.jobs.resolver.registry.catalogue.entry(entry.catalogue_key) if entry.catalogue_key else None
    )
    return found.display_name if found else entry.name
