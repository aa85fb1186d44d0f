"""`script_name` and `alwayson_scripts` checked against each tab's own script runner, as A1111 v1.10.1
does: `modules/api/api.py:36-40` (`script_name_to_index`), `:286-292` (`get_selectable_script`, the
runner's selectable scripts), `:308-313` (`get_script`, all its scripts), `:347-360` (`init_script_args`),
`:440`/`:508` then `:460`/`:530` (the order: script_name, sampler, always-on scripts); the runners hold
what `show(is_img2img)` answers (`modules/scripts.py:578-608`, e.g. `scripts/sd_upscale.py:16-17`,
`extensions-builtin/soft-inpainting/scripts/soft_inpainting.py:495-496`)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from emulator.routes.scripts import runner, scripts_api
from tests.emulator.conftest import EmulatorProcess, StartEmulator
from tests.emulator.helpers import SMALL

IMG2IMG_ONLY = (
    "img2img alternative test",
    "Loopback",
    "Outpainting mk2",
    "Poor man's outpainting",
    "SD upscale",
)


@pytest.fixture(scope="module")
def init_image(shared_emulator: EmulatorProcess) -> str:
    image: str = shared_emulator.txt2img(prompt="init", **SMALL).json()["images"][0]
    return image


def img2img(emulator: EmulatorProcess, init_image: str, **payload: Any) -> httpx.Response:
    return emulator.post("/sdapi/v1/img2img", json={"init_images": [init_image], **SMALL, **payload})


def envelope_422(detail: str) -> tuple[int, dict[str, str]]:
    return 422, {"error": "HTTPException", "detail": detail, "body": "", "errors": ""}


def test_each_runner_holds_what_show_answers_for_its_tab() -> None:
    txt2img = dict(runner("txt2img", allow_code=False))
    img2img = dict(runner("img2img", allow_code=False))
    assert not set(IMG2IMG_ONLY) & set(txt2img) and set(IMG2IMG_ONLY) <= set(img2img)
    assert "Soft Inpainting" not in txt2img and img2img["Soft Inpainting"].value == "alwayson"
    assert "Custom code" not in txt2img and "Custom code" in dict(runner("txt2img", allow_code=True))
    lists = scripts_api(allow_code=False)
    assert lists["img2img"][:8] == [
        "img2img alternative test", "loopback", "outpainting mk2", "poor man's outpainting", "prompt matrix",
        "prompts from file or textbox", "sd upscale", "x/y/z plot",
    ]  # fmt: skip
    assert "soft inpainting" in lists["img2img"] and "soft inpainting" not in lists["txt2img"]


@pytest.mark.parametrize("title", ["SD upscale", "loopback", "OUTPAINTING MK2", "Poor man's outpainting"])
def test_img2img_accepts_its_own_selectable_scripts(
    shared_emulator: EmulatorProcess, init_image: str, title: str
) -> None:
    # A1111's own test_img2img.py sends script_name "sd upscale" with script_args ["", 8, "Lanczos", 2.0]
    response = img2img(shared_emulator, init_image, script_name=title, script_args=["", 8, "Lanczos", 2.0])
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("title", ["SD upscale", "Loopback", "outpainting mk2"])
def test_txt2img_refuses_img2img_only_scripts(shared_emulator: EmulatorProcess, title: str) -> None:
    response = shared_emulator.txt2img(prompt="x", script_name=title, **SMALL)
    assert (response.status_code, response.json()) == envelope_422(f"Script '{title}' not found")


def test_soft_inpainting_is_always_on_in_img2img_only(
    shared_emulator: EmulatorProcess, init_image: str
) -> None:
    scripts = {"soft inpainting": {"args": [True, 1.0, 0.5, 4.0, 0.0, 0.5, 2.0]}}
    response = shared_emulator.txt2img(prompt="x", alwayson_scripts=scripts, **SMALL)
    assert (response.status_code, response.json()) == envelope_422("Script 'soft inpainting' not found")
    assert img2img(shared_emulator, init_image, alwayson_scripts=scripts).status_code == 200


def test_a_selectable_script_is_not_an_always_on_one(
    shared_emulator: EmulatorProcess, init_image: str
) -> None:
    detail = "Cannot have a selectable script in the always on scripts params"
    response = shared_emulator.txt2img(prompt="x", alwayson_scripts={"X/Y/Z plot": {"args": []}}, **SMALL)
    assert (response.status_code, response.json()) == envelope_422(detail)
    response = img2img(shared_emulator, init_image, alwayson_scripts={"sd upscale": {}})
    assert (response.status_code, response.json()) == envelope_422(detail)
    # and img2img-only scripts are unknown to txt2img whatever the field
    response = shared_emulator.txt2img(prompt="x", alwayson_scripts={"sd upscale": {}}, **SMALL)
    assert (response.status_code, response.json()) == envelope_422("Script 'sd upscale' not found")


@pytest.mark.parametrize(
    ("scripts", "error", "errors"),
    [
        (
            {"": {}},
            "AttributeError",
            "'tuple' object has no attribute 'alwayson'",
        ),  # get_script's (None, None)
        ({"Seed": None}, "TypeError", "argument of type 'NoneType' is not iterable"),
        ({"Seed": 3}, "TypeError", "argument of type 'int' is not iterable"),
        ({"Seed": ["args"]}, "TypeError", "list indices must be integers or slices, not str"),
        ({"Seed": {"args": 1}}, "TypeError", "object of type 'int' has no len()"),
    ],
)
def test_malformed_always_on_values_fail_where_a1111s_code_does(
    shared_emulator: EmulatorProcess, scripts: dict[str, Any], error: str, errors: str
) -> None:
    response = shared_emulator.txt2img(prompt="x", alwayson_scripts=scripts, **SMALL)
    assert response.status_code == 500
    assert response.json() == {"error": error, "detail": "", "body": "", "errors": errors}
    assert (
        shared_emulator.txt2img(prompt="x", alwayson_scripts={"Seed": {"args": [-1]}}, **SMALL).status_code
        == 200
    )


def test_script_name_is_checked_before_the_sampler_and_always_on_scripts_after(
    a1111_emulator: StartEmulator,
) -> None:
    # In 1.9 mode an unknown sampler is a 404 raised between the two script checks
    emulator = a1111_emulator("--emu-sampler-mode", "1.9")
    both = {"sampler_name": "nope", "alwayson_scripts": {"nope": {}}}
    assert emulator.txt2img(script_name="nope", **both, **SMALL).json()["detail"] == "Script 'nope' not found"
    assert emulator.txt2img(**both, **SMALL).json()["detail"] == "Sampler not found"


def test_custom_code_only_with_allow_code(a1111_emulator: StartEmulator) -> None:
    emulator = a1111_emulator("--allow-code")
    assert emulator.get("/sdapi/v1/scripts").json()["txt2img"][0] == "custom code"
    assert emulator.txt2img(script_name="Custom code", script_args=["", False], **SMALL).status_code == 200


def test_img2img_checks_in_a1111s_order(shared_emulator: EmulatorProcess, init_image: str) -> None:
    # api.py:495-539: missing init images (404), the mask (500), the scripts (422), then the init images
    # themselves, decoded under the queue lock (500)
    post = shared_emulator.post
    missing = post("/sdapi/v1/img2img", json={"script_name": "nope", "mask": "bad"})
    assert (missing.status_code, missing.json()["detail"]) == (404, "Init image not found")
    bad_mask = post(
        "/sdapi/v1/img2img", json={"init_images": [init_image], "mask": "bad", "script_name": "nope"}
    )
    assert (bad_mask.status_code, bad_mask.json()["detail"]) == (500, "Invalid encoded image")
    bad_init = post("/sdapi/v1/img2img", json={"init_images": [init_image, "bad"], "script_name": "nope"})
    assert (bad_init.status_code, bad_init.json()["detail"]) == (422, "Script 'nope' not found")
    bad_init = post("/sdapi/v1/img2img", json={"init_images": [init_image, "bad"], **SMALL})
    assert (bad_init.status_code, bad_init.json()["detail"]) == (500, "Invalid encoded image")
    not_text = post("/sdapi/v1/img2img", json={"init_images": [7], **SMALL})
    assert (not_text.status_code, not_text.json()["error"]) == (500, "AttributeError")
    assert img2img(shared_emulator, init_image, mask=init_image).status_code == 200
