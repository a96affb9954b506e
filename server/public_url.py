"""The root URL written into form lists and manifests, which phones then fetch.

``QINGLING_PUBLIC_URL`` when it is set; otherwise the address ``qingling serve`` detects and prints for the
phones. A client's ``Host`` header is followed only when it names this machine (one of its addresses,
or loopback), so that a phone on a second network gets URLs it can reach, while a forged ``Host`` cannot
make the server hand out links to somewhere else (for a cache or a proxy to pass on). Behind a trusted
reverse proxy (``QINGLING_TRUST_PROXY``) the forwarded host is the proxy's word, and is followed.
"""

from __future__ import annotations

from functools import cache
from urllib.parse import urlsplit

from flask import Request

from server.config import Settings
from server.network import lan_addresses, machine_interfaces, phone_hosts

_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


def configured_or_detected(settings: Settings) -> str:
    """The root phones are told to use, without a trailing slash: the first URL the start-up prints."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = (_detected_hosts(settings.host) or ("127.0.0.1",))[0]
    return f"http://{f'[{host}]' if ':' in host else host}:{settings.port}"


@cache
def _detected_hosts(bind_host: str) -> tuple[str, ...]:
    """The phone hosts of this machine, best first (the interfaces are listed once per process)."""
    return tuple(phone_hosts(bind_host))


def request_root(settings: Settings, request: Request) -> str:
    """The root for URLs in a reply to ``request`` (module docstring)."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    hostname = urlsplit(f"//{request.host}").hostname or ""
    if settings.trust_proxy or hostname in _own_names(settings.host):
        return request.host_url.rstrip("/")
    return configured_or_detected(settings)


@cache
def _own_names(bind_host: str) -> frozenset[str]:
    """Names of this machine a phone may address it by (looked up once per process)."""
    names = {bind_host, *lan_addresses(machine_interfaces())} - {"", "0.0.0.0", "::"}
    return _LOOPBACK | names
