"""`p`, the processing object of one txt2img request: its parameters and what processing fills in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from emulator.faults import Fault, FaultKind


@dataclass
class Job:
    """Built from a validated request; `override_settings` is the request's own dict (A1111 mutates it)."""

    prompt: str
    negative_prompt: str
    styles: list[str]
    seed: int | None
    subseed: int | None
    subseed_strength: float
    seed_resize_from_w: int
    seed_resize_from_h: int
    sampler_name: str
    scheduler: str | None
    batch_size: int
    n_iter: int
    steps: int
    cfg_scale: float
    width: int
    height: int
    restore_faces: bool | None
    tiling: bool | None
    denoising_strength: float | None
    override_settings: dict[str, Any]
    restore_afterwards: bool
    disable_extra_networks: bool
    enable_hr: bool
    hr: dict[str, Any]
    faults: list[Fault] = field(default_factory=list)
    # filled in by processing
    all_prompts: list[str] = field(default_factory=list)
    all_negative_prompts: list[str] = field(default_factory=list)
    all_seeds: list[int] = field(default_factory=list)
    all_subseeds: list[int] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    clip_skip: int = 1
    img2img: bool = False

    @property
    def sample_steps(self) -> int:
        """Steps the sampler runs: img2img runs only the denoised share of them (`t_enc`)."""
        if not self.img2img or self.denoising_strength is None:
            return self.steps
        return max(1, int(min(self.denoising_strength, 0.999) * self.steps))

    def fault(self, kind: FaultKind) -> Fault | None:
        return next((f for f in self.faults if f.kind is kind), None)

    def slow_factor(self) -> float:
        factor = 1.0
        for fault in self.faults:
            if fault.kind is FaultKind.SLOW:
                factor *= fault.factor
        return factor


def job_from_request(req: dict[str, Any], sampler_name: str, scheduler: str | None) -> Job:
    hr_keys = ("hr_scale", "hr_upscaler", "hr_second_pass_steps", "hr_resize_x", "hr_resize_y")
    return Job(
        prompt=req["prompt"] if req["prompt"] is not None else "",
        negative_prompt=req["negative_prompt"] if req["negative_prompt"] is not None else "",
        styles=list(req["styles"] or []),
        seed=req["seed"],
        subseed=req["subseed"],
        subseed_strength=req["subseed_strength"] if req["subseed_strength"] is not None else 0,
        seed_resize_from_w=_int(req["seed_resize_from_w"], -1),
        seed_resize_from_h=_int(req["seed_resize_from_h"], -1),
        sampler_name=sampler_name,
        scheduler=scheduler,
        batch_size=_int(req["batch_size"], 1),
        n_iter=_int(req["n_iter"], 1),
        steps=_int(req["steps"], 50),
        cfg_scale=req["cfg_scale"] if req["cfg_scale"] is not None else 7.0,
        width=_int(req["width"], 512),
        height=_int(req["height"], 512),
        restore_faces=req["restore_faces"],
        tiling=req["tiling"],
        denoising_strength=req["denoising_strength"],
        override_settings=req["override_settings"] if req["override_settings"] is not None else {},
        restore_afterwards=req["override_settings_restore_afterwards"] is not False,
        disable_extra_networks=bool(req["disable_extra_networks"]),
        enable_hr=bool(req.get("enable_hr")),
        hr={key: req.get(key) for key in hr_keys},
        img2img="init_images" in req,
    )


def _int(value: Any, default: int) -> int:
    return default if value is None else int(value)
