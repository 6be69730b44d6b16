"""Rank keys: a key between any two, without touching them, however often."""

from __future__ import annotations

import pytest

from taskflow.statuses.ranks import NoRoomBetween, after_all, between


def test_between_orders_byte_by_byte() -> None:
    low, high = between(None, None), after_all(None, 2)[1]
    middle = between(low, high)
    assert low < middle < high
    assert between(None, low) < low
    assert between(high, None) > high


def test_a_thousand_moves_into_the_same_gap_still_find_room() -> None:
    """Each move lands right after `low`, before the task moved there the time before."""
    low, high = after_all(None, 2)
    keys = [low, high]
    for _ in range(1000):
        high = between(low, high)
        keys.append(high)
    assert low < high
    assert sorted(keys) == [low, *reversed(keys[2:]), keys[1]]
    assert len(set(keys)) == len(keys)
    assert max(len(key) for key in keys) <= 255  # the column's width


def test_a_thousand_appends_keep_keys_short() -> None:
    keys = after_all(None, 1000)
    assert keys == sorted(keys)
    assert max(len(key) for key in keys) <= 4


@pytest.mark.parametrize(("low", "high"), [("a1", "a1"), ("a2", "a1")])
def test_no_room_between_equal_or_reversed_keys(low: str, high: str) -> None:
    with pytest.raises(NoRoomBetween):
        between(low, high)
