"""Model names as callers and files give them: checked before they are looked up, never joined into paths.

A name is 1–128 characters from `[A-Za-z0-9._ -]`, starting with a letter or digit, without `..` and
without trailing space or dot. That excludes path separators, absolute paths, NUL and the characters
that would break an A1111 prompt tag (`<lora:NAME:w>`: `:` `<` `>`).
"""

from __future__ import annotations

import re

from worker.errors import InvalidRequest

NAME_MAX_CHARS = 128
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._ -]{0,127}")
_ALLOWED = "letters, digits, '.', '_', ' ' and '-'"


def name_problem(value: object) -> str | None:
    """Why `value` is not an acceptable model name, or None when it is."""
    if not isinstance(value, str):
        return f"must be a string, not {type(value).__name__}"
    if not value:
        return "must not be empty"
    if len(value) > NAME_MAX_CHARS:
        return f"must be at most {NAME_MAX_CHARS} characters, got {len(value)}"
    if "\x00" in value:
        return "must not contain a NUL character"
    if value.startswith(("/", "\\")) or re.match(r"[A-Za-z]:[\\/]", value):
        return "must be a name, not an absolute path"
    if "/" in value or "\\" in value:
        return "must be a name, not a path: it contains a path separator"
    if ".." in value:
        return "must not contain '..'"
    if not NAME_PATTERN.fullmatch(value):
        bad = sorted({c for c in value if not re.fullmatch(r"[A-Za-z0-9._ -]", c)})
        if bad:
            return f"has characters that are not allowed ({' '.join(map(repr, bad))}); use {_ALLOWED}"
        return "must start with a letter or digit"
    if value.endswith((" ", ".")):
        return "must not end with a space or a dot"
    return None


def validate_name(value: object, *, field: str) -> str:
    """`value` as a name. Raises InvalidRequest naming `field` when it is not an acceptable name."""
    problem = name_problem(value)
    if problem is not None:
        raise InvalidRequest(f"{field} {value!r} {problem}", field=field, value=value)
    assert isinstance(value, str)
    return value
