"""Strong ETags from a version column, If-Match preconditions (RFC 9110), and writes of
versioned rows that fail as a precondition when another request changed the row first."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from taskflow.core.errors import PreconditionFailed

CHANGED_MEANWHILE = "The resource was changed by another request; read it again"


def etag(version: int) -> str:
    return f'"{version}"'


def _listed_tags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def check_if_match(if_match: str | None, version: int) -> None:
    """Raise 412 unless If-Match is absent, '*', or lists the current strong ETag.

    Weak tags (W/"...") never match: If-Match uses the strong comparison.
    """
    if if_match is None:
        return
    tags = _listed_tags(if_match)
    if "*" in tags or etag(version) in tags:
        return
    raise PreconditionFailed(
        "The resource has changed since it was read (If-Match does not match its ETag)"
    )


async def flush_versioned(session: AsyncSession) -> None:
    """Flush; a row changed by someone else since it was read is a failed precondition."""
    try:
        await session.flush()
    except StaleDataError:
        raise PreconditionFailed(CHANGED_MEANWHILE) from None
