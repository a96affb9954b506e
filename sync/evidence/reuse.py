"""Reused photos: the same bytes or an edited copy attached to a different household of the project.

Per readable photo of the submission: the stored photos sharing a view key with it (``photo_keys``, one
indexed query), the best few judged by ``media.duplicates.judge`` (strict hash score, else ORB keypoints
with RANSAC), and a flag per match that names both households, both submissions and both photos, with the
score, the evidence and the edits seen, for the supervisor's side-by-side view. Not scoped by area: a
photo reused across townships is the most suspicious kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import chain

import numpy as np
from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from media.duplicates import (
    HASH_THRESHOLD,
    Fingerprint,
    Stack,
    Verdict,
    judge,
    match,
    pick_stacked,
    shortlist_rows,
)
from media.keypoints import Features
from media.store import BlobNotFound, BlobStore
from sync.db.models import Form, Household, PhotoCheck, PhotoKey, SubmissionAttachment, SubmissionVersion
from sync.oversight.flags import FlagDraft
from sync.registry.households import households_of

MAX_DUPLICATES_PER_PHOTO = 5  # a reviewer needs the best few matches, not every similar register page


@dataclass(frozen=True)
class Placement:
    """Where the submission sits: its household (None before normalization), project, photo fields."""

    household: Household | None
    project_id: int
    fields: dict[str, str]  # attachment name -> photo field (e.g. ph_front)

    @property
    def code(self) -> str | None:
        return self.household.code if self.household is not None else None


@dataclass(frozen=True)
class _Other:
    """An attachment of another submission of the project that shows the same or a near-identical photo."""

    submission_id: int
    name: str
    sha256: str
    score: float


SAME_BYTES = Verdict(True, 0.0, "same bytes")


def duplicate_flags(
    session: Session,
    version: SubmissionVersion,
    visit: Placement,
    images: list[SubmissionAttachment],
    checks: dict[str, PhotoCheck | str],
    store: BlobStore,
) -> list[FlagDraft]:
    """The same bytes, or a reused (edited) copy, attached to a different household of the same project."""
    if visit.household is None:
        return []  # "a different household" cannot be decided yet; the follow-up job decides it
    readable = {sha: check for sha, check in checks.items() if isinstance(check, PhotoCheck) and check.readable}
    similar = {sha: _similar_blobs(session, check, store) for sha, check in readable.items()}
    wanted = set(readable) | {other for found in similar.values() for other in found}
    others = _attachments_in_project(session, visit.project_id, wanted, exclude_submission=version.submission_id)
    households = households_of(session, {other.submission_id for other in others})
    explained = _copy_of_own_photo(session, version, visit, store)
    drafts = []
    for attachment in images:
        if attachment.sha256 not in readable:
            continue
        verdicts = {attachment.sha256: SAME_BYTES, **similar[attachment.sha256]}
        matches = sorted(
            (
                (verdicts[other.sha256], other)
                for other in others
                if other.sha256 in verdicts
                and (household := households.get(other.submission_id)) is not None
                and household.id != visit.household.id
            ),
            key=lambda item: (item[0].score, item[1].submission_id, item[1].name),
        )
        matches = [m for m in matches if m[0] is SAME_BYTES or not explained(m[1].sha256)]
        for verdict, other in matches[:MAX_DUPLICATES_PER_PHOTO]:
            household = households[other.submission_id]
            drafts.append(_duplicate_flag(version, attachment, other, verdict, visit, household, len(matches)))
    return drafts


def _copy_of_own_photo(
    session: Session, version: SubmissionVersion, visit: Placement, store: BlobStore
) -> Callable[[str], bool]:
    """Whether another household's photo is itself a copy of a photo of *this* household (its other
    submissions): then this household's later visit looks like it because it shows the same house, and
    the reuse is flagged on that other photo's submission, not here."""
    known: dict[str, bool] = {}

    def explained(sha256: str) -> bool:
        if sha256 not in known:
            check = session.scalar(select(PhotoCheck).where(PhotoCheck.sha256 == sha256))
            similar = set(_similar_blobs(session, check, store)) if check is not None else set()
            ours = _attachments_in_project(session, visit.project_id, similar, exclude_submission=version.submission_id)
            owners = households_of(session, {o.submission_id for o in ours})
            known[sha256] = any(h.id == visit.household.id for h in owners.values())
        return known[sha256]

    return explained


