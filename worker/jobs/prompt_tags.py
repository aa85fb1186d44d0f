"""`<lora:NAME:WEIGHT>` tags written into prompts: parsed and checked like `loras`, never passed through.

A1111 would silently ignore an unknown LoRA and load whatever file a name resolves to; here a tag becomes
an ordinary LoRA request (looked up in the registry, weight-checked, architecture-checked) and the
payload builder writes the tag again from the resolved entry, after the prompt.

Nothing tag-like may remain in the prompt once the tags are taken out: `<lo<lora:x:1>ra:y:1>` would
otherwise leave `<lora:y:1>` behind, a tag nobody checked, and a dangling `<lora:y` at the end of the
prompt would swallow the first tag the builder appends.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from worker.errors import InvalidRequest

# A1111's extra-network syntax: <kind:args> (extra_networks.py: `<(\w+):([^>]+)>`)
TAG = re.compile(r"<(\w+):([^>]*)>")
FRAGMENT = re.compile(r"<\w+:")  # the start of a tag; after extraction, there must be none
LORA_KINDS = ("lora", "lyco")


@dataclass(frozen=True)
class TagLora:
    name: str
    weight: float | None


def extract_lora_tags(prompt: str, *, field: str = "prompt") -> tuple[str, list[TagLora]]:
    """The prompt without its LoRA tags, and the LoRAs they asked for. Raises InvalidRequest for a
    malformed tag or another kind of extra network (hypernetworks are not managed by sdfleet)."""
    found: list[TagLora] = []

    def take(match: re.Match[str]) -> str:
        kind, args = match.group(1).lower(), match.group(2)
        if kind not in LORA_KINDS:
            raise InvalidRequest(
                f"{field} contains the extra network tag {match.group(0)!r}; only <lora:name:weight> is "
                "supported",
                field=field,
                value=match.group(0),
            )
        parts = args.split(":")
        if not parts[0].strip() or len(parts) > 2:
            raise InvalidRequest(
                f"{field} tag {match.group(0)!r} must be <lora:name> or <lora:name:weight>",
                field=field,
                value=match.group(0),
            )
        found.append(
            TagLora(parts[0].strip(), _weight(parts[1], match.group(0), field) if len(parts) == 2 else None)
        )
        return ""

    cleaned = TAG.sub(take, prompt)
    fragment = FRAGMENT.search(cleaned)
    if fragment is not None:
        raise InvalidRequest(
            f"{field} contains {cleaned[fragment.start() : fragment.end() + 20]!r}, an incomplete or nested "
            "tag; write LoRA tags as <lora:name:weight>, one after another",
            field=field,
            value=fragment.group(0),
        )
    return " ".join(cleaned.split()) if found else prompt, found


def _weight(text: str, tag: str, field: str) -> float:
    try:
        weight = float(text)
    except ValueError:
        weight = math.nan
    if not math.isfinite(weight):
        raise InvalidRequest(f"{field} tag {tag!r} has a weight that is not a number", field=field, value=tag)
    return weight
