"""Test submissions to a draft: kept beside the draft, never in ``submissions``, gone with the draft.

A test phone configured with the draft's URL (docs/protocol.md §10) sends real submissions; they must
never reach the job queue, the registry, the ledger or the exports, all of which start from
``submissions``. So they are stored in ``draft_submissions`` only, with no job, and the files that came
with them are hashed and named but not kept: a draft is for trying the form, not for collecting data.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sync.db.models import DraftSubmission, Form, FormDraft
from sync.errors import FormVersionNotFound, MissingFormId, SubmissionConflict, ValueTooLong
from sync.intake.instance_xml import parse_instance, read_header


@dataclass(frozen=True)
class ReceivedFile:
    name: str
    size: int
    sha256: str


def draft_for_token(session: Session, token: str, project_id: int, xml_form_id: str) -> tuple[Form, FormDraft] | None:
    """The form and draft a test phone's token opens; None when the token is not this draft's (any more)."""
    row = session.execute(
        select(Form, FormDraft)
        .join(FormDraft, FormDraft.form_id == Form.id)
        .where(Form.project_id == project_id, Form.xml_form_id == xml_form_id, FormDraft.draft_token == token)
    ).first()
    return (row[0], row[1]) if row is not None else None


def receive_test_submission(
    session: Session, form: Form, draft: FormDraft, xml: bytes, files: list[ReceivedFile], device_id: str | None
) -> bool:
    """Keep one test submission; False for an identical resend (Collect retries), 409.1 for a changed one."""
    header = read_header(parse_instance(xml))
    if header.form_id != form.xml_form_id:
        raise MissingFormId(f"The submission is for form '{header.form_id}', not the draft of '{form.xml_form_id}'.")
    if header.version != draft.version:
        raise FormVersionNotFound(
            f"The form version specified in this submission '{header.version}' is not the draft's "
            f"('{draft.version}'). Download the draft again on the test phone."
        )
    if len(header.instance_id) > 200:
        raise ValueTooLong()
    sha256 = hashlib.sha256(xml).hexdigest()
    existing = session.scalar(
        select(DraftSubmission).where(
            DraftSubmission.draft_id == draft.id, DraftSubmission.instance_id == header.instance_id
        )
    )
    if existing is not None:
        if existing.xml_sha256 != sha256:
            raise SubmissionConflict()
        return False
    session.add(
        DraftSubmission(
            draft_id=draft.id,
            instance_id=header.instance_id,
            xml=xml,
            xml_sha256=sha256,
            files=[{"name": f.name, "size": f.size, "sha256": f.sha256} for f in files],
            device_id=(device_id or "")[:200] or None,
        )
    )
    session.flush()
    return True


def count_test_submissions(session: Session, draft: FormDraft) -> int:
    return session.scalar(select(func.count()).where(DraftSubmission.draft_id == draft.id)) or 0
