"""Customers' passkeys (WebAuthn, user verification required): registered after a login, used
to log in and as the strongest confirmation of a cancellation, checked by py_webauthn against
answers from a software authenticator."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from esimcare.audit.models import AuditEvent
from esimcare.cancellations import operations
from esimcare.cancellations.models import Cancellation
from esimcare.cancellations.operations import CancellationDetails
from esimcare.cancellations.service import Requested
from esimcare.cancellations.states import CancellationStatus
from esimcare.context import Context
from esimcare.customers.identity import CustomerKey
from esimcare.customers.models import Customer
from esimcare.customers.passkeys import (
    Client,
    PasskeyNotAcceptedError,
    RecentLoginRequiredError,
    finish_login,
    finish_registration,
    login_options,
    passkeys_of,
    registration_options,
    remove_passkey,
)
from esimcare.customers.sessions import Authenticated, open_session, resolve_session
from esimcare.db import transaction
from esimcare.errors import MethodNotAllowedError
from esimcare.esims.service import list_esims
from esimcare.idempotency.service import StoredResponse
from esimcare.kit.webauthn_ceremony import RelyingParty
from esimcare.operators.policy import VerificationMethod
from tests.integration.software_authenticator import SoftwareAuthenticator
from tests.integration.test_sms_trust_after_install import installed_days_ago
from tests.support import customer

MTS = "+79160000001"


def _party(ctx: Context) -> RelyingParty:
    return RelyingParty.for_site(ctx.settings.public_url)


def _logged_in(ctx: Context, operator_id: str, login: str) -> str:
    who = customer(ctx, operator_id, login)
    with transaction(ctx.sessions) as session:
        owner = session.get(Customer, who.id)
        assert owner is not None
        return open_session(session, owner, ctx.clock.now(), ctx.settings.limits).token


def _auth(ctx: Context, session: object, operator_id: str, token: str) -> Authenticated:
    return resolve_session(
        session,  # type: ignore[arg-type]
        operator_id,
        token,
        ctx.clock.now(),
        ctx.settings.limits,
    )


def _register(ctx: Context, operator_id: str, login: str) -> SoftwareAuthenticator:
    """Right after a login the customer adds a passkey from a software authenticator."""
    token = _logged_in(ctx, operator_id, login)
    party = _party(ctx)
    device = SoftwareAuthenticator(party.rp_id, party.origin)
    with transaction(ctx.sessions) as session:
        auth = _auth(ctx, session, operator_id, token)
        options = registration_options(session, auth, party, now=ctx.clock.now())
    assert options["authenticatorSelection"]["userVerification"] == "required"
    with transaction(ctx.sessions) as session:
        finish_registration(session, _auth(ctx, session, operator_id, token), party,
                            json.dumps(device.create(options)), label="phone",
                            now=ctx.clock.now())  # fmt: skip
    return device


def _log_in(ctx: Context, operator_id: str, answer: dict[str, object]) -> Customer:
    with transaction(ctx.sessions) as session:
        found, _ = finish_login(session, operator_id, _party(ctx), json.dumps(answer),
                                now=ctx.clock.now(), limits=ctx.settings.limits,
                                client=Client())  # fmt: skip
        return found


def _login_options(ctx: Context, operator_id: str) -> dict[str, object]:
    with transaction(ctx.sessions) as session:
        return login_options(session, operator_id, _party(ctx), now=ctx.clock.now())


def _request(ctx: Context, operator_id: str, login: str, **details: str) -> Requested:
    who = customer(ctx, operator_id, login)
    with transaction(ctx.sessions) as session:
        esim_id = list_esims(session, operator_id, who.id)[0].esim.id
    outcome = operations.do_request_cancellation(
        ctx, CustomerKey.of(who), esim_id, CancellationDetails(reason="not_needed", **details),
        once=None, describe=lambda _s, _r: StoredResponse(201, {}),
    )  # fmt: skip
    assert outcome.ran.result is not None
    return outcome.ran.result


def _verify(ctx: Context, who: Customer, cancellation_id: int, answer: object) -> Cancellation:
    return operations.do_verify_cancellation(
        ctx, CustomerKey.of(who), cancellation_id, method="passkey", secret=json.dumps(answer)
    )


def test_a_passkey_registered_after_login_logs_the_customer_in(demo: Context) -> None:
    device = _register(demo, "mts", MTS)
    assert _log_in(demo, "mts", device.get(_login_options(demo, "mts"))).phone == MTS
    with transaction(demo.sessions) as session:
        anna = session.get(Customer, customer(demo, "mts", MTS).id)
        assert anna is not None
        assert passkeys_of(session, anna)[0].sign_count == 1
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.operator_id == "mts"))
        assert {"customer.passkey_added", "customer.passkey_login"} <= set(actions)


def test_registering_needs_a_recent_login(demo: Context) -> None:
    token = _logged_in(demo, "mts", MTS)
    demo.clock.advance(timedelta(minutes=6))  # type: ignore[attr-defined]
    with pytest.raises(RecentLoginRequiredError), transaction(demo.sessions) as session:
        registration_options(session, _auth(demo, session, "mts", token), _party(demo),
                             now=demo.clock.now())  # fmt: skip


def test_an_answer_from_another_origin_is_refused(demo: Context) -> None:
    device = _register(demo, "mts", MTS)
    phished = device.get(_login_options(demo, "mts"), origin="https://evil.example")
    with pytest.raises(PasskeyNotAcceptedError):
        _log_in(demo, "mts", phished)


def test_a_replayed_login_answer_is_refused(demo: Context) -> None:
    device = _register(demo, "mts", MTS)
    answer = device.get(_login_options(demo, "mts"))
    _log_in(demo, "mts", answer)
    with pytest.raises(PasskeyNotAcceptedError, match="already used"):
        _log_in(demo, "mts", answer)


def test_an_answer_without_user_verification_is_refused(demo: Context) -> None:
    device = _register(demo, "mts", MTS)
    touched = device.get(_login_options(demo, "mts"), user_verified=False)
    with pytest.raises(PasskeyNotAcceptedError, match=r"[Uu]ser verification"):
        _log_in(demo, "mts", touched)


def test_a_passkey_of_one_operator_never_logs_into_another(demo: Context) -> None:
    device = _register(demo, "mts", MTS)
    with pytest.raises(PasskeyNotAcceptedError):
        _log_in(demo, "beeline", device.get(_login_options(demo, "beeline")))


def test_a_removed_passkey_no_longer_logs_in(demo: Context) -> None:
    device = _register(demo, "mts", MTS)
    with transaction(demo.sessions) as session:
        anna = session.get(Customer, customer(demo, "mts", MTS).id)
        assert anna is not None
        remove_passkey(session, anna, passkeys_of(session, anna)[0].id, now=demo.clock.now())
    with pytest.raises(PasskeyNotAcceptedError):
        _log_in(demo, "mts", device.get(_login_options(demo, "mts")))


def test_passkey_is_offered_only_to_a_customer_who_has_one(demo: Context) -> None:
    requested = _request(demo, "mts", MTS)
    assert requested.methods == (VerificationMethod.SMS,)
    anna = customer(demo, "mts", MTS)
    with pytest.raises(MethodNotAllowedError):
        operations.do_passkey_options(demo, anna.id, requested.cancellation.id)


def test_a_passkey_confirms_the_cancellation_it_was_asked_for(demo: Context) -> None:
    device = _register(demo, "mts", MTS)
    requested = _request(demo, "mts", MTS)
    assert VerificationMethod.PASSKEY in requested.methods
    anna = customer(demo, "mts", MTS)
    options = operations.do_passkey_options(demo, anna.id, requested.cancellation.id)
    answer = device.get(options)
    verified = _verify(demo, anna, requested.cancellation.id, answer)
    assert verified.status in (CancellationStatus.SCHEDULED, CancellationStatus.PROCESSING)
    assert verified.verification_method == "passkey"


def test_a_passkey_answer_for_one_cancellation_does_not_confirm_another(demo: Context) -> None:
    device = _register(demo, "mts", MTS)
    anna = customer(demo, "mts", MTS)
    with transaction(demo.sessions) as session:
        esims = list_esims(session, "mts", anna.id)
    assert len(esims) >= 2
    first = _request(demo, "mts", MTS)
    answer = device.get(operations.do_passkey_options(demo, anna.id, first.cancellation.id))
    second = operations.do_request_cancellation(
        demo, CustomerKey.of(anna), esims[1].esim.id, CancellationDetails(reason="not_needed"),
        once=None, describe=lambda _s, _r: StoredResponse(201, {}),
    ).ran.result  # fmt: skip
    assert second is not None
    with pytest.raises(PasskeyNotAcceptedError):
        _verify(demo, anna, second.cancellation.id, answer)
    assert _verify(demo, anna, first.cancellation.id, answer).verification_method == "passkey"


def test_a_replayed_cancellation_answer_is_refused(demo: Context) -> None:
    device = _register(demo, "mts", MTS)
    requested = _request(demo, "mts", MTS)
    anna = customer(demo, "mts", MTS)
    options = operations.do_passkey_options(demo, anna.id, requested.cancellation.id)
    answer = device.get(options, origin="https://evil.example")
    with pytest.raises(PasskeyNotAcceptedError):
        _verify(demo, anna, requested.cancellation.id, answer)
    # The challenge was spent by the refused answer: the same one, now well-formed, fails too.
    replay = device.get(options)
    with pytest.raises(PasskeyNotAcceptedError, match="already used"):
        _verify(demo, anna, requested.cancellation.id, replay)


def test_a_cancellation_challenge_lives_five_minutes(demo: Context) -> None:
    device = _register(demo, "mts", MTS)
    requested = _request(demo, "mts", MTS)
    anna = customer(demo, "mts", MTS)
    options = operations.do_passkey_options(demo, anna.id, requested.cancellation.id)
    demo.clock.advance(timedelta(minutes=5, seconds=1))  # type: ignore[attr-defined]
    with pytest.raises(PasskeyNotAcceptedError, match="expired"):
        _verify(demo, anna, requested.cancellation.id, device.get(options))


def test_a_passkey_confirms_inside_the_esim_swap_window_where_sms_does_not(
    demo: Context,
) -> None:
    installed_days_ago(demo, MTS, 1)
    device = _register(demo, "mts", MTS)
    requested = _request(demo, "mts", MTS)
    assert requested.methods == (VerificationMethod.PASSKEY,)
    assert requested.code is None
    anna = customer(demo, "mts", MTS)
    with pytest.raises(MethodNotAllowedError):
        operations.do_verify_cancellation(
            demo, CustomerKey.of(anna), requested.cancellation.id, method="sms", secret="123456"
        )
    options = operations.do_passkey_options(demo, anna.id, requested.cancellation.id)
    verified = _verify(demo, anna, requested.cancellation.id, device.get(options))
    assert verified.verification_method == "passkey"
