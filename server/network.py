"""Which address to give the phones: this machine's LAN addresses when the server binds every interface.

The host name is no guide: Debian and Ubuntu map it to a loopback address in ``/etc/hosts``, so resolving
it gives 127.0.0.1, which a phone cannot reach. The interfaces themselves are listed instead (psutil),
and their addresses ranked by how likely a phone on the same network reaches them.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass

import psutil

ALL_INTERFACES = ("0.0.0.0", "::", "")
# Bridges and tunnels of containers and virtual machines: private addresses that no phone is on.
_VIRTUAL = re.compile(r"^(docker|br-|veth|virbr|vmnet|vboxnet|lxc|lxd|cni|flannel|cali|podman|tun|tap|wg|zt)")
_LAN = [ipaddress.ip_network(net) for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]


@dataclass(frozen=True)
class Interface:
    """One IPv4 address of one network interface."""

    name: str
    address: str
    up: bool = True


def machine_interfaces() -> list[Interface]:
    """The IPv4 addresses of this machine's interfaces, in the order the system lists them."""
    stats = psutil.net_if_stats()
    return [
        Interface(name, entry.address, stats[name].isup if name in stats else True)
        for name, entries in psutil.net_if_addrs().items()
        for entry in entries
        if entry.family == socket.AF_INET
    ]


def lan_addresses(interfaces: Iterable[Interface]) -> list[str]:
    """Addresses a phone may reach, best first: private LAN addresses (RFC 1918) of real interfaces, then
    those of container and VM bridges, then any other routable address. Loopback, link-local (169.254/16)
    and interfaces that are down are left out."""
    ranked: list[tuple[int, int, str]] = []
    for position, interface in enumerate(interfaces):
        try:
            address = ipaddress.IPv4Address(interface.address)
        except ValueError:
            continue
        if not interface.up or address.is_loopback or address.is_link_local or address.is_unspecified:
            continue
        if any(address in net for net in _LAN):
            rank = 1 if _VIRTUAL.match(interface.name) else 0
        else:
            rank = 2
        ranked.append((rank, position, str(address)))
    found: list[str] = []
    for _rank, _position, address in sorted(ranked):
        if address not in found:
            found.append(address)
    return found


def phone_hosts(bind_host: str, interfaces: Iterable[Interface] | None = None) -> list[str]:
    """Hosts to put in the phone URL, best first; empty when the server is reachable from this machine only.

    Bound to every interface: the LAN addresses (``interfaces`` defaults to this machine's). Bound to one
    address: that address, unless it is a loopback one.
    """
    if bind_host in ALL_INTERFACES:
        return lan_addresses(machine_interfaces() if interfaces is None else interfaces)
    if bind_host == "localhost" or _is_loopback(bind_host):
        return []
    return [bind_host]


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
