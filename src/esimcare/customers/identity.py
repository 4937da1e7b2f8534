"""Who is acting, before their row is read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class CustomerKey:
    """A customer named by operator and id: what services take instead of a loaded
    ``Customer`` when their first statement reads the customer's row along with the rest."""

    operator_id: str
    id: int

    @classmethod
    def of(cls, customer: _Keyed) -> CustomerKey:
        """The key of a customer a door has authenticated (its session names the operator)."""
        return cls(customer.operator_id, customer.id)


class _Keyed(Protocol):
    @property
    def operator_id(self) -> str: ...

    @property
    def id(self) -> int: ...
