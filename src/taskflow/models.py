"""Every table's model, imported in one place for Alembic and the tests."""

from taskflow.activity.models import ActivityEvent
from taskflow.api_keys.models import ApiKey
from taskflow.audit.models import AuditEntry
from taskflow.comments.models import Comment
from taskflow.core.db import Base
from taskflow.core.idempotency import IdempotencyRecord
from taskflow.labels.models import Label, TaskLabel
from taskflow.projects.models import Project, ProjectMember
from taskflow.statuses.models import Status
from taskflow.tasks.models import Task
from taskflow.users.models import OneTimeToken, RefreshToken, User

__all__ = [
    "ActivityEvent",
    "ApiKey",
    "AuditEntry",
    "Base",
    "Comment",
    "IdempotencyRecord",
    "Label",
    "OneTimeToken",
    "Project",
    "ProjectMember",
    "RefreshToken",
    "Status",
    "Task",
    "TaskLabel",
    "User",
]
