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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from json.encoder import encode_basestring
from operator import itemgetter
from typing import Any
from urllib.parse import quote, urlencode
from xml.sax.saxutils import escape

from sqlalchemy import Engine

from sync.db.engine import read_snapshot
from sync.errors import BadRequest, Problem
from sync.exports.flatten import FlatRow, Flattener, slots
from sync.exports.plan import Field, FormSchema, Table
from sync.exports.source import ExportQuery, ExportRow, count_rows
from sync.exports.stored import iter_copies, iter_tables
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
# ``__system`` as Central declares it (deletedAt is null here: a deleted submission is in no feed), and
# Central's two enumerations: what ``status`` and ``reviewState`` may hold besides null. Central leaves
# the members' values implicit (0, 1, ...); they are written out, as CSDL allows, because python-odata
# (an OData client in use) reads an enumeration only with them.
SYSTEM_PROPERTIES = (
    ("submissionDate", "Edm.DateTimeOffset"),
    ("updatedAt", "Edm.DateTimeOffset"),
    ("deletedAt", "Edm.DateTimeOffset"),
    ("submitterId", "Edm.String"),
    ("submitterName", "Edm.String"),
    ("attachmentsPresent", "Edm.Int64"),
    ("attachmentsExpected", "Edm.Int64"),
    ("status", "org.opendatakit.submission.Status"),
    ("reviewState", "org.opendatakit.submission.ReviewState"),
    ("deviceId", "Edm.String"),
    ("edits", "Edm.Int64"),
    ("formVersion", "Edm.String"),
)


ENUM_TYPES = (
    ("Status", ("notDecrypted", "missingEncryptedFormData")),
    ("ReviewState", ("hasIssues", "edited", "rejected", "approved")),  # sync.review.reviews, in Central's order
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
        *(
            f'<EnumType Name="{name}">'
            + "".join(f'<Member Name="{m}" Value="{i}"/>' for i, m in enumerate(members))
            + "</EnumType>"
            for name, members in ENUM_TYPES
        ),
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


def repeat_id(key: str) -> str:
    """A repeat row's ``__id``: a stable hash of its Central KEY (``uuid:.../members[2]``)."""
    return hashlib.sha1(key.encode("utf-8")).hexdigest()


_TEXT, _INT, _DECIMAL, _POINT, _GROUP, _REPEAT, _EXTRA = 0, 1, 2, 3, 4, 5, 6
_TYPED = {"int": _INT, "decimal": _DECIMAL, "geopoint": _POINT}  # every other kind is its text
# Python's json writes NaN and the infinities so; every other float as its repr.
_SPECIAL_FLOATS = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}
_STRING = encode_basestring  # a str as JSON text (C), as Python's json writes strings without ensure_ascii
# A node's properties in form order: (property name as JSON text and ": ", what it is, its slot, detail).
Shape = list[tuple[str, int, int, Any]]


def _getter(indexes: list[int]) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """``itemgetter`` that always answers a tuple (``itemgetter(i)`` alone answers the item)."""
    if len(indexes) == 1:
        index = indexes[0]
        return lambda values: (values[index],)
    return itemgetter(*indexes) if indexes else lambda _values: ()


class _Template:
    """One object's members compiled into a ``%`` format: every text, int and decimal value of a row is
    converted by a C loop (``map``) in one go, and the members are put in place by one ``%``, not a
    Python step per property (that loop was most of the feed's time, docs/performance.md, Exports).
    A row the fast path cannot take (an absent or malformed value) takes each value on its own, with
    the same results."""

    def __init__(self, shape: Shape) -> None:
        self.shape = shape
        self.format = "{" + ", ".join(prop.replace("%", "%%") + "%s" for prop, _code, _slot, _detail in shape) + "}"
        buckets: dict[int, list[int]] = {_EXTRA: [], _TEXT: [], _INT: [], _DECIMAL: [], -1: []}
        place: list[tuple[int, int]] = []
        for position, (_prop, code, slot, _detail) in enumerate(shape):
            bucket = code if code in buckets else -1
            place.append((bucket, len(buckets[bucket])))
            buckets[bucket].append(slot if bucket != -1 else position)
        self.extras = len(buckets[_EXTRA])
        self.texts, self.ints, self.decimals = (_getter(buckets[c]) for c in (_TEXT, _INT, _DECIMAL))
        self.has = [bool(buckets[c]) for c in (_TEXT, _INT, _DECIMAL)]
        self.others = [shape[position] for position in buckets[-1]]  # points, groups, repeats
        offsets, total = {}, 0
        for bucket in (_EXTRA, _TEXT, _INT, _DECIMAL, -1):
            offsets[bucket] = total
            total += len(buckets[bucket])
        self.order = _getter([offsets[bucket] + index for bucket, index in place])


# Texts that Python's json writes unchanged once they are parsed: an int as int() then repr() gives it back
# (no sign on 0, no leading zeros, none of the "_" or spaces int() accepts), a decimal as float() then
# repr() gives it back (at most 15 significant digits, so the double keeps them; no trailing zeros but
# ".0"; between 1e-4 and 1e15, where repr writes no exponent). Most stored answers are so: the C regex
# replaces two conversions in Python per value (docs/performance.md, Exports).
_INT_TEXT = r"(?:-?[1-9][0-9]{0,17}|0)"  # longer ones go the slow way (int() refuses 4,300 digits)


