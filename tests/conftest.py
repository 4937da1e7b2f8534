"""Fixtures shared by every kind of test: a demo deployment in a temporary data directory."""

from __future__ import annotations

import os

# Before esimcare is imported: cheap argon2 parameters for the hundreds of logins in the suite.
os.environ.setdefault("ESIMCARE_FAST_PASSWORD_HASHING", "1")

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest

from esimcare.config import Mode, Settings
from esimcare.context import Context
from esimcare.kit.clock import FrozenClock
from esimcare.runtime import build_context, prepare_database
from esimcare.sandbox.demo_data import seed_demo, write_demo_operators_file
from tests.osmo_hlr import osmo_hlr
from tests.postgres import fresh_schema, whole_suite_on_postgres
from tests.smsc import sctp_shim, smsc

# Fixtures: a real OsmoHLR and a real SMSC (OsmoMSC), started for the test that asks for them.
__all__ = ["osmo_hlr", "sctp_shim", "smsc"]

DEMO_START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

MakeContext = Callable[..., Context]


@pytest.fixture
def make_context(tmp_path: Path) -> Iterator[MakeContext]:
    """Build a seeded demo deployment; ``database_url`` selects another database.

    With ESIMCARE_TEST_BACKEND=postgresql every deployment gets a fresh PostgreSQL schema.
    """
    built: list[Context] = []
    schemas = ExitStack()

    def make(
        *,
        clock: FrozenClock | None = None,
        database_url: str | None = None,
        seed: bool = True,
        **settings_changes: object,
    ) -> Context:
        data_dir = tmp_path / f"deployment-{len(built)}"
        data_dir.mkdir()
        settings = Settings.from_env(
            data_dir=data_dir,
            mode=Mode.DEVELOPMENT,
            secret_key=b"test-secret-key",
            **settings_changes,
        )
        if database_url is None and whole_suite_on_postgres():
            database_url = schemas.enter_context(fresh_schema())
        if database_url:
            settings = settings.with_changes(database_url=database_url)
        write_demo_operators_file(settings.operators_file)
        ctx = build_context(settings, clock or FrozenClock(DEMO_START))
        prepare_database(ctx)
        if seed:
            seed_demo(ctx)
        built.append(ctx)
        return ctx

    yield make
    for ctx in built:
        ctx.close()
    schemas.close()


@pytest.fixture
def demo(make_context: MakeContext) -> Context:
    """The three demo operators on SQLite with a frozen clock at 2026-11-23 12:00 UTC."""
    return make_context()
