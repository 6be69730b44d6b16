"""The comments' declarations about the read cache (see core.cache_contract).

Comments themselves are not cached. A task's cached views carry its comment_count, and a
project's cached reads may show its activity, so every comment write bumps the counter of
the task's project.
"""

from __future__ import annotations

from taskflow.core.cache_contract import Counter, DomainCache, invalidates

_THE_PROJECT = "the task's project: its views carry comment_count, its activity the event"
CACHE = DomainCache(
    writes={
        "create_comment": invalidates(Counter.PROJECT, why=_THE_PROJECT),
        "update_comment": invalidates(Counter.PROJECT, why=_THE_PROJECT),
        "delete_comment": invalidates(Counter.PROJECT, why=_THE_PROJECT),
    },
)
