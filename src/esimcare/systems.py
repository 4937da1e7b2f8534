"""What almost every service uses of the running process: its settings, clock and database.

Feature Protocols (``LoginSystems``, ``WorkflowSystems``, ...) extend this one with what they
add, so ``esimcare.context.Context`` satisfies them structurally without being imported.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from esimcare.config import Settings
from esimcare.kit.clock import Clock


class CoreSystems(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def sessions(self) -> sessionmaker[Session]: ...
