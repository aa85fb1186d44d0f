"""Properties of the job schema: every value inside a declared bound is accepted and reaches A1111's
request unchanged; every value outside is an InvalidRequest naming the field and the allowed range."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers.strategies import SEED_MAX
from worker.a1111.payload import build_txt2img
from worker.errors import InvalidRequest
from worker.jobs.request import BOUNDS, OUTPUT_FORMATS, Bound, parse_job_request
from worker.jobs.submit import prepare
from worker.registry.resolver import RegistryResolver
from worker.settings import CoreSettings

MAX_BATCH = 16
INTEGER_FIELDS = [name for name in BOUNDS if name != "cfg_scale"]


def _high(name: str) -> float:
    return MAX_BATCH if name == "batch_size" else BOUNDS[name].high


def inside(name: str) -> st.SearchStrategy[Any]:
    bound = BOUNDS[name]
    if name == "cfg_scale":
        return st.floats(min_value=bound.low, max_value=bound.high)
    step = bound.multiple_of or 1
    return st.integers(math.ceil(bound.low / step), int(_high(name)) // step).map(lambda k: k * step)


def outside(name: str) -> st.SearchStrategy[Any]:
    bound, high = BOUNDS[name], _high(name)
    if name == "cfg_scale":
        return st.one_of(
            st.floats(max_value=bound.low, exclude_max=True),
            st.floats(min_value=high, exclude_min=True),
            st.just(math.nan),
        )
    ranges = st.one_of(st.integers(max_value=int(bound.low) - 1), st.integers(min_value=int(high) + 1))
    if not bound.multiple_of:
        return ranges
    step = bound.multiple_of
    return st.one_of(ranges, st.integers(int(bound.low), int(high)).filter(lambda v: v % step != 0))


def _parse(fields: dict[str, Any]) -> Any:
    return parse_job_request({"prompt": "x", **fields}, max_batch_size=MAX_BATCH)


@settings(max_examples=40)
@given(st.data())
def test_every_value_inside_a_bound_is_accepted(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(BOUNDS)), label="field")
    value = data.draw(inside(name), label="value")
    assert getattr(_parse({name: value}), name) == value


@settings(max_examples=80)
@given(st.data())
def test_every_value_outside_a_bound_names_the_field_and_the_range(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(BOUNDS)), label="field")
    value = data.draw(outside(name), label="value")
    try:
        _parse({name: value})
    except InvalidRequest as exc:
        assert exc.field == name and exc.category.value == "invalid_request"
        allowed = Bound(BOUNDS[name].low, _high(name), BOUNDS[name].multiple_of).describe()
        assert str(exc).startswith(f"{name} must be {allowed}, got "), str(exc)
        assert exc.problems[0].value == value or math.isnan(value)
    else:
        raise AssertionError(f"{name}={value!r} was accepted")


@settings(max_examples=30)
@given(st.one_of(st.integers(max_value=-2), st.integers(min_value=SEED_MAX + 1)))
def test_every_seed_outside_the_range_is_refused(seed: int) -> None:
    try:
        _parse({"seed": seed})
    except InvalidRequest as exc:
        assert exc.field == "seed" and "must be -1 (random) or from 0 to 4294967295" in str(exc)
    else:
        raise AssertionError(f"seed={seed} was accepted")


@settings(max_examples=30)
@given(st.sampled_from(OUTPUT_FORMATS + ("jpg",)), st.sampled_from([str.upper, str.lower, str.title]))
def test_output_formats_are_case_insensitive(name: str, case: Any) -> None:
    assert _parse({"output_format": case(name)}).output_format == ("jpeg" if name == "jpg" else name)


@settings(max_examples=30)
@given(st.text(max_size=8).filter(lambda t: t.strip().lower() not in (*OUTPUT_FORMATS, "jpg")))
def test_unknown_output_formats_are_refused(name: str) -> None:
    try:
        _parse({"output_format": name})
    except InvalidRequest as exc:
        assert exc.field == "output_format" and "must be one of png, jpeg, webp" in str(exc)
    else:
        raise AssertionError(f"output_format={name!r} was accepted")


@settings(max_examples=25, deadline=None)  # reads the registry on the volume
@given(
    steps=inside("steps"),
    cfg_scale=inside("cfg_scale"),
    width=inside("width"),
    height=inside("height"),
    clip_skip=inside("clip_skip"),
    batch_size=inside("batch_size"),
    seed=st.one_of(st.just(-1), st.integers(0, SEED_MAX)),
)
def test_accepted_values_reach_a1111s_request_unchanged(models_volume: Path, **fields: Any) -> None:
    data = {"prompt": "x", "checkpoint": "deliberate_v6", **fields}
    job = prepare(data, RegistryResolver.for_volume(models_volume), CoreSettings(max_batch_size=MAX_BATCH))
    payload = build_txt2img(job.params, seed=job.seed, batch_size=job.batch_size)
    for name in ("steps", "cfg_scale", "width", "height", "batch_size"):
        assert payload[name] == fields[name], name
    assert payload["override_settings"]["CLIP_stop_at_last_layers"] == fields["clip_skip"]
    assert payload["seed"] == job.seed
    assert job.seed == fields["seed"] if fields["seed"] != -1 else 0 <= job.seed <= SEED_MAX
    assert job.params["requested_seed"] == fields["seed"]
