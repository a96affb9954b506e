"""One walk over a submission's XML into the rows of every table it feeds (root and repeats).

This is the one walker of the exports: the CSV files, XLSX, Parquet and the OData feeds all read its
rows, and ingestion stores its rows for each version (`sync.exports.stored`), so an export reads them
back instead of parsing and walking the XML again (docs/performance.md, Exports). The form's schema is
compiled once into a plan, element name -> what to do (store the text in column slot N of a table, mark
a group present and descend, open a repeat row), and each parsed instance is walked once, filling every
wanted table together. The rules are Central's: the first value met wins, repeats are counted within
their parent element, a key reads ``uuid:.../group/repeat[n]`` and a repeat row's parent key is the
enclosing repeat's key or the instanceID.

A table's row has one slot per leaf (`Table.leaves()` order), then one per group of the table
(`groups()` order): "" once the group's element was met, None if it was absent, which OData tells
apart (an absent group is ``null``, a present one an object).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from lxml import etree

from sync.exports.plan import Field, FormSchema, Table

_LEAF, _GROUP, _REPEAT, _SKIP = 0, 1, 2, 3

# (values, parent key, key): values are the table's leaf texts in `Table.leaves()` order, None when absent,
# then its groups' presence marks.
FlatRow = tuple[list[str | None], str, str]


def groups(table: Table) -> list[Field]:
    """The groups of a table in depth-first order, through groups but not into nested repeats."""
    return list(_groups(table.node.children))


def _groups(fields: Iterable[Field]) -> Iterable[Field]:
    for item in fields:
        if item.kind == "structure":
            yield item
            yield from _groups(item.children)


def slots(table: Table) -> tuple[dict[tuple[str, ...], int], dict[tuple[str, ...], int]]:
    """Where each leaf's text and each group's presence sit in a row of ``table``: path -> slot."""
    leaves = table.leaves()
    leaf_slots = {leaf.path: i for i, leaf in reversed(list(enumerate(leaves)))}
    group_slots = {group.path: len(leaves) + i for i, group in enumerate(groups(table))}
    return leaf_slots, group_slots


class Flattener:
    """The compiled walk of one schema; `rows` gives, per table (in `FormSchema.tables()` order), its rows."""

    def __init__(self, schema: FormSchema, wanted: Collection[tuple[str, ...]] | None = None) -> None:
        self.tables: list[Table] = schema.tables()
        self.widths = [len(table.leaves()) + len(groups(table)) for table in self.tables]
        wanted_set = None if wanted is None else set(wanted)
        self._plan = self._compile(schema.root, 0, wanted_set)

    def _compile(self, node: Field, table_index: int, wanted: set[tuple[str, ...]] | None) -> dict[str, tuple]:
        """The plan of one table's node: its slots are the table's leaves, first occurrence of a path wins."""
        leaf_slots, group_slots = slots(self.tables[table_index])
        return self._group(node, leaf_slots, group_slots, wanted)

    def _group(
        self,
        node: Field,
        leaf_slots: dict[tuple[str, ...], int],
        group_slots: dict[tuple[str, ...], int],
        wanted: set[tuple[str, ...]] | None,
    ) -> dict[str, tuple]:
        plan: dict[str, tuple] = {}
        for child in node.children:
            if child.kind == "repeat":
                index = next(i for i, table in enumerate(self.tables) if table.path == child.path)
                if wanted is not None and not any(path[: len(child.path)] == child.path for path in wanted):
                    plan[child.name] = (_SKIP,)  # neither wanted nor enclosing a wanted table
                else:
                    emit = wanted is None or child.path in wanted
                    plan[child.name] = (_REPEAT, index, self._compile(child, index, wanted), emit)
            elif child.kind == "structure":
                inner = self._group(child, leaf_slots, group_slots, wanted)
                plan[child.name] = (_GROUP, inner, group_slots[child.path])
            else:
                plan[child.name] = (_LEAF, leaf_slots[child.path])
        return plan

    def rows(self, root: etree._Element, instance_id: str) -> list[list[FlatRow]]:
        """Every table's rows for one submission, each table's in document order."""
        out: list[list[FlatRow]] = [[] for _ in self.tables]
        values: list[str | None] = [None] * self.widths[0]
        out[0].append((values, instance_id, instance_id))
        _walk(root, self._plan, values, instance_id, instance_id, out, self.widths)
        return out


def _walk(
    element: etree._Element,
    plan: dict[str, tuple],
    values: list[str | None],
    key: str,
    repeat_key: str,
    out: list[list[FlatRow]],
    widths: list[int],
) -> None:
    counts: dict[str, int] | None = None
    for child in element:
        tag = child.tag
        entry = plan.get(tag)
        if entry is None:
            if type(tag) is not str or not tag.startswith("{"):
                continue
            tag = tag.rsplit("}", 1)[1]
            entry = plan.get(tag)
            if entry is None:
                continue
        code = entry[0]
        if code == _LEAF:
            slot = entry[1]
            if values[slot] is None:
                text = child.text
                values[slot] = text.strip() if text else ""
        elif code == _GROUP:
            values[entry[2]] = ""
            _walk(child, entry[1], values, f"{key}/{tag}", repeat_key, out, widths)
        elif code == _REPEAT:
            if counts is None:
                counts = {}
            count = counts.get(tag, 0) + 1
            counts[tag] = count
            index = entry[1]
            new_key = f"{key}/{tag}[{count}]"
            row: list[Any] = [None] * widths[index]
            if entry[3]:
                out[index].append((row, repeat_key, new_key))
            _walk(child, entry[2], row, new_key, new_key, out, widths)
