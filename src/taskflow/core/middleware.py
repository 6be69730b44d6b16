"""Pure ASGI middleware. BaseHTTPMiddleware is avoided: it costs a large share of throughput.

main.create_app stacks them, outermost first: RequestContextMiddleware (request id,
security headers on every answer, its own 500 included, access log, metrics, clean 500),
TrustedHostMiddleware, CORS, GZip, and BodyLimitMiddleware next to the app. The ones that
refuse a request use the error envelope with the request id, so they sit inside
RequestContextMiddleware. Every layer costs each request a call and each of its awaits a
resumption, so what every request needs is one layer.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from taskflow.core.context import Network, RequestContext, client_ip, current_request
from taskflow.core.errors import error_payload
from taskflow.core.metrics import RequestMetrics
from taskflow.core.security_headers import SecurityHeaders

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_HEADER_RAW = REQUEST_ID_HEADER.lower().encode()
_CONNECTION_CLOSE = (b"connection", b"close")
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

access_log = structlog.get_logger("taskflow.access")
error_log = structlog.get_logger("taskflow.errors")


RawHeaders = Iterable[tuple[bytes, bytes]]


def _request_id_of(scope: Scope) -> str | None:
    state = scope.get("state")
    return state.get("request_id") if state else None


async def send_error(
    send: Send,
    *,
    status: int,
    detail: str,
    error: str,
    request_id: str | None,
    headers: RawHeaders = (),
) -> None:
    """Answer in the error envelope straight from a middleware."""
    body = json.dumps(error_payload(detail, error, request_id)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            return candidate if _SANE_REQUEST_ID.fullmatch(candidate) else None
    return None


class RequestContextMiddleware:
    """Gives each request an id and the security headers, logs one access line, and turns
    a crash into a clean 500.

    The id is the caller's X-Request-ID when it is sane, else a new one; it is echoed in
    the response, bound to every log line of the request and put in error bodies. Every
    response, whoever made it, gets `security_headers`. With `metrics`, each request is
    also counted and timed by method, route template and status.
    """

    def __init__(
        self,
        app: ASGIApp,
        trusted_proxies: Sequence[Network] = (),
        metrics: RequestMetrics | None = None,
        security_headers: SecurityHeaders | None = None,
    ) -> None:
        self.app = app
        self.trusted_proxies = tuple(trusted_proxies)
        self.metrics = metrics
        self.security_headers = security_headers or SecurityHeaders()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        # 128 random bits as hex, like uuid4().hex, without building a UUID.
        request_id = _incoming_request_id(scope) or os.urandom(16).hex()
        ip = client_ip(scope, self.trusted_proxies)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["client_ip"] = ip
        context_token = current_request.set(RequestContext(request_id=request_id, client_ip=ip))
        security_headers = self.security_headers.for_path(scope["path"])
        started = time.perf_counter()
        status_code = 500
        response_started = False

        async def send_with_request_id(message: Message) -> None:
            nonlocal status_code, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status_code = message["status"]
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = request_id
                # Headers any layer asked for on whatever response goes out (rate limits).
                for name, value in state.get("response_headers", {}).items():
                    headers.setdefault(name, value)
                message["headers"] = [*message["headers"], *security_headers]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_request_id)
            except Exception:
                error_log.exception(
                    "unhandled_exception", method=scope["method"], path=scope["path"]
                )
                status_code = 500
                if not response_started:
                    await self._send_internal_error(send, request_id, security_headers)
            finally:
                current_request.reset(context_token)
                duration = time.perf_counter() - started
                if self.metrics is not None:
                    self.metrics.observe(scope, status_code, duration)
                access_log.info(
                    "request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status_code,
                    duration_ms=round(duration * 1000, 2),
                    user_id=state.get("user_id"),
                    client_ip=ip,
                )

    @staticmethod
    async def _send_internal_error(send: Send, request_id: str, extra: RawHeaders) -> None:
        await send_error(
            send,
            status=500,
            detail="Internal server error",
            error="internal_error",
            request_id=request_id,
            headers=[(_REQUEST_ID_HEADER_RAW, request_id.encode()), *extra],
        )


class EnvelopeCORSMiddleware(CORSMiddleware):
    """Starlette's CORS middleware, with refused preflights in the error envelope."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code == 200:
            return response
        request_id = structlog.contextvars.get_contextvars().get("request_id")
        detail = bytes(response.body).decode() or "CORS preflight refused"
        refused = JSONResponse(
            error_payload(detail, "cors_refused", request_id), status_code=response.status_code
        )
        if "vary" in response.headers:
            refused.headers["Vary"] = response.headers["vary"]
        return refused


