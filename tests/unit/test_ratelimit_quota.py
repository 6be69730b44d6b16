"""Quota.retry_after: whole seconds until the oldest counted request leaves the window."""

from __future__ import annotations

import time

import pytest
import time_machine

from taskflow.core.ratelimit import Quota


@pytest.mark.parametrize(
    ("reset_in", "expected"),
    [(30.0, 30), (2.2, 3), (0.4, 1), (0.0, 1), (-5.0, 1)],
)
def test_retry_after_rounds_up_the_seconds_left_and_is_at_least_one(
    reset_in: float, expected: int
) -> None:
    with time_machine.travel(1_900_000_000.0, tick=False):
        quota = Quota(limit=5, remaining=0, reset_at=time.time() + reset_in, allowed=False)
        assert quota.retry_after() == expected
