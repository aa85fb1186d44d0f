"""B10: the output-quality score's calibration on images whose quality we can state: pictures a running
A1111 stand-in returns over HTTP, each against its deliberately damaged versions (blurred, over- and
under-exposed, washed out, partly flat, noisy, tinted; mild and strong) and against the stand-in's own
half-noise output (its `noisy_image` fault). docs/quality.md quotes the figures.

    python -m bench B10 [--b10-seeds 3]

The ranking figure counts (original, mild, strong) triples ordered original > mild ≥ strong; the floor
figures say which damages the default floor (0.5) flags; the cost figures time `score_pixels` alone.
"""

from __future__ import annotations

import argparse
import base64
import io
import statistics
from typing import Any

import httpx
import numpy as np
from PIL import Image

from bench.b8_job_lists import median_ms
from bench.harness import world
from bench.report import Figure, Report
from tests.helpers.degradations import DAMAGES
from worker.output.quality import score_pixels
from worker.settings import WorkerSettings

ID = "B10"
TITLE = "quality score calibration: stand-in pictures against their damaged versions"
SHAPES = [  # (checkpoint file, width, height): the stand-in's SD1.5 and SDXL sizes
    ("deliberate_v6.safetensors", 512, 512),
    ("deliberate_v6.safetensors", 768, 512),
    ("jib_mix_illustrious_realistic_v2.safetensors", 1024, 1024),
    ("jib_mix_illustrious_realistic_v2.safetensors", 832, 1216),
]
PROMPTS = ["a lighthouse at dusk", "a red fox in snow", "portrait of an old fisherman"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--b10-seeds", type=int, default=3, help="B10: seeds per checkpoint, size and prompt")


def _pixels(answer: dict[str, Any]) -> list[np.ndarray]:
    images = []
    for item in answer["images"]:
        with Image.open(io.BytesIO(base64.b64decode(item))) as image:
            images.append(np.asarray(image.convert("RGB")))
    return images


def run(args: argparse.Namespace) -> Report:
    seeds = 1 if args.smoke else args.b10_seeds
    shapes = SHAPES[:1] if args.smoke else SHAPES
    prompts = PROMPTS[:1] if args.smoke else PROMPTS
    floor = WorkerSettings.model_fields["quality_floor"].default
    originals: list[np.ndarray] = []
    noisy: list[np.ndarray] = []
    with world({"A1111_EMU_TIME_SCALE": "0.001"}) as w:
        a1111 = w.procs.emulator(w.volume, "deliberate_v6.safetensors")
        with httpx.Client(base_url=a1111.url, timeout=600) as http:
            for checkpoint, width, height in shapes:
                for prompt in prompts:
                    for seed in range(seeds):
                        payload = {"prompt": prompt, "seed": seed, "steps": 4, "width": width,
                                   "height": height,
                                   "override_settings": {"sd_model_checkpoint": checkpoint}}  # fmt: skip
                        originals += _pixels(http.post("/sdapi/v1/txt2img", json=payload).json())
                        http.post(a1111.admin + "/faults", json={"kind": "noisy_image"}).raise_for_status()
                        noisy += _pixels(http.post("/sdapi/v1/txt2img", json=payload).json())
    base = [score_pixels(p).score for p in originals]
    ranked = 0
    scores: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in DAMAGES}
    for pixels, original in zip(originals, base, strict=True):
        for name, (mild, strong) in DAMAGES.items():
            m, s = score_pixels(mild(pixels)).score, score_pixels(strong(pixels)).score
            scores[name][0].append(m)
            scores[name][1].append(s)
            ranked += original > m >= s
    triples = len(originals) * len(DAMAGES)
    noisy_scores = [score_pixels(p).score for p in noisy]
    figures = [
        Figure("triples ranked original > mild ≥ strong", 100 * ranked / triples, "%", target="100 %",
               met=ranked == triples),
        Figure("stand-in pictures: lowest score", min(base), "", target=f"≥ floor {floor}",
               met=min(base) >= floor),
        Figure("stand-in pictures: mean score", statistics.mean(base), ""),
    ]  # fmt: skip
    for name, (mild_scores, strong_scores) in scores.items():
        below = sum(s < floor for s in strong_scores) / len(strong_scores)
        figures.append(Figure(f"{name}: mild, mean score", statistics.mean(mild_scores), ""))
        figures.append(Figure(f"{name}: strong, mean score", statistics.mean(strong_scores), "",
                              target=f"{below:.0%} below the floor"))  # fmt: skip
    below_noisy = sum(s < floor for s in noisy_scores) / len(noisy_scores)
    figures.append(Figure("stand-in's noisy_image fault: mean score", statistics.mean(noisy_scores), "",
                          target=f"{below_noisy:.0%} below the floor", met=below_noisy == 1.0))  # fmt: skip
    sizes = {(p.shape[1], p.shape[0]): p for p in originals}
    for (width, height), pixels in sorted(sizes.items()):
        cost_ms = median_ms(lambda: score_pixels(pixels), 20)  # noqa: B023  (called before the next pixels)
        figures.append(Figure(f"score_pixels, {width}×{height}", cost_ms, "ms"))
    return Report(
        ID,
        TITLE,
        figures,
        notes=[
            f"{len(originals)} pictures from a stand-in process over HTTP ({len(shapes)} checkpoint/size "
            f"pairs, {len(prompts)} prompts, {seeds} seeds), {len(DAMAGES)} damages at two strengths each "
            "(tests/helpers/degradations.py); the floor is the default SDFLEET_QUALITY_FLOOR",
        ],
    )
