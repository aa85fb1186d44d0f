"""Sampler names: legacy combined names split as A1111 1.10's `get_sampler_and_scheduler` does (§5).

The oracle is the emulator's copy of that function (`emulator.samplers.resolve`) and of the infotext's
"Schedule type" (`schedule_label`): what a job's params say must be what A1111 prints.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.generation import samplers as a1111
from worker.jobs.samplers import SAMPLERS, SCHEDULERS, SamplerChoice, effective_schedule, resolve_sampler

SPELLINGS = [(label, spelling) for label, spellings in SCHEDULERS.items() for spelling in spellings]
EVERY_LEGACY_NAME = [(sampler, label, spelling) for sampler in SAMPLERS for label, spelling in SPELLINGS]


def _expected(sampler: str, label: str) -> SamplerChoice:
    return SamplerChoice(sampler, "Automatic" if label == SAMPLERS[sampler] else label)


def test_every_sampler_with_every_schedule_spelling_splits_into_the_bare_sampler_and_the_schedule() -> None:
    for sampler, label, spelling in EVERY_LEGACY_NAME:
        assert resolve_sampler(f"{sampler} {spelling}") == _expected(sampler, label), (sampler, spelling)


def test_the_split_is_a1111s_except_where_a1111_splits_sgm_uniform_wrongly() -> None:
    # A1111 tries " Uniform" before " SGM Uniform", so "Euler SGM Uniform" becomes sampler "Euler SGM",
    # unknown, hence DPM++ 2M + Uniform. We split it as meant; A1111 never sees the combined name.
    for sampler, _, spelling in EVERY_LEGACY_NAME:
        choice = resolve_sampler(f"{sampler} {spelling}")
        assert choice is not None
        theirs = a1111.resolve(f"{sampler} {spelling}", None)
        if spelling == "SGM Uniform":
            assert theirs == ("DPM++ 2M", "Uniform")
        else:
            assert (choice.sampler, choice.scheduler) == theirs, (sampler, spelling)


@settings(max_examples=100)
@given(
    name=st.sampled_from(EVERY_LEGACY_NAME),
    flips=st.lists(st.booleans(), min_size=40, max_size=40),
    gap=st.sampled_from([" ", "  ", "\t"]),
)
def test_legacy_names_are_case_and_space_insensitive(
    name: tuple[str, str, str], flips: list[bool], gap: str
) -> None:
    sampler, label, spelling = name
    text = f"{sampler} {spelling}".replace(" ", gap)
    mangled = "".join(c.swapcase() if flip else c for c, flip in zip(text, flips * 2, strict=False))
    assert resolve_sampler(f" {mangled} ") == _expected(sampler, label)


def test_what_params_store_is_the_schedule_a1111_prints() -> None:
    for sampler in SAMPLERS:
        for label in [None, *SCHEDULERS]:
            choice = resolve_sampler(sampler, label)
            assert choice is not None
            sent = (choice.sampler, effective_schedule(choice))  # what build_txt2img sends
            resolved = a1111.resolve(*sent)
            assert resolved[0] == choice.sampler
            assert a1111.schedule_label(*resolved) == effective_schedule(choice), (sampler, label)


@pytest.mark.parametrize(
    ("name", "sampler", "schedule"),
    [("DPM++ 2M Karras", "DPM++ 2M", "Karras"), ("Euler a", "Euler a", "Automatic"),
     ("DDIM", "DDIM", "Automatic"), ("LMS", "LMS", "Automatic"), ("Heun", "Heun", "Automatic"),
     ("DPM++ SDE Karras", "DPM++ SDE", "Karras"), ("UniPC", "UniPC", "Automatic"),
     ("DPM++ 2M SDE Karras", "DPM++ 2M SDE", "Karras"), ("DPM++ 2M SDE", "DPM++ 2M SDE", "Exponential")],
)  # fmt: skip
def test_the_spec_samplers(name: str, sampler: str, schedule: str) -> None:
    choice = resolve_sampler(name)
    assert choice is not None and (choice.sampler, effective_schedule(choice)) == (sampler, schedule)


@pytest.mark.parametrize(
    "name", ["DPM++ 9M", "Euler Karras Exponential", "k_euler", "Karras", "", "Euler a Wobbly"]
)
def test_unknown_names_are_refused_not_replaced(name: str) -> None:
    assert resolve_sampler(name) is None  # A1111 would silently run DPM++ 2M
