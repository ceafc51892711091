"""Which address a chat client is rate limited by, with and without trusted proxies in front of the hub."""

from __future__ import annotations

from ipaddress import ip_network

import pytest

from hub.http.clients import client_address
from hub.settings import Settings

TRUSTED = (ip_network("10.0.0.0/8"), ip_network("2001:db8:ffff::/48"))


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "expected"),
    [
        ("203.0.113.7", ["198.51.100.1"], "203.0.113.7"),  # an untrusted peer's header is ignored
        ("10.0.0.2", [], "10.0.0.2"),  # a proxy that names nobody is the client
        ("10.0.0.2", ["192.0.2.1, 203.0.113.7"], "203.0.113.7"),  # the hop the proxy appended, not the visitor's
        ("10.0.0.2", ["192.0.2.1", "203.0.113.7, 10.9.9.9"], "203.0.113.7"),  # repeated headers read as one list
        ("10.0.0.2", ["10.0.0.3, 10.0.0.4"], "10.0.0.2"),  # only proxies on the way: the peer
        ("10.0.0.2", ["203.0.113.7, unknown"], "10.0.0.2"),  # a garbled hop limits the proxy, never nobody
        ("::ffff:10.0.0.2", ["::ffff:203.0.113.7"], "203.0.113.7"),  # a dual-stack socket's IPv4 clients
        ("2001:db8:ffff::1", ["2001:db8:1:2:3:4:5:6"], "2001:db8:1:2::/64"),  # an IPv6 client is its /64
        ("testclient", ["203.0.113.7"], "testclient"),  # not an IP socket
        (None, [], "unknown"),
    ],
)
def test_the_client_is_the_right_most_address_no_trusted_proxy_wrote(
    peer: str | None, forwarded_for: list[str], expected: str
) -> None:
    assert client_address(peer, forwarded_for, TRUSTED) == expected


def test_trusted_proxies_are_read_from_a_comma_separated_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.0.1,fd00::/8")
    assert Settings().trusted_proxies == (ip_network("10.0.0.0/8"), ip_network("192.168.0.1"), ip_network("fd00::/8"))
    monkeypatch.setenv("HUB_TRUSTED_PROXIES", "10.0.0.1/8")
    with pytest.raises(ValueError, match="trusted_proxies"):
        Settings()
