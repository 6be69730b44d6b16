"""The statuses' declarations about the read cache (see core.cache_contract).

A project's statuses show in every view of its tasks (and on its board): each status write
bumps the project's counter. The status list itself is not cached.
"""

from __future__ import annotations

from taskflow.core.cache_contract import Counter, DomainCache, invalidates

_TASK_VIEWS = "the project's task views show their status"
CACHE = DomainCache(
    writes={
        "create_status": invalidates(Counter.PROJECT, why=_TASK_VIEWS),
        "update_status": invalidates(Counter.PROJECT, why=_TASK_VIEWS),
        "delete_status": invalidates(Counter.PROJECT, why=_TASK_VIEWS),
    },
)
