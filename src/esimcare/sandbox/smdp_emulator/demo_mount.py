"""In the demo, the built-in SM-DP+ EMULATOR is served by the same web app under
``/smdp-emulator`` and notifies each operator's receiver (``/es2plus/<operator>``) over HTTP,
exactly as a separate SM-DP+ would, signing each with the data directory's emulator key
(``integrations/smdp/notification_signature.py``) so the receiver knows it from a forgery.

One emulator serves every demo operator, so each notification is routed by the profile's
ICCID prefix (the operator's ``iccid_prefixes``), else by a profile type that starts with the
operator id. The custom points are the defaults (102 deleted, 101 disabled).
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
from fastapi import FastAPI

from esimcare.context import Context
from esimcare.es2plus.receiver import receiver_url
from esimcare.integrations.http import USER_AGENT
from esimcare.integrations.smdp.notification_signature import (
    EMULATOR_REQUESTER_ID,
    key_path,
    load_or_create_key,
)
from esimcare.sandbox.smdp_emulator.notifications import NotificationSender
from esimcare.sandbox.smdp_emulator.server import mount_emulator
from esimcare.sandbox.smdp_emulator.support import ProfileSnapshot
from esimcare.sandbox.stand_ins import smdp_emulator_of


def install_demo_emulator(app: FastAPI, ctx: Context) -> None:
    """Mount the emulator (development only, and only when some operator uses it)."""
    emulator = smdp_emulator_of(ctx)
    if not ctx.settings.development or emulator is None:
        return
    sender = NotificationSender(
        notification_route(ctx),
        EMULATOR_REQUESTER_ID,
        _client(),
        clock=ctx.clock,
        signing_key=load_or_create_key(key_path(ctx.settings.data_dir)),
    )
    mount_emulator(app, emulator, sender)


def _client() -> httpx.Client:
    """No kept-alive connections: notifications are rare, and the app has no hook to close
    a pool when it stops (a pooled socket would outlive it)."""
    return httpx.Client(
        timeout=httpx.Timeout(10.0, connect=5.0),
        headers={"User-Agent": USER_AGENT},
        limits=httpx.Limits(max_keepalive_connections=0),
    )


def notification_route(ctx: Context) -> Callable[[ProfileSnapshot], str | None]:
    emulator = smdp_emulator_of(ctx)
    served = [op for op, gateway in ctx.smdp.items() if gateway is emulator]

    def route(profile: ProfileSnapshot) -> str | None:
        operator = operator_of(ctx, served, profile)
        return None if operator is None else receiver_url(ctx.settings.public_url, operator)

    return route


def operator_of(ctx: Context, served: list[str], profile: ProfileSnapshot) -> str | None:
    for operator_id in served:
        if any(profile.iccid.startswith(p) for p in ctx.policy(operator_id).iccid_prefixes):
            return operator_id
    for operator_id in served:
        if profile.profile_type.startswith(operator_id):
            return operator_id
    return None
