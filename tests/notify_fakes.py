"""Local fake servers for the notification senders: real sockets on loopback, nothing outside.

* ``FakeSmsGateway``: the generic SMS HTTP API of ``services.senders`` (X-API-Key checked);
  answers from a script of statuses (then 200), and, like a real gateway that honours
  ``Idempotency-Key``, delivers a repeated key only once. ``requests`` is every request it
  got, ``delivered`` what it delivered.
* ``FakeWecomRobot``: a 企业微信 group robot webhook (``/cgi-bin/webhook/send?key=…``),
  answering ``{"errcode": …, "errmsg": …}`` from a script of errcodes (then 0); it has no
  idempotency, so ``received`` is every message posted.
* ``FakeSmtp``: an SMTP server (aiosmtpd) keeping every mail it accepts.

Test modules import the fakes before pytest loads this module as a plugin, so its asserts are
not rewritten (PYTEST_DONT_REWRITE says so); it has none.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest

SMS_KEY = "test-sms-key"
WECOM_KEY = "robot-key-1"


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:  # quiet test output
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        headers = {k.lower(): v for k, v in self.headers.items()}  # names are case-insensitive
        status, answer = self.server.fake.answer(self.path, headers, body)  # type: ignore[attr-defined]
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@dataclass
class _HttpFake:
    script: list[Any] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.fake = self  # type: ignore[attr-defined]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    @property
    def base(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        raise NotImplementedError


class FakeSmsGateway(_HttpFake):
    @property
    def url(self) -> str:
        return f"{self.base}/v1/sms"

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        with self.lock:
            data = json.loads(body)
            status = (
                401 if headers.get("x-api-key") != SMS_KEY else self.script.pop(0) if self.script else 200
            )
            self.requests.append({"path": path, "headers": headers, "body": data, "status": status})
            return status, {"accepted": status == 200}

    @property
    def delivered(self) -> list[tuple[str, str]]:
        """(number, text) of each message delivered: a repeated idempotency key only once."""
        seen: set[str] = set()
        out = []
        with self.lock:
            for request in self.requests:
                key = request["headers"].get("idempotency-key")
                if key in seen or request["status"] != 200:
                    continue
                seen.add(key)
                out += [(number, request["body"]["text"]) for number in request["body"]["to"]]
        return out


class FakeWecomRobot(_HttpFake):
    def webhook(self, key: str = WECOM_KEY) -> str:
        return f"{self.base}/cgi-bin/webhook/send?key={key}"

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        with self.lock:
            data = json.loads(body)
            key = parse_qs(urlsplit(path).query).get("key", [""])[0]
            code = self.script.pop(0) if self.script else 0
            self.requests.append({"key": key, "body": data, "errcode": code})
            return 200, {"errcode": code, "errmsg": "ok" if code == 0 else "invalid"}

    @property
    def received(self) -> list[tuple[str, str]]:
        """(robot key, text) of every message the robot accepted (errcode 0)."""
        with self.lock:
            return [
                (r["key"], r["body"]["text"]["content"])
                for r in self.requests
                if r["errcode"] == 0 and r["body"].get("msgtype") == "text"
            ]


class FakeSmtp:
    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.mails: list[email.message.EmailMessage] = []
        with socket.socket() as probe:  # aiosmtpd needs a fixed port: take a free one
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.mails.append(message)  # type: ignore[arg-type]
        return "250 OK"

    @property
    def received(self) -> list[tuple[str, str]]:
        """(to, body text) of every mail accepted."""
        return [(str(m["To"]), m.get_content().strip()) for m in self.mails]  # type: ignore[attr-defined]


@pytest.fixture
def sms_gateway() -> Iterator[FakeSmsGateway]:
    fake = FakeSmsGateway()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def wecom_robot() -> Iterator[FakeWecomRobot]:
    fake = FakeWecomRobot()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def smtp_server() -> Iterator[FakeSmtp]:
    fake = FakeSmtp()
    fake.controller.start()
    yield fake
    fake.controller.stop()
