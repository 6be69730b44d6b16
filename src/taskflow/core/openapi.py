"""The OpenAPI document, completed with what every operation can answer.

FastAPI documents what a route declares. Some answers come from layers every operation
shares, so they are added here, once: 429 for any call a rate limit counts, 503 when the
database is unreachable, 400 and 413 for a request body that cannot be parsed or is too
large, and the error envelope as the shape of every 422.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_SCHEMA_REF = "#/components/schemas/ErrorBody"
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def _error(status: int) -> dict[str, Any]:
    return {
        "description": HTTPStatus(status).phrase,
        "content": {"application/json": {"schema": {"$ref": ERROR_SCHEMA_REF}}},
    }


def _nullable(schema: dict[str, Any]) -> bool:
    variants = schema.get("anyOf", []) + schema.get("oneOf", [])
    return schema.get("type") == "null" or any(v.get("type") == "null" for v in variants)


def _complete_operation(path: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if "422" in responses:
        responses["422"] = _error(422)
    if operation.get("security"):
        responses.setdefault("429", _error(429))
    if path.startswith("/api/"):
        responses.setdefault("503", _error(503))
    if "requestBody" in operation:
        responses.setdefault("400", _error(400))
        responses.setdefault("413", _error(413))


def _drop_null_defaults(schemas: dict[str, Any]) -> None:
    # A PATCH field left out keeps its value; its Python default (None) is not a value a
    # client may send, so it is not shown as one.
    for schema in schemas.values():
        for prop in schema.get("properties", {}).values():
            if "default" in prop and prop["default"] is None and not _nullable(prop):
                del prop["default"]


def build_openapi(app: FastAPI) -> dict[str, Any]:
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    for path, item in document.get("paths", {}).items():
        for operation in item.values():
            _complete_operation(path, operation)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    _drop_null_defaults(schemas)
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    return document


def install(app: FastAPI) -> Callable[[], dict[str, Any]]:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return openapi
