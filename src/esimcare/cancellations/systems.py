"""What the cancellation services use of the running process, and nothing more.

``esimcare.context.Context`` satisfies these Protocols structurally, so the doors and the worker
pass theirs unchanged, while the feature never imports the process's assembly (import-linter
checks it). Requests, verification and undo need only the clock, settings (limits, secret key),
the SMS gateway and the policies; the workflow's steps add the database and the gateways they
call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from esimcare.config import Settings
from esimcare.customers.passwords import PasswordWork
from esimcare.integrations.network.interface import NetworkGateway
from esimcare.integrations.payments.interface import PayoutGateway
from esimcare.integrations.smdp.interface import SmdpGateway
from esimcare.integrations.sms.interface import SmsGateway
from esimcare.kit.clock import Clock
from esimcare.operators.policy import Policy
from esimcare.systems import CoreSystems


class RequestSystems(Protocol):
    """For requesting, verifying, undoing and expiring a cancellation."""

    @property
    def settings(self) -> Settings: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def sms(self) -> SmsGateway: ...

    @property
    def password_work(self) -> PasswordWork: ...

    def policy(self, operator_id: str) -> Policy: ...


class ServiceSystems(RequestSystems, Protocol):
    """For staff, bulk and webhook services: the request's systems, the database and every
    operator's policy."""

    @property
    def sessions(self) -> sessionmaker[Session]: ...

    @property
    def policies(self) -> Mapping[str, Policy]: ...


class WorkflowSystems(CoreSystems, Protocol):
    """For running a cancellation's steps against the external systems."""

    @property
    def network(self) -> NetworkGateway: ...

    @property
    def payouts(self) -> PayoutGateway: ...

    def policy(self, operator_id: str) -> Policy: ...

    def smdp_for(self, operator_id: str) -> SmdpGateway: ...
