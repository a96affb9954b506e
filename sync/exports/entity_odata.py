"""The registry's ``households`` entity list as OData, in ODK Central's shapes (``.../datasets/households.svc``).

Central serves every dataset as one entity set, ``Entities``: each row has ``__id`` (the entity UUID),
``label``, ``__system`` (createdAt, creatorId, creatorName, updates, updatedAt, deletedAt, version,
conflict) and every property as a string, and its ``$metadata`` declares them all ``Edm.String``
(docs/exports.md 2). pyodk's ``entities.get_table()`` reads this feed. The rows come from the registry
(`sync.registry.entities`: the same households, versions and property values as the entity listing),
newest first as Central orders entities, read a page of households at a time and streamed.
``$filter`` runs in SQL on ``__id``, ``__system/version`` and, beyond Central, on the properties with
their real types (``house_grade eq 'D'``, ``hh_size ge 5``); ``area`` limits the feed like every export.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from urllib.parse import urlencode
from xml.sax.saxutils import escape

from sqlalchemy import ColumnElement, Engine, func, select
from sqlalchemy.orm import Session

from sync.db.engine import read_snapshot
from sync.db.models import AppUser, Household, Submission, User
from sync.errors import BadRequest
from sync.exports.filters import parse_filter
from sync.exports.odata import NotImplementedOption, paging_number
from sync.registry.entities import DATASET, PROPERTIES, EntityVersion, in_pages, properties, registered
from sync.times import iso_ms

SUPPORTED = {"$top", "$skip", "$skiptoken", "$count", "$filter", "$select", "$format"}
SYSTEM_PROPERTIES = (
    ("createdAt", "Edm.DateTimeOffset"),
    ("creatorId", "Edm.String"),
    ("creatorName", "Edm.String"),
    ("updates", "Edm.Int64"),
    ("updatedAt", "Edm.DateTimeOffset"),
    ("deletedAt", "Edm.DateTimeOffset"),
    ("version", "Edm.Int64"),
    ("conflict", "Edm.String"),
)
# The property columns $filter compares (typed: numbers as numbers), as the entity list names them.
_PROPERTY_COLUMNS: dict[str, ColumnElement] = {
    "hh_code": Household.code,
    "county": Household.county,
    "township": Household.township,
    "village": Household.village,
    "group_name": Household.group_name,
    "head_name": Household.head_name,
    "hh_size": Household.hh_size,
    "house_grade": Household.house_grade,
    "water_verdict": Household.water_verdict,
    "income_pc": Household.income_pc,
    "net_total": Household.net_total,
    "income_year": Household.income_year,
    "label": Household.label,
}
_SYSTEM_COLUMNS: dict[str, ColumnElement] = {"__id": Household.entity_id, "version": Household.entity_version}


@dataclass
class EntityQuery:
    """What a request for ``Entities`` asks, checked before the first byte is sent."""

    project_id: int
    area: str | None = None
    sql: list[ColumnElement[bool]] = field(default_factory=list)
    top: int | None = None
    skip: int = 0
    after: int | None = None  # keyset: households with a smaller id (newest first)
    count: bool = False
    select: frozenset[str] | None = None


def check_options(params: Mapping[str, str]) -> None:
    for name in params:
        if name.startswith("$") and name not in SUPPORTED:
            raise NotImplementedOption(f"The requested feature {name} is not supported by this server.")


def check_dataset(name: str) -> None:
    if name != DATASET:
        from sync.errors import NotFound

        raise NotFound(f"There is no entity list named '{name}' in this project.")


def build_query(project_id: int, params: Mapping[str, str], area: str | None) -> EntityQuery:
    """Every option parsed and checked: a bad ``$filter`` or ``$select`` is a 400 before any row is read."""
    check_options(params)
    if area is not None and len(area) not in (6, 9, 12):
        raise BadRequest("area must be a county (6 digits), township (9) or village (12) code.")
    compiled = parse_filter(
        params.get("$filter"), None, _SYSTEM_COLUMNS, system=("version",), fields=_PROPERTY_COLUMNS
    )
    query = EntityQuery(project_id=project_id, area=area, sql=compiled.sql)
    query.top = paging_number(params, "$top")
    query.skip = paging_number(params, "$skip") or 0
    query.count = (params.get("$count") or "").lower() == "true"
    token = params.get("$skiptoken")
    if token:
        try:
            query.after = int(json.loads(base64.urlsafe_b64decode(token.removeprefix("01").encode()))["id"])
        except (ValueError, KeyError, TypeError):
            raise BadRequest("The $skiptoken is not valid.") from None
    chosen = params.get("$select")
    if chosen and chosen.strip() != "*":
        names = frozenset(name.strip() for name in chosen.split(",") if name.strip())
        known = {"__id", "__system", "label", *PROPERTIES, *(f"__system/{name}" for name, _ in SYSTEM_PROPERTIES)}
        unknown = sorted(names - known)
        if unknown:
            raise BadRequest(f"Could not find a property named '{unknown[0]}'.")
        query.select = names
    return query


def service_document(base: str) -> dict:
    entity_set = {"name": "Entities", "kind": "EntitySet", "url": "Entities"}
    return {"@odata.context": f"{base}/$metadata", "value": [entity_set]}


def metadata(dataset: str = DATASET) -> bytes:
    """The EDMX (OData CSDL 4.0 XML) Central serves for a dataset: every property a string."""
    namespace = f"org.opendatakit.user.{dataset}"
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">',
        "<edmx:DataServices>",
        '<Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="org.opendatakit.entity">',
        '<ComplexType Name="metadata">',
        *(f'<Property Name="{name}" Type="{kind}"/>' for name, kind in SYSTEM_PROPERTIES),
        "</ComplexType>",
        "</Schema>",
        f'<Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="{namespace}">',
        '<EntityType Name="Entities"><Key><PropertyRef Name="__id"/></Key>',
        '<Property Name="__id" Type="Edm.String"/>',
        '<Property Name="__system" Type="org.opendatakit.entity.metadata"/>',
        '<Property Name="label" Type="Edm.String"/>',
        *(f'<Property Name="{name}" Type="Edm.String"/>' for name in PROPERTIES),
        "</EntityType>",
        f'<EntityContainer Name="{escape(dataset)}">',
        f'<EntitySet Name="Entities" EntityType="{namespace}.Entities">',
        '<Annotation Term="Org.OData.Capabilities.V1.ConformanceLevel"'
        ' EnumMember="Org.OData.Capabilities.V1.ConformanceLevelType/Minimal"/>',
        '<Annotation Term="Org.OData.Capabilities.V1.BatchSupported" Bool="false"/>',
        '<Annotation Term="Org.OData.Capabilities.V1.CountRestrictions">'
        '<Record><PropertyValue Property="Countable" Bool="true"/></Record></Annotation>',
        '<Annotation Term="Org.OData.Capabilities.V1.SortRestrictions">'
        '<Record><PropertyValue Property="Sortable" Bool="false"/></Record></Annotation>',
        '<Annotation Term="Org.OData.Capabilities.V1.ExpandRestrictions">'
        '<Record><PropertyValue Property="Expandable" Bool="false"/></Record></Annotation>',
        "</EntitySet>",
        "</EntityContainer>",
        "</Schema>",
        "</edmx:DataServices>",
        "</edmx:Edmx>",
    ]
    return "".join(out).encode("utf-8")


def _statement(session: Session, query: EntityQuery):  # noqa: ANN202 - a Select
    """The entity listing's households (`registered`: the project, the area), filtered, newest first."""
    statement = registered(session, query.project_id, query.area).where(*query.sql)
    return statement.order_by(None).order_by(Household.id.desc())


