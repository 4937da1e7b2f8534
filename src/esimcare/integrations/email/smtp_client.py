"""SmtpEmailGateway: e-mail through an SMTP relay (smtplib).

The Message-ID is derived from ``message_key``, so a message retried after an unclear failure
carries the same id and the relay, the mailbox and the logs can recognise it as one message.
SMTP reply classes map onto our errors (RFC 5321 section 4.2.1): 4yz is transient, 5yz permanent.

With ``starttls`` the session is upgraded to TLS (RFC 3207) and the relay's certificate checked
before anything else is said; with a ``username`` it then authenticates (AUTH, RFC 4954). A wrong
password is 535, permanent; a relay that offers no STARTTLS or AUTH is a configuration fault,
also permanent. The password is held only here and appears in no message or log.
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from esimcare.integrations.email.address import check_address
from esimcare.integrations.errors import PermanentIntegrationError, TransientIntegrationError
from esimcare.kit.clock import Clock, SystemClock


class SmtpEmailGateway:
    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        timeout: float = 10.0,
        *,
        clock: Clock | None = None,
        starttls: bool = False,
        username: str = "",
        password: str = "",
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self._clock: Clock = clock or SystemClock()
        self._host = host
        self._port = port
        self._sender = sender
        self._timeout = timeout
        self._starttls = starttls
        self._username = username
        self._password = password
        self._tls = tls_context or ssl.create_default_context()

    def __repr__(self) -> str:
        return f"SmtpEmailGateway({self._host}:{self._port}, starttls={self._starttls})"

    def message_id(self, message_key: str) -> str:
        token = hashlib.sha256(message_key.encode()).hexdigest()[:32]
        domain = self._sender.rpartition("@")[2] or "esimcare.invalid"
        return f"<{token}@{domain}>"

    def send(self, *, to: str, subject: str, body: str, message_key: str) -> str:
        check_address(to)
        message = self._compose(to, subject, body, message_key)
        try:
            with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
                self._secure_and_log_in(smtp)
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise _classify_refusals(exc) from exc
        except smtplib.SMTPResponseException as exc:
            raise _classify(exc.smtp_code, str(exc.smtp_error)) from exc
        except smtplib.SMTPServerDisconnected as exc:
            raise TransientIntegrationError(f"SMTP {self._host}:{self._port}: {exc}") from exc
        except smtplib.SMTPException as exc:
            # No STARTTLS or no usable AUTH mechanism offered: the relay or our settings are
            # wrong, and retrying will not change that.
            raise PermanentIntegrationError(
                f"SMTP {self._host}:{self._port}: {exc}", code="smtp-configuration"
            ) from exc
        except OSError as exc:
            # Connection refused, reset or timed out, a TLS handshake cut off: nothing definite.
            raise TransientIntegrationError(f"SMTP {self._host}:{self._port}: {exc}") from exc
        return str(message["Message-ID"])

    def _secure_and_log_in(self, smtp: smtplib.SMTP) -> None:
        if self._starttls:
            smtp.starttls(context=self._tls)
        if self._username:
            smtp.login(self._username, self._password)

    def _compose(self, to: str, subject: str, body: str, message_key: str) -> EmailMessage:
        message = EmailMessage()
        try:
            message["From"] = self._sender
            message["To"] = to
            message["Subject"] = subject
        except ValueError as exc:  # CR/LF in a header: refused rather than injected
            raise PermanentIntegrationError(str(exc), code="invalid-message") from exc
        message["Date"] = formatdate(self._clock.now().timestamp(), usegmt=True)
        message["Message-ID"] = self.message_id(message_key)
        message.set_content(body)
        return message


def _classify(code: int, text: str) -> Exception:
    if 400 <= code < 500:
        return TransientIntegrationError(f"SMTP {code} {text}")
    return PermanentIntegrationError(f"SMTP {code} {text}", code=f"smtp-{code}")


def _classify_refusals(exc: smtplib.SMTPRecipientsRefused) -> Exception:
    codes = [code for code, _text in exc.recipients.values()]
    if codes and all(400 <= code < 500 for code in codes):
        return TransientIntegrationError(f"SMTP recipients deferred: {codes}")
    worst = max(codes, default=550)
    return PermanentIntegrationError(f"SMTP recipients refused: {codes}", code=f"smtp-{worst}")
