"""Exponential backoff as a table."""

from __future__ import annotations

import pytest

from worker.policy.backoff import backoff_s


@pytest.mark.parametrize(
    ("tries", "base_s", "cap_s", "wait_s"),
    [(1, 10, 3600, 10), (2, 10, 3600, 20), (3, 10, 3600, 40), (9, 10, 3600, 2560), (10, 10, 3600, 3600),
     (0, 1, 30, 1), (6, 1, 30, 30)],
)  # fmt: skip
def test_backoff(tries: int, base_s: float, cap_s: float, wait_s: float) -> None:
    assert backoff_s(tries, base_s=base_s, cap_s=cap_s) == wait_s
