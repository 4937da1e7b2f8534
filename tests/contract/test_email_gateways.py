"""EmailGateway contract: the e-mail outbox and the SMTP client behave the same.

The SMTP client talks to a tiny loopback SMTP responder written here (RFC 5321 subset: EHLO,
MAIL, RCPT, DATA, RSET, NOOP, QUIT), which can defer or refuse like a real relay, and to a real
SMTP server, aiosmtpd, that requires STARTTLS (with a throwaway certificate) and AUTH.
"""

from __future__ import annotations

import email
import email.policy
import socket
import socketserver
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from esimcare.integrations.email.interface import EmailGateway
from esimcare.integrations.email.smtp_client import SmtpEmailGateway
from esimcare.integrations.errors import PermanentIntegrationError, TransientIntegrationError
from esimcare.kit.clock import FrozenClock
from esimcare.sandbox.email_outbox import EmailOutbox
from esimcare.sandbox.outboxes import Outbox
from esimcare.sandbox.sms_outbox import SmsOutbox
from esimcare.sandbox.store import EmulatorStore
from tests.smtp_relay import RELAY_PASSWORD, RELAY_USER, Relay, running_relay

TO = "anna@example.org"
SENDER = "no-reply@esimcare.example"


@dataclass
class Received:
    to: str
    subject: str
    body: str


class LoopbackSmtpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SmtpHandler)
        self.messages: list[EmailMessage] = []
        self.faults: list[str] = []  # replies to give to the next MAIL commands
        self.recipient_replies = {"deferred@example.org": "451 4.3.0 try later"}
        self.recipient_replies["nobody@example.org"] = "550 5.1.1 no such user"

    def next_mail_reply(self) -> str:
        return self.faults.pop(0) if self.faults else "250 2.1.0 ok"


