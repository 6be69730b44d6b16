"""The application factory: middleware, routers, exception handlers and the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import structlog
import swagger_ui_bundle
from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

from taskflow import __version__
from taskflow.api_keys.router import router as api_keys_router
from taskflow.auth.router import router as auth_router
from taskflow.config import Settings, get_settings
from taskflow.core.db import Database
from taskflow.core.email import create_email_sender
from taskflow.core.errors import install_exception_handlers
from taskflow.core.logging import configure_logging
from taskflow.core.middleware import (
    REQUEST_ID_HEADER,
    EnvelopeCORSMiddleware,
    RequestContextMiddleware,
)
from taskflow.core.redis import create_redis
from taskflow.core.security import PasswordHasher
from taskflow.health.router import router as health_router
from taskflow.projects.router import router as projects_router
from taskflow.tasks.router import router as tasks_router
from taskflow.users.router import router as users_router

API_PREFIX = "/api/v1"
DOCS_ASSETS_PATH = "/docs/assets"
EXPOSED_HEADERS = ["X-Total-Count", "Link", "ETag", REQUEST_ID_HEADER]

log = structlog.get_logger("taskflow")


def _swagger_assets_dir() -> Path:
    vendor = Path(swagger_ui_bundle.swagger_ui_path)
    return vendor


def _api_router() -> APIRouter:
    api = APIRouter(prefix=API_PREFIX)
    for router in (auth_router, users_router, api_keys_router, projects_router, tasks_router):
        api.include_router(router)
    return api


def _mount_docs(app: FastAPI) -> None:
    """Swagger UI served from the installed swagger-ui-bundle, so /docs works offline."""
    app.mount(DOCS_ASSETS_PATH, StaticFiles(directory=_swagger_assets_dir()), name="docs-assets")
    oauth2_redirect_url = "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="TaskFlow API",
            swagger_js_url=f"{DOCS_ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS_PATH}/favicon-32x32.png",
            oauth2_redirect_url=oauth2_redirect_url,
            init_oauth={"usePkceWithAuthorizationCodeGrant": False},
        )

    @app.get(oauth2_redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(level=settings.log_level, json_format=settings.log_format == "json")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.secret_key_generated:
            log.warning(
                "secret_key_generated",
                detail="SECRET_KEY is not set: a random one is used; tokens end with the process",
            )
        app.state.settings = settings
        app.state.database = Database(settings)
        app.state.redis = create_redis(settings)
        app.state.hasher = PasswordHasher(settings.password_hash_concurrency)
        # Made now, so the first login of an unknown email costs what every later one does.
        await app.state.hasher.burn_time("warm-up")
        app.state.email_sender = create_email_sender(settings)
        log.info("startup", environment=settings.environment, version=__version__)
        try:
            yield
        finally:
            if app.state.redis is not None:
                await app.state.redis.aclose()
            await app.state.database.dispose()

    app = FastAPI(
        title="TaskFlow",
        version=__version__,
        description="Self-hostable task and project management API.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    install_exception_handlers(app)
    app.include_router(health_router)
    app.include_router(_api_router())
    _mount_docs(app)

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
    app.add_middleware(RequestContextMiddleware, trusted_proxies=settings.trusted_proxies)
    return app
