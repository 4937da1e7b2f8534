"""Migration 0012 rewrites the stored dedupe keys into the time-ordered form the receiver now
computes, so a notification stored before the upgrade is still recognised when it comes again;
its downgrade restores the plain hashes."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from alembic import command
from sqlalchemy import text

from esimcare.db import make_engine
from esimcare.esims.profile_events import dedupe_key
from esimcare.integrations.smdp.notification_reader import ReceivedNotification
from esimcare.migrate import alembic_config, upgrade

NOTIFIED_AT = datetime(2026, 11, 30, 9, 15, 42, 123456, tzinfo=UTC)
NOTIFICATION = ReceivedNotification(
    iccid="8999001000000000017", point_id=3, status="Executed-Success",
    timestamp=NOTIFIED_AT, requester_id="smdp.example",
)  # fmt: skip
PLAIN_HASH = hashlib.sha256(
    "\x1f".join(
        ("mts", NOTIFICATION.iccid, "3", "2026-11-30T09:15:42.123456Z", "Executed-Success")
    ).encode()
).hexdigest()


def _stored_key(db_url: str) -> str:
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            return str(connection.scalar(text("SELECT dedupe_key FROM es2plus_notifications")))
    finally:
        engine.dispose()


def test_stored_keys_become_the_keys_the_receiver_computes(db_url: str) -> None:
    upgrade(db_url, "0011")
    engine = make_engine(db_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO es2plus_notifications (operator_id, iccid, point_id, status, "
                    "notified_at, raw, received_at, dedupe_key, effect) VALUES ('mts', :iccid, "
                    "3, 'Executed-Success', :at, '{}', :at, :key, 'unknown_iccid')"
                ),
                {"iccid": NOTIFICATION.iccid, "at": NOTIFIED_AT, "key": PLAIN_HASH},
            )
    finally:
        engine.dispose()

    upgrade(db_url)
    key = _stored_key(db_url)
    assert key == dedupe_key("mts", NOTIFICATION)
    assert key.startswith(f"{int(NOTIFIED_AT.timestamp()):010x}")

    command.downgrade(alembic_config(db_url), "0011")
    assert _stored_key(db_url) == PLAIN_HASH
