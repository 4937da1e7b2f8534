"""Every ES2+ status code esimcare meets, by meaning (SGP.22 v2.2 sections 5.2.6 and 5.3).

Compare outcomes with ``Es2Outcome.is_code(codes.X)``, never with raw strings.
"""

from __future__ import annotations

from esimcare.integrations.smdp.interface import (
    ICCID_UNKNOWN,
    INVALID_STATE_TRANSITION,
    PROFILE_ALREADY_DOWNLOADED,
    StatusCode,
)

__all__ = [
    "CONDITIONAL_ELEMENT_MISSING",
    "CONFIRMATION_CODE_MISSING",
    "CONFIRMATION_CODE_REFUSED",
    "EID_DIFFERENT",
    "EID_DIFFERENT_ON_CANCEL",
    "EID_INVALID",
    "EID_MISSING",
    "EID_REFUSED",
    "ICCID_IN_USE",
    "ICCID_NOT_ALLOWED",
    "ICCID_UNKNOWN",
    "INVALID_STATE_TRANSITION",
    "MATCHING_ID_CONFLICT",
    "MATCHING_ID_DIFFERENT",
    "MATCHING_ID_REFUSED",
    "PROFILE_ALREADY_DOWNLOADED",
    "PROFILE_NOT_RELEASED",
    "PROFILE_TYPE_EXHAUSTED",
    "PROFILE_TYPE_MISMATCH",
    "PROFILE_TYPE_NOT_ALLOWED",
    "PROFILE_TYPE_UNKNOWN",
    "SMDP_ADDRESS_REFUSED",
    "SMDS_REGISTRATION_FAILED",
    "SMDS_UNREACHABLE",
]

# ES2+ (the table of es2plus.md).
ICCID_NOT_ALLOWED = StatusCode("8.2.1", "1.2", "caller not allowed on this profile")
ICCID_IN_USE = StatusCode("8.2.1", "3.3", "ICCID already in use")
EID_DIFFERENT_ON_CANCEL = StatusCode("8.2.1", "3.10", "a different EID is associated")
PROFILE_TYPE_UNKNOWN = StatusCode("8.2.5", "3.9", "profile type unknown")
PROFILE_TYPE_NOT_ALLOWED = StatusCode("8.2.5", "1.2", "profile type not allowed")
PROFILE_TYPE_EXHAUSTED = StatusCode("8.2.5", "3.7", "no profile of this type left")
PROFILE_TYPE_MISMATCH = StatusCode("8.2.5", "3.8", "profile type does not match the ICCID")
MATCHING_ID_CONFLICT = StatusCode("8.2.6", "3.3", "MatchingID already in use")
MATCHING_ID_DIFFERENT = StatusCode("8.2.6", "3.10", "a different MatchingID is associated")
EID_MISSING = StatusCode("8.1.1", "2.2", "EID missing")
EID_DIFFERENT = StatusCode("8.1.1", "3.10", "a different EID is already linked")
SMDS_UNREACHABLE = StatusCode("8.9", "5.1", "SM-DS unreachable")
SMDS_REGISTRATION_FAILED = StatusCode("8.9", "4.2", "SM-DS registration failed")

# Format errors (generic reasons 2.1 Invalid, 2.3 Conditional element missing).
EID_INVALID = StatusCode("8.1.1", "2.1", "EID malformed")
CONDITIONAL_ELEMENT_MISSING = StatusCode("8.2.5", "2.3", "iccid or profileType required")

# ES9+ refusals the phone sees when it downloads (used by the emulator's device side).
MATCHING_ID_REFUSED = StatusCode("8.2.6", "3.8", "MatchingID refused")
EID_REFUSED = StatusCode("8.1.1", "3.8", "EID refused")
CONFIRMATION_CODE_MISSING = StatusCode("8.2.7", "2.2", "confirmation code missing")
CONFIRMATION_CODE_REFUSED = StatusCode("8.2.7", "3.8", "confirmation code refused")
PROFILE_NOT_RELEASED = StatusCode("8.2", "1.2", "profile not released")
SMDP_ADDRESS_REFUSED = StatusCode("8.8.1", "3.8", "SM-DP+ address refused")
