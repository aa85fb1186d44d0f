"""A1111 1.10's sampler and scheduler names, and the split of legacy combined names.

We resolve names ourselves and send A1111 the bare sampler plus the scheduler label, because A1111 1.10
silently turns an unknown sampler into "DPM++ 2M" and 1.9 answers 404 to a combined name
(a1111-api.md §5): a caller's typo must be a 422 here, not a different image there.
"""

from __future__ import annotations

from dataclasses import dataclass

# name -> default scheduler label (None: the sampler has no default schedule: "Automatic")
SAMPLERS: dict[str, str | None] = {
    "DPM++ 2M": "Karras",
    "DPM++ SDE": "Karras",
    "DPM++ 2M SDE": "Exponential",
    "DPM++ 2M SDE Heun": "Exponential",
    "DPM++ 2S a": "Karras",
    "DPM++ 3M SDE": "Exponential",
    "Euler a": None,
    "Euler": None,
    "LMS": None,
    "Heun": None,
    "DPM2": "Karras",
    "DPM2 a": "Karras",
    "DPM fast": None,
    "DPM adaptive": None,
    "Restart": "Karras",
    "DDIM": None,
    "DDIM CFG++": None,
    "PLMS": None,
    "UniPC": None,
    "LCM": None,
}

# label -> accepted spellings (name, label, aliases), as sd_schedulers.py lists them
SCHEDULERS: dict[str, tuple[str, ...]] = {
    "Automatic": ("automatic", "Automatic"),
    "Uniform": ("uniform", "Uniform"),
    "Karras": ("karras", "Karras"),
    "Exponential": ("exponential", "Exponential"),
    "Polyexponential": ("polyexponential", "Polyexponential"),
    "SGM Uniform": ("sgm_uniform", "SGM Uniform", "SGMUniform"),
    "KL Optimal": ("kl_optimal", "KL Optimal"),
    "Align Your Steps": ("align_your_steps", "Align Your Steps"),
    "Simple": ("simple", "Simple"),
    "Normal": ("normal", "Normal"),
    "DDIM": ("ddim", "DDIM"),
    "Beta": ("beta", "Beta"),
}
_SCHEDULER_BY_SPELLING = {s.lower(): label for label, spellings in SCHEDULERS.items() for s in spellings}


@dataclass(frozen=True)
class SamplerChoice:
    """A sampler and the schedule it runs with, both in A1111's canonical spelling."""

    sampler: str
    scheduler: str  # a label of SCHEDULERS; "Automatic" means the sampler's default


def scheduler_label(name: str) -> str | None:
    """The canonical label of a scheduler spelling (case-insensitive), or None if unknown."""
    return _SCHEDULER_BY_SPELLING.get(name.strip().lower())


def resolve_sampler(sampler: str, scheduler: str | None = None) -> SamplerChoice | None:
    """Split a legacy name ("DPM++ 2M Karras") and check both parts; None if either is unknown.

    A scheduler suffix in the sampler name wins over `scheduler`, as in A1111 1.10. Matching is
    case-insensitive here (A1111 is not) because a caller's "euler a" means "Euler a".
    """
    by_lower = {name.lower(): name for name in SAMPLERS}
    text = " ".join(sampler.split())
    chosen = scheduler_label(scheduler) if scheduler else "Automatic"
    if chosen is None:
        return None
    canonical = by_lower.get(text.lower())
    if canonical is None:
        for spelling, label in sorted(_SCHEDULER_BY_SPELLING.items(), key=lambda kv: -len(kv[0])):
            if text.lower().endswith(" " + spelling):
                canonical = by_lower.get(text[: -len(spelling) - 1].lower())
                chosen = label
                break
    if canonical is None:
        return None
    if chosen == SAMPLERS[canonical]:
        chosen = "Automatic"
    return SamplerChoice(canonical, chosen)


def effective_schedule(choice: SamplerChoice) -> str:
    """The schedule A1111 will actually run, which is what its infotext prints as "Schedule type"."""
    if choice.scheduler != "Automatic":
        return choice.scheduler
    return SAMPLERS[choice.sampler] or "Automatic"
