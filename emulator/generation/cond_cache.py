"""A1111's conditioning caches (`processing.py:188-189`, `:440-491`): one entry per kind of conditioning
(the prompt, the negative prompt, and the hires pass's pair), shared by every request while the option
`persistent_cond_cache` is on (the default). A request whose batch of prompts, steps, size, clip skip
and checkpoint match the entry skips the text encoders; anything else encodes and replaces it."""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterable


class CondCache:
    """Thread-safe; `misses` is the only writer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, Hashable] = {}

    def misses(self, wanted: Iterable[tuple[str, Hashable]]) -> int:
        """How many of the (slot, key) conditionings must be encoded; their slots then hold the keys."""
        count = 0
        with self._lock:
            for slot, key in wanted:
                if self._entries.get(slot) != key:
                    self._entries[slot] = key
                    count += 1
        return count

    def clear(self) -> None:
        """What a request does when `persistent_cond_cache` is off (`processing.py:408-410`)."""
        with self._lock:
            self._entries.clear()
