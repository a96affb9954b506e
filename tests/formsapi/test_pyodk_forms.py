"""pyodk itself publishing forms: ``forms.create()`` from an XLSX with media, ``forms.update()`` with a new
definition or only new media, and a Collect-like client seeing each new version with correct hashes.

pyodk talks to the app served by waitress (as ``qingling serve`` serves it) and streams media without a
Content-Length (chunked); the phone's view is read through the app-user URL.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyodk._utils.config import CentralConfig, Config
from pyodk.client import Client
from pyodk.errors import PyODKError

from tests.formsapi.conftest import MANAGER
from tests.formsapi.workbooks import SURVEY, VILLAGES_CSV, workbook
from tests.sync.test_publishing import fetch, form_list, manifest


@pytest.fixture
def pyodk(manager, live_server, tmp_path) -> Iterator[Client]:  # noqa: ANN001
    config = Config(
        central=CentralConfig(
            base_url=live_server.url, username=MANAGER[0], password=MANAGER[1], default_project_id=1
        )
    )
    with Client(config=config, cache_path=tmp_path / "pyodk_cache.toml") as client:
        yield client


def files(tmp_path: Path, version: str, csv: bytes, survey: list[list[str]] | None = None) -> tuple[Path, Path]:
    folder = tmp_path / version
    folder.mkdir()
    definition = folder / "village_check.xlsx"
    definition.write_bytes(workbook(version=version, survey=survey))
    media = folder / "villages.csv"
    media.write_bytes(csv)
    return definition, media


def md5(data: bytes) -> str:
    return "md5:" + hashlib.md5(data).hexdigest()


def test_pyodk_creates_and_updates_a_form_that_phones_follow(pyodk, collect, tmp_path) -> None:  # noqa: ANN001
    definition, media = files(tmp_path, "2026120201", VILLAGES_CSV)
    form = pyodk.forms.create(definition=definition, attachments=[media])
    assert (form.xmlFormId, form.version, form.name) == ("village_check", "2026120201", "Village check")
    entry = form_list(collect)["village_check"]
    assert entry["version"] == "2026120201"
    assert entry["hash"] == md5(fetch(collect, entry["downloadUrl"]))
    assert manifest(collect, "village_check")["villages.csv"][0] == md5(VILLAGES_CSV)
    assert pyodk.forms.get("village_check").publishedAt is not None

    # A new definition (one more question) with a changed CSV.
    more = VILLAGES_CSV + "150102001003,三村\n".encode()
    definition, media = files(tmp_path, "2026120202", more, [*SURVEY, ["text", "phone", "Phone", "", ""]])
    pyodk.forms.update("village_check", definition=definition, attachments=[media])
    entry = form_list(collect)["village_check"]
    xml = fetch(collect, entry["downloadUrl"])
    assert entry["version"] == "2026120202" and entry["hash"] == md5(xml) and b"/phone" in xml
    assert manifest(collect, "village_check")["villages.csv"][0] == md5(more)

    # Only the media, under a version pyodk makes up.
    fewer = VILLAGES_CSV[: VILLAGES_CSV.rindex(b"\n", 0, -1) + 1]
    _definition, media = files(tmp_path, "media-only", fewer)
    pyodk.forms.update("village_check", attachments=[media], version_updater=lambda v: f"{v}-b")
    entry = form_list(collect)["village_check"]
    assert entry["version"] == "2026120202-b" and entry["hash"] == md5(fetch(collect, entry["downloadUrl"]))
    assert manifest(collect, "village_check")["villages.csv"][0] == md5(fewer)
    assert [f.version for f in pyodk.forms.list()] == ["2026120202-b"]


def test_pyodk_sees_a_broken_form_refused_with_its_row(pyodk, tmp_path) -> None:  # noqa: ANN001
    definition, _media = files(tmp_path, "2026120201", VILLAGES_CSV, [*SURVEY, ["integer", "head", "Again", "", ""]])
    with pytest.raises(PyODKError) as refused:
        pyodk.forms.create(definition=definition)
    body = refused.value.args[1].json()  # pyodk keeps Central's response
    assert body["code"] == 400.15
    assert [(p["row"], p["column"], p["question"]) for p in body["details"]["problems"]] == [
        (6, "name", "head"),
        (3, "name", "head"),
    ]
