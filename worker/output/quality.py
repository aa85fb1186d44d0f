"""The output-quality score: cheap, deterministic statistics of an image's decoded pixels, each mapped to
a part in [0, 1] (1: nothing wrong), combined into one score in [0, 1].

Pure numpy over the pixels the output checks already decoded (`worker.output.checks`); no model, no
randomness: the same pixels always give the same score. All statistics but the colour cast are taken
on the luminance Y = 0.299 R + 0.587 G + 0.114 B (Rec. 601, as Pillow's "L"), as float32.

| part | measure | 1 at | 0 at | weight |
|---|---|---|---|---|
| sharpness | variance of the 4-neighbour Laplacian of Y | ≥ 250 | ≤ 2 (log scale between) | 0.30 |
| noise | σ of Gaussian noise in Y (Immerkær's 3×3 estimator) | ≤ 8 | ≥ 20 | 0.20 |
| contrast | standard deviation of Y | ≥ 32 | ≤ 4 | 0.15 |
| exposure | share of Y ≤ 3 or ≥ 252 (clipped); mean Y | ≤ 2 %; 48–208 | ≥ 30 %; ≤ 16 or ≥ 240 | 0.15 |
| flatness | share of tiles (1/16 of the short side) whose Y varies by σ < 1.5 | ≤ 10 % | ≥ 60 % | 0.10 |
| colour | cast K: ‖mean‖ / ‖spread‖ of the chroma (R−G, (R+G)/2−B) | 0 | ≥ 1.5 | 0.10 |

Why these weights: softness is the defect diffusion output shows most (too few steps, a VAE or upscaler
problem) and viewers notice first; residual noise is the signature of a sampler stopped early or run
with too few steps. Clipping and a crushed or blown mean are what a too-high cfg_scale burns in, and
low contrast a washed-out one; both matter but are sometimes chosen (a foggy scene, a low-key portrait).
Large flat areas are a failed or masked generation, but a clear sky is one too; a colour cast is the
weakest prior (a sunset is orange), so these two weigh least. Calibration: docs/quality.md.

Every part but colour is 1 over a range of values that are simply fine (enough detail, enough contrast)
and falls off past it; colour falls from the first sign of a cast, because a cast has no natural
threshold: a mild tint is worse than none, and the calibration set has mild tints to tell apart.

The score is a weighted geometric mean, Π partᵢ^weightᵢ: one defect drags it down whatever the others
say (a sharp, well-exposed but blurred-to-mush image is not "70 % good"). Each part is floored at 0.02
first, so a part at its worst costs a fixed factor (0.02^weight) instead of zeroing the score, and
images that fail in several ways still rank below those that fail in one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

VERSION = 1  # stored with every score: a changed formula is a new version, never a silent change
PART_FLOOR = 0.02
WEIGHTS: dict[str, float] = {
    "sharpness": 0.30,
    "noise": 0.20,
    "contrast": 0.15,
    "exposure": 0.15,
    "flatness": 0.10,
    "colour": 0.10,
}
# (value that scores 1, value that scores 0) of each measure; parts are linear between (sharpness: in log10)
SHARPNESS_LAPLACIAN_VAR = (250.0, 2.0)
NOISE_SIGMA = (8.0, 20.0)
CONTRAST_STDDEV = (32.0, 4.0)
CLIPPED_SHARE = (0.02, 0.30)
DARK_MEAN, BRIGHT_MEAN = (48.0, 16.0), (208.0, 240.0)
FLAT_TILE_SHARE = (0.10, 0.60)
COLOUR_CAST = (0.0, 1.5)
CLIP_LOW, CLIP_HIGH = 3.0, 252.0  # luminance at or beyond these is clipped (black or white)
FLAT_TILE_STDDEV = 1.5  # a tile whose luminance varies less than this is flat
TILES_PER_SHORT_SIDE = 16
MIN_TILE_PX = 8
# Colour statistics are read on every second pixel of every second row: means and spreads of smooth
# chroma barely move (< 0.1 % on the calibration set) and it saves three quarters of the work.
COLOUR_STRIDE = 2
# Immerkær (1996): for Gaussian noise of σ, the mean absolute response to this mask is σ·6·sqrt(2/π).
_IMMERKAER = math.sqrt(math.pi / 2) / 6
_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_SHARPNESS_LOG10 = (math.log10(SHARPNESS_LAPLACIAN_VAR[0]), math.log10(SHARPNESS_LAPLACIAN_VAR[1]))


@dataclass(frozen=True)
class QualityScore:
    """An image's score, its parts (each in [0, 1]) and the raw measures they were mapped from."""

    score: float
    parts: dict[str, float] = field(default_factory=dict)
    measures: dict[str, float] = field(default_factory=dict)
    version: int = VERSION

    def as_json(self) -> dict[str, object]:
        """What is stored with the image (`images.quality`) and shown in the job view."""
        return {"score": self.score, "version": self.version, "parts": self.parts, "measures": self.measures}


