"""The console's operations pages in real Chromium: a supervisor retries a cancellation that
failed while the SM-DP+ was down and sees it complete; a 50-line bulk CSV runs a dry run and
then completes with its progress bar moving; the reports page draws its charts."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pyotp
import pytest
from browser_support import LiveServer, free_port, screenshot, serving
from sqlalchemy import select, update

from esimcare.cancellations.models import Cancellation
from esimcare.cancellations.states import CancellationStatus
from esimcare.db import transaction
from esimcare.esims.models import Esim
from esimcare.integrations.smdp.call_log import CallOutcome, Es2PlusCall
from esimcare.integrations.smdp.states import SmdpFunction
from esimcare.kit.clock import SystemClock
from esimcare.sandbox.demo_staff import DEMO_STAFF_PASSWORD, seed_demo_staff
from esimcare.sandbox.seeding import cancel_as_customer, seed_cancellable
from esimcare.sandbox.smdp_emulator.emulator import SmdpEmulator
from esimcare.staff.roles import StaffRole
from tests.support import request_and_verify_mts

pytestmark = pytest.mark.browser

TABLET = {"width": 1024, "height": 768}
LAPTOP = {"width": 1366, "height": 900}
BULK_LINES = 50


@pytest.fixture
def ops_server(make_context) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    """Short job backoff and few attempts: an SM-DP+ outage fails a step within seconds."""
    port = free_port()
    ctx = make_context(
        clock=SystemClock(),
        public_url=f"http://127.0.0.1:{port}",
        job_max_attempts=4,
        job_backoff_base_s=0.2,
        job_backoff_cap_s=1.0,
        job_poll_s=0.05,
    )
    with serving(ctx, port) as server:
        yield server


@pytest.fixture(params=[pytest.param(LAPTOP, id="laptop"), pytest.param(TABLET, id="tablet")])
def screen(chromium, request):  # type: ignore[no-untyped-def]
    context = chromium.new_context(viewport=request.param, locale="en-GB", accept_downloads=True)
    context.set_default_timeout(15_000)
    yield context, "laptop" if request.param is LAPTOP else "tablet"
    context.close()


def smdp(server: LiveServer) -> SmdpEmulator:
    gateway = server.ctx.smdp_for("mts")
    assert isinstance(gateway, SmdpEmulator)
    return gateway


def log_in_as_supervisor(page, server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    log_in(page, server, StaffRole.SUPERVISOR)


def log_in(page, server: LiveServer, role: StaffRole) -> None:  # type: ignore[no-untyped-def]
    supervisor = next(
        s for s in seed_demo_staff(server.ctx) if s.operator_id == "mts" and s.role is role
    )
    page.goto(f"{server.url}/staff/login?lang=en")
    page.fill("#email", supervisor.email)
    page.fill("#password", DEMO_STAFF_PASSWORD)
    page.click("form[action='/staff/login'] button[type=submit]")
    page.wait_for_url(re.compile(r"/staff/login/second-factor$"))
    page.fill("#code", pyotp.TOTP(supervisor.totp_secret).now())
    page.click("form[action='/staff/login/totp'] button[type=submit]")
    page.wait_for_url(re.compile(r"/staff/$"))


def wait_until(check: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def status_of(server: LiveServer, cancellation_id: int) -> CancellationStatus:
    with transaction(server.ctx.sessions) as session:
        found = session.get(Cancellation, cancellation_id)
        assert found is not None
        return found.status


def test_a_supervisor_retries_a_cancellation_that_failed_while_the_smdp_was_down(
    ops_server: LiveServer, screen
) -> None:  # type: ignore[no-untyped-def]
    context, name = screen
    unreachable_crm(ops_server)
    smdp(ops_server).fail_next(1000)  # the SM-DP+ is down
    cancellation_id, _ = request_and_verify_mts(ops_server.ctx, esim_index=1)
    wait_until(
        lambda: status_of(ops_server, cancellation_id) is CancellationStatus.FAILED,
        "the cancellation to fail",
    )
    smdp(ops_server).fail_next(0)  # and back
    with transaction(ops_server.ctx.sessions) as session:
        reference = session.get(Cancellation, cancellation_id).reference  # type: ignore[union-attr]

    page = context.new_page()
    log_in_as_supervisor(page, ops_server)
    page.click("nav.nav >> text=Failed work")
    card = page.locator(f"article.work[data-reference='{reference}']")
    assert "profile" in card.inner_text() and "injected" in card.inner_text()
    screenshot(page, f"console-{name}-failed-work")
    card.locator("button", has_text="Retry from the failed step").click()
    page.wait_for_url(re.compile(r"done=retry_from_step"))
    assert reference in page.inner_text("[role=status]")

    wait_until(
        lambda: status_of(ops_server, cancellation_id) is CancellationStatus.COMPLETED,
        "the retried cancellation to complete",
    )
    page.click("[role=status] a >> text=Open the customer")
    page.click("a.result >> text=Anna Ivanova")
    page.wait_for_selector(f".timeline >> text={reference}: completed")
    screenshot(page, f"console-{name}-retried-timeline")
    page.goto(f"{ops_server.url}/staff/failed-work")
    assert page.locator(f"article.work[data-reference='{reference}']").count() == 0
    webhooks_then_audit_log(page, ops_server, name, reference)


def unreachable_crm(server: LiveServer) -> None:
    """mts sends webhooks to a CRM that is not listening: every delivery fails."""
    policy = server.ctx.policies["mts"]
    hooks = {"url": f"http://127.0.0.1:{free_port()}/hooks", "secret": "s" * 32}
    server.ctx.policies["mts"] = dataclasses.replace(policy, webhooks=hooks)


def webhooks_then_audit_log(page, server: LiveServer, name: str, reference: str) -> None:  # type: ignore[no-untyped-def]
    """The supervisor sends a failed webhook again; an auditor finds it all in the audit log
    and verifies the chain."""
    page.click("nav.nav >> text=Webhooks")
    page.wait_for_selector("table.webhooks .badge--failed")
    page.locator("table.webhooks tr:has(.badge--failed) summary").first.click()
    screenshot(page, f"console-{name}-webhooks")
    page.locator("table.webhooks button", has_text="Send again").first.click()
    page.wait_for_url(re.compile(r"/staff/webhooks\?again="))
    page.click("form[action='/staff/logout'] button")
    log_in(page, server, StaffRole.AUDITOR)
    page.click("nav.nav >> text=Audit log")
    page.fill("#reference", reference)
    page.click("form.filters button[type=submit]")
    page.wait_for_selector("table.audit")
    actions = page.locator("table.audit").inner_text()
    assert "staff.cancellation.retry_from_failed_step" in actions
    screenshot(page, f"console-{name}-audit-log")
    page.click("form.verify-form button")
    page.wait_for_selector("[data-verdict]")
    assert page.locator("[data-verdict=intact]").count() == 1
    screenshot(page, f"console-{name}-audit-verify")


def bulk_file(server: LiveServer) -> bytes:
    seeded = seed_cancellable(server.ctx, BULK_LINES)
    with transaction(server.ctx.sessions) as session:
        iccids = session.scalars(
            select(Esim.iccid).where(Esim.id.in_([s.esim_id for s in seeded])).order_by(Esim.id)
        ).all()
    return ("iccid\n" + "\n".join(iccids) + "\n").encode()


def progress_values(page, timeout_s: float = 60.0) -> list[tuple[int, int]]:  # type: ignore[no-untyped-def]
    """(value, max) of the progress bar as the page refreshes itself, until the job is done."""
    seen: list[tuple[int, int]] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            bar = page.locator("#bulk-progress")
            value, top = int(bar.get_attribute("value")), int(bar.get_attribute("max"))
        except Exception:  # noqa: BLE001 - the page is reloading under us; read it again
            time.sleep(0.1)
            continue
        if not seen or seen[-1] != (value, top):
            seen.append((value, top))
        if page.locator("a[href$='/result.csv']").count():
            # The bar read above may be from the page before this refresh: read the finished
            # page's own (it no longer refreshes).
            bar = page.locator("#bulk-progress")
            final = (int(bar.get_attribute("value")), int(bar.get_attribute("max")))
            if seen[-1] != final:
                seen.append(final)
            return seen
        time.sleep(0.15)
    raise AssertionError(f"the bulk job did not finish; progress seen: {seen}")


def test_a_bulk_csv_of_50_lines_is_dry_run_then_completes_with_a_moving_progress_bar(
    ops_server: LiveServer, screen
) -> None:  # type: ignore[no-untyped-def]
    context, name = screen
    upload = bulk_file(ops_server)
    page = context.new_page()
    log_in_as_supervisor(page, ops_server)
    page.click("nav.nav >> text=Bulk")
    page.set_input_files("#file", {"name": "batch.csv", "mimeType": "text/csv", "buffer": upload})
    page.select_option("#reason", "not_needed")
    page.fill("#per_second", "5")
    screenshot(page, f"console-{name}-bulk-upload")
    page.click("form[action='/staff/bulk/dry-run'] button[type=submit]")
    page.wait_for_selector("table.dry-run")
    assert page.locator("table.dry-run tr.ok").count() == BULK_LINES
    assert page.locator("table.dry-run tr.refused").count() == 0
    screenshot(page, f"console-{name}-bulk-dry-run")
    page.click("form.confirm-bulk button[type=submit]")
    page.wait_for_url(re.compile(r"/staff/bulk/\d+$"))
    screenshot(page, f"console-{name}-bulk-progress")

    seen = progress_values(page)
    moving = {value for value, _ in seen if 0 < value < BULK_LINES}
    assert len(moving) >= 2, f"the bar did not move in steps: {seen}"
    assert seen[-1] == (BULK_LINES, BULK_LINES)
    assert "100%" in page.inner_text("#progress-label")
    screenshot(page, f"console-{name}-bulk-finished")
    with page.expect_download() as download_info:
        page.click("a[href$='/result.csv']")
    rows = list(csv.DictReader(io.StringIO(download_info.value.path().read_text())))
    assert len(rows) == BULK_LINES
    assert {row["outcome"] for row in rows} == {"started"}
    assert all(row["reference"].startswith("C-") for row in rows)


def seed_a_week_of_history(server: LiveServer) -> None:
    """Cancellations that really ran (some steps retried), then spread over the last week,
    and an ES2+ call log like the HTTP client's (the in-process emulator keeps none)."""
    ctx = server.ctx
    reasons = ("not_needed", "leaving_country", "switching_operator")
    seeded = seed_cancellable(ctx, 14)
    smdp(server).fail_next(3)
    ids = [
        cancel_as_customer(ctx, s.customer, s.esim_id, reasons[n % 3])[0]
        for n, s in enumerate(seeded)
    ]
    wait_until(
        lambda: all(status_of(server, i) is CancellationStatus.COMPLETED for i in ids),
        "the seeded cancellations to complete",
        timeout_s=60,
    )
    now = ctx.clock.now()
    with transaction(ctx.sessions) as session:
        for n, cancellation_id in enumerate(ids):
            created = now - timedelta(days=n % 7, hours=2)
            session.execute(
                update(Cancellation)
                .where(Cancellation.id == cancellation_id)
                .values(created_at=created, completed_at=created + timedelta(minutes=3 + 4 * n))
            )
        session.add_all(es2plus_calls(now))


