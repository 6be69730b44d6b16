"""The names generated clients take from the document: operation ids and enum members."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

from taskflow.cli import openapi_settings
from taskflow.main import create_app

SNAKE_CASE = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")
MEMBER_NAME = re.compile(r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)*")
# Longer than this, an id has taken in the path or method (list_tasks_api_v1_tasks_get).
MAX_ID_WORDS = 4


def document() -> dict[str, Any]:
    return create_app(openapi_settings()).openapi()


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


def string_enums(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if isinstance(node.get("enum"), list) and all(isinstance(v, str) for v in node["enum"]):
            yield node
        for child in node.values():
            yield from string_enums(child)
    elif isinstance(node, list):
        for child in node:
            yield from string_enums(child)


def test_operation_ids_are_unique_short_snake_case_names() -> None:
    ids = {name: operation["operationId"] for name, operation in operations(document())}

    repeated = [i for i, count in Counter(ids.values()).items() if count > 1]
    assert not repeated, repeated
    for name, operation_id in ids.items():
        assert SNAKE_CASE.fullmatch(operation_id), name
        assert "api_v1" not in operation_id, name
        assert len(operation_id.split("_")) <= MAX_ID_WORDS, (name, operation_id)


def test_operation_ids_name_what_the_operation_does() -> None:
    ids = {name: operation["operationId"] for name, operation in operations(document())}

    assert ids["GET /api/v1/tasks"] == "list_tasks"
    assert ids["POST /api/v1/tasks"] == "create_task"
    assert ids["GET /api/v1/users/me"] == "read_me"
    assert ids["POST /api/v1/tasks/bulk-update"] == "bulk_update_tasks"
    assert ids["POST /api/v1/auth/password-reset/confirm"] == "confirm_password_reset"
    assert ids["GET /health/live"] == "check_liveness"


def test_sort_enum_members_are_named_by_column_and_direction() -> None:
    parameters = document()["paths"]["/api/v1/tasks"]["get"]["parameters"]
    [sort] = [parameter["schema"] for parameter in parameters if parameter["name"] == "sort"]

    names = dict(zip(sort["enum"], sort["x-enum-varnames"], strict=True))
    assert names["-priority"] == "PRIORITY_DESC"
    assert names["priority"] == "PRIORITY_ASC"
    assert names["-created_at"] == "CREATED_AT_DESC"


def test_every_enum_with_a_value_that_is_no_name_names_its_members() -> None:
    named = 0
    for schema in string_enums(document()):
        values = schema["enum"]
        if all(value[:1].isalpha() for value in values):
            continue
        names = schema["x-enum-varnames"]
        assert len(names) == len(values), schema
        assert len(set(names)) == len(names), schema
        assert all(MEMBER_NAME.fullmatch(name) for name in names), schema
        named += 1
    assert named >= 2  # the sorts of projects and tasks at least
