"""``POST /es2plus/{operator}/gsma/rsp2/es2plus/handleDownloadProgressInfo`` (SGP.22 v2.2 5.3.5).

The SM-DP+ is the client here. In order: 404 for an operator we do not serve; 415 unless the
body is ``application/json`` (a browser form cannot send that cross-site without a CORS
preflight we never grant); 413 for a body over the limit (``web.limits``); 403 unless the
sender is proven (``sender_auth``: its TLS client certificate, a verifying proxy's word, or in
development the emulator's signature); 400 for a body we cannot read or store, or a timestamp
from the future; 403 when the functionRequesterIdentifier is not the operator's SM-DP+ (the
second line). Then 204 with an empty body (and ``X-Admin-Protocol``) for every notification,
recorded once even when delivered twice, including one about an ICCID we do not know.
Nothing is stored before every check has passed, and nothing is answered before it is stored:
notifications arriving together are stored in one transaction (``group_writer``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from esimcare.api.deps import get_ctx
from esimcare.context import Context
from esimcare.db_direct_write import (
    HeldConnections,
    OpenTransaction,
    direct_transaction,
    loop_write_connection,
)
from esimcare.errors import DomainError
from esimcare.es2plus.group_writer import GroupWriter
from esimcare.es2plus.loop_checkpoints import LoopCheckpoints
from esimcare.es2plus.notification_body import read_json_body
from esimcare.es2plus.notification_store import store_notifications
from esimcare.es2plus.sender_auth import SenderEvidence, Trust, authenticate_sender
from esimcare.esims.profile_events import MalformedNotificationError, Received, admit
from esimcare.integrations.smdp.messages import (
    ADMIN_PROTOCOL,
    NOTIFICATION_PATH,
    MalformedMessageError,
)
from esimcare.integrations.smdp.notification_reader import read_notification
from esimcare.integrations.smdp.notification_signature import (
    EMULATOR_REQUESTER_ID,
    key_path,
    load_or_create_key,
)

router = APIRouter(tags=["es2plus"])
RECEIVER_PREFIX = "/es2plus"


class UnsupportedMediaTypeError(DomainError):
    status = 415
    code = "unsupported-media-type"
    title = "Notifications must be sent as application/json"
    translated = False  # read by the SM-DP+ (ES2+), never shown to a person


@router.post(
    RECEIVER_PREFIX + "/{operator}" + NOTIFICATION_PATH,
    status_code=204,
    summary="ES2+ HandleDownloadProgressInfo from the operator's SM-DP+ (SGP.22 5.3.5)",
)
async def handle_download_progress_info(operator: str, request: Request) -> Response:
    await receive_notification(operator, request)
    return Response(status_code=204, headers=dict(ANSWER_HEADERS))


# Every stored notification is answered 204 with these (and an empty body).
ANSWER_HEADERS = (("X-Admin-Protocol", ADMIN_PROTOCOL),)


async def receive_notification(operator: str, request: Request) -> None:
    """Everything but the answer: returns once the notification is stored, or raises the
    ``DomainError`` to answer with (``api.fast_lane`` sends the 204 itself)."""
    ctx = get_ctx(request)
    link = ctx.policy(operator).smdp_link  # 404 for an operator we do not serve
    require_json(request.headers.get("content-type", ""))
    body = await request.body()
    now = ctx.clock.now()
    receiver = _receiver(request)
    proven_by = authenticate_sender(_evidence(request, body), link, receiver.trust, now)
    raw, raw_json = read_json_body(body)
    try:
        notification = read_notification(raw)
    except MalformedMessageError as error:
        raise MalformedNotificationError(str(error)) from None
    received = Received(
        operator_id=operator,
        notification=notification,
        raw=raw,
        link=link,
        expected_requester=link.notification_requester_id or EMULATOR_REQUESTER_ID,
        proven_by=proven_by,
        raw_json=raw_json,
    )
    admit(received, now)
    # Answered only once stored: the writer commits it with whatever else arrived meanwhile.
    await receiver.writer.submit(Arrival(received, now))


def require_json(content_type: str) -> None:
    """``application/json``, optionally with ``charset=utf-8``; nothing else."""
    if content_type == "application/json":  # what every SM-DP+ sends: no parsing
        return
    media_type, *parameters = (part.strip().lower() for part in content_type.split(";"))
    pairs = (parameter.partition("=") for parameter in parameters)
    charsets = {value.strip().strip('"') for name, _, value in pairs if name.strip() == "charset"}
    if media_type != "application/json" or not charsets <= {"utf-8"}:
        raise UnsupportedMediaTypeError(f"got {content_type[:80]!r}")


def _evidence(request: Request, body: bytes) -> SenderEvidence:
    extensions = request.scope.get("extensions") or {}
    client = request.scope.get("client")
    return SenderEvidence(
        tls=extensions.get("tls"),
        peer=client[0] if client else None,
        headers=request.headers,
        body=body,
    )


def _trust(ctx: Context) -> Trust:
    settings = ctx.settings
    key = load_or_create_key(key_path(settings.data_dir)) if settings.development else None
    return Trust(proxies=settings.trusted_proxies, emulator_key=key)


@dataclass(frozen=True)
class Arrival:
    received: Received
    at: datetime


@dataclass(frozen=True)
class _Receiver:
    """What every notification to this app needs: whom to trust, the one writer, and the
    connections it writes on."""

    trust: Trust
    writer: GroupWriter[Arrival, str]
    connections: HeldConnections


_RECEIVER = "es2plus_receiver"
# Two: a third measured no faster (docs/performance.md).
_POSTGRESQL_WRITES_AT_ONCE = 2


def _receiver(request: Request) -> _Receiver:
    """Made on first use, on the app's state."""
    state = request.app.state
    receiver: _Receiver | None = getattr(state, _RECEIVER, None)
    if receiver is None:
        ctx = get_ctx(request)
        if ctx.engine.dialect.name == "sqlite":
            connections = loop_write_connection(ctx.engine)
            on_loop = partial(
                _store_on_loop, ctx, connections.transaction, LoopCheckpoints(ctx.engine)
            )
            writer = GroupWriter(partial(record_arrivals, ctx), write_now=on_loop)
        else:
            # PostgreSQL commits concurrent transactions together: a batch need not wait for
            # the one before (both lock their eSIMs and the audit heads in the same order).
            connections = HeldConnections(ctx.engine)
            write = partial(record_arrivals, ctx, open_transaction=connections.transaction)
            writer = GroupWriter(write, writes_at_once=_POSTGRESQL_WRITES_AT_ONCE)
        receiver = _Receiver(_trust(ctx), writer, connections)
        setattr(state, _RECEIVER, receiver)
    return receiver


