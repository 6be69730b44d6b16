"""Demo data for trying the API: users, two shared projects, tasks in every state."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.background import BackgroundTasks

from taskflow.comments import service as comments_service
from taskflow.config import Settings
from taskflow.core import clock
from taskflow.core.db import Database
from taskflow.core.email import Mailer, create_email_sender
from taskflow.core.security import PasswordHasher
from taskflow.identity.principal import Principal
from taskflow.labels import service as labels_service
from taskflow.projects import service as projects_service
from taskflow.projects.models import MemberRole, Project
from taskflow.tasks import creation as tasks_creation
from taskflow.tasks import service as tasks_service
from taskflow.users import service as users_service
from taskflow.users.models import Role, User, normalise_email

DEMO_PASSWORD = "taskflow-demo-1"  # noqa: S105 - published in the README for trying the API
DEMO_USERS = (
    ("admin@example.com", "Ada Admin", Role.ADMIN),
    ("alice@example.com", "Alice Example", Role.USER),
    ("bob@example.com", "Bob Example", Role.USER),
    ("carol@example.com", "Carol Example", Role.USER),
)


@dataclass(frozen=True)
class DemoTask:
    title: str
    priority: int
    due_in_days: int | None  # negative: already overdue
    done: bool = False
    assignee: str | None = None
    # (author's email, body), oldest first.
    comments: tuple[tuple[str, str], ...] = ()
    labels: tuple[str, ...] = ()
    parent: str | None = None  # the title of a task listed before it


@dataclass(frozen=True)
class DemoProject:
    name: str
    description: str
    owner: str
    members: dict[str, MemberRole] = field(default_factory=dict)
    tasks: tuple[DemoTask, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)  # name -> colour


DEMO_PROJECTS = (
    DemoProject(
        name="Website relaunch",
        description="The new public site, live before the spring campaign.",
        owner="alice@example.com",
        members={"bob@example.com": MemberRole.EDITOR, "carol@example.com": MemberRole.VIEWER},
        labels={"Copy": "#8E44AD", "Design": "#1E90FF", "Bug": "#D73A4A"},
        tasks=(
            DemoTask("Agree on the sitemap", 4, -10, done=True, assignee="alice@example.com"),
            DemoTask(
                "Write the landing page copy",
                5,
                -2,
                assignee="bob@example.com",
                labels=("Copy",),
                comments=(
                    ("alice@example.com", "Can we keep the hero text under **12 words**?"),
                    ("bob@example.com", "Yes: draft in the shared folder, two options."),
                ),
            ),
            DemoTask(
                "Hero section",
                4,
                1,
                labels=("Copy", "Design"),
                parent="Write the landing page copy",
            ),
            DemoTask("Pricing table", 3, 4, done=True, parent="Write the landing page copy"),
            DemoTask("Pick the photo set", 3, -1, labels=("Design",)),
            DemoTask("Set up redirects from old URLs", 4, 5, assignee="bob@example.com"),
            DemoTask("Accessibility review", 3, 12, assignee="alice@example.com"),
            DemoTask("Launch announcement", 2, 20),
        ),
    ),
    DemoProject(
        name="Office move",
        description="Everything for moving to the new floor in March.",
        owner="bob@example.com",
        members={"alice@example.com": MemberRole.VIEWER},
        tasks=(
            DemoTask("Book the movers", 5, -5, done=True, assignee="bob@example.com"),
            DemoTask(
                "Label every desk",
                2,
                3,
                comments=(("bob@example.com", "Labels arrive Monday; numbering as on the plan."),),
            ),
            DemoTask("Order the new chairs", 3, -3, assignee="bob@example.com"),
            DemoTask("Plan the housewarming", 1, None),
        ),
    ),
)


@dataclass
class SeedReport:
    """What a run did, line by line, and which demo accounts it made (only those have the
    demo password because of it)."""

    lines: list[str] = field(default_factory=list)
    created_users: list[str] = field(default_factory=list)
    existing_users: list[str] = field(default_factory=list)

    def summary(self) -> list[str]:
        if not self.created_users:
            return [
                "No demo account was made now; accounts that were already there keep their "
                "passwords."
            ]
        lines = [f"Demo password of {', '.join(self.created_users)}: {DEMO_PASSWORD}"]
        if self.existing_users:
            lines.append(
                f"Already there and left as they are (passwords unchanged): "
                f"{', '.join(self.existing_users)}"
            )
        return lines


async def _demo_user(
    session: AsyncSession,
    settings: Settings,
    mailer: Mailer,
    hasher: PasswordHasher,
    email: str,
    full_name: str,
    role: Role,
    report: SeedReport,
) -> User | None:
    """The demo user made now, or None when an account with this email exists: that account
    is never changed, and the demo data does not use it."""
    if await users_service.email_exists(session=session, email=normalise_email(email)):
        report.lines.append(f"user     {email:<22} exists, left as it is")
        report.existing_users.append(email)
        return None
    user = await users_service.create_user(
        session=session,
        hasher=hasher,
        settings=settings,
        mailer=mailer,
        email=email,
        password=DEMO_PASSWORD,
        full_name=full_name,
        role=role,
        verified=True,
    )
    report.lines.append(f"user     {email:<22} created ({role.value})")
    report.created_users.append(email)
    return user


async def _project_exists(session: AsyncSession, spec: DemoProject) -> bool:
    owner_id = select(User.id).where(User.email == normalise_email(spec.owner)).scalar_subquery()
    found = await session.scalar(
        select(Project.id).where(Project.owner_id == owner_id, Project.name == spec.name)
    )
    return found is not None


async def _demo_project(
    session: AsyncSession, spec: DemoProject, users: dict[str, User], report: SeedReport
) -> None:
    if await _project_exists(session, spec):
        report.lines.append(f"project  {spec.name:<22} exists")
        return
    owner = users.get(spec.owner)
    if owner is None:
        report.lines.append(f"project  {spec.name:<22} skipped: its owner {spec.owner} exists")
        return
    principal = Principal(user=owner)
    access = await projects_service.create_project(
        session=session, principal=principal, name=spec.name, description=spec.description
    )
    for email, role in spec.members.items():
        if email in users:
            await projects_service.add_member(
                session=session, access=access, actor_id=owner.id, email=email, role=role
            )
    label_ids = {}
    for name, color in spec.labels.items():
        label = await labels_service.create_label(
            session=session, access=access, actor_id=owner.id, name=name, color=color
        )
        label_ids[name] = label.id
    task_ids: dict[str, int] = {}
    now = clock.now()
    for task_spec in spec.tasks:
        assignee = users.get(task_spec.assignee) if task_spec.assignee else None
        task = await tasks_creation.create_task(
            session=session,
            principal=principal,
            project_id=access.project.id,
            title=task_spec.title,
            description=None,
            priority=task_spec.priority,
            due_date=None
            if task_spec.due_in_days is None
            else now + timedelta(days=task_spec.due_in_days),
            assignee_id=assignee.id if assignee else None,
            parent_id=task_ids[task_spec.parent] if task_spec.parent else None,
            label_ids=[label_ids[name] for name in task_spec.labels],
        )
        for author, body in task_spec.comments:
            if author in users:
                await comments_service.create_comment(
                    session=session,
                    principal=Principal(user=users[author]),
                    task_id=task["id"],
                    body=body,
                )
        task_ids[task_spec.title] = task["id"]
        if task_spec.done:
            await tasks_service.update_task(
                session=session,
                principal=principal,
                task_id=task["id"],
                changes={"is_completed": True},
                if_match=None,
            )
    left_out = sorted(
        {email for email in spec.members if email not in users}
        | {task.assignee for task in spec.tasks if task.assignee and task.assignee not in users}
    )
    note = f" (without the existing {', '.join(left_out)})" if left_out else ""
    report.lines.append(f"project  {spec.name:<22} created with {len(spec.tasks)} tasks{note}")


async def seed(settings: Settings) -> SeedReport:
    """Create what is missing of the demo data. An existing account is never changed nor
    given demo projects, memberships or tasks."""
    database = Database(settings)
    background = BackgroundTasks()
    mailer = Mailer(create_email_sender(settings), background)
    hasher = PasswordHasher(settings.password_hash_concurrency)
    report = SeedReport()
    try:
        async with database.sessionmaker() as session:
            users: dict[str, User] = {}
            for email, full_name, role in DEMO_USERS:
                user = await _demo_user(
                    session, settings, mailer, hasher, email, full_name, role, report
                )
                if user is not None:
                    users[email] = user
            for spec in DEMO_PROJECTS:
                await _demo_project(session, spec, users, report)
            await session.commit()
        await background()
    finally:
        await database.dispose()
    return report
