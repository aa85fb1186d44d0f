"""A1111 1.10's samplers and schedulers, and its name resolution (sd_samplers.get_sampler_and_scheduler)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Sampler:
    name: str
    aliases: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)
    kdiffusion: bool = True  # k-diffusion samplers resolve "Automatic" to their default schedule

    @property
    def default_scheduler(self) -> str | None:
        value = self.options.get("scheduler")
        return str(value) if value else None


@dataclass(frozen=True)
class Scheduler:
    name: str
    label: str
    aliases: tuple[str, ...] | None = None
    default_rho: float = -1.0
    need_inner_model: bool = False


_KARRAS = {"scheduler": "karras"}
_EXP = {"scheduler": "exponential"}
SAMPLERS: tuple[Sampler, ...] = (
    Sampler("DPM++ 2M", ("k_dpmpp_2m",), {**_KARRAS}),
    Sampler("DPM++ SDE", ("k_dpmpp_sde",), {**_KARRAS, "second_order": True, "brownian_noise": True}),
    Sampler("DPM++ 2M SDE", ("k_dpmpp_2m_sde",), {**_EXP, "brownian_noise": True}),
    Sampler(
        "DPM++ 2M SDE Heun",
        ("k_dpmpp_2m_sde_heun",),
        {**_EXP, "brownian_noise": True, "solver_type": "heun"},
    ),
    Sampler("DPM++ 2S a", ("k_dpmpp_2s_a",), {**_KARRAS, "uses_ensd": True, "second_order": True}),
    Sampler(
        "DPM++ 3M SDE",
        ("k_dpmpp_3m_sde",),
        {**_EXP, "discard_next_to_last_sigma": True, "brownian_noise": True},
    ),
    Sampler("Euler a", ("k_euler_a", "k_euler_ancestral"), {"uses_ensd": True}),
    Sampler("Euler", ("k_euler",), {}),
    Sampler("LMS", ("k_lms",), {}),
    Sampler("Heun", ("k_heun",), {"second_order": True}),
    Sampler("DPM2", ("k_dpm_2",), {**_KARRAS, "discard_next_to_last_sigma": True, "second_order": True}),
    Sampler(
        "DPM2 a",
        ("k_dpm_2_a",),
        {**_KARRAS, "discard_next_to_last_sigma": True, "uses_ensd": True, "second_order": True},
    ),
    Sampler("DPM fast", ("k_dpm_fast",), {"uses_ensd": True}),
    Sampler("DPM adaptive", ("k_dpm_ad",), {"uses_ensd": True}),
    Sampler("Restart", ("restart",), {**_KARRAS, "second_order": True}),
    Sampler("DDIM", ("ddim",), {}, kdiffusion=False),
    Sampler("DDIM CFG++", ("ddim_cfgpp",), {}, kdiffusion=False),
    Sampler("PLMS", ("plms",), {}, kdiffusion=False),
    Sampler("UniPC", ("unipc",), {}, kdiffusion=False),
    Sampler("LCM", ("lcm",), {}, kdiffusion=False),
)
SCHEDULERS: tuple[Scheduler, ...] = (
    Scheduler("automatic", "Automatic"),
    Scheduler("uniform", "Uniform", need_inner_model=True),
    Scheduler("karras", "Karras", default_rho=7.0),
    Scheduler("exponential", "Exponential"),
    Scheduler("polyexponential", "Polyexponential", default_rho=1.0),
    Scheduler("sgm_uniform", "SGM Uniform", ("SGMUniform",), need_inner_model=True),
    Scheduler("kl_optimal", "KL Optimal"),
    Scheduler("align_your_steps", "Align Your Steps"),
    Scheduler("simple", "Simple", need_inner_model=True),
    Scheduler("normal", "Normal", need_inner_model=True),
    Scheduler("ddim", "DDIM", need_inner_model=True),
    Scheduler("beta", "Beta", need_inner_model=True),
)
SAMPLERS_BY_NAME = {s.name: s for s in SAMPLERS}  # names only: aliases such as k_euler do not resolve
SCHEDULERS_MAP = {**{s.name: s for s in SCHEDULERS}, **{s.label: s for s in SCHEDULERS}}
AUTOMATIC = SCHEDULERS[0]
# v1.9.x served the same list without DDIM CFG++ (a1111-api.md §5).
V19_SAMPLER_NAMES = frozenset(s.name for s in SAMPLERS if s.name != "DDIM CFG++")


def resolve(
    sampler_name: str | None, scheduler_name: object, *, convert_automatic: bool = True
) -> tuple[str, str]:
    """(sampler name, scheduler label) for a request, never failing: unknown names fall back silently.

    An unknown scheduler becomes Automatic; a trailing " <scheduler>" on the sampler name is split off
    (case-sensitive); an unknown sampler becomes DPM++ 2M; a scheduler equal to the sampler's default
    turns back into Automatic when `convert_automatic`.
    """
    found = SCHEDULERS_MAP.get(scheduler_name, AUTOMATIC) if isinstance(scheduler_name, str) else AUTOMATIC
    name = sampler_name or SAMPLERS[0].name
    for scheduler in SCHEDULERS:
        for option in (scheduler.label, scheduler.name, *(scheduler.aliases or ())):
            if name.endswith(" " + option):
                found = scheduler
                name = name[: -len(option) - 1]
                break
    sampler = SAMPLERS_BY_NAME.get(name, SAMPLERS[0])
    if convert_automatic and sampler.default_scheduler == found.name:
        found = AUTOMATIC
    return sampler.name, found.label


def schedule_label(sampler_name: str, scheduler_label: str) -> str:
    """The `Schedule type` an infotext shows: Automatic becomes the k-diffusion sampler's default."""
    sampler = SAMPLERS_BY_NAME.get(sampler_name, SAMPLERS[0])
    if scheduler_label == AUTOMATIC.label and sampler.kdiffusion and sampler.default_scheduler:
        return SCHEDULERS_MAP[sampler.default_scheduler].label
    return scheduler_label


def samplers_api() -> list[dict[str, Any]]:
    """`/sdapi/v1/samplers`: option values are stringified, as pydantic v1 coerces them."""
    return [
        {"name": s.name, "aliases": list(s.aliases), "options": {k: str(v) for k, v in s.options.items()}}
        for s in SAMPLERS
    ]


def schedulers_api() -> list[dict[str, Any]]:
    return [
        {
            "name": s.name,
            "label": s.label,
            "aliases": list(s.aliases) if s.aliases else None,
            "default_rho": s.default_rho,
            "need_inner_model": s.need_inner_model,
        }
        for s in SCHEDULERS
    ]
