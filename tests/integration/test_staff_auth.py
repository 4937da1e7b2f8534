"""Staff logins: password then a second factor, separate short sessions, set-up links, CSRF."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

import pyotp
import pytest

from esimcare.config import Mode
from esimcare.context import Context
from esimcare.customers.passwords import PasswordWork
from esimcare.db import transaction
from esimcare.kit.clock import FrozenClock
from esimcare.sandbox.demo_staff import DEMO_STAFF_PASSWORD, DemoStaffRefusedError, seed_demo_staff
from esimcare.staff.auth import log_in_with_password
from esimcare.staff.errors import StaffLoginFailedError
from esimcare.staff.models import StaffMember
from esimcare.staff.roles import StaffRole
from esimcare.staff.service import add_staff
from esimcare.staff.totp import open_secret
from tests.integration.portal_support import csrf, log_in, portal_client
from tests.integration.staff_support import (
    audit_count,
    console_login,
    customer_id_of,
    make_staff,
    next_step,
    password_step,
    staff_id,
    totp_now,
)

AGENT = "agent@mts.example"


def test_password_and_totp_open_a_console_session_of_its_own(demo: Context) -> None:
    secret = make_staff(demo, "mts", StaffRole.AGENT, AGENT)
    client = portal_client(demo)
    answer = console_login(client, demo, AGENT, secret)
    assert answer.status_code == 303 and answer.headers["location"] == "/staff/"
    assert "__Host-staff" in client.cookies and "__Host-esimcare" not in client.cookies
    page = client.get("/staff/")
    assert page.status_code == 200 and 'name="q"' in page.text
    assert audit_count(demo, f"staff:{staff_id(demo, AGENT)}", "staff.login") == 1


def test_a_session_without_its_second_factor_can_do_nothing(demo: Context) -> None:
    make_staff(demo, "mts", StaffRole.AGENT, AGENT)
    anna = customer_id_of(demo, "mts", "+79160000001")
    client = portal_client(demo)
    assert password_step(client, AGENT).status_code == 303
    token = csrf(client.get("/staff/login/second-factor").text)
    for path in ("/staff/", f"/staff/customers/{anna}", "/staff/support", "/staff/account"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"] == "/staff/login/second-factor"
    reveal = client.post(
        f"/staff/customers/{anna}/reveal", data={"csrf": token, "why": "x"}, follow_redirects=False
    )
    assert reveal.status_code == 303
    actor = f"staff:{staff_id(demo, AGENT)}"
    assert audit_count(demo, actor, "staff.contact_revealed") == 0
    assert audit_count(demo, actor, "staff.customer_viewed") == 0


def test_a_wrong_code_is_refused_and_a_right_code_works_only_once(demo: Context) -> None:
    secret = make_staff(demo, "mts", StaffRole.AGENT, AGENT)
    client = portal_client(demo)
    password_step(client, AGENT)
    token = csrf(client.get("/staff/login/second-factor").text)
    wrong = client.post("/staff/login/totp", data={"csrf": token, "code": "000000"})
    assert wrong.status_code == 401
    code = totp_now(demo, secret)
    right = client.post(
        "/staff/login/totp", data={"csrf": token, "code": code}, follow_redirects=False
    )
    assert right.status_code == 303
    other = portal_client(demo)
    password_step(other, AGENT)
    again = other.post(
        "/staff/login/totp",
        follow_redirects=False,
        data={"csrf": csrf(other.get("/staff/login/second-factor").text), "code": code},
    )
    assert again.status_code == 401
    actor = f"staff:{staff_id(demo, AGENT)}"
    assert audit_count(demo, actor, "staff.second_factor_failed") == 2


def test_an_unknown_email_and_a_wrong_password_get_the_same_answer(demo: Context) -> None:
    make_staff(demo, "mts", StaffRole.AGENT, AGENT)
    unknown = password_step(portal_client(demo), "nobody@mts.example")
    wrong = password_step(portal_client(demo), AGENT, "not-the-password")
    assert unknown.status_code == wrong.status_code == 401
    assert _alert(unknown.text) == _alert(wrong.text)


def _alert(html: str) -> str:
    found = re.search(r'role="alert">([^<]*)<', html)
    assert found
    return found.group(1)


def test_the_session_ends_after_15_idle_minutes_and_at_logout(demo: Context) -> None:
    secret = make_staff(demo, "mts", StaffRole.AGENT, AGENT)
    client = portal_client(demo)
    console_login(client, demo, AGENT, secret)
    clock = demo.clock
    assert isinstance(clock, FrozenClock)
    clock.advance(timedelta(minutes=14))
    assert client.get("/staff/").status_code == 200
    clock.advance(timedelta(minutes=16))
    ended = client.get("/staff/", follow_redirects=False)
    assert ended.headers["location"] == "/staff/login"
    console_login(client, demo, AGENT, secret)
    token = csrf(client.get("/staff/").text)
    cookie = client.cookies["__Host-staff"]
    client.post("/staff/logout", data={"csrf": token})
    client.cookies.set("__Host-staff", cookie)  # a copied cookie is dead server-side too
    assert client.get("/staff/", follow_redirects=False).headers["location"] == "/staff/login"


def test_customer_and_staff_sessions_do_not_open_each_others_doors(demo: Context) -> None:
    secret = make_staff(demo, "mts", StaffRole.AGENT, AGENT)
    customer = portal_client(demo)
    log_in(customer, "mts")
    answer = customer.get("/staff/", follow_redirects=False)
    assert answer.headers["location"] == "/staff/login"
    staff = portal_client(demo)
    console_login(staff, demo, AGENT, secret)
    location = staff.get("/mts/esims", follow_redirects=False).headers["location"]
    assert location.startswith("/mts/login")


def test_console_posts_need_the_form_token_and_our_origin(demo: Context) -> None:
    secret = make_staff(demo, "mts", StaffRole.AGENT, AGENT)
    anna = customer_id_of(demo, "mts", "+79160000001")
    client = portal_client(demo)
    console_login(client, demo, AGENT, secret)
    token = csrf(client.get("/staff/").text)
    path = f"/staff/customers/{anna}/reveal"
    assert client.post(path, data={"why": "caller asked"}).status_code == 403
    assert client.post(path, data={"csrf": "f" * 64, "why": "caller asked"}).status_code == 403
    evil = client.post(
        path,
        data={"csrf": token, "why": "caller asked"},
        headers={"Origin": "https://evil.example"},
    )
    assert evil.status_code == 403
    assert audit_count(demo, f"staff:{staff_id(demo, AGENT)}", "staff.contact_revealed") == 0
    assert client.post(path, data={"csrf": token, "why": "caller asked"}).status_code == 200


def test_the_set_up_link_sets_password_and_totp_once(demo: Context) -> None:
    with transaction(demo.sessions) as session:
        added = add_staff(
            session,
            operator_id="mts",
            role=StaffRole.SUPERVISOR,
            email="Boss@MTS.example",
            now=demo.clock.now(),
        )
    client = portal_client(demo)
    page = client.get(f"/staff/setup/{added.setup_token}")
    assert page.status_code == 200
    secret = re.search(r'class="mono">([A-Z2-7 ]+)<', page.text)
    assert secret
    key = secret.group(1).replace(" ", "")
    answer = client.post(
        f"/staff/setup/{added.setup_token}",
        data={
            "csrf": csrf(page.text),
            "password": "a long staff password",
            "password_again": "a long staff password",
            "code": pyotp.TOTP(key).at(demo.clock.now()),
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    assert client.get(f"/staff/setup/{added.setup_token}").status_code == 404
    next_step(demo)
    with transaction(demo.sessions) as session:
        issued = log_in_with_password(
            session,
            "boss@mts.example",
            "a long staff password",
            now=demo.clock.now(),
            limits=demo.settings.limits,
            production=False,
            work=demo.password_work,
        )
    assert not issued.auth.complete


def test_demo_staff_logins_work_in_development_and_are_refused_in_production(
    demo: Context,
) -> None:
    logins = seed_demo_staff(demo)
    assert {(s.operator_id, s.role) for s in logins} >= {
        ("mts", StaffRole.AGENT),
        ("beeline", StaffRole.SUPERVISOR),
    }
    agent = next(s for s in logins if s.operator_id == "mts" and s.role is StaffRole.AGENT)
    client = portal_client(demo)
    answer = client.post(
        "/staff/login",
        follow_redirects=False,
        data={
            "csrf": csrf(client.get("/staff/login").text),
            "email": agent.email,
            "password": DEMO_STAFF_PASSWORD,
        },
    )
    assert answer.status_code == 303
    with transaction(demo.sessions) as session, pytest.raises(StaffLoginFailedError):
        log_in_with_password(
            session,
            agent.email,
            DEMO_STAFF_PASSWORD,
            now=demo.clock.now(),
            limits=demo.settings.limits,
            production=True,
            work=demo.password_work,
        )
    production = dataclasses.replace(
        demo, settings=demo.settings.with_changes(mode=Mode.PRODUCTION)
    )
    with pytest.raises(DemoStaffRefusedError):
        seed_demo_staff(production)


def test_the_totp_secret_is_stored_sealed_under_the_deployments_key(demo: Context) -> None:
    secret = make_staff(demo, "mts", StaffRole.AGENT, AGENT)
    with transaction(demo.sessions) as session:
        stored = session.get(StaffMember, staff_id(demo, AGENT))
        assert stored is not None and stored.totp_secret is not None
        sealed = stored.totp_secret
    assert secret not in sealed
    assert open_secret(demo.settings.secret_key, sealed) == secret
    with pytest.raises(ValueError, match="another key"):
        open_secret(b"another deployment's key", sealed)


def test_staff_logins_share_the_processs_bound_on_password_hashing(demo: Context) -> None:
    """security.md: argon2 reachable without a session is bounded per process; the console's
    login is such a door too (429 with Retry-After while every slot is taken)."""
    make_staff(demo, "mts", StaffRole.AGENT, AGENT)
    busy = dataclasses.replace(demo, password_work=PasswordWork(1, 0.01))
    client = portal_client(busy)
    form = {"csrf": csrf(client.get("/staff/login").text), "email": AGENT, "password": "x" * 20}
    with busy.password_work.slot():  # every slot of this process is taken
        answer = client.post("/staff/login", data=form, follow_redirects=False)
    assert answer.status_code == 429
    assert answer.headers["retry-after"] == "1"