# --- trusted hosts -------------------------------------------------------------------------


def _host_of(scope: Scope) -> str:
    """The host name of the Host header, lower-cased, without the port ("" when missing)."""
    for name, value in scope["headers"]:
        if name == b"host":
            host: str = value.decode("latin-1").lower()
            if host.startswith("["):  # an IPv6 literal keeps its brackets
                end = host.find("]")
                return host[: end + 1] if end != -1 else ""
            return host.partition(":")[0]
    return ""


@dataclass(frozen=True, slots=True)
class HostPatterns:
    """TRUSTED_HOSTS as Starlette's TrustedHostMiddleware reads it: exact names,
    "*.example.com" for any subdomain (not example.com itself), "*" for any host."""

    exact: frozenset[str]
    suffixes: tuple[str, ...]

    @property
    def allow_any(self) -> bool:
        return "*" in self.exact

    @classmethod
    def parse(cls, patterns: Sequence[str]) -> HostPatterns:
        """Raises ValueError for a malformed wildcard, so a bad setting stops start-up."""
        exact: set[str] = set()
        suffixes: list[str] = []
        for raw in patterns:
            pattern = raw.strip().lower()
            if pattern.startswith("*.") and "*" not in pattern[1:]:
                suffixes.append(pattern[1:])
            elif "*" in pattern and pattern != "*":
                raise ValueError(
                    f"TRUSTED_HOSTS: {raw!r}: a wildcard must be '*' or like '*.example.com'"
                )
            else:
                exact.add(pattern)
        return cls(frozenset(exact), tuple(suffixes))

    def allows(self, host: str) -> bool:
        return host in self.exact or bool(host and host.endswith(self.suffixes))


class TrustedHostMiddleware:
    """400 `invalid_host` for a request whose Host is not allowed. Starlette's own
    TrustedHostMiddleware is not used because it answers in plain text, outside the
    error envelope."""

    def __init__(self, app: ASGIApp, allowed_hosts: HostPatterns) -> None:
        self.app = app
        self.allowed_hosts = allowed_hosts
        self.allow_any = allowed_hosts.allow_any

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.allow_any or scope["type"] != "http" or self.allowed_hosts.allows(_host_of(scope)):
            await self.app(scope, receive, send)
            return
        await send_error(
            send,
            status=400,
            detail="Invalid host header",
            error="invalid_host",
            request_id=_request_id_of(scope),
        )


# --- request body limit --------------------------------------------------------------------


class PayloadTooLarge(HTTPException):
    """Raised from `receive` when a streamed body passes the limit. An HTTPException, so
    FastAPI's body reading lets it through and the handlers answer 413 in the envelope; the
    connection is closed rather than left to drain the rest of the upload."""

    def __init__(self, detail: str) -> None:
        super().__init__(413, detail, headers={"Connection": "close"})


def _body_framing(scope: Scope) -> tuple[int | None, bool]:
    """(Content-Length or None, whether a Transfer-Encoding is declared)."""
    length: int | None = None
    encoded = False
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                length = None
        elif name == b"transfer-encoding":
            encoded = True
    return length, encoded


class BodyLimitMiddleware:
    """413 `payload_too_large` for request bodies over `max_body_bytes`, before they are read.

    A Content-Length over the limit is refused at once: the app is not called and not a
    byte of the body is read. A body of unknown length (chunked) is counted as it is
    received, and reading stops with 413 as soon as the count passes the limit; nothing is
    buffered here. HTTP/1.1 requests with neither header have no body and pass untouched.

    Starlette's RequestBodyLimitMiddleware is not used: it runs a route that does not read
    the body before refusing it, and answers in plain text.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self._detail = f"The request body is larger than {max_body_bytes} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length, encoded = _body_framing(scope)
        if length is not None:
            if length <= self.max_body_bytes:
                # The server holds the body to its declared length.
                await self.app(scope, receive, send)
                return
            await send_error(
                send,
                status=413,
                detail=self._detail,
                error="payload_too_large",
                request_id=_request_id_of(scope),
                headers=[_CONNECTION_CLOSE],
            )
            return
        if not encoded and scope.get("http_version", "1.1").startswith("1"):
            await self.app(scope, receive, send)
            return

        limit = self.max_body_bytes
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            if received > limit:
                raise PayloadTooLarge(self._detail)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(self._detail)
            return message

        await self.app(scope, receive_within_limit, send)
