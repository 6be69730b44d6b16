"""The ceiling: the least a Python server can do to answer GET /users/me on this stack.

Bare Starlette on uvicorn (uvloop, httptools) with one asyncpg pool: it checks that a
bearer token is present, reads the same user row that TaskFlow's /api/v1/users/me returns
with one prepared statement, and writes it as JSON. No ORM, no validation, no middleware,
no token verification. Every TaskFlow figure of the benchmark is a ratio to this one.

    CEILING_DSN=postgresql://... CEILING_USER_ID=1 uvicorn benchmarks.ceiling:app
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

USER_ROW = (
    "SELECT id, email, full_name, role, is_active, is_verified, created_at, updated_at"
    " FROM users WHERE id = $1"
)
pool: Any = None


async def users_me(request: Request) -> Response:
    if not request.headers.get("authorization", "").startswith("Bearer "):
        return Response(b'{"detail":"Not authenticated"}', 401, media_type="application/json")
    async with pool.acquire() as connection:
        row = await connection.fetchrow(USER_ROW, int(os.environ["CEILING_USER_ID"]))
    user = dict(row)
    user["created_at"] = user["created_at"].isoformat()
    user["updated_at"] = user["updated_at"].isoformat()
    return Response(json.dumps(user).encode(), media_type="application/json")


@asynccontextmanager
async def lifespan(_: Starlette) -> AsyncIterator[None]:
    global pool
    pool = await asyncpg.create_pool(os.environ["CEILING_DSN"], min_size=10, max_size=10)
    yield
    await pool.close()


app = Starlette(routes=[Route("/users/me", users_me)], lifespan=lifespan)
