"""Staff roles and what each may do: one table, checked by ``can`` everywhere (doors and CLI)."""

from __future__ import annotations

from enum import StrEnum


class StaffRole(StrEnum):
    AGENT = "agent"  # looks customers up, helps them, cancels on a caller's behalf
    SUPERVISOR = "supervisor"  # an agent who also retries failed work, runs bulk jobs, reports
    AUDITOR = "auditor"  # reads everything, changes nothing
    ADMIN = "admin"  # everything, including staff accounts


class Permission(StrEnum):
    LOOK_UP = "look_up"
    REVEAL_CONTACT = "reveal_contact"
    CANCEL_ON_BEHALF = "cancel_on_behalf"
    ANSWER_SUPPORT = "answer_support"
    RETRY_FAILED = "retry_failed"
    BULK_WORK = "bulk_work"
    READ_REPORTS = "read_reports"
    READ_AUDIT = "read_audit"
    MANAGE_STAFF = "manage_staff"


_AGENT = frozenset(
    {
        Permission.LOOK_UP,
        Permission.REVEAL_CONTACT,
        Permission.CANCEL_ON_BEHALF,
        Permission.ANSWER_SUPPORT,
    }
)
_SUPERVISOR = _AGENT | {Permission.RETRY_FAILED, Permission.BULK_WORK, Permission.READ_REPORTS}
# Read-only: no permission that changes a customer, a cancellation or a job.
_AUDITOR = frozenset({Permission.LOOK_UP, Permission.READ_AUDIT, Permission.READ_REPORTS})

ROLE_PERMISSIONS: dict[StaffRole, frozenset[Permission]] = {
    StaffRole.AGENT: _AGENT,
    StaffRole.SUPERVISOR: _SUPERVISOR,
    StaffRole.AUDITOR: _AUDITOR,
    StaffRole.ADMIN: frozenset(Permission),
}


def can(role: StaffRole, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]
