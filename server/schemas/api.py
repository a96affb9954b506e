"""JSON shapes of the API, in ODK Central's field names so pyodk and Central clients read them unchanged."""

from __future__ import annotations

import hashlib

from marshmallow import EXCLUDE, Schema, fields, validate

from sync.times import iso_ms_or_none


class SubmissionVersionSchema(Schema):
    instanceId = fields.String(attribute="instance_id")
    instanceName = fields.String(attribute="instance_name", allow_none=True)
    submitterId = fields.Method("submitter_id")
    deviceId = fields.String(attribute="device_id", allow_none=True)
    userAgent = fields.String(attribute="user_agent", allow_none=True)
    createdAt = fields.Function(lambda version: iso_ms_or_none(version.created_at))
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
    createdAt = fields.Function(lambda pair: iso_ms_or_none(pair[0].created_at))
    updatedAt = fields.Function(lambda pair: iso_ms_or_none(pair[0].updated_at))
    currentVersion = fields.Function(lambda pair: SubmissionVersionSchema().dump(pair[1]))


class AttachmentSchema(Schema):
    name = fields.String()
    exists = fields.Boolean(attribute="present")


class FormSchema(Schema):
    """A form as Central describes it: its published version, else its draft (a form created through the API
    and not yet published). Fields Qingling has no value for are null (no Enketo, no encryption, no record
    of when a form's state last changed)."""

    projectId = fields.Method("project_id")
    xmlFormId = fields.Method("xml_form_id")
    state = fields.Method("get_state")
    enketoId = fields.Constant(None)
    enketoOnceId = fields.Constant(None)
    name = fields.Method("title")
    version = fields.Method("get_version")
    hash = fields.Method("md5")
    sha = fields.Method("sha1")
    sha256 = fields.Method("get_sha256")
    keyId = fields.Constant(None)
    draftToken = fields.Method("draft_token")
    createdAt = fields.Method("created_at")
    updatedAt = fields.Constant(None)
    publishedAt = fields.Method("published_at")

    def form(self, obj):  # noqa: ANN001, ANN201
        return obj

    def definition(self, obj):  # noqa: ANN001, ANN201 - a FormVersion or a FormDraft
        form = self.form(obj)
        return form.current_version or form.draft

    def project_id(self, obj) -> int:  # noqa: ANN001
        return self.form(obj).project_id

    def xml_form_id(self, obj) -> str:  # noqa: ANN001
        return self.form(obj).xml_form_id

    def get_state(self, obj) -> str:  # noqa: ANN001
        return self.form(obj).state

    def created_at(self, obj) -> str | None:  # noqa: ANN001
        return iso_ms_or_none(self.form(obj).created_at)

    def title(self, obj) -> str | None:  # noqa: ANN001
        found = self.definition(obj)
        return found.title if found else None

    def get_version(self, obj) -> str | None:  # noqa: ANN001
        found = self.definition(obj)
        return found.version if found else None

    def md5(self, obj) -> str | None:  # noqa: ANN001
        found = self.definition(obj)
        return found.md5 if found else None

    def sha1(self, obj) -> str | None:  # noqa: ANN001
        found = self.definition(obj)
        return _sha1(found.xml) if found else None

    def get_sha256(self, obj) -> str | None:  # noqa: ANN001
        found = self.definition(obj)
        return found.sha256 if found else None

    def draft_token(self, obj) -> str | None:  # noqa: ANN001
        """Only ``GET .../draft`` shows the token: it is a test phone's credential."""
        return None

    def published_at(self, obj) -> str | None:  # noqa: ANN001
        return iso_ms_or_none(getattr(self.definition(obj), "published_at", None))


class DraftFormSchema(FormSchema):
    """``GET .../forms/<id>/draft``: the draft, with the token a test phone uses."""

    def definition(self, obj):  # noqa: ANN001, ANN201
        return obj.draft

    def draft_token(self, obj) -> str | None:  # noqa: ANN001
        return obj.draft.draft_token if obj.draft else None


class VersionFormSchema(FormSchema):
    """``GET .../forms/<id>/versions``: ``(Form, FormVersion)`` pairs, newest first."""

    def form(self, obj):  # noqa: ANN001, ANN201
        return obj[0]

    def definition(self, obj):  # noqa: ANN001, ANN201
        return obj[1]


class DraftAttachmentSchema(Schema):
    """Central's form attachment: ``exists`` once its bytes are uploaded (entity lists always exist)."""

    name = fields.String()
    type = fields.Function(lambda a: "file")
    exists = fields.Function(lambda a: a.sha256 is not None or a.dataset is not None)
    blobExists = fields.Function(lambda a: a.sha256 is not None)
    datasetExists = fields.Function(lambda a: a.dataset is not None)
    hash = fields.Function(lambda a: a.md5)
    updatedAt = fields.Function(lambda a: iso_ms_or_none(getattr(a, "updated_at", None)))


class FormStateSchema(Schema):
    """The body of ``PATCH .../forms/<id>``; Central's other fields (name, ...) are accepted and ignored."""

    class Meta:
        unknown = EXCLUDE

    state = fields.String(validate=validate.OneOf(("open", "closing", "closed")))


class ProjectSchema(Schema):
    """A project as Central describes it: Qingling neither archives, deletes nor encrypts projects."""

    id = fields.Integer()
    name = fields.String()
    description = fields.Constant(None)
    archived = fields.Constant(False)
    keyId = fields.Constant(None)
    createdAt = fields.Function(lambda project: iso_ms_or_none(project.created_at))
    updatedAt = fields.Constant(None)
    deletedAt = fields.Constant(None)


def _sha1(data: bytes) -> str:
    """Central's ``sha`` of the form XML; not stored, as nothing but this listing needs it."""
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()
