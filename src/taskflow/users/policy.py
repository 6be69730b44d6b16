"""Who may see and change which account."""

from __future__ import annotations

from collections.abc import Set

from taskflow.core.errors import Forbidden, NotFound
from taskflow.identity.principal import Principal
from taskflow.users.models import Role, User

ADMIN_ONLY_FIELDS = frozenset({"role", "is_active"})


class UserNotFound(NotFound):
    detail = "User not found"


def ensure_can_view(principal: Principal, user: User | None) -> User:
    """Admins see everyone; a user sees itself; any other account is as if it did not exist."""
    if user is None or not (principal.is_admin or principal.user.id == user.id):
        raise UserNotFound()
    return user


def ensure_can_update(principal: Principal, fields: Set[str]) -> None:
    admin_fields = ADMIN_ONLY_FIELDS & fields
    if admin_fields and not principal.is_admin:
        raise Forbidden(f"Only administrators may change {', '.join(sorted(admin_fields))}")


def ensure_not_self_demotion(
    principal: Principal, user: User, *, role: str | None, is_active: bool | None
) -> None:
    """An admin cannot lock itself out: no dropping its own admin role, no deactivating itself."""
    if principal.user.id != user.id:
        return
    if role is not None and role != Role.ADMIN and user.is_admin:
        raise Forbidden("Administrators cannot remove their own admin role")
    if is_active is False:
        raise Forbidden("Administrators cannot deactivate themselves")


def ensure_can_deactivate(principal: Principal, user: User) -> None:
    """DELETE /users/{id} is for admins, on accounts other than their own."""
    if not principal.is_admin:
        raise Forbidden("Only administrators may deactivate other accounts; use DELETE /users/me")
    if principal.user.id == user.id:
        raise Forbidden("Administrators cannot deactivate themselves")


def ensure_can_deactivate_self(principal: Principal) -> None:
    if principal.is_admin:
        raise Forbidden("Administrators cannot deactivate themselves")
