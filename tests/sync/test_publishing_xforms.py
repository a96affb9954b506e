"""XForm XML written by other tools or downloaded from another server is published like a workbook."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from forms.build import FormBuildError, compile_xlsform
from server.cli import main
from tests.conftest import DATA
from tests.sync.test_publishing import form_list, manifest, publish


def xform_from_elsewhere(tmp_path: Path) -> Path:
    """village_visit as another server would serve it: the XML alone, its CSV beside it."""
    compiled = compile_xlsform(DATA / "forms" / "village_visit.md", validate=False)
    folder = tmp_path / "downloaded"
    folder.mkdir()
    shutil.copy(DATA / "forms" / "villages.csv", folder)
    path = folder / "village_visit.xml"
    path.write_bytes(compiled.xml)
    return path


def test_an_xform_is_published_byte_for_byte_with_its_media(services, project, collect, tmp_path) -> None:  # noqa: ANN001
    source = xform_from_elsewhere(tmp_path)
    result = publish(services, project, source)
    assert (result.form.xml_form_id, result.created) == ("village_visit", True)
    listed = form_list(collect)["village_visit"]
    assert listed["hash"] == "md5:" + hashlib.md5(source.read_bytes()).hexdigest()
    files = manifest(collect, "village_visit")
    assert files["villages.csv"][0] == "md5:" + hashlib.md5((source.parent / "villages.csv").read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"<html><body>not a form</body></html>", "not an XForm"),
        (b"<h:html xmlns:h='http://www.w3.org/1999/xhtml'><h:head>", "not well-formed XML"),
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', "DOCTYPE"),
    ],
)
def test_xml_that_is_not_an_xform_is_refused_in_words(tmp_path: Path, body: bytes, words: str) -> None:
    path = tmp_path / "other.xml"
    path.write_bytes(body)
    with pytest.raises(FormBuildError) as refused:
        compile_xlsform(path)
    assert words in str(refused.value) and str(refused.value).startswith("other.xml: ")


def test_the_cli_publishes_an_xform(tmp_path: Path) -> None:
    env = {"QINGLING_DATA_DIR": str(tmp_path / "data"), "QINGLING_PUBLISH_FORMS_ON_START": "false"}
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    result = runner.invoke(main, ["forms", "publish", str(xform_from_elsewhere(tmp_path))], env=env)
    assert result.exit_code == 0, result.output
    assert "published village_visit version" in result.output
