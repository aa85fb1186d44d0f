"""The content policy: blocked terms or patterns, checked on prompts before a job is enqueued.

A term is matched as a whole word, case-insensitively; a term written `re:<pattern>` is a regular
expression. A match is `content_blocked`, with the matched term in the message so the caller knows why.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from worker.errors import ConfigurationError, ContentBlocked


class ContentPolicy:
    """Refuses prompts that match any configured term."""

    def __init__(self, terms: Iterable[str]) -> None:
        self._rules: list[tuple[str, re.Pattern[str]]] = []
        for term in terms:
            term = term.strip()
            if not term:
                continue
            source = term[3:] if term.startswith("re:") else rf"\b{re.escape(term)}\b"
            try:
                self._rules.append((term, re.compile(source, re.IGNORECASE)))
            except re.error as exc:
                raise ConfigurationError(f"content policy pattern {term!r} is invalid: {exc}") from exc

    def check(self, prompt: str, negative_prompt: str = "") -> None:
        """Raises ContentBlocked when the prompt matches a rule; the negative prompt is not checked,
        since naming what must not appear is how callers keep it out."""
        for term, pattern in self._rules:
            if pattern.search(prompt):
                raise ContentBlocked(
                    f"prompt refused by the content policy: it matches the blocked term {term!r}",
                    field="prompt",
                )
