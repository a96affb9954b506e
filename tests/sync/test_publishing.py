"""Publishing the real XLSForms (sync/intake/publishing.py), checked the way a form designer and a phone see it.

Each test copies a workbook and its media folder from forms/sources to a temporary folder, so it can edit
them as a designer would (openpyxl for the workbook, plain bytes for a CSV). What tests/protocol already
covers is not repeated here (the Markdown test forms' form list, downloads and one-CSV manifest).
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import openpyxl
import pytest
from lxml import etree
from sqlalchemy import func, select

from forms.build import compile_xlsform
from forms.locations import MEDIA_DIR, SOURCES_DIR
from server.services import Services
from sync.db.engine import transaction
from sync.db.models import Audit, FormAttachment, FormVersion, SubmissionVersion
from sync.errors import BadRequest, FormVersionConflict
from sync.intake.publishing import PublishResult, publish_source
from tests.collect import instance_xml, submission_body
from tests.protocol.conftest import Collect

FORMLIST = "{http://openrosa.org/xforms/xformsList}"
MANIFEST = "{http://openrosa.org/xforms/xformsManifest}"
VERSION = "2026112201"  # the version the shipped workbooks carry


@pytest.fixture
def collect(client, app_token: str, project) -> Collect:  # noqa: ANN001
    return Collect(client, f"/v1/key/{app_token}/projects/{project.id}")


def copy_form(tmp_path: Path, form_id: str) -> Path:
    """The workbook in a folder of its own, with a copy of every file of forms/sources/media."""
    folder = tmp_path / "sources"
    shutil.copytree(MEDIA_DIR, folder / "media")
    return Path(shutil.copy(SOURCES_DIR / f"{form_id}.xlsx", folder))


def edit_workbook(source: Path, sheet: str, row_name: str, column: str, value: str) -> None:
    """Set one cell, found by the row's `name` (or `form_id` in settings) and the column header."""
    workbook = openpyxl.load_workbook(source)
    worksheet = workbook[sheet]
    header = [cell.value for cell in worksheet[1]]
    key = header.index("form_id" if sheet == "settings" else "name")
    for row in worksheet.iter_rows(min_row=2):
        if row[key].value == row_name:
            row[header.index(column)].value = value
            break
    else:
        raise AssertionError(f"{source.name}: no row {row_name!r} in {sheet}")
    workbook.save(source)


def raise_version(source: Path, form_id: str, version: str) -> None:
    edit_workbook(source, "settings", form_id, "version", version)


def publish(services: Services, project, source: Path) -> PublishResult:  # noqa: ANN001
    with transaction(services.sessions) as session:
        return publish_source(session, services.store, project, source)


def form_list(collect: Collect) -> dict[str, dict[str, str]]:
    response = collect.form_list()
    assert response.status_code == 200
    return {
        entry.findtext(f"{FORMLIST}formID"): {child.tag.split("}")[1]: child.text or "" for child in entry}
        for entry in etree.fromstring(response.data).findall(f"{FORMLIST}xform")
    }


def fetch(collect: Collect, url: str) -> bytes:
    response = collect.get(url.replace("http://localhost", ""))
    assert response.status_code == 200, response.data
    return response.data


def manifest(collect: Collect, form_id: str) -> dict[str, tuple[str, str]]:
    """The manifest's media files: name -> (hash, downloadUrl)."""
    root = etree.fromstring(fetch(collect, form_list(collect)[form_id]["manifestUrl"]))
    return {
        item.findtext(f"{MANIFEST}filename"): (
            item.findtext(f"{MANIFEST}hash"),
            item.findtext(f"{MANIFEST}downloadUrl"),
        )
        for item in root.findall(f"{MANIFEST}mediaFile")
    }


def stored_rows(services: Services) -> dict[str, int]:
    with services.sessions() as session:
        return {
            model.__name__: session.scalar(select(func.count()).select_from(model))
            for model in (FormVersion, FormAttachment, Audit)
        }


def blob_files(services: Services) -> set[Path]:
    root = services.settings.resolved_blob_dir
    return {path for path in root.rglob("*") if path.is_file()} if root.exists() else set()


@pytest.mark.parametrize(("change", "named"), [("survey label", "the form definition"), ("media file", "schemes.csv")])
def test_a_changed_form_under_an_unchanged_version_is_refused(
    services: Services, project, collect: Collect, tmp_path: Path, change: str, named: str
) -> None:  # noqa: ANN001
    source = copy_form(tmp_path, "water_survey")
    first = publish(services, project, source)
    listed = form_list(collect)["water_survey"]
    before = stored_rows(services)

    if change == "survey label":
        edit_workbook(source, "survey", "n_users", "label::English (en)", "People who drink this water")
    else:
        schemes = source.parent / "media" / "schemes.csv"
        schemes.write_bytes(schemes.read_bytes() + "150121-03,善友板申村供水站,150121,small\n".encode())
    with pytest.raises(FormVersionConflict) as refused:
        publish(services, project, source)

    message = str(refused.value)
    assert f"water_survey.xlsx: version '{VERSION}' of form 'water_survey' is already published" in message
    assert f"with different content ({named} changed). Change the version in the settings sheet" in message
    assert refused.value.status == 409
    # Nothing was replaced: phones keep getting the version they hold.
    assert stored_rows(services) == before
    assert form_list(collect)["water_survey"] == listed
    assert fetch(collect, listed["downloadUrl"]) == first.version.xml


