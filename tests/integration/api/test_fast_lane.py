"""The fast lane and the notification door in front of the app answer exactly as the routes
behind them: the same status, headers and body, for accepted and refused requests alike
(compared with the same app without them)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from esimcare.api.fast_lane import FastLane
from esimcare.api.front_door import EsimcareApp
from esimcare.app import create_app
from esimcare.context import Context
from esimcare.integrations.smdp.notification_signature import EMULATOR_REQUESTER_ID
from esimcare.kit.clock import iso
from tests.conftest import MakeContext
from tests.support import emulator_signed_headers, run_in_own_loop

PATH = "/es2plus/{}/gsma/rsp2/es2plus/handleDownloadProgressInfo"
# Answers differ between two requests only by these.
_PER_REQUEST = {"date", "x-request-id"}


def without_fast_lane(ctx: Context) -> FastAPI:
    app = create_app(ctx)
    lanes = [m for m in app.user_middleware if m.cls == FastLane]  # type: ignore[comparison-overlap]
    assert len(lanes) == 1, "the app has its fast lane"
    app.user_middleware.remove(lanes[0])  # the stack is built on the first request
    assert isinstance(app, EsimcareApp) and app.notification_door is not None
    app.notification_door = None
    return app


def notification(ctx: Context, serial: int) -> dict[str, Any]:
    return {
        "header": {"functionRequesterIdentifier": EMULATOR_REQUESTER_ID},
        "iccid": "8999001000000000017",
        "timestamp": iso(ctx.clock.now() - timedelta(seconds=serial)),
        "notificationPointId": 1,
        "notificationPointStatus": {"status": "Executed-Success"},
    }


async def answers(
    app: FastAPI,
    requests: list[tuple[str, bytes, dict[str, str]]],
    *,
    raise_app_exceptions: bool = True,
) -> list[Any]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
        found = []
        for path, content, headers in requests:
            answer = await client.post(path, content=content, headers=headers)
            kept = {k: v for k, v in answer.headers.items() if k not in _PER_REQUEST}
            found.append((answer.status_code, kept, answer.content))
        return found


def test_notifications_get_the_same_answers_with_and_without_the_fast_lane(
    make_context: MakeContext,
) -> None:
    ctx = make_context()

    def requests(offset: int) -> list[tuple[str, bytes, dict[str, str]]]:
        good = json.dumps(notification(ctx, offset)).encode()
        forged = json.dumps(notification(ctx, offset + 1)).encode()
        signed = emulator_signed_headers(ctx, good)
        return [
            (PATH.format("mts"), good, signed),  # stored: 204
            (PATH.format("mts"), good, signed),  # delivered twice: 204 again
            (PATH.format("mts"), forged, signed),  # signature of another body: 403
            (PATH.format("mts"), good, {**signed, "Content-Type": "text/plain"}),  # 415
            (PATH.format("mts"), b"[1]", emulator_signed_headers(ctx, b"[1]")),  # 400
            (PATH.format("nobody"), good, signed),  # 404
            (PATH.format("mts"), b" " * 70_000, signed),  # 413
            (PATH.format("mts") + "/", good, signed),  # another path: routed either way
        ]

    fast = run_in_own_loop(answers(create_app(ctx), requests(10)))
    routed = run_in_own_loop(answers(without_fast_lane(ctx), requests(20)))
    assert [status for status, *_ in fast][:7] == [204, 204, 403, 415, 400, 404, 413]
    assert fast == routed


def test_a_failing_store_gets_the_same_500_with_and_without_the_door(
    make_context: MakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = make_context()

    def broken(*_args: Any, **_kwargs: Any) -> list[str]:
        raise RuntimeError("the disk is gone")

    monkeypatch.setattr("esimcare.es2plus.receiver.store_notifications", broken)

    def request(offset: int) -> list[tuple[str, bytes, dict[str, str]]]:
        body = json.dumps(notification(ctx, offset)).encode()
        return [(PATH.format("mts"), body, emulator_signed_headers(ctx, body))]

    fast = run_in_own_loop(answers(create_app(ctx), request(30), raise_app_exceptions=False))
    routed = run_in_own_loop(
        answers(without_fast_lane(ctx), request(40), raise_app_exceptions=False)
    )
    assert fast[0][0] == 500
    assert fast[0][1]["content-type"] == "application/problem+json"
    assert fast[0][1]["cache-control"] == "no-store"
    assert fast[0][1]["x-content-type-options"] == "nosniff"
    assert fast == routed
