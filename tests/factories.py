"""Test data made through the models and the real password hasher, with unique values."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskflow.config import Settings
from taskflow.core import security
from taskflow.users.models import Role, User

DEFAULT_PASSWORD = "correct-horse-9"
_sequence = itertools.count(1)


@cache
def hashed(password: str) -> str:
    """One real Argon2id hash per password per process: hashing is the slow part of a user."""
    return security.password_hash.hash(password)


def unique_email(stem: str = "user") -> str:
    return f"{stem}{next(_sequence)}@example.com"


@dataclass
class UserFactory:
    sessionmaker: async_sessionmaker[AsyncSession]
    settings: Settings

    async def __call__(
        self,
        *,
        email: str | None = None,
        password: str = DEFAULT_PASSWORD,
        full_name: str | None = None,
        role: Role = Role.USER,
        is_active: bool = True,
        is_verified: bool = True,
    ) -> User:
        async with self.sessionmaker() as session:
            user = User(
                email=email or unique_email(role.value),
                full_name=full_name or f"Test {role.value.title()} {next(_sequence)}",
                password_hash=hashed(password),
                role=role.value,
                is_active=is_active,
                is_verified=is_verified,
            )
            session.add(user)
            await session.commit()
            return user

    async def admin(self, **kwargs: object) -> User:
        return await self(role=Role.ADMIN, **kwargs)  # type: ignore[arg-type]

    def headers(self, user: User) -> dict[str, str]:
        """Bearer headers with an access token minted for the user, as login would issue."""
        token = security.create_access_token(
            user_id=user.id,
            secret=self.settings.jwt_secret,
            issuer=self.settings.jwt_issuer,
            audience=self.settings.jwt_audience,
            lifetime=timedelta(minutes=self.settings.access_token_expire_minutes),
        )
        return {"Authorization": f"Bearer {token.token}"}
