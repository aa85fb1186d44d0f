"""The job schema: one set of fields and ranges for the HTTP API and for `txt2img.delay`.

Ranges come from the subsystem spec (DESIGN.md "Parameter ranges"). Every violation is reported with the
field, the value and the allowed range, through `parse_job_request`, which raises `InvalidRequest`.

Field names are the seed's A1111 parameter mapping (`prompt`, `negative_prompt`, `steps`, `cfg_scale`,
`width`, `height`, `sampler_name`, `seed`, `batch_size`, `clip_skip`); older spellings stay accepted as
aliases (`ALIASES`), and a request that gives both spellings of one field is refused, naming both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from worker.errors import InvalidRequest, Problem
from worker.jobs.samplers import SAMPLERS, SCHEDULERS, resolve_sampler, scheduler_label
from worker.vocabulary import Lane

SEED_MAX = 2**32 - 1
PROMPT_MAX_CHARS = 10_000


@dataclass(frozen=True)
class Bound:
    """An inclusive numeric range, optionally restricted to multiples of a step."""

    low: float
    high: float
    multiple_of: int | None = None

    def describe(self, high: float | None = None) -> str:
        top = self.high if high is None else high
        text = f"from {self.low:g} to {top:g}"
        return f"a multiple of {self.multiple_of} {text}" if self.multiple_of else text


BOUNDS: dict[str, Bound] = {
    "steps": Bound(1, 150),
    "cfg_scale": Bound(1, 30),
    "width": Bound(64, 2048, multiple_of=8),
    "height": Bound(64, 2048, multiple_of=8),
    "clip_skip": Bound(1, 12),
    "batch_size": Bound(1, 64),  # the upper bound is the deployment's max_batch_size (context)
    "output_quality": Bound(1, 100),
}
OUTPUT_FORMATS = ("png", "jpeg", "webp")
ALIASES = {"sampler": "sampler_name"}  # accepted spelling -> the field's name
_FORMAT_ALIASES = {"jpg": "jpeg"}


class LoraSpec(BaseModel):
    """A LoRA named by a job: the registry name, and a weight (None: the catalogue's default)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128)
    weight: float | None = None


class JobRequest(BaseModel):
    """What a caller may ask for. Unknown fields are refused, so a typo is an error, not a default."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    prompt: str = Field(max_length=PROMPT_MAX_CHARS)
    negative_prompt: str = Field(default="", max_length=PROMPT_MAX_CHARS)
    checkpoint: str | None = Field(default=None, max_length=128)
    steps: int = 20
    cfg_scale: float = 7.0
    width: int | None = None  # None: the checkpoint's native size (512 for SD1.5, 1024 for SDXL)
    height: int | None = None
    sampler_name: str = Field(
        default="DPM++ 2M Karras",
        validation_alias=AliasChoices("sampler_name", "sampler"),
        description="A1111's sampler name, optionally with a schedule ('DPM++ 2M Karras'); alias: sampler",
    )
    scheduler: str | None = None
    clip_skip: int = 1
    batch_size: int = 1
    seed: int = -1
    loras: list[LoraSpec] = Field(default_factory=list, max_length=16)
    preset: str | None = Field(default=None, max_length=64)
    output_format: str = Field(default="png", description="png, jpeg (or jpg) or webp")
    output_quality: int = 90  # JPEG/WebP encoder quality; PNG is lossless and ignores it
    callback_url: str | None = Field(
        default=None,
        max_length=2000,
        description="POSTed the job, signed, when it ends (default: the API key's callback URL)",
    )
    priority: str = Field(
        default=Lane.BATCH.value,
        description="interactive (someone waits: served first) or batch (the default here; the "
        "A1111-compatible routes submit interactive)",
    )

    @field_validator("prompt", "negative_prompt")
    @classmethod
    def _no_nul(cls, value: str) -> str:
        if "\x00" in value:  # Postgres text cannot hold NUL, and no tokenizer gives it a meaning
            raise PydanticCustomError("invalid_text", "must not contain NUL characters", {})
        return value

    @field_validator("steps", "cfg_scale", "width", "height", "clip_skip", "batch_size", "output_quality")
    @classmethod
    def _in_bounds(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is None:
            return value
        name = info.field_name or ""
        bound = BOUNDS[name]
        high = bound.high
        if name == "batch_size" and info.context:
            high = info.context.get("max_batch_size", high)
        multiple_ok = bound.multiple_of is None or value % bound.multiple_of == 0
        if not (bound.low <= value <= high) or not multiple_ok:
            raise PydanticCustomError("out_of_range", "must be {allowed}", {"allowed": bound.describe(high)})
        return value

    @field_validator("seed")
    @classmethod
    def _seed(cls, value: int) -> int:
        if value != -1 and not 0 <= value <= SEED_MAX:
            raise PydanticCustomError(
                "out_of_range", "must be -1 (random) or from 0 to {high}", {"high": SEED_MAX}
            )
        return value

    @field_validator("sampler_name")
    @classmethod
    def _sampler(cls, value: str) -> str:
        if resolve_sampler(value) is None:
            raise PydanticCustomError(
                "unknown_sampler",
                "must be one of {allowed}, optionally followed by a scheduler (e.g. 'DPM++ 2M Karras')",
                {"allowed": ", ".join(SAMPLERS)},
            )
        return value

    @field_validator("scheduler")
    @classmethod
    def _scheduler(cls, value: str | None) -> str | None:
        if value is not None and scheduler_label(value) is None:
            raise PydanticCustomError(
                "unknown_scheduler", "must be one of {allowed}", {"allowed": ", ".join(SCHEDULERS)}
            )
        return value

    @field_validator("priority")
    @classmethod
    def _priority(cls, value: str) -> str:
        if value not in {lane.value for lane in Lane}:
            raise PydanticCustomError(
                "unknown_priority", "must be one of {allowed}", {"allowed": ", ".join(lane for lane in Lane)}
            )
        return value

    @field_validator("output_format")
    @classmethod
    def _output_format(cls, value: str) -> str:
        name = value.strip().lower()
        name = _FORMAT_ALIASES.get(name, name)
        if name not in OUTPUT_FORMATS:
            raise PydanticCustomError(
                "unknown_output_format", "must be one of {allowed}", {"allowed": ", ".join(OUTPUT_FORMATS)}
            )
        return name


_CUSTOM_KINDS = (
    "out_of_range",
    "unknown_sampler",
    "unknown_scheduler",
    "unknown_output_format",
    "unknown_priority",
    "invalid_text",
)
SHOWN_VALUE_MAX_CHARS = 80  # a refused 10,000-character prompt is not echoed back whole


def _field_name(loc: tuple[int | str, ...]) -> str:
    """('loras', 0, 'weight') -> 'loras[0].weight'."""
    name = ""
    for part in loc:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "body"


def describe(exc: ValidationError) -> list[Problem]:
    """Turn pydantic's errors into problems that name the field, the value and what is allowed."""
    problems = []
    for error in exc.errors(include_url=False):
        field = _field_name(error["loc"])
        value = error.get("input")
        shown = _shown(value)
        kind, text = error["type"], error["msg"]
        leaf = str(error["loc"][0]) if error["loc"] else ""
        if kind == "extra_forbidden":
            message = f"unknown field '{field}'"
        elif kind == "missing":
            message = f"{field} is required"
        elif kind in _CUSTOM_KINDS:
            message = f"{field} {text}, got {shown}"
        elif leaf in BOUNDS:
            message = f"{field} must be a number {BOUNDS[leaf].describe()}, got {shown}"
        else:
            message = f"{field}: {text[:1].lower()}{text[1:]}, got {shown}"
        problems.append(Problem(field, value, message))
    return problems


def _shown(value: Any) -> str:
    text = repr(value)
    if len(text) <= SHOWN_VALUE_MAX_CHARS:
        return text
    size = f" ({len(value)} characters)" if isinstance(value, str) else ""
    return f"{text[: SHOWN_VALUE_MAX_CHARS - 1]}…{size}"


def parse_job_request(data: Any, *, max_batch_size: int) -> JobRequest:
    """Validate `data` (a dict from JSON or from `delay(**kwargs)`); raises InvalidRequest."""
    if not isinstance(data, dict):
        raise InvalidRequest("the request body must be a JSON object", field="body", value=None)
    for alias, name in ALIASES.items():
        if alias in data and name in data:
            raise InvalidRequest(
                f"{alias} and {name} are two spellings of one field: give only {name}",
                field=alias,
                value=data[alias],
            )
    try:
        return JobRequest.model_validate(data, context={"max_batch_size": max_batch_size})
    except ValidationError as exc:
        problems = describe(exc)
        message = "; ".join(p.message for p in problems)
        raise InvalidRequest(message, field=problems[0].field, problems=problems) from None
