"""JSON shapes of the clearance ledger (camelCase, as every /v1 answer)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from server.schemas.registry import source_links
from sync.ledger.decisions import PERSON_MAX, UNIT_MAX
from sync.ledger.kinds import KINDS
from sync.times import iso_ms_or_none


class ItemSchema(Schema):
    """One item as the list shows it: a ``sync.ledger.queries.ItemRow``."""

    id = fields.Integer(attribute="item.id")
    householdCode = fields.String(attribute="household_code")
    householdLabel = fields.String(attribute="household_label")
    village = fields.String(attribute="item.village")
    kind = fields.String(attribute="item.kind")
    state = fields.String(attribute="item.state")
    openedOn = fields.Date(attribute="item.opened_on")
    foundBy = fields.Function(lambda r: {"form": r.item.found_form, "instanceId": r.item.found_instance_id})
    details = fields.Dict(attribute="item.details")
    measure = fields.String(attribute="item.measure", allow_none=True)
    unit = fields.String(attribute="item.unit", allow_none=True)
    person = fields.String(attribute="item.person", allow_none=True)
    deadline = fields.Date(attribute="item.deadline", allow_none=True)
    overdue = fields.Boolean()
    daysOpen = fields.Integer(attribute="days_open")
    doneReportedAt = fields.Function(lambda r: iso_ms_or_none(r.item.done_reported_at))
    closedOn = fields.Date(attribute="item.closed_on", allow_none=True)
    closedBy = fields.Function(
        lambda r: {"form": r.item.closed_by_form, "instanceId": r.item.closed_by_instance_id}
        if r.item.closed_by_instance_id
        else None
    )
    closeReason = fields.String(attribute="item.close_reason", allow_none=True)
    closeRequestedBy = fields.Integer(attribute="item.close_requested_by_user_id", allow_none=True)
    closeApprovedBy = fields.Integer(attribute="item.close_approved_by_user_id", allow_none=True)
    previousItemId = fields.Integer(attribute="item.previous_item_id", allow_none=True)


def evidence_json(evidence) -> dict:  # noqa: ANN001 - a sync.ledger.queries.Evidence
    return {
        "found": source_links(evidence.found) if evidence.found else None,
        "closed": source_links(evidence.closed) if evidence.closed else None,
    }


class AreaCountsSchema(Schema):
    area = fields.String()
    level = fields.String()
    households = fields.Integer()
    householdsWithoutRecord = fields.Integer(attribute="households_without_record")
    openItems = fields.Integer(attribute="open_items")
    openByKind = fields.Dict(attribute="open_by_kind")
    byState = fields.Dict(attribute="by_state")
    assigned = fields.Integer()
    overdue = fields.Integer()
    closedThisMonth = fields.Integer(attribute="closed_this_month")


class AssignmentSchema(Schema):
    measure = fields.String(required=True)
    unit = fields.String(required=True, validate=validate.Length(min=1, max=UNIT_MAX))
    person = fields.String(required=True, validate=validate.Length(min=1, max=PERSON_MAX))
    deadline = fields.Date(required=True)


class NoteSchema(Schema):
    note = fields.String(load_default="", validate=validate.Length(max=2000))


class ReasonSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class MeasureSchema(Schema):
    code = fields.String(dump_only=True)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    labelZh = fields.String(attribute="label_zh", data_key="labelZh", required=True)
    labelEn = fields.String(attribute="label_en", data_key="labelEn", required=True)
    active = fields.Boolean(load_default=True)


class ParameterVersionSchema(Schema):
    id = fields.Integer()
    fileName = fields.String(attribute="file_name")
    state = fields.String()
    uploadedBy = fields.Integer(attribute="uploaded_by_user_id", allow_none=True)
    uploadedAt = fields.Function(lambda v: iso_ms_or_none(v.uploaded_at))
    appliedAt = fields.Function(lambda v: iso_ms_or_none(v.applied_at))


class LineChangeSchema(Schema):
    line = fields.String()
    year = fields.Integer()
    county = fields.String()
    before = fields.String(allow_none=True)
    after = fields.String(allow_none=True)
    enterCount = fields.Integer(attribute="enter_count")
    leaveCount = fields.Integer(attribute="leave_count")
    enter = fields.List(fields.String())
    leave = fields.List(fields.String())
    townships = fields.Function(lambda c: sorted(c.townships))
    summary = fields.Function(lambda c: c.sentence())


class PreviewSchema(Schema):
    versionId = fields.Integer(attribute="version_id")
    households = fields.Integer()
    summary = fields.Function(lambda p: p.summary())
    changes = fields.List(fields.Nested(LineChangeSchema))
