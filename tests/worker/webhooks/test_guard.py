"""The SSRF guard as a table: which addresses a callback URL may resolve to, with and without an
operator's allowance. The resolver is injected (no DNS is asked)."""

from __future__ import annotations

import pytest

from worker.errors import InvalidRequest
from worker.webhooks.guard import CallbackGuard


def resolving(*addresses: str) -> CallbackGuard:
    return CallbackGuard(resolve=lambda host, port: list(addresses))


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.5", "private"),
        ("192.168.1.1", "private"),
        ("fd00:ec2::254", "private"),
        ("169.254.169.254", "link-local (cloud metadata)"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-public"),
        ("::ffff:127.0.0.1", "loopback"),
        ("192.0.2.10", "private"),  # documentation range
    ],
)
def test_non_public_addresses_are_refused_naming_the_field(address: str, kind: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        resolving(address).check("https://hooks.example.com/x")
    assert refused.value.field == "callback_url"
    assert kind in str(refused.value)


def test_a_public_address_passes_and_is_the_one_to_connect_to() -> None:
    target = resolving("93.184.216.34").check("https://hooks.example.com:8443/x?y=1")
    assert (target.host, target.port, target.address, target.scheme) == (
        "hooks.example.com", 8443, "93.184.216.34", "https",
    )  # fmt: skip


def test_one_private_address_among_public_ones_refuses_the_url() -> None:
    with pytest.raises(InvalidRequest, match="10.0.0.7"):
        resolving("93.184.216.34", "10.0.0.7").check("http://rebind.example.com/")


def test_an_operator_may_allow_networks_and_hosts() -> None:
    networks = CallbackGuard.from_settings(["127.0.0.0/8", "10.0.0.0/8"], [])
    allowed = CallbackGuard(networks.allowed_networks, resolve=lambda host, port: ["10.9.9.9"])
    assert allowed.check("http://internal.corp/hook").address == "10.9.9.9"
    by_name = CallbackGuard(allowed_hosts=frozenset({"receiver.local"}), resolve=lambda h, p: ["192.168.0.2"])
    assert by_name.check("http://receiver.local/hook").address == "192.168.0.2"
    with pytest.raises(InvalidRequest):
        by_name.check("http://other.local/hook")


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "file:///etc/passwd", "example.com/hook", "http://", "http://x:99999/"]
)
def test_only_absolute_http_urls(url: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        resolving("93.184.216.34").check(url)
    assert refused.value.field == "callback_url"


def test_a_name_that_does_not_resolve_is_refused() -> None:
    def fail(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    with pytest.raises(InvalidRequest, match="does not resolve"):
        CallbackGuard(resolve=fail).check("https://nowhere.invalid/")
