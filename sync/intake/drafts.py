"""Form drafts as Central has them: upload a definition, add its media, try it on a test phone, publish.

A draft is one per form (``form_drafts``). Creating a form through the API makes a form with a draft and
no published version; ``publish`` turns the draft into a new ``form_versions`` row with the same rules as
the CLI (a version string is never reused with different content, docs/forms.md §1), and the earlier
version keeps accepting submissions. Publishing or deleting a draft discards its test submissions.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from lxml import etree
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from forms.build import CompiledForm
from media.digests import digest_stream
from media.store import BlobStore, blob_key
from sync.db.models import DraftSubmission, Form, FormDraft, FormDraftAttachment, FormVersion, Project, utcnow
from sync.errors import BadRequest, FormVersionConflict, NotFound, Problem
from sync.intake.publishing import (
    MediaFile,
    NewVersion,
    add_version,
    changes,
    content_type_of,
    copied_definition,
    definition_columns,
    published_version,
    version_conflict,
)
from sync.oversight.audit import record

XFORMS = "http://www.w3.org/2002/xforms"


class FormExists(Problem):
    code = "409.3"
    default_message = "A resource already exists with these identifiers."


class DraftConflict(FormExists):
    """Two requests set a draft of one form at the same moment: the unique draft per form lets one win."""


class NoPublishedVersion(Problem):
    code = "409.7"
    default_message = (
        "Could not delete draft, because the form has not been published. Either delete the whole form, or "
        "replace the draft."
    )


class MediaMissing(Problem):
    """Central's "missing parameter": a draft is not published while a media file it names is missing."""

    code = "400.2"


@dataclass(frozen=True)
class Spreadsheet:
    """The uploaded XLSX or XLS, kept so ``GET .../forms/<id>.xlsx`` returns what the designer sent."""

    path: Path
    content_type: str


def create_form(
    session: Session,
    store: BlobStore,
    project: Project,
    compiled: CompiledForm,
    spreadsheet: Spreadsheet | None,
    *,
    publish: bool = False,
    user_id: int | None = None,
    tmp_dir: Path | None = None,
) -> Form:
    """A new form holding ``compiled`` as its draft (Central's ``POST /forms``); 409.3 if the id is taken."""
    if session.scalar(select(Form).where(Form.project_id == project.id, Form.xml_form_id == compiled.form_id)):
        raise FormExists(
            f"A resource already exists with xmlFormId,projectId value(s) of {compiled.form_id},{project.id}."
        )
    form = Form(project_id=project.id, xml_form_id=compiled.form_id)
    _insert(session, form, FormExists(
        f"A resource already exists with xmlFormId,projectId value(s) of {compiled.form_id},{project.id}."
    ))
    _new_draft(session, store, form, compiled, spreadsheet, user_id=user_id)
    if publish:
        publish_draft(session, store, form, user_id=user_id, tmp_dir=tmp_dir)
    return form


def replace_draft(
    session: Session,
    store: BlobStore,
    form: Form,
    compiled: CompiledForm | None,
    spreadsheet: Spreadsheet | None,
    *,
    user_id: int | None = None,
) -> FormDraft:
    """A new draft for ``form``: ``compiled``, or (None) a copy of the published version to change media on.

    Media files of the published version whose names the new draft still uses are carried over, so a
    designer uploads only what changed (Central does the same).
    """
    if compiled is not None and compiled.form_id != form.xml_form_id:
        raise BadRequest(
            f"Unexpected xmlFormId value {compiled.form_id}; it must match the form's id ({form.xml_form_id})."
        )
    current = session.get(FormVersion, form.current_version_id) if form.current_version_id else None
    if compiled is None and current is None:
        raise BadRequest("The form has no published version to copy; upload a form definition.")
    _discard_draft(session, form)
    if compiled is None:
        assert current is not None
        return _copy_of(session, form, current, user_id=user_id)
    return _new_draft(session, store, form, compiled, spreadsheet, user_id=user_id)


def upload_draft(
    session: Session,
    store: BlobStore,
    project: Project,
    compiled: CompiledForm,
    spreadsheet: Spreadsheet | None,
    *,
    user_id: int | None = None,
) -> Form:
    """The upload page's one step: a new form with this draft, or a new draft of the form with its id."""
    form = session.scalar(select(Form).where(Form.project_id == project.id, Form.xml_form_id == compiled.form_id))
    if form is None:
        return create_form(session, store, project, compiled, spreadsheet, user_id=user_id)
    replace_draft(session, store, form, compiled, spreadsheet, user_id=user_id)
    return form


