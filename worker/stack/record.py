"""The running local stack's record: where its services are, so that every `sdfleet` command on this
machine finds them without URLs.

`sdfleet up` (and `demo`) writes `<state dir>/stack.json` (mode 0600: the database URL may carry a
password) once its services are up and removes it when it stops. A command given no URL reads it;
environment variables still win. A record whose process is gone (the stack was SIGKILLed) is ignored.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

from worker.settings import ClientSettings, CoreSettings

FILE_NAME = "stack.json"
S = TypeVar("S", bound=CoreSettings)


@dataclass(frozen=True)
class StackRecord:
    pid: int  # the `sdfleet up` process
    redis_url: str
    database_url: str
    api_url: str
    flower_url: str


def record_path(state_dir: Path) -> Path:
    return state_dir / FILE_NAME


def write_record(state_dir: Path, record: StackRecord) -> Path:
    """Write the record readable by its owner only (atomically: a reader never sees half of it)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = record_path(state_dir)
    temporary = path.with_name(f".{FILE_NAME}.{os.getpid()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump(asdict(record), out, indent=2)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
    return path


def remove_record(state_dir: Path, pid: int) -> None:
    """Remove the record if it is `pid`'s (another stack may have started since)."""
    found = read_record(state_dir, check_alive=False)
    if found is not None and found.pid == pid:
        with contextlib.suppress(FileNotFoundError):
            record_path(state_dir).unlink()


def read_record(state_dir: Path, *, check_alive: bool = True) -> StackRecord | None:
    """The record of the stack running from `state_dir`, or None (none, unreadable, or its process
    is gone)."""
    try:
        record = StackRecord(**json.loads(record_path(state_dir).read_text()))
    except (OSError, ValueError, TypeError):
        return None
    if check_alive and not _alive(record.pid):
        return None
    return record


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def with_local_stack(settings: S) -> S:
    """`settings` with the URLs it lacks taken from the local stack's record, if one is running."""
    record = read_record(settings.state_dir)
    if record is None:
        return settings
    update: dict[str, str] = {}
    if settings.redis_url is None:
        update["redis_url"] = record.redis_url
    if settings.database_url is None:
        update["database_url"] = record.database_url
    if isinstance(settings, ClientSettings) and settings.api_url is None:
        update["api_url"] = record.api_url
    return settings.model_copy(update=update) if update else settings
