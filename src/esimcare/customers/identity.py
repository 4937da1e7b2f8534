"""Who is acting, before their row is read."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CustomerKey:
    """A customer named by operator and id: what services take instead of a loaded
    ``Customer`` when their first statement reads the customer's row along with the rest."""

    operator_id: str
    id: int