def close_receiver(app: Any) -> None:
    """When the app stops: the connections its writer holds go (they are not the pool's)."""
    receiver: _Receiver | None = getattr(app.state, _RECEIVER, None)
    if receiver is not None:
        setattr(app.state, _RECEIVER, None)
        receiver.connections.close()


def record_arrivals(
    ctx: Context, arrivals: Sequence[Arrival], open_transaction: OpenTransaction | None = None
) -> list[str | Exception]:
    """Store and apply notifications that arrived together in one transaction (one commit for
    all: group commit; on ``open_transaction``'s connection if given); each one's effect in
    order. If that transaction fails, each is tried again in its own, on a connection from
    the pool, so a notification that cannot be stored fails only its own request (and one
    held connection gone stale, say after a server restart, fails none)."""
    try:
        found: list[str | Exception] = []
        found += _store(ctx, arrivals, open_transaction)
        return found
    except Exception:
        if len(arrivals) == 1 and open_transaction is None:
            raise
    return [_record_alone(ctx, arrival) for arrival in arrivals]


def _record_alone(ctx: Context, arrival: Arrival) -> str | Exception:
    try:
        return _store(ctx, [arrival])[0]
    except Exception as error:  # noqa: BLE001 - handed to its own request, which raises it
        return error


def _store_on_loop(
    ctx: Context,
    open_transaction: OpenTransaction,
    checkpoints: LoopCheckpoints,
    arrivals: Sequence[Arrival],
) -> list[str]:
    """SQLite: a write that never blocks the loop (``loop_write_connection``: refused if the
    lock is busy; no checkpoint in its commit: ``checkpoints`` runs them in a thread)."""
    effects = _store(ctx, arrivals, open_transaction)
    checkpoints.committed()
    return effects


def _store(
    ctx: Context,
    arrivals: Sequence[Arrival],
    open_transaction: OpenTransaction | None = None,
) -> list[str]:
    return store_notifications(
        open_transaction or partial(direct_transaction, ctx.engine),
        [(arrival.received, arrival.at) for arrival in arrivals],
        ctx.has_webhooks,
        ctx.clock.now,
    )


def receiver_url(public_url: str, operator_id: str) -> str:
    """The base URL to give the SM-DP+ (it appends /gsma/rsp2/es2plus/...)."""
    return f"{public_url.rstrip('/')}{RECEIVER_PREFIX}/{operator_id}"
