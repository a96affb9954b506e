"""Publish compiled forms: a new version per version string, media stored as blobs.

A published version is immutable: phones compare its md5 with what they hold (docs/protocol.md §4.2), so the
same version string with different content is refused instead of silently replacing what is in the field.
Earlier versions stay and keep accepting submissions from phones that have not updated.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from forms.media_files import media_folders
from media.digests import digest_stream
from media.store import BlobStore, blob_key
from sync.db.models import Form, FormAttachment, FormVersion, Project
from sync.errors import BadRequest, FormVersionConflict
from sync.oversight.audit import record

if TYPE_CHECKING:
    from forms.build import CompiledForm

XFORMS_NS = "http://www.w3.org/2002/xforms"


@dataclass(frozen=True)
class PublishResult:
    form: Form
    version: FormVersion
    created: bool


def publish_form(
    session: Session,
    store: BlobStore,
    project: Project,
    compiled: CompiledForm,
    media_files: dict[str, Path],
    *,
    user_id: int | None = None,
) -> PublishResult:
    """Publish ``compiled`` in ``project``; a no-op when the same version is already there unchanged."""
    missing = [name for name in compiled.media if name not in media_files]
    if missing:
        folders = " or ".join(f"{folder.resolve()}/" for folder in media_folders(compiled.source.parent))
        raise BadRequest(
            f"{compiled.source.name}: the form uses media file(s) {', '.join(missing)} "
            f"but they were not found in {folders}"
        )
    media = {name: _digest(media_files[name]) for name in compiled.media}
    form = find_or_add_form(session, project, compiled.form_id)
    existing = published_version(session, form, compiled.version)
    if existing is not None:
        changed = changes(existing, compiled.xml, {name: digest[0] for name, digest in media.items()})
        if not changed:
            return PublishResult(form, existing, created=False)
        raise version_conflict(compiled.source.name, compiled.form_id, compiled.version, changed)
    for name, (sha256, _md5, _size) in media.items():
        store.put_path(blob_key(sha256), media_files[name], content_type=_content_type(name))
    files = [
        MediaFile(name, _content_type(name), sha256, md5, size) for name, (sha256, md5, size) in media.items()
    ]
    version = add_version(
        session,
        form,
        NewVersion(
            version=compiled.version,
            title=compiled.title,
            xml=compiled.xml,
            entity_dataset=compiled.entity_dataset,
            source_name=compiled.source.name,
            media=files,
            entity_lists=compiled.entity_lists,
        ),
        user_id=user_id,
    )
    return PublishResult(form, version, created=True)


@dataclass(frozen=True)
class MediaFile:
    """A stored media file of a version (its blob is in the store), or an entity list (``dataset``)."""

    name: str
    content_type: str
    sha256: str | None
    md5: str | None
    size: int | None
    dataset: str | None = None


@dataclass(frozen=True)
class NewVersion:
    version: str
    title: str
    xml: bytes
    entity_dataset: str | None
    source_name: str | None
    media: list[MediaFile]
    entity_lists: tuple[str, ...] = ()
    source_sha256: str | None = None  # the uploaded spreadsheet's blob
    source_type: str | None = None


def find_or_add_form(session: Session, project: Project, xml_form_id: str) -> Form:
    form = session.scalar(select(Form).where(Form.project_id == project.id, Form.xml_form_id == xml_form_id))
    if form is None:
        form = Form(project_id=project.id, xml_form_id=xml_form_id)
        session.add(form)
        session.flush()
    return form


def published_version(session: Session, form: Form, version: str) -> FormVersion | None:
    return session.scalar(select(FormVersion).where(FormVersion.form_id == form.id, FormVersion.version == version))


def changes(existing: FormVersion, xml: bytes, media: dict[str, str | None]) -> list[str]:
    """What differs between a published version and new content under the same version string."""
    stored_media = {a.name: a.sha256 for a in existing.attachments if a.dataset is None}
    changed = ["the form definition"] if existing.sha256 != hashlib.sha256(xml).hexdigest() else []
    changed += sorted(n for n in stored_media.keys() | media.keys() if stored_media.get(n) != media.get(n))
    return changed


def version_conflict(source_name: str, form_id: str, version: str, changed: list[str]) -> FormVersionConflict:
    # Say what changed: a designer who only edited a CSV should not have to guess why the form is refused.
    return FormVersionConflict(
        f"{source_name}: version {version!r} of form {form_id!r} is already published with different content "
        f"({', '.join(changed)} changed). Change the version in the settings sheet and publish again."
    )


def add_version(session: Session, form: Form, new: NewVersion, *, user_id: int | None = None) -> FormVersion:
    """Add ``new`` as the form's current version (its media blobs are already in the store)."""
    version = FormVersion(
        form_id=form.id,
        version=new.version,
        title=new.title,
        **definition_columns(
            new.xml,
            entity_dataset=new.entity_dataset,
            source_name=new.source_name,
            source_sha256=new.source_sha256,
            source_type=new.source_type,
        ),
    )
    session.add(version)
    session.flush()
    for media in new.media:
        session.add(
            FormAttachment(
                form_version_id=version.id,
                name=media.name,
                content_type=media.content_type,
                sha256=media.sha256,
                md5=media.md5,
                size=media.size,
                dataset=media.dataset,
            )
        )
    for dataset in new.entity_lists:
        session.add(
            FormAttachment(
                form_version_id=version.id, name=f"{dataset}.csv", content_type="text/csv", dataset=dataset
            )
        )
    form.current_version_id = version.id
    session.flush()
    record(
        session,
        "form.publish",
        subject=form.xml_form_id,
        details={"version": new.version, "md5": version.md5, "project_id": form.project_id},
        user_id=user_id,
    )
    return version


