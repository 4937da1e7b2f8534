"""Storage for the built-in emulators (SM-DP+, network registry, payout ledger, outboxes).

They keep their state in their own database, apart from esimcare's, because they stand in for
systems that commit on their own: a crash between their commit and ours must be possible in
tests exactly as it is in production.
"""

from __future__ import annotations

from sqlalchemy import Engine, MetaData
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from esimcare.db import NAMING, make_engine, session_factory


class EmulatorBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class EmulatorStore:
    """One engine and session factory shared by all emulators of a process."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = make_engine(url)
        self.sessions: sessionmaker[Session] = session_factory(self.engine)

    def create_tables(self) -> None:
        # Emulator tables are not esimcare's schema: created directly, not by migrations.
        import esimcare.sandbox.tables  # noqa: F401  (registers every table)

        EmulatorBase.metadata.create_all(self.engine)
