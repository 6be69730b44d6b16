"""The security headers every answer carries, and the Content-Security-Policy of the
self-hosted docs pages (RequestContextMiddleware adds them to each response)."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping

# What an API answer needs: nothing may load, frame it, or be submitted from it.
API_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
STRICT_TRANSPORT_SECURITY = "max-age=63072000; includeSubDomains"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def inline_script_hashes(html: str) -> list[str]:
    """CSP source expressions ('sha256-...') for the inline <script> blocks of a page."""
    digests = (hashlib.sha256(script.encode()).digest() for script in _INLINE_SCRIPT.findall(html))
    return [f"'sha256-{base64.b64encode(digest).decode()}'" for digest in digests]


def docs_content_security_policy(html: str, *, blob_workers: bool = False) -> str:
    """A CSP for a self-hosted docs page (Swagger UI, ReDoc): scripts from this origin and,
    by hash, the inline ones of `html` (so no 'unsafe-inline' for scripts); fetches of the
    schema and "Try it out" calls to this origin only. `blob_workers` lets the page start
    web workers from code it made itself (ReDoc's search index runs in one)."""
    scripts = " ".join(["'self'", *inline_script_hashes(html)])
    workers = "worker-src blob:; " if blob_workers else ""
    return (
        "default-src 'none'; "
        f"script-src {scripts}; "
        f"{workers}"
        # Swagger UI sets style attributes from its scripts, which only 'unsafe-inline' allows.
        "style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; "
        "connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )


class SecurityHeaders:
    """The security headers of a response, by path.

    The API's restrictive Content-Security-Policy goes on everything except the pages named
    in `page_policies` (path -> policy: the docs), which get their own. The header lists
    are built once; a request only picks one.
    """

    def __init__(
        self, *, hsts: bool = False, page_policies: Mapping[str, str] | None = None
    ) -> None:
        common: list[tuple[bytes, bytes]] = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
        ]
        if hsts:
            common.append((b"strict-transport-security", STRICT_TRANSPORT_SECURITY.encode()))
        self._default = (
            *common,
            (b"content-security-policy", API_CONTENT_SECURITY_POLICY.encode()),
        )
        self._by_path = {
            path: (*common, (b"content-security-policy", policy.encode()))
            for path, policy in (page_policies or {}).items()
        }

    def for_path(self, path: str) -> tuple[tuple[bytes, bytes], ...]:
        return self._by_path.get(path, self._default)
