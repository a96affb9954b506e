"""``submissions.parquet``: one table (the root, or a repeat with ``?table=``) with real column types.

Types from the form's binds: ``int`` int64, ``decimal`` float64, ``date`` date32, ``dateTime`` and
``SubmissionDate`` UTC timestamps (ms), geopoint parts float64, select-multiples list<string> (the codes),
split choice columns booleans, everything else strings. Rows are written as they are read (`write_rows`):
`BATCH_ROWS` at a time become typed Arrow arrays, a row group is written once those hold `GROUP_BYTES`,
and its bytes are sent as soon as pyarrow writes them. Bounding the group by bytes (not rows) keeps memory
the same whatever the number of rows and however wide a row is: 10,000 rows already fill several groups.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Connection, Engine

from sync.db.engine import read_snapshot
from sync.exports.flatten import Flattener
from sync.exports.plan import Table
from sync.exports.source import ExportQuery
from sync.exports.stored import iter_tables
from sync.exports.tables import ROOT_TAIL, Options, root_meta
from sync.exports.typed import TypedColumn, convert, typed_columns

BATCH_ROWS = 1_000  # rows held as Python lists before they become Arrow arrays
GROUP_BYTES = 2 * 1024 * 1024  # Arrow bytes of a row group before it is written (a few thousand rows)
_TIMESTAMP = pa.timestamp("ms", tz="UTC")
_TYPES = {
    "int": pa.int64(),
    "decimal": pa.float64(),
    "geo": pa.float64(),
    "date": pa.date32(),
    "dateTime": _TIMESTAMP,
    "flag": pa.bool_(),
    "select_multiple": pa.list_(pa.string()),
}
_META_TYPES = {"SubmitterID": pa.int64(), "AttachmentsPresent": pa.int64(), "AttachmentsExpected": pa.int64(),
               "Edits": pa.int64()}


class Sink:
    """A write-only file for pyarrow whose bytes are taken out after each row group."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        data = b"".join(self.chunks)
        self.chunks.clear()
        return data


def arrow_schema(table: Table, columns: list[TypedColumn]) -> pa.Schema:
    fields = [pa.field(c.header, _TYPES.get(c.kind, pa.string())) for c in columns]
    if table.parent is None:
        meta = [pa.field(name, _META_TYPES.get(name, pa.string())) for name in ROOT_TAIL]
        return pa.schema([pa.field("SubmissionDate", _TIMESTAMP), *fields, *meta])
    return pa.schema([*fields, pa.field("PARENT_KEY", pa.string()), pa.field("KEY", pa.string())])


def table_file(engine: Engine, query: ExportQuery, table: Table, options: Options) -> Iterator[bytes]:
    columns = typed_columns(table, options, codes=False)
    schema = arrow_schema(table, columns)
    with read_snapshot(engine) as connection:
        yield from write_rows(schema, _rows(connection, query, table, columns, schema))


def _rows(
    connection: Connection, query: ExportQuery, table: Table, columns: list[TypedColumn], schema: pa.Schema
) -> Iterator[list[Any]]:
    """The table's rows as the values of ``schema``'s columns, in the export's order."""
    index = query.schema.tables().index(table)
    flattener = Flattener(query.schema, [table.path])
    slots = {leaf.path: i for i, leaf in reversed(list(enumerate(table.leaves())))}
    root = table.parent is None
    plan = [(c, slots[c.column.field.path], schema.field(i + (1 if root else 0)).type)
            for i, c in enumerate(columns)]
    for row, flat in iter_tables(connection, query, flattener):
        for texts, parent_key, key in flat[index]:
            values = [_value(column, texts[slot], kind) for column, slot, kind in plan]
            if root:
                meta = root_meta(row)
                meta[5] = meta[5] or None  # Status: empty
                yield [row.created_at.replace(tzinfo=row.created_at.tzinfo or UTC), *values,
                       *[v if v != "" else None for v in meta]]
            else:
                yield [*values, parent_key, key]


def write_rows(schema: pa.Schema, rows: Iterable[list[Any]]) -> Iterator[bytes]:
    """A Parquet file of ``rows`` (lists in ``schema``'s column order), its bytes yielded row group by row
    group; memory holds at most `GROUP_BYTES` of Arrow arrays and `BATCH_ROWS` Python rows."""
    sink = Sink()
    writer = pq.ParquetWriter(sink, schema, compression="zstd")
    batches: list[pa.RecordBatch] = []
    held = 0
    pending: list[list[Any]] = []
    try:
        for row in rows:
            pending.append(row)
            if len(pending) < BATCH_ROWS:
                continue
            batches.append(record_batch(pending, schema))
            held += batches[-1].nbytes
            pending = []
            if held >= GROUP_BYTES:
                writer.write_table(pa.Table.from_batches(batches, schema))
                batches, held = [], 0
                yield sink.take()
        if pending:
            batches.append(record_batch(pending, schema))
        if batches:
            writer.write_table(pa.Table.from_batches(batches, schema))
    finally:
        writer.close()
    yield sink.take()


def record_batch(rows: list[list[Any]], schema: pa.Schema) -> pa.RecordBatch:
    columns = list(zip(*rows, strict=True))
    return pa.RecordBatch.from_arrays(
        [pa.array(col, type=f.type) for col, f in zip(columns, schema, strict=True)], schema=schema
    )


def _value(column: TypedColumn, text: str | None, kind: pa.DataType) -> Any:
    if column.kind == "select_multiple":
        return text.split() if text else None
    value = convert(column, text, None)
    if value is None:
        return None
    if kind == _TIMESTAMP:
        return value.astimezone(UTC) if isinstance(value, datetime) and value.tzinfo else (
            value.replace(tzinfo=UTC) if isinstance(value, datetime) else None)
    if kind == pa.date32():
        return value if isinstance(value, date) else None
    if kind in (pa.int64(), pa.float64()):
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if kind == pa.string():
        return str(value)
    return value
