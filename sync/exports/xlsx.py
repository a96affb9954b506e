"""``submissions.xlsx``: one sheet per table, labelled, typed, written in one pass with flat memory.

openpyxl's write-only workbook keeps each sheet in its own temporary file while rows are appended, so
memory stays flat however many rows; the workbook is assembled into a temporary file and then streamed.
Header rows: the column names (Central's CSV headers), then one row of question labels per asked language
(``?labels=zh-CN|en|both``). Select answers show their choice labels; ``?codes=true`` adds a ``:code``
column after each. Numbers are numbers, dates and times real Excel dates (times as recorded on the device,
since Excel has no time zones). A table longer than a sheet can hold (Excel opens at most 1,048,576 rows)
goes on in a continuation sheet (``members~2``, ...) with the same header rows, so no row is cut off.
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
EXCEL_ROWS = 1_048_576  # the most rows a sheet of Excel (and LibreOffice) opens
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
        typed = typed_columns(table, options, codes=codes)
        root = table.parent is None
        names = [c.header for c in typed]
        headers = [["SubmissionDate", *names, *_ROOT_TAIL] if root else [*names, "PARENT_KEY", "KEY"]]
        for language in languages:
            labels = [c.labels[language] for c in typed]
            tail = [*labels, "PARENT_KEY", "KEY"]
            headers.append([ROOT_TAIL_LABELS[language], *labels, *_ROOT_TAIL] if root else tail)
        sheets.append(_Sheets(book, sheet_names[table.path], headers, used))
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


class _Sheets:
    """One table's sheets: rows are appended to the current one, and a new sheet with the same header rows
    is started when it is full (``EXCEL_ROWS``)."""

    def __init__(self, book, name: str, headers: list[list], used: set[str]) -> None:  # noqa: ANN001
        self.book, self.headers, self.used = book, headers, used
        self.number = 1
        self.title = sheet_title(name, used)
        self._start(self.title)

    def _start(self, title: str, after: object | None = None) -> None:
        # A continuation sheet goes right after the one it continues, before the next table's.
        index = None if after is None else self.book.worksheets.index(after) + 1
        self.sheet = self.book.create_sheet(title, index)
        for header in self.headers:
            self.sheet.append(header)
        self.rows = len(self.headers)

    def append(self, row: list) -> None:
        if self.rows >= EXCEL_ROWS:
            self.number += 1
            self._start(sheet_title(f"{self.title[:27]}~{self.number}", self.used), after=self.sheet)
        self.sheet.append(row)
        self.rows += 1


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
