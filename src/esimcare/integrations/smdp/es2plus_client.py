"""The real ES2+ client: ``SmdpGateway`` over HTTPS to an operator's SM-DP+ (SGP.22 v2.2 5.3).

Strict in what it sends, liberal in what it accepts. How each kind of reply is classified:

- HTTP 200 with ``Executed-Success``/``Executed-WithWarning``: success, with the output fields.
- A reply whose body is an ES2+ response with ``Failed`` or ``Expired`` (HTTP 200 as the spec
  says, or a 4xx as some servers do): a definite ``Es2Outcome`` with its subject/reason code.
- Transport errors (refused, reset, TLS handshake), time-outs, 5xx, 408/425/429:
  ``TransientIntegrationError``; the job queue retries with backoff. A TLS failure is
  transient too (certificates get fixed and rotated) but its message says what to check.
- Any other reply (no ES2+ header in the body, an ``X-Admin-Protocol`` of another major
  version, a success missing a mandatory output): ``PermanentIntegrationError`` with code
  ``not-es2plus``: the base URL points at something that is not an SM-DP+ we can talk to.
  A missing ``X-Admin-Protocol`` on an otherwise valid answer is accepted (and logged).

Each call is written to ``es2plus_calls`` before it is sent and when it ends (``call_log``):
each write in a transaction of its own (``call``), or in the caller's (``open_call``, then
``send``) when the caller commits before and after the call anyway.
"""

from __future__ import annotations

import logging
import ssl
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from esimcare.integrations.errors import PermanentIntegrationError, TransientIntegrationError
from esimcare.integrations.smdp.call_log import CallEnd, CallLog, CallOutcome, EndToWrite
from esimcare.integrations.smdp.client_config import Es2PlusConfig, make_es2plus_http_client
from esimcare.integrations.smdp.interface import Es2Outcome, FinalProfileStatus
from esimcare.integrations.smdp.messages import (
    REQUIRED_OUTPUTS,
    CancelOrder,
    ConfirmOrder,
    DownloadOrder,
    MalformedMessageError,
    OrderMessage,
    ReleaseProfile,
    admin_protocol_family,
    parse_response,
    path,
    request_body,
    request_headers,
)
from esimcare.kit.clock import Clock, SystemClock

__all__ = ["Es2PlusClient", "Es2PlusConfig", "OpenCall"]

_log = logging.getLogger("esimcare.integrations.smdp")
_RETRYABLE_STATUS = frozenset({408, 425, 429})
NOT_ES2PLUS = "not-es2plus"


@dataclass(frozen=True)
class OpenCall:
    """A call logged as started, not sent yet: the body goes out exactly as logged."""

    message: OrderMessage
    body: dict[str, Any]
    record_id: int


