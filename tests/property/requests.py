"""Whole requests to one operation: path, query, headers and body drawn from its schema."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import unquote

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from hypothesis import strategies as st
from starlette.routing import Mount, Route

from taskflow.main import create_app
from tests.conftest import build_settings
from tests.property.strategies import NoStrategy, SchemaValues, encode_text, texts

# Raw bodies no JSON parser accepts, and JSON of the wrong shape.
_UNPARSABLE = (b"{", b'{"a": }', b"\xff\xfe", b"[1, 2", b"null", b'"\\ud800"', b"{}" * 3)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    spec: dict[str, Any]
    documented: bool = True
    body_fields: int = 0

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def requests_per_example(self) -> int:
        """More requests for operations with more inputs, so each input gets its edges."""
        return 1 + (len(self.spec.get("parameters", ())) + self.body_fields) // 2


@dataclass(frozen=True)
class DrawnRequest:
    method: str
    url: str
    headers: dict[str, str]
    content: bytes | None

    def sent_text(self) -> str:
        """The text of the query and body as the app reads them (escapes undone)."""
        query = unquote(self.url.partition("?")[2], errors="surrogatepass")
        body = (self.content or b"").decode(errors="replace")
        try:
            return query + "".join(_strings(json.loads(body)))
        except ValueError:
            return query + unquote(body, errors="surrogatepass")

    def __repr__(self) -> str:
        return f"{self.method} {self.url} headers={self.headers} body={self.content!r}"


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [*value, *(text for item in value.values() for text in _strings(item))]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


@cache
def app_routes() -> FastAPI:
    """An app built as the tests build theirs, for its routes and OpenAPI document."""
    return create_app(build_settings(database_url="sqlite+aiosqlite:///:memory:"))


def operations(app: FastAPI) -> list[Operation]:
    """Every operation of the OpenAPI document, then every other route of the app (the docs,
    /metrics, static files) with a query parameter and its path parameters as text."""
    document = app.openapi()
    schemas = document["components"]["schemas"]
    found = [
        Operation(method.upper(), path, spec, body_fields=_body_fields(spec, schemas))
        for path, item in document["paths"].items()
        for method, spec in item.items()
    ]
    documented = {(op.method, op.path) for op in found}
    for route in iter_route_contexts(app.routes):
        original = route.original_route
        if not isinstance(original, Route | Mount):
            raise NoStrategy(f"no strategy for the route {original!r}")
        path = route.path_format
        methods = route.methods if isinstance(original, Route) else {"GET"}
        for method in sorted((methods or set()) - {"HEAD"}):
            if (method, path) in documented:
                continue
            parameters = [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in re.findall(r"{(\w+)", path)
            ]
            parameters.append({"name": "q", "in": "query", "schema": {"type": "string"}})
            found.append(Operation(method, path, {"parameters": parameters}, documented=False))
    return found


def _body_fields(spec: dict[str, Any], schemas: dict[str, Any]) -> int:
    body = spec.get("requestBody")
    if body is None:
        return 0
    schema = next(iter(body["content"].values()))["schema"]
    while "$ref" in schema:
        schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
    return len(schema.get("properties", {}))


def _sorts(spec: dict[str, Any], values: SchemaValues) -> list[str]:
    for parameter in spec.get("parameters", ()):
        if parameter["name"] == "sort":
            return list(values.resolve(parameter["schema"]).get("enum", []))
    return []


@st.composite
def requests_for(draw: st.DrawFn, operation: Operation, values: SchemaValues) -> DrawnRequest:
    parameters = operation.spec.get("parameters", ())
    names = {parameter["name"] for parameter in parameters}
    # A forged cursor reaches the database only with the sort it names and without skip.
    sorts = _sorts(operation.spec, values)
    with_cursor = "cursor" in names and draw(st.integers(0, 2)) == 0
    if sorts:
        values.cursor_sort = draw(st.sampled_from(sorts))
    path = operation.path
    query: list[tuple[str, str]] = []
    headers: dict[str, str] = {}
    for parameter in parameters:
        name, where = parameter["name"], parameter["in"]
        if where == "path":
            value = draw(values.of(parameter["schema"], name=name))
            text = value if isinstance(value, str) else json.dumps(value)
            path = path.replace("{" + name + "}", encode_text(text))
            continue
        if name == "cursor":
            include = with_cursor
        elif name == "skip" and with_cursor:
            include = draw(st.integers(0, 9)) == 9
        else:
            include = parameter.get("required") or draw(st.booleans())
        if not include:
            continue
        if name == "sort" and with_cursor:
            value = values.cursor_sort
        else:
            value = draw(values.of(parameter["schema"], name=name))
        if value is None:
            continue
        if where == "query":
            query.append((name, encode_text(value)))
        elif where == "header":
            headers[name] = draw(_header_values())
    content = None
    body = operation.spec.get("requestBody")
    if body is not None:
        media, schema = next(iter(body["content"].items()))
        headers["content-type"] = media
        content = draw(_bodies(media, schema["schema"], values))
    url = path + ("?" + "&".join(f"{name}={text}" for name, text in query) if query else "")
    return DrawnRequest(operation.method, url, headers, content)


def _header_values() -> st.SearchStrategy[str]:
    latin = texts(max_length=200).filter(lambda text: re.fullmatch(r"[ -~]*", text) is not None)
    return st.one_of(st.sampled_from(('"1"', 'W/"1"', '"v1-abc"', "*", "key-1")), latin)


def _bodies(media: str, schema: dict[str, Any], values: SchemaValues) -> st.SearchStrategy[bytes]:
    objects = values.objects(schema)
    if media == "application/json":
        # ensure_ascii writes lone surrogates as the escapes a JSON text may carry: "\ud800".
        encoded = objects.map(lambda body: json.dumps(body, ensure_ascii=True).encode())
    elif media == "application/x-www-form-urlencoded":
        encoded = objects.map(
            lambda body: "&".join(f"{k}={encode_text(v)}" for k, v in body.items()).encode()
        )
    else:
        raise NoStrategy(f"no strategy for {media} bodies")
    return st.integers(0, 19).flatmap(
        lambda n: st.sampled_from(_UNPARSABLE) if n == 19 else encoded
    )
