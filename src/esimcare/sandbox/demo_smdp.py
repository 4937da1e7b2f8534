"""``esimcare demo --smdp-url URL``: the demo against an external SM-DP+ instead of the emulator.

The flags never touch the data directory's ``operators.toml``: the demo writes a derived copy,
``operators.smdp-demo.toml``, with an ``[operators.X.smdp]`` table for every operator, and
runs on that; a later ``esimcare demo`` without the flags is back on the emulator.
``--smdp-profile-type`` makes every demo plan order that profile type (without it the plans
get their own profile types back).
"""

from __future__ import annotations

import argparse
import tomllib

import tomli_w
from sqlalchemy import update

from esimcare.config import Settings
from esimcare.context import Context
from esimcare.db import transaction
from esimcare.es2plus.receiver import receiver_url
from esimcare.esims.models import Plan
from esimcare.integrations.smdp.notification_signature import EMULATOR_REQUESTER_ID
from esimcare.sandbox.demo_data import PLANS
from esimcare.sandbox.smdp_emulator.server import EMULATOR_MOUNT_PATH
from esimcare.sandbox.stand_ins import smdp_emulator_of

DERIVED_FILE = "operators.smdp-demo.toml"
DEFAULT_REQUESTER_ID = "esimcare-demo"


def add_demo_smdp_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--smdp-url", default=None, help="ES2+ base URL of an external SM-DP+")
    parser.add_argument(
        "--smdp-requester-id",
        default=DEFAULT_REQUESTER_ID,
        help=f"our functionRequesterIdentifier towards it (default {DEFAULT_REQUESTER_ID})",
    )
    parser.add_argument(
        "--smdp-notifier-id",
        default=EMULATOR_REQUESTER_ID,
        help="the functionRequesterIdentifier its notifications carry "
        f"(default {EMULATOR_REQUESTER_ID}, as `esimcare smdp-emulator` sends)",
    )
    parser.add_argument(
        "--smdp-profile-type", default=None, help="every demo plan orders this profile type"
    )


def with_demo_smdp(settings: Settings, args: argparse.Namespace) -> Settings:
    """Settings on a derived operators file pointing every operator at ``--smdp-url``."""
    if not args.smdp_url:
        return settings
    with settings.operators_file.open("rb") as handle:
        document = tomllib.load(handle)
    for table in document.get("operators", {}).values():
        table["smdp"] = {
            "url": args.smdp_url,
            "requester_id": args.smdp_requester_id,
            "notification_requester_id": args.smdp_notifier_id,
        }
    derived = settings.data_dir / DERIVED_FILE
    derived.write_text("# Written by `esimcare demo --smdp-url`; edits are overwritten.\n"
                       + tomli_w.dumps(document))  # fmt: skip
    return settings.with_changes(operators_file=derived)


def use_profile_type(ctx: Context, profile_type: str | None) -> None:
    """Every demo plan orders ``profile_type``; None restores each plan's own."""
    with transaction(ctx.sessions) as session:
        for operator_id, plans in PLANS.items():
            for code, _names, _fee, own in plans:
                session.execute(
                    update(Plan)
                    .where(Plan.operator_id == operator_id, Plan.code == code)
                    .values(profile_type=profile_type or own)
                )


def smdp_banner(ctx: Context, url: str) -> str:
    emulator = smdp_emulator_of(ctx)
    lines = ["  ES2+ notifications (HandleDownloadProgressInfo) per operator:"]
    for operator_id in ctx.policies:
        gateway = "emulator" if ctx.smdp_for(operator_id) is emulator else "external"
        lines.append(f"    {operator_id:8} {receiver_url(url, operator_id)}  (SM-DP+: {gateway})")
    if emulator is not None:
        emulator_url = f"{url}{EMULATOR_MOUNT_PATH}"
        lines += [
            f"  SM-DP+ EMULATOR (not a real one): {emulator_url}",
            "  PHONE SIMULATOR (order an eSIM in the portal first):",
            f"    esimcare phone install '<activation-code>' --emulator-url {emulator_url}",
            f"    esimcare phone delete <iccid> --emulator-url {emulator_url}",
        ]
    else:
        lines.append("  Give the SM-DP+ the notification URL above and its requester id.")
    return "\n".join(lines) + "\n\n"
