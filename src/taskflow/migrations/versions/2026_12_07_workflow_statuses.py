"""Workflow statuses and board order: the statuses table, tasks.status_id and tasks.position.

Every existing project gets "To do", "In progress" and "Done"; its open tasks go to To do
and its completed ones to Done, ranked in the order they were created.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 19:00:00.000000+00:00
"""

from collections.abc import Sequence
from itertools import groupby

import sqlalchemy as sa
from alembic import op
from fractional_indexing import generate_n_keys_between

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_RANK_KEY = sa.String(length=255).with_variant(sa.String(length=255, collation="C"), "postgresql")
_DEFAULTS = (("To do", "todo", 0), ("In progress", "in_progress", 1), ("Done", "done", 2))


def upgrade() -> None:
    op.create_table(
        "statuses",
        sa.Column("id", _ID, nullable=False),
        sa.Column("project_id", _ID, nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("color", sa.String(length=7), nullable=True),
        sa.CheckConstraint(
            "category IN ('todo', 'in_progress', 'done')", name=op.f("ck_statuses_category")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_statuses_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statuses")),
    )
    op.create_index("ix_statuses_project_id_position", "statuses", ["project_id", "position"])
    op.create_index(
        "uq_statuses_project_id_lower_name",
        "statuses",
        ["project_id", sa.text("lower(name)")],
        unique=True,
    )
    op.add_column("tasks", sa.Column("status_id", _ID, nullable=True))
    op.add_column("tasks", sa.Column("position", _RANK_KEY, nullable=True))

    connection = op.get_bind()
    for name, category, position in _DEFAULTS:
        connection.execute(
            sa.text(
                "INSERT INTO statuses (project_id, name, category, position)"
                " SELECT id, :name, :category, :position FROM projects"
            ),
            {"name": name, "category": category, "position": position},
        )
    connection.execute(
        sa.text(
            "UPDATE tasks SET status_id = (SELECT statuses.id FROM statuses"
            " WHERE statuses.project_id = tasks.project_id AND statuses.category ="
            " CASE WHEN tasks.is_completed THEN 'done' ELSE 'todo' END)"
        )
    )
    rows = connection.execute(
        sa.text("SELECT id, status_id FROM tasks ORDER BY status_id, created_at, id")
    ).all()
    for _, tasks in groupby(rows, key=lambda row: row.status_id):
        ids = [row.id for row in tasks]
        keys = generate_n_keys_between(None, None, len(ids))
        connection.execute(
            sa.text("UPDATE tasks SET position = :position WHERE id = :id"),
            [{"id": task_id, "position": key} for task_id, key in zip(ids, keys, strict=True)],
        )

    with op.batch_alter_table("tasks") as batch:
        batch.alter_column("status_id", existing_type=_ID, nullable=False)
        batch.alter_column("position", existing_type=_RANK_KEY, nullable=False)
        batch.create_foreign_key(
            op.f("fk_tasks_status_id_statuses"), "statuses", ["status_id"], ["id"]
        )
        batch.create_index("ix_tasks_status_id_position", ["status_id", "position"])


def downgrade() -> None:
    # First: SQLite's batch mode reflects the statuses table, and cannot reflect this index.
    op.drop_index("uq_statuses_project_id_lower_name", table_name="statuses")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_index("ix_tasks_status_id_position")
        batch.drop_constraint(op.f("fk_tasks_status_id_statuses"), type_="foreignkey")
        batch.drop_column("position")
        batch.drop_column("status_id")
    op.drop_table("statuses")  # its indexes go with it
