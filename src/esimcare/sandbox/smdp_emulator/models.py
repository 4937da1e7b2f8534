"""Tables of the built-in SM-DP+ emulator, in the emulators' own database (not esimcare's)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from esimcare.db import UtcDateTime, enum_type
from esimcare.integrations.smdp.interface import ExecutionStatus
from esimcare.integrations.smdp.states import SmdpFunction, SmdpProfileState
from esimcare.sandbox.store import EmulatorBase


class EmulatedProfile(EmulatorBase):
    """One profile in the SM-DP+ inventory and where it stands (SGP.22 v2.2 section 3.1)."""

    __tablename__ = "smdp_emulator_profiles"

    iccid: Mapped[str] = mapped_column(String(20), primary_key=True)
    profile_type: Mapped[str] = mapped_column(String(64), index=True)
    state: Mapped[SmdpProfileState] = mapped_column(enum_type(SmdpProfileState))
    eid: Mapped[str | None] = mapped_column(String(32))
    # Unique: an activation code must name one profile; NULLs never collide.
    matching_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    confirmation_code_hash: Mapped[str | None] = mapped_column(String(64))
    smds_address: Mapped[str | None] = mapped_column(String(255))
    downloaded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    deleted_on_device_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class EmulatorCall(EmulatorBase):
    """Every call the emulator saw, answered or not: its history and the tests' witness."""

    __tablename__ = "smdp_emulator_calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    function: Mapped[SmdpFunction] = mapped_column(enum_type(SmdpFunction))
    function_call_id: Mapped[str | None] = mapped_column(String(128))
    iccid: Mapped[str | None] = mapped_column(String(20), index=True)
    # None: no answer went back (an injected time-out before the call ran).
    status: Mapped[ExecutionStatus | None] = mapped_column(enum_type(ExecutionStatus))
    subject_code: Mapped[str | None] = mapped_column(String(16))
    reason_code: Mapped[str | None] = mapped_column(String(16))
    message: Mapped[str | None] = mapped_column(String(255))
    state_after: Mapped[SmdpProfileState | None] = mapped_column(enum_type(SmdpProfileState))
    response_lost: Mapped[bool] = mapped_column(default=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
