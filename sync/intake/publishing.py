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
    xml_sha256 = hashlib.sha256(compiled.xml).hexdigest()
    media = {name: _digest(media_files[name]) for name in compiled.media}

    form = session.scalar(
        select(Form).where(Form.project_id == project.id, Form.xml_form_id == compiled.form_id)
    )
    if form is None:
        form = Form(project_id=project.id, xml_form_id=compiled.form_id)
        session.add(form)
        session.flush()
    existing = session.scalar(
        select(FormVersion).where(FormVersion.form_id == form.id, FormVersion.version == compiled.version)
    )
    if existing is not None:
        stored_media = {a.name: a.sha256 for a in existing.attachments if a.dataset is None}
        new_media = {name: digest[0] for name, digest in media.items()}
        changed = ["the form definition"] if existing.sha256 != xml_sha256 else []
        changed += sorted(n for n in stored_media.keys() | new_media.keys() if stored_media.get(n) != new_media.get(n))
        if not changed:
            return PublishResult(form, existing, created=False)
        # Say what changed: a designer who only edited a CSV should not have to guess why the form is refused.
        raise FormVersionConflict(
            f"{compiled.source.name}: version {compiled.version!r} of form {compiled.form_id!r} is already "
            f"published with different content ({', '.join(changed)} changed). Change the version in the "
            "settings sheet and publish again."
        )

    version = FormVersion(
        form_id=form.id,
        version=compiled.version,
        title=compiled.title,
        xml=compiled.xml,
        md5=hashlib.md5(compiled.xml).hexdigest(),
        sha256=xml_sha256,
        binary_paths=binary_paths(compiled.xml),
        entity_dataset=compiled.entity_dataset,
        source_name=compiled.source.name,
    )
    session.add(version)
    session.flush()
    for name, (sha256, md5, size) in media.items():
        store.put_path(blob_key(sha256), media_files[name], content_type=_content_type(name))
        session.add(
            FormAttachment(
                form_version_id=version.id,
                name=name,
                content_type=_content_type(name),
                sha256=sha256,
                md5=md5,
                size=size,
            )
        )
    for dataset in compiled.entity_lists:
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
        subject=compiled.form_id,
        details={"version": compiled.version, "md5": version.md5, "project_id": project.id},
        user_id=user_id,
    )
    return PublishResult(form, version, created=True)


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
