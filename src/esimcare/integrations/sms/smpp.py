"""SmppSmsGateway: text messages to an operator's SMSC over SMPP 3.4, bound as a transmitter.

One connection per process, opened and bound on first use and reused (a lock serialises the
callers). A lost bind (the SMSC restarted, the connection dropped or timed out) is re-opened,
and ``ESME_RTHROTTLED`` / ``ESME_RMSGQFUL`` are waited out; both with exponential backoff, a few
times, before the caller gets a TransientIntegrationError.

Delivery is at least once. SMPP has no idempotency key: when the connection breaks after the
SMSC stored a segment but before its ``submit_sm_resp`` arrived, the retry stores it again and
the phone may show the message twice. This process remembers recently sent ``message_key``s, so
a retry of a message it knows it delivered returns the first id instead of sending again; a
retry after a crash cannot know. One-time-code texts therefore say that only the latest code
counts (which is how codes are checked), so a duplicate or late SMS cannot mislead.

The password is sent only in ``bind_transmitter`` and is never logged; nor is the message key
(for one-time codes it is derived from the code).
"""

from __future__ import annotations

import hashlib
import logging
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from esimcare.integrations.errors import PermanentIntegrationError, TransientIntegrationError
from esimcare.integrations.sms.sender import SenderKind, sender_kind
from esimcare.integrations.sms.smpp_pdu import (
    ESM_CLASS_UDHI,
    Address,
    Command,
    Npi,
    Pdu,
    PduError,
    Status,
    SubmitSm,
    Ton,
    bind_transmitter,
    c_string,
    first_c_string,
    read_pdu,
    submit_sm,
    write_pdu,
)
from esimcare.integrations.sms.sms_text import MessageTooLongError, segments

_log = logging.getLogger("esimcare.integrations.sms.smpp")

# Answers that mean "not now": wait and submit the same segment again.
RETRY_LATER = frozenset(
    {
        Status.THROTTLED,
        Status.MESSAGE_QUEUE_FULL,
        Status.SYSTEM_ERROR,
        Status.TEMPORARY_APP_ERROR,
    }
)
# Bind answers that no retry can change: the configured credentials are wrong.
BIND_CREDENTIALS_REFUSED = frozenset({Status.INVALID_PASSWORD, Status.INVALID_SYSTEM_ID})
REMEMBERED_MESSAGES = 1024


@dataclass(frozen=True)
class SmppSettings:
    host: str
    port: int
    system_id: str
    password: str = field(repr=False)
    default_sender: str
    system_type: str = ""
    timeout_s: float = 10.0
    attempts: int = 5
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 8.0
    # A connection idle this long is checked with enquire_link before a submit, so a dead one
    # is replaced before a message is sent into it.
    idle_check_s: float = 30.0

    def __post_init__(self) -> None:
        c_string(self.system_id, 16)
        if len(self.password.encode()) > 8:
            raise ValueError("the SMPP password is at most 8 characters (SMPP 3.4 section 4.1.1)")
        c_string(self.system_type, 13)
        sender_address(self.default_sender)
        if self.attempts < 1:
            raise ValueError("at least one attempt")


def sender_address(sender: str) -> Address:
    """A number ("+79001234567" or digits) is sent as an international number (TON 1, NPI 1),
    a name as an alphanumeric sender id (TON 5)."""
    if sender_kind(sender) is SenderKind.NUMBER:
        return Address(Ton.INTERNATIONAL, Npi.ISDN, sender.removeprefix("+"))
    return Address(Ton.ALPHANUMERIC, Npi.UNKNOWN, sender)


def destination_address(number: str) -> Address:
    digits = number.removeprefix("+")
    if not (number.startswith("+") and digits.isascii() and digits.isdigit()):
        raise PermanentIntegrationError(f"not an E.164 number: {number!r}", code="invalid-number")
    if not 8 <= len(digits) <= 15:
        raise PermanentIntegrationError(f"not an E.164 number: {number!r}", code="invalid-number")
    return Address(Ton.INTERNATIONAL, Npi.ISDN, digits)


def compose(to: str, body: str, message_key: str, sender: str) -> list[SubmitSm]:
    """The submit_sm of each segment; a resend of the same key gets the same concatenation
    reference, so its segments belong together like the first time."""
    destination = destination_address(to)
    try:
        source = sender_address(sender)
        parts = segments(body, hashlib.sha256(message_key.encode()).digest()[0])
    except MessageTooLongError as exc:
        raise PermanentIntegrationError(str(exc), code="message-too-long") from exc
    except ValueError as exc:
        raise PermanentIntegrationError(str(exc), code="invalid-sender") from exc
    return [
        SubmitSm(
            source=source,
            destination=destination,
            esm_class=ESM_CLASS_UDHI if part.has_header else 0,
            data_coding=part.data_coding,
            short_message=part.short_message,
        )
        for part in parts
    ]


class SmscRefusedBindError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"the SMSC refused the bind: command_status 0x{status:02X}")
        self.status = status


