"""The API keys' declarations about the read cache (see core.cache_contract).

A key's principal is cached under the key's hash and retired through its owner's `auth`
counter.
"""

from __future__ import annotations

from taskflow.core.cache_contract import Counter, DomainCache, invalidates, nothing_cached

CACHE = DomainCache(
    writes={
        "create_api_key": nothing_cached("a new key: no principal is cached for it yet"),
        "delete_api_key": invalidates(Counter.AUTH, why="the key's principal stops at once"),
    },
)
