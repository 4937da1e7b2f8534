"""Imports every emulator's tables so ``EmulatorStore.create_tables`` creates them all."""

import esimcare.sandbox.network_registry
import esimcare.sandbox.outboxes
import esimcare.sandbox.payout_ledger
import esimcare.sandbox.smdp_emulator.models  # noqa: F401
