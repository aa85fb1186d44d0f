"""Exponential backoff: the one formula behind job retries and webhook retries."""

from __future__ import annotations


def backoff_s(tries: int, *, base_s: float, cap_s: float) -> float:
    """The wait after the `tries`-th failure (1-based): base, 2 × base, 4 × base … at most `cap_s`."""
    return float(min(cap_s, base_s * 2 ** max(0, tries - 1)))
