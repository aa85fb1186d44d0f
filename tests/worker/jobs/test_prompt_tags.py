"""`<lora:…>` tags in prompts: a table of what is parsed and refused, and properties over any text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers.strategies import lora_weights, plain_prompts, registry_names
from worker.a1111.payload import build_txt2img, lora_tags
from worker.errors import InvalidRequest
from worker.jobs.prompt_tags import TAG, TagLora, extract_lora_tags

# (case, prompt, the prompt left, the LoRAs found)
PARSED: list[tuple[str, str, str, list[TagLora]]] = [
    ("no tag", "a cat  in snow", "a cat  in snow", []),
    ("tag with weight", "a cat <lora:real_skin_slider:0.8>", "a cat", [TagLora("real_skin_slider", 0.8)]),
    ("tag without weight", "<lora:detail_tweaker_xl> a cat", "a cat", [TagLora("detail_tweaker_xl", None)]),
    ("lyco is lora", "a cat <lyco:x:1>", "a cat", [TagLora("x", 1.0)]),
    ("kind is case-insensitive", "a cat <LoRA:x:-0.5>", "a cat", [TagLora("x", -0.5)]),
    ("spaces in the name", "a cat <lora: my lora :2>", "a cat", [TagLora("my lora", 2.0)]),
    ("two tags, whitespace collapsed", "a <lora:a:1>  cat <lora:b:0.5>\n", "a cat",
     [TagLora("a", 1.0), TagLora("b", 0.5)]),
    ("a tag inside a word joins it, as in A1111", "ca<lora:a:1>t", "cat", [TagLora("a", 1.0)]),
    ("exponent weight", "x <lora:a:1e-3>", "x", [TagLora("a", 0.001)]),
    ("not a tag: no colon", "I <3 cats <b>", "I <3 cats <b>", []),
    ("not a tag: no word before the colon", "smile <:)>", "smile <:)>", []),
]  # fmt: skip

# (case, prompt, words of the refusal)
REFUSED: list[tuple[str, str, str]] = [
    ("hypernetwork", "a cat <hypernet:x:1>", "only <lora:name:weight> is supported"),
    ("empty name", "a cat <lora::1>", "must be <lora:name> or <lora:name:weight>"),
    ("no arguments", "a cat <lora:>", "must be <lora:name> or <lora:name:weight>"),
    ("te and unet weights", "a cat <lora:x:1:0.5>", "must be <lora:name> or <lora:name:weight>"),
    ("named weight", "a cat <lora:x:te=1>", "weight that is not a number"),
    ("nan weight", "a cat <lora:x:nan>", "weight that is not a number"),
    ("infinite weight", "a cat <lora:x:inf>", "weight that is not a number"),
    ("a tag assembled around another", "<lo<lora:x:1>ra:y:1>", "incomplete or nested tag"),
    ("a dangling tag would swallow the appended ones", "a cat <lora:y", "incomplete or nested tag"),
    ("a tag inside a tag", "a <lora:<lora:x:1>:1>", "must be <lora:name> or <lora:name:weight>"),
]


@pytest.mark.parametrize(("prompt", "left", "found"), [c[1:] for c in PARSED], ids=[c[0] for c in PARSED])
def test_parsed(prompt: str, left: str, found: list[TagLora]) -> None:
    assert extract_lora_tags(prompt) == (left, found)


@pytest.mark.parametrize(("prompt", "words"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_refused(prompt: str, words: str) -> None:
    with pytest.raises(InvalidRequest, match=words) as caught:
        extract_lora_tags(prompt)
    assert caught.value.field == "prompt"


@settings(max_examples=60)
@given(prompt=plain_prompts(), loras=st.lists(st.tuples(registry_names(), lora_weights()), max_size=5))
def test_tags_the_builder_writes_parse_back_to_the_same_loras(
    prompt: str, loras: list[tuple[str, float]]
) -> None:
    params = {
        "prompt": prompt, "negative_prompt": "", "sampler": "Euler a", "scheduler": "Automatic", "steps": 2,
        "cfg_scale": 7.0, "width": 64, "height": 64,
        "loras": [{"name": f"reg-{name}", "a1111_name": name, "weight": weight} for name, weight in loras],
    }  # fmt: skip
    sent = build_txt2img(params, seed=1, batch_size=1)["prompt"]
    assert sent.endswith(lora_tags(params["loras"]))
    assert extract_lora_tags(sent) == (prompt, [TagLora(name, weight) for name, weight in loras])


TAGGISH = st.from_regex(r"<(lora|lyco|LORA|hypernet|x)?:?[ \w.:<-]{0,12}>?", fullmatch=True)


@settings(max_examples=150)
@given(st.lists(st.one_of(st.text(max_size=20), TAGGISH), max_size=6).map("".join))
def test_any_text_is_parsed_or_refused_never_crashes_and_leaves_no_tag(text: str) -> None:
    try:
        left, found = extract_lora_tags(text)
    except InvalidRequest as exc:
        assert exc.field == "prompt" and exc.category.value == "invalid_request"
        return
    assert TAG.search(left) is None
    assert all(tag.name and tag.name == tag.name.strip() for tag in found)
