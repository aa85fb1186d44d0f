"""The subsystem's catalogue: known checkpoints and LoRAs, LoRA presets and weight balancing, as data.

The data is `catalogue.json` beside this module; this module gives it a schema and checks it is
consistent (presets name LoRAs of their architecture, weights within ranges, no family twice in a
preset, preset totals under the cap). Files on the volume are matched to entries by sha256 or name.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from worker.errors import ConfigurationError
from worker.registry.architecture import Architecture, ModelKind
from worker.registry.names import name_problem

CATALOGUE_VERSION = 1


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Data):
    """Where a model comes from, when known."""

    civitai_model_id: int | None = None
    civitai_version_id: int | None = None
    hf_repo: str | None = None
    hf_path: str | None = None


class WeightRule(_Data):
    """The weight a LoRA gets when a job names none, and the inclusive range a job may ask for."""

    default_weight: float
    weight_range: tuple[float, float]

    @model_validator(mode="after")
    def _default_in_range(self) -> WeightRule:
        _check_weights(self.default_weight, self.weight_range)
        return self


def _check_weights(default_weight: float, weight_range: tuple[float, float]) -> None:
    low, high = weight_range
    if low > high:
        raise ValueError(f"weight range [{low:g}, {high:g}] is reversed")
    if not low <= default_weight <= high:
        raise ValueError(f"default weight {default_weight:g} is outside [{low:g}, {high:g}]")


class CatalogueEntry(_Data):
    """One known checkpoint or LoRA."""

    key: str
    display_name: str
    kind: ModelKind
    architecture: Architecture
    base_family: str
    role: Literal["checkpoint", "enhancer", "slider"]
    default: bool = False
    default_weight: float | None
    weight_range: tuple[float, float] | None
    family: str | None
    source: Source
    filenames: list[str]
    sha256: list[str]
    notes: str = ""

    @property
    def weight_rule(self) -> WeightRule | None:
        if self.default_weight is None or self.weight_range is None:
            return None
        return WeightRule(default_weight=self.default_weight, weight_range=self.weight_range)

    @model_validator(mode="after")
    def _consistent(self) -> CatalogueEntry:
        if name_problem(self.key):
            raise ValueError(f"key {self.key!r} {name_problem(self.key)}")
        if self.architecture is Architecture.UNKNOWN:
            raise ValueError(f"{self.key}: a catalogue entry must name its architecture")
        weights = (self.default_weight, self.weight_range)
        if (self.kind is ModelKind.LORA and None in weights) or (
            self.kind is not ModelKind.LORA and weights != (None, None)
        ):
            raise ValueError(f"{self.key}: LoRAs, and only LoRAs, have default_weight and weight_range")
        if self.default_weight is not None and self.weight_range is not None:
            _check_weights(self.default_weight, self.weight_range)
        if self.default and self.kind is not ModelKind.CHECKPOINT:
            raise ValueError(f"{self.key}: only a checkpoint can be the default")
        for digest in self.sha256:
            if not re.fullmatch(r"[0-9a-f]{64}", digest):
                raise ValueError(f"{self.key}: sha256 {digest!r} is not 64 lowercase hex digits")
        return self


class PresetLora(_Data):
    lora: str
    weight: float


class Preset(_Data):
    """A named combination of LoRAs, per checkpoint architecture."""

    description: str
    variants: dict[Architecture, list[PresetLora]]


class Balancing(_Data):
    """Caps on one job's LoRAs: how many, and the sum of |weight| per checkpoint architecture."""

    max_loras: int = Field(ge=1)
    max_total_weight: dict[Architecture, float]
    uncatalogued: WeightRule
    notes: str = ""


