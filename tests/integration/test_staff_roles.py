"""Roles and tenants in the console: an operator's staff see only that operator; an auditor
changes nothing; every staff action is an audit row."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from esimcare.audit.models import AuditEvent
from esimcare.audit.service import verify_chain
from esimcare.cancellations.models import Cancellation
from esimcare.context import Context
from esimcare.customers.models import Customer
from esimcare.db import transaction
from esimcare.esims.models import Esim
from esimcare.staff.models import SupportRequest, SupportStatus
from esimcare.staff.roles import StaffRole
from esimcare.staff.support import ask_for_help
from tests.integration.portal_support import csrf, portal_client
from tests.integration.staff_support import console_login, customer_id_of, make_staff, staff_id
from tests.support import request_and_verify_mts


def _logged_in(ctx: Context, operator_id: str | None, role: StaffRole, email: str) -> TestClient:
    secret = make_staff(ctx, operator_id, role, email)
    client = portal_client(ctx)
    assert console_login(client, ctx, email, secret).status_code == 303
    return client


def _beeline_facts(ctx: Context) -> tuple[int, int, str, str]:
    """Li Wei's customer id, eSIM id and ICCID, and a support request's id as text."""
    with transaction(ctx.sessions) as session:
        li = session.scalars(select(Customer).where(Customer.operator_id == "beeline")).first()
        assert li is not None
        esim = session.scalars(select(Esim).where(Esim.customer_id == li.id)).first()
        assert esim is not None
        request = ask_for_help(
            session,
            li,
            message="help",
            reply_channel="sms",
            esim_id=esim.id,
            cancellation_id=None,
            now=ctx.clock.now(),
        )
        return li.id, esim.id, esim.iccid, str(request.id)


def _found(client: TestClient, query: str) -> list[str]:
    page = client.get("/staff/", params={"q": query})
    assert page.status_code == 200
    return re.findall(r'href="/staff/customers/(\d+)"', page.text)


def test_an_mts_agent_sees_nothing_of_beeline(demo: Context) -> None:
    li, esim_id, iccid, request_id = _beeline_facts(demo)
    client = _logged_in(demo, "mts", StaffRole.AGENT, "agent@mts.example")
    for query in ("+79030000001", "li.wei@example.com", iccid):
        assert _found(client, query) == [], query
    for path in (
        f"/staff/customers/{li}",
        f"/staff/customers/{li}/esims/{esim_id}/cancel",
        f"/staff/support/{request_id}",
    ):
        assert client.get(path).status_code == 404, path
    token = csrf(client.get("/staff/").text)
    assert (
        client.post(f"/staff/customers/{li}/reveal", data={"csrf": token, "why": "x"}).status_code
        == 404
    )
    assert (
        client.post(
            f"/staff/support/{request_id}/answer", data={"csrf": token, "answer": "hi"}
        ).status_code
        == 404
    )
    assert f"/staff/support/{request_id}" not in client.get("/staff/support").text
    anna = customer_id_of(demo, "mts", "+79160000001")
    assert _found(client, "+79160000001") == [str(anna)]


def test_an_mts_agent_finds_anna_by_each_identifier(demo: Context) -> None:
    cancellation_id, _ = request_and_verify_mts(demo)
    with transaction(demo.sessions) as session:
        cancellation = session.get(Cancellation, cancellation_id)
        assert cancellation is not None
        esim = session.get(Esim, cancellation.esim_id)
        assert esim is not None
        reference, iccid = cancellation.reference, esim.iccid
    anna = str(customer_id_of(demo, "mts", "+79160000001"))
    client = _logged_in(demo, "mts", StaffRole.AGENT, "agent@mts.example")
    for query in ("+7 916 000-00-01", "9160000001", "ANNA@example.com", iccid, reference):
        assert _found(client, query) == [anna], query


def test_a_platform_administrator_sees_every_operator(demo: Context) -> None:
    li, _, iccid, _ = _beeline_facts(demo)
    client = _logged_in(demo, None, StaffRole.ADMIN, "root@platform.example")
    assert _found(client, iccid) == [str(li)]
    assert client.get(f"/staff/customers/{li}").status_code == 200


def test_an_auditor_reads_but_cannot_change_anything(demo: Context) -> None:
    li, esim_id, _, request_id = _beeline_facts(demo)
    client = _logged_in(demo, "beeline", StaffRole.AUDITOR, "auditor@beeline.example")
    page = client.get(f"/staff/customers/{li}")
    assert page.status_code == 200
    assert "/reveal" not in page.text and "/cancel" not in page.text
    token = csrf(page.text)
    refused = [
        client.get(f"/staff/customers/{li}/esims/{esim_id}/cancel"),
        client.post(
            f"/staff/customers/{li}/esims/{esim_id}/cancel",
            data={
                "csrf": token,
                "reason": "other",
                "check": "id_document",
                "refund_to": "+79161234567",
            },
        ),
        client.post(f"/staff/customers/{li}/reveal", data={"csrf": token, "why": "curious"}),
        client.post(f"/staff/support/{request_id}/answer", data={"csrf": token, "answer": "x"}),
        client.post(f"/staff/support/{request_id}/close", data={"csrf": token}),
    ]
    assert [answer.status_code for answer in refused] == [403] * len(refused)
    with transaction(demo.sessions) as session:
        assert session.scalars(select(Cancellation)).first() is None
        request = session.get(SupportRequest, int(request_id))
        assert request is not None and request.status is SupportStatus.OPEN
        revealed = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "staff.contact_revealed")
        ).first()
        assert revealed is None


def test_every_staff_action_leaves_an_audit_row_with_who_what_and_why(demo: Context) -> None:
    anna = customer_id_of(demo, "mts", "+79160000001")
    client = _logged_in(demo, "mts", StaffRole.AGENT, "agent@mts.example")
    client.get("/staff/", params={"q": "+79160000001"})
    page = client.get(f"/staff/customers/{anna}")
    client.post(
        f"/staff/customers/{anna}/reveal",
        data={"csrf": csrf(page.text), "why": "caller asked for the e-mail on file"},
    )
    client.post("/staff/logout", data={"csrf": csrf(page.text)})
    actor = f"staff:{staff_id(demo, 'agent@mts.example')}"
    with transaction(demo.sessions) as session:
        rows = list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.actor == actor).order_by(AuditEvent.id)
            )
        )
        assert verify_chain(session, "mts") is None
    actions = [row.action for row in rows]
    for action in (
        "staff.password_ok",
        "staff.login",
        "staff.searched",
        "staff.customer_viewed",
        "staff.contact_revealed",
        "staff.logout",
    ):
        assert action in actions, action
    reveal = next(row for row in rows if row.action == "staff.contact_revealed")
    assert reveal.subject == f"customer:{anna}" and reveal.operator_id == "mts"
    assert reveal.data["why"] == "caller asked for the e-mail on file"
    assert reveal.data["role"] == "agent"
