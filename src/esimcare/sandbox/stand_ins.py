"""The stand-ins one process uses, sharing one emulator database.

``integrations/factory.py`` opens a :class:`StandIns` when the configuration chooses any
stand-in (development only) and asks it for each one; the process's ``Context`` keeps it only
to close it. Sandbox code (the demo, the outbox reader, tests) gets it back with
:func:`stand_ins_of`.
"""

from __future__ import annotations

from esimcare.context import Context
from esimcare.kit.clock import Clock
from esimcare.sandbox.email_outbox import EmailOutbox
from esimcare.sandbox.network_registry import NetworkRegistry
from esimcare.sandbox.payout_ledger import PayoutLedger
from esimcare.sandbox.smdp_emulator.emulator import SmdpEmulator
from esimcare.sandbox.sms_outbox import SmsOutbox
from esimcare.sandbox.store import EmulatorStore


class StandIns:
    """Builds the stand-ins on one :class:`EmulatorStore`; one SM-DP+ emulator per process."""

    def __init__(self, store: EmulatorStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        # The SM-DP+ emulator, once an operator uses it (the demo mounts its HTTP face).
        self.smdp: SmdpEmulator | None = None

    @classmethod
    def open(cls, url: str, clock: Clock) -> StandIns:
        store = EmulatorStore(url)
        store.create_tables()
        return cls(store, clock)

    def network(self) -> NetworkRegistry:
        return NetworkRegistry(self.store, self.clock)

    def payouts(self) -> PayoutLedger:
        return PayoutLedger(self.store, self.clock)

    def sms(self) -> SmsOutbox:
        return SmsOutbox(self.store, self.clock)

    def email(self) -> EmailOutbox:
        return EmailOutbox(self.store, self.clock)

    def smdp_emulator(self) -> SmdpEmulator:
        """The one emulator every emulator-served operator shares."""
        if self.smdp is None:
            self.smdp = SmdpEmulator(self.store, self.clock)
        return self.smdp

    def close(self) -> None:
        self.store.engine.dispose()


def stand_ins_of(ctx: Context) -> StandIns:
    """The process's stand-ins; a RuntimeError when it runs on real systems only."""
    if not isinstance(ctx.stand_ins, StandIns):
        raise RuntimeError("this process uses no stand-ins (every system is a real one)")
    return ctx.stand_ins


def smdp_emulator_of(ctx: Context) -> SmdpEmulator | None:
    """The SM-DP+ emulator when some operator uses it."""
    return ctx.stand_ins.smdp if isinstance(ctx.stand_ins, StandIns) else None
