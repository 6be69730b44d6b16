"""Every API route is a unit of work: a route of a plain APIRouter would leave the session
it used neither committed nor closed."""

from __future__ import annotations

from fastapi.routing import iter_route_contexts

from taskflow.cli import openapi_settings
from taskflow.core.deps import UnitOfWorkRoute
from taskflow.main import API_PREFIX, create_app


def test_every_api_route_uses_the_unit_of_work_route_class() -> None:
    app = create_app(openapi_settings())
    api_routes = [
        context
        for context in iter_route_contexts(app.routes)
        if (context.path or "").startswith(f"{API_PREFIX}/")
    ]
    plain = sorted(
        f"{context.path} ({type(context.original_route).__name__})"
        for context in api_routes
        if not isinstance(context.original_route, UnitOfWorkRoute)
    )
    assert plain == [], "routes under /api/v1 that are no unit of work"
    # Every domain answers under /api/v1: a walk that saw none of them would prove nothing.
    domains = {(context.path or "").split("/")[3] for context in api_routes}
    assert {"admin", "api-keys", "auth", "projects", "tasks", "users"} <= domains
