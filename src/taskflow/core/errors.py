"""The errors services raise, the JSON envelope, and the handlers that map errors to it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

log = structlog.get_logger("taskflow.errors")

BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}


class AppError(Exception):
    """A failure a client can act on. Services raise these; they never import FastAPI."""

    status_code: int = 400
    error: str = "bad_request"
    detail: str = "Bad request"
    # True when the work done before the error must still be committed.
    keeps_changes: bool = False

    def __init__(
        self,
        detail: str | None = None,
        *,
        error: str | None = None,
        headers: Mapping[str, str] | None = None,
        keeps_changes: bool | None = None,
    ) -> None:
        self.detail = detail or self.detail
        self.error = error or self.error
        self.headers = dict(headers or {})
        if keeps_changes is not None:
            self.keeps_changes = keeps_changes
        super().__init__(self.detail)

    @property
    def body_detail(self) -> Any:
        """What goes in the envelope's `detail`."""
        return self.detail


class BadRequest(AppError):
    pass


class Unauthorized(AppError):
    status_code = 401
    error = "not_authenticated"
    detail = "Not authenticated"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", BEARER_CHALLENGE)
        super().__init__(detail, **kwargs)


class Forbidden(AppError):
    status_code = 403
    error = "forbidden"
    detail = "You may not do this"


class NotFound(AppError):
    status_code = 404
    error = "not_found"
    detail = "Not found"


class Conflict(AppError):
    status_code = 409
    error = "conflict"
    detail = "Conflict"


class UnprocessableEntity(AppError):
    """A well-formed request naming something invalid; the detail has the shape of a 422."""

    status_code = 422
    error = "validation_error"

    def __init__(
        self, message: str, *, loc: Sequence[str | int], kind: str = "value_error", **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.loc = list(loc)
        self.kind = kind

    @property
    def body_detail(self) -> Any:
        return [{"loc": self.loc, "msg": self.detail, "type": self.kind}]


class PreconditionFailed(AppError):
    status_code = 412
    error = "precondition_failed"
    detail = "The resource has changed"


class ServiceUnavailable(AppError):
    status_code = 503
    error = "service_unavailable"
    detail = "Service unavailable"


_CODES_BY_STATUS = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}


def error_code_for_status(status_code: int) -> str:
    return _CODES_BY_STATUS.get(status_code, "error")


class ValidationErrorItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str
    ctx: dict[str, Any] | None = None


class ErrorBody(BaseModel):
    """The one shape of every error response."""

    detail: str | list[ValidationErrorItem] = Field(
        description="A sentence, or for 422 the list of failing fields"
    )
    error: str = Field(description="Stable machine-readable code", examples=["not_found"])
    request_id: str | None = Field(description="The X-Request-ID of the request")


def request_id_of(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def error_payload(detail: Any, error: str, request_id: str | None) -> dict[str, Any]:
    return {"detail": detail, "error": error, "request_id": request_id}


def error_response(
    request: Request,
    *,
    status_code: int,
    detail: Any,
    error: str,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        error_payload(detail, error, request_id_of(request)),
        status_code=status_code,
        headers=dict(headers) if headers else None,
    )


def _public_validation_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    # The submitted input is left out: it may hold a password.
    public = []
    for item in errors:
        entry = {
            "loc": list(item.get("loc", ())),
            "msg": item.get("msg", ""),
            "type": item.get("type", ""),
        }
        if item.get("ctx"):
            entry["ctx"] = jsonable_encoder(item["ctx"], custom_encoder={Exception: str})
        public.append(entry)
    return public


async def _app_error_handler(request: Request, exc: AppError) -> JSONResponse:
    return error_response(
        request,
        status_code=exc.status_code,
        detail=exc.body_detail,
        error=exc.error,
        headers=exc.headers,
    )


async def _validation_error_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if any(item.get("type") == "json_invalid" for item in errors):
        # A body that is not JSON at all is no field's fault: 400, as the README lists it.
        return error_response(
            request,
            status_code=400,
            detail="The request body is not valid JSON",
            error="bad_request",
        )
    return error_response(
        request,
        status_code=422,
        detail=_public_validation_errors(errors),
        error="validation_error",
    )


async def _http_exception_handler(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    headers = dict(exc.headers or {})
    if exc.status_code == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
    return error_response(
        request,
        status_code=exc.status_code,
        detail=detail,
        error=error_code_for_status(exc.status_code),
        headers=headers,
    )


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (the router's own 405 names only the
    first route's, while a path such as /users/me has one route per method)."""
    path = request.url.path
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        regex = getattr(route, "path_regex", None)
        if regex is not None and route.methods and regex.match(path):
            methods.update(route.methods)
    return ", ".join(sorted(methods))


def install_exception_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error_handler)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error_handler)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_exception_handler)  # type: ignore[arg-type]


def error_responses(*status_codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the error statuses a route can return."""
    return {
        code: {"model": ErrorBody, "description": HTTPStatus(code).phrase} for code in status_codes
    }
