"""Which LoRAs a job gets, at which weights: a pure policy over the catalogue and the registry's entries.

Rules, in the order they are applied:

1. A `preset` expands to its LoRAs for the checkpoint's architecture (unknown preset: invalid_request;
   no variant for this architecture: lora_incompatible).
2. Explicit `loras` entries are added; one naming a preset LoRA overrides the preset's weight. A name
   given twice is invalid_request.
3. Every LoRA must be on the volume (lora_not_found, listing what is available for the architecture)
   and usable (model_invalid, with the scan's reason).
4. Its architecture must be known and equal the checkpoint's (lora_incompatible, naming both). A LoRA
   whose architecture cannot be detected from its tensor names, nor taken from its catalogue entry, is
   refused: nothing shows A1111 could apply it, and A1111 itself fails silently.
5. A missing weight is the catalogue's recommended weight (1.0 for uncatalogued LoRAs, A1111's own
   default); every weight must be finite and inside its allowed range (invalid_request naming
   `loras[i].weight`, the value and the range).
6. Mutually exclusive families: an explicit LoRA replaces a preset LoRA of its family; two explicit
   LoRAs of one family are invalid_request naming both.
7. Zero weights are dropped (an explicit weight 0 removes a preset LoRA).
8. At most `max_loras`, and the sum of |weight| at most `max_total_weight` for the architecture.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from worker.errors import InvalidRequest, LoraIncompatible, LoraNotFound, ModelInvalid
from worker.registry.architecture import Architecture
from worker.registry.catalogue import Catalogue
from worker.registry.entries import ModelEntry
from worker.registry.names import validate_name


@dataclass(frozen=True)
class LoraRequest:
    """A LoRA as a job names it; weight None means the catalogue's recommended weight."""

    name: str
    weight: float | None = None


@dataclass(frozen=True)
class ResolvedLora:
    """A LoRA a job will use: registry name, the name A1111 knows it by, and the weight."""

    name: str
    a1111_name: str
    weight: float


@dataclass(frozen=True)
class _Item:
    name: str
    weight: float | None
    field: str  # where the caller named it: "preset" or "loras[i]"
    explicit: bool


def resolve_loras(
    checkpoint_architecture: Architecture,
    requested: Sequence[LoraRequest],
    preset: str | None,
    *,
    available: Mapping[str, ModelEntry],
    catalogue: Catalogue,
) -> list[ResolvedLora]:
    """The LoRAs for a job. Raises InvalidRequest, LoraNotFound, LoraIncompatible or ModelInvalid."""
    items = _expand(checkpoint_architecture, requested, preset, catalogue)
    weighted: list[tuple[_Item, ModelEntry, float]] = []
    for item in items:
        entry = _entry(item, checkpoint_architecture, available)
        weighted.append((item, entry, _weight(item, entry, catalogue)))
    weighted = _resolve_families(weighted, catalogue)
    result = [ResolvedLora(e.name, e.a1111_name, w) for _, e, w in weighted if w != 0]
    _check_caps(checkpoint_architecture, result, catalogue)
    return result


def _expand(
    architecture: Architecture, requested: Sequence[LoraRequest], preset: str | None, catalogue: Catalogue
) -> list[_Item]:
    items: dict[str, _Item] = {}
    if preset is not None:
        validate_name(preset, field="preset")
        found = catalogue.presets.get(preset)
        if found is None:
            known = ", ".join(sorted(catalogue.presets))
            raise InvalidRequest(
                f"preset {preset!r} is not known; presets: {known}", field="preset", value=preset
            )
        variant = found.variants.get(architecture)
        if variant is None:
            archs = ", ".join(sorted(found.variants))
            raise LoraIncompatible(
                f"preset {preset!r} is for {archs} checkpoints; the checkpoint is {architecture}",
                field="preset",
                value=preset,
            )
        for lora in variant:
            items[lora.lora] = _Item(lora.lora, lora.weight, "preset", explicit=False)
    for index, request in enumerate(requested):
        field = f"loras[{index}]"
        name = validate_name(request.name, field=f"{field}.name")
        previous = items.get(name)
        if previous is not None and previous.explicit:
            raise InvalidRequest(
                f"{field}.name {name!r} is named twice (also {previous.field})",
                field=f"{field}.name",
                value=name,
            )
        weight = request.weight if request.weight is not None or previous is None else previous.weight
        items[name] = _Item(name, weight, field, explicit=True)
    return list(items.values())


