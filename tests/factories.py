"""Test data: polyfactory builds the models with Faker values, the factories here store them.

Each factory call commits in its own session, so what it makes is visible to the app under
test exactly as data written by an earlier request would be.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any, TypeVar

from faker import Faker
from polyfactory import Use
from polyfactory.factories.sqlalchemy_factory import SQLAlchemyFactory
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskflow.config import Settings
from taskflow.core import clock, security
from taskflow.projects.models import MemberRole, Project, ProjectMember
from taskflow.statuses import ranks
from taskflow.statuses.models import DEFAULT_STATUSES, Status
from taskflow.tasks.models import Task
from taskflow.users.models import Role, User

ModelT = TypeVar("ModelT")

DEFAULT_PASSWORD = "correct-horse-9"
faker = Faker()
_sequence = itertools.count(1)


@cache
def hashed(password: str) -> str:
    """One real Argon2id hash per password per process: hashing is the slow part of a user."""
    return security.password_hash.hash(password)


def unique_email(stem: str = "user") -> str:
    return f"{stem}{next(_sequence)}@example.com"


class _ModelBuilder(SQLAlchemyFactory[ModelT]):
    __is_base_factory__ = True
    # Ids, foreign keys and relationships come from the database and from the caller.
    __set_primary_key__ = False
    __set_foreign_keys__ = False
    __set_relationships__ = False

    created_at = Use(clock.now)
    updated_at = Use(clock.now)


class UserBuilder(_ModelBuilder[User]):
    email = Use(unique_email)
    full_name = Use(faker.name)
    password_hash = Use(hashed, DEFAULT_PASSWORD)
    role = Role.USER.value
    is_active = True
    is_verified = True
    failed_login_count = 0
    locked_until = None


class ProjectBuilder(_ModelBuilder[Project]):
    name = Use(lambda: faker.catch_phrase()[:200])
    description = Use(lambda: faker.paragraph())
    is_archived = False
    version = 1


class TaskBuilder(_ModelBuilder[Task]):
    title = Use(lambda: faker.sentence(nb_words=5)[:200])
    description = Use(lambda: faker.paragraph())
    priority = Use(faker.random_int, 1, 5)
    is_completed = False
    completed_at = None
    due_date = None
    assignee_id = None
    version = 1
    comment_count = 0


@dataclass
class UserFactory:
    sessionmaker: async_sessionmaker[AsyncSession]
    settings: Settings

    async def _save(self, model: ModelT) -> ModelT:
        async with self.sessionmaker() as session:
            session.add(model)
            await session.commit()
            return model

    async def __call__(
        self,
        *,
        password: str = DEFAULT_PASSWORD,
        role: Role = Role.USER,
        **fields: Any,
    ) -> User:
        fields.setdefault("email", unique_email(role.value))
        user = UserBuilder.build(password_hash=hashed(password), role=role.value, **fields)
        return await self._save(user)

    async def admin(self, **kwargs: Any) -> User:
        return await self(role=Role.ADMIN, **kwargs)

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


@dataclass
class DomainFactory(UserFactory):
    """Users, plus projects, memberships and tasks."""

    async def project(self, owner: User, **fields: Any) -> Project:
        """A project with the default statuses, as the API creates one."""
        async with self.sessionmaker() as session:
            project = ProjectBuilder.build(owner_id=owner.id, **fields)
            session.add(project)
            await session.flush()
            session.add_all(
                Status(project_id=project.id, name=name, category=category, position=position)
                for position, (name, category) in enumerate(DEFAULT_STATUSES)
            )
            await session.commit()
            return project

    async def member(
        self, project: Project, user: User, role: MemberRole | str = MemberRole.EDITOR
    ) -> ProjectMember:
        return await self._save(
            ProjectMember(project_id=project.id, user_id=user.id, role=MemberRole(role).value)
        )

    async def task(
        self, project: Project, *, created_by: User | None = None, **fields: Any
    ) -> Task:
        """A task at the end of its status: given, else the project's first done status for
        a completed task, its first not-done status for an open one (as the API places it)."""
        creator_id = created_by.id if created_by is not None else project.owner_id
        return (await self._tasks(project, 1, created_by_id=creator_id, **fields))[0]

    async def tasks(self, project: Project, count: int, **fields: Any) -> list[Task]:
        return await self._tasks(project, count, created_by_id=project.owner_id, **fields)

    async def _tasks(self, project: Project, count: int, **fields: Any) -> list[Task]:
        async with self.sessionmaker() as session:
            status_id = fields.pop("status_id", None)
            if status_id is None:
                done = bool(fields.get("is_completed"))
                status_id = await session.scalar(
                    select(Status.id)
                    .where(
                        Status.project_id == project.id,
                        (Status.category == "done") if done else (Status.category != "done"),
                    )
                    .order_by(Status.position, Status.id)
                    .limit(1)
                )
            last = await session.scalar(
                select(func.max(Task.position)).where(Task.status_id == status_id)
            )
            given = fields.pop("position", None)
            keys = [given] * count if given is not None else ranks.after_all(last, count)
            models = [
                TaskBuilder.build(
                    project_id=project.id, status_id=status_id, position=key, **fields
                )
                for key in keys
            ]
            session.add_all(models)
            await session.commit()
        return models

    async def status(self, project: Project, **fields: Any) -> Status:
        """One more status, last on the board."""
        async with self.sessionmaker() as session:
            count = await session.scalar(
                select(func.count()).select_from(Status).where(Status.project_id == project.id)
            )
            fields.setdefault("name", f"Status {next(_sequence)}")
            fields.setdefault("category", "in_progress")
            fields.setdefault("position", count)
            created = Status(project_id=project.id, **fields)
            session.add(created)
            await session.commit()
            return created
