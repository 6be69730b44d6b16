"""A version for workflow statuses and labels: their ETag, and what If-Match compares.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 21:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_VERSIONED = ("statuses", "labels")


def upgrade() -> None:
    # Existing rows start at version 1, as new ones do. SQLite adds a column with a constant
    # default in place: no batch mode (which would have to reflect their expression indexes).
    for table in _VERSIONED:
        op.add_column(
            table, sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False)
        )


def downgrade() -> None:
    # SQLite drops a column in place since 3.35; batch mode would rebuild the table.
    for table in reversed(_VERSIONED):
        op.drop_column(table, "version")
