"""Names are checked before any lookup: no paths, no traversal, nothing that breaks an A1111 tag."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.errors import InvalidRequest
from worker.registry.names import NAME_PATTERN, name_problem, validate_name


@pytest.mark.parametrize(
    "name",
    ["deliberate_v6", "Pony Realism Slider", "add-detail-xl", "v1.5", "a", "9", "x" * 128, "boring v4.0"],
)
def test_accepted(name: str) -> None:
    assert validate_name(name, field="checkpoint") == name


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "must not be empty"),
        ("x" * 129, "at most 128 characters, got 129"),
        ("../secrets", "path separator"),
        ("..", "must not contain '..'"),
        ("a..b", "must not contain '..'"),
        ("loras/x", "path separator"),
        ("loras\\x", "path separator"),
        ("/etc/passwd", "not an absolute path"),
        ("\\\\server\\share", "not an absolute path"),
        ("C:\\models\\x", "not an absolute path"),
        ("c:/x", "not an absolute path"),
        ("x\x00y", "NUL"),
        ("name:1", "characters that are not allowed (':')"),
        ("<lora:x:1>", "characters that are not allowed"),
        ("naïve", "characters that are not allowed ('ï')"),
        ("tab\tname", "characters that are not allowed"),
        ("new\nline", "characters that are not allowed"),
        (".hidden", "must start with a letter or digit"),
        ("-flag", "must start with a letter or digit"),
        (" padded", "must start with a letter or digit"),
        ("trailing ", "must not end with a space or a dot"),
        ("trailing.", "must not end with a space or a dot"),
        (42, "must be a string, not int"),
        (None, "must be a string, not NoneType"),
    ],
)
def test_refused_with_the_field_and_the_reason(name: object, problem: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        validate_name(name, field="loras[2].name")
    assert raised.value.field == "loras[2].name"
    assert raised.value.value == name
    assert raised.value.message.startswith("loras[2].name ")
    assert problem in raised.value.message


@given(st.text(max_size=200))
def test_an_accepted_name_is_a_single_safe_path_component(name: str) -> None:
    if name_problem(name) is not None:
        return
    assert NAME_PATTERN.fullmatch(name)
    assert "/" not in name and "\\" not in name and "\x00" not in name and ".." not in name
    assert not name.startswith(".") and ":" not in name and ">" not in name


@given(st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9_ -]{0,60}[A-Za-z0-9])?", fullmatch=True))
def test_names_in_the_alphabet_are_accepted(name: str) -> None:
    assert name_problem(name) is None


@given(st.lists(st.sampled_from(["..", "a", "/", "\\", ".", "x"]), min_size=1, max_size=8).map("".join))
def test_traversal_fragments_never_pass(name: str) -> None:
    if any(part in name for part in ("..", "/", "\\")):
        assert name_problem(name) is not None
