"""The URL given to phones: a LAN address of this machine, never 127.0.0.1 without a loud warning.

The choice is driven with given interface lists (what psutil reports on machines we do not have), and
once for real: ``qingling qr`` on this machine, checked against the address its default route uses.
"""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from server.collect_qr import decode_settings
from server.config import load_settings
from server.network import Interface, lan_addresses, machine_interfaces, phone_hosts
from server.startup import PhoneSetup, print_banner
from tests.server.test_cli import PHONE_URL, read_terminal_qr, run

SETUP = PhoneSetup("Household survey", "/v1/key/" + "k" * 32 + "/projects/1", [], [])
LOOPBACK = Interface("lo", "127.0.0.1")


@pytest.mark.parametrize(
    ("interfaces", "expected"),
    [
        # Debian/Ubuntu: the host name resolves to loopback, the LAN address is only on the interface.
        ([LOOPBACK, Interface("eth0", "192.168.1.20")], ["192.168.1.20"]),
        # A laptop with Docker: the Wi-Fi address first, the container bridge last, whatever the order.
        (
            [LOOPBACK, Interface("docker0", "172.17.0.1"), Interface("wlan0", "192.168.1.7")],
            ["192.168.1.7", "172.17.0.1"],
        ),
        # A private address comes before a public one; both are printed.
        ([Interface("eth0", "203.0.113.5"), Interface("eth1", "10.1.2.3")], ["10.1.2.3", "203.0.113.5"]),
        # Two LAN cards: both, in the system's order.
        ([Interface("eth0", "10.0.0.8"), Interface("eth1", "192.168.50.2")], ["10.0.0.8", "192.168.50.2"]),
        # Down interfaces, link-local and repeated addresses are left out.
        (
            [
                Interface("eth0", "192.168.1.9", up=False),
                Interface("eth1", "169.254.3.4"),
                Interface("eth2", "10.9.9.9"),
                Interface("eth2:1", "10.9.9.9"),
            ],
            ["10.9.9.9"],
        ),
        ([LOOPBACK], []),
        ([], []),
    ],
)
def test_lan_addresses_are_ranked_for_phones(interfaces: list[Interface], expected: list[str]) -> None:
    assert lan_addresses(interfaces) == expected


def test_a_server_bound_to_one_address_gives_that_address() -> None:
    assert phone_hosts("10.0.0.8", [LOOPBACK]) == ["10.0.0.8"]
    assert phone_hosts("127.0.0.1", [Interface("eth0", "10.0.0.8")]) == []
    assert phone_hosts("localhost") == []
    assert phone_hosts("0.0.0.0", [LOOPBACK, Interface("eth0", "10.0.0.8")]) == ["10.0.0.8"]


def banner(capsys: pytest.CaptureFixture[str], interfaces: list[Interface], **settings: object) -> str:
    print_banner(load_settings({}, **settings), SETUP, interfaces)
    return capsys.readouterr().out


def test_every_lan_address_is_printed_and_the_best_is_in_the_qr_code(capsys: pytest.CaptureFixture[str]) -> None:
    out = banner(capsys, [LOOPBACK, Interface("docker0", "172.17.0.1"), Interface("wlan0", "192.168.1.7")])

    first = f"http://192.168.1.7:8383{SETUP.server_path}"
    assert PHONE_URL.findall(out) == [first]
    assert decode_settings(read_terminal_qr(out))["general"]["server_url"] == first
    assert f"    or http://172.17.0.1:8383{SETUP.server_path}" in out.splitlines()
    assert "127.0.0.1" not in out and "WARNING" not in out


def test_only_loopback_is_said_loudly_with_what_to_set(capsys: pytest.CaptureFixture[str]) -> None:
    out = banner(capsys, [LOOPBACK])

    assert PHONE_URL.findall(out) == [f"http://127.0.0.1:8383{SETUP.server_path}"]
    warning = next(line for line in out.splitlines() if "WARNING" in line)
    assert "phones cannot connect" in warning and "QINGLING_PUBLIC_URL" in warning


def test_the_public_url_wins_and_needs_no_warning(capsys: pytest.CaptureFixture[str]) -> None:
    out = banner(capsys, [LOOPBACK], public_url="https://survey.example.org/")

    assert PHONE_URL.findall(out) == [] and f"https://survey.example.org{SETUP.server_path}" in out
    assert "WARNING" not in out


def default_route_address() -> str | None:
    """The address this machine would send from towards a LAN (a connected UDP socket sends no packet)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 9))
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def test_qr_on_this_machine_gives_an_address_a_phone_reaches(tmp_path: Path) -> None:
    env = {"QINGLING_DATA_DIR": str(tmp_path / "data")}
    assert run(["db", "upgrade"], env).exit_code == 0

    result = run(["qr"], env)  # the default host, 0.0.0.0

    assert result.exit_code == 0, result.output
    (url,) = PHONE_URL.findall(result.output)
    assert decode_settings(read_terminal_qr(result.output))["general"]["server_url"] == url
    routed = default_route_address()
    printed = {urlsplit(line.split()[-1]).hostname for line in result.output.splitlines() if "/v1/key/" in line}
    if routed is None:  # a machine with loopback only: the operator is told
        assert urlsplit(url).hostname == "127.0.0.1" and "QINGLING_PUBLIC_URL" in result.output
    else:
        assert routed in printed
        assert urlsplit(url).hostname in {i.address for i in machine_interfaces()} - {"127.0.0.1"}
        assert "WARNING" not in result.output
