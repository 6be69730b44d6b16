"""The domains of the API, in one list: adding a domain is adding it here.

Each domain brings its routers (included under /api/v1 by main.create_app, which also tells
each router the prefix it is served under: core.deps.DomainRouter.served_under; a domain
whose routes lie under two prefixes has one router for each) and its
declarations about the read cache (core.cache_contract.DomainCache), collected into one
contract that the app installs on its cache. A domain with write routes must declare each
of them there: tests/integration/test_cache_contract.py fails on any it does not know.
"""

from __future__ import annotations

from dataclasses import dataclass

from taskflow.admin.router import router as admin_router
from taskflow.api_keys.cache import CACHE as API_KEYS_CACHE
from taskflow.api_keys.router import router as api_keys_router
from taskflow.audit.router import router as audit_router
from taskflow.auth.cache import CACHE as AUTH_CACHE
from taskflow.auth.router import router as auth_router
from taskflow.comments.cache import CACHE as COMMENTS_CACHE
from taskflow.comments.router import router as comments_router
from taskflow.comments.router import task_comments_router
from taskflow.core.cache_contract import CacheContract, DomainCache
from taskflow.core.deps import DomainRouter
from taskflow.labels.cache import CACHE as LABELS_CACHE
from taskflow.labels.router import router as labels_router
from taskflow.projects.cache import CACHE as PROJECTS_CACHE
from taskflow.projects.router import router as projects_router
from taskflow.statuses.cache import CACHE as STATUSES_CACHE
from taskflow.statuses.router import router as statuses_router
from taskflow.tasks.cache import CACHE as TASKS_CACHE
from taskflow.tasks.router import board_router
from taskflow.tasks.router import router as tasks_router
from taskflow.users.cache import CACHE as USERS_CACHE
from taskflow.users.router import router as users_router


@dataclass(frozen=True, slots=True)
class Domain:
    name: str
    routers: tuple[DomainRouter, ...]
    cache: DomainCache


# The most used first: FastAPI tries the routers in this order, each route of each in
# turn, so a request to a later router first fails to match every route before it. A
# router with a prefix is only tried for paths under it (DomainRouter.served_under); one
# without (audit) is tried for every path that reaches it.
DOMAINS: tuple[Domain, ...] = (
    Domain("tasks", (tasks_router, board_router), TASKS_CACHE),
    Domain("projects", (projects_router,), PROJECTS_CACHE),
    Domain("comments", (task_comments_router, comments_router), COMMENTS_CACHE),
    Domain("labels", (labels_router,), LABELS_CACHE),
    Domain("statuses", (statuses_router,), STATUSES_CACHE),
    Domain("users", (users_router,), USERS_CACHE),
    Domain("auth", (auth_router,), AUTH_CACHE),
    Domain("api_keys", (api_keys_router,), API_KEYS_CACHE),
    # Reads only: nothing they do is cached or changes what is.
    Domain("audit", (audit_router,), DomainCache()),
    Domain("admin", (admin_router,), DomainCache()),
)

CACHE_CONTRACT = CacheContract.collect(domain.cache for domain in DOMAINS)
