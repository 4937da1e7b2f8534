"""The console's operations pages (failed work, bulk, reports, audit log, webhooks): the
roles that may use each, tenant scoping, and an audit row for every action."""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from esimcare.audit.models import AuditEvent
from esimcare.cancellations.models import Cancellation
from esimcare.cancellations.service import request_cancellation, verify
from esimcare.cancellations.states import CancellationStatus
from esimcare.context import Context
from esimcare.db import transaction
from esimcare.esims.models import Esim
from esimcare.integrations.smdp.call_log import CallOutcome, Es2PlusCall
from esimcare.integrations.smdp.states import SmdpFunction
from esimcare.kit.clock import FrozenClock
from esimcare.kit.ids import Iccid
from esimcare.runtime import build_worker
from esimcare.sandbox.smdp_emulator.emulator import SmdpEmulator
from esimcare.staff.roles import StaffRole
from esimcare.webhooks.delivery import list_deliveries
from esimcare.webhooks.models import DeliveryStatus
from tests.integration.portal_support import csrf, portal_client
from tests.integration.staff_support import audit_count, console_login, make_staff, staff_id
from tests.support import customer, request_and_verify_mts

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

SECRET = "whsec-test-0123456789abcdef"
ANNA_MAIN = Iccid.from_body("897010100000000001").value


def drain(ctx: Context, rounds: int = 20, step: timedelta = timedelta(minutes=30)) -> None:
    worker = build_worker(ctx, name="test-worker")
    clock = ctx.clock
    assert isinstance(clock, FrozenClock)
    for _ in range(rounds):
        worker.run_until_idle()
        clock.advance(step)


def smdp(ctx: Context, operator_id: str = "mts") -> SmdpEmulator:
    gateway = ctx.smdp_for(operator_id)
    assert isinstance(gateway, SmdpEmulator)
    return gateway


def failed_mts_cancellation(ctx: Context) -> str:
    """Anna's travel eSIM: its cancellation failed because the SM-DP+ was down throughout."""
    cancellation_id, _ = request_and_verify_mts(ctx, esim_index=1)
    smdp(ctx).fail_next(100)
    drain(ctx)
    smdp(ctx).fail_next(0)
    return status_and_reference(ctx, cancellation_id)[1]


def failed_beeline_cancellation(ctx: Context) -> str:
    """Li Wei's: past beeline's grace period, then failed with the SM-DP+ down."""
    li = customer(ctx, "beeline", "+79030000001")
    with transaction(ctx.sessions) as session:
        esim_id = session.scalars(select(Esim.id).where(Esim.customer_id == li.id)).first()
    assert esim_id is not None
    with transaction(ctx.sessions) as session:
        li = session.merge(li)
        requested = request_cancellation(
            session, ctx, li, esim_id, reason="not_needed", refund_to="+79031234567"
        )
        assert requested.code is not None
        cancellation_id, code = requested.cancellation.id, requested.code.code
    with transaction(ctx.sessions) as session:
        verify(session, ctx, session.merge(li), cancellation_id, method="sms", secret=code)
    clock = ctx.clock
    assert isinstance(clock, FrozenClock)
    clock.advance(timedelta(hours=25))
    smdp(ctx, "beeline").fail_next(100)
    drain(ctx)
    smdp(ctx, "beeline").fail_next(0)
    status, reference = status_and_reference(ctx, cancellation_id)
    assert status is CancellationStatus.FAILED
    return reference


def status_and_reference(ctx: Context, cancellation_id: int) -> tuple[CancellationStatus, str]:
    with transaction(ctx.sessions) as session:
        found = session.get(Cancellation, cancellation_id)
        assert found is not None
        return found.status, found.reference


def status_of(ctx: Context, reference: str) -> CancellationStatus:
    with transaction(ctx.sessions) as session:
        found = session.scalar(select(Cancellation).where(Cancellation.reference == reference))
        assert found is not None
        return found.status


def logged_in(ctx: Context, operator_id: str | None, role: StaffRole, email: str) -> TestClient:
    secret = make_staff(ctx, operator_id, role, email)
    client = portal_client(ctx)
    assert console_login(client, ctx, email, secret).status_code == 303
    return client


def actor(ctx: Context, email: str) -> str:
    return f"staff:{staff_id(ctx, email)}"


def token(client: TestClient) -> str:
    return csrf(client.get("/staff/").text)


