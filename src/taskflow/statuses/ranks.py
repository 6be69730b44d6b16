"""Rank keys: strings that order the tasks of a status, byte by byte, where a key can
always be made between any two others without changing them (fractional indexing, base 62,
as Figma and Linear order lists)."""

from __future__ import annotations

from fractional_indexing import FIError, generate_key_between, generate_n_keys_between


class NoRoomBetween(ValueError):
    """Two neighbours share one key (two tasks placed at once): there is nothing between."""


def between(before: str | None, after: str | None) -> str:
    """A key greater than `before` and smaller than `after` (None: no bound on that side)."""
    if before is not None and after is not None and before >= after:
        raise NoRoomBetween(f"{before!r} >= {after!r}")
    try:
        return str(generate_key_between(before, after))
    except FIError as error:  # a key that is not one of ours
        raise NoRoomBetween(str(error)) from error


def after_all(last: str | None, count: int) -> list[str]:
    """`count` increasing keys after `last` (None: from the start)."""
    return [str(key) for key in generate_n_keys_between(last, None, count)]
