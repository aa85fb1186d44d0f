"""The scripts a stock A1111 1.10 holds in its txt2img and img2img script runners, and the API's checks
of `script_name` and `alwayson_scripts` against them. The emulator runs none of them: a script that
passes the checks is accepted and ignored.

Each runner keeps the scripts whose `show(is_img2img)` is true (selectable) or AlwaysVisible (always on),
`modules/scripts.py:578-608`. The API then checks (`modules/api/api.py`, upstream 82a973c0):

- `script_name` against the runner's *selectable* scripts by case-insensitive title (`:36-40`,
  `get_selectable_script` `:286-292`): unknown is 422 "Script 'x' not found"; empty is no script;
- each `alwayson_scripts` key against *all* the runner's scripts (`get_script` `:308-313`, used by
  `init_script_args` `:347-360`): unknown is the same 422, a selectable one 422 "Cannot have a
  selectable script in the always on scripts params". An empty key makes `get_script` return the tuple
  `(None, None)`, so `.alwayson` raises AttributeError (500); a value that `"args" in value` cannot
  search, or an `args` without a length, raises TypeError (500).
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from fastapi import HTTPException


class Shown(Enum):
    """What a script's `show()` answers for one tab."""

    SELECTABLE = "selectable"  # a choice of the script dropdown: `script_name`
    ALWAYSON = "alwayson"  # scripts.AlwaysVisible: `alwayson_scripts`


_S, _A = Shown.SELECTABLE, Shown.ALWAYSON
# (title, txt2img, img2img) in the runners' order; None: not in that tab's runner
SCRIPTS: tuple[tuple[str, Shown | None, Shown | None], ...] = (
    ("Custom code", _S, _S),  # scripts/custom_code.py: shown only with --allow-code
    ("img2img alternative test", None, _S),  # scripts/img2imgalt.py: show() is is_img2img
    ("Loopback", None, _S),  # scripts/loopback.py
    ("Outpainting mk2", None, _S),  # scripts/outpainting_mk_2.py
    ("Poor man's outpainting", None, _S),  # scripts/poor_mans_outpainting.py
    ("Prompt matrix", _S, _S),
    ("Prompts from file or textbox", _S, _S),
    ("SD upscale", None, _S),  # scripts/sd_upscale.py
    ("X/Y/Z plot", _S, _S),
    ("Refiner", _A, _A),  # modules/processing_scripts/
    ("Seed", _A, _A),
    ("Sampler", _A, _A),  # ScriptBuiltinUI.show() is AlwaysVisible
    ("Comments", _A, _A),
    ("Hypertile", _A, _A),  # extensions-builtin/hypertile
    ("Soft Inpainting", None, _A),  # extensions-builtin/soft-inpainting: AlwaysVisible if is_img2img
    ("Extra options", _A, _A),  # extensions-builtin/extra-options-section
)


def runner(tab: str, *, allow_code: bool) -> list[tuple[str, Shown]]:
    """The (title, kind) of every script in the `tab` ("txt2img" or "img2img") runner, in order."""
    scripts = []
    for title, txt2img, img2img in SCRIPTS:
        shown = img2img if tab == "img2img" else txt2img
        if shown is not None and (title != "Custom code" or allow_code):
            scripts.append((title, shown))
    return scripts


def scripts_api(*, allow_code: bool) -> dict[str, list[str]]:
    """`/sdapi/v1/scripts`: each runner's script names (lower-case titles)."""
    return {
        tab: [title.lower() for title, _ in runner(tab, allow_code=allow_code)]
        for tab in ("txt2img", "img2img")
    }


def _index(name: str, titles: list[str]) -> int:
    """Raises HTTPException 422 "Script 'x' not found", as A1111's script_name_to_index does."""
    try:
        return [t.lower() for t in titles].index(name.lower())
    except ValueError:
        raise HTTPException(status_code=422, detail=f"Script '{name}' not found") from None


def check_script_name(script_name: str | None, tab: str, *, allow_code: bool) -> None:
    """Raises HTTPException 422 unless `script_name` is empty or one of the tab's selectable scripts."""
    if script_name:
        _index(script_name, [title for title, shown in runner(tab, allow_code=allow_code) if shown is _S])


_SELECTABLE_AS_ALWAYSON = "Cannot have a selectable script in the always on scripts params"


def _type_name(value: object) -> str:
    return type(value).__name__


def check_alwayson(alwayson: dict[str, Any] | None, tab: str, *, allow_code: bool) -> None:
    """Raises HTTPException 422 for an always-on title the tab's runner does not hold or holds as a
    selectable script; AttributeError and TypeError where A1111's own code raises them."""
    scripts = runner(tab, allow_code=allow_code)
    for name, value in (alwayson or {}).items():
        if not name:
            raise AttributeError("'tuple' object has no attribute 'alwayson'")
        if scripts[_index(name, [title for title, _ in scripts])][1] is _S:
            raise HTTPException(
                status_code=422, detail="Cannot have a selectable script in the always on scripts params"
            )
        if not isinstance(value, str | list | dict):
            raise TypeError(f"argument of type '{_type_name(value)}' is not iterable")
        if "args" not in value:
            continue
        if isinstance(value, str):
            raise TypeError("string indices must be integers")  # CPython 3.10's wording, as A1111 runs
        if isinstance(value, list):
            raise TypeError("list indices must be integers or slices, not str")
        if not isinstance(value["args"], str | list | dict):
            raise TypeError(f"object of type '{_type_name(value['args'])}' has no len()")
