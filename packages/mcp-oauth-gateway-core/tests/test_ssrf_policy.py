"""The address policy on its own; the fetch server and the auth service test it in use."""

from __future__ import annotations

import ipaddress

import pytest
from mcp_oauth_gateway_core.ssrf import AddressPolicy, AddressRefused, why_refused


@pytest.mark.parametrize(
    "address",
    ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111", "8.8.8.8"],
)
def test_public_addresses_pass(address: str) -> None:
    assert why_refused(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "address",
    ["::ffff:192.168.0.1", "2002:c0a8:1::", "64:ff9b::c0a8:1", "::c0a8:1", "fe80::1%eth0"],
)
def test_embedded_private_addresses_are_refused(address: str) -> None:
    assert why_refused(ipaddress.ip_address(address.split("%")[0])) is not None


def test_allow_lists_admit_only_what_they_name() -> None:
    policy = AddressPolicy.from_settings(
        ["intranet.example", "*.corp.example"], ["10.1.0.0/16"], allow_with="X_HOSTS"
    )
    ten = ipaddress.ip_address("10.1.2.3")
    assert policy.vet("intranet.example", [ipaddress.ip_address("192.168.0.9")])
    assert policy.vet("wiki.corp.example", [ipaddress.ip_address("192.168.0.9")])
    assert policy.vet("anything.example", [ten]) == [ten]
    with pytest.raises(AddressRefused):
        policy.vet("corp.example.evil", [ipaddress.ip_address("192.168.0.9")])
    with pytest.raises(AddressRefused):
        policy.vet("anything.example", [ipaddress.ip_address("10.2.0.1")])
    with pytest.raises(AddressRefused):
        AddressPolicy().vet("nothing.example", [])


def test_a_refusal_names_the_settings_that_would_allow_it() -> None:
    policy = AddressPolicy.from_settings([], [], allow_with="CIMD_ALLOWED_HOSTS")
    with pytest.raises(AddressRefused, match=r"loopback address; .* CIMD_ALLOWED_HOSTS$"):
        policy.vet("localhost", [ipaddress.ip_address("127.0.0.1")])
