"""Support requests: "Need help?" on the portal, answered and closed in the console."""

from __future__ import annotations

import re

from sqlalchemy import select

from esimcare.audit.models import AuditEvent
from esimcare.context import Context
from esimcare.db import transaction
from esimcare.runtime import build_worker
from esimcare.staff.models import SupportRequest, SupportStatus
from esimcare.staff.roles import StaffRole
from tests.integration.portal_support import csrf, esim_ids, log_in, portal_client
from tests.integration.staff_support import console_login, make_staff


def test_a_question_from_the_cancel_page_is_answered_by_email_and_closed(demo: Context) -> None:
    customer = portal_client(demo, language="en")
    log_in(customer, "mts")
    esim_id = esim_ids(customer, "mts")[0]
    cancel_page = customer.get(f"/mts/esims/{esim_id}/cancel").text
    assert f'href="/mts/help?esim={esim_id}"' in cancel_page
    form = customer.get(f"/mts/help?esim={esim_id}")
    assert 'value="email"' in form.text
    asked = customer.post(
        "/mts/help",
        data={
            "csrf": csrf(form.text),
            "esim_id": str(esim_id),
            "reply_channel": "email",
            "message": "Will I keep my number if I cancel?",
        },
    )
    assert [step.status_code for step in asked.history] == [303]  # Post/Redirect/Get
    request_id = re.search(r'data-support="(\d+)"', asked.text)
    assert request_id
    number = request_id.group(1)

    secret = make_staff(demo, "mts", StaffRole.AGENT, "agent@mts.example")
    agent = portal_client(demo)
    console_login(agent, demo, "agent@mts.example", secret)
    listing = agent.get("/staff/support").text
    assert f"/staff/support/{number}" in listing and "Will I keep my number" in listing
    detail = agent.get(f"/staff/support/{number}")
    answered = agent.post(
        f"/staff/support/{number}/answer",
        follow_redirects=False,
        data={"csrf": csrf(detail.text), "answer": "No: it is kept in quarantine for 90 days."},
    )
    assert answered.status_code == 303
    build_worker(demo, name="test-worker").run_until_idle()
    mails = demo.email.messages(to="anna@example.com")  # type: ignore[attr-defined]
    assert any("quarantine for 90 days" in m.body for m in mails)
    closed = agent.post(
        f"/staff/support/{number}/close", data={"csrf": csrf(detail.text), "why": "answered"}
    )
    assert closed.status_code == 200  # the list, after the redirect
    assert f"/staff/support/{number}" not in agent.get("/staff/support").text
    with transaction(demo.sessions) as session:
        request = session.get(SupportRequest, int(number))
        actions = set(
            session.scalars(
                select(AuditEvent.action).where(AuditEvent.subject == f"support:{number}")
            )
        )
    assert request is not None and request.status is SupportStatus.CLOSED
    assert request.esim_id == esim_id
    assert {
        "support.requested",
        "staff.support_viewed",
        "staff.support_answered",
        "staff.support_closed",
    } <= actions


def test_a_customer_cannot_tie_a_question_to_another_customers_esim(demo: Context) -> None:
    beeline = portal_client(demo)
    log_in(beeline, "beeline")
    li_esim = esim_ids(beeline, "beeline")[0]
    customer = portal_client(demo)
    log_in(customer, "mts")
    form = customer.get("/mts/help")
    answer = customer.post(
        "/mts/help",
        data={
            "csrf": csrf(form.text),
            "esim_id": str(li_esim),
            "reply_channel": "sms",
            "message": "hello",
        },
    )
    assert answer.status_code == 404
    with transaction(demo.sessions) as session:
        assert session.scalars(select(SupportRequest)).first() is None


def test_the_verify_and_status_pages_offer_help_about_the_cancellation(demo: Context) -> None:
    customer = portal_client(demo)
    log_in(customer, "beeline")
    esim_id = esim_ids(customer, "beeline")[0]
    page = customer.get(f"/beeline/esims/{esim_id}/cancel")
    answer = customer.post(
        f"/beeline/esims/{esim_id}/cancel",
        data={
            "csrf": csrf(page.text),
            "reason": "leaving_country",
            "refund_to": "+79161234567",
            "form_token": re.search(r'name="form_token" value="([^"]+)"', page.text).group(1),
        },
    )  # type: ignore[union-attr]
    verify_path = answer.url.path
    cancellation_id = re.search(r"/cancellations/(\d+)/verify", verify_path).group(1)  # type: ignore[union-attr]
    assert f"/beeline/help?cancellation={cancellation_id}" in answer.text
    status = customer.get(f"/beeline/cancellations/{cancellation_id}").text
    assert f"/beeline/help?cancellation={cancellation_id}" in status
