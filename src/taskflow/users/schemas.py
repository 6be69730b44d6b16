from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from taskflow.users.models import Role

PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128
_LETTER = re.compile(r"[^\W\d_]")
_DIGIT = re.compile(r"\d")


def check_password_policy(password: str) -> str:
    if not (_LETTER.search(password) and _DIGIT.search(password)):
        raise ValueError("password must contain at least one letter and one digit")
    return password


def _lower_email(email: str) -> str:
    return email.lower()


Password = Annotated[
    str,
    Field(min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH),
    AfterValidator(check_password_policy),
]
Email = Annotated[EmailStr, Field(max_length=320), AfterValidator(_lower_email)]
FullName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


def _without_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def left_out() -> Any:
    """The default of a PATCH field: leaving it out keeps the value; null is not a value."""
    return Field(default=None, json_schema_extra=_without_default)


class RequestModel(BaseModel):
    """Request bodies refuse unknown fields: no mass assignment."""

    model_config = ConfigDict(extra="forbid")


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
    is_active: bool = left_out()


class UserSummary(BaseModel):
    """A user as shown inside other resources (owner, assignee, member)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    full_name: str
