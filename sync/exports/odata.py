"""OData v4 for submissions, in Central's shapes: the service document, ``$metadata`` and the JSON feeds.

Groups are complex types, repeats entity sets of their own (``Submissions.members``) with a key
``__id`` and their parent's key (``__Submissions-id``), and each row carries ``__id`` and ``__system``.
Values are typed as Central types them (docs/exports.md 2). Feeds are streamed: rows are read from the
database page by page (``$top``/``$skiptoken`` are keyset paging on the submissions, a repeat table is
walked submission by submission), never gathered in memory. One module because ``$metadata`` and the
feeds must agree on every name and type (set names, parent keys, Edm types): kept apart, they drift.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode
from xml.sax.saxutils import escape

from lxml import etree
from sqlalchemy import Engine

from sync.db.engine import read_snapshot
from sync.errors import BadRequest, Problem
from sync.exports.plan import Field, FormSchema, Table
from sync.exports.source import ExportQuery, ExportRow, count_rows, iso_ms, iter_rows

SUPPORTED = {"$top", "$skip", "$skiptoken", "$count", "$filter", "$wkt", "$expand", "$select", "$orderby", "$format"}
EDM = {
    "int": "Edm.Int64",
    "decimal": "Edm.Decimal",
    "geopoint": "Edm.GeographyPoint",
    "geotrace": "Edm.GeographyLineString",
    "geoshape": "Edm.GeographyPolygon",
    "date": "Edm.Date",
    "dateTime": "Edm.DateTimeOffset",
    "boolean": "Edm.Boolean",
}
SYSTEM_PROPERTIES = (
    ("submissionDate", "Edm.DateTimeOffset"),
    ("updatedAt", "Edm.DateTimeOffset"),
    ("submitterId", "Edm.String"),
    ("submitterName", "Edm.String"),
    ("attachmentsPresent", "Edm.Int64"),
    ("attachmentsExpected", "Edm.Int64"),
    ("status", "Edm.String"),
    ("reviewState", "Edm.String"),
    ("deviceId", "Edm.String"),
    ("edits", "Edm.Int64"),
    ("formVersion", "Edm.String"),
)


class NotImplementedOption(Problem):
    """Central answers OData options it does not implement with 501.1."""

    code = "501.1"


def check_options(params: Mapping[str, str]) -> None:
    for name in params:
        if name.startswith("$") and name not in SUPPORTED:
            raise NotImplementedOption(f"The requested feature {name} is not supported by this server.")
    if params.get("$orderby") not in (None, "", "__system/submissionDate desc"):
        raise NotImplementedOption("Only $orderby=__system/submissionDate desc (the default order) is supported.")
    expand = params.get("$expand")
    if expand not in (None, "", "*"):
        raise NotImplementedOption("Only $expand=* is supported.")


def namespace(xml_form_id: str) -> str:
    return "org.opendatakit.user." + "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in xml_form_id)


def table_name(table: Table) -> str:
    return ".".join(("Submissions", *table.path))


def find_table(schema: FormSchema, name: str) -> Table:
    for table in schema.tables():
        if table_name(table) == name:
            return table
    raise NotFoundTable(f"The form has no table {name}.")


class NotFoundTable(Problem):
    code = "404.1"


# -- documents --------------------------------------------------------------------------------------


def service_document(base: str, schema: FormSchema) -> dict:
    return {
        "@odata.context": f"{base}/$metadata",
        "value": [{"name": table_name(t), "kind": "EntitySet", "url": table_name(t)} for t in schema.tables()],
    }


def metadata(schema: FormSchema, xml_form_id: str) -> bytes:
    """The EDMX (OData CSDL 4.0 XML) of the form, in Central's layout."""
    ns = namespace(xml_form_id)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">',
        "<edmx:DataServices>",
        '<Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="org.opendatakit.submission">',
        '<ComplexType Name="metadata">',
        *(f'<Property Name="{name}" Type="{kind}"/>' for name, kind in SYSTEM_PROPERTIES),
        "</ComplexType>",
        "</Schema>",
        f'<Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="{ns}">',
    ]
    complex_types: list[str] = []
    for table in schema.tables():
        name = table_name(table)
        out.append(f'<EntityType Name="{name}"><Key><PropertyRef Name="__id"/></Key>')
        out.append('<Property Name="__id" Type="Edm.String"/>')
        if table.parent is None:
            out.append('<Property Name="__system" Type="org.opendatakit.submission.metadata"/>')
        else:
            out.append(f'<Property Name="__{table_name(table.parent).replace(".", "-")}-id" Type="Edm.String"/>')
        out.extend(_properties(table.node, name, ns, complex_types))
        out.append("</EntityType>")
    out.extend(complex_types)
    out.append(f'<EntityContainer Name="{escape(xml_form_id)}">')
    for table in schema.tables():
        name = table_name(table)
        out.append(f'<EntitySet Name="{name}" EntityType="{ns}.{name}">')
        for child in _child_tables(schema, table):
            out.append(
                f'<NavigationPropertyBinding Path="{_nav_path(table, child)}" Target="{table_name(child)}"/>'
            )
        out.append("</EntitySet>")
    out.extend(["</EntityContainer>", "</Schema>", "</edmx:DataServices>", "</edmx:Edmx>"])
    return "".join(out).encode("utf-8")


