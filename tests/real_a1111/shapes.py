"""What the tier keeps of A1111's answers, and how two targets' answers are compared.

Each scenario notes, per target, the parts of A1111's answers the worker reads, reduced to what must be
equal between the real A1111 and the stand-in: JSON shapes (keys and value types), infotext fields,
exact bodies where A1111's are deterministic (error envelopes), and outcomes (seeds, statuses,
categories). Random or environmental parts (subseeds, timestamps, timings, passwords) are left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# A1111's infotext parameter line: `Key: value, Key: "quoted, value", ...` (infotext_utils.re_param).
_PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')


def shape(value: Any) -> Any:
    """The JSON skeleton of `value`: objects keep their keys, lists the distinct shapes of their items,
    scalars become their type's name (`null`, `bool`, `int`, `float`, `str`)."""
    if isinstance(value, Mapping):
        return {str(key): shape(item) for key, item in sorted(value.items())}
    if isinstance(value, list | tuple):
        shapes: list[Any] = []
        for item in value:
            if shape(item) not in shapes:
                shapes.append(shape(item))
        return shapes
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    return {int: "int", float: "float", str: "str"}.get(type(value), type(value).__name__)


def infotext_params(infotext: str) -> list[tuple[str, str]]:
    """The `Key: value` pairs of an infotext's last line, in order."""
    last = infotext.strip().split("\n")[-1]
    return [(key, value) for key, value in _PARAM.findall(last)]


def infotext_prompt_lines(infotext: str) -> tuple[str, str]:
    """(prompt, negative prompt) of an infotext."""
    lines = infotext.strip().split("\n")[:-1]
    negative = [line for line in lines if line.startswith("Negative prompt: ")]
    prompt = "\n".join(line for line in lines if not line.startswith("Negative prompt: "))
    return prompt, negative[0].removeprefix("Negative prompt: ") if negative else ""


@dataclass(frozen=True)
class Difference:
    """One observation on which the two targets disagree."""

    key: str
    real: Any
    stand_in: Any


def differences(real: Mapping[str, Any], stand_in: Mapping[str, Any]) -> Iterator[Difference]:
    """Every observation noted for both targets whose values differ (nested: one per differing leaf)."""
    for key in sorted(set(real) & set(stand_in)):
        yield from _leaf_differences(key, real[key], stand_in[key])


def _leaf_differences(key: str, real: Any, stand_in: Any) -> Iterator[Difference]:
    if isinstance(real, Mapping) and isinstance(stand_in, Mapping):
        for sub in sorted(set(real) | set(stand_in)):
            missing = "(absent)"
            yield from _leaf_differences(f"{key}.{sub}", real.get(sub, missing), stand_in.get(sub, missing))
    elif not same(real, stand_in):
        yield Difference(key, real, stand_in)


def same(a: Any, b: Any) -> bool:
    """Equal as JSON, types included: 1 and 1.0, or 0 and False, are different answers."""
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b