def project_drafts(session: Session, project_id: int) -> list[tuple[Form, FormDraft]]:
    """The drafts of a project's forms, by form id (the upload page lists them to carry on with)."""
    rows = session.execute(
        select(Form, FormDraft).join(FormDraft, FormDraft.form_id == Form.id)
        .where(Form.project_id == project_id).order_by(Form.xml_form_id)
    )
    return [(form, draft) for form, draft in rows]


def get_draft(session: Session, form: Form) -> FormDraft:
    draft = session.scalar(select(FormDraft).where(FormDraft.form_id == form.id))
    if draft is None:
        raise NotFound(f"The form '{form.xml_form_id}' has no draft.")
    return draft


def draft_attachment(session: Session, draft: FormDraft, name: str) -> FormDraftAttachment:
    found = session.scalar(
        select(FormDraftAttachment).where(FormDraftAttachment.draft_id == draft.id, FormDraftAttachment.name == name)
    )
    if found is None:
        raise NotFound(f"The draft does not use a media file named '{name}'.")
    return found


def put_draft_attachment(
    session: Session,
    store: BlobStore,
    draft: FormDraft,
    name: str,
    body: BinaryIO,
    spool: Path,
    content_type: str | None,
) -> FormDraftAttachment:
    """Store the bytes of one media file the draft names (read from ``body``, copied to ``spool``)."""
    attachment = draft_attachment(session, draft, name)
    if attachment.dataset is not None:
        raise BadRequest(f"{name} is the server's entity list '{attachment.dataset}'; it cannot be uploaded.")
    with spool.open("wb") as copy:
        digest = digest_stream(body, copy_to=copy)
    kind = content_type or content_type_of(name)
    store.put_path(blob_key(digest.sha256), spool, content_type=kind)
    attachment.sha256, attachment.md5, attachment.size = digest.sha256, digest.md5, digest.size
    attachment.content_type = kind[:100]
    attachment.updated_at = utcnow()
    session.flush()
    return attachment


def publish_draft(
    session: Session,
    store: BlobStore,
    form: Form,
    *,
    version: str | None = None,
    user_id: int | None = None,
    tmp_dir: Path | None = None,
) -> FormVersion:
    """Publish the draft (optionally under a new ``version``, written into its XML as Central does).

    With ``tmp_dir``, the draft's spreadsheet is checked again against its uploaded CSVs first
    (sync.intake.form_upload.check_draft_media).
    """
    draft = get_draft(session, form)
    if version is not None and version != draft.version:
        _set_version(draft, version)
    missing = [a.name for a in draft.attachments if a.dataset is None and a.sha256 is None]
    if missing:
        raise MediaMissing(
            f"Required parameter media file(s) {', '.join(missing)} missing: upload them to the draft "
            f"(POST .../draft/attachments/<name>) before publishing."
        )
    if tmp_dir is not None:
        from sync.intake.form_upload import check_draft_media

        check_draft_media(store, draft, tmp_dir)
    media = [
        MediaFile(a.name, a.content_type, a.sha256, a.md5, a.size) for a in draft.attachments if a.dataset is None
    ]
    existing = published_version(session, form, draft.version)
    if existing is not None:
        changed = changes(existing, draft.xml, {m.name: m.sha256 for m in media})
        name = draft.source_name or form.xml_form_id
        if changed:
            raise version_conflict(name, form.xml_form_id, draft.version, changed)
        raise FormVersionConflict(
            f"You tried to publish the form '{form.xml_form_id}' with version '{draft.version}', but a published "
            "form has already existed in this project with those identifiers. Please choose a new name and try "
            "again. You can re-request with ?version=xyz to have the version changed in-place for you."
        )
    published = add_version(
        session,
        form,
        NewVersion(
            version=draft.version,
            title=draft.title,
            xml=draft.xml,
            entity_dataset=draft.entity_dataset,
            source_name=draft.source_name,
            media=media,
            entity_lists=tuple(a.dataset for a in draft.attachments if a.dataset is not None),
            source_sha256=draft.source_sha256,
            source_type=draft.source_type,
        ),
        user_id=user_id,
    )
    _discard_draft(session, form)
    return published


def delete_draft(session: Session, form: Form, *, user_id: int | None = None) -> None:
    """Central's ``DELETE .../draft``: only a published form's draft may go (else 409.7)."""
    if form.current_version_id is None:
        raise NoPublishedVersion()
    get_draft(session, form)
    _discard_draft(session, form)
    record(session, "form.update.draft.delete", subject=form.xml_form_id, user_id=user_id)


