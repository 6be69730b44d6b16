"""The users' declarations about the read cache (see core.cache_contract).

The cached principal shows the user (name, email, role, active flag): every change of the
account bumps its `auth` counter. A change of role or active flag also changes which
projects the user sees; a change of name or email retires every cached read that the
domains declare as naming the user (core.cache_contract.touch_naming_user).
"""

from __future__ import annotations

from taskflow.core.cache_contract import Counter, DomainCache, invalidates, nothing_cached

_SEEN_ELSEWHERE = "the principal; its projects and tasks when the name or email changes"
_ENDED = "the principal; what the user sees"
CACHE = DomainCache(
    writes={
        "create_user": nothing_cached("a new account: nothing cached shows it yet"),
        "update_me": invalidates(Counter.AUTH, Counter.PROJECT, why=_SEEN_ELSEWHERE),
        "update_user": invalidates(
            Counter.AUTH, Counter.VISIBLE, Counter.PROJECT, why=f"{_SEEN_ELSEWHERE}; its role"
        ),
        "deactivate_me": invalidates(Counter.AUTH, Counter.VISIBLE, why=_ENDED),
        "deactivate_user": invalidates(Counter.AUTH, Counter.VISIBLE, why=_ENDED),
    },
)
