"""The stand-in against the real A1111, from the same session's scenarios (test_scenarios.py): every
observation of what the worker reads must be equal on both targets, or be a known difference listed here
and in docs/emulator.md with its reason.

The comparison is written to `<REAL_A1111_DIR>/comparison.md` (the run log docs/emulator.md quotes), and
both targets' observations to `observations.json` beside it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.real_a1111.environment import fixtures_from_env
from tests.real_a1111.shapes import Difference, differences

# Observation key (or a prefix of it) -> why the stand-in answers differently. Each is in docs/emulator.md.
KNOWN_DIFFERENCES: dict[str, str] = {}


def _known(difference: Difference) -> str | None:
    for key, reason in KNOWN_DIFFERENCES.items():
        if difference.key == key or difference.key.startswith(key + "."):
            return reason
    return None


def test_the_stand_in_answers_as_the_real_a1111_does(observations: dict[str, dict[str, Any]]) -> None:
    real, stand_in = observations["real"], observations["stand-in"]
    if not real or not stand_in:
        pytest.skip("both targets must have run in this session (the real one needs `make real-a1111`)")
    found = list(differences(_compared(real), _compared(stand_in)))
    unexplained = [d for d in found if _known(d) is None]
    only = sorted(set(_compared(real)) ^ set(_compared(stand_in)))
    _write_summary(real, stand_in, found)
    assert not only, f"observed on one target only (a scenario failed or was skipped on the other): {only}"
    assert not unexplained, "the stand-in differs from the real A1111:\n" + "\n".join(
        f"- {d.key}: real {d.real!r}, stand-in {d.stand_in!r}" for d in unexplained
    )


def _compared(notes: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in notes.items() if not key.startswith("_")}


def _write_summary(real: dict[str, Any], stand_in: dict[str, Any], found: list[Difference]) -> None:
    """A Markdown run log: timings of both targets, then every difference and what it is."""
    lines = ["# Real A1111 vs the stand-in", "", "| scenario | real (s) | stand-in (s) |", "|---|---|---|"]
    timings_real, timings_stand_in = real.get("_timings", {}), stand_in.get("_timings", {})
    for name in dict.fromkeys([*timings_real, *timings_stand_in]):
        lines.append(f"| {name} | {timings_real.get(name, '–')} | {timings_stand_in.get(name, '–')} |")
    lines += ["", f"Observations compared: {len(_compared(real))}; differences: {len(found)}", ""]
    for d in found:
        lines.append(f"- `{d.key}`: real `{json.dumps(d.real)}`, stand-in `{json.dumps(d.stand_in)}`")
        lines.append(f"  - {_known(d) or 'UNEXPLAINED'}")
    lines += ["", "## Observations (real)", "", "```json", json.dumps(_compared(real), indent=1), "```"]
    folder = fixtures_from_env().root
    (folder / "comparison.md").write_text("\n".join(lines) + "\n")
    both = {"real": real, "stand-in": stand_in}
    (folder / "observations.json").write_text(json.dumps(both, indent=1) + "\n")
