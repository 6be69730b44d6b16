from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from taskflow.core.types import Description, Email, Flag, Name, RequestModel, left_out
from taskflow.projects.models import MemberRole
from taskflow.projects.policy import ProjectAccess, ProjectRole
from taskflow.users.schemas import UserSummary

ProjectName = Name
ProjectDescription = Description
ProjectSort = Literal["name", "-name", "created_at", "-created_at", "updated_at", "-updated_at"]


class ProjectCreate(RequestModel):
    name: ProjectName
    description: ProjectDescription | None = None


class ProjectUpdate(RequestModel):
    """Fields left out keep their value; `description` may be set to null to clear it."""

    name: ProjectName = left_out()
    description: ProjectDescription | None = left_out()
    is_archived: Flag = left_out()


class ProjectRead(BaseModel):
    id: int
    name: str
    description: str | None
    is_archived: bool
    owner: UserSummary
    my_role: ProjectRole = Field(description="What the caller may do in this project")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, access: ProjectAccess) -> ProjectRead:
        project = access.project
        return cls(
            id=project.id,
            name=project.name,
            description=project.description,
            is_archived=project.is_archived,
            owner=UserSummary.model_validate(project.owner),
            my_role=access.role,
            created_at=project.created_at,
            updated_at=project.updated_at,
        )


class ProjectSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str


class MemberCreate(RequestModel):
    email: Email
    role: MemberRole


class MemberUpdate(RequestModel):
    role: MemberRole


class MemberRead(BaseModel):
    user: UserSummary
    role: Literal["owner", "editor", "viewer"]
    added_at: datetime