class _SmtpHandler(socketserver.StreamRequestHandler):
    server: LoopbackSmtpServer

    def handle(self) -> None:
        self.reply("220 loopback ESMTP")
        while line := self.rfile.readline(1000):
            command = line.decode("ascii", "replace").rstrip("\r\n")
            verb = command[:4].upper()
            if verb == "QUIT":
                self.reply("221 2.0.0 bye")
                return
            self.reply(self.answer(verb, command))

    def answer(self, verb: str, command: str) -> str:
        if verb in {"EHLO", "HELO"}:
            return "250 loopback"
        if verb == "MAIL":
            return self.server.next_mail_reply()
        if verb == "RCPT":
            address = command.partition(":")[2].strip().strip("<>")
            return self.server.recipient_replies.get(address, "250 2.1.5 ok")
        if verb == "DATA":
            self.reply("354 end with <CRLF>.<CRLF>")
            self.server.messages.append(self.read_data())
            return "250 2.0.0 queued"
        if verb in {"RSET", "NOOP"}:
            return "250 2.0.0 ok"
        return "502 5.5.2 not implemented"

    def read_data(self) -> EmailMessage:
        lines: list[bytes] = []
        while (line := self.rfile.readline(10000)) not in (b".\r\n", b""):
            lines.append(line[1:] if line.startswith(b".") else line)
        parsed = email.message_from_bytes(b"".join(lines), policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def reply(self, text: str) -> None:
        self.wfile.write(text.encode() + b"\r\n")


@pytest.fixture
def smtp_server() -> Iterator[LoopbackSmtpServer]:
    server = LoopbackSmtpServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@dataclass
class Mail:
    gateway: EmailGateway
    received: Callable[[], list[Received]]
    fail_next: Callable[..., None]

    def send(self, to: str = TO, subject: str = "Cancellation", key: str = "notice-1") -> str:
        return self.gateway.send(to=to, subject=subject, body="Your plan ends.", message_key=key)


@pytest.fixture(params=["emulator", "smtp"])
def mail(request: pytest.FixtureRequest, emulator_store: EmulatorStore, clock: FrozenClock) -> Mail:
    if request.param == "emulator":
        outbox = EmailOutbox(emulator_store, clock)

        def stored() -> list[Received]:
            return [Received(m.to, m.subject or "", m.body) for m in outbox.messages()]

        return Mail(outbox, stored, outbox.fail_next)
    server: LoopbackSmtpServer = request.getfixturevalue("smtp_server")
    host, port = server.server_address[:2]
    gateway = SmtpEmailGateway(str(host), int(port), SENDER, timeout=5, clock=clock)

    def delivered() -> list[Received]:
        return [
            Received(str(m["To"]), str(m["Subject"]), m.get_content().strip())
            for m in reversed(server.messages)
        ]

    def fail_next(n: int, *, transient: bool = True) -> None:
        reply = "421 4.3.2 shutting down" if transient else "554 5.7.1 rejected"
        server.faults[:] = [reply] * n

    return Mail(gateway, delivered, fail_next)


def test_an_email_arrives_with_its_recipient_subject_and_body(mail: Mail) -> None:
    message_id = mail.send()
    assert message_id
    assert mail.received() == [Received(TO, "Cancellation", "Your plan ends.")]


def test_the_same_message_key_gives_the_same_message_id(mail: Mail) -> None:
    assert mail.send(key="notice-1") == mail.send(key="notice-1")


def test_different_message_keys_give_different_message_ids(mail: Mail) -> None:
    assert mail.send(key="notice-1") != mail.send(key="notice-2")


@pytest.mark.parametrize(
    "address", ["anna", "anna@example", "a b@example.org", "a@b.org\r\nBcc: x"]
)
def test_an_address_that_is_not_an_email_is_refused_before_sending(
    mail: Mail, address: str
) -> None:
    with pytest.raises(PermanentIntegrationError) as refused:
        mail.send(to=address)
    assert refused.value.code == "invalid-address"
    assert mail.received() == []


def test_an_injected_fault_is_transient_and_the_retry_delivers(mail: Mail) -> None:
    mail.fail_next(1)
    with pytest.raises(TransientIntegrationError):
        mail.send()
    mail.send()
    assert len(mail.received()) == 1


def test_an_injected_refusal_is_permanent(mail: Mail) -> None:
    mail.fail_next(1, transient=False)
    with pytest.raises(PermanentIntegrationError):
        mail.send()
    assert mail.received() == []


# The SMTP client only: how relay answers map onto our errors.


@pytest.fixture
def smtp(smtp_server: LoopbackSmtpServer, clock: FrozenClock) -> SmtpEmailGateway:
    host, port = smtp_server.server_address[:2]
    return SmtpEmailGateway(str(host), int(port), SENDER, timeout=5, clock=clock)


def test_the_message_id_header_is_derived_from_the_message_key(
    smtp: SmtpEmailGateway, smtp_server: LoopbackSmtpServer, clock: FrozenClock
) -> None:
    message_id = smtp.send(to=TO, subject="Hi", body="Body", message_key="notice-7")
    [message] = smtp_server.messages
    assert message["Message-ID"] == message_id == smtp.message_id("notice-7")
    assert message_id.endswith("@esimcare.example>")
    assert message["From"] == SENDER
    assert message["Date"].datetime == clock.now()


def test_a_deferred_recipient_is_a_transient_failure(smtp: SmtpEmailGateway) -> None:
    with pytest.raises(TransientIntegrationError):
        smtp.send(to="deferred@example.org", subject="Hi", body="Body", message_key="k")


def test_an_unknown_recipient_is_a_permanent_failure(smtp: SmtpEmailGateway) -> None:
    with pytest.raises(PermanentIntegrationError) as refused:
        smtp.send(to="nobody@example.org", subject="Hi", body="Body", message_key="k")
    assert refused.value.code == "smtp-550"


def test_a_subject_with_a_line_break_is_refused_rather_than_injected(
    smtp: SmtpEmailGateway, smtp_server: LoopbackSmtpServer
) -> None:
    with pytest.raises(PermanentIntegrationError) as refused:
        smtp.send(to=TO, subject="Hi\r\nBcc: evil@example.org", body="Body", message_key="k")
    assert refused.value.code == "invalid-message"
    assert smtp_server.messages == []


def test_a_closed_smtp_port_is_a_transient_failure(
    closed_port_url: str, clock: FrozenClock
) -> None:
    port = int(closed_port_url.rsplit(":", 1)[1])
    gateway = SmtpEmailGateway("127.0.0.1", port, SENDER, timeout=5, clock=clock)
    with pytest.raises(TransientIntegrationError):
        gateway.send(to=TO, subject="Hi", body="Body", message_key="k")


# The shared outbox: one place where a developer reads every channel.


def test_the_outbox_lists_sms_and_email_together_newest_first(
    emulator_store: EmulatorStore, clock: FrozenClock
) -> None:
    sms, mail = SmsOutbox(emulator_store, clock), EmailOutbox(emulator_store, clock)
    sms.send(to="+4915112345678", body="code 1", message_key="same-key")
    clock.advance(timedelta(seconds=1))
    mail.send(to=TO, subject="Notice", body="code 2", message_key="same-key")
    everything = Outbox(emulator_store, clock).messages()
    assert [(m.channel, m.body) for m in everything] == [("email", "code 2"), ("sms", "code 1")]
    assert [m.channel for m in Outbox(emulator_store, clock).messages(to=TO)] == ["email"]
    assert len(mail.messages()) == len(sms.messages()) == 1


# The SMTP client against aiosmtpd: STARTTLS with a throwaway certificate, then AUTH.


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[Relay]:
    with running_relay(tmp_path) as relay:
        yield relay


def relay_gateway(
    relay: Relay, clock: FrozenClock, *, password: str = RELAY_PASSWORD, ca: Path | None = None
) -> SmtpEmailGateway:
    return SmtpEmailGateway(
        "127.0.0.1",
        relay.port,
        SENDER,
        timeout=5,
        clock=clock,
        starttls=True,
        username=RELAY_USER,
        password=password,
        tls_context=ssl.create_default_context(cafile=ca or relay.pki.ca),
    )


def test_a_message_arrives_over_starttls_after_auth(relay: Relay, clock: FrozenClock) -> None:
    message_id = relay_gateway(relay, clock).send(
        to=TO, subject="Отмена eSIM", body="Ваш тариф завершён.", message_key="notice-1"
    )
    [delivery] = relay.inbox.deliveries
    assert (delivery.over_tls, delivery.authenticated) == (True, True)
    assert delivery.message["Message-ID"] == message_id
    assert delivery.message["From"] == SENDER
    assert (str(delivery.message["Subject"]), delivery.message.get_content().strip()) == (
        "Отмена eSIM",
        "Ваш тариф завершён.",
    )


def test_a_wrong_password_is_a_permanent_failure(relay: Relay, clock: FrozenClock) -> None:
    gateway = relay_gateway(relay, clock, password="not-the-password")
    with pytest.raises(PermanentIntegrationError) as refused:
        gateway.send(to=TO, subject="Hi", body="Body", message_key="k")
    assert refused.value.code == "smtp-535"
    assert "not-the-password" not in str(refused.value)
    assert relay.inbox.deliveries == []


def test_credentials_are_never_offered_before_tls(relay: Relay, clock: FrozenClock) -> None:
    plain = SmtpEmailGateway(
        "127.0.0.1", relay.port, SENDER, timeout=5, clock=clock,
        username=RELAY_USER, password=RELAY_PASSWORD,
    )  # fmt: skip
    with pytest.raises(PermanentIntegrationError):
        plain.send(to=TO, subject="Hi", body="Body", message_key="k")
    assert relay.inbox.login_attempts == 0
    assert relay.inbox.deliveries == []


def test_a_relay_certificate_we_do_not_trust_stops_before_the_password(
    relay: Relay, clock: FrozenClock
) -> None:
    gateway = relay_gateway(relay, clock, ca=relay.pki.other_ca)
    with pytest.raises(TransientIntegrationError):
        gateway.send(to=TO, subject="Hi", body="Body", message_key="k")
    assert relay.inbox.login_attempts == 0
    assert relay.inbox.deliveries == []


def test_a_relay_that_is_down_is_a_transient_failure(relay: Relay, clock: FrozenClock) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        free_port = sock.getsockname()[1]
    down = Relay(relay.inbox, free_port, relay.pki)
    with pytest.raises(TransientIntegrationError):
        relay_gateway(down, clock).send(to=TO, subject="Hi", body="Body", message_key="k")