def _duplicate_flag(
    version: SubmissionVersion,
    attachment: SubmissionAttachment,
    other: _Other,
    verdict: Verdict,
    visit: Placement,
    household: Household,
    total: int,
) -> FlagDraft:
    """The flag a supervisor's side-by-side view explains: both households, submissions and photos, the
    score, the evidence and the edits seen (e.g. "mirrored, cropped")."""
    exact = other.sha256 == attachment.sha256
    checked = verdict.verification
    if exact:
        what = "the same photo file"
    elif verdict.evidence in ("keypoints", "hashes and keypoints") and checked is not None:
        edits = ", ".join(verdict.alterations) or "no visible edit"
        what = f"a reused copy ({edits}; {checked.inliers} keypoints matched, score {verdict.score:.3f})"
    else:
        edits = ", ".join(verdict.alterations) or "no visible edit"
        what = f"a near-identical photo ({edits}; score {verdict.score:.3f})"
    return FlagDraft(
        kind="photo_reused" if exact else "photo_near_duplicate",
        severity="error" if exact else "warning",
        message=(
            f"{attachment.name} of household {visit.code} (submission {version.submission_id}) is "
            f"{what} of {other.name} of household {household.code} (submission {other.submission_id})."
        ),
        household_code=visit.code,
        other_household_code=household.code,
        other_submission_id=other.submission_id,
        attachment_name=attachment.name,
        other_attachment_name=other.name,
        details={
            "photo_field": visit.fields.get(attachment.name),
            "submission_id": version.submission_id,
            "score": round(verdict.score, 4),
            "threshold": HASH_THRESHOLD,
            "evidence": verdict.evidence,
            "alterations": list(verdict.alterations),
            "keypoints": checked.inliers if checked is not None else None,
            "keypoint_area": round(checked.area, 3) if checked is not None else None,
            "same_bytes": exact,
            "sha256": attachment.sha256,
            "other_sha256": other.sha256,
            "matches": total,
        },
    )


def _similar_blobs(session: Session, check: PhotoCheck, store: BlobStore) -> dict[str, Verdict]:
    """SHA-256 -> verdict of other checked photos judged to be this photo, found through the key index.

    One indexed query fetches the ``photo_keys`` rows sharing a key with the photo's guesses (docs/media.md
    4); the best SHORTLIST by fine hash are read, the best CANDIDATES of those by view agreement and hash
    score judged, and BRIGHTENED_CANDIDATES more by the brightened views (media.duplicates),
    so the work per new photo grows with the number of look-alikes, not with the collection.
    """
    mine = _fingerprint_of(check)
    if mine is None:
        return {}
    lookup = mine.lookup_keys()
    # Core, not the ORM's result, and streamed into one array: at 10^6 photos a lookup reads some 15,000
    # rows; ORM rows cost most of the lookup, and a list of them kept alive set off the garbage collector's
    # full passes (every third lookup took 100 ms more, measured)
    rows = session.connection().execute(
        select(PhotoKey.photo_check_id, PhotoKey.key, PhotoKey.fine).where(
            PhotoKey.key.in_(sorted(lookup)), PhotoKey.photo_check_id != check.id
        )
    )
    table = np.fromiter(chain.from_iterable(rows), dtype=np.int64).reshape(-1, 3)
    shortlist = shortlist_rows(lookup, table[:, 0], table[:, 1], table[:, 2].view(np.uint64))  # fine: stored signed
    stored = {
        row.id: row
        for row in session.execute(
            select(PhotoCheck.id, PhotoCheck.sha256, PhotoCheck.fingerprint, PhotoCheck.features_key).where(
                PhotoCheck.id.in_(shortlist)
            )
        )
    }
    ids = [cid for cid in shortlist if cid in stored]
    others, parsed = Stack.parse([_fingerprint_text(stored[cid]) for cid in ids])
    ids = [ids[number] for number in parsed]  # those made by another fingerprint version are not comparable
    mine_features: list[Features | None] = []  # read once, only if a candidate needs it
    found = {}
    for cid in pick_stacked(mine, ids, others):
        theirs = Fingerprint.from_string(_fingerprint_text(stored[cid]))
        if match(mine, theirs).score <= HASH_THRESHOLD:
            verdict = judge(mine, theirs, None, None)
        else:
            if not mine_features:
                mine_features.append(_features_of(store, check.features_key))
            verdict = judge(mine, theirs, mine_features[0], _features_of(store, stored[cid].features_key))
        if verdict.is_duplicate:
            found[stored[cid].sha256] = verdict
    return found


def _fingerprint_text(check: PhotoCheck | Row) -> str:
    return (check.fingerprint or {}).get("value", "")


def _fingerprint_of(check: PhotoCheck | Row) -> Fingerprint | None:
    try:
        return Fingerprint.from_string(_fingerprint_text(check))
    except ValueError:
        return None  # made by another fingerprint version: not comparable


def _features_of(store: BlobStore, key: str | None) -> Features | None:
    """The photo's stored local features, or None (none stored, or gone: the hashes alone then decide)."""
    if not key:
        return None
    try:
        with store.open(key) as source:
            return Features.from_bytes(source.read())
    except (BlobNotFound, ValueError):
        return None


def _attachments_in_project(
    session: Session, project_id: int, sha256s: set[str], *, exclude_submission: int
) -> list[_Other]:
    if not sha256s:
        return []
    rows = session.execute(
        select(SubmissionVersion.submission_id, SubmissionAttachment.name, SubmissionAttachment.sha256)
        .join(SubmissionVersion, SubmissionVersion.id == SubmissionAttachment.submission_version_id)
        .join(Form, Form.id == SubmissionVersion.form_id)
        .where(
            SubmissionAttachment.sha256.in_(sorted(sha256s)),
            SubmissionAttachment.present.is_(True),
            SubmissionVersion.current.is_(True),
            SubmissionVersion.submission_id != exclude_submission,
            Form.project_id == project_id,
        )
    )
    return [_Other(submission_id, name, sha256, 0.0) for submission_id, name, sha256 in rows]
