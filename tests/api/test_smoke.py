from httpx import AsyncClient

from tests.factories import UserFactory
from tests.support.mailbox import Mailbox


async def test_register_then_me(client: AsyncClient, mailbox: Mailbox, users: UserFactory) -> None:
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": "New@Example.com", "password": "secret123", "full_name": "New"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["email"] == "new@example.com"
    assert mailbox.last_to("new@example.com").link_token("verify-email")
    user = await users()
    me = await client.get("/api/v1/users/me", headers=users.headers(user))
    assert me.json()["id"] == user.id
