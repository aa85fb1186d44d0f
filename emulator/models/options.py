"""`shared.opts`: option values as A1111 keeps them (config.json contents plus what was set since start)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from emulator.models.option_defaults import OPTION_DEFAULTS, RESTRICTED_API_KEYS


class Options:
    """`data` holds only keys loaded from the settings file or set since start; reads fall back to
    defaults. That difference matters: override_settings restores only keys present in `data` (§8)."""

    def __init__(self, settings_file: Path | None) -> None:
        self.settings_file = settings_file
        self._lock = threading.RLock()
        self.data: dict[str, Any] = {}
        if settings_file is not None and settings_file.is_file():
            try:
                loaded = json.loads(settings_file.read_text(encoding="utf8"))
            except (OSError, ValueError):
                loaded = {}
            self.data = loaded if isinstance(loaded, dict) else {}

    def get(self, key: str) -> Any:
        with self._lock:
            return self.data[key] if key in self.data else OPTION_DEFAULTS.get(key)

    def api_view(self, validate: Callable[[str, Any], Any] = lambda _key, value: value) -> dict[str, Any]:
        """`GET /sdapi/v1/options`: every known key; the values in `data` pass through `validate` (A1111's
        response model), the defaults of unset keys are reported as they are (pydantic v1 does not
        validate defaults)."""
        with self._lock:
            return {
                key: validate(key, self.data[key]) if key in self.data else default
                for key, default in OPTION_DEFAULTS.items()
            }

    def set(self, key: str, value: Any, *, is_api: bool = True) -> bool:
        """A1111's `opts.set`: True if the value changed. Raises KeyError for an unknown key
        (after the "unchanged" check, as A1111 does, so posting None for an unknown key is accepted)."""
        with self._lock:
            if self.data.get(key) == value:
                return False
            if key not in OPTION_DEFAULTS:
                raise KeyError(key)
            if is_api and key in RESTRICTED_API_KEYS:
                return False
            self.data[key] = value
            return True

    def restore(self, key: str, value: Any) -> None:
        with self._lock:
            self.data[key] = value

    def stored(self, keys: Iterable[str]) -> dict[str, Any]:
        """The current values of those `keys` that are in `data` (what override_settings can restore)."""
        with self._lock:
            return {key: self.data[key] for key in keys if key in self.data}

    def save(self) -> None:
        if self.settings_file is None:
            return
        with self._lock:
            text = json.dumps(self.data, indent=4, ensure_ascii=False)
        self.settings_file.parent.mkdir(parents=True, exist_ok=True)
        self.settings_file.write_text(text, encoding="utf8")
