"""Input types whose JSON Schema says exactly what the API accepts.

Every rule a validator enforces is also in the schema (a pattern, a length, a format), so
a client or a schema-driven fuzzer can tell valid input from invalid without guessing.
The patterns use only syntax that JSON Schema (ECMA-262), Python and Rust regexes read
alike: explicit character classes, no \\s, no lookarounds.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from fastapi import Query
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
)

# The largest id the API takes: the largest integer a JSON number (a double) holds exactly.
MAX_ID = 2**53 - 1


def _json_integer(value: object) -> object:
    """An integer as JSON Schema has it: 5 or 5.0, never "5" or true."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("must be an integer")
        return int(value)
    return value


# Body numbers and booleans are taken as JSON gives them: no "5" or true for 5, no 1 for true.
Flag = Annotated[bool, Strict()]
JSON_INTEGER = BeforeValidator(_json_integer)
Count = Annotated[int, JSON_INTEGER]
EntityId = Annotated[int, Field(ge=1, le=MAX_ID), JSON_INTEGER]


class RequestModel(BaseModel):
    """Request bodies refuse unknown fields (no mass assignment) and take JSON types as they
    are: no "5" for 5, no true for 1."""

    model_config = ConfigDict(extra="forbid")


def left_out() -> Any:
    """The default of a PATCH field: leaving it out keeps the value; null is not a value
    (the OpenAPI document drops the default, see core.openapi)."""
    return Field(default=None)


# Trimmed from both ends of names and titles: ASCII whitespace.
TRIMMED = " \t\n\r\x0b\x0c"
# No NUL anywhere (PostgreSQL text cannot hold it) and at least one character to keep.
_NOT_BLANK = r"^[^\x00]*[^\x00 \t\n\r\x0b\x0c][^\x00]*$"
_NO_NUL = r"^[^\x00]*$"


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _not_blank_trimmed(value: str) -> str:
    trimmed = _no_nul(value).strip(TRIMMED)
    if not trimmed:
        raise ValueError("must not be blank")
    return trimmed


def _no_nul_query(value: str | None) -> str | None:
    return None if value is None else _no_nul(value)


# Names and titles: 1 to N characters, not only whitespace, stored trimmed. The length is
# checked on what was sent, as the schema says, before trimming. The patterns are for the
# schema; the validators say in words what is wrong.
ShortName = Annotated[
    str,
    Field(min_length=1, max_length=100, json_schema_extra={"pattern": _NOT_BLANK}),
    AfterValidator(_not_blank_trimmed),
]
Name = Annotated[
    str,
    Field(min_length=1, max_length=200, json_schema_extra={"pattern": _NOT_BLANK}),
    AfterValidator(_not_blank_trimmed),
]
# Descriptions: up to N characters, stored as sent.
Description = Annotated[
    str, Field(max_length=5000, json_schema_extra={"pattern": _NO_NUL}), AfterValidator(_no_nul)
]
LongDescription = Annotated[
    str,
    Field(max_length=10_000, json_schema_extra={"pattern": _NO_NUL}),
    AfterValidator(_no_nul),
]
_SEARCH_LIMITS: dict[str, Any] = {
    "max_length": 200,
    "json_schema_extra": {"pattern": _NO_NUL},
    "description": "Text to find, case-insensitively",
}
SearchQuery = Annotated[str | None, Query(**_SEARCH_LIMITS), AfterValidator(_no_nul_query)]
# The same, as a field of a query parameter model.
SearchField = Annotated[str | None, Field(**_SEARCH_LIMITS), AfterValidator(_no_nul_query)]


# --- passwords ----------------------------------------------------------------------------

PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128
# A "letter" is an ASCII letter or any non-ASCII character (so Cyrillic, Greek or CJK
# passwords qualify); a digit is 0-9. One of each, in either order.
_LETTER = r"[^\x00-\x40\x5b-\x60\x7b-\x7f]"
# Any character but NUL, which no text may hold.
_ANY = r"[^\x00]*"
PASSWORD_PATTERN = f"^(?:{_ANY}{_LETTER}{_ANY}[0-9]{_ANY}|{_ANY}[0-9]{_ANY}{_LETTER}{_ANY})$"
_PASSWORD_RULE = re.compile(PASSWORD_PATTERN)


def check_password_policy(password: str) -> str:
    if not _PASSWORD_RULE.match(_no_nul(password)):
        raise ValueError("password must contain at least one letter and one digit")
    return password


Password = Annotated[
    str,
    Field(
        min_length=PASSWORD_MIN_LENGTH,
        max_length=PASSWORD_MAX_LENGTH,
        json_schema_extra={"pattern": PASSWORD_PATTERN},
        description="8-128 characters with at least one letter and one digit",
    ),
    AfterValidator(check_password_policy),
]


# A password to check against the stored hash (logging in, confirming a change): any text
# but NUL, up to a bound that keeps hashing cheap.
PasswordAttempt = Annotated[
    str,
    Field(min_length=1, max_length=1024, json_schema_extra={"pattern": _NO_NUL}),
    AfterValidator(_no_nul),
]
# An opaque token from a link or a login: text without NUL.
OpaqueToken = Annotated[
    str,
    Field(min_length=1, max_length=512, json_schema_extra={"pattern": _NO_NUL}),
    AfterValidator(_no_nul),
]


# --- emails -------------------------------------------------------------------------------


def _email(value: str) -> str:
    """A valid address at a real domain (not a reserved one such as .test), lower-cased."""
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError as error:
        raise ValueError(f"value is not a valid email address: {error}") from None
    return checked.normalized.lower()


def _case_free(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in word)


# The schema names the reserved domains the validator refuses, so clients know too.
_RESERVED_DOMAINS = "|".join(_case_free(name) for name in SPECIAL_USE_DOMAIN_NAMES)
Email = Annotated[
    str,
    Field(
        max_length=320,
        json_schema_extra={
            "format": "email",
            "not": {"pattern": f"[.@](?:{_RESERVED_DOMAINS})$"},
        },
    ),
    AfterValidator(_email),
]


# --- times --------------------------------------------------------------------------------


_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
# What no date-time may look like: year 0, or a non-zero offset on the calendar's first or
# last day, where converting to UTC could leave years 1-9999 (the range of Python's datetime,
# which reads and writes every stored time). Declared as a `not` pattern, like the emails'.
_OUTSIDE_CALENDAR = (
    r"^(?:0000-|(?:0001-01-01|9999-12-31)[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"[+-](?:(?:0[1-9]|[1-9][0-9]):[0-9]{2}|[0-9]{2}:(?:0[1-9]|[1-9][0-9]))$)"
)
CALENDAR_RULE = (
    "must be from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z, and given in UTC (Z) "
    "on those first and last days"
)


def _rfc3339(value: object) -> object:
    # Pydantic alone would also take a bare number as a Unix timestamp, or a date alone.
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError("must be an RFC 3339 date-time with an offset, e.g. 2026-05-01T09:00:00Z")
    return value


def _to_utc(value: datetime) -> datetime:
    # On the first and last day an offset could carry the UTC value out of the calendar
    # (9999-12-31T23:00:00-05:00 is in year 10000), where no stored time can go.
    if value.utcoffset() and value.date() in (date.min, date.max):
        raise ValueError(CALENDAR_RULE)
    return value.astimezone(UTC)


# An RFC 3339 date-time with its offset ("2026-05-01T09:00:00Z"), kept in UTC; its UTC value
# is always within years 1-9999, so both databases store and compare it.
Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_rfc3339),
    AfterValidator(_to_utc),
    Field(json_schema_extra={"not": {"pattern": _OUTSIDE_CALENDAR}}),
]