def _properties(node: Field, type_name: str, ns: str, complex_types: list[str]) -> list[str]:
    out: list[str] = []
    for child in node.children:
        if child.kind == "structure":
            inner = f"{type_name}.{child.name}"
            complex_types.append(
                f'<ComplexType Name="{inner}">'
                + "".join(_properties(child, inner, ns, complex_types))
                + "</ComplexType>"
            )
            out.append(f'<Property Name="{child.name}" Type="{ns}.{inner}"/>')
        elif child.kind == "repeat":
            target = ".".join(("Submissions", *child.path))
            out.append(f'<NavigationProperty Name="{child.name}" Type="Collection({ns}.{target})"/>')
        else:
            out.append(f'<Property Name="{child.name}" Type="{EDM.get(child.kind, "Edm.String")}"/>')
    return out


def _child_tables(schema: FormSchema, table: Table) -> list[Table]:
    return [t for t in schema.tables() if t.parent is not None and t.parent.path == table.path]


def _nav_path(table: Table, child: Table) -> str:
    return "/".join(child.path[len(table.path) :])


# -- rows -------------------------------------------------------------------------------------------


@dataclass
class FeedOptions:
    wkt: bool = False
    expand: bool = False
    count: bool = False
    top: int | None = None
    skip: int = 0
    skiptoken: tuple[datetime, int, int] | None = None
    select: tuple[str, ...] | None = None


def feed_options(params: Mapping[str, str]) -> FeedOptions:
    def number(name: str) -> int | None:
        raw = params.get(name)
        if raw is None or raw == "":
            return None
        if not raw.isdigit():
            raise BadRequest(f"{name} must be a non-negative whole number.")
        return int(raw)

    def boolean(name: str) -> bool:
        return (params.get(name) or "").lower() == "true"

    token = params.get("$skiptoken")
    decoded = None
    if token:
        try:
            data = json.loads(base64.urlsafe_b64decode(token.removeprefix("01").encode()))
            decoded = (datetime.fromisoformat(data["t"]), int(data["i"]), int(data.get("n", 0)))
        except (ValueError, KeyError, TypeError):
            raise BadRequest("The $skiptoken is not valid.") from None
    select = params.get("$select")
    return FeedOptions(
        wkt=boolean("$wkt"),
        expand=params.get("$expand") == "*",
        count=boolean("$count"),
        top=number("$top"),
        skip=number("$skip") or 0,
        skiptoken=decoded,
        select=tuple(s.strip() for s in select.split(",") if s.strip()) if select else None,
    )


def _skiptoken(row: ExportRow, sent_in_row: int) -> str:
    data = {"t": row.created_at.isoformat(), "i": row.id, "n": sent_in_row}
    return "01" + base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


def system(row: ExportRow) -> dict[str, Any]:
    return {
        "submissionDate": iso_ms(row.created_at),
        "updatedAt": iso_ms(row.updated_at) if row.updated_at else None,
        "submitterId": str(row.submitter_id) if row.submitter_id is not None else None,
        "submitterName": row.submitter_name,
        "attachmentsPresent": row.attachments_present,
        "attachmentsExpected": row.attachments_expected,
        "status": None,
        "reviewState": row.review_state,
        "deviceId": row.device_id,
        "edits": row.edits,
        "formVersion": row.form_version,
    }


def repeat_id(key: str) -> str:
    """A repeat row's ``__id``: a stable hash of its Central KEY (``uuid:.../members[2]``)."""
    return hashlib.sha1(key.encode("utf-8")).hexdigest()


_TEXT, _TYPED, _GROUP, _REPEAT = 0, 1, 2, 3
_TYPED_KINDS = frozenset(("geopoint", "int", "decimal"))  # every other kind is its text
_ABSENT = object()  # a property no element has filled yet
# One encoder for the whole feed: json.dumps with options builds a new encoder for every entity.
_ENCODE = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode


