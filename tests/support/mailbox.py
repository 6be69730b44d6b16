"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from typing import Any

from aiosmtpd.controller import Controller

_TOKEN_IN_LINK = re.compile(r"/(?P<path>[a-z-]+)\?token=(?P<token>[A-Za-z0-9_\-]+)")


@dataclass(frozen=True)
class ReceivedEmail:
    sender: str
    to: list[str]
    subject: str
    body: str

    def link_token(self, path: str) -> str:
        """The token of the first link to FRONTEND_URL/<path>?token=..."""
        for match in _TOKEN_IN_LINK.finditer(self.body):
            if match["path"] == path:
                return match["token"]
        raise AssertionError(f"no /{path}?token= link in: {self.body!r}")


class Mailbox:
    def __init__(self) -> None:
        self._messages: list[ReceivedEmail] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        body = parsed.get_body(preferencelist=("plain",))
        with self._lock:
            self._messages.append(
                ReceivedEmail(
                    sender=envelope.mail_from,
                    to=list(envelope.rcpt_tos),
                    subject=str(parsed["Subject"]),
                    body=body.get_content() if body is not None else "",
                )
            )
        return "250 Message accepted"

    @property
    def messages(self) -> list[ReceivedEmail]:
        with self._lock:
            return list(self._messages)

    def to(self, address: str) -> list[ReceivedEmail]:
        return [message for message in self.messages if address in message.to]

    def last_to(self, address: str) -> ReceivedEmail:
        received = self.to(address)
        assert received, f"no email to {address}; got {[m.to for m in self.messages]}"
        return received[-1]

    async def wait_for(self, address: str, *, count: int = 1, seconds: float = 10) -> ReceivedEmail:
        """The newest email to the address once `count` have arrived (a real server sends after
        answering, so its mail comes a moment after the response)."""
        deadline = time.monotonic() + seconds
        while len(self.to(address)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"fewer than {count} emails to {address} after {seconds}s")
            await asyncio.sleep(0.02)
        return self.to(address)[-1]

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()
