"""JSON shapes of comments, versions, diffs and audits, in ODK Central's field names."""

from __future__ import annotations

import re

from marshmallow import Schema, fields

from sync.times import iso_ms_or_none


class CommentSchema(Schema):
    body = fields.String()
    actorId = fields.Integer(attribute="actor_user_id", allow_none=True)
    createdAt = fields.Function(lambda c: iso_ms_or_none(c.created_at))


class CommentInputSchema(Schema):
    body = fields.String(required=True)


class AuditSchema(Schema):
    actorId = fields.Function(lambda a: a.actor_user_id or a.actor_app_user_id)
    action = fields.String()
    acteeId = fields.Function(lambda a: a.subject)
    details = fields.Dict()
    loggedAt = fields.Function(lambda a: iso_ms_or_none(a.logged_at))


_STEP = re.compile(r"([^.\[\]]+)(?:\[(\d+)\])?")


def diff_path(path: str) -> list[str | int]:
    """``members[2].m_id`` -> ``["members", 1, "m_id"]``: Central's path of a change (0-based repeat index)."""
    steps: list[str | int] = []
    for name, index in _STEP.findall(path):
        steps.append(name)
        if index:
            steps.append(int(index) - 1)
    return steps


def diffs_json(diffs: dict) -> dict:
    return {
        instance_id: [{"path": diff_path(c.path), "old": c.old, "new": c.new} for c in changes]
        for instance_id, changes in diffs.items()
    }
