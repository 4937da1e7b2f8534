"""The SM-DP+ EMULATOR: ES2+ (SGP.22 v2.2 5.3) answered from its own database, not a real one."""
