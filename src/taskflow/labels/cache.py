"""The labels' declarations about the read cache (see core.cache_contract).

The list of a project's labels is not cached; tasks show their labels, so every label
write changes the cached task answers of its project.
"""

from __future__ import annotations

from taskflow.core.cache_contract import Counter, DomainCache, invalidates

_TASK_VIEWS = "the project's tasks show their labels"
CACHE = DomainCache(
    writes={
        "create_label": invalidates(Counter.PROJECT, why=_TASK_VIEWS),
        "update_label": invalidates(Counter.PROJECT, why=_TASK_VIEWS),
        "delete_label": invalidates(Counter.PROJECT, why=_TASK_VIEWS),
    },
)