def _decimal(separator: str) -> str:
    return (
        rf"(?=[^{separator}]{{1,16}}(?:{separator}|\Z))"  # at most 16 characters: 15 digits, sign or point
        r"-?(?:(?:[1-9][0-9]*|0(?!\.0000))\.[0-9]*[1-9]|(?:[1-9][0-9]*|0)\.0)"
    )


_INTS = re.compile(rf"{_INT_TEXT}(?:,{_INT_TEXT})*")
_DECIMALS = re.compile(rf"{_decimal(',')}(?:,{_decimal(',')})*")
_POINT_TEXT = re.compile(rf"({_decimal(' ')}) ({_decimal(' ')})(?: ({_decimal(' ')})(?: ({_decimal(' ')}))?)?")


def _texts(values: tuple[str | None, ...]) -> list[str]:
    if None in values or "" in values:
        return [_STRING(text) if text else "null" for text in values]
    return list(map(_STRING, values))


def _ints(values: tuple[str | None, ...]) -> list[str] | tuple[str, ...]:
    if all(values) and _INTS.fullmatch(",".join(values)):
        return values  # each already reads as Python's json writes its int
    return [_int_text(text) for text in values]


def _int_text(text: str | None) -> str:
    try:
        return repr(int(text)) if text else "null"
    except ValueError:
        return "null"


def _decimals(values: tuple[str | None, ...]) -> list[str] | tuple[str, ...]:
    if all(values) and _DECIMALS.fullmatch(",".join(values)):
        return values  # each already reads as Python's json writes its float
    try:
        out = list(map(repr, map(float, values)))
    except (ValueError, TypeError):  # absent, empty or not a number: null
        out = [_decimal_text(text) for text in values]
    if "nan" in out or "inf" in out or "-inf" in out:
        return [_SPECIAL_FLOATS.get(number, number) for number in out]
    return out


def _decimal_text(text: str | None) -> str:
    try:
        return repr(float(text)) if text else "null"
    except ValueError:
        return "null"


def _float(value: float) -> str:
    """A float as Python's json writes it."""
    text = repr(value)
    return _SPECIAL_FLOATS.get(text, text)


class _Converter:
    """Rows of the exports' one walker (`sync.exports.flatten`) as OData JSON; one per feed, so each
    table's shape (property names, slots, types) is compiled once, not per row."""

    def __init__(self, schema: FormSchema, options: FeedOptions, table: Table) -> None:
        self.options = options
        self.schema = schema
        self.tables = schema.tables()
        # the feed's table, with every nested one when repeats are expanded
        self.flattener = Flattener(schema, None if options.expand else [table.path])
        shapes = self.shapes = [self._shape(t.node, t, *slots(t)) for t in self.tables]
        identifier = (_ID, _EXTRA, 0, None)
        # a repeat row expanded inside its parent: its __id and properties
        self.children = [_Template([identifier, *shape]) for shape in shapes]
        index = self.tables.index(table)
        if table.parent is None:
            members = [identifier, *shapes[0], (_SYSTEM, _EXTRA, 1, None)]
            if options.select:
                members = [m for m in members if _member_name(m[0]) in options.select]
        else:
            parent_field = _STRING(f"__{table_name(table.parent).replace('.', '-')}-id") + ": "
            members = [identifier, *shapes[index], (parent_field, _EXTRA, 1, None)]
        self.entity = _Template(members)

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
                inner = _Template(self._shape(child, table, leaf_slots, group_slots))
                shape.append((child.name, _GROUP, group_slots[child.path], inner))
            elif child.kind in _TYPED:
                shape.append((child.name, _TYPED[child.kind], leaf_slots[child.path], child))
            else:
                shape.append((child.name, _TEXT, leaf_slots[child.path], None))
        # the member's name as JSON text, ready to take its value
        return [(_STRING(prop) + ": ", code, slot, detail) for prop, code, slot, detail in shape]

    def render(
        self, template: _Template, values: list[str | None], extras: tuple[str, ...], nav: str,
        children: list[dict[str, list[FlatRow]]] | None, key: str,
    ) -> str:
        """One row's object as JSON text. ``children`` (expanded repeats) are the nested tables' rows by
        parent key."""
        args = list(extras)
        has_texts, has_ints, has_decimals = template.has
        if has_texts:
            args += _texts(template.texts(values))
        if has_ints:
            args += _ints(template.ints(values))
        if has_decimals:
            args += _decimals(template.decimals(values))
        for _prop, code, slot, detail in template.others:
            if code == _POINT:
                text = values[slot]
                args.append(self.point(text) if text else "null")
            elif code == _GROUP:
                args.append("null" if values[slot] is None else self.render(detail, values, (), nav, children, key))
            elif children is None:
                args.append(_STRING(nav + detail))
            else:
                nested = self.children[slot]
                args.append("[" + ", ".join([
                    self.render(nested, child, (_STRING(repeat_id(child_key)),), nav, children, child_key)
                    for child, _parent, child_key in children[slot].get(key, ())
                ]) + "]")
        return template.format % template.order(args)

    def point(self, text: str) -> str:
        """A geopoint as GeoJSON (or WKT with ``$wkt=true``) JSON text, null when it is not one."""
        found = None if self.options.wkt else _POINT_TEXT.fullmatch(text)
        if found is not None:  # its numbers already read as json writes them
            lat, lon, altitude, accuracy = found.groups()
            coords = f"{lon}, {lat}" if altitude is None else f"{lon}, {lat}, {altitude}"
            if accuracy is None:
                return '{"type": "Point", "coordinates": [' + coords + "]}"
            return '{"type": "Point", "coordinates": [' + coords + '], "properties": {"accuracy": ' + accuracy + "}}"
        try:
            numbers = [float(p) for p in text.split()]
        except ValueError:
            return "null"
        if len(numbers) < 2:
            return "null"
        coords = [numbers[1], numbers[0], *numbers[2:3]]  # longitude, latitude, altitude
        if self.options.wkt:
            return _STRING("POINT (" + " ".join(_num(c) for c in coords) + ")")
        point = '{"type": "Point", "coordinates": [' + ", ".join(map(_float, coords)) + "]"
        if len(numbers) > 3:
            return point + ', "properties": {"accuracy": ' + _float(numbers[3]) + "}}"
        return point + "}"

    def entities(self, table: Table, row: ExportRow, tables: list[list[FlatRow]]) -> list[str]:
        """The JSON texts of the entities of ``table`` in one submission: its row (the root table) or its
        repeat rows."""
        children = _by_parent(tables) if self.options.expand else None
        nav = _row_nav(row.instance_id)
        if table.parent is None:
            extras = (_STRING(row.instance_id), system_json(row))
            return [self.render(self.entity, tables[0][0][0], extras, nav, children, row.instance_id)]
        index = self.tables.index(table)
        out = []
        for values, parent_key, key in tables[index]:
            parent_id = parent_key if parent_key == row.instance_id else repeat_id(parent_key)
            extras = (_STRING(repeat_id(key)), _STRING(parent_id))
            out.append(self.render(self.entity, values, extras, nav, children, key))
        return out


