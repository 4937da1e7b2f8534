"""Role checks the services apply themselves, so no door (console, CLI) can forget one."""

from __future__ import annotations

from esimcare.staff.errors import RoleForbiddenError
from esimcare.staff.models import StaffMember
from esimcare.staff.roles import Permission, can


def require(staff: StaffMember, permission: Permission) -> None:
    if not can(staff.role, permission):
        raise RoleForbiddenError(f"the role {staff.role.value} may not {permission.value}")