class _Session:
    """One TCP connection bound as a transmitter (SMPP 3.4 section 2.2)."""

    def __init__(self, connection: socket.socket, monotonic: Callable[[], float]) -> None:
        self._connection = connection
        self._monotonic = monotonic
        self._sequence = 0
        self.last_used = monotonic()

    @classmethod
    def open(cls, settings: SmppSettings, monotonic: Callable[[], float]) -> _Session:
        connection = socket.create_connection(
            (settings.host, settings.port), timeout=settings.timeout_s
        )
        session = cls(connection, monotonic)
        try:
            bind = bind_transmitter(
                session.next_sequence(),
                settings.system_id,
                settings.password,
                settings.system_type,
            )
            answer = session.request(bind)
        except BaseException:
            connection.close()
            raise
        if answer.status != Status.OK:
            connection.close()
            raise SmscRefusedBindError(answer.status)
        return session

    def next_sequence(self) -> int:
        self._sequence = self._sequence % 0x7FFFFFFF + 1
        return self._sequence

    def request(self, pdu: Pdu) -> Pdu:
        """Send ``pdu`` and return the answer with its sequence number, answering the SMSC's
        own enquire_link meanwhile. A late answer to an earlier request is skipped."""
        write_pdu(self._connection, pdu)
        while True:
            answer = read_pdu(self._connection)
            if answer.command == Command.ENQUIRE_LINK:
                write_pdu(self._connection, answer.response(Command.ENQUIRE_LINK_RESP))
            elif answer.command == Command.UNBIND:
                write_pdu(self._connection, answer.response(Command.UNBIND_RESP))
                raise PduError("the SMSC unbound")
            elif answer.sequence == pdu.sequence:
                self.last_used = self._monotonic()
                return answer

    def alive(self) -> bool:
        try:
            answer = self.request(Pdu(Command.ENQUIRE_LINK, self.next_sequence()))
        except (OSError, PduError):
            return False
        return answer.command == Command.ENQUIRE_LINK_RESP

    def close(self) -> None:
        """Unbind politely (section 4.2) when the connection still works, then close it."""
        try:
            self._connection.settimeout(1.0)
            self.request(Pdu(Command.UNBIND, self.next_sequence()))
        except (OSError, PduError):
            pass  # the connection is going away either way
        finally:
            self._connection.close()

    def close_quietly(self) -> None:
        """For a connection already known to be broken: no unbind, which would only wait."""
        self._connection.close()


class SmppSmsGateway:
    """Implements ``SmsGateway``; returns the message id of the first segment (every segment's
    id is logged). ``sleep`` and ``monotonic`` are injectable so tests need not wait."""

    def __init__(
        self,
        settings: SmppSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._sleep = sleep
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._session: _Session | None = None
        self._sent: OrderedDict[str, str] = OrderedDict()

    def send(self, *, to: str, body: str, message_key: str, sender: str | None = None) -> str:
        parts = compose(to, body, message_key, sender or self._settings.default_sender)
        with self._lock:
            known = self._sent.get(message_key)
            if known is not None:
                return known
            ids = [self._submit(part) for part in parts]
            self._remember(message_key, ids[0])
        _log.info("SMS accepted by the SMSC in %d segment(s), message ids %s", len(ids), ids)
        return ids[0]

    def close(self) -> None:
        with self._lock:
            self._drop(unbind=True)

    def _submit(self, message: SubmitSm) -> str:
        problem = ""
        for attempt in range(1, self._settings.attempts + 1):
            if attempt > 1:
                self._sleep(self._backoff(attempt - 1))
            try:
                session = self._bound()
                answer = session.request(submit_sm(session.next_sequence(), message))
            except (OSError, PduError) as exc:  # time-outs are OSErrors too
                self._drop(unbind=False)
                problem = f"no working bind ({exc})"
                continue
            if answer.command == Command.SUBMIT_SM_RESP and answer.status == Status.OK:
                return first_c_string(answer.body)
            problem = _status_text(answer.status)
            if answer.status == Status.INVALID_BIND_STATUS:
                self._drop(unbind=False)
            elif answer.status not in RETRY_LATER:
                raise _refusal(answer.status)
        where = f"{self._settings.host}:{self._settings.port}"
        raise TransientIntegrationError(
            f"SMSC {where}: {problem} after {self._settings.attempts} attempts"
        )

    def _bound(self) -> _Session:
        session = self._session
        idle = session is not None and (
            self._monotonic() - session.last_used >= self._settings.idle_check_s
        )
        if session is not None and idle and not session.alive():
            self._drop(unbind=False)
            session = None
        if session is None:
            session = self._open()
        self._session = session
        return session

    def _open(self) -> _Session:
        try:
            return _Session.open(self._settings, self._monotonic)
        except SmscRefusedBindError as refused:
            if refused.status in BIND_CREDENTIALS_REFUSED:
                raise PermanentIntegrationError(
                    f"{refused}: check ESIMCARE_SMPP_SYSTEM_ID and ESIMCARE_SMPP_PASSWORD",
                    code="smsc-bind-refused",
                ) from refused
            raise PduError(str(refused)) from refused

    def _drop(self, *, unbind: bool) -> None:
        session, self._session = self._session, None
        if session is not None:
            if unbind:
                session.close()
            else:
                session.close_quietly()

    def _backoff(self, retry: int) -> float:
        delay = self._settings.backoff_base_s * 2 ** (retry - 1)
        return float(min(self._settings.backoff_cap_s, delay))

    def _remember(self, message_key: str, message_id: str) -> None:
        self._sent[message_key] = message_id
        while len(self._sent) > REMEMBERED_MESSAGES:
            self._sent.popitem(last=False)


def _status_text(status: int) -> str:
    try:
        return f"{Status(status).name} (0x{status:02X})"
    except ValueError:
        return f"command_status 0x{status:02X}"


def _refusal(status: int) -> PermanentIntegrationError:
    code = "invalid-number" if status == Status.INVALID_DESTINATION else f"smpp-0x{status:02x}"
    return PermanentIntegrationError(f"the SMSC refused the message: {_status_text(status)}", code)