def count(session: Session, query: EntityQuery) -> int:
    statement = _statement(session, query).with_only_columns(Household.id).order_by(None)
    return session.scalar(select(func.count()).select_from(statement.subquery())) or 0


def feed(engine: Engine, query: EntityQuery, base: str, params: Mapping[str, str]) -> Iterator[bytes]:
    """The ``Entities`` document, streamed a batch of households at a time; ``$top`` pages with a nextLink."""
    with read_snapshot(engine) as connection, Session(bind=connection) as session:
        total = count(session, query) if query.count else None
        statement = _statement(session, query)
        if query.after is not None:
            statement = statement.where(Household.id < query.after)
        elif query.skip:
            statement = statement.offset(query.skip)
        limit = query.top
        if limit is not None:
            statement = statement.limit(limit + 1)  # one more tells whether a next page exists
        yield b'{"value":['
        sent, last_id, more = 0, None, False
        # a $top page ends before the rows do: closing the pages closes the server-side cursor
        with closing(in_pages(session, statement)) as pages:
            for page, versions in pages:
                if limit is not None and sent + len(page) > limit:
                    page, more = page[: limit - sent], True
                if page:
                    yield _entities(session, page, versions, query, first=sent == 0)
                    sent += len(page)
                    last_id = page[-1].id
                if more:
                    break
        tail = '],"@odata.context":' + json.dumps(f"{base}/$metadata#Entities")
        if more and last_id is not None:
            token = "01" + base64.urlsafe_b64encode(json.dumps({"id": last_id}).encode()).decode()
            link = {k: v for k, v in params.items() if k not in ("$skip", "$skiptoken")} | {"$skiptoken": token}
            tail += ',"@odata.nextLink":' + json.dumps(f"{base}/Entities?{urlencode(link)}")
        if total is not None:
            tail += f',"@odata.count":{total}'
        yield (tail + "}").encode()


