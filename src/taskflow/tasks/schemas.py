from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

from taskflow.core.types import (
    JSON_INTEGER,
    MAX_ID,
    EntityId,
    Flag,
    LongDescription,
    Name,
    RequestModel,
    SearchField,
    Timestamp,
    left_out,
)
from taskflow.labels.schemas import LabelIds, LabelRef
from taskflow.projects.schemas import ProjectSummary
from taskflow.statuses.models import StatusCategory
from taskflow.statuses.schemas import StatusRead, StatusSummary
from taskflow.tasks.models import DEFAULT_PRIORITY, MAX_PRIORITY, MIN_PRIORITY
from taskflow.users.schemas import UserSummary

MAX_BULK_IDS = 100
TaskTitle = Name
TaskDescription = LongDescription
Priority = Annotated[
    int, Field(ge=MIN_PRIORITY, le=MAX_PRIORITY, description="1 (lowest) to 5"), JSON_INTEGER
]
DueDate = Timestamp
TaskStatus = Literal["pending", "completed", "overdue"]
TaskSort = Literal[
    "created_at",
    "-created_at",
    "updated_at",
    "-updated_at",
    "due_date",
    "-due_date",
    "priority",
    "-priority",
    "title",
    "-title",
    "position",
]


QueryId = Annotated[int | None, Field(ge=1, le=MAX_ID)]
QueryPriority = Annotated[int | None, Field(ge=MIN_PRIORITY, le=MAX_PRIORITY)]


class TaskListQuery(BaseModel):
    """The filters and sort of a task list: its query parameters, validated as one model
    rather than one by one (the page's own parameters are read apart, hence `ignore`)."""

    model_config = ConfigDict(extra="ignore")

    project_id: QueryId = None
    status: TaskStatus | None = Field(
        default=None,
        description="completed; overdue (open and past due); pending (open, not overdue)",
    )
    assignee_id: QueryId = None
    assignee: Literal["me"] | None = Field(
        default=None, description="'me': tasks assigned to the caller"
    )
    priority: QueryPriority = None
    priority_min: QueryPriority = None
    search: SearchField = None
    due_before: Timestamp | None = Field(default=None, description="Due strictly before")
    due_after: Timestamp | None = Field(default=None, description="Due strictly after")
    status_id: QueryId = None
    status_category: StatusCategory | None = None
    sort: TaskSort = Field(
        default="-created_at",
        description="A leading '-' sorts descending; position: board order (status, then rank)",
    )
    label_id: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(
        default_factory=list,
        max_length=20,
        description="Repeatable: tasks that carry every one of these labels",
    )
    parent_id: QueryId = Field(default=None, description="The direct subtasks of this task")
    top_level: bool | None = Field(
        default=None, description="true: tasks that are no task's subtask; false: subtasks"
    )


class TaskCreate(RequestModel):
    title: TaskTitle
    description: TaskDescription | None = None
    project_id: EntityId
    priority: Priority = DEFAULT_PRIORITY
    due_date: DueDate | None = None
    assignee_id: EntityId | None = Field(
        default=None, description="The owner or a member of the project"
    )
    parent_id: EntityId | None = Field(
        default=None, description="Makes it a subtask of this task of the same project"
    )
    label_ids: LabelIds = Field(
        default_factory=list, description="Labels of the project the task carries"
    )
    status_id: EntityId | None = Field(
        default=None, description="A status of the project; left out: its first not done"
    )


class TaskUpdate(RequestModel):
    """Fields left out keep their value; description, due_date and assignee_id take null."""

    title: TaskTitle = left_out()
    description: TaskDescription | None = left_out()
    priority: Priority = left_out()
    due_date: DueDate | None = left_out()
    assignee_id: EntityId | None = left_out()
    is_completed: Flag = left_out()
    parent_id: EntityId | None = Field(
        default=None, description="A task of the same project, or null for a top-level task"
    )
    label_ids: Annotated[LabelIds, Field(description="Replaces the labels the task carries")] = (
        left_out()
    )
    # A status of the task's project: the task goes to its end.
    status_id: EntityId = left_out()


class SubtaskCounts(BaseModel):
    total: int = Field(description="Direct subtasks")
    done: int = Field(description="Direct subtasks that are completed")


class TaskRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    description: str | None
    priority: int
    is_completed: bool
    completed_at: datetime | None
    due_date: datetime | None
    project: ProjectSummary
    assignee: UserSummary | None
    created_by: UserSummary
    comment_count: int = Field(description="How many comments the task has")
    created_at: datetime
    updated_at: datetime
    parent_id: int | None
    subtask_counts: SubtaskCounts
    labels: list[LabelRef] = Field(description="By name")
    status: StatusSummary
    position: str = Field(description="Opaque rank key: the tasks of a status sort by it")


class BulkUpdateData(RequestModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    is_completed: Flag = left_out()
    priority: Priority = left_out()
    assignee_id: EntityId | None = left_out()
    due_date: DueDate | None = left_out()
    add_label_ids: Annotated[
        LabelIds, Field(description="Labels every task then carries (of every task's project)")
    ] = left_out()
    remove_label_ids: Annotated[LabelIds, Field(description="Labels no task then carries")] = (
        left_out()
    )
    # A status of every task's project: the tasks go to its end; is_completed follows it.
    status_id: EntityId = left_out()

    @model_validator(mode="after")
    def _something_to_change(self) -> BulkUpdateData:
        if not self.model_fields_set:
            raise ValueError("update_data must set at least one field")
        return self


class BulkUpdate(RequestModel):
    task_ids: list[EntityId] = Field(min_length=1, max_length=MAX_BULK_IDS)
    update_data: BulkUpdateData


class BulkUpdateResult(BaseModel):
    updated_count: int = Field(description="Distinct tasks changed (repeated ids count once)")


class TaskMove(RequestModel):
    """Where the task goes: another project, a status (of the target project), and right
    before or after a task of that status; with neither, the end of the status."""

    project_id: EntityId | None = Field(
        default=None, description="Another project (editor on both); left out: the task's own"
    )
    status_id: EntityId | None = Field(
        default=None,
        description="Left out: the task's status, or in another project its first status of"
        " the same category (else its first not done)",
    )
    before_id: EntityId | None = Field(default=None, description="Right before this task")
    after_id: EntityId | None = Field(default=None, description="Right after this task")

    @model_validator(mode="after")
    def _somewhere(self) -> TaskMove:
        if not self.model_fields_set:
            raise ValueError("name project_id, status_id, before_id or after_id")
        if self.before_id is not None and self.after_id is not None:
            raise ValueError("give before_id or after_id, not both")
        return self


class BoardColumn(StatusRead):
    """A status on the board: its first tasks in board order and how many it holds."""

    total: int = Field(description="Tasks in the status")
    tasks: list[TaskRead]


class BoardRead(BaseModel):
    project_id: int
    statuses: list[BoardColumn]
