"""The development outbox: where the SMS and e-mail stand-ins "deliver" messages.

One table for both channels, so a developer (and the dev endpoint GET /api/v1/dev/outbox) reads
every message a customer would have received in one place. A ``message_key`` is stored once per
channel: sending the same logical message again returns the first id, as a deduplicating
provider does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import Integer, String, Table, Text, UniqueConstraint, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from esimcare.db import UtcDateTime
from esimcare.kit.clock import Clock
from esimcare.sandbox.store import EmulatorBase, EmulatorStore


class OutboxRecord(EmulatorBase):
    __tablename__ = "emulator_outbox"
    __table_args__ = (UniqueConstraint("channel", "message_key"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    channel: Mapped[str] = mapped_column(String(8), index=True)
    to: Mapped[str] = mapped_column(String(320), index=True)
    subject: Mapped[str | None] = mapped_column(String(998))
    body: Mapped[str] = mapped_column(Text)
    message_key: Mapped[str] = mapped_column(String(255))
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime())


@dataclass(frozen=True)
class OutboxMessage:
    id: str
    channel: str
    to: str
    subject: str | None
    body: str
    message_key: str
    sent_at: datetime


class Outbox:
    """Storage shared by ``SmsOutbox`` and ``EmailOutbox``; also the dev endpoint's reader."""

    def __init__(self, store: EmulatorStore, clock: Clock) -> None:
        self._engine = store.engine
        self._sessions = store.sessions
        self._clock = clock

    def deliver(
        self, *, channel: str, to: str, subject: str | None, body: str, message_key: str
    ) -> str:
        """Store the message unless its key was seen on this channel; return its id.

        One ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` (Core: no ORM object to flush),
        and a read of the first id only when the key was seen."""
        row = {
            "id": f"{channel}-{uuid.uuid4().hex}",
            "channel": channel,
            "to": to,
            "subject": subject,
            "body": body,
            "message_key": message_key,
            "sent_at": self._clock.now(),
        }
        with self._engine.begin() as connection:
            stored = connection.execute(_store(connection.dialect.name), row).scalar()
            if stored is not None:
                return str(stored)
            first = connection.execute(_FIRST_ID, {"key_channel": channel, "key": message_key})
            return str(first.scalar_one())

    def messages(self, to: str | None = None, channel: str | None = None) -> list[OutboxMessage]:
        """Messages newest first, optionally for one recipient and/or one channel."""
        query = select(OutboxRecord).order_by(OutboxRecord.seq.desc())
        if to is not None:
            query = query.where(OutboxRecord.to == to)
        if channel is not None:
            query = query.where(OutboxRecord.channel == channel)
        with self._sessions() as session:
            return [_message(record) for record in session.scalars(query)]


_OUTBOX = cast(Table, OutboxRecord.__table__)
_FIRST_ID = select(_OUTBOX.c.id).where(
    _OUTBOX.c.channel == bindparam("key_channel"), _OUTBOX.c.message_key == bindparam("key")
)


@cache
def _store(dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(_OUTBOX)
        .on_conflict_do_nothing(index_elements=[_OUTBOX.c.channel, _OUTBOX.c.message_key])
        .returning(_OUTBOX.c.id)
    )


def _message(record: OutboxRecord) -> OutboxMessage:
    return OutboxMessage(
        id=record.id,
        channel=record.channel,
        to=record.to,
        subject=record.subject,
        body=record.body,
        message_key=record.message_key,
        sent_at=record.sent_at,
    )
