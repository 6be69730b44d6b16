"""Tasks are listed by project, newest first, from the index alone: (project_id, created_at, id).

The list's page is ordered by created_at and then id; with the id in the index the page is
chosen by an index-only scan instead of fetching every visible task's row for its id. The
new index serves everything the old (project_id, created_at) one did, which it replaces.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 19:45:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_tasks_project_id_created_at_id", "tasks", ["project_id", "created_at", "id"]
    )
    op.drop_index("ix_tasks_project_id_created_at", table_name="tasks")


def downgrade() -> None:
    op.create_index("ix_tasks_project_id_created_at", "tasks", ["project_id", "created_at"])
    op.drop_index("ix_tasks_project_id_created_at_id", table_name="tasks")
