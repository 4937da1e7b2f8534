"""The address check both e-mail gateways apply before anything is sent."""

from __future__ import annotations

import re

from esimcare.integrations.errors import PermanentIntegrationError

# Deliberately plain: one @, no whitespace or control characters (which would also let a
# caller inject SMTP headers); the receiving server is the judge of anything finer.
_ADDRESS = re.compile(r"[^@\s\x00-\x1f]+@[^@\s\x00-\x1f]+\.[^@\s\x00-\x1f]+")


def check_address(address: str) -> None:
    if len(address) > 254 or not _ADDRESS.fullmatch(address):
        raise PermanentIntegrationError(
            f"not an e-mail address: {address!r}", code="invalid-address"
        )
