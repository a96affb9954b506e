"""An uploaded form definition (XLSX, XLS or XForm XML, as Central accepts them) compiled and checked.

The body has been spooled to a file by the HTTP layer; here it is compiled exactly as the CLI compiles a
source (pyxform, ODK Validate, our checks), so the API refuses what the CLI refuses, with the same
problems (docs/forms.md §8, §9).
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from forms.build import CompiledForm, FormBuildError, compile_xlsform
from media.store import BlobStore, blob_key
from sync.db.models import Form, FormDraft, FormVersion
from sync.errors import BadRequest
from sync.intake.form_checks import check_form, csv_header
from sync.intake.form_problems import invalid, warned

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLS_TYPE = "application/vnd.ms-excel"
SPREADSHEETS = {XLSX_TYPE: ".xlsx", XLS_TYPE: ".xls"}
_SAFE_ID = re.compile(r"[^\w.\-]+")


@dataclass(frozen=True)
class FormUpload:
    """The request body on disk, with what the request said about it."""

    path: Path
    content_type: str
    fallback_id: str | None = None  # X-XlsForm-FormId-Fallback: the id when the settings sheet has none
    ignore_warnings: bool = False

    @property
    def spreadsheet(self) -> bool:
        return self.content_type in SPREADSHEETS


def compile_upload(session: Session, project_id: int, upload: FormUpload, tmp_dir: Path) -> CompiledForm:
    """Compile and check ``upload``; raise Central's 400.15 (errors) or 400.16 (warnings not accepted)."""
    suffix = SPREADSHEETS.get(upload.content_type, ".xml")
    _check_spreadsheet(upload.path, suffix)
    # pyxform takes a form's id from its file name when the settings sheet has none; Central's fallback
    # header says what that name should be.
    stem = _SAFE_ID.sub("_", upload.fallback_id or "")[:100].strip("._") or "form"
    with tempfile.TemporaryDirectory(prefix="qingling-upload-", dir=tmp_dir) as folder:
        source = Path(folder) / f"{stem}{suffix}"
        shutil.copyfile(upload.path, source)
        try:
            compiled = compile_xlsform(source)
            compiled = _with_entity_lists(compiled, _known_lists(session, project_id))
            check_form(compiled, lambda _name: None)
        except FormBuildError as exc:
            raise invalid(exc) from exc
    if re.search(r"\.(xlsx?|xml)$", compiled.form_id):
        raise BadRequest(
            f"Unexpected formId value {compiled.form_id}; The Form ID cannot end in .xls, .xlsx, or .xml. Please "
            "either specify an allowed ID in the form itself, or rename the file (eg change form.xls.xls to form.xls).",
        )
    if compiled.problems and not upload.ignore_warnings:
        raise warned(compiled)
    return compiled


def _check_spreadsheet(path: Path, suffix: str) -> None:
    """A body sent as a workbook must be one: an XLSX is a ZIP archive, an XLS an OLE2 compound file."""
    import zipfile

    with path.open("rb") as handle:
        head = handle.read(8)
    if suffix == ".xlsx" and not zipfile.is_zipfile(path):
        raise invalid(FormBuildError(None, "The body was sent as an XLSX workbook but is not one (not a ZIP archive)."))
    if suffix == ".xls" and head != b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise invalid(FormBuildError(None, "The body was sent as an XLS workbook but is not one."))


def _known_lists(session: Session, project_id: int) -> set[str]:
    """Entity lists some form of the project writes: a CSV of that name is the server's list, not media."""
    rows = session.scalars(
        select(FormVersion.entity_dataset)
        .join(Form, Form.id == FormVersion.form_id)
        .where(Form.project_id == project_id, FormVersion.entity_dataset.is_not(None))
        .distinct()
    )
    return {name for name in rows if name}


def _with_entity_lists(compiled: CompiledForm, lists: set[str]) -> CompiledForm:
    stems = {name: name[: -len(".csv")] for name in compiled.media if name.endswith(".csv")}
    read = tuple(stem for name, stem in stems.items() if stem in lists)
    if not read:
        return compiled
    return dataclasses.replace(
        compiled,
        media=tuple(name for name in compiled.media if stems.get(name) not in read),
        entity_lists=compiled.entity_lists + tuple(s for s in read if s not in compiled.entity_lists),
    )


def check_draft_media(store: BlobStore, draft: FormDraft, tmp_dir: Path) -> None:
    """Our checks again once the draft's media are uploaded: every column a lookup names must be in its CSV.

    At upload time the CSVs are not there yet; at publish they are, so the spreadsheet the draft came
    from is read again with them (400.15 with the rows, as on upload). An XForm upload has no sheet.
    """
    if draft.source_sha256 is None or draft.source_type not in SPREADSHEETS:
        return
    headers = {a.name: a.sha256 for a in draft.attachments if a.sha256 is not None and a.name.endswith(".csv")}

    def columns(name: str) -> tuple[str, ...] | None:
        sha256 = headers.get(name)
        if sha256 is None:
            return None
        with store.open(blob_key(sha256)) as handle:
            return csv_header(handle.read(65536))

    with tempfile.TemporaryDirectory(prefix="qingling-draft-", dir=tmp_dir) as folder:
        source = Path(folder) / (draft.source_name or f"form{SPREADSHEETS[draft.source_type]}")
        with store.open(blob_key(draft.source_sha256)) as handle, source.open("wb") as out:
            shutil.copyfileobj(handle, out)
        try:
            compiled = compile_xlsform(source, validate=False)
            lists = tuple(a.dataset for a in draft.attachments if a.dataset is not None)
            compiled = dataclasses.replace(
                compiled,
                media=tuple(n for n in compiled.media if n[: -len(".csv")] not in lists),
                entity_lists=lists,
            )
            check_form(compiled, columns)
        except FormBuildError as exc:
            raise invalid(exc) from exc
