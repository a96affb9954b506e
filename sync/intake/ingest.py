"""Receive a submission: photos into the blob store first, then the rows, in one transaction.

*Why blobs first:* a blob without a row is garbage a sweep can delete, but a row pointing at a missing
blob is a lost photo. The caller commits once; a 201 is sent only after that commit (docs/protocol.md §7.5).

The cases follow ODK Central (docs/protocol.md §7.6, 7.7): a new instanceID creates a submission; the same
instanceID with identical XML is an attachment upsert (how Collect sends big submissions in parts and
retries); different XML is a 409; a deprecatedID makes a new version of the submission it names.

One module because the cases share one transaction and one decision: which case applies decides which rows
are written, and the new-instance hot path (Core INSERTs) and the ORM path of edits and resends write the
same rows.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import and_, bindparam, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from media.store import BlobStore, StoreUnavailable, blob_key
from sync.db.models import Form, FormVersion, Submission, SubmissionAttachment, SubmissionVersion, utcnow
from sync.errors import (
    BadAttachmentName,
    DeprecatedNotFound,
    EditOutOfDate,
    FormClosed,
    FormVersionNotFound,
    NotFound,
    StorageUnavailable,
    SubmissionConflict,
    ValueTooLong,
)
from sync.exports.copies import copies_of
from sync.intake.instance_xml import InstanceHeader, parse_instance, read_header, values_at
from sync.job_kinds import NORMALIZE, PHOTOS
from sync.jobs.queue import enqueue_now
from sync.oversight.audit import record_now

log = logging.getLogger(__name__)

# A plain file name: no folders, no parent references, no control characters (path tricks are refused).
_PLAIN_NAME = re.compile(r"^(?!\.{1,2}$)[^/\\\x00-\x1f]{1,255}$")


@dataclass
class UploadedFile:
    """One attachment part, already spooled by the HTTP layer with its digests computed on the way in."""

    name: str
    content_type: str | None
    sha256: str
    md5: str
    size: int
    path: Path | None = None
    data: bytes | None = None


@dataclass
class Envelope:
    """Everything a submission POST carries, as plain values (no HTTP objects)."""

    project_id: int
    xml: bytes
    files: list[UploadedFile] = field(default_factory=list)
    device_id: str | None = None
    user_agent: str | None = None
    user_id: int | None = None
    app_user_id: int | None = None


@dataclass(frozen=True)
class Receipt:
    submission_id: int
    version_id: int
    instance_id: str
    form_id: str
    created: bool
    missing_attachments: tuple[str, ...]


def submit(factory: sessionmaker[Session], store: BlobStore, envelope: Envelope) -> Receipt:
    """Receive ``envelope`` in its own transaction; retried once when a concurrent request won a race.

    Two phones (or two app processes) sending the same instance at the same moment both try to insert;
    the unique constraint lets exactly one win and the loser, retried, finds an identical resend.
    """
    for attempt in (1, 2, 3):
        session = factory()
        try:
            receipt = receive_submission(session, store, envelope)
            session.commit()
            return receipt
        except (IntegrityError, OperationalError) as exc:
            session.rollback()
            if attempt == 3 or (isinstance(exc, OperationalError) and not _is_transient(exc)):
                raise
            log.info("retrying submission after a concurrent write: %s", exc.orig)
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
    raise AssertionError("unreachable")


def receive_submission(session: Session, store: BlobStore, envelope: Envelope) -> Receipt:
    """Decide the case, store blobs, add rows and flush. The caller commits."""
    root = parse_instance(envelope.xml)
    header = read_header(root)
    _check_lengths(header, envelope)
    found = session.execute(
        _FORM_AND_VERSION, {"project_id": envelope.project_id, "form_id": header.form_id, "version": header.version}
    ).first()
    if found is None:
        raise NotFound(f"Could not find the form '{header.form_id}' in this project. Is it published?")
    form, form_version = found
    if form.state == "closed":
        raise FormClosed()
    if form_version is None:
        raise FormVersionNotFound(
            f"The form version specified in this submission '{header.version}' does not exist."
        )
    expected = _expected_names(root, form_version)
    xml_sha256 = hashlib.sha256(envelope.xml).hexdigest()

    if header.deprecated_id:
        # Copies of one edit sent at once (a resend while the first POST is still running, maybe to another
        # process) queue here on the row they edit; the later copy then finds the earlier one's version just
        # below and is an identical resend (201), not an out-of-date edit (409). SQLite's BEGIN IMMEDIATE
        # already serializes writers there.
        _lock_instance(session, form, header.deprecated_id)
    existing = session.scalar(_VERSION_OF_INSTANCE, {"form_id": form.id, "instance_id": header.instance_id})
    if existing is not None:
        if existing.xml_sha256 != xml_sha256:
            raise SubmissionConflict()
        if not existing.current:
            raise EditOutOfDate()
        version, created = existing, False
    elif header.deprecated_id:
        version = _new_edit(session, form, form_version, header, envelope, xml_sha256)
        created = True
    else:
        version = _new_submission(session, form, form_version, header, envelope, xml_sha256)
        created = True

    stored_before = {(a.name, a.sha256) for a in version.attachments if a.present}
    _store_attachments(session, store, version, expected, envelope.files)
    stored_now = {(a.name, a.sha256) for a in version.attachments if a.present}
    if created:
        enqueue_now(session, NORMALIZE, version.id)  # the photo checks follow it (sync/job_kinds.py)
    elif stored_now - stored_before:
        enqueue_now(session, PHOTOS, version.id)  # a later request filled in a file
    session.flush()
    missing = tuple(a.name for a in version.attachments if not a.present)
    record_now(
        session,
        "submission.create" if created else "submission.attachment.update",
        subject=header.instance_id,
        details={"form": header.form_id, "version": header.version, "missing": list(missing)},
        user_id=envelope.user_id,
        app_user_id=envelope.app_user_id,
    )
    return Receipt(
        submission_id=version.submission_id,
        version_id=version.id,
        instance_id=header.instance_id,
        form_id=header.form_id,
        created=created,
        missing_attachments=missing,
    )


# Built once: the statements every submission runs (bound parameters, compiled once by SQLAlchemy's cache).
_FORM_AND_VERSION = (
    select(Form, FormVersion)
    .outerjoin(FormVersion, and_(FormVersion.form_id == Form.id, FormVersion.version == bindparam("version")))
    .where(Form.project_id == bindparam("project_id"), Form.xml_form_id == bindparam("form_id"))
)
_VERSION_OF_INSTANCE = select(SubmissionVersion).where(
    SubmissionVersion.form_id == bindparam("form_id"), SubmissionVersion.instance_id == bindparam("instance_id")
)
_INSERT_SUBMISSION = insert(Submission.__table__)
_INSERT_VERSION = insert(SubmissionVersion.__table__)


def _check_lengths(header: InstanceHeader, envelope: Envelope) -> None:
    """Values longer than their columns are refused here: PostgreSQL would fail the insert, SQLite store them."""
    for label, value, column in (
        ("instanceID", header.instance_id, SubmissionVersion.instance_id),
        ("deprecatedID", header.deprecated_id, SubmissionVersion.deprecated_id),
        ("instanceName", header.instance_name, SubmissionVersion.instance_name),
        ("deviceID", envelope.device_id, SubmissionVersion.device_id),
    ):
        limit = column.type.length
        if value is not None and len(value) > limit:
            raise ValueTooLong(
                f"The submission's {label} is {len(value):,} characters long; at most {limit} are accepted."
            )


def check_attachment_name(name: str) -> None:
    if not _PLAIN_NAME.match(name or "") or name.strip() != name:
        raise BadAttachmentName(
            f"The attachment name {name!r} is not a plain file name (folders and special characters are refused)."
        )


def _expected_names(root, form_version: FormVersion) -> list[str]:  # noqa: ANN001 - ElementTree element
    names: list[str] = []
    for path in form_version.binary_paths:
        for value in values_at(root, path):
            # The XML naming a file with a folder in it is the same path trick as such a part name.
            check_attachment_name(value)
            if value not in names:
                names.append(value)
    return names


@dataclass
class _NewVersion:
    """A version just inserted with Core (no ORM object): what the rest of ``receive_submission`` reads."""

    id: int
    submission_id: int
    attachments: list[SubmissionAttachment] = field(default_factory=list)


def _new_submission(
    session: Session,
    form: Form,
    form_version: FormVersion,
    header: InstanceHeader,
    envelope: Envelope,
    xml_sha256: str,
) -> _NewVersion:
    """A new instance: its submission and first version as two INSERTs (the hot path of every phone)."""
    now = utcnow()
    submission_id = session.execute(
        _INSERT_SUBMISSION,
        {
            "form_id": form.id,
            "instance_id": header.instance_id,
            "submitter_user_id": envelope.user_id,
            "submitter_app_user_id": envelope.app_user_id,
            "created_at": now,
        },
    ).inserted_primary_key[0]
    values = _version_values(submission_id, form.id, form_version, header, envelope, xml_sha256)
    version_id = session.execute(_INSERT_VERSION, values | {"created_at": now}).inserted_primary_key[0]
    return _NewVersion(id=version_id, submission_id=submission_id)


def _lock_instance(session: Session, form: Form, instance_id: str) -> None:
    session.execute(
        select(SubmissionVersion.id)
        .where(SubmissionVersion.form_id == form.id, SubmissionVersion.instance_id == instance_id)
        .with_for_update()
    )


def _new_edit(
    session: Session,
    form: Form,
    form_version: FormVersion,
    header: InstanceHeader,
    envelope: Envelope,
    xml_sha256: str,
) -> SubmissionVersion:
    previous = session.scalar(
        select(SubmissionVersion)
        .where(SubmissionVersion.form_id == form.id, SubmissionVersion.instance_id == header.deprecated_id)
        .with_for_update()
    )
    if previous is None:
        raise DeprecatedNotFound(
            "You tried to update an existing submission, but we can't find that submission to update "
            f"({header.deprecated_id})."
        )
    if not previous.current:
        raise EditOutOfDate(
            f"You tried to update a submission, but the copy you were editing ({header.deprecated_id}) "
            "is now out of date. Please get the new version that has been submitted, and make your edits again."
        )
    previous.current = False
    submission = previous.submission
    submission.review_state = "edited"
    submission.updated_at = utcnow()
    version = _add_version(session, submission, form_version, header, envelope, xml_sha256)
    # Files of the earlier version that the edit still names are carried over; files sent now replace them.
    for old in previous.attachments:
        if old.present:
            session.add(
                SubmissionAttachment(
                    submission_version_id=version.id,
                    name=old.name,
                    content_type=old.content_type,
                    size=old.size,
                    sha256=old.sha256,
                    md5=old.md5,
                    blob_key=old.blob_key,
                    present=True,
                    received_at=old.received_at,
                )
            )
    session.flush()
    session.refresh(version, ["attachments"])
    return version


def _add_version(
    session: Session,
    submission: Submission,
    form_version: FormVersion,
    header: InstanceHeader,
    envelope: Envelope,
    xml_sha256: str,
) -> SubmissionVersion:
    values = _version_values(submission.id, submission.form_id, form_version, header, envelope, xml_sha256)
    version = SubmissionVersion(
        submission=submission,
        **values,
        attachments=[],  # a new version has none yet: known, so not loaded with a query
    )
    session.add(version)
    session.flush()
    return version


def _version_values(
    submission_id: int,
    form_id: int,
    form_version: FormVersion,
    header: InstanceHeader,
    envelope: Envelope,
    xml_sha256: str,
) -> dict:
    return {
        "submission_id": submission_id,
        "form_id": form_id,
        "form_version_id": form_version.id,
        "instance_id": header.instance_id,
        "deprecated_id": header.deprecated_id,
        "instance_name": header.instance_name,
        "current": True,
        "xml": envelope.xml,
        "xml_sha256": xml_sha256,
        **copies_of(form_version.xml, envelope.xml, header.instance_id),  # the exports' flat and texts
        "submitter_user_id": envelope.user_id,
        "submitter_app_user_id": envelope.app_user_id,
        "device_id": envelope.device_id,
        "user_agent": (envelope.user_agent or "")[:500] or None,
    }


def _store_attachments(
    session: Session,
    store: BlobStore,
    version: SubmissionVersion,
    expected: Iterable[str],
    uploads: list[UploadedFile],
) -> None:
    """Put every expected upload in the store, then upsert one row per name the XML references."""
    by_name = {upload.name: upload for upload in uploads}
    rows = {row.name: row for row in version.attachments}
    for name in expected:
        upload = by_name.get(name)
        row = rows.get(name)
        if row is None:
            row = SubmissionAttachment(submission_version_id=version.id, name=name, present=False)
            session.add(row)
            version.attachments.append(row)
        if upload is None or (row.present and row.sha256 == upload.sha256):
            continue
        key = blob_key(upload.sha256)
        _put_blob(store, key, upload)
        row.content_type = upload.content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        row.size = upload.size
        row.sha256 = upload.sha256
        row.md5 = upload.md5
        row.blob_key = key
        row.present = True
        row.received_at = utcnow()


def _put_blob(store: BlobStore, key: str, upload: UploadedFile) -> None:
    content_type = upload.content_type or "application/octet-stream"
    try:
        if store.exists(key):
            return  # content-addressed: the same bytes are stored once
        if upload.path is not None:
            store.put_path(key, upload.path, content_type=content_type, move=True)
        else:
            store.put_bytes(key, upload.data or b"", content_type=content_type)
    except StoreUnavailable as exc:
        log.warning("blob store unavailable while storing %s: %s", key, exc)
        raise StorageUnavailable() from exc


def _is_transient(exc: OperationalError) -> bool:
    text = str(exc.orig).lower()
    return "locked" in text or "deadlock" in text or "could not serialize" in text