class _Converter:
    """Answers as OData JSON; one per feed, so each node's name map is built once, not per element."""

    def __init__(self, schema: FormSchema, options: FeedOptions) -> None:
        self.options = options
        self.schema = schema
        self._plans: dict[int, tuple[dict[str, tuple[int, Field, str]], dict[str, Any], list[Field]]] = {}

    def _plan(self, node: Field) -> tuple[dict[str, tuple[int, Field, str]], dict[str, Any], list[Field]]:
        """A node's children by element name (with the kind and the property name), its properties in
        form order with a placeholder each, and its repeats."""
        plan = self._plans.get(id(node))
        if plan is None:
            entries: dict[str, tuple[int, Field, str]] = {}
            template: dict[str, Any] = {}
            repeats: list[Field] = []
            for child in node.children:
                if child.kind == "repeat":
                    repeats.append(child)
                    prop = child.name if self.options.expand else f"{child.name}@odata.navigationLink"
                    entries[child.name] = (_REPEAT, child, prop)
                elif child.kind == "structure":
                    entries[child.name] = (_GROUP, child, child.name)
                else:
                    entries[child.name] = (_TYPED if child.kind in _TYPED_KINDS else _TEXT, child, child.name)
                template[entries[child.name][2]] = _ABSENT
            plan = self._plans[id(node)] = (entries, template, repeats)
        return plan

    def object(self, element: etree._Element, node: Field, key: str, nav_base: str) -> dict[str, Any]:
        entries, template, repeats = self._plan(node)
        out = template.copy()
        expand = self.options.expand
        for found in repeats:
            if expand:
                out[found.name] = []
            else:
                out[f"{found.name}@odata.navigationLink"] = f"{nav_base}/{'/'.join(found.path)}"
        counts: dict[str, int] | None = None
        for child in element:
            tag = child.tag
            entry = entries.get(tag)
            if entry is None:
                if type(tag) is not str or not tag.startswith("{"):
                    continue
                tag = tag.rsplit("}", 1)[1]
                entry = entries.get(tag)
                if entry is None:
                    continue
            code, found, prop = entry
            if code == _TEXT:
                if out[prop] is _ABSENT:  # the first value met wins
                    text = child.text
                    out[prop] = (text.strip() or None) if text else None
            elif code == _TYPED:
                if out[prop] is _ABSENT:
                    out[prop] = self.value(found, (child.text or "").strip())
            elif code == _GROUP:
                out[prop] = self.object(child, found, f"{key}/{tag}", nav_base)
            elif expand:
                counts = counts if counts is not None else {}
                counts[tag] = count = counts.get(tag, 0) + 1
                child_key = f"{key}/{tag}[{count}]"
                row = {"__id": repeat_id(child_key)}
                row.update(self.object(child, found, child_key, nav_base))
                out[prop].append(row)
        for prop, value in out.items():
            if value is _ABSENT:
                out[prop] = None
        return out

    def value(self, found: Field, text: str) -> Any:
        if text == "":
            return None
        if found.kind == "geopoint":
            parts = text.split()
            try:
                numbers = [float(p) for p in parts]
            except ValueError:
                return None
            if len(numbers) < 2:
                return None
            lat, lon = numbers[0], numbers[1]
            coords = [lon, lat] + ([numbers[2]] if len(numbers) > 2 else [])
            if self.options.wkt:
                return "POINT (" + " ".join(_num(c) for c in coords) + ")"
            point: dict[str, Any] = {"type": "Point", "coordinates": coords}
            if len(numbers) > 3:
                point["properties"] = {"accuracy": numbers[3]}
            return point
        if found.kind == "int":
            try:
                return int(text)
            except ValueError:
                return None
        if found.kind == "decimal":
            try:
                return float(text)
            except ValueError:
                return None
        return text


def _instances(
    root: etree._Element, steps: tuple[tuple[str, bool], ...], instance_id: str
) -> Iterator[tuple[etree._Element, str, str]]:
    """Every instance of a repeat with Central's PARENT_KEY (the enclosing repeat's KEY, else the
    instanceID) and KEY (``uuid:.../group/repeat[n]``, n counted within its parent)."""
    # (element, key so far, key of the innermost repeat instance so far, parent key)
    frames = [(root, instance_id, instance_id, instance_id)]
    for step, is_repeat in steps:
        next_frames = []
        for element, key, repeat_key, _parent in frames:
            count = 0
            for child in element:
                tag = child.tag
                if not isinstance(tag, str) or tag.rsplit("}", 1)[-1] != step:
                    continue
                if is_repeat:
                    count += 1
                    new_key = f"{key}/{step}[{count}]"
                    next_frames.append((child, new_key, new_key, repeat_key))
                else:
                    next_frames.append((child, f"{key}/{step}", repeat_key, _parent))
        frames = next_frames
    for element, key, _repeat_key, parent in frames:
        yield element, parent, key


