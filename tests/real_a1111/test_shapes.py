"""The comparison itself: what counts as the same answer from the real A1111 and from the stand-in."""

from __future__ import annotations

from tests.real_a1111.shapes import Difference, differences, infotext_params, infotext_prompt_lines, shape

INFOTEXT = (
    "a cat <lora:x:0.8>\nNegative prompt: blurry\n"
    "Steps: 3, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7.0, Seed: 1, Size: 64x64, "
    'Model: deliberate_v6, Lora hashes: "x: abc, y: def", Version: v1.10.1'
)


def test_shape_keeps_keys_and_json_types() -> None:
    answer = {"progress": 0.5, "state": {"job_count": 1, "interrupted": False}, "current_image": None,
              "all_seeds": [1, 2], "infotexts": ["a", "b"], "extra": {}}  # fmt: skip
    assert shape(answer) == {
        "all_seeds": ["int"],
        "current_image": "null",
        "extra": {},
        "infotexts": ["str"],
        "progress": "float",
        "state": {"interrupted": "bool", "job_count": "int"},
    }


def test_infotext_fields_in_order_with_quoted_values() -> None:
    assert infotext_params(INFOTEXT)[:3] == [
        ("Steps", "3"),
        ("Sampler", "DPM++ 2M"),
        ("Schedule type", "Karras"),
    ]
    assert ("Lora hashes", '"x: abc, y: def"') in infotext_params(INFOTEXT)
    assert infotext_params(INFOTEXT)[-1] == ("Version", "v1.10.1")
    assert infotext_prompt_lines(INFOTEXT) == ("a cat <lora:x:0.8>", "blurry")


def test_differences_are_strict_about_types_and_name_the_leaf() -> None:
    real = {"options": {"clip": 1.0, "previews": False}, "seeds": [777, 778], "only real": 1}
    stand_in = {"options": {"clip": 1, "previews": 0}, "seeds": [777, 778], "only stand-in": 1}
    assert list(differences(real, stand_in)) == [
        Difference("options.clip", 1.0, 1),
        Difference("options.previews", False, 0),
    ]
    assert list(differences({"a": {"b": 1}}, {"a": {}})) == [Difference("a.b", 1, "(absent)")]
    assert list(differences(real, real)) == []