@pytest.fixture
def refusing_receiver() -> Iterator[str]:
    """An operator's CRM that refuses every event (410): its deliveries fail at once."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(410)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def hooked(demo: Context, refusing_receiver: str) -> Context:
    for operator_id in ("mts", "beeline"):
        policy = demo.policies[operator_id]
        hooks = {"url": refusing_receiver, "secret": SECRET}
        demo.policies[operator_id] = dataclasses.replace(policy, webhooks=hooks)
    return demo


# --- failed work ----------------------------------------------------------------------------


def test_a_supervisor_retries_a_failed_cancellation_from_the_console_and_it_completes(
    demo: Context,
) -> None:
    reference = failed_mts_cancellation(demo)
    client = logged_in(demo, "mts", StaffRole.SUPERVISOR, "sup@mts.example")
    page = client.get("/staff/failed-work")
    assert page.status_code == 200
    assert f'data-reference="{reference}"' in page.text and "profile" in page.text
    answer = client.post(
        f"/staff/failed-work/cancellations/{reference}/retry-from-step",
        data={"csrf": csrf(page.text), "operator": "beeline"},  # the form cannot pick a tenant
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/staff/failed-work?done=retry_from_step&ref={reference}"
    drain(demo, rounds=4)
    assert status_of(demo, reference) is CancellationStatus.COMPLETED
    who = actor(demo, "sup@mts.example")
    assert audit_count(demo, who, "staff.cancellation.retry_from_failed_step") == 1
    assert reference not in client.get("/staff/failed-work").text


def test_retrying_one_step_is_audited_and_a_second_retry_is_refused_readably(
    demo: Context,
) -> None:
    reference = failed_mts_cancellation(demo)
    client = logged_in(demo, "mts", StaffRole.SUPERVISOR, "sup@mts.example")
    path = f"/staff/failed-work/cancellations/{reference}/retry-step"
    first = client.post(path, data={"csrf": token(client)}, follow_redirects=False)
    assert first.status_code == 303
    again = client.post(path, data={"csrf": token(client)}, follow_redirects=False)
    assert again.status_code == 409 and 'role="alert"' in again.text
    assert audit_count(demo, actor(demo, "sup@mts.example"), "staff.cancellation.retry_step") == 1


def test_resolving_by_hand_needs_a_written_note_and_records_it(demo: Context) -> None:
    reference = failed_mts_cancellation(demo)
    client = logged_in(demo, "mts", StaffRole.SUPERVISOR, "sup@mts.example")
    path = f"/staff/failed-work/cancellations/{reference}/resolve"
    without = client.post(path, data={"csrf": token(client), "note": "  "})
    assert without.status_code == 422 and 'role="alert"' in without.text
    assert status_of(demo, reference) is CancellationStatus.FAILED
    note = "profile deleted by the SM-DP+ vendor's support, ticket 1234"
    done = client.post(path, data={"csrf": token(client), "note": note}, follow_redirects=False)
    assert done.status_code == 303
    assert status_of(demo, reference) is not CancellationStatus.FAILED
    with transaction(demo.sessions) as session:
        row = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "staff.cancellation.resolve_by_hand")
        ).one()
    assert row.actor == actor(demo, "sup@mts.example") and row.data["why"] == note
    assert row.subject == f"cancellation:{reference}" and row.operator_id == "mts"


def test_a_post_without_its_csrf_token_changes_nothing(demo: Context) -> None:
    reference = failed_mts_cancellation(demo)
    client = logged_in(demo, "mts", StaffRole.SUPERVISOR, "sup@mts.example")
    answer = client.post(f"/staff/failed-work/cancellations/{reference}/retry-step", data={})
    assert answer.status_code == 403
    assert status_of(demo, reference) is CancellationStatus.FAILED


# --- tenants --------------------------------------------------------------------------------


def test_an_mts_supervisor_sees_nothing_of_beeline(hooked: Context) -> None:
    demo = hooked
    beeline_ref = failed_beeline_cancellation(demo)
    with transaction(demo.sessions) as session:
        [delivery, *_] = list_deliveries(session, "beeline")
        beeline_audit_subject = session.scalars(
            select(AuditEvent.subject).where(AuditEvent.operator_id == "beeline")
        ).first()
    assert delivery.status is DeliveryStatus.FAILED and beeline_audit_subject
    client = logged_in(demo, "mts", StaffRole.SUPERVISOR, "sup@mts.example")
    pages = {
        path: client.get(path).text
        for path in ("/staff/failed-work", "/staff/webhooks", "/staff/bulk", "/staff/reports")
    }
    for path, text in pages.items():
        assert beeline_ref not in text and delivery.event_id not in text, path
        assert "beeline" not in text.replace("beeline.", ""), path
    form = {"csrf": token(client), "operator": "beeline", "note": "trying the other tenant"}
    for action in ("retry-step", "retry-from-step", "resolve"):
        path = f"/staff/failed-work/cancellations/{beeline_ref}/{action}"
        assert client.post(path, data=form).status_code == 404, action
    assert client.post(f"/staff/webhooks/{delivery.id}/send-again", data=form).status_code == 404
    assert status_of(demo, beeline_ref) is CancellationStatus.FAILED
    dry = client.post(
        "/staff/bulk/dry-run",
        data={**form, "reason": "not_needed"},
        files={"file": ("lines.csv", b"iccid\n89701990000000000013\n", "text/csv")},
    )
    assert dry.status_code == 200 and "not-found" in dry.text


def test_a_platform_administrator_sees_every_operator_and_acts_for_the_one_named(
    demo: Context,
) -> None:
    reference = failed_mts_cancellation(demo)
    client = logged_in(demo, None, StaffRole.ADMIN, "root@platform.example")
    page = client.get("/staff/failed-work")
    assert reference in page.text
    assert reference not in client.get("/staff/failed-work?operator=beeline").text
    path = f"/staff/failed-work/cancellations/{reference}/retry-step"
    wrong = client.post(path, data={"csrf": csrf(page.text), "operator": "beeline"})
    assert wrong.status_code == 404
    right = client.post(
        path, data={"csrf": csrf(page.text), "operator": "mts"}, follow_redirects=False
    )
    assert right.status_code == 303


# --- roles ----------------------------------------------------------------------------------

SUPERVISOR_PAGES = ("/staff/failed-work", "/staff/bulk", "/staff/reports", "/staff/webhooks")


def every_post(reference: str) -> list[tuple[str, dict[str, str]]]:
    base = f"/staff/failed-work/cancellations/{reference}"
    note = {"note": "an auditor trying to change things"}
    return [
        (f"{base}/retry-step", {}),
        (f"{base}/retry-from-step", {}),
        (f"{base}/resolve", note),
        ("/staff/failed-work/jobs/1/requeue", {}),
        ("/staff/bulk/confirm", {"lines": ANNA_MAIN, "reason": "not_needed"}),
        ("/staff/webhooks/1/send-again", {}),
    ]


def test_an_auditor_reads_the_pages_but_cannot_post_any_action(hooked: Context) -> None:
    demo = hooked
    reference = failed_mts_cancellation(demo)
    client = logged_in(demo, "mts", StaffRole.AUDITOR, "auditor@mts.example")
    failed = client.get("/staff/failed-work")
    assert failed.status_code == 200 and reference in failed.text
    assert "/retry-step" not in failed.text and "/resolve" not in failed.text
    webhooks = client.get("/staff/webhooks")
    assert webhooks.status_code == 200 and "/send-again" not in webhooks.text
    assert client.get("/staff/reports").status_code == 200
    assert client.get("/staff/audit").status_code == 200
    assert client.get("/staff/bulk").status_code == 403
    before = audit_count(demo, actor(demo, "auditor@mts.example"))
    form = {"csrf": csrf(failed.text), "operator": "mts"}
    for path, extra in every_post(reference):
        assert client.post(path, data={**form, **extra}).status_code == 403, path
    upload = client.post(
        "/staff/bulk/dry-run",
        data={**form, "reason": "not_needed"},
        files={"file": ("lines.csv", ANNA_MAIN.encode(), "text/csv")},
    )
    assert upload.status_code == 403
    assert status_of(demo, reference) is CancellationStatus.FAILED
    assert audit_count(demo, actor(demo, "auditor@mts.example")) == before


def test_an_agent_reaches_none_of_the_supervisor_pages(demo: Context) -> None:
    reference = failed_mts_cancellation(demo)
    client = logged_in(demo, "mts", StaffRole.AGENT, "agent@mts.example")
    nav = client.get("/staff/").text
    for path in (*SUPERVISOR_PAGES, "/staff/audit"):
        assert client.get(path).status_code == 403, path
        assert f'href="{path}"' not in nav, path
    assert client.get("/staff/reports/step-failures.csv").status_code == 403
    form = {"csrf": token(client), "operator": "mts"}
    for path, extra in every_post(reference):
        assert client.post(path, data={**form, **extra}).status_code == 403, path
    assert status_of(demo, reference) is CancellationStatus.FAILED


def test_a_supervisor_cannot_read_the_audit_log(demo: Context) -> None:
    client = logged_in(demo, "mts", StaffRole.SUPERVISOR, "sup@mts.example")
    assert client.get("/staff/audit").status_code == 403
    assert client.get("/staff/audit/verify").status_code == 403


# --- bulk -----------------------------------------------------------------------------------


def test_a_bulk_upload_dry_runs_then_confirms_and_its_result_downloads(demo: Context) -> None:
    client = logged_in(demo, "mts", StaffRole.SUPERVISOR, "sup@mts.example")
    csv_text = f"iccid\n{ANNA_MAIN}\nhello\n+79169999999\n"
    dry = client.post(
        "/staff/bulk/dry-run",
        data={"csrf": token(client), "reason": "not_needed", "per_second": "5"},
        files={"file": ("lines.csv", csv_text.encode(), "text/csv")},
    )
    assert dry.status_code == 200
    assert (
        dry.text.count('badge--active">can be cancelled') == 1 and dry.text.count("not-found") == 2
    )
    assert re.search(r"\d+\.\d\d RUB", dry.text)  # the quote's refund
    lines = re.search(r'<textarea name="lines"[^>]*>([^<]*)</textarea>', dry.text)
    assert lines is not None
    confirmed = client.post(
        "/staff/bulk/confirm",
        data={"csrf": csrf(dry.text), "reason": "not_needed", "per_second": "5",
              "lines": lines.group(1)},
        follow_redirects=False,
    )  # fmt: skip
    assert confirmed.status_code == 303
    job_path = confirmed.headers["location"]
    running = client.get(job_path)
    assert '<meta http-equiv="refresh"' in running.text and "<progress" in running.text
    drain(demo, rounds=3, step=timedelta(seconds=2))
    finished = client.get(job_path)
    assert 'http-equiv="refresh"' not in finished.text
    assert client.get(f"{job_path}/progress.json").json() == {
        "total": 3, "done": 1, "failed": 2, "processed": 3, "finished": True,
    }  # fmt: skip
    result = client.get(f"{job_path}/result.csv")
    assert result.headers["content-type"].startswith("text/csv")
    assert result.text.splitlines()[1].startswith(f"1,{ANNA_MAIN},started,,C-")
    who = actor(demo, "sup@mts.example")
    for action in ("staff.bulk.dry_run", "staff.bulk.result_downloaded"):
        assert audit_count(demo, who, action) == 1, action
    assert audit_count(demo, who, "staff.bulk.confirmed") == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe\x00\x01 not text", "not a CSV text file"),
        (b"iccid\n", "no ICCIDs or numbers"),
        (b"8970101000000000001\n" * 13_200, "too large"),  # over 256 KB, under the door's limit
    ],
)
def test_a_bad_upload_gets_a_readable_error(demo: Context, content: bytes, message: str) -> None:
    client = logged_in(demo, "mts", StaffRole.SUPERVISOR, "sup@mts.example")
    answer = client.post(
        "/staff/bulk/dry-run",
        data={"csrf": token(client), "reason": "not_needed"},
        files={"file": ("lines.csv", content, "text/csv")},
    )
    assert answer.status_code == 422
    assert message in answer.text and 'role="alert"' in answer.text


def test_an_upload_beyond_the_body_limit_is_refused_before_parsing(demo: Context) -> None:
    client = logged_in(demo, "mts", StaffRole.SUPERVISOR, "sup@mts.example")
    answer = client.post(
        "/staff/bulk/dry-run",
        data={"csrf": token(client), "reason": "not_needed"},
        files={"file": ("lines.csv", b"1" * (400 * 1024), "text/csv")},
    )
    assert answer.status_code == 413


# --- audit log ------------------------------------------------------------------------------


def test_the_audit_log_filters_and_verify_chain_finds_the_first_broken_row(
    demo: Context,
) -> None:
    reference = failed_mts_cancellation(demo)
    client = logged_in(demo, "mts", StaffRole.AUDITOR, "auditor@mts.example")
    found = client.get("/staff/audit", params={"reference": reference})
    assert found.status_code == 200 and reference in found.text
    assert "beeline" not in client.get("/staff/audit").text
    by_action = client.get("/staff/audit", params={"action": "staff.login"}).text
    assert "staff.login" in by_action and "cancellation:" not in by_action
    later = client.get("/staff/audit", params={"start": "2030-01-01"}).text
    assert "No audit rows match." in later
    assert client.get("/staff/audit", params={"start": "23.11.2026"}).status_code == 422

    intact = client.get("/staff/audit/verify")
    assert 'data-verdict="intact"' in intact.text
    with transaction(demo.sessions) as session:
        victim = session.scalars(
            select(AuditEvent).where(AuditEvent.operator_id == "mts").order_by(AuditEvent.id)
        ).all()[3]
        session.execute(
            update(AuditEvent).where(AuditEvent.id == victim.id).values(actor="someone else")
        )
    broken = client.get("/staff/audit/verify")
    assert 'data-verdict="broken"' in broken.text
    assert f"row {victim.id}" in broken.text and f"#{victim.id}" in broken.text
    assert audit_count(demo, actor(demo, "auditor@mts.example"), "ops.audit.verify") == 2


# --- webhooks -------------------------------------------------------------------------------


def test_a_failed_webhook_delivery_shows_its_attempts_and_is_sent_again(hooked: Context) -> None:
    demo = hooked
    request_and_verify_mts(demo)
    drain(demo, rounds=3, step=timedelta(minutes=1))
    with transaction(demo.sessions) as session:
        delivery = list_deliveries(session, "mts", DeliveryStatus.FAILED)[0]
    client = logged_in(demo, "mts", StaffRole.SUPERVISOR, "sup@mts.example")
    page = client.get("/staff/webhooks", params={"status": "failed"})
    assert delivery.event_id in page.text and "410" in page.text and " ms" in page.text
    answer = client.post(
        f"/staff/webhooks/{delivery.id}/send-again",
        data={"csrf": csrf(page.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    with transaction(demo.sessions) as session:
        again = list_deliveries(session, "mts", DeliveryStatus.PENDING)
    assert delivery.id in {d.id for d in again}
    who = actor(demo, "sup@mts.example")
    assert audit_count(demo, who, "staff.webhook.send_again") == 1
    busy = client.post(f"/staff/webhooks/{delivery.id}/send-again", data={"csrf": token(client)})
    assert busy.status_code == 409 and 'role="alert"' in busy.text


# --- reports --------------------------------------------------------------------------------


def log_smdp_calls(ctx: Context) -> None:
    """ES2+ calls as the HTTP client logs them (the in-process emulator keeps no call log)."""
    now = ctx.clock.now()
    calls = [(CallOutcome.SUCCESS, 120, None), (CallOutcome.FAILED, 300, ("8.1.1", "3.9"))]
    with transaction(ctx.sessions) as session:
        for n, (outcome, ms, codes) in enumerate(calls):
            session.add(
                Es2PlusCall(
                    operator_id="mts",
                    function=SmdpFunction.CANCEL_ORDER,
                    function_call_id=f"console-report-{n}",
                    request={},
                    sent_at=now - timedelta(days=n),
                    finished_at=now - timedelta(days=n) + timedelta(milliseconds=ms),
                    outcome=outcome,
                    subject_code=codes[0] if codes else None,
                    reason_code=codes[1] if codes else None,
                    duration_ms=ms,
                )
            )


def test_the_reports_page_draws_each_chart_and_each_csv_downloads(demo: Context) -> None:
    request_and_verify_mts(demo, esim_index=0)
    drain(demo, rounds=3)  # completed
    failed_mts_cancellation(demo)
    log_smdp_calls(demo)
    client = logged_in(demo, "mts", StaffRole.SUPERVISOR, "sup@mts.example")
    page = client.get("/staff/reports", params={"start": "2026-11-20", "end": "2026-11-26"})
    assert page.status_code == 200
    assert page.text.count("<svg") == 6 and "No data in this range." not in page.text
    assert "8.1.1/3.9" in page.text and "beeline" not in page.text
    links = set(re.findall(r'href="(/staff/reports/[a-z-]+\.csv\?[^"]+)"', page.text))
    assert len(links) == 5
    for link in links:
        download = client.get(link.replace("&amp;", "&"))
        assert download.status_code == 200, link
        assert download.headers["content-type"].startswith("text/csv"), link
        assert download.text.count("\n") >= 2, link  # a header and at least one row
    failures = client.get("/staff/reports/step-failures.csv?start=2026-11-20&end=2026-11-26")
    assert "smdp" in failures.text
    too_long = client.get("/staff/reports", params={"start": "2026-01-01", "end": "2026-11-26"})
    assert too_long.status_code == 422 and 'role="alert"' in too_long.text
    assert client.get("/staff/reports/nothing.csv").status_code == 404
