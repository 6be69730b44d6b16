"""The accounts' declarations about the read cache (see core.cache_contract).

Sessions and one-time tokens are never cached; the cached principal is, and shows the
account, so a write that changes the user row bumps its `auth` counter.
"""

from __future__ import annotations

from taskflow.core.cache_contract import Counter, DomainCache, invalidates, nothing_cached

_ROW = "the principal: the user row changes"
_LOGIN = "the principal, when a login rehashes the password or clears failed attempts"
CACHE = DomainCache(
    writes={
        "register": nothing_cached("a new account: nothing cached shows it yet"),
        "login": invalidates(Counter.AUTH, why=_LOGIN),
        "login_with_form": invalidates(Counter.AUTH, why=_LOGIN),
        "refresh_tokens": nothing_cached("refresh tokens are never cached"),
        "logout": nothing_cached("refresh tokens are never cached"),
        "change_password": invalidates(Counter.AUTH, why=_ROW),
        "request_password_reset": nothing_cached("one-time tokens are never cached"),
        "confirm_password_reset": invalidates(Counter.AUTH, why=_ROW),
        "verify_email": invalidates(Counter.AUTH, why=_ROW),
        "resend_verification": nothing_cached("one-time tokens are never cached"),
    },
)
