"""Everything a door, a job or a test needs, built once per process and passed explicitly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from esimcare.config import Settings
from esimcare.customers.passwords import PasswordWork
from esimcare.errors import NotFoundError
from esimcare.integrations.email.interface import EmailGateway
from esimcare.integrations.network.interface import NetworkGateway
from esimcare.integrations.payments.interface import PayoutGateway
from esimcare.integrations.smdp.interface import SmdpGateway
from esimcare.integrations.sms.interface import SmsGateway
from esimcare.kit.clock import Clock
from esimcare.operators.policy import Policy


class StandInsHandle(Protocol):
    """The sandbox's stand-ins this process built (development only): the product only
    closes them; which ones exist is ``integrations/factory.py``'s choice."""

    def close(self) -> None: ...


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
    # Bounds argon2 work in this process (Limits.password_hash_concurrency).
    password_work: PasswordWork
    # Releases what the gateways hold open: the SMPP bind, the shared HTTP client.
    close_gateways: Callable[[], None] | None = None
    # Set when some system is a stand-in (development); None on real systems only.
    stand_ins: StandInsHandle | None = None

    def close(self) -> None:
        """Release connections: the gateways', database pools and the SM-DP+ clients' HTTP
        pools."""
        if self.close_gateways is not None:
            self.close_gateways()
        for gateway in {id(g): g for g in self.smdp.values()}.values():
            close = getattr(gateway, "close", None)
            if callable(close):
                close()
        self.engine.dispose()
        if self.stand_ins is not None:
            self.stand_ins.close()

    def policy(self, operator_id: str) -> Policy:
        policy = self.policies.get(operator_id)
        if policy is None:
            raise NotFoundError(f"no operator {operator_id!r}")
        return policy

    def has_webhooks(self, operator_id: str) -> bool:
        """Whether the operator wants webhook events (then the outbox writes them)."""
        policy = self.policies.get(operator_id)
        return policy is not None and policy.has_webhooks

    def smdp_for(self, operator_id: str) -> SmdpGateway:
        return self.smdp[operator_id]