class RootText:
    """A submission's answers as the plain feed (``Submissions`` without ``$expand``, ``$select`` or
    ``$wkt``) writes them: its entity's members between ``__id`` and ``__system``. Stored with the copy of
    each version (`sync.exports.copies`), so the feed of the form's current version writes a row from
    that text and its metadata instead of converting every answer (`plain_entity`)."""

    def __init__(self, schema: FormSchema) -> None:
        self.converter = _Converter(schema, FeedOptions(), schema.tables()[0])
        self.template = _Template(self.converter.shapes[0])

    def __call__(self, values: list[str | None], instance_id: str) -> str:
        text = self.converter.render(self.template, values, (), _row_nav(instance_id), None, instance_id)
        return text[1:-1]  # the members, without the object's braces


def plain_entity(row: ExportRow, text: str) -> str:
    """A root entity of the plain feed from its stored `RootText`: the same text the converter writes."""
    members = ", " + text if text else ""
    return '{"__id": ' + _STRING(row.instance_id) + members + ', "__system": ' + system_json(row) + "}"


def _member_name(member: str) -> str:
    """The property a JSON member names, without an ``@odata`` annotation (for ``$select``)."""
    return json.loads(member[: member.index('": ') + 1]).split("@")[0]


_ID = '"__id": '
_SYSTEM = '"__system": '


def _text_or_null(value: str | None) -> str:
    return "null" if value is None else _STRING(value)


def _int_or_null(value: int | None) -> str:
    return "null" if value is None else int.__repr__(value)


def system_json(row: ExportRow) -> str:
    """``__system`` as JSON text (Central's members in Central's order), written directly: building a dict
    and encoding it cost more than the rest of a row's metadata."""
    return (
        '{"submissionDate": "' + iso_ms(row.created_at)
        + '", "updatedAt": ' + ('"' + iso_ms(row.updated_at) + '"' if row.updated_at else "null")
        + ', "deletedAt": null'
        + ', "submitterId": ' + ('"' + str(row.submitter_id) + '"' if row.submitter_id is not None else "null")
        + ', "submitterName": ' + _text_or_null(row.submitter_name)
        + ', "attachmentsPresent": ' + _int_or_null(row.attachments_present)
        + ', "attachmentsExpected": ' + _int_or_null(row.attachments_expected)
        + ', "status": null, "reviewState": ' + _text_or_null(row.review_state)
        + ', "deviceId": ' + _text_or_null(row.device_id)
        + ', "edits": ' + _int_or_null(row.edits)
        + ', "formVersion": ' + _text_or_null(row.form_version)
        + "}"
    )


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
        plain = table.parent is None and not (options.expand or options.select or options.wkt)
        for row, tables, texts in iter_copies(connection, query, converter.flattener, texts=plain):
            entities = [plain_entity(row, texts.odata())] if texts else converter.entities(table, row, tables)
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
