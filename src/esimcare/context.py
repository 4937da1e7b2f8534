"""Everything a door, a job or a test needs, built once per process and passed explicitly."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from esimcare.config import Settings
from esimcare.errors import NotFoundError
from esimcare.integrations.email.interface import EmailGateway
from esimcare.integrations.network.interface import NetworkGateway
from esimcare.integrations.payments.interface import PayoutGateway
from esimcare.integrations.smdp.interface import SmdpGateway
from esimcare.integrations.sms.interface import SmsGateway
from esimcare.kit.clock import Clock
from esimcare.operators.policy import Policy
from esimcare.sandbox.smdp_emulator.emulator import SmdpEmulator
from esimcare.sandbox.store import EmulatorStore


@dataclass
class Context:
    settings: Settings
    clock: Clock
    engine: Engine
    sessions: sessionmaker[Session]
    # For transactions that only read: on SQLite they do not take the write lock.
    readers: sessionmaker[Session]
    policies: dict[str, Policy]
    smdp: dict[str, SmdpGateway]
    network: NetworkGateway
    payouts: PayoutGateway
    sms: SmsGateway
    email: EmailGateway
    emulators: EmulatorStore
    # The built-in SM-DP+ emulator when any operator uses it (the demo mounts its HTTP face).
    smdp_emulator: SmdpEmulator | None = None

    def close(self) -> None:
        """Release connections: database pools and the SM-DP+ clients' HTTP pools."""
        for gateway in {id(g): g for g in self.smdp.values()}.values():
            close = getattr(gateway, "close", None)
            if callable(close):
                close()
        self.engine.dispose()
        self.emulators.engine.dispose()

    def policy(self, operator_id: str) -> Policy:
        policy = self.policies.get(operator_id)
        if policy is None:
            raise NotFoundError(f"no operator {operator_id!r}")
        return policy

    def smdp_for(self, operator_id: str) -> SmdpGateway:
        return self.smdp[operator_id]
