"""Outgoing email: a console sender for development, SMTP for real, queued after the response."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import urlencode

import aiosmtplib
import structlog
from starlette.background import BackgroundTasks

from taskflow.config import Settings

log = structlog.get_logger("taskflow.email")


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    to: str
    subject: str
    body: str


def frontend_link(settings: Settings, path: str, token: str) -> str:
    """The front end's page at `path` with `token` in its query: what an emailed link opens."""
    return f"{settings.frontend_base}/{path}?{urlencode({'token': token})}"


class EmailSender(Protocol):
    async def send(self, email: OutgoingEmail) -> None: ...


class ConsoleEmailSender:
    """Writes messages to the log. Outside production the body (with its link) is logged too."""

    def __init__(self, *, include_body: bool) -> None:
        self.include_body = include_body

    async def send(self, email: OutgoingEmail) -> None:
        log.info(
            "email_console",
            to=email.to,
            subject=email.subject,
            body=email.body if self.include_body else "[withheld in production]",
        )


class SmtpEmailSender:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def send(self, email: OutgoingEmail) -> None:
        settings = self.settings
        message = EmailMessage()
        message["From"] = settings.email_from
        message["To"] = email.to
        message["Subject"] = email.subject
        message.set_content(email.body)
        await aiosmtplib.send(
            message,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            start_tls=settings.smtp_starttls,
            use_tls=settings.smtp_ssl,
            timeout=settings.smtp_timeout_seconds,
        )


def create_email_sender(settings: Settings) -> EmailSender:
    if settings.email_backend == "smtp":
        return SmtpEmailSender(settings)
    return ConsoleEmailSender(include_body=settings.environment != "production")


async def deliver(sender: EmailSender, email: OutgoingEmail) -> None:
    """Send one message; a failure is logged, never raised into a request."""
    try:
        await sender.send(email)
    except Exception as error:
        log.warning(
            "email_send_failed", to=email.to, subject=email.subject, error=type(error).__name__
        )
    else:
        log.info("email_sent", to=email.to, subject=email.subject)


class Mailer:
    """Queues messages to go out after the response is sent (and so after the commit)."""

    def __init__(self, sender: EmailSender, background: BackgroundTasks) -> None:
        self._sender = sender
        self._background = background

    def queue(self, email: OutgoingEmail) -> None:
        self._background.add_task(deliver, self._sender, email)
