"""§15.11 infotext (§11): exact layout and quoting, the PNG chunk, and /png-info parsing it back."""

from __future__ import annotations

from emulator.generation.infotext import create, parse, quote
from tests.emulator.conftest import EmulatorProcess
from tests.emulator.helpers import SMALL, decode_png, info_of


def test_layout_matches_the_spec_example() -> None:
    # §11: the example line of the spec, key order and formatting
    fixed = {
        "Steps": 20, "Sampler": "DPM++ 2M", "Schedule type": "Karras", "CFG scale": 7.0, "Seed": 1234,
        "Size": "512x512", "Model hash": "6ce0161689", "Model": "v1-5-pruned-emaonly", "Clip skip": 2,
    }  # fmt: skip
    text = create("a cat", "ugly", fixed, {"Lora hashes": "myLora: 0123456789ab"}, {"Version": "v1.10.1"})
    assert text == (
        "a cat\nNegative prompt: ugly\n"
        "Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7.0, Seed: 1234, Size: 512x512, "
        "Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Clip skip: 2, "
        'Lora hashes: "myLora: 0123456789ab", '
        "Version: v1.10.1"
    )


def test_negative_prompt_line_omitted_when_empty_and_none_values_skipped() -> None:
    # §11: "Negative prompt" line omitted if empty; keys with None are skipped
    text = create("p", "", {"Steps": 5, "Sampler": "Euler", "Model hash": None}, {}, {"Version": None})
    assert text == "p\nSteps: 5, Sampler: Euler"


def test_extra_key_that_is_also_fixed_keeps_its_position() -> None:
    # §11: a duplicate key keeps its fixed position and takes the extra value
    text = create("p", "", {"Steps": 5, "Sampler": "Euler", "Schedule type": "Automatic", "CFG scale": 7.0},
                  {"Lora hashes": "a: 1", "Schedule type": "Karras"}, {})  # fmt: skip
    assert text == 'p\nSteps: 5, Sampler: Euler, Schedule type: Karras, CFG scale: 7.0, Lora hashes: "a: 1"'


def test_quote_json_quotes_commas_colons_and_newlines() -> None:
    # §11: infotext_utils.quote
    assert quote("plain") == "plain"
    assert quote("a, b") == '"a, b"'
    assert quote("k: v") == '"k: v"'
    assert quote("line\nbreak") == '"line\\nbreak"'
    assert quote("naïve, ü") == '"naïve, ü"'  # ensure_ascii=False


def test_parse_reads_back_prompt_negative_and_params_with_defaults() -> None:
    # §11: Size-1/Size-2 split, quoted values unquoted, missing Clip skip reported as "1"
    text = (
        "a cat\nwith a hat\nNegative prompt: ugly\n"
        'Steps: 20, Sampler: Euler a, Size: 512x768, Lora hashes: "x: 1, y: 2"'
    )
    params = parse(text)
    assert params["Prompt"] == "a cat\nwith a hat"
    assert params["Negative prompt"] == "ugly"
    assert (params["Steps"], params["Sampler"], params["Size-1"], params["Size-2"]) == (
        "20",
        "Euler a",
        "512",
        "768",
    )
    assert params["Lora hashes"] == "x: 1, y: 2"
    assert params["Clip skip"] == "1"
    assert params["Schedule type"] == "Automatic" and params["RNG"] == "GPU"


def test_last_line_needs_three_pairs_to_be_parameters() -> None:
    # §11: the last line is treated as parameters only if it has >= 3 `k: v` pairs
    params = parse("hello\nnote: one, two: 2")
    assert params["Prompt"] == "hello\nnote: one, two: 2"
    assert "note" not in params


def test_png_carries_the_infotext_in_a_text_chunk(shared_emulator: EmulatorProcess) -> None:
    # §15.11, §4: tEXt `parameters` chunk, exactly the infotext
    response = shared_emulator.txt2img(
        prompt="a fox", negative_prompt="blurry", seed=3, cfg_scale=6.5, **SMALL
    )
    image = decode_png(response.json()["images"][0])
    assert (
        image.info["parameters"]
        == info_of(response)["infotexts"][0]
        == (
            "a fox\nNegative prompt: blurry\n"
            "Steps: 4, Sampler: Euler, Schedule type: Automatic, CFG scale: 6.5, "
            "Seed: 3, Size: 64x64, Model: deliberate_v6, Version: v1.10.1"
        )
    )


def test_non_latin1_infotext_goes_to_itxt(shared_emulator: EmulatorProcess) -> None:
    # §4: Pillow writes iTXt when the text is not latin-1 encodable
    response = shared_emulator.txt2img(prompt="猫 ☃", **SMALL)
    image = decode_png(response.json()["images"][0])
    assert image.info["parameters"].startswith("猫 ☃\n")


def test_png_info_parses_the_image_back(shared_emulator: EmulatorProcess) -> None:
    # §15.11, §2: /png-info -> {info, items, parameters}; data URLs accepted
    item = shared_emulator.txt2img(prompt="a fox", seed=9, **SMALL).json()["images"][0]
    for image in (item, "data:image/png;base64," + item):
        body = shared_emulator.post("/sdapi/v1/png-info", json={"image": image}).json()
        assert list(body) == ["info", "items", "parameters"]
        assert body["info"].startswith("a fox\nSteps: 4, Sampler: Euler,")
        assert body["items"] == {}
        assert body["parameters"]["Prompt"] == "a fox"
        assert body["parameters"]["Seed"] == "9"
        assert body["parameters"]["Size-1"] == "64"


def test_png_info_with_bad_base64_is_500_http_exception(shared_emulator: EmulatorProcess) -> None:
    # §9: bad base64 image -> 500 {"error":"HTTPException","detail":"Invalid encoded image",...}
    response = shared_emulator.post("/sdapi/v1/png-info", json={"image": "bm90IGFuIGltYWdl"})
    assert response.status_code == 500
    assert response.json() == {
        "error": "HTTPException",
        "detail": "Invalid encoded image",
        "body": "",
        "errors": "",
    }
