"""Development only: read what the SMS and e-mail stand-ins "delivered" (one-time codes too).

Installed only when the server runs in development mode, so in production the path is a 404
and is not in the OpenAPI document.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from esimcare.api.deps import CtxDep
from esimcare.api.problems import PARAMETERS, problem_responses
from esimcare.api.schemas import OutboxItem, OutboxList
from esimcare.kit.clock import iso
from esimcare.sandbox.outboxes import Outbox
from esimcare.sandbox.stand_ins import stand_ins_of

router = APIRouter(
    prefix="/api/v1/dev", tags=["development"], responses=problem_responses(*PARAMETERS)
)


@router.get("/outbox", summary="Messages sent by the development outbox, newest first")
def outbox(ctx: CtxDep, to: Annotated[str | None, Query(max_length=320)] = None) -> OutboxList:
    messages = Outbox(stand_ins_of(ctx).store, ctx.clock).messages(to=_recipient(to))
    return OutboxList(
        items=[
            OutboxItem(
                to=m.to, channel=m.channel, subject=m.subject, body=m.body, sent_at=iso(m.sent_at)
            )
            for m in messages
        ]
    )


def _recipient(to: str | None) -> str | None:
    """An unencoded ``?to=+7916...`` arrives as " 7916..." (a "+" in a query is a space)."""
    if to is None:
        return None
    text = to.strip()
    return "+" + text if text.isdigit() else text
