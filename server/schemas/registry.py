"""JSON shapes of the registry, flags and entity endpoints (entities in ODK Central's field names)."""

from __future__ import annotations

from dataclasses import asdict
from urllib.parse import quote

from marshmallow import Schema, fields

from sync.registry.queries import SourceRecord
from sync.times import iso_ms_or_none


class HouseholdSchema(Schema):
    householdCode = fields.String(attribute="code")
    entityId = fields.String(attribute="entity_id")
    label = fields.String()
    county = fields.String(allow_none=True)
    township = fields.String(allow_none=True)
    village = fields.String(allow_none=True)
    groupName = fields.String(attribute="group_name", allow_none=True)
    headName = fields.String(attribute="head_name", allow_none=True)
    phone = fields.String(allow_none=True)
    latitude = fields.Float(allow_none=True)
    longitude = fields.Float(allow_none=True)
    householdType = fields.String(attribute="household_type", allow_none=True)
    mainCause = fields.String(attribute="main_cause", allow_none=True)
    otherCauses = fields.List(fields.String(), attribute="other_causes")
    status = fields.String()
    registeredOn = fields.Date(attribute="registered_on", allow_none=True)
    hhSize = fields.Integer(attribute="hh_size", allow_none=True)
    foodOk = fields.Boolean(attribute="food_ok", allow_none=True)
    clothingOk = fields.Boolean(attribute="clothing_ok", allow_none=True)
    eduOk = fields.Boolean(attribute="edu_ok", allow_none=True)
    medOk = fields.Boolean(attribute="med_ok", allow_none=True)
    housingOk = fields.Boolean(attribute="housing_ok", allow_none=True)
    houseGrade = fields.String(attribute="house_grade", allow_none=True)
    houseGradeDate = fields.Date(attribute="house_grade_date", allow_none=True)
    waterVerdict = fields.String(attribute="water_verdict", allow_none=True)
    waterOk = fields.Boolean(attribute="water_ok", allow_none=True)
    waterDate = fields.Date(attribute="water_date", allow_none=True)
    incomeYear = fields.Integer(attribute="income_year", allow_none=True)
    incomePerCapita = fields.Decimal(attribute="income_pc", as_string=True, allow_none=True)
    netTotal = fields.Decimal(attribute="net_total", as_string=True, allow_none=True)
    monitored = fields.Boolean(attribute="monitor_flag")
    monitorCategory = fields.String(attribute="monitor_category", allow_none=True)
    monitorRisks = fields.List(fields.String(), attribute="monitor_risks")
    entityVersion = fields.Integer(attribute="entity_version")
    updatedAt = fields.Function(lambda household: iso_ms_or_none(household.updated_at))


class PersonSchema(Schema):
    name = fields.String()
    idNumber = fields.String(attribute="id_no", allow_none=True)
    idValid = fields.Boolean(attribute="id_valid")
    sex = fields.String(allow_none=True)
    birthDate = fields.Date(attribute="birth_date", allow_none=True)
    relation = fields.String(allow_none=True)
    memberStatus = fields.String(attribute="member_status")
    memberSince = fields.Date(attribute="member_since", allow_none=True)
    memberUntil = fields.Date(attribute="member_until", allow_none=True)


class HistorySchema(Schema):
    """One history row; ``links`` point at the source submission and its attachments."""

    kind = fields.Function(lambda row: type(row).__tablename__)
    surveyDate = fields.Date(attribute="survey_date", allow_none=True)
    receivedAt = fields.Function(lambda row: iso_ms_or_none(row.received_at))
    instanceId = fields.String(attribute="instance_id")
    formVersion = fields.String(attribute="form_version")
    status = fields.String()
    reviewState = fields.String(attribute="review_state", allow_none=True)
    profile = fields.String(allow_none=True)
    parameterVersion = fields.String(attribute="parameter_version", allow_none=True)
    baseVersion = fields.Integer(attribute="base_version", allow_none=True)
    serverVerdict = fields.Dict(attribute="server_verdict")
    deviceDisagrees = fields.Dict(attribute="device_verdict")
    answers = fields.Dict()


class FlagSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    severity = fields.String()
    message = fields.String()
    state = fields.String()
    submissionId = fields.Integer(attribute="submission_id", allow_none=True)
    otherSubmissionId = fields.Integer(attribute="other_submission_id", allow_none=True)
    householdCode = fields.String(attribute="household_code", allow_none=True)
    otherHouseholdCode = fields.String(attribute="other_household_code", allow_none=True)
    attachment = fields.String(attribute="attachment_name", allow_none=True)
    otherAttachment = fields.String(attribute="other_attachment_name", allow_none=True)
    details = fields.Dict()
    createdAt = fields.Function(lambda flag: iso_ms_or_none(flag.created_at))
    resolvedAt = fields.Function(lambda flag: iso_ms_or_none(flag.resolved_at))
    resolvedBy = fields.Integer(attribute="resolved_by_user_id", allow_none=True)


class FlagUpdateSchema(Schema):
    state = fields.String(required=True)


class ClearanceSchema(Schema):
    def dump(self, obj, *, many=None):  # noqa: ANN001, ANN201 - a dataclass, dumped as it is
        data = asdict(obj)
        data["as_of"] = obj.as_of.isoformat()
        return data


class DatasetSchema(Schema):
    """Central's dataset summary; approval of new entities is never required here."""

    name = fields.String()
    projectId = fields.Integer(attribute="project_id")
    createdAt = fields.Function(lambda d: iso_ms_or_none(d.created_at))
    approvalRequired = fields.Constant(False)
    entities = fields.Integer()
    lastEntity = fields.Function(lambda d: iso_ms_or_none(d.last_entity))
    ownerOnly = fields.Constant(False)


class DatasetDetailSchema(Schema):
    """Central's dataset metadata (``GET .../datasets/{name}``): the summary's fields, the forms that create
    or update households and those that attach the list; no form saves a property (the registry derives
    them), so each property names no form."""

    def dump(self, obj, *, many=None):  # noqa: ANN001, ANN201 - a DatasetDetail
        data = DatasetSchema().dump(obj.summary)
        data["sourceForms"] = [{"xmlFormId": form_id, "name": title} for form_id, title in obj.source_forms]
        data["linkedForms"] = [{"xmlFormId": form_id, "name": title} for form_id, title in obj.linked_forms]
        data["properties"] = [
            {"name": name, "odataName": name, "publishedAt": data["createdAt"], "forms": []} for name in obj.properties
        ]
        return data


def source_links(source: SourceRecord) -> dict:
    """The API URLs of a history row's source submission, its XML and its attachments."""
    base = f"/v1/projects/{source.project_id}/forms/{quote(source.xml_form_id, safe='')}/submissions/"
    submission = base + quote(source.instance_id, safe="")
    return {
        "submission": submission,
        "xml": submission + ".xml",
        "attachments": [
            {"name": name, "present": present, "url": f"{submission}/attachments/{quote(name, safe='')}"}
            for name, present in source.attachments
        ],
    }


class ReviewSchema(Schema):
    reviewState = fields.String(required=True, allow_none=True)
