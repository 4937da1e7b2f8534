"""Helpers for the staff console tests: accounts with a known TOTP secret, console logins."""

from __future__ import annotations

from datetime import timedelta

import pyotp
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select

from esimcare.audit.models import AuditEvent
from esimcare.context import Context
from esimcare.db import transaction
from esimcare.kit.clock import FrozenClock
from esimcare.staff.models import StaffMember
from esimcare.staff.roles import StaffRole
from esimcare.staff.service import add_staff, complete_setup, staff_for_setup, totp_secret_of
from tests.integration.portal_support import csrf

STAFF_PASSWORD = "staff-password-for-tests"


def make_staff(ctx: Context, operator_id: str | None, role: StaffRole, email: str) -> str:
    """A set-up staff account (password and TOTP); returns its TOTP secret."""
    now = ctx.clock.now()
    with transaction(ctx.sessions) as session:
        token = add_staff(session, operator_id=operator_id, role=role, email=email, now=now)
        setup_token = token.setup_token
        key = ctx.settings.secret_key
        secret = totp_secret_of(staff_for_setup(session, setup_token, now, key), key)
    with transaction(ctx.sessions) as session:
        complete_setup(
            session,
            setup_token,
            password=STAFF_PASSWORD,
            totp_code=totp_now(ctx, secret),
            now=now,
            key=key,
        )
    next_step(ctx)  # the set-up used this step's code
    return secret


def totp_now(ctx: Context, secret: str) -> str:
    return pyotp.TOTP(secret).at(ctx.clock.now())


def next_step(ctx: Context) -> None:
    """TOTP codes are good once per 30 s step: move the frozen clock to the next one."""
    clock = ctx.clock
    assert isinstance(clock, FrozenClock)
    clock.advance(timedelta(seconds=30))


def password_step(client: TestClient, email: str, password: str = STAFF_PASSWORD) -> Response:
    page = client.get("/staff/login")
    return client.post(
        "/staff/login",
        data={"csrf": csrf(page.text), "email": email, "password": password},
        follow_redirects=False,
    )


def console_login(client: TestClient, ctx: Context, email: str, secret: str) -> Response:
    """Password, then the TOTP code: a console session that can act."""
    first = password_step(client, email)
    assert first.status_code == 303, first.text
    page = client.get("/staff/login/second-factor")
    answer = client.post(
        "/staff/login/totp",
        data={"csrf": csrf(page.text), "code": totp_now(ctx, secret)},
        follow_redirects=False,
    )
    next_step(ctx)
    return answer


def staff_id(ctx: Context, email: str) -> int:
    with transaction(ctx.sessions) as session:
        found = session.scalar(select(StaffMember.id).where(StaffMember.email == email))
        assert found is not None
        return found


def audit_count(ctx: Context, actor: str, action: str | None = None) -> int:
    with transaction(ctx.sessions) as session:
        query = select(func.count()).select_from(AuditEvent).where(AuditEvent.actor == actor)
        if action is not None:
            query = query.where(AuditEvent.action == action)
        return int(session.scalar(query) or 0)


def customer_id_of(ctx: Context, operator_id: str, phone: str) -> int:
    from esimcare.customers.models import Customer

    with transaction(ctx.sessions) as session:
        found = session.scalar(
            select(Customer.id).where(Customer.operator_id == operator_id, Customer.phone == phone)
        )
        assert found is not None
        return found
