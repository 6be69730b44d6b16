"""What a principal's kind of credential allows, before any resource is looked at."""

from __future__ import annotations

from taskflow.core.errors import Forbidden
from taskflow.identity.principal import Principal, Scope


class InsufficientScope(Forbidden):
    error = "insufficient_scope"


class SessionRequired(Forbidden):
    error = "session_required"
    detail = "This needs a logged-in session; API keys cannot do it"


class AdminRequired(Forbidden):
    detail = "Only administrators may do this"


def ensure_allowed(
    principal: Principal,
    *,
    scope: Scope | None = None,
    session_only: bool = False,
    admin_only: bool = False,
) -> None:
    if session_only and not principal.is_session:
        raise SessionRequired()
    if scope is not None and not principal.has_scope(scope):
        raise InsufficientScope(f"This API key lacks the {scope.value} scope")
    if admin_only and not principal.is_admin:
        raise AdminRequired()
