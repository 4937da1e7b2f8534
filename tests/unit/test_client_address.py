"""X-Forwarded-For is believed only from a configured proxy, and only as far as proxies go."""

from __future__ import annotations

from ipaddress import ip_network

import pytest

from esimcare.config import parse_networks
from esimcare.web.client_address import client_address

PROXIES = (ip_network("10.0.0.0/8"), ip_network("2001:db8::/32"))


def test_without_a_trusted_peer_the_header_is_ignored() -> None:
    assert client_address("192.0.2.1", "198.51.100.7", PROXIES) == "192.0.2.1"
    assert client_address("192.0.2.1", "198.51.100.7", ()) == "192.0.2.1"


def test_a_trusted_proxy_names_the_client_it_saw() -> None:
    assert client_address("10.0.0.5", "198.51.100.7", PROXIES) == "198.51.100.7"


def test_addresses_the_client_wrote_itself_left_of_its_own_are_not_believed() -> None:
    forwarded = "203.0.113.66, 198.51.100.7, 10.1.2.3"
    assert client_address("10.0.0.5", forwarded, PROXIES) == "198.51.100.7"


def test_garbage_in_the_header_stops_at_the_last_address_a_proxy_vouched_for() -> None:
    assert client_address("10.0.0.5", "evil, 10.1.2.3", PROXIES) == "10.1.2.3"
    assert client_address("10.0.0.5", "not-an-ip", PROXIES) == "10.0.0.5"


def test_ipv4_mapped_peers_are_plain_ipv4() -> None:
    assert client_address("::ffff:10.0.0.5", "198.51.100.7", PROXIES) == "198.51.100.7"
    assert client_address("::ffff:192.0.2.1", None, PROXIES) == "192.0.2.1"


def test_a_peer_that_is_no_address_is_kept_as_it_is() -> None:
    assert client_address("testclient", "198.51.100.7", PROXIES) == "testclient"
    assert client_address(None, "198.51.100.7", PROXIES) is None


def test_trusted_proxies_are_parsed_from_cidrs_and_a_typo_stops_the_start() -> None:
    assert parse_networks(" 10.0.0.0/8, 192.0.2.7 ,") == (
        ip_network("10.0.0.0/8"),
        ip_network("192.0.2.7/32"),
    )
    with pytest.raises(ValueError, match="host bits set"):
        parse_networks("10.0.0.1/8")
