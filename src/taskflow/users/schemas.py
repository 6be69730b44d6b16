from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from taskflow.core.types import (
    Email,
    Flag,
    Name,
    Password,
    RequestModel,
    check_password_policy,
    left_out,
)
from taskflow.users.models import Role

__all__ = [
    "AdminUserCreate",
    "AdminUserUpdate",
    "Email",
    "FullName",
    "Password",
    "ProfileUpdate",
    "RequestModel",
    "UserCreate",
    "UserRead",
    "UserSummary",
    "check_password_policy",
    "left_out",
]

FullName = Name


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    full_name: str
    role: Role
    is_active: bool
    is_verified: bool
    created_at: datetime
    updated_at: datetime


class UserCreate(RequestModel):
    email: Email
    password: Password
    full_name: FullName


class AdminUserCreate(UserCreate):
    role: Role = Role.USER


class ProfileUpdate(RequestModel):
    """Fields left out are left as they are; null is not a value for any of them."""

    full_name: FullName = left_out()
    email: Email = left_out()


class AdminUserUpdate(ProfileUpdate):
    role: Role = left_out()
    is_active: Flag = left_out()


class UserSummary(BaseModel):
    """A user as shown inside other resources (owner, assignee, member)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    full_name: str
