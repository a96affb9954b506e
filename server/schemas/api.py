"""JSON shapes of the API, in ODK Central's field names so pyodk and Central clients read them unchanged."""

from __future__ import annotations

import hashlib

from marshmallow import Schema, fields


class SubmissionVersionSchema(Schema):
    instanceId = fields.String(attribute="instance_id")
    instanceName = fields.String(attribute="instance_name", allow_none=True)
    submitterId = fields.Method("submitter_id")
    deviceId = fields.String(attribute="device_id", allow_none=True)
    userAgent = fields.String(attribute="user_agent", allow_none=True)
    createdAt = fields.DateTime(attribute="created_at", format="iso")
    current = fields.Boolean()

    def submitter_id(self, obj) -> int | None:  # noqa: ANN001
        return obj.submitter_user_id or obj.submitter_app_user_id


class SubmissionSchema(Schema):
    """``(Submission, current SubmissionVersion)`` pairs, as Central's ``GET .../submissions`` lists them."""

    instanceId = fields.Function(lambda pair: pair[0].instance_id)
    submitterId = fields.Function(lambda pair: pair[0].submitter_user_id or pair[0].submitter_app_user_id)
    deviceId = fields.Function(lambda pair: pair[1].device_id)
    userAgent = fields.Function(lambda pair: pair[1].user_agent)
    reviewState = fields.Function(lambda pair: pair[0].review_state)
    createdAt = fields.Function(lambda pair: iso_time(pair[0].created_at))
    updatedAt = fields.Function(lambda pair: iso_time(pair[0].updated_at))
    currentVersion = fields.Function(lambda pair: SubmissionVersionSchema().dump(pair[1]))


class AttachmentSchema(Schema):
    name = fields.String()
    exists = fields.Boolean(attribute="present")


class FormSchema(Schema):
    """A form as Central describes it; fields Qingling has no value for are null (no Enketo, no encryption,
    no drafts, no record of when a form's state last changed)."""

    projectId = fields.Integer(attribute="project_id")
    xmlFormId = fields.String(attribute="xml_form_id")
    state = fields.String()
    enketoId = fields.Constant(None)
    enketoOnceId = fields.Constant(None)
    name = fields.Function(lambda form: form.current_version.title if form.current_version else None)
    version = fields.Function(lambda form: form.current_version.version if form.current_version else None)
    hash = fields.Function(lambda form: form.current_version.md5 if form.current_version else None)
    sha = fields.Function(lambda form: _sha1(form.current_version.xml) if form.current_version else None)
    sha256 = fields.Function(lambda form: form.current_version.sha256 if form.current_version else None)
    keyId = fields.Constant(None)
    draftToken = fields.Constant(None)
    createdAt = fields.Function(lambda form: iso_time(form.created_at))
    updatedAt = fields.Constant(None)
    publishedAt = fields.Function(
        lambda form: iso_time(form.current_version.published_at) if form.current_version else None
    )


class ProjectSchema(Schema):
    """A project as Central describes it: Qingling neither archives, deletes nor encrypts projects."""

    id = fields.Integer()
    name = fields.String()
    description = fields.Constant(None)
    archived = fields.Constant(False)
    keyId = fields.Constant(None)
    createdAt = fields.Function(lambda project: iso_time(project.created_at))
    updatedAt = fields.Constant(None)
    deletedAt = fields.Constant(None)


def _sha1(data: bytes) -> str:
    """Central's ``sha`` of the form XML; not stored, as nothing but this listing needs it."""
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()


def iso_time(value) -> str | None:  # noqa: ANN001
    if value is None:
        return None
    text = value.isoformat()
    return text if value.tzinfo else text + "Z"
