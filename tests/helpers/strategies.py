"""Hypothesis strategies shared by the schema, payload and prompt-tag properties."""

from __future__ import annotations

from hypothesis import strategies as st

from worker.registry.names import NAME_PATTERN, name_problem

SEED_MAX = 2**32 - 1


def registry_names() -> st.SearchStrategy[str]:
    """Names the registry accepts (worker/registry/names.py): what an `a1111_name` can be."""
    return st.from_regex(NAME_PATTERN, fullmatch=True).filter(lambda name: name_problem(name) is None)


def lora_weights() -> st.SearchStrategy[float]:
    return st.floats(min_value=-10, max_value=10, allow_nan=False, allow_infinity=False)


def plain_prompts() -> st.SearchStrategy[str]:
    """Prompts without tags, whitespace already collapsed (as extraction leaves them)."""
    letters = st.characters(exclude_characters="<>", exclude_categories=("Cs",))
    return st.text(letters, max_size=40).map(lambda text: " ".join(text.split()))
