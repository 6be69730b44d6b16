"""The OpenAPI document, completed with what every operation can answer.

FastAPI documents what a route declares. Some answers come from layers every operation
shares, so they are added here, once: 429 for any call a rate limit counts, 503 when the
database is unreachable, 400 and 413 for a request body that cannot be parsed or is too
large, and the error envelope as the shape of every 422. Operation ids and enum member
names are chosen here too, for the clients generated from the document.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.encoders import jsonable_encoder
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security.base import SecurityBase

ERROR_SCHEMA_REF = "#/components/schemas/ErrorBody"
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


@dataclass(frozen=True)
class SecurityDoc:
    """How the operations that authenticate are documented.

    Authentication runs as one plain dependency that reads the credential headers itself
    (a dependency per scheme costs each request a pass of FastAPI's solver), so FastAPI
    cannot see the schemes in it. Every operation with a dependency for which
    `authenticates(call)` is true is documented as accepting each of `schemes`.
    """

    schemes: Sequence[SecurityBase]
    authenticates: Callable[[Any], bool]

    def definitions(self) -> dict[str, Any]:
        return {
            scheme.scheme_name: jsonable_encoder(scheme.model, by_alias=True, exclude_none=True)
            for scheme in self.schemes
        }

    def requirements(self) -> list[dict[str, list[str]]]:
        return [{scheme.scheme_name: []} for scheme in self.schemes]


def _calls(dependant: Dependant) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _calls(dependency)


def _document_security(app: FastAPI, document: dict[str, Any], security: SecurityDoc) -> None:
    paths: dict[str, Any] = document.get("paths", {})
    secured = False
    # As FastAPI walks them: routes of included routers come with their prefixed paths.
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        if not any(security.authenticates(call) for call in _calls(route.dependant)):
            continue
        for method in route.methods or ():
            operation = paths.get(route.path_format or "", {}).get(method.lower())
            if operation is not None:
                operation.setdefault("security", []).extend(security.requirements())
                secured = True
    if secured:
        components = document.setdefault("components", {})
        components.setdefault("securitySchemes", {}).update(security.definitions())


def operation_id(route: APIRoute) -> str:
    """The id of a route's operation: its function's name (`list_tasks`), the method name
    of generated clients. FastAPI's default appends path and method
    (`list_tasks_api_v1_tasks_get`); FastAPI warns when two routes share an id."""
    return route.name


_NOT_A_NAME = re.compile(r"[^0-9A-Za-z]+")


def _enum_member_name(value: str, values: Sequence[str]) -> str:
    """`-priority` -> PRIORITY_DESC, `priority` -> PRIORITY_ASC beside it, `a:b` -> A_B."""
    name = _NOT_A_NAME.sub("_", value.removeprefix("-")).strip("_").upper()
    if value.startswith("-"):
        return f"{name}_DESC"
    return f"{name}_ASC" if f"-{value}" in values else name


def _name_enum_members(node: Any) -> None:
    """`x-enum-varnames` for each string enum with a value that is no name (a sort's
    `-priority`), which client generators would otherwise call VALUE_7."""
    if isinstance(node, dict):
        values = node.get("enum")
        if (
            isinstance(values, list)
            and all(isinstance(value, str) for value in values)
            and any(not value[:1].isalpha() for value in values)
        ):
            node["x-enum-varnames"] = [_enum_member_name(value, values) for value in values]
        for child in node.values():
            _name_enum_members(child)
    elif isinstance(node, list):
        for child in node:
            _name_enum_members(child)


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


def build_openapi(app: FastAPI, security: SecurityDoc | None = None) -> dict[str, Any]:
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    if security is not None:
        _document_security(app, document, security)
    for path, item in document.get("paths", {}).items():
        for operation in item.values():
            _complete_operation(path, operation)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    _drop_null_defaults(schemas)
    _name_enum_members(document)
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    return document


def install(app: FastAPI, security: SecurityDoc | None = None) -> Callable[[], dict[str, Any]]:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app, security)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return openapi
