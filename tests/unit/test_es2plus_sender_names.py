"""The names a client certificate's subject gives, as proxies pass it to the ES2+ receiver."""

from __future__ import annotations

import pytest

from esimcare.config import parse_networks
from esimcare.es2plus.sender_auth import subject_names
from esimcare.operators.smdp_link import SmdpLink


@pytest.mark.parametrize(
    ("dn", "names"),
    [
        ("CN=smdp.vendor.example,O=Vendor,C=DE", ["smdp.vendor.example"]),
        ("O=Vendor,CN=SMDP.Vendor.Example", ["smdp.vendor.example"]),
        ("/C=DE/O=Vendor/CN=smdp.vendor.example", ["smdp.vendor.example"]),
        ("CN=smdp\\,evil.example,O=Vendor", ["smdp,evil.example"]),
        ("O=Vendor", []),
        ("not a DN at all ===", []),
        ("", []),
    ],
)
def test_subject_names_are_the_common_names_of_the_dn(dn: str, names: list[str]) -> None:
    assert subject_names(dn) == names


def test_certificate_names_are_read_from_the_operators_table() -> None:
    one = SmdpLink.from_mapping({"notification_cert_names": "SMDP.vendor.example"})
    many = SmdpLink.from_mapping({"notification_cert_names": ["a.example", "b.example"]})
    assert one.notification_cert_names == ("smdp.vendor.example",)
    assert many.notification_cert_names == ("a.example", "b.example")
    with pytest.raises(ValueError, match="notification_cert_names"):
        SmdpLink.from_mapping({"notification_cert_names": [1]})


def test_trusted_proxies_are_networks_and_a_typo_stops_the_start() -> None:
    assert tuple(map(str, parse_networks(" 127.0.0.1, 10.9.0.0/16 ,"))) == (
        "127.0.0.1/32",
        "10.9.0.0/16",
    )
    with pytest.raises(ValueError, match="ESIMCARE_TRUSTED_PROXIES"):
        parse_networks("10.0.0.300")
