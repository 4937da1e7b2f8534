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

from sqlalchemy import Integer, String, Text, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

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
        self._sessions = store.sessions
        self._clock = clock

    def deliver(
        self, *, channel: str, to: str, subject: str | None, body: str, message_key: str
    ) -> str:
        """Store the message unless its key was seen on this channel; return its id."""
        record = OutboxRecord(
            id=f"{channel}-{uuid.uuid4().hex}",
            channel=channel,
            to=to,
            subject=subject,
            body=body,
            message_key=message_key,
            sent_at=self._clock.now(),
        )
        try:
            with self._sessions.begin() as session:
                existing = _existing(session, channel, message_key)
                if existing is not None:
                    return existing
                session.add(record)
        except IntegrityError:
            with self._sessions() as session:  # a concurrent send of the same key won the race
                existing = _existing(session, channel, message_key)
                if existing is None:
                    raise
                return existing
        return record.id

    def messages(self, to: str | None = None, channel: str | None = None) -> list[OutboxMessage]:
        """Messages newest first, optionally for one recipient and/or one channel."""
        query = select(OutboxRecord).order_by(OutboxRecord.seq.desc())
        if to is not None:
            query = query.where(OutboxRecord.to == to)
        if channel is not None:
            query = query.where(OutboxRecord.channel == channel)
        with self._sessions() as session:
            return [_message(record) for record in session.scalars(query)]


def _existing(session: Session, channel: str, message_key: str) -> str | None:
    query = select(OutboxRecord.id).where(
        OutboxRecord.channel == channel, OutboxRecord.message_key == message_key
    )
    return session.scalars(query).one_or_none()


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
