"""`sdfleet models scan | list | validate PATH`: the model volume for operators.

Exit codes: 0 all is well; 1 a file is invalid, refused, a duplicate or a link out of the volume
(`scan`, `validate`); 2 usage errors, a missing file or a volume that cannot be used.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from worker.errors import ModelInvalid, SdfleetError
from worker.registry.architecture import ModelKind, detect, main_dtype
from worker.registry.entries import KIND_DIRS, EntryStatus, ModelEntry, RegistrySnapshot
from worker.registry.lookup import Registry
from worker.registry.safetensors_check import PICKLE_SUFFIXES, validate_file

DEFAULT_VOLUME = Path("var/models")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.run(args)
        return code
    except SdfleetError as exc:
        print(f"sdfleet models: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    volume = argparse.ArgumentParser(add_help=False)
    volume.add_argument(
        "--volume", type=Path, default=argparse.SUPPRESS, help=f"model volume (default: {DEFAULT_VOLUME})"
    )
    parser = argparse.ArgumentParser(prog="sdfleet models", description=__doc__, parents=[volume])
    parser.set_defaults(volume=DEFAULT_VOLUME)
    sub = parser.add_subparsers(dest="action", required=True)
    scan = sub.add_parser("scan", parents=[volume], help="rescan the volume and rewrite the registry")
    scan.set_defaults(run=_scan)
    listing = sub.add_parser("list", parents=[volume], help="list the registry (scans if there is none)")
    listing.add_argument("--json", action="store_true", help="print the registry entries as JSON")
    listing.set_defaults(run=_list)
    validate = sub.add_parser("validate", parents=[volume], help="validate one file without loading it")
    validate.add_argument("path", type=Path)
    validate.set_defaults(run=_validate)
    return parser


def _scan(args: argparse.Namespace) -> int:
    snapshot = Registry(args.volume).scan()
    counts = {status: sum(e.status is status for e in snapshot.entries) for status in EntryStatus}
    stats = snapshot.stats
    print(
        f"scanned {len(snapshot.entries)} model files in {args.volume}: "
        + ", ".join(f"{n} {status}" for status, n in counts.items())
        + (f"; sha256 computed for {stats.hashed}, reused for {stats.reused}" if stats else "")
    )
    _print_problems(snapshot)
    return 1 if _has_problems(snapshot) else 0


def _has_problems(snapshot: RegistrySnapshot) -> bool:
    return bool(snapshot.skipped) or any(not entry.usable for entry in snapshot.entries)


def _print_problems(snapshot: RegistrySnapshot) -> None:
    for entry in snapshot.entries:
        if not entry.usable:
            print(f"  {entry.status}: {entry.path}: {entry.reason}")
        for warning in entry.warnings:
            print(f"  warning: {entry.path}: {warning}")
    for skipped in snapshot.skipped:
        print(f"  skipped: {skipped.path}: {skipped.reason}")
    if any(entry.status is EntryStatus.REFUSED for entry in snapshot.entries):
        print("  A1111 still sees refused files (and loads every embedding at start): remove them.")


def _list(args: argparse.Namespace) -> int:
    snapshot = Registry(args.volume).snapshot()
    if args.json:
        print(json.dumps([entry.model_dump(mode="json") for entry in snapshot.entries], indent=2))
        return 0
    rows = [("NAME", "KIND", "ARCH", "SIZE", "STATUS", "CATALOGUE", "PATH")]
    rows += [_row(entry) for entry in snapshot.entries]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1])
    _print_problems(snapshot)
    return 0


def _row(entry: ModelEntry) -> tuple[str, str, str, str, str, str, str]:
    catalogue = f"{entry.catalogue_key} ({entry.catalogue_match})" if entry.catalogue_key else "-"
    return (
        entry.name,
        entry.kind,
        entry.architecture,
        _size(entry.size_bytes),
        entry.status,
        catalogue,
        entry.path,
    )


def _size(size_bytes: int) -> str:
    size, unit = float(size_bytes), "B"
    for bigger in ("KB", "MB", "GB"):
        if size < 1000:
            break
        size, unit = size / 1000, bigger
    return f"{size:.0f} B" if unit == "B" else f"{size:.1f} {unit}"


def _validate(args: argparse.Namespace) -> int:
    path: Path = args.path
    if not path.is_file():
        print(f"sdfleet models validate: {path}: no such file", file=sys.stderr)
        return 2
    try:
        header = validate_file(path)
    except ModelInvalid as exc:
        verdict = "refused" if path.suffix.lower() in PICKLE_SUFFIXES else "invalid"
        print(f"{verdict}: {path}: {exc.message}", file=sys.stderr)
        return 1
    kind = _kind_of(path, list(header.tensors))
    print(
        f"valid: {path}: {kind} layout, architecture {detect(kind, header)}, "
        f"dtype {main_dtype(header) or '-'}, {len(header.tensors)} tensors, "
        f"{len(header.metadata)} metadata keys"
    )
    return 0


def _kind_of(path: Path, names: list[str]) -> ModelKind:
    """The folder a file is in says its kind; outside the volume's folders, its tensor names do."""
    posix = path.resolve().as_posix()
    for kind, folder in KIND_DIRS.items():
        if f"/{folder}/" in posix:
            return kind
    if names and all(name.startswith("lora_") for name in names):
        return ModelKind.LORA
    if names and all(
        name in ("emb_params", "clip_l", "clip_g") or name.startswith("string_to_") for name in names
    ):
        return ModelKind.EMBEDDING
    return ModelKind.CHECKPOINT


if __name__ == "__main__":
    sys.exit(main())
