"""Form-list and manifest URLs use the configured or detected address, not whatever ``Host`` a client sent."""

from __future__ import annotations

import dataclasses
from urllib.parse import urlsplit

import pytest
from lxml import etree

from server.public_url import configured_or_detected
from tests.collect import COLLECT_HEADERS
from tests.conftest import DATA
from tests.protocol.conftest import publish

NS = {"x": "http://openrosa.org/xforms/xformsList", "m": "http://openrosa.org/xforms/xformsManifest"}


def _urls(collect, host: str) -> list[str]:  # noqa: ANN001
    """Every URL the form list and the manifest give a phone that sent ``Host: host``."""
    headers = {**COLLECT_HEADERS, "Host": host}
    form_list = etree.fromstring(collect.client.get(f"{collect.server_path}/formList", headers=headers).data)
    urls = form_list.xpath("//x:downloadUrl/text() | //x:manifestUrl/text()", namespaces=NS)
    manifest_url = form_list.xpath("//x:manifestUrl/text()", namespaces=NS)[0]
    manifest = collect.client.get(urlsplit(manifest_url).path, headers=headers)
    return urls + etree.fromstring(manifest.data).xpath("//m:downloadUrl/text()", namespaces=NS)


@pytest.fixture
def media_form(services, project):  # noqa: ANN001, ANN201
    return publish(services, project, DATA / "forms" / "village_visit.md")


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8383", "10.255.255.254:8383"])
def test_a_foreign_host_header_is_not_followed(collect, services, media_form, host: str) -> None:
    urls = _urls(collect, host)
    assert len(urls) == 3
    detected = configured_or_detected(services.settings)
    assert all(url.startswith(detected + collect.server_path) for url in urls), urls


@pytest.mark.parametrize("host", ["127.0.0.1:5000", "localhost", "[::1]:8383"])
def test_a_host_header_naming_this_machine_is_followed(collect, media_form, host: str) -> None:
    assert all(url.startswith(f"http://{host}{collect.server_path}") for url in _urls(collect, host))


def test_the_public_url_wins_over_any_host(collect, services, media_form) -> None:
    services.settings = dataclasses.replace(services.settings, public_url="https://survey.example.org/")
    urls = _urls(collect, "127.0.0.1:5000")
    assert all(url.startswith("https://survey.example.org" + collect.server_path) for url in urls), urls