def _num(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


_PLAIN_ID = re.compile(r"[A-Za-z0-9_.~:-]+")


def _row_nav(instance_id: str) -> str:
    # quote() costs more than the rest of a row's links; an ordinary ``uuid:...`` only needs its colon encoded.
    if _PLAIN_ID.fullmatch(instance_id):
        return f"Submissions('{instance_id.replace(':', '%3A')}')"
    return f"Submissions('{quote(instance_id, safe='')}')"


def submission_entity(converter: _Converter, row: ExportRow, root: etree._Element) -> dict:
    schema, options = converter.schema, converter.options
    body = converter.object(root, schema.root, row.instance_id, _row_nav(row.instance_id))
    entity = {"__id": row.instance_id, **body, "__system": system(row)}
    if options.select:
        entity = {k: v for k, v in entity.items() if k in options.select or k.split("@")[0] in options.select}
    return entity


def repeat_entities(converter: _Converter, table: Table, row: ExportRow, root: etree._Element) -> Iterator[dict]:
    schema = converter.schema
    steps = tuple((step, schema.find(table.path[: i + 1]).kind == "repeat") for i, step in enumerate(table.path))
    parent_field = f"__{table_name(table.parent).replace('.', '-')}-id"
    nav = _row_nav(row.instance_id)
    for element, parent_key, key in _instances(root, steps, row.instance_id):
        parent_id = parent_key if parent_key == row.instance_id else repeat_id(parent_key)
        yield {"__id": repeat_id(key), **converter.object(element, table.node, key, nav), parent_field: parent_id}


def feed(
    engine: Engine,
    query: ExportQuery,
    table: Table,
    options: FeedOptions,
    base: str,
    params: Mapping[str, str],
) -> Iterator[bytes]:
    """The JSON document of one entity set, streamed row by row; paging by ``$top`` gives a nextLink."""
    name = table_name(table)
    converter = _Converter(query.schema, options)
    with read_snapshot(engine) as connection:
        total = count_rows(connection, query) if options.count and table.parent is None else None
        if options.count and table.parent is not None:
            total = sum(
                1
                for row, root in iter_rows(connection, query)
                for _ in repeat_entities(converter, table, row, root)
            )
        yield (
            '{"@odata.context":' + json.dumps(f"{base}/$metadata#{name}")
            + (f',"@odata.count":{total}' if total is not None else "")
            + ',"value":['
        ).encode()
        sent = 0
        skipped = 0
        next_token: str | None = None
        first = True
        buffer: list[str] = []
        resume_id, resume_at = None, 0
        if options.skiptoken is not None:
            created, resume_id, resume_at = options.skiptoken
            query.after = (created, resume_id + 1)  # keyset: this submission and every older one
        for row, root in iter_rows(connection, query):
            entities = (
                [submission_entity(converter, row, root)]
                if table.parent is None
                else list(repeat_entities(converter, table, row, root))
            )
            start = resume_at if row.id == resume_id else 0
            for index in range(start, len(entities)):
                if skipped < options.skip and options.skiptoken is None:
                    skipped += 1
                    continue
                if options.top is not None and sent >= options.top:
                    next_token = _skiptoken(row, index)
                    break
                buffer.append(("" if first else ",") + _ENCODE(entities[index]))
                first = False
                sent += 1
            if next_token is not None:
                break
            if len(buffer) >= 200:
                yield "".join(buffer).encode("utf-8")
                buffer.clear()
        if buffer:
            yield "".join(buffer).encode("utf-8")
        tail = "]"
        if next_token is not None:
            link_params = {k: v for k, v in params.items() if k not in ("$skip", "$skiptoken")}
            link_params["$skiptoken"] = next_token
            tail += ',"@odata.nextLink":' + json.dumps(f"{base}/{name}?{urlencode(link_params)}")
        yield (tail + "}").encode()



def exists(engine: Engine, query: ExportQuery) -> bool:
    """Whether ``Submissions('{instanceId}')`` names a submission the caller may see."""
    with read_snapshot(engine) as connection:
        return count_rows(connection, query) > 0
