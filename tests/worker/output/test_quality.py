"""The output-quality score on images whose quality we can state: the stand-in's pictures rank above every
damaged version of them, the damage shows in the part that measures it, and each measure reads what it
claims to on synthetic images."""

from __future__ import annotations

import numpy as np
import pytest

from emulator.generation.images import partial, render
from tests.helpers import images as img
from tests.helpers.degradations import DAMAGES
from worker.output.quality import (
    PART_FLOOR,
    VERSION,
    WEIGHTS,
    combine,
    flat_tile_share,
    noise_sigma,
    score_pixels,
)

# (checkpoint, prompt, seed, width, height): the stand-in's SD1.5 and SDXL sizes, square and not
ORIGINALS = [
    ("deliberate_v6", "a lighthouse at dusk", 0, 512, 512),
    ("deliberate_v6", "a red fox in snow", 7, 512, 512),
    ("deliberate_v6", "a lighthouse at dusk", 3, 768, 512),
    ("jib_mix_illustrious_realistic_v2", "a red fox in snow", 1, 1024, 1024),
]
# damage -> the part that must show it (drop below 1 at the strong level)
PART_OF = {
    "blurred": "sharpness",
    "over-exposed": "exposure",
    "under-exposed": "exposure",
    "washed out": "contrast",
    "flat region": "flatness",
    "noisy": "noise",
    "colour cast": "colour",
}


@pytest.fixture(scope="module", params=ORIGINALS, ids=lambda o: f"{o[0][:8]}-{o[3]}x{o[4]}-seed{o[2]}")
def original(request: pytest.FixtureRequest) -> np.ndarray:
    checkpoint, prompt, seed, width, height = request.param
    return render(checkpoint, prompt, seed, width, height)


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_the_original_ranks_above_its_mild_damage_and_that_above_the_strong(
    original: np.ndarray, damage: str
) -> None:
    mild, strong = DAMAGES[damage]
    scores = [score_pixels(p).score for p in (original, mild(original), strong(original))]
    assert scores[0] > scores[1] >= scores[2], scores


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_the_damage_shows_in_its_own_part(original: np.ndarray, damage: str) -> None:
    part = PART_OF[damage]
    before = score_pixels(original).parts[part]
    after = score_pixels(DAMAGES[damage][1](original)).parts[part]
    assert after < before and after < 1.0, (part, before, after)


def test_an_interrupted_sampler_scores_below_the_finished_picture(original: np.ndarray) -> None:
    # The stand-in's own partial output (the picture still mixed with its starting noise)
    finished = score_pixels(original).score
    at_80 = score_pixels(partial(original, 1, 0.8)).score
    at_50 = score_pixels(partial(original, 1, 0.5)).score
    assert finished > at_80 > at_50


def test_the_score_is_deterministic_and_keeps_its_parts() -> None:
    pixels = render("deliberate_v6", "a lighthouse", 5, 512, 512)
    first, second = score_pixels(pixels), score_pixels(pixels.copy())
    assert first == second
    assert set(first.parts) == set(WEIGHTS) and first.version == VERSION
    assert 0.0 <= first.score <= 1.0 and all(0.0 <= v <= 1.0 for v in first.parts.values())
    assert first.as_json()["parts"] == first.parts


# (parts, expected score): the weighted geometric mean with each part floored
COMBINATIONS = [
    ({name: 1.0 for name in WEIGHTS}, 1.0),
    ({**{name: 1.0 for name in WEIGHTS}, "sharpness": 0.0}, PART_FLOOR**0.30),
    ({**{name: 1.0 for name in WEIGHTS}, "noise": 0.5}, 0.5**0.20),
    ({name: 0.0 for name in WEIGHTS}, PART_FLOOR),
    ({name: 0.5 for name in WEIGHTS}, 0.5),
]


@pytest.mark.parametrize(("parts", "expected"), COMBINATIONS)
def test_combine(parts: dict[str, float], expected: float) -> None:
    assert combine(parts) == pytest.approx(expected)


def test_the_weights_sum_to_one() -> None:
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)


@pytest.mark.parametrize("sigma", [4.0, 10.0, 20.0])
def test_the_noise_measure_reads_the_sigma_of_added_gaussian_noise(sigma: float) -> None:
    noise = np.random.default_rng(3).normal(0.0, sigma, (256, 256))
    grey = np.clip(128 + noise, 0, 255).astype(np.float32)
    assert noise_sigma(grey) == pytest.approx(sigma, rel=0.05)


def test_a_smooth_gradient_has_no_noise() -> None:
    luma = img.gradient(256, 256).astype(np.float32).mean(axis=2)
    assert noise_sigma(luma) < 0.5


@pytest.mark.parametrize(("flat_rows", "share"), [(0, 0.0), (128, 0.5), (256, 1.0)])
def test_flat_tiles_are_counted(flat_rows: int, share: float) -> None:
    luma = np.random.default_rng(1).normal(128, 20, (256, 256)).astype(np.float32)
    luma[:flat_rows] = 128.0
    assert flat_tile_share(luma) == pytest.approx(share)


def test_grey_has_no_colour_cast_and_a_tint_has_one() -> None:
    grey = np.repeat(img.gradient(64, 64)[..., :1], 3, axis=2)
    assert score_pixels(grey).measures["colour_cast"] == 0.0
    orange = np.clip(grey.astype(np.int16) // 2 + np.array([120, 60, 0]), 0, 255).astype(np.uint8)
    assert score_pixels(orange).parts["colour"] == 0.0


NOT_RGB = {
    "grey": np.zeros((64, 64), np.uint8),
    "rgba": np.zeros((64, 64, 4), np.uint8),
    "float": np.zeros((64, 64, 3)),
    "tiny": np.zeros((2, 9, 3), np.uint8),
}


@pytest.mark.parametrize("pixels", list(NOT_RGB.values()), ids=list(NOT_RGB))
def test_what_is_not_an_rgb_image_is_refused(pixels: np.ndarray) -> None:
    with pytest.raises(ValueError):
        score_pixels(pixels)
