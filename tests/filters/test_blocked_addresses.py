"""``is_blocked_address``: what the address guard refuses (SPEC.md §7, docs/network.md)."""

from __future__ import annotations

import pytest

from filters.fetch import is_blocked_address

BLOCKED = [
    "127.0.0.1",
    "127.0.0.2",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # carrier-grade NAT
    "0.0.0.0",
    "255.255.255.255",
    "224.0.0.1",
    "240.0.0.1",
    "::1",
    "::",
    "fe80::1%eth0",
    "fc00::1",
    "fd00:ec2::254",
    "ff02::1",
    "[::1]",
    "::ffff:127.0.0.1",  # IPv4-mapped loopback
    "::ffff:10.0.0.1",
    "::7f00:1",  # IPv4-compatible ::127.0.0.1 (deprecated, reserved)
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo
    "2001:db8::1",  # documentation
    "localhost",  # not an address: only a resolver's answer can be judged
    "2130706433",
    "",
]

ALLOWED = [
    "93.184.215.14",
    "8.8.8.8",
    "2606:4700::1111",
    "::ffff:8.8.8.8",  # IPv4-mapped public address: judged by the IPv4 address
    "64:ff9b::808:808",  # NAT64 of a public address (IPv6-only networks)
    "2002:808:808::1",  # 6to4 of a public address
]


@pytest.mark.parametrize("address", BLOCKED)
def test_non_public_addresses_are_blocked(address: str) -> None:
    assert is_blocked_address(address)


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    assert not is_blocked_address(address)
