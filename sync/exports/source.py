"""The one query every submission export reads: current versions of a form, newest first, filtered, scoped.

Rows are read from a snapshot connection (`sync.db.engine.read_snapshot`) and streamed, with each
submission's metadata computed in the same statement (submitter, attachment counts, edits), so no
export holds more than one batch in memory whatever the number of rows. The area scope is applied here
and nowhere else (`area` below; docs/exports.md 5).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from typing import Any

from lxml import etree
from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    null,
    or_,
    select,
    tuple_,
)
from sqlalchemy.orm import Session, aliased

from sync.db.models import (
    AppUser,
    Form,
    FormVersion,
    Household,
    Submission,
    SubmissionAttachment,
    SubmissionVersion,
    User,
)
from sync.db.models.registry import BaselineRecord, HousingAppraisal, IncomeCheck, WaterSurvey
from sync.exports.filters import CompiledFilter, parse_filter
from sync.exports.plan import Field, FormSchema, form_schema, merged_schema

BATCH = 2000
# Administrative codes: county 6 digits, township 9, village 12 (docs/registry.md); an area is any prefix.
AREA_FIELDS = ("village", "township", "county")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


@dataclass(frozen=True)
class ExportRow:
    """One logical submission as exports show it, with its current version's XML."""

    id: int
    instance_id: str
    created_at: datetime
    updated_at: datetime | None
    review_state: str | None
    submitter_id: int | None
    submitter_name: str | None
    device_id: str | None
    edits: int
    form_version: str
    attachments_present: int
    attachments_expected: int
    version_id: int
    xml: bytes | None  # None when the stored flattened copy is read instead (`sync.exports.stored`)
    flat: bytes | None = None
    texts: str | None = None  # the exports' stored texts, where asked for (`sync.exports.stored`)

    def system(self) -> dict[str, Any]:
        """The values ``$filter`` and OData's ``__system`` see."""
        return {
            "__id": self.instance_id,
            "submissionDate": _aware(self.created_at),
            "updatedAt": _aware(self.updated_at),
            "submitterId": str(self.submitter_id) if self.submitter_id is not None else None,
            "submitterName": self.submitter_name,
            "reviewState": self.review_state,
            "deviceId": self.device_id,
        }


@dataclass
class ExportQuery:
    """What to export: a form, an optional ``$filter``, an optional area, paging."""

    form: Form
    schema: FormSchema
    filter: CompiledFilter
    area: str | None = None
    limit: int | None = None
    offset: int = 0
    after: tuple[datetime, int] | None = None  # keyset paging: rows strictly after this (created_at, id)
    instance_id: str | None = None
    deleted_fields: bool = False  # a merged schema: the stored copies (of one version's tables) do not apply

    @property
    def filters_in_python(self) -> bool:
        return self.filter.needs_answers or self.area is not None


def system_columns() -> dict[str, ColumnElement]:
    """SQL columns of Central's ``__system`` fields, for `parse_filter`."""
    return {
        "submissionDate": Submission.created_at,
        "updatedAt": Submission.updated_at,
        "submitterId": func.coalesce(Submission.submitter_user_id, Submission.submitter_app_user_id),
        "reviewState": Submission.review_state,
        "deviceId": SubmissionVersion.device_id,
        "__id": Submission.instance_id,
    }


def form_versions_xml(session: Session | Connection, form: Form) -> list[bytes]:
    """Every published XForm of ``form``, the current one first (for ``deletedFields=true``)."""
    rows = session.execute(
        select(FormVersion.id, FormVersion.xml).where(FormVersion.form_id == form.id).order_by(FormVersion.id.desc())
    ).all()
    current = [xml for version_id, xml in rows if version_id == form.current_version_id]
    return current + [xml for version_id, xml in rows if version_id != form.current_version_id]


