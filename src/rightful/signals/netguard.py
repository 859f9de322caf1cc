"""SSRF guard: which addresses a fetch may connect to, and a resolver that enforces it.

The guard sits in the DNS resolver handed to aiohttp's connector, so the addresses that were checked are the
only addresses the connector can connect to: there is no second lookup, hence no DNS-rebinding gap. IP-literal
hosts never reach a resolver, so :func:`check_host` is called on every URL (and every redirect hop) first.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

__all__ = ["BlockedAddressError", "GuardedResolver", "check_host", "is_blocked"]

# Ranges that `is_global` misses or that we want to name explicitly.
_EXTRA_BLOCKED = (
    ipaddress.ip_network("100.64.0.0/10"),  # carrier-grade NAT
    ipaddress.ip_network("192.0.0.0/24"),
    ipaddress.ip_network("198.18.0.0/15"),  # benchmarking
    ipaddress.ip_network("64:ff9b:1::/48"),  # local-use NAT64
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedAddressError(OSError):
    """Raised inside the connector when every address of a host is refused (wrapped by aiohttp)."""

    def __init__(self, host: str, address: str, reason: str) -> None:
        super().__init__(f"{host} resolves to {address} ({reason}); refused without allow_private")
        self.host = host
        self.address = address
        self.reason = reason


def _classify(ip: IPAddress) -> str | None:
    """The reason an address is refused, or None when it is a public unicast address."""
    if isinstance(ip, ipaddress.IPv6Address):
        for embedded in (ip.ipv4_mapped, ip.sixtofour, ip.teredo[1] if ip.teredo else None):
            if embedded is not None and (reason := _classify(embedded)) is not None:
                return f"embedded IPv4 {embedded}: {reason}"
    checks = (
        ("loopback", ip.is_loopback),
        ("unspecified", ip.is_unspecified),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
        ("reserved", any(ip in net for net in _EXTRA_BLOCKED if net.version == ip.version)),
        ("not globally routable", not ip.is_global),
    )
    return next((name for name, hit in checks if hit), None)


def is_blocked(address: str) -> str | None:
    """Why ``address`` (an IP literal) is refused, or None if it may be contacted."""
    try:
        ip = ipaddress.ip_address(address.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    return _classify(ip)


def check_host(host: str, *, allow_private: bool) -> None:
    """Raise :class:`BlockedAddressError` for an IP-literal host that the guard refuses."""
    if allow_private:
        return
    if (reason := is_blocked(host)) is not None:
        raise BlockedAddressError(host, host, reason)


class GuardedResolver(AbstractResolver):
    """Resolve with the default resolver, then drop every address the guard refuses."""

    def __init__(self, *, allow_private: bool, inner: AbstractResolver | None = None) -> None:
        self._allow_private = allow_private
        self._inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if self._allow_private:
            return results
        allowed: list[ResolveResult] = []
        refused: tuple[str, str] | None = None
        for result in results:
            reason = is_blocked(str(result["host"]))
            if reason is None:
                allowed.append(result)
            elif refused is None:
                refused = (str(result["host"]), reason)
        if not allowed and refused is not None:
            raise BlockedAddressError(host, *refused)
        return allowed

    async def close(self) -> None:
        await self._inner.close()


def blocked_cause(exc: BaseException) -> BlockedAddressError | None:
    """Find a :class:`BlockedAddressError` in an exception chain (aiohttp wraps resolver errors)."""
    seen: set[int] = set()
    current: Any = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, BlockedAddressError):
            return current
        seen.add(id(current))
        current = getattr(current, "os_error", None) or current.__cause__ or current.__context__
    return None
