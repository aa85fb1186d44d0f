"""§15.2, §3: pydantic v1's coercion rules, as pure functions (property-based)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.routes.v1_validation import V1Error, to_bool, to_float, to_int, to_str, validate_fields


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_int_accepts_ints_and_numeric_strings(n: int) -> None:
    # §3: "20" -> 20
    assert to_int(n) == to_int(str(n)) == n


@given(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False))
def test_int_truncates_floats(x: float) -> None:
    # §3: 1.7 -> 1 (int(), i.e. towards zero)
    assert to_int(x) == int(x)


@pytest.mark.parametrize("bad", ["abc", "1.5", "", [1], {"a": 1}, None])
def test_int_rejects_with_v1_message(bad: object) -> None:
    with pytest.raises(V1Error) as caught:
        to_int(bad)
    assert (caught.value.msg, caught.value.type) == ("value is not a valid integer", "type_error.integer")


def test_bool_str_and_float_rules() -> None:
    # pydantic v1 bool_validator's sets; str_validator turns numbers into strings
    assert [to_bool(v) for v in (True, 1, "1", "on", "t", "TRUE", "y", "yes")] == [True] * 8
    assert [to_bool(v) for v in (False, 0, "0", "off", "f", "False", "n", "no")] == [False] * 8
    for bad in (2, "maybe", [True]):
        with pytest.raises(V1Error):
            to_bool(bad)
    assert (to_str(12), to_str(1.5), to_float("7"), to_float(True)) == ("12", "1.5", 7.0, 1.0)
    with pytest.raises(V1Error):
        to_str(["a"])


def test_validate_fields_fills_defaults_keeps_nulls_and_ignores_unknown_keys() -> None:
    fields = {"steps": (to_int, 50), "prompt": (to_str, ""), "tags": (to_str, list)}
    values, errors = validate_fields({"steps": None, "extra": 1}, fields)
    assert values == {"steps": None, "prompt": "", "tags": []}
    assert errors == []
