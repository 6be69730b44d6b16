"""The application factory: middleware, routers, exception handlers and the lifespan."""

from __future__ import annotations

import gc
import importlib.util
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.staticfiles import StaticFiles
from fastapi.telemetry import TelemetryConfig
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse

from taskflow import __version__, db_migrations
from taskflow.config import Settings, get_settings
from taskflow.core import openapi
from taskflow.core.cache import Cache
from taskflow.core.cache_contract import install as install_cache_contract
from taskflow.core.db import Database
from taskflow.core.email import create_email_sender
from taskflow.core.errors import install_exception_handlers
from taskflow.core.logging import configure_logging
from taskflow.core.metrics import RequestMetrics, metrics_endpoint
from taskflow.core.middleware import (
    REQUEST_ID_HEADER,
    BodyLimitMiddleware,
    EnvelopeCORSMiddleware,
    HostPatterns,
    RequestContextMiddleware,
    TrustedHostMiddleware,
)
from taskflow.core.ratelimit import RateLimiter
from taskflow.core.redis import RedisGuard, create_redis
from taskflow.core.security import PasswordHasher
from taskflow.core.security_headers import SecurityHeaders, docs_content_security_policy
from taskflow.domains import CACHE_CONTRACT, DOMAINS
from taskflow.health.router import router as health_router
from taskflow.identity.dependencies import OPENAPI_SECURITY

API_PREFIX = "/api/v1"
DOCS_ASSETS_PATH = "/docs/assets"
EXPOSED_HEADERS = [
    "X-Total-Count",
    "Link",
    "ETag",
    REQUEST_ID_HEADER,
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "Retry-After",
]
# FastAPI's native OpenTelemetry off: it would look the global providers up per request.
_NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
# Responses smaller than this are sent as they are: gzip would save little and cost time.
GZIP_MINIMUM_BYTES = 1000

log = structlog.get_logger("taskflow")


# Swagger UI shows each operation's id: the name generated clients give it.
SWAGGER_UI_PARAMETERS: dict[str, Any] = {"displayOperationId": True}


def docs_assets_dir() -> Path:
    """The static folder of the installed fastapi-offline: Swagger UI 5 and ReDoc 2.

    Found without importing the package, whose own code (a FastAPI subclass) is not used.
    """
    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("fastapi-offline is not installed: /docs needs its static files")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def freeze_startup_objects() -> None:
    """Keep what start-up made (modules, the app, its routes, schemas and compiled SQL) out
    of every later garbage collection.

    Those objects live as long as the worker, yet the collector's full passes walk each of
    them again and again; under load those passes were the tail of the latency. Once per
    process: what a later app instance in the same process leaves behind stays collectable.
    """
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()