def _new_draft(
    session: Session,
    store: BlobStore,
    form: Form,
    compiled: CompiledForm,
    spreadsheet: Spreadsheet | None,
    *,
    user_id: int | None,
) -> FormDraft:
    source_sha256 = source_type = None
    if spreadsheet is not None:
        with spreadsheet.path.open("rb") as handle:
            source_sha256 = digest_stream(handle).sha256
        store.put_path(blob_key(source_sha256), spreadsheet.path, content_type=spreadsheet.content_type)
        source_type = spreadsheet.content_type
    draft = FormDraft(
        form_id=form.id,
        version=compiled.version,
        title=compiled.title,
        draft_token=secrets.token_urlsafe(48),
        **definition_columns(
            compiled.xml,
            entity_dataset=compiled.entity_dataset,
            source_name=compiled.source.name,
            source_sha256=source_sha256,
            source_type=source_type,
        ),
    )
    current = session.get(FormVersion, form.current_version_id) if form.current_version_id else None
    carried = {a.name: a for a in current.attachments if a.dataset is None} if current else {}
    for name in compiled.media:
        old = carried.get(name)
        draft.attachments.append(
            FormDraftAttachment(
                name=name,
                content_type=old.content_type if old else content_type_of(name),
                sha256=old.sha256 if old else None,
                md5=old.md5 if old else None,
                size=old.size if old else None,
            )
        )
    for dataset in compiled.entity_lists:
        draft.attachments.append(FormDraftAttachment(name=f"{dataset}.csv", content_type="text/csv", dataset=dataset))
    _insert(session, draft, _draft_conflict(form))
    record(
        session,
        "form.update.draft.set",
        subject=form.xml_form_id,
        details={"version": draft.version, "md5": draft.md5},
        user_id=user_id,
    )
    return draft


def _copy_of(session: Session, form: Form, current: FormVersion, *, user_id: int | None) -> FormDraft:
    draft = FormDraft(
        form_id=form.id,
        version=current.version,
        title=current.title,
        draft_token=secrets.token_urlsafe(48),
        **copied_definition(current),
    )
    for a in current.attachments:
        draft.attachments.append(
            FormDraftAttachment(
                name=a.name, content_type=a.content_type, sha256=a.sha256, md5=a.md5, size=a.size, dataset=a.dataset
            )
        )
    _insert(session, draft, _draft_conflict(form))
    record(session, "form.update.draft.set", subject=form.xml_form_id, details={"copy_of": current.version},
           user_id=user_id)
    return draft


def _insert(session: Session, row: Form | FormDraft, conflict: Problem) -> None:
    """Add ``row``; a unique constraint another request's row won (two uploads at once, PostgreSQL) is
    ``conflict``, Central's 409, rather than a 500. SQLite runs one writer at a time, so there the second
    request waits and then replaces the first one's draft."""
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:
        raise conflict from exc


def _draft_conflict(form: Form) -> DraftConflict:
    return DraftConflict(
        f"Another request set a draft of the form '{form.xml_form_id}' at the same moment; look at the draft "
        "and send yours again if it is not the one you wanted."
    )


def _discard_draft(session: Session, form: Form) -> None:
    """Remove the form's draft with its media rows and test submissions (the blobs stay: shared by hash)."""
    draft_id = session.scalar(select(FormDraft.id).where(FormDraft.form_id == form.id))
    if draft_id is None:
        return
    # Statements rather than the ORM's delete: a concurrent request that removed the same draft first
    # (PostgreSQL) leaves these matching nothing, and the new draft's insert then says 409 (_insert).
    session.execute(delete(DraftSubmission).where(DraftSubmission.draft_id == draft_id))
    session.execute(delete(FormDraftAttachment).where(FormDraftAttachment.draft_id == draft_id))
    session.execute(delete(FormDraft).where(FormDraft.id == draft_id))
    session.flush()


def _set_version(draft: FormDraft, version: str) -> None:
    """Write ``version`` into the draft's XForm (the primary instance's root), as ``?version=`` asks."""
    if not version or len(version) > 100 or any(ch.isspace() or ord(ch) < 32 for ch in version):
        raise BadRequest(f"Unexpected version value {version!r}; use letters, digits, '.', '-' and '_'.")
    root = etree.fromstring(draft.xml, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    instance = root.find(f".//{{{XFORMS}}}model/{{{XFORMS}}}instance")
    if instance is None or len(instance) == 0:
        raise BadRequest("The draft's XForm has no primary instance to set the version on.")
    instance[0].set("version", version)
    columns = definition_columns(
        etree.tostring(root, xml_declaration=True, encoding="utf-8"),
        entity_dataset=draft.entity_dataset,
        source_name=draft.source_name,
        source_sha256=draft.source_sha256,
        source_type=draft.source_type,
    )
    for name, value in columns.items():
        setattr(draft, name, value)
    draft.version = version
