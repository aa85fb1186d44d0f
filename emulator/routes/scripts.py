"""The scripts a stock A1111 1.10 registers for txt2img, for `script_name`/`alwayson_scripts` checks
and `/sdapi/v1/scripts`. The emulator runs none of them: a known script is accepted and ignored."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException

SELECTABLE = ("Prompt matrix", "Prompts from file or textbox", "X/Y/Z plot")
ALWAYSON = ("Refiner", "Seed", "Sampler", "Comments", "Hypertile", "Extra options", "Soft Inpainting")
SCRIPT_NAMES = {
    "txt2img": ["prompt matrix", "prompts from file or textbox", "x/y/z plot", "refiner", "seed", "sampler",
                "comments", "hypertile", "extra options"],
    "img2img": ["img2img alternative test", "loopback", "outpainting mk2", "poor man's outpainting",
                "prompt matrix", "prompts from file or textbox", "sd upscale", "x/y/z plot", "refiner",
                "seed", "sampler", "comments", "hypertile", "soft inpainting", "extra options"],
}  # fmt: skip


def _index(name: str, titles: tuple[str, ...]) -> int:
    """Raises HTTPException 422 "Script 'x' not found", as A1111's script_name_to_index does."""
    try:
        return [t.lower() for t in titles].index(name.lower())
    except ValueError:
        raise HTTPException(status_code=422, detail=f"Script '{name}' not found") from None


def check_scripts(script_name: str | None, alwayson: dict[str, Any] | None) -> None:
    """Raises HTTPException 422 for an unknown selectable or always-on script."""
    if script_name:
        _index(script_name, SELECTABLE)
    for title in alwayson or {}:
        _index(title, SELECTABLE + ALWAYSON)
