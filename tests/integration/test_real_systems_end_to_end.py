"""One customer's eSIM, ordered and cancelled through the REST API, against real systems only.

Every adapter is chosen the way an operator chooses it, by ESIMCARE_* settings read by the
factory: OsmoHLR over CTRL (a real ``osmo-hlr``), SMS over SMPP 3.4 to OsmoMSC's SMSC (a real
``osmo-msc``, whose ``sms.db`` the test reads), refunds through the official YooKassa SDK (to
the loopback test double of YooKassa's API) and e-mail over SMTP with STARTTLS and AUTH (to
aiosmtpd). Only the SM-DP+ is the built-in emulator. The worker runs in this process.

Each external effect is read back from the system that holds it, never from our own tables:
the subscriber from OsmoHLR, the verification code from the SMSC's store (and used to verify),
the refunds from the double, the notice from the relay's inbox. Runs on SQLite, and on
PostgreSQL with ESIMCARE_TEST_BACKEND=postgresql. Without osmo-hlr or osmo-msc it is skipped
locally and fails in CI (CI=true).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from esimcare.billing.ledger import post
from esimcare.billing.models import EntryKind, LedgerEntry, Refund, RefundPart, RefundPartStatus
from esimcare.cancellations.models import Cancellation
from esimcare.cancellations.service import view_esim
from esimcare.cancellations.steps import NetworkStep, StepInput
from esimcare.context import Context
from esimcare.db import transaction
from esimcare.esims.models import Esim
from esimcare.integrations.email.smtp_client import SmtpEmailGateway
from esimcare.integrations.network.osmo_hlr_ctrl import (
    CtrlSession,
    HlrSubscriber,
    OsmoHlrCtrlGateway,
)
from esimcare.integrations.payments.yookassa import YooKassaRefunds
from esimcare.integrations.sms.smpp import SmppSmsGateway
from esimcare.kit.clock import FrozenClock
from esimcare.kit.money import Money
from esimcare.runtime import build_worker
from esimcare.sandbox.smdp_emulator.support import inventory_imsi
from tests.conftest import MakeContext
from tests.integration.api.api_support import api_client, log_in, request_cancellation, verify
from tests.osmo_hlr import OsmoHlr
from tests.smsc import PASSWORD, SYSTEM_ID, OsmoSmsc, texts_to
from tests.smtp_relay import RELAY_PASSWORD, RELAY_USER, Relay, running_relay
from tests.yookassa_double import SECRET_KEY, SHOP_ID, YooKassaDouble, running_double

pytestmark = pytest.mark.slow

ANNA_PHONE, ANNA_EMAIL = "+79160000001", "anna@example.com"
SMS_SENDER = "esimcare"
MAIL_FROM = "cancellations@esimcare.example"
_CODE = re.compile(r"(?<!\d)\d{6}(?!\d)")


@dataclass
class RealSystems:
    hlr: OsmoHlr
    smsc: OsmoSmsc
    yookassa: YooKassaDouble
    relay: Relay
    # Every CTRL SET the adapter sent to OsmoHLR, in order (variable, value).
    ctrl_writes: list[tuple[str, str]] = field(default_factory=list)
    # For each refund POST as it reached the double: the key and our stored part's status.
    refund_keys_seen: list[tuple[str | None, RefundPartStatus | None]] = field(default_factory=list)


@pytest.fixture
def yookassa(monkeypatch: pytest.MonkeyPatch) -> Iterator[YooKassaDouble]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # a proxy from the environment must not see it
    with running_double() as double:
        yield double


@pytest.fixture
def smtp_relay(tmp_path: Path) -> Iterator[Relay]:
    directory = tmp_path / "smtp-relay"
    directory.mkdir()
    with running_relay(directory) as relay:
        yield relay


@pytest.fixture
def systems(
    osmo_hlr: OsmoHlr,
    smsc: OsmoSmsc,
    yookassa: YooKassaDouble,
    smtp_relay: Relay,
    monkeypatch: pytest.MonkeyPatch,
) -> RealSystems:
    systems = RealSystems(osmo_hlr, smsc, yookassa, smtp_relay)
    sending = CtrlSession.set

    def recorded_set(session: CtrlSession, variable: str, value: str) -> str:
        systems.ctrl_writes.append((variable, value))
        return sending(session, variable, value)  # still sent: OsmoHLR does the work

    monkeypatch.setattr(CtrlSession, "set", recorded_set)
    return systems


def real_adapter_settings(systems: RealSystems) -> dict[str, str]:
    """What an operator writes into the environment to connect each real system."""
    return {
        "ESIMCARE_NETWORK": "osmo-hlr",
        "ESIMCARE_NETWORK_CTRL": f"{systems.hlr.ctrl.host}:{systems.hlr.ctrl.port}",
        "ESIMCARE_SMS": "smpp",
        "ESIMCARE_SMPP_HOST": systems.smsc.host,
        "ESIMCARE_SMPP_PORT": str(systems.smsc.port),
        "ESIMCARE_SMPP_SYSTEM_ID": SYSTEM_ID,
        "ESIMCARE_SMPP_PASSWORD": PASSWORD,
        "ESIMCARE_SMPP_SENDER": SMS_SENDER,
        "ESIMCARE_PAYMENTS": "yookassa",
        "ESIMCARE_YOOKASSA_SHOP_ID": SHOP_ID,
        "ESIMCARE_YOOKASSA_SECRET_KEY": SECRET_KEY,
        "ESIMCARE_YOOKASSA_API_URL": systems.yookassa.api_url,
        "ESIMCARE_EMAIL": "smtp",
        "ESIMCARE_SMTP_HOST": "127.0.0.1",
        "ESIMCARE_SMTP_PORT": str(systems.relay.port),
        "ESIMCARE_SMTP_STARTTLS": "1",
        "ESIMCARE_SMTP_USER": RELAY_USER,
        "ESIMCARE_SMTP_PASSWORD": RELAY_PASSWORD,
        "ESIMCARE_SMTP_CA_FILE": str(systems.relay.pki.ca),
        "ESIMCARE_EMAIL_FROM": MAIL_FROM,
    }


@pytest.fixture
def ctx(
    systems: RealSystems, make_context: MakeContext, monkeypatch: pytest.MonkeyPatch
) -> Context:
    """The demo deployment on the real adapters (closed, SMPP unbind included, before the
    systems stop: fixtures tear down in reverse)."""
    for name, value in real_adapter_settings(systems).items():
        monkeypatch.setenv(name, value)
    ctx = make_context()  # Settings.from_env reads them; the factory builds the adapters
    assert isinstance(ctx.network, OsmoHlrCtrlGateway)
    assert isinstance(ctx.sms, SmppSmsGateway)
    assert isinstance(ctx.payouts, YooKassaRefunds)
    assert isinstance(ctx.email, SmtpEmailGateway)
    systems.yookassa.on_refund_post = lambda key: systems.refund_keys_seen.append(
        (key, stored_part_status(ctx, key))
    )
    return ctx


def test_an_esim_is_ordered_and_cancelled_end_to_end_across_the_real_systems(
    ctx: Context, systems: RealSystems
) -> None:
    with api_client(ctx) as client:
        auth = log_in(client, "mts")
        esim = ordered_and_provisioned(client, auth, ctx, systems)
        payments = pay_top_ups_through_yookassa(ctx, systems.yookassa, int(esim["id"]))
        cancellation_id, quote = request_and_verify_with_the_code_from_the_smsc(
            client, auth, esim, systems.smsc
        )
        run_the_worker_until_done(ctx)
        auth = log_in(client, "mts")  # the worker's two hours outlived the session
        done = client.get(f"/api/v1/mts/cancellations/{cancellation_id}", headers=auth).json()
    assert done["status"] == "completed", done
    assert {step["status"] for step in done["steps"]} == {"done"}
    assert done["refund"]["status"] == "succeeded"
    assert done["refund"]["amount"] == quote["refund"]["amount"]

    imsi = esim_imsi(ctx, int(esim["id"]))
    assert_barred_then_deleted_in_osmo_hlr(systems, imsi)
    refunded = quote["refund"]["amount"]
    assert_refunded_through_yookassa(ctx, systems, cancellation_id, payments, refunded)
    assert_notice_mailed_over_starttls_with_auth(systems.relay, done["reference"])
    assert any(done["reference"] in text for text in texts_to(systems.smsc, ANNA_PHONE[1:]))

    writes_before = list(systems.ctrl_writes)
    run_the_network_step_again(ctx, cancellation_id)
    assert OsmoHlrCtrlGateway(systems.hlr.ctrl).subscriber(imsi=imsi) is None
    assert systems.ctrl_writes == writes_before  # it read, found the work done, wrote nothing


# The order: the profile from the SM-DP+, the line in OsmoHLR with the inventory's IMSI.


def ordered_and_provisioned(
    client: TestClient, auth: dict[str, str], ctx: Context, systems: RealSystems
) -> dict[str, Any]:
    response = client.post(
        "/api/v1/mts/esims", json={"plan": "travel"}, headers={**auth, "Idempotency-Key": "o-1"}
    )
    assert response.status_code == 201, response.text
    esim: dict[str, Any] = response.json()
    imsi = esim_imsi(ctx, int(esim["id"]))
    assert imsi == inventory_imsi(esim["iccid"])  # what the SM-DP+ inventory pairs with it
    read_back = OsmoHlrCtrlGateway(systems.hlr.ctrl).subscriber(imsi=imsi)
    digits = esim["msisdn"].removeprefix("+")
    assert read_back == HlrSubscriber(imsi, digits, cs_enabled=True, ps_enabled=True)
    assert writes_for(systems, imsi) == [("subscriber.create", imsi), (var(imsi, "msisdn"), digits)]
    return esim


def esim_imsi(ctx: Context, esim_id: int) -> str:
    with transaction(ctx.readers) as session:
        esim = session.get(Esim, esim_id)
        assert esim is not None
        return esim.imsi


def var(imsi: str, name: str) -> str:
    return f"subscriber.by-imsi-{imsi}.{name}"


def writes_for(systems: RealSystems, imsi: str) -> list[tuple[str, str]]:
    return [(name, value) for name, value in systems.ctrl_writes if imsi in (name + value)]


# The money: every top-up of the customer was a payment YooKassa knows.

# The ordered eSIM's two top-ups, oldest first: the refund goes back newest first.
TOP_UPS = (Money(20000, "RUB"), Money(30000, "RUB"))


def pay_top_ups_through_yookassa(ctx: Context, double: YooKassaDouble, esim_id: int) -> list[str]:
    """Give the customer's seeded top-ups the ids of payments made at the double, then top the
    new eSIM up twice, a minute apart, each with a payment made there first; returns those two
    payments' ids, oldest first."""
    payments: list[str] = []
    with transaction(ctx.sessions) as session:
        esim = session.get(Esim, esim_id)
        assert esim is not None
        query = select(LedgerEntry).join(Esim, Esim.id == LedgerEntry.esim_id)
        for entry in session.scalars(
            query.where(Esim.customer_id == esim.customer_id, LedgerEntry.kind == EntryKind.TOP_UP)
        ):
            cash = Money(entry.cash_minor, entry.currency).to_json()["amount"]
            entry.provider_payment_id = double.pay(cash, f"seeded-top-up-{entry.id}")
        for number, amount in enumerate(TOP_UPS, start=1):
            assert isinstance(ctx.clock, FrozenClock)
            ctx.clock.advance(timedelta(minutes=1))
            payments.append(double.pay(amount.to_json()["amount"], f"top-up-{number}"))
            post(
                session, esim, kind=EntryKind.TOP_UP, cash=amount, bonus=Money.zero("RUB"),
                description="top-up", now=ctx.clock.now(), source="card **** 4242",
                provider_payment_id=payments[-1],
            )  # fmt: skip
    return payments