def _entities(
    session: Session,
    batch: list[Household],
    versions: dict[int, list[EntityVersion]],
    query: EntityQuery,
    *,
    first: bool,
) -> bytes:
    creators = _creator_names(session, [found[0].submission_id for found in versions.values() if found])
    parts = []
    for household in batch:
        entity = _entity(household, versions[household.id], creators)
        if query.select is not None:
            entity = _selected(entity, query.select)
        parts.append(json.dumps(entity, ensure_ascii=False))
    return (("" if first else ",") + ",".join(parts)).encode("utf-8")


def _entity(household: Household, versions: list, creators: dict[int, tuple[int, str | None]]) -> dict:
    """One entity as Central's OData writes it: ``__id``, ``label``, ``__system``, then every property."""
    first = versions[0] if versions else None
    creator_id, creator_name = creators.get(first.submission_id, (0, None)) if first else (0, None)
    return {
        "__id": household.entity_id,
        "label": household.label,
        "__system": {
            "createdAt": iso_ms(first.created_at) if first else None,
            "creatorId": str(first.creator_id if first else creator_id),
            "creatorName": creator_name,
            "updates": max(0, len(versions) - 1),
            "updatedAt": iso_ms(versions[-1].created_at) if len(versions) > 1 else None,
            "deletedAt": None,
            "version": len(versions),
            "conflict": None,
        },
        **properties(household),
    }


def _selected(entity: dict, chosen: frozenset[str]) -> dict:
    """Central's ``$select``: whole ``__system`` or single ``__system/...`` fields, and named properties."""
    out = {k: v for k, v in entity.items() if k in chosen and k != "__system"}
    if "__system" in chosen:
        out["__system"] = entity["__system"]
    else:
        system = {k: v for k, v in entity["__system"].items() if f"__system/{k}" in chosen}
        if system:
            out["__system"] = system
    return {k: out[k] for k in entity if k in out}


def _creator_names(session: Session, submission_ids: list[int]) -> dict[int, tuple[int, str | None]]:
    """Who sent each registration: the app user's or account's id and display name."""
    if not submission_ids:
        return {}
    rows = session.execute(
        select(
            Submission.id,
            func.coalesce(Submission.submitter_app_user_id, Submission.submitter_user_id, 0),
            func.coalesce(AppUser.display_name, User.email),
        )
        .outerjoin(AppUser, AppUser.id == Submission.submitter_app_user_id)
        .outerjoin(User, User.id == Submission.submitter_user_id)
        .where(Submission.id.in_(submission_ids))
    )
    return {submission_id: (ident, name) for submission_id, ident, name in rows}
