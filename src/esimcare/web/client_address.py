"""Who is on the other end: the TCP peer, or the client a trusted reverse proxy names.

``X-Forwarded-For`` is only a claim: anyone can send it. It is believed only when the TCP peer
is one of the configured proxies (ESIMCARE_TRUSTED_PROXIES), and then only up to the first
address that is not a trusted proxy, read from the right, because each proxy appends the
address it saw and everything to the left of that came from the client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.requests import Request

from esimcare.config import IpNetwork

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def request_client_address(request: Request, trusted_proxies: Sequence[IpNetwork]) -> str | None:
    peer = request.client.host if request.client else None
    return client_address(peer, request.headers.get("x-forwarded-for"), trusted_proxies)


def client_address(
    peer: str | None, forwarded_for: str | None, trusted_proxies: Sequence[IpNetwork]
) -> str | None:
    """The client's address as text, or the peer as given when it is no IP address at all."""
    peer_ip = _parse(peer)
    if peer_ip is None or not _trusted(peer_ip, trusted_proxies) or not forwarded_for:
        return str(peer_ip) if peer_ip is not None else peer
    client = peer_ip
    for hop in reversed(forwarded_for.split(",")[-32:]):
        hop_ip = _parse(hop)
        if hop_ip is None:
            break  # garbage from the client side: stop at the last address a proxy vouched for
        client = hop_ip
        if not _trusted(hop_ip, trusted_proxies):
            break
    return str(client)


def _parse(text: str | None) -> IpAddress | None:
    if not text:
        return None
    try:
        found = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped
    return found


def _trusted(address: IpAddress, trusted_proxies: Sequence[IpNetwork]) -> bool:
    return any(address.version == net.version and address in net for net in trusted_proxies)
