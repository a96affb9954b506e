"""JSON shapes of logging in and of the current user, in ODK Central's field names."""

from __future__ import annotations

from marshmallow import Schema, fields

from sync.times import iso_ms_or_none


class LoginSchema(Schema):
    email = fields.String(required=True)
    password = fields.String(required=True)


class UserSchema(Schema):
    id = fields.Integer()
    type = fields.Constant("user")
    email = fields.String()
    displayName = fields.Function(lambda user: user.email)
    role = fields.String()
    createdAt = fields.Function(lambda user: iso_ms_or_none(user.created_at))