DEFINITION_COLUMNS = ("xml", "md5", "sha256", "binary_paths", "entity_dataset", "source_name", "source_sha256",
                      "source_type")


def definition_columns(
    xml: bytes,
    *,
    entity_dataset: str | None,
    source_name: str | None,
    source_sha256: str | None = None,
    source_type: str | None = None,
) -> dict[str, object]:
    """The columns a published version and a draft (``form_versions``, ``form_drafts``) hold about their XForm:
    the bytes, the hashes phones compare, the binary fields, the entity list it writes, where it came from."""
    return {
        "xml": xml,
        "md5": hashlib.md5(xml).hexdigest(),
        "sha256": hashlib.sha256(xml).hexdigest(),
        "binary_paths": binary_paths(xml),
        "entity_dataset": entity_dataset,
        "source_name": source_name,
        "source_sha256": source_sha256,
        "source_type": source_type,
    }


def copied_definition(row: FormVersion) -> dict[str, object]:
    """``definition_columns`` of a stored version, to start a draft from (Central's draft of the current one)."""
    columns = {name: getattr(row, name) for name in DEFINITION_COLUMNS}
    columns["binary_paths"] = list(row.binary_paths)
    return columns


def binary_paths(xml: bytes) -> list[str]:
    """Nodesets of ``<bind type="binary">``: the fields whose values name attached files."""
    root = etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    return [
        bind.get("nodeset")
        for bind in root.iter(f"{{{XFORMS_NS}}}bind")
        if bind.get("type") == "binary" and bind.get("nodeset")
    ]


def set_form_state(session: Session, form: Form, state: str, *, user_id: int | None = None) -> None:
    if state not in ("open", "closing", "closed"):
        raise BadRequest(f"Unknown form state {state!r}; use open, closing or closed.")
    form.state = state
    record(session, "form.update.state", subject=form.xml_form_id, details={"state": state}, user_id=user_id)


def _digest(path: Path) -> tuple[str, str, int]:
    with path.open("rb") as handle:
        digest = digest_stream(handle)
    return digest.sha256, digest.md5, digest.size


def content_type_of(name: str) -> str:
    """The type a media file is stored with: from its name, as Central does when none is declared."""
    return _content_type(name)


def _content_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def publish_source(
    session: Session,
    store: BlobStore,
    project: Project,
    source: Path,
    *,
    user_id: int | None = None,
) -> PublishResult:
    """Compile an XLSForm and publish it; ODK Validate runs only when the content is new.

    Start-up publishes every source on each start, so re-validating unchanged forms (a JVM per form)
    would only slow the start: an identical published version is recognised by its hash first.
    """
    from forms.build import compile_xlsform, media_file
    from sync.intake.form_checks import check_form, folder_columns

    compiled = compile_xlsform(source, validate=False)
    check_form(compiled, folder_columns(source.parent))
    form = session.scalar(
        select(Form).where(Form.project_id == project.id, Form.xml_form_id == compiled.form_id)
    )
    existing = None
    if form is not None:
        existing = session.scalar(
            select(FormVersion).where(FormVersion.form_id == form.id, FormVersion.version == compiled.version)
        )
    if existing is None or existing.sha256 != hashlib.sha256(compiled.xml).hexdigest():
        compiled = compile_xlsform(source, validate=True)
    media_files = {}
    for name in compiled.media:
        path = media_file(name, source.parent)
        if path is not None:
            media_files[name] = path
    return publish_form(session, store, project, compiled, media_files, user_id=user_id)
