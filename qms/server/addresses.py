"""Who a request comes from, as every limiter counts it: one address group.

An IPv6 host usually has a whole /64 to itself (a household, a phone, a cloud
machine) and can change its address within it at will, so counting IPv6
addresses one by one lets one host multiply every limit by 2^64. Every limiter
(sign-in, ticket-status misses) counts by `address_group`: IPv6 by its /64,
IPv4 as it is, an IPv4-mapped IPv6 address (``::ffff:10.0.0.1``, what a
dual-stack socket reports for an IPv4 peer) as the IPv4 address it carries.

The address is the TCP peer, or the `X-Forwarded-For` address when uvicorn
trusts the peer as a proxy (``QMS_FORWARDED_ALLOW_IPS``, docs/deploy.md).
"""

from __future__ import annotations

import ipaddress

from starlette.requests import HTTPConnection

UNKNOWN = "unknown"  # no peer address (a unix socket, a test transport)


def address_group(host: str) -> str:
    """The group `host` is counted in: ``2001:db8:1:2::/64``, ``10.0.0.1``, or `host`
    itself when it is no IP address (a name a proxy passed on)."""
    try:
        ip = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return host or UNKNOWN
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def client_address(conn: HTTPConnection) -> str:
    """The address group of the caller of `conn`."""
    return address_group(conn.client.host) if conn.client else UNKNOWN
