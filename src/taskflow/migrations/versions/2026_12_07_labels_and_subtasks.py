"""Labels of a project and the labels tasks carry; subtasks (tasks.parent_id).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 19:00:00.000000+00:00
"""

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op
from alembic.operations import BatchOperations

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


@contextmanager
def _batch_on_tasks() -> Iterator[BatchOperations]:
    """Batch mode on tasks (SQLite rebuilds the table), which reflects the tables it refers
    to: statuses has an expression index SQLite cannot reflect, and needs none here."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based")
        with op.batch_alter_table("tasks") as batch:
            yield batch


def upgrade() -> None:
    op.create_table(
        "labels",
        sa.Column("id", _ID, nullable=False),
        sa.Column("project_id", _ID, nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("color", sa.String(length=7), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_labels_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_labels")),
    )
    op.create_index(
        "ux_labels_project_id_lower_name",
        "labels",
        ["project_id", sa.text("lower(name)")],
        unique=True,
    )
    op.create_table(
        "task_labels",
        sa.Column("task_id", _ID, nullable=False),
        sa.Column("label_id", _ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["label_id"],
            ["labels.id"],
            name=op.f("fk_task_labels_label_id_labels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name=op.f("fk_task_labels_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("task_id", "label_id", name=op.f("pk_task_labels")),
    )
    op.create_index(op.f("ix_task_labels_label_id"), "task_labels", ["label_id"])
    with _batch_on_tasks() as batch:
        batch.add_column(sa.Column("parent_id", _ID, nullable=True))
        batch.create_foreign_key(
            op.f("fk_tasks_parent_id_tasks"), "tasks", ["parent_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_index(op.f("ix_tasks_parent_id"), ["parent_id"])


def downgrade() -> None:
    with _batch_on_tasks() as batch:
        batch.drop_index(op.f("ix_tasks_parent_id"))
        batch.drop_constraint(op.f("fk_tasks_parent_id_tasks"), type_="foreignkey")
        batch.drop_column("parent_id")
    op.drop_table("task_labels")  # its indexes go with it
    op.drop_table("labels")
