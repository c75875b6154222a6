"""Where a webhook may be sent: refused at save and checked again at send (DNS can change).

Production sends only to `https` URLs whose host resolves to public addresses. Loopback, private,
link-local (cloud metadata at 169.254.169.254), carrier-grade NAT, multicast, reserved and
unspecified addresses are refused — every address a name resolves to must pass, and the request
then goes to the very address that passed (no second lookup an attacker could answer differently).
`WEBHOOKS_ALLOW_PRIVATE=true` lifts the address rule (an on-premises receiver);
`WEBHOOKS_ALLOW_LOOPBACK` (on by default in development, what `make run` starts) allows only
loopback, so a developer can point a webhook at a receiver on their machine.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings


class UnsafeTarget(ValueError):
    """The URL may not receive webhooks; the message says why."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent in the request line
    address: str  # the checked address the request connects to


def _options() -> dict:
    return settings.WEBHOOKS


def _getaddrinfo(host: str, port: int):
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (an IP literal resolves to itself)."""
    try:
        infos = _getaddrinfo(host, port)
    except (socket.gaierror, UnicodeError, OSError) as error:
        raise UnsafeTarget(f"The host {host!r} does not resolve ({error}).") from error
    return list(dict.fromkeys(info[4][0] for info in infos))


def address_problem(address: str) -> str | None:
    """Why an address may not receive webhooks under the current settings, or None."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    options = _options()
    if ip.is_loopback:
        if options["ALLOW_LOOPBACK"] or options["ALLOW_PRIVATE"]:
            return None
        return f"{address} is a loopback address"
    if ip.is_unspecified or ip.is_multicast:
        return f"{address} is not a unicast address"
    if ip.is_global:
        return None
    if options["ALLOW_PRIVATE"]:
        return None
    if ip.is_link_local:
        return f"{address} is a link-local address (cloud metadata lives there)"
    return f"{address} is a private or reserved address"


def check_url(url: str, *, resolve_host: bool = True) -> Target | None:
    """Check a webhook URL; return where to connect (None when `resolve_host` is False).

    Raises UnsafeTarget with a message fit for a form or an API error.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnsafeTarget(f"Not a valid URL ({error}).") from error
    scheme = (parts.scheme or "").lower()
    options = _options()
    if scheme not in ("http", "https"):
        raise UnsafeTarget("Use an http:// or https:// URL.")
    if not parts.hostname:
        raise UnsafeTarget("The URL needs a host.")
    if parts.username or parts.password:
        raise UnsafeTarget("Put no user name or password in the URL; the signature authenticates us.")
    host = parts.hostname
    is_loopback_literal = _is_loopback_literal(host)
    if (
        scheme != "https"
        and options["REQUIRE_HTTPS"]
        and not (is_loopback_literal and options["ALLOW_LOOPBACK"])
    ):
        raise UnsafeTarget("Use an https:// URL.")
    port = port or (443 if scheme == "https" else 80)
    if not resolve_host:
        return None
    addresses = resolve(host, port)
    if not addresses:
        raise UnsafeTarget(f"The host {host!r} does not resolve.")
    problems = [problem for address in addresses if (problem := address_problem(address))]
    if problems:
        raise UnsafeTarget(
            f"Webhooks are not sent to {host}: {problems[0]}. Only public addresses receive webhooks"
            + " (set WEBHOOKS_ALLOW_PRIVATE=true for a receiver inside your network)."
        )
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(scheme=scheme, host=host, port=port, path=path, address=addresses[0])


def _is_loopback_literal(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
