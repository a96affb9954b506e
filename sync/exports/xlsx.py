"""``submissions.xlsx``: one sheet per table, labelled, typed, written in one pass with flat memory.

openpyxl's write-only workbook keeps each sheet in its own temporary file while rows are appended, so
memory stays flat however many rows; the workbook is assembled into a temporary file and then streamed.
Header rows: the column names (Central's CSV headers), then one row of question labels per asked language
(``?labels=zh-CN|en|both``). Select answers show their choice labels; ``?codes=true`` adds a ``:code``
column after each. Numbers are numbers, dates and times real Excel dates (times as recorded on the device,
since Excel has no time zones).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import Engine

from sync.db.engine import read_snapshot
from sync.exports.flatten import Flattener
from sync.exports.source import ExportQuery
from sync.exports.stored import iter_tables
from sync.exports.tables import ROOT_TAIL as _ROOT_TAIL
from sync.exports.tables import Options, root_meta
from sync.exports.typed import TypedColumn, convert, typed_columns

CHUNK = 256 * 1024
ROOT_TAIL_LABELS = {"zh-CN": "提交时间", "en": "Submission date"}
_SHEET_FORBIDDEN = set('[]:*?/\\')


def sheet_title(name: str, used: set[str]) -> str:
    """An Excel sheet name: at most 31 characters, none of ``[]:*?/\\``, unique in the workbook."""
    title = "".join("_" if ch in _SHEET_FORBIDDEN else ch for ch in name)[:31] or "data"
    base, n = title, 1
    while title.lower() in used:
        n += 1
        title = f"{base[: 31 - len(str(n)) - 1]}~{n}"
    used.add(title.lower())
    return title


def workbook(
    engine: Engine, query: ExportQuery, sheet_names: dict[tuple[str, ...], str], options: Options,
    *, languages: tuple[str, ...], codes: bool,
) -> Iterator[bytes]:
    from openpyxl import Workbook  # 33 MiB, imported by the first XLSX download

    tables = query.schema.tables()
    flattener = Flattener(query.schema)
    book = Workbook(write_only=True)
    used: set[str] = set()
    sheets, columns = [], []
    for table in tables:
        sheet = book.create_sheet(sheet_title(sheet_names[table.path], used))
        typed = typed_columns(table, options, codes=codes)
        root = table.parent is None
        names = [c.header for c in typed]
        sheet.append(["SubmissionDate", *names, *_ROOT_TAIL] if root else [*names, "PARENT_KEY", "KEY"])
        for language in languages:
            labels = [c.labels[language] for c in typed]
            if root:
                sheet.append([ROOT_TAIL_LABELS[language], *labels, *_ROOT_TAIL])
            else:
                sheet.append([*labels, "PARENT_KEY", "KEY"])
        sheets.append(sheet)
        columns.append([(c, c.column.field.path) for c in typed])
    slots = [_slots(table) for table in tables]
    language = languages[0]
    with read_snapshot(engine) as connection:
        for row, flat in iter_tables(connection, query, flattener):
            for index, rows in enumerate(flat):
                for texts, parent_key, key in rows:
                    values = _cells(columns[index], slots[index], texts, language)
                    if index == 0:
                        sheets[0].append([_naive(row.created_at), *values, *root_meta(row)])
                    else:
                        sheets[index].append([*values, parent_key, key])
    with tempfile.TemporaryFile() as handle:
        book.save(handle)
        handle.seek(0)
        while chunk := handle.read(CHUNK):
            yield chunk


def _slots(table) -> dict[tuple[str, ...], int]:  # noqa: ANN001 - a plan.Table
    return {leaf.path: i for i, leaf in reversed(list(enumerate(table.leaves())))}


def _cells(
    columns: list[tuple[TypedColumn, tuple[str, ...]]], slots: dict[tuple[str, ...], int],
    texts: list[str | None], language: str,
) -> list[object]:
    out: list[object] = []
    for column, path in columns:
        value = convert(column, texts[slots[path]], language)
        out.append(_naive(value) if isinstance(value, datetime) else value)
    return out


def _naive(value: datetime) -> datetime:
    return value.replace(tzinfo=None)
