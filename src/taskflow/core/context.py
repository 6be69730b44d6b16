"""Facts about the current request that code far from the router needs (audit, limits)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass

from starlette.types import Scope

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class RequestContext:
    request_id: str
    client_ip: str | None


current_request: ContextVar[RequestContext | None] = ContextVar("current_request", default=None)


def _is_trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def client_ip(scope: Scope, trusted_proxies: Sequence[Network]) -> str | None:
    """The client's address: the socket peer, unless the peer is a trusted proxy, in which
    case the nearest address in X-Forwarded-For that is not itself a trusted proxy.

    X-Forwarded-For is only believed from a trusted peer; anyone can write the header.
    """
    client = scope.get("client")
    peer: str | None = client[0] if client else None
    if peer is None or not trusted_proxies or not _is_trusted(peer, trusted_proxies):
        return peer
    forwarded = [
        value.decode("latin-1")
        for name, value in scope.get("headers", ())
        if name == b"x-forwarded-for"
    ]
    hops = [hop.strip() for header in forwarded for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted_proxies):
            return hop if _is_address(hop) else peer
    return hops[0] if hops and _is_address(hops[0]) else peer


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