def _entry(item: _Item, architecture: Architecture, available: Mapping[str, ModelEntry]) -> ModelEntry:
    field = f"{item.field}.name" if item.explicit else "preset"
    entry = available.get(item.name)
    if entry is None:
        usable = sorted(n for n, e in available.items() if e.usable and e.architecture is architecture)
        listing = f"available for {architecture}: {', '.join(usable) or 'none'}"
        where = "" if item.explicit else " (named by the preset)"
        raise LoraNotFound(
            f"LoRA {item.name!r}{where} is not on the model volume; {listing}", field=field, value=item.name
        )
    if not entry.usable:
        raise ModelInvalid(
            f"LoRA {item.name!r} ({entry.path}) is {entry.status}: {entry.reason}",
            field=field,
            value=item.name,
        )
    if entry.architecture is Architecture.UNKNOWN:
        raise LoraIncompatible(
            f"LoRA {item.name!r} has an architecture that cannot be detected from its tensor names, so it "
            f"cannot be checked against the {architecture} checkpoint",
            field=field,
            value=item.name,
        )
    if entry.architecture is not architecture:
        raise LoraIncompatible(
            f"LoRA {item.name!r} is {entry.architecture} but the checkpoint is {architecture}",
            field=field,
            value=item.name,
        )
    return entry


def _weight(item: _Item, entry: ModelEntry, catalogue: Catalogue) -> float:
    rule = catalogue.weight_rule(entry.catalogue_key)
    weight = rule.default_weight if item.weight is None else item.weight
    field = f"{item.field}.weight" if item.explicit else "preset"
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not math.isfinite(weight):
        raise InvalidRequest(
            f"{field} {weight!r} for LoRA {item.name!r} is not a finite number", field=field, value=weight
        )
    low, high = rule.weight_range
    if not low <= weight <= high:
        raise InvalidRequest(
            f"{field} {weight:g} for LoRA {item.name!r} is outside its allowed range {low:g} to {high:g}",
            field=field,
            value=weight,
        )
    return float(weight)


def _resolve_families(
    weighted: list[tuple[_Item, ModelEntry, float]], catalogue: Catalogue
) -> list[tuple[_Item, ModelEntry, float]]:
    def family(entry: ModelEntry) -> str | None:
        found = catalogue.entry(entry.catalogue_key) if entry.catalogue_key else None
        return found.family if found else None

    explicit: dict[str, tuple[_Item, ModelEntry]] = {}
    for item, entry, _ in weighted:
        name = family(entry)
        if name is None or not item.explicit:
            continue
        if name in explicit:
            first, first_entry = explicit[name]
            raise InvalidRequest(
                f"LoRAs {first_entry.name!r} ({first.field}) and {entry.name!r} ({item.field}) are both of "
                f"family {name!r} and cannot be combined; choose one",
                field=f"{item.field}.name",
                value=entry.name,
            )
        explicit[name] = (item, entry)
    return [
        (item, entry, weight)
        for item, entry, weight in weighted
        if item.explicit or family(entry) not in explicit
    ]


def _check_caps(architecture: Architecture, loras: list[ResolvedLora], catalogue: Catalogue) -> None:
    balancing = catalogue.balancing
    if len(loras) > balancing.max_loras:
        raise InvalidRequest(
            f"a job may use at most {balancing.max_loras} LoRAs, got {len(loras)}",
            field="loras",
            value=len(loras),
        )
    cap = balancing.max_total_weight.get(architecture)
    total = sum(abs(lora.weight) for lora in loras)
    if loras and (cap is None or total > cap + 1e-9):
        parts = " + ".join(f"{lora.name} {abs(lora.weight):g}" for lora in loras)
        limit = f"at most {cap:g}" if cap is not None else "not allowed"
        raise InvalidRequest(
            f"total LoRA weight {total:g} ({parts}) for a {architecture} checkpoint is {limit}",
            field="loras",
            value=round(total, 6),
        )
