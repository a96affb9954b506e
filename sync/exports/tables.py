"""Submissions as Central's tables: the root table and one per repeat, with Central's columns and keys.

Column rules (docs/exports.md 1): ``SubmissionDate`` first, the data columns in depth-first order with
group paths joined by ``-`` (bare names with ``groupPaths=false``), geopoints as four columns,
select-multiples as one column plus ``{column}/{value}`` 0/1 columns with ``splitSelectMultiples=true``,
then Central's metadata columns. A repeat table has its own fields (paths relative to the repeat), then
``PARENT_KEY`` and ``KEY``, where a key reads ``uuid:.../group/repeat[1]``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from lxml import etree

from sync.exports.plan import Field, FormSchema, Table
from sync.exports.source import ExportRow, iso_ms

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


class TableReader:
    """Reads one table's rows out of parsed instances, with values formatted as text (Central's CSV)."""

    def __init__(
        self,
        schema: FormSchema,
        table: Table,
        options: Options,
        format_value: Callable[[Column, str], Any] | None = None,
    ) -> None:
        self.table = table
        self.steps = tuple(
            (step, schema.find(table.path[: depth + 1]).kind == "repeat") for depth, step in enumerate(table.path)
        )
        self.columns = data_columns(table, options)
        self.index = {column.field.path: i for i, column in reversed(list(enumerate(self.columns)))}
        self.width = len(self.columns)
        self.format = format_value

    def rows(self, row: ExportRow, root: etree._Element) -> Iterator[tuple[list[Any], str, str]]:
        """``(values, parent_key, key)`` for each instance of this table in one submission."""
        if self.table.parent is None:
            yield self._values(root, self.table.node), row.instance_id, row.instance_id
            return
        for element, parent_key, key in _instances(root, self.steps, row.instance_id):
            yield self._values(element, self.table.node), parent_key, key

    def _values(self, element: etree._Element, node: Field) -> list[Any]:
        texts: dict[tuple[str, ...], str] = {}
        _collect(element, node, texts)
        out: list[Any] = [""] * self.width
        for position, column in enumerate(self.columns):
            text = texts.get(column.field.path)
            if text is None:
                if column.choice is not None:
                    out[position] = ""
                continue
            if column.part is not None:
                parts = text.split()
                out[position] = parts[column.part] if column.part < len(parts) else ""
            elif column.choice is not None:
                out[position] = (1 if column.choice in text.split() else 0) if text else ""
            elif self.format is not None:
                out[position] = self.format(column, text)
            else:
                out[position] = text
        return out


def _collect(element: etree._Element, node: Field, texts: dict[tuple[str, ...], str]) -> None:
    children = {child.name: child for child in node.children}
    for child in element:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        name = tag.rsplit("}", 1)[-1]
        found = children.get(name)
        if found is None or found.kind == "repeat":
            continue
        if found.kind == "structure":
            _collect(child, found, texts)
        elif found.path not in texts:
            texts[found.path] = (child.text or "").strip()


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


def submission_date(row: ExportRow) -> str:
    return iso_ms(row.created_at)
