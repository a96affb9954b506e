"""Comments on a submission (Central's ``.../submissions/{instanceId}/comments``): a thread, audited."""

from __future__ import annotations

from sqlalchemy.orm import Session

from sync.db.models import Comment, Submission
from sync.errors import BadRequest
from sync.oversight.audit import record

MAX_LENGTH = 4000


def add_comment(session: Session, submission: Submission, body: str, *, user_id: int | None) -> Comment:
    body = (body or "").strip()
    if not body:
        raise BadRequest("A comment needs some text.")
    if len(body) > MAX_LENGTH:
        raise BadRequest(f"A comment may have at most {MAX_LENGTH} characters.")
    comment = Comment(submission_id=submission.id, actor_user_id=user_id, body=body)
    session.add(comment)
    session.flush()
    record(session, "submission.comment", subject=submission.instance_id, details={"comment_id": comment.id},
           user_id=user_id, submission_id=submission.id)
    return comment
