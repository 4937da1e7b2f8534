"""Imports every emulator's tables so ``EmulatorStore.create_tables`` creates them all."""

import esimcare.integrations.network.registry
import esimcare.integrations.outbox
import esimcare.integrations.payments.payout_ledger
import esimcare.integrations.smdp.emulator_models  # noqa: F401
