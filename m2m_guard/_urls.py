"""Which hosts are loopback: one answer for every URL m2m_guard is configured with.

Plain http is normal for a local issuer and worth a warning anywhere else
(``Verifier`` URLs, the caller side's token URL); both ask ``is_loopback``.
"""

from __future__ import annotations

import ipaddress

__all__ = ["is_loopback"]


def is_loopback(host: str) -> bool:
    """``localhost``, an address in ``127.0.0.0/8``, or ``::1``.

    ``host`` may be bracketed (``[::1]``, as in a URL's netloc) or not (as
    ``urlsplit().hostname`` and ``httpx.URL.host`` give it). Names other
    than ``localhost`` itself are not trusted to resolve to loopback, not
    even ``*.localhost``; an IPv4-mapped IPv6 address (``::ffff:127.0.0.1``)
    is judged by its IPv4 address, as Python 3.13 does and older versions
    do not.
    """
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback
