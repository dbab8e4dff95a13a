"""How a message leaves: an SMS gateway's HTTP API, a 企业微信 group robot, email by SMTP.

Each sender hands over one message and says whether it went (returns), failed for now
(``SendError``, retried with backoff) or failed for good (``SendError(retry=False)``).

**Idempotency.** A worker can die after the gateway accepted a message and before the outbox
recorded it as sent. Only a channel whose receiver drops a repeated key may then be sent
again (``idempotent``): the SMS gateway gets the outbox id as ``Idempotency-Key`` (and as
``id`` in the body), so a repeat within its window is not delivered twice. The 企业微信 robot
and SMTP have no such key, so such a message is not sent again by itself: it is marked
``unknown`` and shown on the page of undelivered messages for a person to decide
(``store.outbox``). Email carries ``Message-ID: <redgrid-outbox-ID@…>``, which mail clients
use to fold a repeat sent by a person's retry.

**The SMS gateway** (a generic JSON API; an adapter for a given vendor maps onto it)::

    POST {REDGRID_SMS_URL}
    X-API-Key: {REDGRID_SMS_KEY}
    Idempotency-Key: redgrid-outbox-{id}
    Content-Type: application/json

    {"id": "redgrid-outbox-{id}", "to": ["13800138000"], "text": "…"}

    2xx: accepted. 429 and 5xx (and no answer): try again later. Other 4xx: refused for good.

**The 企业微信 group robot**: ``POST`` the webhook URL (the contact's address, with its
``key``) ``{"msgtype": "text", "text": {"content": "…"}}``; the answer is JSON and
``errcode`` 0 means sent, anything else failed (tried again with backoff).
"""

from __future__ import annotations

import json
import smtplib
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Protocol

from store.outbox import OutboxMessage


class SendError(Exception):
    """A message not handed over; ``retry`` says whether trying again may help."""

    def __init__(self, message: str, *, retry: bool = True) -> None:
        super().__init__(message)
        self.retry = retry


class Sender(Protocol):
    @property
    def channel(self) -> str: ...

    @property
    def idempotent(self) -> bool:
        """The receiver drops a repeated idempotency key, so a maybe-sent message may be sent again."""
        ...

    def send(self, message: OutboxMessage, text: str, subject: str) -> None: ...


def idempotency_key(message: OutboxMessage) -> str:
    return f"redgrid-outbox-{message.id}"


def _post_json(url: str, body: dict, headers: dict[str, str], timeout: float) -> tuple[int, bytes]:
    """POST JSON; the status and body of any answer (error statuses included), or SendError."""
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json; charset=utf-8", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise SendError(f"no answer from {urllib.parse.urlsplit(url).netloc}: {exc}") from exc


@dataclass(frozen=True)
class SmsGateway:
    """An SMS gateway's HTTP API (the shape in the module docstring)."""

    url: str
    api_key: str
    timeout: float = 10.0
    channel: str = "sms"
    idempotent: bool = True

    def send(self, message: OutboxMessage, text: str, subject: str) -> None:
        key = idempotency_key(message)
        status, _ = _post_json(
            self.url,
            {"id": key, "to": [message.address], "text": text},
            {"X-API-Key": self.api_key, "Idempotency-Key": key},
            self.timeout,
        )
        if 200 <= status < 300:
            return
        raise SendError(f"SMS gateway answered HTTP {status}", retry=status == 429 or status >= 500)


@dataclass(frozen=True)
class WecomRobot:
    """A 企业微信 group robot: the contact's address is the robot's webhook URL."""

    timeout: float = 10.0
    channel: str = "wecom"
    idempotent: bool = False

    def send(self, message: OutboxMessage, text: str, subject: str) -> None:
        status, body = _post_json(
            message.address or "", {"msgtype": "text", "text": {"content": text}}, {}, self.timeout
        )
        if not 200 <= status < 300:
            raise SendError(f"企业微信 robot answered HTTP {status}", retry=status == 429 or status >= 500)
        try:
            answer = json.loads(body)
        except ValueError as exc:
            raise SendError("企业微信 robot answered without JSON") from exc
        code = answer.get("errcode") if isinstance(answer, dict) else None
        if code != 0:
            reason = answer.get("errmsg", "") if isinstance(answer, dict) else ""
            raise SendError(f"企业微信 robot errcode {code}: {str(reason)[:200]}")


@dataclass(frozen=True)
class SmtpMailer:
    """Email by SMTP (STARTTLS when asked, login when a user is given)."""

    host: str
    port: int
    sender: str
    user: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 10.0
    channel: str = "email"
    idempotent: bool = False

    def send(self, message: OutboxMessage, text: str, subject: str) -> None:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.address or ""
        mail["Subject"] = subject
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = f"<{idempotency_key(message)}@{self.sender.rpartition('@')[2] or 'redgrid'}>"
        mail.set_content(text)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.user:
                    smtp.login(self.user, self.password or "")
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            raise SendError(f"mail server refused the address: {exc}", retry=False) from exc
        except smtplib.SMTPResponseException as exc:
            transient = 400 <= exc.smtp_code < 500
            raise SendError(f"mail server answered {exc.smtp_code}", retry=transient) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise SendError(f"mail server {self.host}:{self.port}: {exc}") from exc


__all__ = ["SendError", "Sender", "SmsGateway", "SmtpMailer", "WecomRobot", "idempotency_key"]
