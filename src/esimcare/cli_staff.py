"""`esimcare staff add`: a staff account and its one-time set-up link."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from esimcare.config import Settings
from esimcare.db import transaction
from esimcare.errors import DomainError
from esimcare.runtime import build_context, prepare_database
from esimcare.staff.roles import StaffRole
from esimcare.staff.service import add_staff


def add_staff_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    staff = commands.add_parser("staff", help="staff console accounts")
    actions = staff.add_subparsers(metavar="ACTION")
    add = actions.add_parser(
        "add",
        help="add a staff member; prints a one-time set-up link (password and authenticator)",
    )
    add.add_argument("--data-dir", type=Path, default=None, help="data directory (./data)")
    add.add_argument("--database-url", default=None, help="overrides ESIMCARE_DATABASE_URL")
    where = add.add_mutually_exclusive_group(required=True)
    where.add_argument("--operator", help="the operator (tenant) the staff member works for")
    where.add_argument(
        "--platform", action="store_true", help="a platform administrator (all operators)"
    )
    add.add_argument("--role", required=True, choices=[r.value for r in StaffRole])
    add.add_argument("--email", required=True)
    add.set_defaults(handler=_add)


def _add(args: argparse.Namespace) -> int:
    settings = Settings.from_env(data_dir=args.data_dir)
    if args.database_url:
        settings = settings.with_changes(database_url=args.database_url)
    ctx = build_context(settings)
    try:
        prepare_database(ctx)
        role = StaffRole(args.role)
        if args.platform and role is not StaffRole.ADMIN:
            sys.stderr.write("platform staff (no operator) must have the admin role\n")
            return 2
        operator_id = None if args.platform else ctx.policy(args.operator).operator_id
        with transaction(ctx.sessions) as session:
            added = add_staff(
                session, operator_id=operator_id, role=role, email=args.email, now=ctx.clock.now()
            )
    except DomainError as error:
        sys.stderr.write(f"{error.detail}\n")
        return 1
    finally:
        ctx.close()
    link = f"{settings.public_url.rstrip('/')}/staff/setup/{added.setup_token}"
    sys.stdout.write(
        f"added {added.staff.email} ({role.value}, {operator_id or 'platform'})\n"
        f"one-time set-up link (valid 24 hours; give it to them privately):\n{link}\n"
    )
    return 0