def build_query(
    session: Session,
    form: Form,
    *,
    filter_text: str | None = None,
    area: str | None = None,
    deleted_fields: bool = False,
    limit: int | None = None,
    offset: int = 0,
) -> ExportQuery:
    """Validate everything a request asks before any byte is sent: a bad ``$filter`` is a 400, not a cut file."""
    xforms = form_versions_xml(session, form)
    schema = merged_schema(xforms) if deleted_fields else form_schema(xforms[0])
    compiled = parse_filter(filter_text, schema, system_columns())
    if area is not None and not area.isdigit():
        from sync.errors import BadRequest

        raise BadRequest("An area is an administrative code: digits only (county, township or village).")
    return ExportQuery(
        form=form, schema=schema, filter=compiled, area=area, limit=limit, offset=offset, deleted_fields=deleted_fields
    )


def _statement(query: ExportQuery, *, count: bool = False, flat: bool = False, texts: str | None = None):  # noqa: ANN202
    attachments = SubmissionAttachment
    older = aliased(SubmissionVersion)
    expected = (
        select(func.count()).where(attachments.submission_version_id == SubmissionVersion.id).scalar_subquery()
    )
    present = (
        select(func.count())
        .where(attachments.submission_version_id == SubmissionVersion.id, attachments.present.is_(True))
        .scalar_subquery()
    )
    versions = select(func.count()).where(older.submission_id == Submission.id).scalar_subquery()
    columns: list[Any] = [
        Submission.id,
        Submission.instance_id,
        Submission.created_at,
        Submission.updated_at,
        Submission.review_state,
        func.coalesce(Submission.submitter_user_id, Submission.submitter_app_user_id),
        func.coalesce(AppUser.display_name, User.email),
        SubmissionVersion.device_id,
        versions - 1,
        FormVersion.version,
        present,
        expected,
        SubmissionVersion.id,
        *_content(query, flat, texts),
    ]
    if query.area is not None:
        columns.append(in_area_registry(query.area))  # after the ExportRow's columns
    statement = (
        select(*columns)
        .join(SubmissionVersion, SubmissionVersion.submission_id == Submission.id)
        .join(FormVersion, FormVersion.id == SubmissionVersion.form_version_id)
        .outerjoin(AppUser, AppUser.id == Submission.submitter_app_user_id)
        .outerjoin(User, User.id == Submission.submitter_user_id)
        .where(Submission.form_id == query.form.id, SubmissionVersion.current.is_(True), *query.filter.sql)
    )
    if query.instance_id is not None:
        statement = statement.where(Submission.instance_id == query.instance_id)
    if count:
        return select(func.count()).select_from(statement.with_only_columns(Submission.id).subquery())
    if query.after is not None:
        created, ident = query.after
        bound = literal(created, type_=Submission.created_at.type)
        statement = statement.where(tuple_(Submission.created_at, Submission.id) < tuple_(bound, ident))
    return statement.order_by(Submission.created_at.desc(), Submission.id.desc())


def _content(query: ExportQuery, flat: bool, texts: str | None) -> list[Any]:
    """The XML, the stored rows and the stored texts, each read only where it is used: the copies of a
    version of the form's current version (when the export's schema is that version's), else the XML.
    ``texts`` is the mark of the texts the caller reads (`sync.exports.stored.TEXTS_MARK`); texts of
    another format are not read, and that version's rows are."""
    if not flat or query.deleted_fields or query.form.current_version_id is None:
        return [SubmissionVersion.xml, null(), null()]
    of_current = SubmissionVersion.form_version_id == query.form.current_version_id
    usable = and_(SubmissionVersion.flat.is_not(None), of_current)
    if texts is None:
        text_usable: ColumnElement[bool] = false()
        text: Any = null()
    else:
        text_usable = and_(SubmissionVersion.texts.startswith(texts), of_current)
        text = case((text_usable, SubmissionVersion.texts), else_=null())
    copy = case((text_usable, null()), (usable, SubmissionVersion.flat), else_=null())
    if query.filters_in_python:  # the filter reads the answers from the parsed XML
        return [SubmissionVersion.xml, copy, text]
    return [case((text_usable, null()), (usable, null()), else_=SubmissionVersion.xml), copy, text]


def in_area_registry(area: str) -> ColumnElement[bool]:
    """Whether a submission belongs to a household of ``area`` in the registry (any history table)."""
    prefix = f"{area}%"
    terms: list[ColumnElement[bool]] = []
    for table in (BaselineRecord, HousingAppraisal, WaterSurvey, IncomeCheck):
        terms.append(
            exists()
            .where(table.submission_id == Submission.id)
            .where(table.household_id == Household.id)
            .where(Household.village.like(prefix))
        )
    return or_(*terms) if terms else false()


