"""JSON shapes of app users (phones), in ODK Central's field names plus Qingling's ``area``."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from sync.times import iso_ms_or_none


class AppUserSchema(Schema):
    id = fields.Integer()
    type = fields.Constant("field_key")
    displayName = fields.String(attribute="display_name")
    # Central shows the token until the app user is revoked; so does this.
    token = fields.Function(lambda app_user: None if app_user.revoked_at else app_user.token)
    projectId = fields.Integer(attribute="project_id")
    area = fields.String(allow_none=True)
    createdAt = fields.Function(lambda app_user: iso_ms_or_none(app_user.created_at))
    deletedAt = fields.Function(lambda app_user: iso_ms_or_none(app_user.revoked_at))


class AppUserCreateSchema(Schema):
    displayName = fields.String(required=True, validate=validate.Length(min=1, max=200))
    area = fields.String(load_default=None, allow_none=True)


class AppUserAreaSchema(Schema):
    area = fields.String(required=True, allow_none=True)
