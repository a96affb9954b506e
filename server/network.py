"""Which address to give the phones: the machine's LAN address when bound to all interfaces."""

from __future__ import annotations

import ipaddress
import socket


def lan_addresses() -> list[str]:
    """Non-loopback IPv4 addresses of this machine, found without sending any packet."""
    found: list[str] = []
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, family=socket.AF_INET)
    except OSError:
        infos = []
    for info in infos:
        address = str(info[4][0])
        if not ipaddress.ip_address(address).is_loopback and address not in found:
            found.append(address)
    return found


def phone_host(bind_host: str) -> str:
    if bind_host in ("0.0.0.0", "::", ""):
        addresses = lan_addresses()
        return addresses[0] if addresses else "127.0.0.1"
    return bind_host
