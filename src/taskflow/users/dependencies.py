from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from taskflow.core.deps import SessionDep
from taskflow.core.types import MAX_ID
from taskflow.identity.dependencies import get_principal
from taskflow.identity.principal import Principal
from taskflow.users import policy, service
from taskflow.users.models import User


async def visible_user(
    user_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    principal: Annotated[Principal, Depends(get_principal)],
    session: SessionDep,
) -> User:
    """The user in the path, if the caller may see it (else 404, as if it did not exist)."""
    return policy.ensure_can_view(
        principal, await service.get_user(session=session, user_id=user_id)
    )


VisibleUser = Annotated[User, Depends(visible_user)]
