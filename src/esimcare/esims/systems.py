"""What ordering and order reconciliation use of the running process, and nothing more.

``esimcare.context.Context`` satisfies this Protocol structurally, so the doors and the worker
pass theirs unchanged, while the feature never imports the process's assembly (import-linter
checks it).
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from esimcare.integrations.network.interface import NetworkGateway
from esimcare.integrations.smdp.interface import SmdpGateway
from esimcare.kit.clock import Clock
from esimcare.operators.policy import Policy


class OrderingSystems(Protocol):
    @property
    def clock(self) -> Clock: ...

    @property
    def sessions(self) -> sessionmaker[Session]: ...

    @property
    def network(self) -> NetworkGateway: ...

    def policy(self, operator_id: str) -> Policy: ...

    def smdp_for(self, operator_id: str) -> SmdpGateway: ...
