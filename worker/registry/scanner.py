"""One scan of the volume: every model file validated, hashed (or its hash reused), matched and named.

A file's sha256 is computed once and reused while its size, mtime and ctime are unchanged (ctime too:
it changes when a file is replaced or its mtime is set back, which size and mtime alone would miss).
Headers are re-validated on every scan; that reads kilobytes, not gigabytes.
"""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from worker.errors import ModelInvalid
from worker.registry.architecture import Architecture, ModelKind, detect, main_dtype
from worker.registry.catalogue import Catalogue, CatalogueEntry
from worker.registry.entries import REGISTRY_VERSION, EntryStatus, ModelEntry, RegistrySnapshot, ScanStats
from worker.registry.names import name_problem
from worker.registry.safetensors_check import PICKLE_SUFFIXES, SafetensorsHeader, validate_file
from worker.registry.walk import FoundFile, walk_volume

Hasher = Callable[[Path], str]


def sha256_file(path: Path) -> str:
    """The hex sha256 of the file's bytes (reads it; never interprets it)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


@dataclass
class _Scanned:
    found: FoundFile
    fields: dict[str, Any]
    match: tuple[CatalogueEntry, str] | None


def build_snapshot(
    volume: Path,
    catalogue: Catalogue,
    previous: RegistrySnapshot | None,
    *,
    hasher: Hasher,
    now: datetime,
) -> RegistrySnapshot:
    """Scan `volume`, reusing hashes and last-used times from `previous` where the file is unchanged."""
    found, skipped = walk_volume(volume)
    stats = {"files": len(found), "hashed": 0, "reused": 0}
    scanned: list[_Scanned] = []
    priors = {entry.path: entry for entry in previous.entries} if previous else {}
    for item in found:
        try:
            fields = _examine(item, priors.get(item.relpath), hasher, now, stats)
        except FileNotFoundError:  # removed between the walk and now
            continue
        match = catalogue.match(item.kind, PurePosixPath(item.relpath).stem, fields["sha256"])
        scanned.append(_Scanned(item, fields, match))
    entries = _mark_duplicates(_name(scanned))
    entries.sort(key=lambda e: (list(ModelKind).index(e.kind), e.name, e.path))
    return RegistrySnapshot(
        version=REGISTRY_VERSION, scanned_at=now, entries=entries, skipped=skipped, stats=ScanStats(**stats)
    )


def _examine(
    item: FoundFile, prior: ModelEntry | None, hasher: Hasher, now: datetime, stats: dict[str, int]
) -> dict[str, Any]:
    st = os.stat(item.real)
    unchanged = prior is not None and (prior.size_bytes, prior.mtime_ns, prior.ctime_ns) == (
        st.st_size,
        st.st_mtime_ns,
        st.st_ctime_ns,
    )
    if unchanged and prior is not None and prior.sha256:
        sha256, hashed_at = prior.sha256, prior.hashed_at
        stats["reused"] += 1
    else:
        sha256, hashed_at = hasher(item.real), now
        stats["hashed"] += 1
    path = PurePosixPath(item.relpath)
    fields: dict[str, Any] = {
        "kind": item.kind,
        "path": item.relpath,
        "filename": path.name,
        "a1111_name": path.stem,
        "size_bytes": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "ctime_ns": st.st_ctime_ns,
        "sha256": sha256,
        "hashed_at": hashed_at,
        "validated_at": now,
        "last_used_at": prior.last_used_at if prior else None,
        "status": EntryStatus.OK,
        "reason": None,
        "detected_architecture": Architecture.UNKNOWN,
        "warnings": [],
    }
    try:
        header = validate_file(item.real)
    except ModelInvalid as exc:
        refused = path.suffix.lower() in PICKLE_SUFFIXES
        fields.update(status=EntryStatus.REFUSED if refused else EntryStatus.INVALID, reason=exc.message)
        return fields
    fields.update(_describe(item.kind, header))
    problem = name_problem(path.stem)
    if problem:
        reason = f"file name {path.stem!r} {problem}; rename the file"
        fields.update(status=EntryStatus.INVALID, reason=reason)
    return fields


def _describe(kind: ModelKind, header: SafetensorsHeader) -> dict[str, Any]:
    warnings = []
    names = list(header.tensors)
    if kind is not ModelKind.LORA and names and all(n.startswith("lora_") for n in names):
        warnings.append("tensor names are a LoRA's: is the file in the wrong folder?")
    return {
        "detected_architecture": detect(kind, header),
        "dtype": main_dtype(header),
        "tensor_count": len(header.tensors),
        "alias": header.metadata.get("ss_output_name") if kind is ModelKind.LORA else None,
        "warnings": warnings,
    }


def _name(scanned: list[_Scanned]) -> list[ModelEntry]:
    """Name entries: a catalogue key goes to its best-matching file (sha256, then path order)."""
    claims: dict[str, _Scanned] = {}
    for item in sorted(scanned, key=lambda s: (s.match is None or s.match[1] != "sha256", s.found.relpath)):
        if item.match and item.match[0].key not in claims:
            claims[item.match[0].key] = item
    entries = []
    for item in scanned:
        fields = dict(item.fields)
        detected: Architecture = fields["detected_architecture"]
        fields.update(name=fields["a1111_name"], architecture=detected)
        if item.match:
            entry, how = item.match
            if claims[entry.key] is item:
                fields.update(name=entry.key, catalogue_key=entry.key, catalogue_match=how)
                fields.update(source=entry.source)
                if detected is Architecture.UNKNOWN:
                    fields.update(architecture=entry.architecture)
                elif detected is not entry.architecture:
                    fields["warnings"] = [
                        *fields["warnings"],
                        f"catalogue says {entry.architecture} but the tensor names say {detected}",
                    ]
            else:
                other = claims[entry.key].found.relpath
                note = f"also matches catalogue entry {entry.key!r}, taken by {other}"
                fields["warnings"] = [*fields["warnings"], note]
        entries.append(ModelEntry(**fields))
    return entries


def _mark_duplicates(entries: list[ModelEntry]) -> list[ModelEntry]:
    """Entries of one kind sharing a registry or A1111 name are all unusable: A1111 could load either."""
    groups: defaultdict[tuple[ModelKind, str, str], list[ModelEntry]] = defaultdict(list)
    for entry in entries:
        groups[(entry.kind, "registry name", entry.name)].append(entry)
        groups[(entry.kind, "A1111 name", entry.a1111_name)].append(entry)
    result = []
    for entry in entries:
        clashes = [
            (label, other)
            for label, value in (("registry name", entry.name), ("A1111 name", entry.a1111_name))
            for other in groups[(entry.kind, label, value)]
            if other is not entry
        ]
        if clashes and entry.status is EntryStatus.OK:
            label = clashes[0][0]
            value = entry.name if label == "registry name" else entry.a1111_name
            others = ", ".join(sorted({f"{other.path} ({other.status})" for _, other in clashes}))
            reason = f"{label} {value!r} is also used by {others}; remove or rename one of them"
            entry = entry.model_copy(update={"status": EntryStatus.DUPLICATE, "reason": reason})
        result.append(entry)
    return result
