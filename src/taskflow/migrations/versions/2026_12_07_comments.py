"""Comments on tasks, and each task's comment count (kept by the comments service).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 18:10:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "comments",
        sa.Column("id", _ID, nullable=False),
        sa.Column("task_id", _ID, nullable=False),
        sa.Column("author_id", _ID, nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_comments_task_id_tasks"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_comments_author_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comments")),
    )
    op.create_index(
        "ix_comments_task_id_created_at_id", "comments", ["task_id", "created_at", "id"]
    )
    op.create_index(op.f("ix_comments_author_id"), "comments", ["author_id"])
    # Existing tasks have no comments: 0 is their count.
    op.add_column(
        "tasks",
        sa.Column("comment_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )


def downgrade() -> None:
    # SQLite drops a column in place since 3.35; batch mode would rebuild the table.
    op.drop_column("tasks", "comment_count")
    op.drop_table("comments")  # its indexes go with it
