"""Properties of the payload builder: what every request to A1111 carries, and the sub-batch seeds."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers.strategies import SEED_MAX, lora_weights, plain_prompts, registry_names
from worker.a1111.payload import build_txt2img
from worker.jobs.prompt_tags import extract_lora_tags
from worker.jobs.samplers import SAMPLERS, SCHEDULERS

LORAS = st.lists(
    st.builds(lambda name, weight: {"name": f"r-{name}", "a1111_name": name, "weight": weight},
              registry_names(), lora_weights()),
    max_size=4, unique_by=lambda lora: lora["a1111_name"],
)  # fmt: skip
PARAMS = st.fixed_dictionaries(
    {
        "prompt": plain_prompts(),
        "negative_prompt": plain_prompts(),
        "steps": st.integers(1, 150),
        "cfg_scale": st.floats(1, 30),
        "width": st.integers(8, 256).map(lambda k: k * 8),
        "height": st.integers(8, 256).map(lambda k: k * 8),
        "sampler": st.sampled_from(list(SAMPLERS)),
        "scheduler": st.sampled_from(list(SCHEDULERS)),
        "clip_skip": st.integers(1, 12),
        "loras": LORAS,
    }
)


@settings(max_examples=60)
@given(params=PARAMS, seed=st.integers(0, SEED_MAX), batch_size=st.integers(1, 16))
def test_every_payload_carries_the_job_and_the_fixed_fields(
    params: dict[str, Any], seed: int, batch_size: int
) -> None:
    payload = build_txt2img(params, seed=seed, batch_size=batch_size)
    for name in ("steps", "cfg_scale", "width", "height", "negative_prompt"):
        assert payload[name] == params[name], name
    assert (payload["sampler_name"], payload["scheduler"]) == (params["sampler"], params["scheduler"])
    assert payload["override_settings"] == {"CLIP_stop_at_last_layers": params["clip_skip"]}
    assert payload["override_settings_restore_afterwards"] is True
    assert (payload["seed"], payload["batch_size"], payload["n_iter"]) == (seed, batch_size, 1)
    assert (payload["save_images"], payload["send_images"]) == (False, True)
    assert (payload["subseed_strength"], payload["enable_hr"]) == (0, False)
    prompt, tags = extract_lora_tags(payload["prompt"])
    assert prompt == params["prompt"]
    assert [(t.name, t.weight) for t in tags] == [
        (lora["a1111_name"], lora["weight"]) for lora in params["loras"]
    ]


@settings(max_examples=60)
@given(seed=st.integers(0, SEED_MAX), plan=st.lists(st.integers(1, 16), min_size=1, max_size=8))
def test_sub_batches_give_every_image_the_seed_one_big_batch_would(seed: int, plan: list[int]) -> None:
    params = {"prompt": "x", "steps": 2, "cfg_scale": 7.0, "width": 64, "height": 64, "sampler": "Euler a",
              "scheduler": "Automatic"}  # fmt: skip
    seeds, done = [], 0
    for chunk in plan:  # how the runner walks a plan: the chunk starting at image `done` gets seed + done
        payload = build_txt2img(params, seed=seed + done, batch_size=chunk)
        seeds += [payload["seed"] + k for k in range(payload["batch_size"])]  # A1111: image k gets seed + k
        done += chunk
    assert seeds == list(range(seed, seed + sum(plan)))


@settings(max_examples=20)
@given(params=PARAMS)
def test_clip_skip_is_always_sent_even_when_1(params: dict[str, Any]) -> None:
    # A1111 does not restore a key missing from its config.json: sending only > 1 would leak a clip skip.
    params = {**params, "clip_skip": 1}
    assert build_txt2img(params, seed=0, batch_size=1)["override_settings"]["CLIP_stop_at_last_layers"] == 1
    del params["clip_skip"]
    assert build_txt2img(params, seed=0, batch_size=1)["override_settings"]["CLIP_stop_at_last_layers"] == 1
