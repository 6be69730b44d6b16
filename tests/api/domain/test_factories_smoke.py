from httpx import AsyncClient

from tests.factories import DomainFactory


async def test_member_sees_shared_project_and_its_tasks(
    client: AsyncClient, make: DomainFactory
) -> None:
    owner, member = await make(), await make()
    project = await make.project(owner)
    await make.member(project, member, "viewer")
    await make.tasks(project, 3)
    listed = await client.get("/api/v1/tasks", headers=make.headers(member))
    assert listed.status_code == 200
    assert listed.headers["X-Total-Count"] == "3"
    got = await client.get(f"/api/v1/projects/{project.id}", headers=make.headers(member))
    assert got.json()["my_role"] == "viewer"
