"""Tell where a browser request comes from: the client's address behind trusted proxies, and its origin."""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

ProxyNetwork = IPv4Network | IPv6Network


def origin_of(url: str) -> str | None:
    """Return `scheme://host[:port]` as a browser writes it in an `Origin` header, or None for anything else."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in ("http", "https") or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    default_port = 80 if scheme == "http" else 443
    return f"{scheme}://{host}" + (f":{port}" if port not in (None, default_port) else "")


def client_address(peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[ProxyNetwork]) -> str:
    """Return the address a client is limited by, honouring `X-Forwarded-For` from trusted proxies only.

    From an untrusted peer the header is ignored: the peer is the client. From a trusted proxy the client is
    the right-most hop that is not itself a trusted proxy; hops to its left were written by the client and
    prove nothing. An IPv6 client is its /64,
    the block one subscriber is given, so walking through its addresses does not escape its limit.
    """
    if peer is None:
        return "unknown"
    address = _ip(peer)
    if address is None:  # not an IP socket (a unix socket, a test transport): its name is all there is
        return peer
    if _is_trusted(address, trusted):
        hops = [hop for header in forwarded_for for hop in header.split(",")]
        for hop in reversed(hops):
            forwarded = _ip(hop)
            if forwarded is None:  # a proxy's garbled hop: fall back to the proxy, which limits more, never less
                break
            if not _is_trusted(forwarded, trusted):
                address = forwarded
                break
    if isinstance(address, IPv6Address):
        return str(IPv6Network((address, 64), strict=False))
    return str(address)


def client_of(connection: HTTPConnection, trusted: Sequence[ProxyNetwork]) -> str:
    """Return the address `connection` (a request) is limited by (see `client_address`)."""
    peer = connection.client.host if connection.client else None
    return client_address(peer, connection.headers.getlist("x-forwarded-for"), trusted)


def _ip(text: str) -> IPv4Address | IPv6Address | None:
    try:
        address = ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack socket's view of an IPv4 client
    return address


def _is_trusted(address: IPv4Address | IPv6Address, trusted: Sequence[ProxyNetwork]) -> bool:
    return any(address in network for network in trusted)
