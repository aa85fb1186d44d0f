"""The content policy: blocked terms or patterns, checked before a job is enqueued.

A term matches as a whole word, case-insensitively, where `_` separates words as a space does (prompts
are often written `long_hair`, and CLIP reads `nude_photo` as two words). A term written `re:<pattern>`
is a regular expression, searched case-insensitively. A match is `content_blocked`, naming the term.

What is checked is what shapes the image, as A1111 will see it (the caller, `worker.jobs.submit`, passes
both): the prompt with its `<lora:…>` tags taken out, which is the text that conditions the model (so a
tag cannot split a blocked word: `nu<lora:x:1>de` is checked as `nude`), and the names of the LoRAs the
caller asked for, in `loras` or in tags alike. Text is first put in the form CLIP's tokenizer reads:
HTML entities unescaped, Unicode NFKC (fullwidth and other compatibility letters become plain ones),
invisible format characters (zero-width spaces, soft hyphens) removed.

The negative prompt is not checked: naming what must not appear is how callers keep it out. LoRAs that
a preset adds are the operator's choice and are not checked either.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache

from worker.errors import ConfigurationError, ContentBlocked

PATTERN_PREFIX = "re:"


def normalise(text: str) -> str:
    """`text` as the content policy compares it (see the module docstring)."""
    text = unicodedata.normalize("NFKC", html.unescape(html.unescape(text)))
    return "".join(c for c in text if unicodedata.category(c) != "Cf")


class ContentPolicy:
    """Refuses prompts and LoRA names that match any configured term.

    Raises ConfigurationError at construction when a pattern does not compile or matches the empty
    string (it would refuse everything).
    """

    def __init__(self, terms: Iterable[str]) -> None:
        self._rules: list[tuple[str, re.Pattern[str]]] = []
        for term in terms:
            term = term.strip()
            if not term:
                continue
            if term.startswith(PATTERN_PREFIX):
                source = term[len(PATTERN_PREFIX) :]
            else:  # a letter or digit on either side means the term is part of a longer word
                source = rf"(?<![^\W_]){re.escape(normalise(term))}(?![^\W_])"
            try:
                pattern = re.compile(source, re.IGNORECASE)
            except re.error as exc:
                raise ConfigurationError(f"content policy pattern {term!r} is invalid: {exc}") from exc
            if pattern.search(""):
                raise ConfigurationError(
                    f"content policy pattern {term!r} matches the empty string: it would refuse every prompt"
                )
            self._rules.append((term, pattern))

    def check(self, prompt: str, *, loras: Sequence[tuple[str, str]] = ()) -> None:
        """Raises ContentBlocked when `prompt` (tags taken out) or a LoRA name matches a rule.

        `loras` are (field, name) pairs: where the caller named the LoRA ("loras[0].name", "prompt").
        """
        self._refuse_if_matched(prompt, "prompt", "the prompt")
        for field, name in loras:
            self._refuse_if_matched(name, field, f"LoRA {name!r}")

    def _refuse_if_matched(self, text: str, field: str, subject: str) -> None:
        if not self._rules:
            return
        seen = normalise(text)
        for term, pattern in self._rules:
            if pattern.search(seen):
                raise ContentBlocked(
                    f"{subject} is refused by the content policy: it matches the blocked term {term!r}",
                    field=field,
                    value=term,
                )


@lru_cache(maxsize=8)
def policy_for(terms: tuple[str, ...]) -> ContentPolicy:
    """The policy for a settings' `blocked_terms`, compiled once per process."""
    return ContentPolicy(terms)
