"""``POST /es2plus/{operator}/gsma/rsp2/es2plus/handleDownloadProgressInfo`` (SGP.22 v2.2 5.3.5).

The SM-DP+ is the client here. We answer 204 with an empty body (and ``X-Admin-Protocol``)
for every notification we could read, recorded once even when delivered twice, including one
about an ICCID we do not know; 400 problem+json for a body we cannot read; 403 when the
functionRequesterIdentifier is not the operator's SM-DP+; 404 for an unknown operator.
Authenticating the SM-DP+ by its TLS client certificate is the reverse proxy's job
(docs/es2plus.md); the requester check here is the second line.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from esimcare.api.deps import get_ctx
from esimcare.context import Context
from esimcare.db import transaction
from esimcare.esims.profile_events import (
    MalformedNotificationError,
    Received,
    record_notification,
)
from esimcare.integrations.smdp.messages import (
    ADMIN_PROTOCOL,
    NOTIFICATION_PATH,
    MalformedMessageError,
)
from esimcare.integrations.smdp.notification_reader import read_notification
from esimcare.integrations.smdp.wiring import EMULATOR_REQUESTER_ID

router = APIRouter(tags=["es2plus"])
RECEIVER_PREFIX = "/es2plus"


@router.post(
    RECEIVER_PREFIX + "/{operator}" + NOTIFICATION_PATH,
    status_code=204,
    summary="ES2+ HandleDownloadProgressInfo from the operator's SM-DP+ (SGP.22 5.3.5)",
)
async def handle_download_progress_info(operator: str, request: Request) -> Response:
    ctx = get_ctx(request)
    policy = ctx.policy(operator)  # 404 for an operator we do not serve
    raw = _json_object(await request.body())
    try:
        notification = read_notification(raw)
    except MalformedMessageError as error:
        raise MalformedNotificationError(str(error)) from None
    link = policy.smdp_link
    received = Received(
        operator_id=operator,
        notification=notification,
        raw=raw,
        link=link,
        expected_requester=link.notification_requester_id or EMULATOR_REQUESTER_ID,
    )
    await run_in_threadpool(_record, ctx, received)
    return Response(status_code=204, headers={"X-Admin-Protocol": ADMIN_PROTOCOL})


def _record(ctx: Context, received: Received) -> None:
    with transaction(ctx.sessions) as session:
        record_notification(session, received, ctx.clock.now())


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise MalformedNotificationError("the body is not JSON") from None
    if not isinstance(data, dict):
        raise MalformedNotificationError("the body is not a JSON object")
    return data


def receiver_url(public_url: str, operator_id: str) -> str:
    """The base URL to give the SM-DP+ (it appends /gsma/rsp2/es2plus/...)."""
    return f"{public_url.rstrip('/')}{RECEIVER_PREFIX}/{operator_id}"
