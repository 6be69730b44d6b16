"""The activity event log: what happened in a project, by whom, read newest first by id.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 18:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "activity_events",
        sa.Column("id", _ID, nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("actor_id", _ID, nullable=True),
        sa.Column("project_id", _ID, nullable=False),
        sa.Column("task_id", _ID, nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_activity_events_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_events")),
    )
    op.create_index("ix_activity_events_project_id_id", "activity_events", ["project_id", "id"])
    op.create_index("ix_activity_events_task_id_id", "activity_events", ["task_id", "id"])
    op.create_index(op.f("ix_activity_events_actor_id"), "activity_events", ["actor_id"])


def downgrade() -> None:
    op.drop_table("activity_events")  # its indexes go with it
