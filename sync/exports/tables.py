"""Submissions as Central's tables: the root table and one per repeat, with Central's columns and keys.

Column rules (docs/exports.md 1): ``SubmissionDate`` first, the data columns in depth-first order with
group paths joined by ``-`` (bare names with ``groupPaths=false``), geopoints as four columns,
select-multiples as one column plus ``{column}/{value}`` 0/1 columns with ``splitSelectMultiples=true``,
then Central's metadata columns. A repeat table has its own fields (paths relative to the repeat), then
``PARENT_KEY`` and ``KEY``, where a key reads ``uuid:.../group/repeat[1]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sync.exports.plan import Field, FormSchema, Table
from sync.exports.source import ExportRow
from sync.times import iso_ms

ROOT_TAIL = (
    "KEY",
    "SubmitterID",
    "SubmitterName",
    "AttachmentsPresent",
    "AttachmentsExpected",
    "Status",
    "ReviewState",
    "DeviceID",
    "Edits",
    "FormVersion",
)
GEO_PARTS = ("Latitude", "Longitude", "Altitude", "Accuracy")


@dataclass(frozen=True)
class Options:
    group_paths: bool = True
    split_select_multiples: bool = False


@dataclass(frozen=True)
class Column:
    header: str
    field: Field
    part: int | None = None  # geopoint component index
    choice: str | None = None  # select-multiple split value


def data_columns(table: Table, options: Options) -> list[Column]:
    columns: list[Column] = []
    for leaf in table.leaves():
        relative = leaf.path[len(table.path) :]
        name = "-".join(relative) if options.group_paths else leaf.name
        if leaf.kind == "geopoint":
            columns.extend(Column(f"{name}-{part}", leaf, part=i) for i, part in enumerate(GEO_PARTS))
            continue
        columns.append(Column(name, leaf))
        if leaf.select_multiple and options.split_select_multiples:
            columns.extend(Column(f"{name}/{value}", leaf, choice=value) for value in leaf.choices)
    return columns


def headers(table: Table, options: Options) -> list[str]:
    names = [column.header for column in data_columns(table, options)]
    if table.parent is None:
        return ["SubmissionDate", *names, *ROOT_TAIL]
    return [*names, "PARENT_KEY", "KEY"]


def file_names(schema: FormSchema, xml_form_id: str) -> dict[tuple[str, ...], str]:
    """Central's CSV file names: ``{form}.csv`` and ``{form}-{repeat}.csv`` (``~N`` when names repeat)."""
    tables = schema.tables()
    totals: dict[str, int] = {}
    for table in tables[1:]:
        totals[table.name] = totals.get(table.name, 0) + 1
    seen: dict[str, int] = {}
    names = {(): f"{_safe(xml_form_id)}.csv"}
    for table in tables[1:]:
        if totals[table.name] > 1:
            seen[table.name] = seen.get(table.name, 0) + 1
            names[table.path] = _safe(f"{xml_form_id}-{table.name}~{seen[table.name]}.csv")
        else:
            names[table.path] = _safe(f"{xml_form_id}-{table.name}.csv")
    return names


def _safe(name: str) -> str:
    return "".join("_" if ch in '/\\?%*:|"<>' or ord(ch) < 32 else ch for ch in name)


def status_of(row: ExportRow) -> str:
    return ""  # Central's Status column is about encrypted submissions; Qingling has none


def root_meta(row: ExportRow) -> list[Any]:
    return [
        row.instance_id,
        row.submitter_id if row.submitter_id is not None else "",
        row.submitter_name or "",
        row.attachments_present,
        row.attachments_expected,
        status_of(row),
        row.review_state or "",
        row.device_id or "",
        row.edits,
        row.form_version,
    ]


class RowFormat:
    """A table's leaf texts (as `sync.exports.flatten.Flattener` reads them) as its CSV columns."""

    def __init__(self, table: Table, options: Options) -> None:
        leaves = table.leaves()
        slots = {leaf.path: i for i, leaf in reversed(list(enumerate(leaves)))}
        self.columns = data_columns(table, options)
        self.specs = [(slots[column.field.path], column.part, column.choice) for column in self.columns]
        # Most tables are plain text columns, one per leaf: then a row is its texts with None as "".
        self.plain = [spec[0] for spec in self.specs] == list(range(len(leaves))) and all(
            part is None and choice is None for _slot, part, choice in self.specs
        )
        # A row's leaf texts are followed by its groups' presence marks (`sync.exports.flatten`).
        self.width = len(leaves) if any(child.kind == "structure" for child in table.node.children) else None

        self.segments = _segments(self.specs)

    def values(self, texts: list[str | None]) -> list[Any]:
        """The CSV fields of one row (None and "" both write as an empty field)."""
        if self.plain:
            # csv writes None as an empty field
            return texts if self.width is None else texts[: self.width]
        out: list[Any] = []
        for kind, slot, spec in self.segments:
            if kind == _RUN:
                out += texts[slot:spec]  # consecutive text columns, copied at once
            elif kind == _POINT:
                text = texts[slot]
                out += (text.split() + _NO_PARTS)[:4] if text else _NO_PARTS
            else:
                out.append(_field(texts[slot], spec))
        return out


_RUN, _POINT, _ONE = 0, 1, 2
_NO_PARTS = ["", "", "", ""]


def _segments(specs: list[tuple[int, int | None, str | None]]) -> list[tuple[int, int, Any]]:
    """The columns as runs of consecutive text slots, whole geopoints (four parts) and single columns:
    a row is then built a few slices at a time instead of field by field (most of a CSV's time)."""
    segments: list[tuple[int, int, Any]] = []
    index = 0
    while index < len(specs):
        slot, part, choice = specs[index]
        if part is None and choice is None:
            end = index
            while end + 1 < len(specs) and specs[end + 1] == (specs[end][0] + 1, None, None):
                end += 1
            segments.append((_RUN, slot, specs[end][0] + 1))
            index = end + 1
        elif part == 0 and specs[index : index + 4] == [(slot, k, None) for k in range(4)]:
            segments.append((_POINT, slot, None))
            index += 4
        else:
            segments.append((_ONE, slot, (part, choice)))
            index += 1
    return segments


def _field(text: str | None, spec: tuple[int | None, str | None]) -> Any:
    part, choice = spec
    if text is None:
        return ""
    if part is not None:
        parts = text.split()
        return parts[part] if part < len(parts) else ""
    if choice is not None:
        return (1 if choice in text.split() else 0) if text else ""
    return text


def submission_date(row: ExportRow) -> str:
    return iso_ms(row.created_at)