def _mount_docs(app: FastAPI) -> dict[str, str]:
    """Swagger UI at /docs and ReDoc at /redoc, from local assets, so both work offline.

    The pages are made once; returns the Content-Security-Policy of each page (path ->
    policy), which allows their inline scripts by hash.
    """
    app.mount(DOCS_ASSETS_PATH, StaticFiles(directory=docs_assets_dir()), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    oauth2_redirect_url = "/docs/oauth2-redirect"
    favicon_url = f"{DOCS_ASSETS_PATH}/favicon.png"
    docs_html = bytes(
        get_swagger_ui_html(
            openapi_url=openapi_url,
            title="TaskFlow API",
            swagger_js_url=f"{DOCS_ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=favicon_url,
            oauth2_redirect_url=oauth2_redirect_url,
            init_oauth={"usePkceWithAuthorizationCodeGrant": False},
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        ).body
    ).decode()
    redirect_html = bytes(get_swagger_ui_oauth2_redirect_html().body).decode()
    redoc_html = bytes(
        get_redoc_html(
            openapi_url=openapi_url,
            title="TaskFlow API",
            redoc_js_url=f"{DOCS_ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=favicon_url,
            with_google_fonts=False,
        ).body
    ).decode()

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(docs_html)

    @app.get(oauth2_redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return HTMLResponse(redirect_html)

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return HTMLResponse(redoc_html)

    return {
        "/docs": docs_content_security_policy(docs_html),
        oauth2_redirect_url: docs_content_security_policy(redirect_html),
        "/redoc": docs_content_security_policy(redoc_html, blob_workers=True),
    }


def _mount_root(app: FastAPI, settings: Settings) -> None:
    """`GET /`: the interactive documentation where it is served, else what this is."""
    if settings.serve_docs:

        @app.get("/", include_in_schema=False)
        async def root_to_docs() -> RedirectResponse:
            return RedirectResponse("/docs", status_code=307)

        return
    links = {"health": "/health", "liveness": "/health/live"}
    if settings.metrics_enabled:
        links["metrics"] = "/metrics"
    about = {"name": app.title, "version": app.version, "links": links}

    @app.get("/", include_in_schema=False)
    async def root_about() -> JSONResponse:
        return JSONResponse(about)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(level=settings.log_level, json_format=settings.log_format == "json")
    # Read from the migration scripts once; readiness compares the database with it.
    schema_revisions = db_migrations.schema_revisions()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.secret_key_generated:
            log.warning(
                "secret_key_generated",
                detail="SECRET_KEY is not set: a random one is used; tokens end with the process",
            )
        if settings.environment == "production" and settings.email_backend == "console":
            log.warning(
                "email_backend_console",
                detail="EMAIL_BACKEND=console in production: password reset and verification "
                "emails are only written to this log, never sent; set EMAIL_BACKEND=smtp",
            )
        app.state.settings = settings
        app.state.schema_revisions = schema_revisions
        app.state.database = Database(settings)
        app.state.redis = create_redis(settings)
        guard = (
            RedisGuard(
                app.state.redis,
                retry_seconds=settings.redis_retry_seconds,
                failure_threshold=settings.redis_failure_threshold,
            )
            if app.state.redis is not None
            else None
        )
        app.state.cache = (
            Cache(
                guard,
                ttl_seconds=settings.cache_ttl_seconds,
                prefix=settings.redis_key_prefix,
                reads=settings.cache_reads,
            )
            if guard is not None
            else None
        )
        if app.state.cache is not None:
            install_cache_contract(app.state.cache, CACHE_CONTRACT)
        app.state.rate_limiter = RateLimiter(settings, guard)
        app.state.hasher = PasswordHasher(settings.password_hash_concurrency)
        # Made now, so the first login of an unknown email costs what every later one does.
        await app.state.hasher.burn_time("warm-up")
        app.state.email_sender = create_email_sender(settings)
        freeze_startup_objects()
        log.info("startup", environment=settings.environment, version=__version__)
        try:
            yield
        finally:
            if app.state.redis is not None:
                await app.state.redis.aclose()
            await app.state.database.dispose()
            log.info("shutdown")

    app = FastAPI(
        title="TaskFlow",
        version=__version__,
        description="Self-hostable task and project management API.",
        docs_url=None,
        redoc_url=None,
        # /openapi.json, /docs and /redoc: off in production unless DOCS_ENABLED=true.
        openapi_url="/openapi.json" if settings.serve_docs else None,
        lifespan=lifespan,
        generate_unique_id_function=openapi.operation_id,
        # None: FastAPI's defaults, which use the OpenTelemetry providers set in the process.
        telemetry=None if settings.otel_enabled else _NO_TELEMETRY,
    )
    install_exception_handlers(app)
    openapi.install(app, security=OPENAPI_SECURITY)
    app.include_router(health_router)
    # Each router straight under the app: one level of routers less to walk per request.
    # With a prefix, FastAPI skips walking every route at include time (a third of start-up).
    # The domains in their order of routing (see taskflow.domains).
    for domain in DOMAINS:
        for domain_router in domain.routers:
            app.include_router(domain_router, prefix=API_PREFIX)
            domain_router.served_under(API_PREFIX)
    page_policies = _mount_docs(app) if settings.serve_docs else {}
    _mount_root(app, settings)
    if settings.metrics_enabled:
        app.add_api_route(
            "/metrics",
            metrics_endpoint(settings.prometheus_multiproc_dir),
            methods=["GET"],
            include_in_schema=False,
        )

    # Middleware: the last added runs first. Innermost: the body limit, then gzip, CORS,
    # trusted hosts, and outermost the request context, which also puts the security
    # headers on every response (its own 500 too).
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    # Level 6 compresses JSON nearly as well as 9 for a fraction of the CPU time.
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MINIMUM_BYTES, compresslevel=6)
    if settings.cors_origins:
        wildcard = "*" in settings.cors_origins
        app.add_middleware(
            EnvelopeCORSMiddleware,
            allow_origins=settings.cors_origins,
            # Credentials are never allowed together with a wildcard origin.
            allow_credentials=not wildcard,
            allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "X-API-Key",
                REQUEST_ID_HEADER,
                "If-Match",
                "Idempotency-Key",
            ],
            expose_headers=EXPOSED_HEADERS,
        )
    if settings.trusted_hosts:
        app.add_middleware(
            TrustedHostMiddleware, allowed_hosts=HostPatterns.parse(settings.trusted_hosts)
        )
    app.add_middleware(
        RequestContextMiddleware,
        trusted_proxies=settings.trusted_proxies,
        metrics=RequestMetrics() if settings.metrics_enabled else None,
        security_headers=SecurityHeaders(
            hsts=settings.environment == "production", page_policies=page_policies
        ),
    )
    return app