class Catalogue(_Data):
    """The whole catalogue file."""

    version: Literal[1]
    notes: list[str] = Field(default_factory=list)
    models: list[CatalogueEntry]
    presets: dict[str, Preset]
    balancing: Balancing

    @model_validator(mode="after")
    def _consistent(self) -> Catalogue:
        keys = [entry.key for entry in self.models]
        if len(keys) != len(set(keys)):
            raise ValueError(f"duplicate keys: {sorted({k for k in keys if keys.count(k) > 1})}")
        if sum(entry.default for entry in self.models) > 1:
            raise ValueError("more than one default checkpoint")
        for name, preset in self.presets.items():
            for architecture, loras in preset.variants.items():
                self._check_preset(name, architecture, loras)
        return self

    def _check_preset(self, name: str, architecture: Architecture, loras: list[PresetLora]) -> None:
        families: dict[str, str] = {}
        for item in loras:
            entry = self.entry(item.lora)
            if entry is None or entry.kind is not ModelKind.LORA:
                raise ValueError(f"preset {name!r} names {item.lora!r}, which is not a catalogue LoRA")
            if entry.architecture is not architecture:
                raise ValueError(
                    f"preset {name!r} puts {entry.architecture} LoRA {entry.key!r} in {architecture}"
                )
            low, high = self.weight_rule(entry.key).weight_range
            if not low <= item.weight <= high:
                raise ValueError(f"preset {name!r}: weight {item.weight:g} of {entry.key!r} is out of range")
            if entry.family and entry.family in families:
                raise ValueError(
                    f"preset {name!r} has {families[entry.family]!r} and {entry.key!r}: one family"
                )
            if entry.family:
                families[entry.family] = entry.key
        total = sum(abs(item.weight) for item in loras)
        cap = self.balancing.max_total_weight.get(architecture)
        if cap is None or total > cap or len(loras) > self.balancing.max_loras:
            raise ValueError(f"preset {name!r} exceeds the {architecture} balancing caps")

    def entry(self, key: str) -> CatalogueEntry | None:
        return next((entry for entry in self.models if entry.key == key), None)

    def entries(self, kind: ModelKind) -> list[CatalogueEntry]:
        return [entry for entry in self.models if entry.kind is kind]

    @property
    def default_checkpoint(self) -> CatalogueEntry | None:
        return next((entry for entry in self.models if entry.default), None)

    def weight_rule(self, key: str | None) -> WeightRule:
        """The weight rule of catalogue LoRA `key`, or the one for LoRAs not in the catalogue."""
        entry = self.entry(key) if key else None
        rule = entry.weight_rule if entry else None
        return rule or self.balancing.uncatalogued

    def match(self, kind: ModelKind, stem: str, sha256: str | None) -> tuple[CatalogueEntry, str] | None:
        """The entry a file of `kind` matches and how ("sha256" or "filename"), or None."""
        candidates = self.entries(kind)
        if sha256:
            for entry in candidates:
                if sha256 in entry.sha256:
                    return entry, "sha256"
        folded = fold_filename(stem)
        for entry in candidates:
            if folded in {fold_filename(name) for name in [entry.key, *entry.filenames]}:
                return entry, "filename"
        return None


def fold_filename(stem: str) -> str:
    """How file names are compared with the catalogue: case-insensitive, spaces and '-' as '_'."""
    return re.sub(r"[\s\-]+", "_", stem.strip().lower())


def parse_catalogue(text: str) -> Catalogue:
    """A catalogue from JSON text. Raises ConfigurationError saying what is inconsistent."""
    try:
        return Catalogue.model_validate(json.loads(text))
    except (ValueError, ValidationError) as exc:
        raise ConfigurationError(f"model catalogue is invalid: {exc}") from exc


def load_catalogue(path: Path | None = None) -> Catalogue:
    """The catalogue at `path`, or the one shipped with sdfleet. Raises ConfigurationError."""
    if path is not None:
        return parse_catalogue(path.read_text(encoding="utf-8"))
    return _shipped()


@cache
def _shipped() -> Catalogue:
    text = resources.files("worker.registry").joinpath("catalogue.json").read_text(encoding="utf-8")
    return parse_catalogue(text)
