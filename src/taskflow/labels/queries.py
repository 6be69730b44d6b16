"""Label statement builders: the labels of a project, and the labels tasks carry."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, bindparam, cast, delete, func, insert, select

from taskflow.core.db import BigIntId, RowLock, locked
from taskflow.core.sql_functions import comma_joined
from taskflow.labels.models import Label, TaskLabel

_PROJECT = bindparam("project_id", type_=BigIntId)
_LABEL_IDS: Any = bindparam("label_ids", expanding=True)
_TASK_IDS: Any = bindparam("task_ids", expanding=True)
BY_NAME = (func.lower(Label.name), Label.id)

LABELS_OF_PROJECT = select(Label).where(Label.project_id == _PROJECT).order_by(*BY_NAME)

LABEL_OF_PROJECT = select(Label).where(
    Label.project_id == _PROJECT, Label.id == bindparam("label_id", type_=BigIntId)
)
# The label, locked until the request ends: a change or a delete waits for the one before it
# and reads the row as it left it (its version is what If-Match is compared with). A change
# takes NO KEY UPDATE, so tasks may still be labelled with it meanwhile; a delete takes all.
LABEL_TO_CHANGE = locked(LABEL_OF_PROJECT, Label, RowLock.NO_KEY_UPDATE)
LABEL_TO_DELETE = locked(LABEL_OF_PROJECT, Label, RowLock.UPDATE)

# Another label of the project with this name, whatever its case.
SAME_NAME = select(Label.id).where(
    Label.project_id == _PROJECT,
    func.lower(Label.name) == func.lower(bindparam("name", type_=Label.name.type)),
    Label.id != bindparam("label_id", type_=BigIntId),
)

# (id, name, color) of the labels among `label_ids` that are the project's, locked against
# a delete until the task that will carry them is written.
LABELS_AMONG = locked(
    select(Label.id, Label.name, Label.color).where(
        Label.project_id == _PROJECT, Label.id.in_(_LABEL_IDS)
    ),
    Label,
    RowLock.KEY_SHARE,
)

UNLABEL_TASKS = delete(TaskLabel).where(TaskLabel.task_id.in_(_TASK_IDS))
UNLABEL_TASKS_OF = delete(TaskLabel).where(
    TaskLabel.task_id.in_(_TASK_IDS), TaskLabel.label_id.in_(_LABEL_IDS)
)
LABEL_TASK = insert(TaskLabel)

# The (task, label) pairs among the tasks and labels that do not exist yet.
_EXISTING = select(TaskLabel.task_id, TaskLabel.label_id).where(
    TaskLabel.task_id.in_(_TASK_IDS), TaskLabel.label_id.in_(_LABEL_IDS)
)
EXISTING_PAIRS = _EXISTING

_SOURCE = Label.__table__.alias("source_label")
_TARGET = Label.__table__.alias("target_label")
# For tasks moving to the project `project_id`: (task_id, label_id) of the target's labels
# named as the labels (of another project) the tasks carry now.
CARRIED_LABELS = (
    select(TaskLabel.task_id, _TARGET.c.id)
    .join(_SOURCE, _SOURCE.c.id == TaskLabel.label_id)
    .join(
        _TARGET,
        (_TARGET.c.project_id == _PROJECT)
        & (func.lower(_TARGET.c.name) == func.lower(_SOURCE.c.name)),
    )
    .where(TaskLabel.task_id.in_(_TASK_IDS), _SOURCE.c.project_id != _PROJECT)
)


def carried_labels_code(task_id: Any) -> Any:
    """SQL: the labels the task `task_id` (a column of the embedding statement) carries, as
    one string that `service.decode_labels` reads: "<id>:<length of name>:<color><name>"
    for each, joined by ",". Lets a statement that reads a task read its labels too."""
    code = (
        cast(TaskLabel.label_id, String)
        + ":"
        + cast(func.length(Label.name), String)
        + ":"
        + Label.color
        + Label.name
    )
    return (
        select(comma_joined(code))
        .select_from(TaskLabel)
        .join(Label, Label.id == TaskLabel.label_id)
        .where(TaskLabel.task_id == task_id)
        .scalar_subquery()
    )


# The labels one task carries, as carried_labels_code gives them.
LABELS_OF_TASK = select(carried_labels_code(bindparam("task_id", type_=BigIntId)))
