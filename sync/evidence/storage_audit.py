"""``qingling media check``: does every row that names a blob have it, and does every blob have a row?

Ingestion writes blobs first and rows second (sync/intake/ingest.py), so in a healthy deployment every present
attachment row has its blob and the only blobs without rows are leftovers of requests that failed after the
store write. This check verifies that, both ways:

- every *reference* (a present submission attachment, a form media file of a version or of a draft, the
  spreadsheet a version or a draft was uploaded as, a thumbnail recorded in ``photo_checks``) is read back
  from the store: present, with the recorded size, and with the recorded SHA-256 (``verify_content``;
  without it only sizes are compared, which costs one metadata call per blob);
- every *stored key* that nothing references is an orphan: among them the media and spreadsheets of drafts
  that were replaced, deleted or published without them (a draft's blobs are shared by hash, so they are
  left in the store when the draft goes and show up here once nothing else names them).

The store is listed *before* the rows are read, so a blob whose request commits while the check runs is
referenced by the time the rows are read; a request still in flight may show up as one orphan. Nothing is
deleted: the report says what to look at.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

from sqlalchemy import literal, select
from sqlalchemy.orm import Session, sessionmaker

from media.digests import digest_stream
from media.store import BlobNotFound, BlobStore, blob_key
from sync.db.models import (
    Form,
    FormAttachment,
    FormDraft,
    FormDraftAttachment,
    FormVersion,
    PhotoCheck,
    SubmissionAttachment,
    SubmissionVersion,
)

PROBLEM_KINDS = ("missing", "wrong_size", "wrong_sha256", "orphan")
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Reference:
    """A row that names a blob, with what it says the blob is (None: not recorded, e.g. thumbnails)."""

    key: str
    what: str  # for people: "submission 12 (uuid:...) photo.jpg"
    size: int | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class MediaProblem:
    kind: str  # one of PROBLEM_KINDS
    key: str
    message: str
    references: tuple[str, ...] = ()

    def line(self) -> str:
        where = f" <- {'; '.join(self.references)}" if self.references else ""
        return f"{self.kind.upper():<13} {self.key}: {self.message}{where}"


@dataclass
class MediaCheckReport:
    references: int = 0  # rows checked
    blobs_checked: int = 0  # distinct referenced keys read back
    stored_keys: int = 0  # keys listed in the store
    partial_writes: int = 0  # unfinished writes (crashed or in flight); `remove_partial_writes` sweeps them
    content_verified: bool = True
    problems: list[MediaProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def count(self, kind: str) -> int:
        return sum(1 for problem in self.problems if problem.kind == kind)

    def summary(self) -> str:
        how = "size and SHA-256" if self.content_verified else "size only"
        counts = ", ".join(f"{self.count(kind)} {kind.replace('_', ' ')}" for kind in PROBLEM_KINDS)
        return (
            f"{self.references} references to {self.blobs_checked} blobs checked ({how}); "
            f"{self.stored_keys} keys in the store; {self.partial_writes} partial writes; problems: {counts}"
        )


def check_media(
    factory: sessionmaker[Session],
    store: BlobStore,
    *,
    verify_content: bool = True,
    workers: int = 4,
    progress: Progress | None = None,
) -> MediaCheckReport:
    """Check every reference against the store and list orphans; StoreUnavailable propagates."""
    stored = set(store.keys())
    partial = len(store.partial_writes())
    with factory() as session:
        references = list(iter_references(session))
    by_key: dict[str, list[Reference]] = {}
    for reference in references:
        by_key.setdefault(reference.key, []).append(reference)
    report = MediaCheckReport(
        references=len(references),
        blobs_checked=len(by_key),
        stored_keys=len(stored),
        partial_writes=partial,
        content_verified=verify_content,
    )
    done = 0
    if progress is not None:
        progress(done, len(by_key))
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {pool.submit(_read_back, store, key, verify_content): key for key in sorted(by_key)}
        for future in as_completed(futures):
            key = futures[future]
            report.problems += _compare(key, future.result(), by_key[key])
            done += 1
            if progress is not None:
                progress(done, len(by_key))
    for key in sorted(stored - by_key.keys()):
        report.problems.append(MediaProblem("orphan", key, "no row references this blob"))
    report.problems.sort(key=lambda problem: (PROBLEM_KINDS.index(problem.kind), problem.key))
    return report


def iter_references(session: Session) -> Iterator[Reference]:
    """Every blob a row names: present attachments (all versions), form media files and spreadsheets (of
    versions and drafts), thumbnails."""
    attachments = session.execute(
        select(
            SubmissionAttachment.blob_key,
            SubmissionAttachment.sha256,
            SubmissionAttachment.size,
            SubmissionAttachment.name,
            SubmissionVersion.submission_id,
            SubmissionVersion.instance_id,
        )
        .join(SubmissionVersion, SubmissionVersion.id == SubmissionAttachment.submission_version_id)
        .where(SubmissionAttachment.present.is_(True))
        .order_by(SubmissionAttachment.id)
        .execution_options(yield_per=1000)
    )
    for key, sha256, size, name, submission_id, instance_id in attachments:
        what = f"submission {submission_id} ({instance_id}) {name}"
        yield Reference(key or (blob_key(sha256) if sha256 else "?"), what, size, sha256)
    media = session.execute(
        select(FormAttachment.sha256, FormAttachment.size, FormAttachment.name, Form.xml_form_id, FormVersion.version)
        .join(FormVersion, FormVersion.id == FormAttachment.form_version_id)
        .join(Form, Form.id == FormVersion.form_id)
        .where(FormAttachment.sha256.is_not(None))
        .order_by(FormAttachment.id)
    )
    for sha256, size, name, form_id, version in media:
        yield Reference(blob_key(sha256), f"form {form_id} version {version} media file {name}", size, sha256)
    draft_media = session.execute(
        select(FormDraftAttachment.sha256, FormDraftAttachment.size, FormDraftAttachment.name, Form.xml_form_id)
        .join(FormDraft, FormDraft.id == FormDraftAttachment.draft_id)
        .join(Form, Form.id == FormDraft.form_id)
        .where(FormDraftAttachment.sha256.is_not(None))
        .order_by(FormDraftAttachment.id)
    )
    for sha256, size, name, form_id in draft_media:
        yield Reference(blob_key(sha256), f"form {form_id} draft media file {name}", size, sha256)
    # The spreadsheet a version or a draft was uploaded as (GET .../forms/<id>.xlsx returns it).
    version_sources = select(FormVersion.source_sha256, FormVersion.source_name, Form.xml_form_id,
                             ("version " + FormVersion.version).label("of"))
    draft_sources = select(FormDraft.source_sha256, FormDraft.source_name, Form.xml_form_id,
                           literal("draft").label("of"))
    for model, query in ((FormVersion, version_sources), (FormDraft, draft_sources)):
        rows = session.execute(query.join(Form, Form.id == model.form_id)
                               .where(model.source_sha256.is_not(None)).order_by(model.id))
        for sha256, name, form_id, of in rows:
            yield Reference(blob_key(sha256), f"form {form_id} {of} spreadsheet {name}", None, sha256)
    checks = session.execute(
        select(PhotoCheck.sha256, PhotoCheck.thumbnails, PhotoCheck.features_key)
        .order_by(PhotoCheck.id)
        .execution_options(yield_per=1000)
    )
    for sha256, thumbnails, features in checks:
        for size, key in sorted((thumbnails or {}).items()):
            yield Reference(key, f"{size} px thumbnail of {sha256[:12]}")
        if features:
            yield Reference(features, f"keypoints of {sha256[:12]}")


@dataclass(frozen=True)
class _Seen:
    present: bool
    size: int | None = None
    sha256: str | None = None


def _read_back(store: BlobStore, key: str, verify_content: bool) -> _Seen:
    try:
        if not verify_content:
            size = store.size(key)
            return _Seen(present=size is not None, size=size)
        with store.open(key) as stream:
            digest = digest_stream(stream)
        return _Seen(present=True, size=digest.size, sha256=digest.sha256)
    except BlobNotFound:  # also an InvalidKey: a row naming a key no blob can have
        return _Seen(present=False)


def _compare(key: str, seen: _Seen, references: list[Reference]) -> list[MediaProblem]:
    names = tuple(reference.what for reference in references)
    if not seen.present:
        return [MediaProblem("missing", key, "the blob is not in the store", names)]
    problems = []
    sizes = {reference.size for reference in references if reference.size is not None}
    if sizes and sizes != {seen.size}:
        expected = ", ".join(f"{size:,}" for size in sorted(sizes))
        problems.append(MediaProblem("wrong_size", key, f"{seen.size:,} bytes stored, {expected} recorded", names))
    digests = {reference.sha256 for reference in references if reference.sha256}
    if seen.sha256 is not None and digests and digests != {seen.sha256}:
        problems.append(
            MediaProblem("wrong_sha256", key, f"stored bytes hash to {seen.sha256[:16]}..., not as recorded", names)
        )
    return problems
