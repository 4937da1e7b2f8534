"""The SM-DP+ is unreachable for 30 seconds while cancellations need CancelOrder: the workflow
retries with backoff, never marks the step done without the SM-DP+'s answer, and completes
every cancellation exactly once when the SM-DP+ is back. The SM-DP+ is the emulator running
as a separate process on loopback, spoken to over real ES2+ HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from sqlalchemy import select

from esimcare.cancellations.models import CancellationStep
from esimcare.cancellations.states import StepName, StepStatus
from esimcare.config import Mode, Settings
from esimcare.context import Context
from esimcare.db import transaction
from esimcare.esims.ordering import order_esim
from esimcare.integrations.smdp.es2plus_client import Es2PlusClient
from esimcare.kit.clock import SystemClock
from esimcare.runtime import build_context, build_worker, prepare_database
from esimcare.sandbox.demo_data import seed_demo, write_demo_operators_file
from esimcare.sandbox.demo_smdp import with_demo_smdp
from esimcare.sandbox.seeding import Cancellable
from tests.faults_support import count_completed, request_and_verify
from tests.support import customer

pytestmark = pytest.mark.slow

CANCELLATIONS = 4
OUTAGE_S = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smdp_emulator_process(data_dir: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESIMCARE_")}
    command = [
        sys.executable,
        "-m",
        "esimcare.cli",
        "smdp-emulator",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--inventory",
        "mts-travel=20",
    ]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/simulator/profiles/0", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the SM-DP+ emulator did not start"
                time.sleep(0.1)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def deployment(tmp_path: Path, smdp_url: str) -> Context:
    settings = Settings.from_env(
        data_dir=tmp_path / "esimcare",
        mode=Mode.DEVELOPMENT,
        secret_key=b"test-secret-key",
        job_backoff_base_s=1.0,
        job_backoff_cap_s=4.0,
        job_max_attempts=30,
        job_poll_s=0.05,
        job_lease_s=5.0,
    )
    write_demo_operators_file(settings.operators_file)
    flags = SimpleNamespace(
        smdp_url=smdp_url,
        smdp_requester_id="esimcare-test",
        smdp_notifier_id="smdp-emulator.esimcare.test",
    )
    ctx = build_context(with_demo_smdp(settings, flags), SystemClock())
    prepare_database(ctx)
    seed_demo(ctx)
    return ctx


def profile_steps(ctx: Context, ids: list[int]) -> list[CancellationStep]:
    with transaction(ctx.sessions) as session:
        return list(
            session.scalars(
                select(CancellationStep).where(
                    CancellationStep.cancellation_id.in_(ids),
                    CancellationStep.name == StepName.PROFILE,
                )
            )
        )


def test_cancellations_survive_an_smdp_outage_and_complete_once_it_is_back(tmp_path: Path) -> None:
    port = free_port()
    emulator_dir = tmp_path / "smdp"
    with smdp_emulator_process(emulator_dir, port) as first:
        ctx = deployment(tmp_path, f"http://127.0.0.1:{port}")
        assert isinstance(ctx.smdp_for("mts"), Es2PlusClient)
        anna = customer(ctx, "mts", "+79160000001")
        ordered = [order_esim(ctx, anna, "travel", None) for _ in range(CANCELLATIONS)]
        targets = [Cancellable(anna.id, esim.id, anna.phone, anna.operator_id) for esim in ordered]
        ids = [request_and_verify(ctx, target) for target in targets]
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=30)
    stop = threading.Event()
    worker = threading.Thread(target=build_worker(ctx).run_forever, args=(stop,), daemon=True)
    worker.start()
    try:
        time.sleep(OUTAGE_S)
        steps = profile_steps(ctx, ids)
        assert steps and all(step.status is not StepStatus.DONE for step in steps)
        assert all(step.attempts >= 2 for step in steps), "the SM-DP+ was not retried"
        assert count_completed(ctx, ids) == 0
        with smdp_emulator_process(emulator_dir, port):
            deadline = time.monotonic() + 90
            while count_completed(ctx, ids) < len(ids) and time.monotonic() < deadline:
                time.sleep(0.2)
    finally:
        stop.set()
        worker.join(timeout=30)
    assert count_completed(ctx, ids) == len(ids)
    steps = profile_steps(ctx, ids)
    ctx.close()
    assert {step.outcome for step in steps} <= {"cancelled_at_smdp", "cancelled_at_smdp_reconciled"}