def es2plus_calls(now) -> list[Es2PlusCall]:  # type: ignore[no-untyped-def]
    calls = []
    for day in range(7):
        for n, function in enumerate((SmdpFunction.CANCEL_ORDER, SmdpFunction.CONFIRM_ORDER)):
            for k in range(3):
                ms = 90 + 35 * day + 60 * n + 15 * k
                failed = k == 2 and day % 3 == 0
                at = now - timedelta(days=day, minutes=10 * k)
                calls.append(
                    Es2PlusCall(
                        operator_id="mts",
                        function=function,
                        function_call_id=f"history-{day}-{n}-{k}",
                        request={},
                        sent_at=at,
                        finished_at=at + timedelta(milliseconds=ms),
                        outcome=CallOutcome.FAILED if failed else CallOutcome.SUCCESS,
                        subject_code="8.1.1" if failed else None,
                        reason_code=("3.9" if n == 0 else "3.8") if failed else None,
                        duration_ms=ms,
                    )
                )
    calls.append(
        Es2PlusCall(
            operator_id="mts",
            function=SmdpFunction.CANCEL_ORDER,
            function_call_id="history-timeout",
            request={},
            sent_at=now - timedelta(days=1),
            outcome=CallOutcome.TRANSIENT,
        )
    )
    return calls


def test_the_reports_page_shows_its_charts(ops_server: LiveServer, screen) -> None:  # type: ignore[no-untyped-def]
    context, name = screen
    seed_a_week_of_history(ops_server)
    page = context.new_page()
    log_in_as_supervisor(page, ops_server)
    page.click("nav.nav >> text=Reports")
    page.wait_for_selector(".charts")
    charts = page.locator("figure.chart svg[role=img]")
    assert charts.count() == 6
    for index in range(6):
        box = charts.nth(index).bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 150
    assert page.locator("figure.chart a[href*='.csv']").count() == 6
    assert page.locator("#per-reason svg rect").count() > 7
    screenshot(page, f"console-{name}-reports")
    page.goto(f"{ops_server.url}/staff/reports?lang=ru")
    assert page.locator("h1").inner_text() == "Отчёты"
    screenshot(page, f"console-{name}-reports-ru")
    with page.expect_download() as download_info:
        page.click("#step-failures a[href*='.csv']")
    text = download_info.value.path().read_text()
    assert text.startswith("system,steps,attempts,failed_attempts,failed_steps,failure_rate")
    assert "smdp" in text
