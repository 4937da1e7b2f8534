"""The operations commands, run through ``esimcare`` against a seeded deployment."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from esimcare.audit.models import AuditEvent
from esimcare.cancellations.models import Cancellation
from esimcare.cancellations.states import CancellationStatus
from esimcare.cli import main
from esimcare.context import Context
from esimcare.db import transaction
from esimcare.jobs.models import Job, JobStatus
from esimcare.kit.clock import FrozenClock
from esimcare.notices.models import Channel, Notice
from esimcare.runtime import build_worker
from esimcare.sandbox.seeding import seed_cancellable
from esimcare.sandbox.smdp_emulator.emulator import SmdpEmulator
from tests.conftest import MakeContext
from tests.support import request_and_verify_mts

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.fixture
def ctx(make_context: MakeContext, monkeypatch: pytest.MonkeyPatch) -> Context:
    monkeypatch.setenv("ESIMCARE_MODE", "development")
    monkeypatch.setenv("USER", "oksana")
    monkeypatch.setenv("LOGNAME", "oksana")
    return make_context()


def run(ctx: Context, *argv: str) -> int:
    where = ["--data-dir", str(ctx.settings.data_dir), "--database-url", ctx.settings.database_url]
    return main([*argv, "--operator", "mts", *where])


def drain(ctx: Context, rounds: int = 20) -> None:
    worker = build_worker(ctx, name="test-worker")
    for _ in range(rounds):
        worker.run_until_idle()
        assert isinstance(ctx.clock, FrozenClock)
        ctx.clock.advance(timedelta(minutes=30))


def test_audit_verify_reports_an_intact_chain_and_then_the_first_edited_row(
    ctx: Context, capsys: pytest.CaptureFixture[str]
) -> None:
    request_and_verify_mts(ctx)
    assert run(ctx, "audit", "verify") == 0
    assert "mts: audit chain intact" in capsys.readouterr().out
    with transaction(ctx.sessions) as session:
        first = session.scalar(
            select(func.min(AuditEvent.id)).where(AuditEvent.operator_id == "mts")
        )
        session.execute(update(AuditEvent).where(AuditEvent.id == first).values(actor="nobody"))
    assert run(ctx, "audit", "verify") == 1
    assert f"BROKEN at row {first}" in capsys.readouterr().out
    with transaction(ctx.sessions) as session:
        checks = session.scalars(
            select(AuditEvent.actor).where(AuditEvent.action == "ops.audit.verify")
        ).all()
    assert checks == ["cli:oksana", "cli:oksana"]


def test_a_failed_cancellation_is_listed_retried_and_completed_from_the_command_line(
    ctx: Context, capsys: pytest.CaptureFixture[str]
) -> None:
    cancellation_id, _ = request_and_verify_mts(ctx, esim_index=1)
    smdp = ctx.smdp_for("mts")
    assert isinstance(smdp, SmdpEmulator)
    smdp.fail_next(100)
    drain(ctx)
    with transaction(ctx.sessions) as session:
        cancellation = session.get(Cancellation, cancellation_id)
        assert cancellation is not None
        reference = cancellation.reference
    assert run(ctx, "cancellations", "failed") == 0
    assert reference in capsys.readouterr().out
    assert run(ctx, "jobs", "dead") == 0
    assert "cancellation.step" in capsys.readouterr().out
    smdp.fail_next(0)
    assert run(ctx, "cancellations", "retry", reference, "--why", "SM-DP+ is back") == 0
    assert run(ctx, "cancellations", "retry", reference, "--why", "twice") == 1
    assert "refused:" in capsys.readouterr().err
    assert isinstance(ctx.clock, FrozenClock)
    ctx.clock.advance(timedelta(days=60))  # the command queued its job on the real clock
    drain(ctx, rounds=3)
    with transaction(ctx.sessions) as session:
        cancellation = session.get(Cancellation, cancellation_id)
        assert cancellation is not None and cancellation.status is CancellationStatus.COMPLETED


def test_prune_deletes_old_finished_rows_of_the_operator_only(
    ctx: Context, capsys: pytest.CaptureFixture[str]
) -> None:
    request_and_verify_mts(ctx, esim_index=1)
    drain(ctx, rounds=2)
    with transaction(ctx.sessions) as session:
        at = ctx.clock.now() - timedelta(days=400)
        session.add(
            Notice(
                operator_id="beeline",
                channel=Channel.SMS,
                destination="+79030000001",
                subject="",
                body="old",
                dedupe_key="beeline-old",
                created_at=at,
                sent_at=at,
            )
        )
    with transaction(ctx.sessions) as session:
        done_before = session.scalar(select(func.count()).where(Job.status == JobStatus.DONE))
        notices_before = session.scalar(select(func.count()).where(Notice.operator_id == "mts"))
    # Everything so far happened in 2026-11 on the frozen clock; the command runs "now".
    assert run(ctx, "prune", "--older-than-days", "0", "--batch", "2") == 0
    out = capsys.readouterr().out
    with transaction(ctx.sessions) as session:
        done_after = session.scalar(select(func.count()).where(Job.status == JobStatus.DONE))
        notices_after = session.scalar(select(Notice.operator_id))
        audit = session.scalar(select(AuditEvent).where(AuditEvent.action == "ops.prune"))
    assert done_before and done_after == 0 and notices_before
    assert notices_after == "beeline"  # another operator's old notice stays
    assert f"deleted {done_before} jobs" in out
    assert audit is not None and audit.data["jobs"] == done_before


def test_bulk_cancel_dry_run_and_run_with_progress_and_a_result_csv(
    ctx: Context, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seeded = seed_cancellable(ctx, 3)
    listing = tmp_path / "batch.csv"
    listing.write_text("number\n" + "\n".join(s.phone for s in seeded) + "\n+79039999999\n")
    assert run(ctx, "bulk", "cancel", str(listing), "--dry-run", "--reason", "not_needed") == 0
    out = capsys.readouterr().out
    assert "3 of 4 lines can be cancelled" in out and "cannot: not-found" in out
    with transaction(ctx.sessions) as session:
        assert session.scalar(select(func.count()).select_from(Cancellation)) == 0
    result = tmp_path / "result.csv"
    argv = ["bulk", "cancel", str(listing), "--reason", "not_needed", "--result", str(result)]
    assert run(ctx, *argv, "--per-second", "2") == 0
    captured = capsys.readouterr()
    assert "started 3, failed 1, of 4" in captured.out
    assert "bulk 1" in captured.err  # the progress bar
    lines = result.read_text().splitlines()
    assert lines[0] == "line,value,outcome,reason,reference,cancellation_status"
    assert [line.split(",")[2] for line in lines[1:]] == ["started"] * 3 + ["failed"]
