"""Passkeys as the staff's second factor: registration and authentication ceremonies, checked
by py_webauthn against answers from a software authenticator."""

from __future__ import annotations

import json

import pytest

from esimcare.context import Context
from esimcare.db import transaction
from esimcare.staff.auth import StaffAuth, log_in_with_password, resolve_staff_session
from esimcare.staff.errors import PasskeyRejectedError, SecondFactorRequiredError
from esimcare.staff.passkeys import (
    RelyingParty,
    authentication_options,
    finish_authentication,
    finish_registration,
    passkeys_of,
    registration_options,
)
from esimcare.staff.roles import StaffRole
from tests.integration.portal_support import csrf, portal_client
from tests.integration.software_authenticator import SoftwareAuthenticator
from tests.integration.staff_support import STAFF_PASSWORD, console_login, make_staff

EMAIL = "agent@mts.example"


def _password_session(ctx: Context) -> str:
    with transaction(ctx.sessions) as session:
        issued = log_in_with_password(
            session,
            EMAIL,
            STAFF_PASSWORD,
            now=ctx.clock.now(),
            limits=ctx.settings.limits,
            production=False,
            work=ctx.password_work,
        )
        return issued.token


def _auth(ctx: Context, session: object, token: str) -> StaffAuth:
    return resolve_staff_session(
        session,
        token,
        now=ctx.clock.now(),  # type: ignore[arg-type]
        limits=ctx.settings.limits,
        production=False,
    )


def _registered(ctx: Context, party: RelyingParty) -> SoftwareAuthenticator:
    """A fully logged-in session (TOTP) registers a software passkey."""
    secret = make_staff(ctx, "mts", StaffRole.AGENT, EMAIL)
    client = portal_client(ctx)
    console_login(client, ctx, EMAIL, secret)
    token = client.cookies["__Host-staff"]
    device = SoftwareAuthenticator(party.rp_id, party.origin)
    with transaction(ctx.sessions) as session:
        options = registration_options(session, _auth(ctx, session, token), party)
    with transaction(ctx.sessions) as session:
        finish_registration(
            session,
            _auth(ctx, session, token),
            party,
            device.create(options),
            label="laptop",
            now=ctx.clock.now(),
        )
    return device


def test_a_registered_passkey_completes_a_password_login(demo: Context) -> None:
    party = RelyingParty.for_site(demo.settings.public_url)
    device = _registered(demo, party)
    token = _password_session(demo)
    with transaction(demo.sessions) as session:
        auth = _auth(demo, session, token)
        assert not auth.complete
        options = authentication_options(session, auth, party)
    with transaction(demo.sessions) as session:
        new_token = finish_authentication(
            session, _auth(demo, session, token), party, device.get(options), now=demo.clock.now()
        )
    with transaction(demo.sessions) as session:
        auth = _auth(demo, session, new_token)
        assert auth.complete and auth.session.second_factor == "passkey"
        assert passkeys_of(session, auth.staff.id)[0].sign_count == 1


def test_a_replayed_or_foreign_origin_assertion_is_refused(demo: Context) -> None:
    party = RelyingParty.for_site(demo.settings.public_url)
    device = _registered(demo, party)
    token = _password_session(demo)
    with transaction(demo.sessions) as session:
        options = authentication_options(session, _auth(demo, session, token), party)
    phished = device.get(options, origin="https://evil.example")
    with pytest.raises(PasskeyRejectedError), transaction(demo.sessions) as session:
        finish_authentication(
            session, _auth(demo, session, token), party, phished, now=demo.clock.now()
        )
    with transaction(demo.sessions) as session:
        options = authentication_options(session, _auth(demo, session, token), party)
    good = device.get(options)
    with transaction(demo.sessions) as session:
        finish_authentication(
            session, _auth(demo, session, token), party, good, now=demo.clock.now()
        )
    other = _password_session(demo)
    with pytest.raises(PasskeyRejectedError), transaction(demo.sessions) as session:
        finish_authentication(
            session, _auth(demo, session, other), party, good, now=demo.clock.now()
        )
    with transaction(demo.sessions) as session:
        assert not _auth(demo, session, other).complete


def test_a_session_without_its_second_factor_cannot_add_a_passkey(demo: Context) -> None:
    party = RelyingParty.for_site(demo.settings.public_url)
    make_staff(demo, "mts", StaffRole.AGENT, EMAIL)
    token = _password_session(demo)
    with pytest.raises(SecondFactorRequiredError), transaction(demo.sessions) as session:
        registration_options(session, _auth(demo, session, token), party)


def test_the_console_passkey_endpoints_speak_json_to_the_browser_script(demo: Context) -> None:
    secret = make_staff(demo, "mts", StaffRole.AGENT, EMAIL)
    client = portal_client(demo)
    console_login(client, demo, EMAIL, secret)
    token = csrf(client.get("/staff/account").text)
    options = client.post("/staff/account/passkeys/options", data={"csrf": token}).json()
    assert options["rp"]["id"] == "127.0.0.1"  # the site in ESIMCARE_PUBLIC_URL
    foreign = SoftwareAuthenticator("testserver", "https://testserver")
    refused = client.post(
        "/staff/account/passkeys",
        data={"csrf": token, "credential": json.dumps(foreign.create(options)), "label": "x"},
    )
    assert refused.status_code == 422 and "error" in refused.json()
    ours = RelyingParty.for_site(demo.settings.public_url)
    device = SoftwareAuthenticator(ours.rp_id, ours.origin)
    options = client.post("/staff/account/passkeys/options", data={"csrf": token}).json()
    added = client.post(
        "/staff/account/passkeys",
        data={"csrf": token, "credential": json.dumps(device.create(options)), "label": "laptop"},
    )
    assert added.json() == {"next": "/staff/account"}
    assert "laptop" in client.get("/staff/account").text
