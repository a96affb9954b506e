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
from json.encoder import encode_basestring
from typing import Any
from urllib.parse import quote, urlencode
from xml.sax.saxutils import escape

from sqlalchemy import Engine

from sync.db.engine import read_snapshot
from sync.errors import BadRequest, Problem
from sync.exports.flatten import FlatRow, Flattener, slots
from sync.exports.plan import Field, FormSchema, Table
from sync.exports.source import ExportQuery, ExportRow, count_rows
from sync.exports.stored import iter_tables
from sync.times import iso_ms

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


def paging_number(params: Mapping[str, str], name: str) -> int | None:
    """``$top`` or ``$skip``: absent, or a whole number (anything else is a 400)."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit():
        raise BadRequest(f"{name} must be a non-negative whole number.")
    return int(raw)


def feed_options(params: Mapping[str, str]) -> FeedOptions:
    def number(name: str) -> int | None:
        return paging_number(params, name)

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


_TEXT, _INT, _DECIMAL, _POINT, _GROUP, _REPEAT = 0, 1, 2, 3, 4, 5
_TYPED = {"int": _INT, "decimal": _DECIMAL, "geopoint": _POINT}  # every other kind is its text
# Python's json writes NaN and the infinities so; every other float as its repr.
_SPECIAL_FLOATS = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}
# One encoder for the whole feed: json.dumps with options builds a new encoder for every entity.
_ENCODE = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode
_STRING = encode_basestring  # a str as JSON text (C), as the encoder above writes strings
# A node's properties in form order: (property name, what it is, its slot or table index, detail).
Shape = list[tuple[str, int, int, Any]]


class _Converter:
    """Rows of the exports' one walker (`sync.exports.flatten`) as OData JSON; one per feed, so each
    table's shape (property names, slots, types) is compiled once, not per row."""

    def __init__(self, schema: FormSchema, options: FeedOptions, table: Table) -> None:
        self.options = options
        self.schema = schema
        self.tables = schema.tables()
        # the feed's table, with every nested one when repeats are expanded
        self.flattener = Flattener(schema, None if options.expand else [table.path])
        self.shapes = [self._shape(t.node, t, *slots(t)) for t in self.tables]

    def _shape(
        self, node: Field, table: Table, leaf_slots: dict[tuple[str, ...], int], group_slots: dict[tuple[str, ...], int]
    ) -> Shape:
        shape: Shape = []
        for child in node.children:
            if child.kind == "repeat":
                index = next(i for i, t in enumerate(self.tables) if t.path == child.path)
                if self.options.expand:
                    shape.append((child.name, _REPEAT, index, None))
                else:
                    shape.append((f"{child.name}@odata.navigationLink", _REPEAT, index, "/" + "/".join(child.path)))
            elif child.kind == "structure":
                inner = self._shape(child, table, leaf_slots, group_slots)
                shape.append((child.name, _GROUP, group_slots[child.path], inner))
            elif child.kind in _TYPED:
                shape.append((child.name, _TYPED[child.kind], leaf_slots[child.path], child))
            else:
                shape.append((child.name, _TEXT, leaf_slots[child.path], None))
        # the member's name as JSON text, ready to take its value
        return [(_STRING(prop) + ": ", code, slot, detail) for prop, code, slot, detail in shape]

    def object(
        self, shape: Shape, values: list[str | None], nav: str, children: list[dict[str, list[FlatRow]]] | None,
        key: str,
    ) -> list[str]:
        """One row's properties as JSON members (``"name": value``), written directly: building a dict per
        row and encoding it was half of the feed's time. ``children`` (expanded repeats) are the nested
        tables' rows by parent key."""
        out: list[str] = []
        for prop, code, slot, detail in shape:
            if code == _TEXT:
                text = values[slot]
                out.append(prop + (_STRING(text) if text else "null"))
            elif code == _DECIMAL:
                text = values[slot]
                try:
                    number = repr(float(text)) if text else "null"
                except ValueError:
                    number = "null"
                out.append(prop + _SPECIAL_FLOATS.get(number, number))
            elif code == _INT:
                text = values[slot]
                try:
                    out.append(prop + (repr(int(text)) if text else "null"))
                except ValueError:
                    out.append(prop + "null")
            elif code == _POINT:
                text = values[slot]
                out.append(prop + (self.point(text) if text else "null"))
            elif code == _GROUP:
                if values[slot] is None:
                    out.append(prop + "null")
                else:
                    out.append(prop + "{" + ", ".join(self.object(detail, values, nav, children, key)) + "}")
            elif children is None:
                out.append(prop + _STRING(nav + detail))
            else:
                rows = [
                    "{" + ", ".join([_ID + _STRING(repeat_id(child_key)),
                                     *self.object(self.shapes[slot], child, nav, children, child_key)]) + "}"
                    for child, _parent, child_key in children[slot].get(key, ())
                ]
                out.append(prop + "[" + ", ".join(rows) + "]")
        return out

    def point(self, text: str) -> str:
        """A geopoint as GeoJSON (or WKT with ``$wkt=true``) JSON text, null when it is not one."""
        try:
            numbers = [float(p) for p in text.split()]
        except ValueError:
            return "null"
        if len(numbers) < 2:
            return "null"
        lat, lon = numbers[0], numbers[1]
        coords = [lon, lat] + ([numbers[2]] if len(numbers) > 2 else [])
        if self.options.wkt:
            return _STRING("POINT (" + " ".join(_num(c) for c in coords) + ")")
        point: dict[str, Any] = {"type": "Point", "coordinates": coords}
        if len(numbers) > 3:
            point["properties"] = {"accuracy": numbers[3]}
        return _ENCODE(point)

    def entities(self, table: Table, row: ExportRow, tables: list[list[FlatRow]]) -> list[str]:
        """The JSON texts of the entities of ``table`` in one submission: its row (the root table) or its
        repeat rows."""
        index = self.tables.index(table) if table.parent is not None else 0
        children = _by_parent(tables) if self.options.expand else None
        nav = _row_nav(row.instance_id)
        shape = self.shapes[index]
        if table.parent is None:
            members = [
                _ID + _STRING(row.instance_id),
                *self.object(shape, tables[0][0][0], nav, children, row.instance_id),
                _SYSTEM + system_json(row),
            ]
            if self.options.select:
                chosen = self.options.select
                members = [m for m in members if _member_name(m) in chosen]
            return ["{" + ", ".join(members) + "}"]
        parent_field = _STRING(f"__{table_name(table.parent).replace('.', '-')}-id") + ": "
        out = []
        for values, parent_key, key in tables[index]:
            parent_id = parent_key if parent_key == row.instance_id else repeat_id(parent_key)
            members = [
                _ID + _STRING(repeat_id(key)),
                *self.object(shape, values, nav, children, key),
                parent_field + _STRING(parent_id),
            ]
            out.append("{" + ", ".join(members) + "}")
        return out


