"""Which addresses a fetch may connect to: the SSRF policy, pure and table-tested.

Only globally routable unicast addresses pass. IPv6 forms that embed an IPv4
address (mapped, compatible, 6to4, NAT64, Teredo) are judged by the address
they embed, so `::ffff:127.0.0.1` is loopback. Operators may allow-list host
names or networks (for a service on their own network); nothing is allowed
by default. The fetch server and the auth service's metadata-document fetch
share this policy; each names its own allow-list settings in the refusal.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Named so the refusal says what was asked for.
METADATA_ADDRESSES = {
    ipaddress.ip_address("169.254.169.254"): "cloud metadata service (AWS, GCP, Azure, …)",
    ipaddress.ip_address("169.254.170.2"): "AWS ECS task metadata",
    ipaddress.ip_address("fd00:ec2::254"): "AWS metadata service (IPv6)",
    ipaddress.ip_address("100.100.100.200"): "Alibaba Cloud metadata service",
    ipaddress.ip_address("192.0.0.192"): "Oracle Cloud metadata service",
}
CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
SIXTOFOUR = ipaddress.ip_network("2002::/16")


class AddressRefused(ValueError):
    """A destination that the policy does not allow; the message is safe to show."""


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address hidden in an IPv6 one, if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if any(address in net for net in NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if int(address) >> 32 == 0 and int(address) > 1:  # IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(int(address))
    return None


def why_refused(address: IPAddress) -> str | None:
    """None if `address` is public unicast; otherwise a short reason."""
    if address in METADATA_ADDRESSES:
        return METADATA_ADDRESSES[address]
    if isinstance(address, ipaddress.IPv6Address) and (inner := embedded_ipv4(address)):
        reason = why_refused(inner)
        return f"{reason} (embedded in {address})" if reason else None
    checks = (
        (address.is_unspecified, "unspecified address"),
        (address.is_loopback, "loopback address"),
        (address.is_link_local, "link-local address"),
        (address.is_multicast, "multicast address"),
        (isinstance(address, ipaddress.IPv4Address) and address in CGNAT, "shared (CGNAT) address"),
        (address.is_private, "private address"),
        (address.is_reserved, "reserved address"),
        (not address.is_global, "address not globally routable"),
    )
    return next((reason for failed, reason in checks if failed), None)


def _host_matches(host: str, pattern: str) -> bool:
    host, pattern = host.lower().rstrip("."), pattern.lower().rstrip(".")
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return host == pattern


@dataclass(frozen=True)
class AddressPolicy:
    allowed_hosts: Sequence[str] = ()
    allowed_networks: Sequence[IPNetwork] = field(default_factory=tuple)
    # The settings an operator changes to allow more, named in every refusal.
    allow_with: str = "the allowed hosts or networks"

    @classmethod
    def from_settings(
        cls, hosts: Iterable[str], networks: Iterable[str], *, allow_with: str
    ) -> AddressPolicy:
        return cls(
            allowed_hosts=tuple(hosts),
            allowed_networks=tuple(ipaddress.ip_network(n, strict=False) for n in networks),
            allow_with=allow_with,
        )

    def vet(self, host: str, addresses: Sequence[IPAddress]) -> list[IPAddress]:
        """Return the addresses to connect to, or raise AddressRefused naming the first bad one.

        Every address must pass: a name that resolves to one public and one
        private address is refused, since either could be used.
        """
        if not addresses:
            raise AddressRefused(f"{host} did not resolve to any address")
        if any(_host_matches(host, pattern) for pattern in self.allowed_hosts):
            return list(addresses)
        for address in addresses:
            if any(address in net for net in self.allowed_networks):
                continue
            reason = why_refused(address)
            if reason:
                shown = host if host == str(address) else f"{host} ({address})"
                raise AddressRefused(
                    f"refused to fetch {shown}: {reason}; an operator can allow it with "
                    f"{self.allow_with}"
                )
        return list(addresses)
