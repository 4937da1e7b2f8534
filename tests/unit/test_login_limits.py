"""The login throttle's numbers: waits that double, and one address alone below the lock."""

from __future__ import annotations

import pytest

from esimcare.config import Limits
from esimcare.customers.throttle import address_group


def test_waits_start_after_the_free_tries_and_double_up_to_the_cap() -> None:
    limits = Limits()
    waits = [limits.login_delay_s(failures, free=5) for failures in range(1, 18)]
    assert waits == [0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900]


def test_one_address_alone_cannot_reach_the_account_lock_within_an_hour() -> None:
    limits = Limits()
    assert limits.login_failures_one_address_can_make_in_an_hour() == 32
    assert limits.login_failures_one_address_can_make_in_an_hour() < limits.failures_per_hour


def test_a_wait_longer_than_the_memory_of_failures_is_refused() -> None:
    with pytest.raises(ValueError, match="forgotten"):
        Limits(login_delay_cap_s=3600, login_forget_after_s=3600)
    with pytest.raises(ValueError, match="at least one"):
        Limits(password_hash_concurrency=0)


def test_ipv6_clients_are_counted_per_slash_64() -> None:
    assert address_group("2001:db8:1:2:aaaa::1") == address_group("2001:db8:1:2:bbbb::9")
    assert address_group("2001:db8:1:3::1") != address_group("2001:db8:1:2::1")
    assert address_group("192.0.2.7") == "192.0.2.7"
    assert address_group(None) == "unknown"
