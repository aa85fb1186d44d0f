"""Pydantic v1's lenient coercion and its error shape, which A1111 (fastapi 0.94 + pydantic 1.10) exposes.

Our stack is pydantic 2, whose 422 bodies look different, so request bodies are validated here instead.
Each coercer returns the coerced value or raises V1Error carrying v1's exact `msg` and `type`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_TRUE = {1, "1", "on", "t", "true", "y", "yes"}
_FALSE = {0, "0", "off", "f", "false", "n", "no"}


class V1Error(ValueError):
    """Raised when a value cannot be coerced to a field's type (one entry of a v1 422 `detail`)."""

    def __init__(self, msg: str, type_: str, loc: tuple[str | int, ...] = ()) -> None:
        super().__init__(msg)
        self.msg = msg
        self.type = type_
        self.loc = loc

    def entry(self, prefix: tuple[str | int, ...]) -> dict[str, Any]:
        return {"loc": [*prefix, *self.loc], "msg": self.msg, "type": self.type}


def to_int(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        raise V1Error("value is not a valid integer", "type_error.integer") from None


def to_float(value: Any) -> float:
    if isinstance(value, float):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        raise V1Error("value is not a valid float", "type_error.float") from None


def to_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, bool):  # bool is an int to pydantic v1's str_validator
        return str(value)
    raise V1Error("str type expected", "type_error.str")


def to_bool(value: Any) -> bool:
    if value is True or value is False:
        return bool(value)
    probe = value.lower() if isinstance(value, str) else value
    try:
        if probe in _TRUE:
            return True
        if probe in _FALSE:
            return False
    except TypeError:  # unhashable (list, dict)
        pass
    raise V1Error("value could not be parsed to a boolean", "type_error.bool")


def to_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    try:
        return dict(value)
    except (TypeError, ValueError):
        raise V1Error("value is not a valid dict", "type_error.dict") from None


def to_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    raise V1Error("value is not a valid list", "type_error.list")


def to_str_list(value: Any) -> list[str]:
    items = to_list(value)
    result: list[str] = []
    errors: list[V1Error] = []
    for index, item in enumerate(items):
        try:
            result.append(to_str(item))
        except V1Error as exc:
            errors.append(V1Error(exc.msg, exc.type, (index,)))
    if errors:
        raise ErrorList(errors)
    return result


class ErrorList(V1Error):
    """Raised when several items of one list field fail; each keeps its own index in `loc`."""

    def __init__(self, errors: list[V1Error]) -> None:
        super().__init__(errors[0].msg, errors[0].type, errors[0].loc)
        self.errors = errors


Coercer = Callable[[Any], Any]


def validate_fields(
    body: dict[str, Any], fields: dict[str, tuple[Coercer, Any]], prefix: tuple[str | int, ...] = ("body",)
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """All `fields` of `body` coerced (defaults where absent, None allowed, unknown keys ignored),
    plus the v1 error entries of those that failed, in field order."""
    values: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    for name, (coerce, default) in fields.items():
        if name not in body:
            values[name] = default() if callable(default) else default
            continue
        raw = body[name]
        if raw is None:
            values[name] = None
            continue
        try:
            values[name] = coerce(raw)
        except ErrorList as exc:
            errors.extend(e.entry((*prefix, name)) for e in exc.errors)
        except V1Error as exc:
            errors.append(exc.entry((*prefix, name)))
    return values, errors
