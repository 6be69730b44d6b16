"""Fixtures of the API tests beside the shared ones in tests/conftest.py."""

from __future__ import annotations

import pytest
from fastapi import FastAPI


@pytest.fixture
async def crashing_app(app: FastAPI) -> FastAPI:
    """The app with one extra route that fails with an unexpected exception."""

    async def crash() -> None:
        raise RuntimeError("boom: secret-internal-detail at /srv/taskflow/db.py")

    # The app is reused across tests with the same settings: add the route once.
    if not any(getattr(route, "path", None) == "/test-crash" for route in app.router.routes):
        app.add_api_route("/test-crash", crash, methods=["GET"])
    return app