def test_a_new_version_is_offered_and_the_earlier_one_still_accepts_submissions(
    services: Services, project, collect: Collect, tmp_path: Path
) -> None:  # noqa: ANN001
    source = copy_form(tmp_path, "house_appraisal")
    first = publish(services, project, source)
    edit_workbook(source, "survey", "bays", "label::English (en)", "Number of bays (jian)")
    raise_version(source, "house_appraisal", "2026120101")
    second = publish(services, project, source)
    assert second.created and second.version.id != first.version.id

    listed = form_list(collect)["house_appraisal"]
    assert listed["version"] == "2026120101"
    assert listed["hash"] == "md5:" + hashlib.md5(second.version.xml).hexdigest()
    assert fetch(collect, listed["downloadUrl"]) == compile_xlsform(source, validate=False).xml

    # A phone that has not updated sends the earlier version; an updated one the new version.
    old = instance_xml("house_appraisal", VERSION, "uuid:pub-old", {"struct_type": "brick_timber"})
    new = instance_xml("house_appraisal", "2026120101", "uuid:pub-new", {"struct_type": "brick_timber"})
    assert collect.post(submission_body(old)).status_code == 201
    assert collect.post(submission_body(new)).status_code == 201
    with services.sessions() as session:
        versions = {v.instance_id: (v.form_version_id, v.xml) for v in session.scalars(select(SubmissionVersion))}
    assert versions == {"uuid:pub-old": (first.version.id, old), "uuid:pub-new": (second.version.id, new)}


def test_media_files_are_published_with_the_form_and_listed_with_the_md5_of_the_bytes_served(
    services: Services, project, collect: Collect, tmp_path: Path
) -> None:  # noqa: ANN001
    source = copy_form(tmp_path, "water_survey")
    media = source.parent / "media"
    publish(services, project, source)

    files = manifest(collect, "water_survey")
    # Exactly the files the form names; income_lines.csv lies in the same folder but this form does not use it.
    assert {"admin.csv", "water_limits.csv", "schemes.csv"} <= set(files)
    assert "income_lines.csv" not in files
    for name in ("admin.csv", "water_limits.csv", "schemes.csv"):
        md5, url = files[name]
        served = fetch(collect, url)
        assert served == (media / name).read_bytes()
        assert md5 == "md5:" + hashlib.md5(served).hexdigest()

    # A new version with a changed CSV: phones see a new hash for that file only, and get the new bytes.
    schemes = media / "schemes.csv"
    schemes.write_bytes(schemes.read_bytes() + "150121-03,善友板申村供水站,150121,small\n".encode())
    raise_version(source, "water_survey", "2026120101")
    publish(services, project, source)
    updated = manifest(collect, "water_survey")
    assert updated["admin.csv"][0] == files["admin.csv"][0]
    assert updated["water_limits.csv"][0] == files["water_limits.csv"][0]
    assert updated["schemes.csv"][0] != files["schemes.csv"][0]
    served = fetch(collect, updated["schemes.csv"][1])
    assert served == schemes.read_bytes()
    assert updated["schemes.csv"][0] == "md5:" + hashlib.md5(served).hexdigest()


def test_republishing_identical_content_is_a_no_op(
    services: Services, project, collect: Collect, tmp_path: Path
) -> None:  # noqa: ANN001
    source = copy_form(tmp_path, "income_check")
    first = publish(services, project, source)
    assert first.created
    rows, blobs, listed = stored_rows(services), blob_files(services), form_list(collect)

    again = publish(services, project, source)
    assert not again.created and again.version.id == first.version.id
    assert (stored_rows(services), blob_files(services), form_list(collect)) == (rows, blobs, listed)

    # Publishing the earlier, unchanged source again after a newer version does not roll phones back.
    newer = tmp_path / "newer"
    newer_source = copy_form(newer, "income_check")
    raise_version(newer_source, "income_check", "2026120101")
    publish(services, project, newer_source)
    rows, listed = stored_rows(services), form_list(collect)
    assert not publish(services, project, source).created
    assert (stored_rows(services), form_list(collect)) == (rows, listed)
    assert listed["income_check"]["version"] == "2026120101"


def test_a_missing_media_file_names_the_folders_looked_in(services: Services, project, tmp_path: Path) -> None:  # noqa: ANN001
    """A form published from a folder of its own: the message names that folder's media/, not forms/sources/."""
    source = copy_form(tmp_path, "water_survey")
    (source.parent / "media" / "schemes.csv").unlink()

    with pytest.raises(BadRequest) as refused:
        publish(services, project, source)

    folder = source.parent.resolve()
    assert "schemes.csv" in refused.value.message
    assert refused.value.message.endswith(f"not found in {folder / 'media'}/ or {folder}/")
    assert "forms/sources" not in refused.value.message
    assert stored_rows(services)["FormVersion"] == 0