def _member_name(member: str) -> str:
    """The property a JSON member names, without an ``@odata`` annotation (for ``$select``)."""
    return json.loads(member[: member.index('": ') + 1]).split("@")[0]


_ID = '"__id": '
_SYSTEM = '"__system": '


def system_json(row: ExportRow) -> str:
    """`system` as JSON text."""
    return _ENCODE(system(row))


def _by_parent(tables: list[list[FlatRow]]) -> list[dict[str, list[FlatRow]]]:
    """Each table's rows grouped by their parent key (document order kept), for expanded repeats."""
    out: list[dict[str, list[FlatRow]]] = [{}]
    for rows in tables[1:]:
        grouped: dict[str, list[FlatRow]] = {}
        for flat in rows:
            grouped.setdefault(flat[1], []).append(flat)
        out.append(grouped)
    return out


def _num(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


_PLAIN_ID = re.compile(r"[A-Za-z0-9_.~:-]+")


def _row_nav(instance_id: str) -> str:
    # quote() costs more than the rest of a row's links; an ordinary ``uuid:...`` only needs its colon encoded.
    if _PLAIN_ID.fullmatch(instance_id):
        return f"Submissions('{instance_id.replace(':', '%3A')}')"
    return f"Submissions('{quote(instance_id, safe='')}')"


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
    converter = _Converter(query.schema, options, table)
    index = converter.tables.index(table)
    with read_snapshot(engine) as connection:
        total = count_rows(connection, query) if options.count and table.parent is None else None
        if options.count and table.parent is not None:
            total = sum(len(tables[index]) for _row, tables in iter_tables(connection, query, converter.flattener))
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
        for row, tables in iter_tables(connection, query, converter.flattener):
            entities = converter.entities(table, row, tables)
            start = resume_at if row.id == resume_id else 0
            for index in range(start, len(entities)):
                if skipped < options.skip and options.skiptoken is None:
                    skipped += 1
                    continue
                if options.top is not None and sent >= options.top:
                    next_token = _skiptoken(row, index)
                    break
                buffer.append(("" if first else ",") + entities[index])
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
