"""The labels a task write reads in its own statement come back whole, whatever their names."""

from __future__ import annotations

from taskflow.labels.service import by_name, decode_labels


def _code(*labels: tuple[int, str, str]) -> str:
    return ",".join(f"{i}:{len(name)}:{color}{name}" for i, name, color in labels)


def test_no_labels_decode_to_none() -> None:
    assert decode_labels(None) == []
    assert decode_labels("") == []


def test_names_with_separators_and_any_characters_decode_by_name() -> None:
    labels = [
        (12, "b,1:2", "#000000"),
        (3, "A", "#FFFFFF"),
        (7, ":,:", "#123abc"),
        (9, "Ü é", "#000001"),
    ]

    decoded = decode_labels(_code(*labels))

    assert decoded == [
        {"id": 7, "name": ":,:", "color": "#123abc"},
        {"id": 3, "name": "A", "color": "#FFFFFF"},
        {"id": 12, "name": "b,1:2", "color": "#000000"},
        {"id": 9, "name": "Ü é", "color": "#000001"},
    ]


def test_names_sort_case_insensitively_then_by_id() -> None:
    labels = [
        {"id": 2, "name": "b", "color": "#000000"},
        {"id": 1, "name": "B", "color": "#000000"},
        {"id": 3, "name": "a", "color": "#000000"},
    ]

    assert [label["id"] for label in by_name(labels)] == [3, 1, 2]
