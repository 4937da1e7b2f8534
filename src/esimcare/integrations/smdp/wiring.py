"""Which SM-DP+ serves each operator: its real one over ES2+, or the built-in emulator.

An operator whose ``[smdp]`` table has a ``url`` gets an ``Es2PlusClient``; every other operator
shares one ``SmdpEmulator`` (development only: ``integrations.factory`` refuses emulators in
production, and so does this for the SM-DP+). Plain ``http://`` to a real SM-DP+ is refused
outside development: SGP.22 mandates TLS with mutual authentication on ES2+.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from esimcare.integrations.smdp.client_config import Es2PlusConfig
from esimcare.integrations.smdp.es2plus_client import Es2PlusClient
from esimcare.integrations.smdp.interface import SmdpGateway
from esimcare.kit.clock import Clock
from esimcare.sandbox.smdp_emulator.emulator import SmdpEmulator
from esimcare.sandbox.store import EmulatorStore

# The functionRequesterIdentifier the built-in emulator signs its notifications with.
EMULATOR_REQUESTER_ID = "smdp-emulator.esimcare.test"


@dataclass(frozen=True)
class SmdpGateways:
    by_operator: dict[str, SmdpGateway]
    emulator: SmdpEmulator | None


def build_smdp_gateways(
    smdp_tables: Mapping[str, Mapping[str, Any]],
    *,
    development: bool,
    base_dir: Path,
    sessions: sessionmaker[Session],
    emulators: EmulatorStore,
    clock: Clock,
) -> SmdpGateways:
    """``smdp_tables``: each operator's ``[smdp]`` table (empty: the emulator)."""
    gateways: dict[str, SmdpGateway] = {}
    emulator: SmdpEmulator | None = None
    for operator_id, table in smdp_tables.items():
        if table.get("url"):
            config = Es2PlusConfig.from_mapping(table, base_dir=base_dir)
            _check_transport(operator_id, config, development)
            gateways[operator_id] = Es2PlusClient(
                config, sessions, operator_id=operator_id, clock=clock
            )
            continue
        if not development:
            raise ValueError(
                f"operator {operator_id}: the SM-DP+ emulator is a development stand-in; "
                f"configure [operators.{operator_id}.smdp] url for production"
            )
        emulator = emulator or SmdpEmulator(emulators, clock)
        gateways[operator_id] = emulator
    return SmdpGateways(gateways, emulator)


def _check_transport(operator_id: str, config: Es2PlusConfig, development: bool) -> None:
    if config.base_url.startswith("http://") and not development:
        raise ValueError(
            f"operator {operator_id}: ES2+ needs https:// (mutual TLS, SGP.22 v2.2 section 6); "
            "plain http:// to an SM-DP+ is allowed only in development mode"
        )
