"""The sandbox: stand-ins for the external systems, the phone simulator and demo data.

Nothing here is product. The SM-DP+ emulator, the network registry, the payout ledger and the
SMS and e-mail outboxes implement the same Protocols as the real adapters
(``integrations/<system>/interface.py``) and pass the same contract tests; the phone simulator
plays a phone's LPA against the emulator; ``demo_data`` and ``seeding`` fill a database for the
demo and for benchmarks. The product never imports this package: ``integrations/factory.py``
chooses between a real adapter and a stand-in, the CLI offers the sandbox's commands, and the
web app mounts the sandbox's faces in development. import-linter checks it (pyproject.toml).
"""