def score_pixels(pixels: np.ndarray) -> QualityScore:
    """Score an H × W × 3 uint8 RGB image. Raises ValueError for another shape or one under 3 × 3 px."""
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise ValueError(f"expected H x W x 3 uint8 pixels, got {pixels.shape} {pixels.dtype}")
    if pixels.shape[0] < 3 or pixels.shape[1] < 3:
        raise ValueError(f"an image of {pixels.shape[1]}x{pixels.shape[0]} px is too small to score")
    luma = pixels @ _LUMA_WEIGHTS  # float32, H x W
    measures = {
        "laplacian_var": laplacian_variance(luma),
        "noise_sigma": noise_sigma(luma),
        "luma_stddev": float(luma.std()),
        "luma_mean": float(luma.mean()),
        "clipped_share": float(np.count_nonzero((luma <= CLIP_LOW) | (luma >= CLIP_HIGH)) / luma.size),
        "flat_tile_share": flat_tile_share(luma),
        "colour_cast": colour_cast(pixels[::COLOUR_STRIDE, ::COLOUR_STRIDE].astype(np.float32)),
    }
    parts = {
        "sharpness": _linear(math.log10(max(measures["laplacian_var"], 1e-6)), *_SHARPNESS_LOG10),
        "noise": _linear(measures["noise_sigma"], *NOISE_SIGMA),
        "contrast": _linear(measures["luma_stddev"], *CONTRAST_STDDEV),
        "exposure": min(
            _linear(measures["clipped_share"], *CLIPPED_SHARE),
            _linear(measures["luma_mean"], *DARK_MEAN),
            _linear(measures["luma_mean"], *BRIGHT_MEAN),
        ),
        "flatness": _linear(measures["flat_tile_share"], *FLAT_TILE_SHARE),
        "colour": _linear(measures["colour_cast"], *COLOUR_CAST),
    }
    return QualityScore(
        score=round(combine(parts), 4),
        parts={name: round(value, 4) for name, value in parts.items()},
        measures={name: round(value, 4) for name, value in measures.items()},
    )


def combine(parts: dict[str, float]) -> float:
    """The weighted geometric mean of the parts, each floored at PART_FLOOR; in [PART_FLOOR, 1]."""
    return float(math.prod(max(PART_FLOOR, min(1.0, parts[name])) ** w for name, w in WEIGHTS.items()))


def laplacian_variance(luma: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian over the interior: high for fine detail (and for noise)."""
    centre = luma[1:-1, 1:-1]
    laplacian = luma[:-2, 1:-1] + luma[2:, 1:-1] + luma[1:-1, :-2] + luma[1:-1, 2:] - 4 * centre
    return float(laplacian.var())


def noise_sigma(luma: np.ndarray) -> float:
    """Immerkær's estimate of the σ of additive Gaussian noise: the mean absolute response to the mask
    [[1,-2,1],[-2,4,-2],[1,-2,1]], which cancels smooth shading and (mostly) edges, scaled."""
    corners = luma[:-2, :-2] + luma[:-2, 2:] + luma[2:, :-2] + luma[2:, 2:]
    sides = luma[:-2, 1:-1] + luma[2:, 1:-1] + luma[1:-1, :-2] + luma[1:-1, 2:]
    response = corners - 2 * sides + 4 * luma[1:-1, 1:-1]
    return float(np.abs(response).mean() * _IMMERKAER)


def flat_tile_share(luma: np.ndarray) -> float:
    """The share of square tiles (1/16 of the short side, at least 8 px) whose luminance barely varies;
    the ragged right and bottom edges that make no whole tile are left out."""
    height, width = luma.shape
    tile = max(MIN_TILE_PX, min(height, width) // TILES_PER_SHORT_SIDE)
    rows, cols = height // tile, width // tile
    if rows == 0 or cols == 0:
        return 0.0
    tiles = luma[: rows * tile, : cols * tile].reshape(rows, tile, cols, tile)
    return float(np.count_nonzero(tiles.std(axis=(1, 3)) < FLAT_TILE_STDDEV) / (rows * cols))


def colour_cast(rgb: np.ndarray) -> float:
    """How far the mean colour sits from grey, relative to how much the colours spread (≤ 1: balanced)."""
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    red_green = red - green
    yellow_blue = (red + green) / 2 - blue
    offset = math.hypot(float(red_green.mean()), float(yellow_blue.mean()))
    spread = math.hypot(float(red_green.std()), float(yellow_blue.std()))
    return offset / max(spread, 1.0)


def _linear(value: float, good: float, bad: float) -> float:
    """1 at `good`, 0 at `bad`, linear between, clamped (works for either direction)."""
    if good == bad:
        return 1.0 if value == good else 0.0
    return min(1.0, max(0.0, (value - bad) / (good - bad)))
