"""Cancel on behalf of a caller: verified by a code read back, the password on the keypad page,
or an identity document in a shop; the same quote, workflow and notices as the portal."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from esimcare.audit.models import AuditEvent
from esimcare.cancellations.models import Cancellation
from esimcare.cancellations.service import IN_PERSON_METHOD, quote_for
from esimcare.cancellations.states import CancellationStatus
from esimcare.context import Context
from esimcare.customers.models import Customer
from esimcare.db import transaction
from esimcare.esims.service import list_esims
from esimcare.kit.clock import FrozenClock
from esimcare.notices.models import Notice
from esimcare.portal.i18n import Translator
from esimcare.runtime import build_worker
from esimcare.staff.roles import StaffRole
from tests.integration.portal_support import PASSWORD, csrf, latest_code, portal_client
from tests.integration.staff_support import console_login, customer_id_of, make_staff, staff_id

ANNA = "+79160000001"
LI = "+79030000001"


def _agent(ctx: Context, operator_id: str, role: StaffRole = StaffRole.AGENT) -> TestClient:
    email = f"{role.value}@{operator_id}.example"
    secret = make_staff(ctx, operator_id, role, email)
    client = portal_client(ctx, language="en")
    assert console_login(client, ctx, email, secret).status_code == 303
    return client


def _first_esim(ctx: Context, operator_id: str, customer_id: int) -> int:
    with transaction(ctx.sessions) as session:
        return list_esims(session, operator_id, customer_id)[0].esim.id


def _request(client: TestClient, customer_id: int, esim_id: int, **form: str) -> str:
    """Submit the on-behalf form; returns the verify page's path."""
    page = client.get(f"/staff/customers/{customer_id}/esims/{esim_id}/cancel")
    assert page.status_code == 200, page.text
    answer = client.post(
        f"/staff/customers/{customer_id}/esims/{esim_id}/cancel",
        data={"csrf": csrf(page.text), **form},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return str(answer.headers["location"])


def _cancellation(ctx: Context, customer_id: int) -> Cancellation:
    with transaction(ctx.sessions) as session:
        found = session.scalars(
            select(Cancellation).where(Cancellation.customer_id == customer_id)
        ).one()
        return found


def _drain(ctx: Context) -> None:
    worker = build_worker(ctx, name="test-worker")
    for _ in range(6):
        worker.run_until_idle()
        assert isinstance(ctx.clock, FrozenClock)
        ctx.clock.advance(timedelta(minutes=10))


def test_the_agent_sees_the_quote_the_customer_would_see(demo: Context) -> None:
    anna = customer_id_of(demo, "mts", ANNA)
    esim_id = _first_esim(demo, "mts", anna)
    client = _agent(demo, "mts")
    with transaction(demo.sessions) as session:
        customer = session.get(Customer, anna)
        assert customer is not None
        quote = quote_for(session, demo, customer, esim_id)
    page = client.get(f"/staff/customers/{anna}/esims/{esim_id}/cancel").text
    english = Translator("en")
    for amount in (quote.bill.total, quote.settlement.refund, quote.balance.cash):
        assert english.money(amount) in page


def test_an_agent_cancels_for_anna_after_she_reads_back_the_code(demo: Context) -> None:
    anna = customer_id_of(demo, "mts", ANNA)
    esim_id = _first_esim(demo, "mts", anna)
    client = _agent(demo, "mts")
    verify_path = _request(client, anna, esim_id, reason="not_needed", check="code")
    assert verify_path.endswith("?check=code")
    page = client.get(verify_path)
    wrong = client.post(
        verify_path.split("?")[0],
        data={"csrf": csrf(page.text), "check": "code", "secret": "000000"},
    )
    assert wrong.status_code == 422
    answer = client.post(
        verify_path.split("?")[0],
        follow_redirects=False,
        data={"csrf": csrf(page.text), "check": "code", "secret": latest_code(demo, ANNA)},
    )
    assert answer.status_code == 303, answer.text
    cancellation = _cancellation(demo, anna)
    assert cancellation.verification_method == "sms"
    assert answer.headers["location"] == f"/staff/customers/{anna}?done={cancellation.reference}"
    _drain(demo)
    assert _cancellation(demo, anna).status is CancellationStatus.COMPLETED
    bodies = [m.body for m in demo.sms.messages(to=ANNA)]  # type: ignore[attr-defined]
    assert any(cancellation.reference in body for body in bodies)
    assert demo.email.messages(to="anna@example.com")  # type: ignore[attr-defined]
    actor = f"staff:{staff_id(demo, 'agent@mts.example')}"
    with transaction(demo.sessions) as session:
        actions = set(session.scalars(select(AuditEvent.action).where(AuditEvent.actor == actor)))
    assert {
        "staff.cancellation_requested_on_behalf",
        "staff.caller_check_failed",
        "staff.cancellation_verified_on_behalf",
    } <= actions
    # An hour passed in the worker's drain: the idle console session has ended meanwhile.
    assert client.get("/staff/", follow_redirects=False).headers["location"] == "/staff/login"
    relogged = _agent(demo, "mts", StaffRole.SUPERVISOR)
    timeline = relogged.get(f"/staff/customers/{anna}").text
    for entry in (
        f"{cancellation.reference}: step profile done",
        "Notice by sms",
        f"{cancellation.reference}: completed",
        "staff.cancellation_verified_on_behalf",
    ):
        assert entry in timeline, entry


def test_li_types_her_password_on_the_keypad_and_gets_the_undo_link(demo: Context) -> None:
    li = customer_id_of(demo, "beeline", LI)
    esim_id = _first_esim(demo, "beeline", li)
    client = _agent(demo, "beeline", StaffRole.SUPERVISOR)
    _request(
        client, li, esim_id, reason="leaving_country", check="password", refund_to="+79161234567"
    )
    cancellation = _cancellation(demo, li)
    keypad = client.get(f"/staff/cancellations/{cancellation.id}/keypad")
    assert keypad.status_code == 200 and 'type="password"' in keypad.text
    answer = client.post(
        f"/staff/cancellations/{cancellation.id}/verify",
        follow_redirects=False,
        data={"csrf": csrf(keypad.text), "check": "password", "secret": PASSWORD},
    )
    assert answer.status_code == 303, answer.text
    assert _cancellation(demo, li).status is CancellationStatus.SCHEDULED
    build_worker(demo, name="test-worker").run_until_idle()
    bodies = [m.body for m in demo.sms.messages(to=LI)]  # type: ignore[attr-defined]
    undo = next(re.search(r"/beeline/undo/\S+", b) for b in bodies if "/beeline/undo/" in b)
    assert undo is not None
    customer = portal_client(demo)
    page = customer.get(undo.group(0).rstrip("."))
    customer.post(undo.group(0).rstrip("."), data={"csrf": csrf(page.text)})
    assert _cancellation(demo, li).status is CancellationStatus.UNDONE


def test_an_id_checked_in_a_shop_needs_a_note_and_is_recorded(demo: Context) -> None:
    anna = customer_id_of(demo, "mts", ANNA)
    esim_id = _first_esim(demo, "mts", anna)
    client = _agent(demo, "mts")
    verify_path = _request(client, anna, esim_id, reason="not_needed", check="id_document")
    path = verify_path.split("?")[0]
    page = client.get(verify_path)
    assert 'name="note"' in page.text
    empty = client.post(path, data={"csrf": csrf(page.text), "check": "id_document", "note": " "})
    assert empty.status_code == 422
    assert _cancellation(demo, anna).status is CancellationStatus.AWAITING_VERIFICATION
    done = client.post(
        path,
        follow_redirects=False,
        data={
            "csrf": csrf(page.text),
            "check": "id_document",
            "note": "passport, last digits 4821",
        },
    )
    assert done.status_code == 303
    cancellation = _cancellation(demo, anna)
    assert cancellation.verification_method == IN_PERSON_METHOD
    assert cancellation.status is CancellationStatus.PROCESSING
    with transaction(demo.sessions) as session:
        notices = session.scalars(select(Notice).where(Notice.customer_id == anna)).all()
        verified = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "staff.cancellation_verified_on_behalf")
        ).one()
    assert {n.channel.value for n in notices} == {"sms", "email"}
    assert verified.data["why"] == "passport, last digits 4821"
    assert verified.subject == f"cancellation:{cancellation.reference}"
