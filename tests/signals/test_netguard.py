"""The SSRF guard: which addresses a fetch may reach."""

from __future__ import annotations

import asyncio
import socket

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from rightful.signals.netguard import BlockedAddressError, GuardedResolver, blocked_cause, check_host, is_blocked


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.9.9.9", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "reserved"),
        ("240.0.0.1", "reserved"),
        ("fc00::1", "private"),
    ],
)
def test_non_public_addresses_are_refused(address: str, reason: str) -> None:
    """Loopback, private, link-local, multicast, unspecified and reserved addresses are refused by name."""
    assert is_blocked(address) is not None
    assert reason in (is_blocked(address) or "")


@pytest.mark.parametrize("address", ["::ffff:127.0.0.1", "::ffff:10.0.0.1", "2002:7f00:1::1", "[::ffff:192.168.0.1]"])
def test_ipv4_embedded_in_ipv6_is_refused(address: str) -> None:
    """IPv4-mapped and 6to4 addresses are judged by the IPv4 address they carry."""
    assert "embedded IPv4" in (is_blocked(address) or "")


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700::6810:85e5", "8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    """Globally routable unicast addresses may be contacted."""
    assert is_blocked(address) is None


def test_check_host_honours_allow_private() -> None:
    """An IP-literal host is refused unless the caller allows private addresses."""
    with pytest.raises(BlockedAddressError):
        check_host("127.0.0.1", allow_private=False)
    check_host("127.0.0.1", allow_private=True)
    check_host("example.org", allow_private=False)  # names are judged by the resolver


class _FixedResolver(AbstractResolver):
    def __init__(self, *addresses: str) -> None:
        self.addresses = addresses

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(hostname=host, host=a, port=port, family=family, proto=0, flags=0) for a in self.addresses
        ]

    async def close(self) -> None:
        return None


def test_resolver_drops_refused_addresses_and_keeps_public_ones() -> None:
    """A name resolving to a public and a private address connects only to the public one (no rebinding gap)."""
    resolver = GuardedResolver(allow_private=False, inner=_FixedResolver("10.0.0.5", "93.184.216.34"))
    results = asyncio.run(resolver.resolve("mixed.example", 80))
    assert [r["host"] for r in results] == ["93.184.216.34"]


def test_resolver_refuses_a_name_with_only_private_addresses() -> None:
    """A name that resolves only to loopback raises BlockedAddressError, found again through exception chains."""
    resolver = GuardedResolver(allow_private=False, inner=_FixedResolver("127.0.0.1"))
    with pytest.raises(BlockedAddressError) as info:
        asyncio.run(resolver.resolve("localhost.example", 80))
    wrapped = RuntimeError("connector failed")
    wrapped.__cause__ = info.value
    assert blocked_cause(wrapped) is info.value
