"""§15.1 shapes of txt2img (§4), §6 seeds."""

from __future__ import annotations

import numpy as np

from tests.emulator.conftest import EmulatorProcess
from tests.emulator.helpers import SMALL, decode_png, info_of, png_parameters

INFO_KEYS = [
    "prompt", "all_prompts", "negative_prompt", "all_negative_prompts", "seed", "all_seeds", "subseed",
    "all_subseeds", "subseed_strength", "width", "height", "sampler_name", "cfg_scale", "steps", "batch_size",
    "restore_faces", "face_restoration_model", "sd_model_name", "sd_model_hash", "sd_vae_name", "sd_vae_hash",
    "seed_resize_from_w", "seed_resize_from_h", "denoising_strength", "extra_generation_params",
    "index_of_first_image", "infotexts", "styles", "job_timestamp", "clip_skip",
    "is_using_inpainting_conditioning", "version",
]  # fmt: skip


def test_txt2img_response_has_images_parameters_and_info_string(shared_emulator: EmulatorProcess) -> None:
    # §15.1, §4: {"images": [b64 png], "parameters": {...}, "info": "<json string>"}
    response = shared_emulator.txt2img(prompt="a red fox", **SMALL)
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["images", "parameters", "info"]
    assert len(body["images"]) == 1
    assert not body["images"][0].startswith("data:")  # no data: prefix (§4)
    image = decode_png(body["images"][0])
    assert image.format == "PNG" and image.size == (64, 64) and image.mode == "RGB"


def test_info_has_exactly_a1111_keys_in_order(shared_emulator: EmulatorProcess) -> None:
    # §15.1, §4: the keys of Processed.js(), in order; no scheduler, n_iter or comments
    info = info_of(shared_emulator.txt2img(prompt="x", **SMALL))
    assert list(info) == INFO_KEYS
    assert info["sd_model_name"] == "deliberate_v6"
    assert info["sd_model_hash"] is None  # --no-hashing (§4, §12)
    assert info["version"] == "v1.10.1"
    assert len(info["job_timestamp"]) == 14 and info["job_timestamp"].isdigit()


def test_infotexts_are_the_png_parameters_chunks(shared_emulator: EmulatorProcess) -> None:
    # §15.1, §4: infotexts[i] is identical to the PNG `parameters` text of images[i]
    response = shared_emulator.txt2img(prompt="a lighthouse", batch_size=2, n_iter=2, **SMALL)
    body, info = response.json(), info_of(response)
    assert len(body["images"]) == 4
    assert [png_parameters(item) for item in body["images"]] == info["infotexts"]


def test_seed_is_resolved_and_all_seeds_count_up_across_batch_and_n_iter(
    shared_emulator: EmulatorProcess,
) -> None:
    # §15.1, §6: seed=-1 resolves to a random seed; image k gets seed+k over batch_size*n_iter
    info = info_of(shared_emulator.txt2img(prompt="x", seed=-1, batch_size=3, n_iter=2, **SMALL))
    seed = info["seed"]
    assert 0 <= seed < 4294967294
    assert info["all_seeds"] == [seed + k for k in range(6)]
    assert info["all_subseeds"] == [info["subseed"] + k for k in range(6)]
    assert [f"Seed: {seed + k}," in text for k, text in enumerate(info["infotexts"])] == [True] * 6


def test_random_seeds_differ_between_requests(shared_emulator: EmulatorProcess) -> None:
    # §6: -1 means random.randrange(4294967294) per request
    seeds = {info_of(shared_emulator.txt2img(prompt="x", **SMALL))["seed"] for _ in range(3)}
    assert len(seeds) == 3


def test_subseed_strength_gives_every_image_the_same_seed(shared_emulator: EmulatorProcess) -> None:
    # §6: all_seeds = seed+k only if subseed_strength == 0, else every image gets `seed`
    info = info_of(
        shared_emulator.txt2img(prompt="x", seed=5, subseed=9, subseed_strength=0.5, batch_size=2, **SMALL)
    )
    assert info["all_seeds"] == [5, 5]
    assert info["all_subseeds"] == [9, 10]
    assert "Variation seed: 9, Variation seed strength: 0.5" in info["infotexts"][0]


def test_no_grid_by_default(shared_emulator: EmulatorProcess) -> None:
    # §15.1, §4: save_images=false (the default) suppresses the grid
    response = shared_emulator.txt2img(prompt="x", batch_size=2, **SMALL)
    assert len(response.json()["images"]) == 2
    assert info_of(response)["index_of_first_image"] == 0


def test_grid_first_with_save_images_and_several_images(shared_emulator: EmulatorProcess) -> None:
    # §15.1, §4: save_images=true and >1 image: images[0] is the grid, index_of_first_image = 1
    response = shared_emulator.txt2img(prompt="x", batch_size=2, n_iter=2, save_images=True, **SMALL)
    body, info = response.json(), info_of(response)
    assert len(body["images"]) == 5
    assert info["index_of_first_image"] == 1
    assert decode_png(body["images"][0]).size == (128, 128)  # round(sqrt(4)) = 2 rows
    assert len(info["infotexts"]) == 5
    single = shared_emulator.txt2img(prompt="x", save_images=True, **SMALL)
    assert len(single.json()["images"]) == 1  # one image: no grid


def test_send_images_false_returns_no_images(shared_emulator: EmulatorProcess) -> None:
    # §3: send_images=false returns images: []
    response = shared_emulator.txt2img(prompt="x", send_images=False, **SMALL)
    assert response.json()["images"] == []
    assert len(info_of(response)["infotexts"]) == 1


def test_equal_seeds_give_byte_identical_images_whatever_the_batch(shared_emulator: EmulatorProcess) -> None:
    # §6 + issue: images are a deterministic function of (checkpoint, prompt, seed, size)
    batch = shared_emulator.txt2img(prompt="a fox", seed=100, batch_size=3, **SMALL).json()["images"]
    alone = shared_emulator.txt2img(prompt="a fox", seed=102, **SMALL).json()["images"]
    assert batch[2] == alone[0]
    assert batch[0] != batch[1]


def test_images_are_not_uniform(shared_emulator: EmulatorProcess) -> None:
    # quality control rejects blank frames: a normal image has many distinct colours
    image = decode_png(shared_emulator.txt2img(prompt="x", **SMALL).json()["images"][0])
    pixels = np.asarray(image).reshape(-1, 3)
    assert len(np.unique(pixels, axis=0)) > 100


def test_img2img_runs_the_denoised_share_of_steps(shared_emulator: EmulatorProcess) -> None:
    # §2, §3: img2img needs init_images (404 "Init image not found"), denoising_strength defaults to 0.75
    init = shared_emulator.txt2img(prompt="x", **SMALL).json()["images"][0]
    missing = shared_emulator.post("/sdapi/v1/img2img", json={"prompt": "x"})
    assert (missing.status_code, missing.json()["detail"]) == (404, "Init image not found")
    bad = shared_emulator.post("/sdapi/v1/img2img", json={"init_images": ["bm90IGFuIGltYWdl"]})
    assert (bad.status_code, bad.json()["detail"]) == (500, "Invalid encoded image")
    response = shared_emulator.post("/sdapi/v1/img2img", json={"prompt": "y", "init_images": [init], **SMALL})
    assert response.status_code == 200
    parameters = response.json()["parameters"]
    assert parameters["denoising_strength"] == 0.75 and "enable_hr" not in parameters
    info = info_of(response)
    assert info["denoising_strength"] == 0.75
    assert "Denoising strength: 0.75" in info["infotexts"][0]
