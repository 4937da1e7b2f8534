"""Which operators a console page shows and acts for.

An operator's staff always see and act for their own operator, whatever a form or a query
string names (another operator's rows then read as "not found"). Platform staff see every
operator, or the one they pick, and name the operator each action is for.
"""

from __future__ import annotations

from dataclasses import dataclass

from esimcare.context import Context
from esimcare.errors import NotFoundError
from esimcare.staff.models import StaffMember


@dataclass(frozen=True)
class Scope:
    operators: list[str]  # what the page shows, in this order
    chosen: str  # the operator picked by platform staff ("" = all)
    choices: list[str]  # what platform staff may pick from (empty for an operator's staff)

    @property
    def single(self) -> str | None:
        return self.operators[0] if len(self.operators) == 1 else None


def scope_of(ctx: Context, staff: StaffMember, chosen: str = "") -> Scope:
    if staff.operator_id is not None:
        return Scope([staff.operator_id], "", [])
    everyone = sorted(ctx.policies)
    if chosen:
        return Scope([_known(ctx, chosen)], chosen, everyone)
    return Scope(everyone, "", everyone)


def acting_operator(ctx: Context, staff: StaffMember, named: str) -> str:
    """The operator a POST acts for: the staff member's own, else the one the form names."""
    if staff.operator_id is not None:
        return staff.operator_id
    return _known(ctx, named)


def _known(ctx: Context, operator_id: str) -> str:
    if operator_id not in ctx.policies:
        raise NotFoundError(f"no operator {operator_id[:32]}")
    return operator_id
