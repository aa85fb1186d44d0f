"""The content policy as a table: which prompts and LoRA names a list of terms refuses."""

from __future__ import annotations

import pytest

from worker.errors import ConfigurationError, ContentBlocked
from worker.policy.content import ContentPolicy, normalise, policy_for

TERMS = ["gore", "Blood Bath", "re:\\bnsfw\\w*", "c++"]

# (case, prompt, the term it is refused for, or None when it passes)
PROMPTS: list[tuple[str, str, str | None]] = [
    ("clean prompt", "a lighthouse at dawn", None),
    ("whole word", "a scene of gore", "gore"),
    ("case-insensitive", "GORE everywhere", "gore"),
    ("part of a longer word", "gorey details, a gorecki symphony, ingore", None),
    ("punctuation is a boundary", "(gore:1.3), gore.", "gore"),
    ("underscore is a boundary", "gore_splatter, 1girl", "gore"),
    ("digit is not a boundary", "gore2", None),
    ("multi-word term", "a blood bath in oils", "Blood Bath"),
    ("multi-word term, other spacing", "a bloodbath", None),
    ("term with symbols", "written in c++ code", "c++"),
    ("re: pattern", "nsfw_content", "re:\\bnsfw\\w*"),
    ("re: pattern, case-insensitive", "NSFWish", "re:\\bnsfw\\w*"),
    ("re: pattern not matching", "unsfw", None),
    ("fullwidth letters (NFKC)", "ｇｏｒｅ", "gore"),
    ("zero-width space inside", "go\u200bre", "gore"),
    ("soft hyphen inside", "go\u00adre", "gore"),
    ("HTML entity", "go&#114;e", "gore"),
    ("double-escaped HTML entity", "go&amp;#114;e", "gore"),
    ("accented letter is another word", "goré", None),
]


@pytest.mark.parametrize(("prompt", "term"), [c[1:] for c in PROMPTS], ids=[c[0] for c in PROMPTS])
def test_prompts(prompt: str, term: str | None) -> None:
    policy = ContentPolicy(TERMS)
    if term is None:
        policy.check(prompt)
        return
    with pytest.raises(ContentBlocked) as caught:
        policy.check(prompt)
    assert caught.value.category.value == "content_blocked"
    assert caught.value.field == "prompt"
    assert (
        str(caught.value)
        == f"the prompt is refused by the content policy: it matches the blocked term {term!r}"
    )


@pytest.mark.parametrize(
    ("loras", "field"),
    [([("loras[0].name", "gore_slider")], "loras[0].name"),
     ([("loras[0].name", "detail_tweaker"), ("prompt", "NSFW-enhancer")], "prompt")],
)  # fmt: skip
def test_lora_names_are_checked_like_the_prompt(loras: list[tuple[str, str]], field: str) -> None:
    with pytest.raises(ContentBlocked) as caught:
        ContentPolicy(TERMS).check("a portrait", loras=loras)
    assert caught.value.field == field and "LoRA" in str(caught.value)
    ContentPolicy(TERMS).check("a portrait", loras=[("loras[0].name", "detail_tweaker_xl")])


def test_the_negative_prompt_is_not_the_policys_business() -> None:
    # check() takes no negative prompt: "gore" in a negative prompt keeps gore out of the image.
    ContentPolicy(TERMS).check("a peaceful meadow")


@pytest.mark.parametrize(
    ("terms", "words"),
    [(["re:(unclosed"], "invalid"), (["re:[a-"], "invalid"), (["re:"], "matches the empty string"),
     (["re:x*"], "matches the empty string"), (["fine", "re:(?P<"], "invalid")],
)  # fmt: skip
def test_a_bad_pattern_is_a_configuration_error_at_construction(terms: list[str], words: str) -> None:
    with pytest.raises(ConfigurationError, match=words):
        ContentPolicy(terms)


def test_blank_terms_are_ignored_and_no_terms_allow_everything() -> None:
    ContentPolicy(["", "   "]).check("anything at all")
    ContentPolicy([]).check("gore")


def test_terms_are_normalised_like_prompts() -> None:
    with pytest.raises(ContentBlocked):
        ContentPolicy(["ｇｏｒｅ"]).check("gore")


def test_normalise() -> None:
    assert normalise("Ｈｅｌｌｏ\u200b &amp;amp; ﬁne") == "Hello & fine"


def test_policy_for_compiles_once_per_list() -> None:
    assert policy_for(("gore",)) is policy_for(("gore",))
