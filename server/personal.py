"""Personal data in API responses: in full for a role with ``pii.read`` (each such response audited as
``pii.view``), masked for everyone else (sync/access/pii.py)."""

from __future__ import annotations

from flask import request

from server.context import db
from sync.access.pii import mask_json, mask_xml
from sync.access.scope import Scope
from sync.oversight.audit import record


def _full(scope: Scope, user_id: int | None, subject: str, submission_id: int | None) -> bool:
    if not scope.may("pii.read"):
        return False
    record(db(), "pii.view", subject=subject, user_id=user_id, submission_id=submission_id,
           details={"path": request.path})
    db().commit()
    return True


def personal_json(body: object, scope: Scope, user_id: int | None, *, subject: str,
                  submission_id: int | None = None) -> object:
    return body if _full(scope, user_id, subject, submission_id) else mask_json(body)


def personal_xml(xml: bytes, scope: Scope, user_id: int | None, *, subject: str,
                 submission_id: int | None = None) -> bytes:
    return xml if _full(scope, user_id, subject, submission_id) else mask_xml(xml)