class Es2PlusClient:
    """An ``SmdpGateway`` speaking ES2+ to one operator's SM-DP+ over (mutual) TLS."""

    def __init__(
        self,
        config: Es2PlusConfig,
        sessions: sessionmaker[Session],
        *,
        operator_id: str,
        clock: Clock | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        self._config = config
        self._clock = clock or SystemClock()
        self._log = CallLog(sessions, operator_id)
        self._owns_http = http_client is None
        self._http = http_client or make_es2plus_http_client(config)

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Es2PlusClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- SmdpGateway --------------------------------------------------------------------

    def download_order(
        self, *, iccid: str | None = None, profile_type: str | None = None, eid: str | None = None
    ) -> Es2Outcome:
        """ES2+.DownloadOrder (5.3.1); on success ``data["iccid"]`` (never F-padded)."""
        return self.call(DownloadOrder(iccid=iccid, profile_type=profile_type, eid=eid))

    def confirm_order(
        self,
        *,
        iccid: str,
        release: bool,
        eid: str | None = None,
        matching_id: str | None = None,
        confirmation_code: str | None = None,
        smds_address: str | None = None,
    ) -> Es2Outcome:
        """ES2+.ConfirmOrder (5.3.2); on success ``data["matchingId"]`` and more."""
        return self.call(
            ConfirmOrder(
                iccid=iccid,
                release=release,
                eid=eid,
                matching_id=matching_id,
                confirmation_code=confirmation_code,
                smds_address=smds_address,
            )
        )

    def cancel_order(
        self,
        *,
        iccid: str,
        final_status: FinalProfileStatus,
        eid: str | None = None,
        matching_id: str | None = None,
    ) -> Es2Outcome:
        """ES2+.CancelOrder (5.3.3)."""
        return self.call(
            CancelOrder(iccid=iccid, final_status=final_status, eid=eid, matching_id=matching_id)
        )

    def release_profile(self, *, iccid: str) -> Es2Outcome:
        """ES2+.ReleaseProfile (5.3.4)."""
        return self.call(ReleaseProfile(iccid=iccid))

    # --- one call -----------------------------------------------------------------------

    def call(self, message: OrderMessage) -> Es2Outcome:
        """Log, send, classify, log: the outcome or a classified integration error."""
        call_id, body = self._body(message)
        record = self._log.started(message.function, call_id, body, self._clock.now())
        outcome, end = self.send(OpenCall(message, body, record))
        end.write_alone()
        return outcome

    def open_call(self, session: Session, message: OrderMessage) -> OpenCall:
        """The call's body and its log row, written in the caller's transaction, which must
        commit before ``send``."""
        call_id, body = self._body(message)
        record = self._log.started_in(session, message.function, call_id, body, self._clock.now())
        return OpenCall(message, body, record)

    def send(self, call: OpenCall) -> tuple[Es2Outcome, EndToWrite]:
        """Send, classify: the outcome, with the end of its log row for the caller to write
        (``EndToWrite``). A classified integration error has its end written here, alone,
        and is raised."""
        message, body = call.message, call.body
        started = time.monotonic()
        response: httpx.Response | None = None
        try:
            response = self._post(message, body)
            outcome = _interpret(message, response, self._config.admin_protocol)
        except (TransientIntegrationError, PermanentIntegrationError) as error:
            kind = (
                CallOutcome.TRANSIENT
                if isinstance(error, TransientIntegrationError)
                else CallOutcome.PERMANENT
            )
            self._log.finished(
                call.record_id, self._end(started, kind, response, message=str(error))
            )
            raise
        kind = CallOutcome.SUCCESS if outcome.succeeded else CallOutcome.FAILED
        end = self._end(started, kind, response, es2=outcome)
        return outcome, EndToWrite(self._log, call.record_id, end)

    def _body(self, message: OrderMessage) -> tuple[str, dict[str, Any]]:
        call_id = uuid.uuid4().hex
        body = request_body(
            message, self._config.requester_id, call_id, pad_iccid=self._config.pad_iccid
        )
        return call_id, body

    def _post(self, message: OrderMessage, body: dict[str, object]) -> httpx.Response:
        url = self._config.endpoint_base + path(message.function)
        try:
            headers = request_headers(self._config.admin_protocol)
            return self._http.post(url, json=body, headers=headers)
        except httpx.TransportError as exc:
            raise TransientIntegrationError(_transport_problem(message, exc)) from exc

    def _end(
        self,
        started: float,
        outcome: CallOutcome,
        response: httpx.Response | None,
        *,
        es2: Es2Outcome | None = None,
        message: str | None = None,
    ) -> CallEnd:
        return CallEnd(
            outcome=outcome,
            finished_at=self._clock.now(),
            duration_ms=round((time.monotonic() - started) * 1000),
            es2=es2,
            http_status=response.status_code if response is not None else None,
            response=_json_or_none(response),
            message=message,
        )


def _interpret(message: OrderMessage, response: httpx.Response, sent: str) -> Es2Outcome:
    """Classify one HTTP reply as the module docstring describes."""
    name, status = message.function.value, response.status_code
    if status >= 500 or status in _RETRYABLE_STATUS:
        raise TransientIntegrationError(f"{name}: SM-DP+ answered HTTP {status}")
    _check_protocol(name, response, admin_protocol_family(sent))
    try:
        outcome = parse_response(response.json())
    except (ValueError, MalformedMessageError) as exc:
        raise PermanentIntegrationError(
            f"{name}: HTTP {status} is no ES2+ response ({exc}); "
            "is the base URL an SM-DP+'s ES2+ endpoint?",
            code=NOT_ES2PLUS,
        ) from None
    if outcome.succeeded and status >= 300:
        raise PermanentIntegrationError(
            f"{name}: success in an HTTP {status} reply", code=NOT_ES2PLUS
        )
    missing = [
        field for field in REQUIRED_OUTPUTS.get(message.function, ()) if field not in outcome.data
    ]
    if outcome.succeeded and missing:
        raise PermanentIntegrationError(
            f"{name}: success without mandatory output {', '.join(missing)}", code=NOT_ES2PLUS
        )
    return outcome


def _check_protocol(name: str, response: httpx.Response, family: str) -> None:
    version = response.headers.get("X-Admin-Protocol")
    if version is None:
        _log.warning("es2plus.no_admin_protocol_header function=%s", name)
        return
    if not version.startswith(family):
        raise PermanentIntegrationError(
            f"{name}: the peer speaks {version!r}, esimcare speaks {family}x",
            code=NOT_ES2PLUS,
        )


def _transport_problem(message: OrderMessage, exc: httpx.TransportError) -> str:
    name = message.function.value
    tls = _ssl_cause(exc)
    if tls is not None:
        return (
            f"{name}: TLS with the SM-DP+ failed ({tls}); check the client certificate, "
            "its key and the CA bundle"
        )
    return f"{name}: {type(exc).__name__} talking to the SM-DP+"


def _ssl_cause(exc: BaseException) -> ssl.SSLError | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _json_or_none(response: httpx.Response | None) -> dict[str, Any] | None:
    if response is None:
        return None
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
