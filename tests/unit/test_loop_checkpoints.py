"""Checkpoints for commits made on the event loop: every N commits, one, in a thread."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from esimcare.es2plus import loop_checkpoints
from esimcare.es2plus.loop_checkpoints import LoopCheckpoints
from tests.support import run_in_own_loop


def test_every_nth_commit_starts_one_checkpoint_in_a_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ran: list[str] = []
    release = threading.Event()

    def slow_checkpoint(_engine: Any) -> None:
        ran.append(threading.current_thread().name)
        release.wait(5)

    monkeypatch.setattr(loop_checkpoints, "checkpoint", slow_checkpoint)

    async def scenario() -> None:
        checkpoints = LoopCheckpoints(engine=None, every=3)  # type: ignore[arg-type]
        for _ in range(2):
            checkpoints.committed()
        await asyncio.sleep(0.05)
        assert ran == [], "not before the third commit"
        for _ in range(7):  # the first one is still running: no second meanwhile
            checkpoints.committed()
        await asyncio.sleep(0.05)
        assert len(ran) == 1
        release.set()
        await asyncio.sleep(0.05)
        for _ in range(3):
            checkpoints.committed()
        await asyncio.sleep(0.05)

    run_in_own_loop(scenario())
    assert len(ran) == 2
    assert threading.main_thread().name not in ran, "never on the loop's thread"
