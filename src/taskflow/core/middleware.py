"""Pure ASGI middleware. BaseHTTPMiddleware is avoided: it costs a large share of throughput."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Sequence

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from taskflow.core.context import Network, RequestContext, client_ip, current_request
from taskflow.core.errors import error_payload

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

access_log = structlog.get_logger("taskflow.access")
error_log = structlog.get_logger("taskflow.errors")


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            return candidate if _SANE_REQUEST_ID.fullmatch(candidate) else None
    return None


class RequestContextMiddleware:
    """Gives each request an id, logs one access line, and turns a crash into a clean 500.

    The id is the caller's X-Request-ID when it is sane, else a new one; it is echoed in
    the response, bound to every log line of the request and put in error bodies.
    """

    def __init__(self, app: ASGIApp, trusted_proxies: Sequence[Network] = ()) -> None:
        self.app = app
        self.trusted_proxies = tuple(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        ip = client_ip(scope, self.trusted_proxies)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["client_ip"] = ip
        context_token = current_request.set(RequestContext(request_id=request_id, client_ip=ip))
        started = time.perf_counter()
        status_code = 500
        response_started = False

        async def send_with_request_id(message: Message) -> None:
            nonlocal status_code, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status_code = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
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
                    await self._send_internal_error(send, request_id)
            finally:
                current_request.reset(context_token)
                access_log.info(
                    "request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status_code,
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                    user_id=state.get("user_id"),
                    client_ip=ip,
                )

    @staticmethod
    async def _send_internal_error(send: Send, request_id: str) -> None:
        body = json.dumps(
            error_payload("Internal server error", "internal_error", request_id)
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 500,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (REQUEST_ID_HEADER.lower().encode(), request_id.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


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