def stored_part_status(ctx: Context, key: str | None) -> RefundPartStatus | None:
    """Read by the double's thread as a refund arrives: what our database held by then."""
    with transaction(ctx.readers) as session:
        part = session.scalar(select(RefundPart).where(RefundPart.idempotency_key == key))
        return None if part is None else part.status


def assert_refunded_through_yookassa(
    ctx: Context, systems: RealSystems, cancellation_id: int, payments: list[str], quoted: str
) -> None:
    """The quoted refund went back against the top-ups' payments, newest first, each at most
    what it paid in; the double saw exactly the parts we stored, with their keys."""
    double = systems.yookassa
    refunds = double.refunds()
    assert [r["payment_id"] for r in refunds] == payments[::-1]
    assert refunds[0]["amount"]["value"] == TOP_UPS[-1].to_json()["amount"]  # all of the newest
    total = sum((Decimal(r["amount"]["value"]) for r in refunds), Decimal(0))
    assert total == Decimal(quoted) > 0
    with transaction(ctx.readers) as session:
        refund = session.scalars(
            select(Refund).where(Refund.cancellation_id == cancellation_id)
        ).one()
        parts = list(
            session.scalars(
                select(RefundPart)
                .where(RefundPart.refund_id == refund.id)
                .order_by(RefundPart.position)
            )
        )
        sent = [(p.provider_payment_id, p.amount_minor, p.provider_reference) for p in parts]
        keys = [p.idempotency_key for p in parts]
    made = [(r["payment_id"], int(Decimal(r["amount"]["value"]) * 100), r["id"]) for r in refunds]
    assert sent == made
    assert double.refund_posts() == keys  # each part sent once, with its own key
    # Each key was committed with our part, still unsent, before the provider saw it.
    assert systems.refund_keys_seen == [(key, RefundPartStatus.NEW) for key in keys]


