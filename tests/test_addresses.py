"""One address grouping for every limiter: IPv6 by /64, IPv4 as it is, IPv4-mapped as IPv4."""

from __future__ import annotations

import pytest

from qms.server.addresses import UNKNOWN, address_group


@pytest.mark.parametrize(
    ("host", "group"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:12:34::1", "2001:db8:12:34::/64"),
        ("2001:db8:12:34:ffff:ffff:ffff:ffff", "2001:db8:12:34::/64"),
        ("2001:DB8:12:34:0:0:0:9", "2001:db8:12:34::/64"),
        ("[2001:db8:12:34::1]", "2001:db8:12:34::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),  # a dual-stack socket's view of an IPv4 peer
        ("::1", "::/64"),
        ("testclient", "testclient"),  # not an IP (a name passed on): as it is
        ("", UNKNOWN),
    ],
)
def test_address_groups(host: str, group: str) -> None:
    assert address_group(host) == group


def test_every_address_of_a_64_is_one_group_and_the_next_64_another() -> None:
    groups = {address_group(f"2001:db8:0:7:{n:x}::{n:x}") for n in range(1, 200)}
    assert groups == {"2001:db8:0:7::/64"}
    assert address_group("2001:db8:0:8::1") != address_group("2001:db8:0:7::1")