def in_area(row_in_registry: bool, schema: FormSchema, root: etree._Element | None, area: str) -> bool:
    """THE area rule: a household whose village code starts with ``area`` (through the registry), or a
    submission whose own ``village``/``township``/``county`` answer does."""
    if row_in_registry:
        return True
    if root is None:
        return False
    for name in AREA_FIELDS:
        found = schema.leaf_by_name(name)
        if found is not None:
            value = answer_text(root, found)
            if value and value.startswith(area):
                return True
    return False


def count_rows(connection: Connection, query: ExportQuery) -> int:
    """How many root rows the export will have (a full pass when the filter needs the answers)."""
    if not query.filters_in_python:
        total = connection.scalar(_statement(query, count=True)) or 0
        return max(0, min(total - query.offset, query.limit if query.limit is not None else total))
    return sum(1 for _ in iter_rows(connection, ExportQuery(**{**vars(query), "limit": None, "offset": 0})))


def iter_rows(
    connection: Connection,
    query: ExportQuery,
    *,
    parse: bool = True,
    flat: bool = False,
    texts: str | None = None,
) -> Iterator[tuple[ExportRow, etree._Element | None]]:
    """Each matching submission with its parsed instance, newest first, streamed in batches.

    ``parse=False`` skips parsing where the filters do not need the answers (the instance is then None):
    the media pass needs only the metadata. ``flat=True`` reads the stored flattened copy where it
    applies, and the XML only where it does not (`sync.exports.stored.iter_tables`), parsing nothing
    unless the filters need the answers; ``texts`` (a format's mark) also the stored texts of that format,
    and then neither the rows nor the XML of a version that has them."""
    statement = _statement(query, flat=flat, texts=texts)
    parse = parse and not flat
    python = query.filters_in_python
    if not python:
        if query.offset:
            statement = statement.offset(query.offset)
        if query.limit is not None:
            statement = statement.limit(query.limit)
    skipped = 0
    sent = 0
    result = connection.execution_options(yield_per=BATCH).execute(statement)
    row_fields = len(fields(ExportRow))  # the statement's columns up to the area mark
    try:
        for raw in result:
            row = ExportRow(*raw[:row_fields])
            root = parse_xml(row.xml) if parse or python else None
            if python:
                if query.area is not None and not in_area(bool(raw[row_fields]), query.schema, root, query.area):
                    continue
                if not query.filter.matches(row.system(), lambda found, root=root: typed_answer(root, found)):
                    continue
                if skipped < query.offset:
                    skipped += 1
                    continue
                if query.limit is not None and sent >= query.limit:
                    break
            sent += 1
            yield row, root
    finally:
        result.close()


def parse_xml(xml: bytes) -> etree._Element:
    """A stored instance (checked with defusedxml when it arrived) parsed fast, without entities or network."""
    return etree.fromstring(xml, _PARSER)


def answer_text(root: etree._Element, found: Field) -> str | None:
    """The text of a leaf outside repeats (the first one met), or None."""
    node: etree._Element | None = root
    for step in found.path:
        if node is None:
            return None
        node = _child(node, step)
    if node is None:
        return None
    return (node.text or "").strip()


def _child(node: etree._Element, name: str) -> etree._Element | None:
    for child in node:
        if isinstance(child.tag, str) and etree.QName(child).localname == name:
            return child
    return None


def typed_answer(root: etree._Element, found: Field) -> Any:
    """An answer as ``$filter`` compares it: numbers, dates and times typed by the form's bind; '' is None."""
    return typed(found.kind, answer_text(root, found))


def typed(kind: str, text: str | None) -> Any:
    if text is None or text == "":
        return None
    try:
        if kind == "int":
            return int(text)
        if kind == "decimal":
            return float(text)
        if kind == "date":
            return date.fromisoformat(text[:10])
        if kind == "dateTime":
            return _aware(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return text
    return text


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)



def select_values(text: str | None) -> Sequence[str]:
    return text.split() if text else ()