# The cancellation: the code from the SMSC's store, the worker, the notice.


def request_and_verify_with_the_code_from_the_smsc(
    client: TestClient, auth: dict[str, str], esim: dict[str, Any], smsc: OsmoSmsc
) -> tuple[int, dict[str, Any]]:
    created = request_cancellation(client, "mts", auth, int(esim["id"]))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["verification"]["methods"] == ["sms"]
    [text] = texts_to(smsc, ANNA_PHONE.removeprefix("+"))  # SMPP -> OsmoMSC's sms.db
    assert esim["msisdn"] in text
    code = _CODE.search(text)
    assert code is not None, text
    verified = verify(client, "mts", auth, body["id"], method="sms", code=code.group())
    assert verified.status_code == 200, verified.text
    return int(body["id"]), body["quote"]


def run_the_worker_until_done(ctx: Context, rounds: int = 12) -> None:
    """Every due job, in this process; the frozen clock moves on so retries come due."""
    worker = build_worker(ctx, name="e2e-worker")
    for _ in range(rounds):
        worker.run_until_idle()
        assert isinstance(ctx.clock, FrozenClock)
        ctx.clock.advance(timedelta(minutes=10))


def assert_barred_then_deleted_in_osmo_hlr(systems: RealSystems, imsi: str) -> None:
    assert OsmoHlrCtrlGateway(systems.hlr.ctrl).subscriber(imsi=imsi) is None
    assert writes_for(systems, imsi)[2:] == [
        (var(imsi, "cs-enabled"), "0"),
        (var(imsi, "ps-enabled"), "0"),
        ("subscriber.delete", imsi),
    ]


def assert_notice_mailed_over_starttls_with_auth(relay: Relay, reference: str) -> None:
    [notice] = [
        d for d in relay.inbox.deliveries if reference in d.message.get_content()
        and str(d.message["Subject"]) == "eSIM отменена"
    ]  # fmt: skip
    assert (notice.over_tls, notice.authenticated) == (True, True)
    assert (notice.message["To"], notice.message["From"]) == (ANNA_EMAIL, MAIL_FROM)


def run_the_network_step_again(ctx: Context, cancellation_id: int) -> None:
    """The step as the workflow runs it, once more (a retry after a lost answer)."""
    step = NetworkStep(ctx)
    with transaction(ctx.sessions) as session:
        cancellation = session.get(Cancellation, cancellation_id)
        assert cancellation is not None
        run = StepInput(cancellation, view_esim(session, cancellation), 2, ctx.clock.now())
        prepared = step.prepare(session, run)
    step.call(prepared)
