"""A real SMTP relay for tests: aiosmtpd that requires STARTTLS (with a throwaway certificate
from a throwaway CA) and then AUTH, on a free loopback port.

Each delivered message is kept with how its session was secured, so a test can show that a
message crossed TLS and was sent by an authenticated client, not merely that it arrived.
"""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.contract.es2plus_support import Pki, make_pki

RELAY_USER, RELAY_PASSWORD = "esimcare", "relay-password-for-tests"


@dataclass
class Delivery:
    message: EmailMessage
    over_tls: bool
    authenticated: bool


class Inbox:
    """aiosmtpd's handler: keeps each message with how its session was secured."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.login_attempts = 0

    async def handle_DATA(  # noqa: N802 - the hook's name is aiosmtpd's
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        parsed = email.message_from_bytes(
            envelope.original_content or b"", policy=email.policy.default
        )
        assert isinstance(parsed, EmailMessage)
        self.deliveries.append(
            Delivery(parsed, session.ssl is not None, bool(session.authenticated))
        )
        return "250 2.0.0 queued"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        self.login_attempts += 1
        right = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            RELAY_USER.encode(),
            RELAY_PASSWORD.encode(),
        )
        # handled=False: aiosmtpd then answers 535 itself (its default assumes we did).
        return AuthResult(success=right, handled=False)


class _LoopbackController(Controller):
    """aiosmtpd's controller on a socket bound to a free loopback port (its own wants a fixed
    port, and other engineers' tests run beside ours)."""

    def __init__(self, handler: Inbox, **smtp_parameters: Any) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        port = self._socket.getsockname()[1]
        super().__init__(handler, hostname="127.0.0.1", port=port, **smtp_parameters)

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self._socket)


@dataclass
class Relay:
    inbox: Inbox
    port: int
    pki: Pki  # ``pki.ca`` signed the relay's certificate (for 127.0.0.1)


@contextmanager
def running_relay(directory: Path) -> Iterator[Relay]:
    """aiosmtpd requiring STARTTLS, then AUTH with RELAY_USER / RELAY_PASSWORD."""
    pki = make_pki(directory)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(pki.server_cert, pki.server_key)
    inbox = Inbox()
    controller = _LoopbackController(
        inbox,
        tls_context=server_tls,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=inbox.authenticate,
    )
    controller.start()
    try:
        yield Relay(inbox, controller.port, pki)
    finally:
        controller.stop()
