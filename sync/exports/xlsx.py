"""``submissions.xlsx``: one sheet per table, labelled, typed, written in one pass with flat memory.

Written with XlsxWriter in constant-memory mode (`Book`): each sheet's rows go to its own temporary file
as they are appended and only the current row is held, so memory stays flat however many rows; the
workbook is assembled into a temporary file and then streamed. XlsxWriter was chosen over openpyxl's
write-only mode by measurement: it writes the same workbook in a fraction of the CPU time
(docs/performance.md, Exports). Strings stay strings: a text that starts with ``=`` or looks like a URL
is written as text, never as a formula or a link.

Header rows: the column names (Central's CSV headers), then one row of question labels per asked language
(``?labels=zh-CN|en|both``). Select answers show their choice labels; ``?codes=true`` adds a ``:code``
column after each. Numbers are numbers, dates and times real Excel dates (times as recorded on the device,
since Excel has no time zones). A table longer than a sheet can hold (Excel opens at most 1,048,576 rows)
goes on in a continuation sheet (``members~2``, ...) with the same header rows, so no row is cut off.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import date, datetime
from typing import IO, Any

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


class Book:
    """An XLSX workbook written row by row (XlsxWriter, constant memory), then streamed by `chunks`.

    Sheets are added with `table`; each one's continuation sheets are placed right after it, before the
    next table's, though they are created later."""

    def __init__(self) -> None:
        import xlsxwriter  # imported by the first XLSX download, not at start-up

        self.handle: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed by `chunks`
        self.book = xlsxwriter.Workbook(
            self.handle,
            {
                "constant_memory": True,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
            },
        )
        self.used: set[str] = set()
        self.tables: list[list[Any]] = []  # each table's sheets, in order
        date_format = self.book.add_format({"num_format": "yyyy-mm-dd"})
        datetime_format = self.book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        self._handlers = {
            date: lambda sheet, row, col, value, *_: sheet.write_datetime(row, col, value, date_format),
            datetime: lambda sheet, row, col, value, *_: sheet.write_datetime(row, col, value, datetime_format),
        }

    def table(self, name: str, headers: list[list[Any]]) -> _Sheets:
        self.tables.append([])
        return _Sheets(self, sheet_title(name, self.used), headers, self.tables[-1])

    def add_sheet(self, title: str) -> Any:  # noqa: ANN401 - an xlsxwriter Worksheet
        sheet = self.book.add_worksheet(title)
        for kind, handler in self._handlers.items():
            sheet.add_write_handler(kind, handler)
        return sheet

    def chunks(self) -> Iterator[bytes]:
        """Close the workbook (its sheets in table order) and yield the file's bytes."""
        try:
            sheets = self.book.worksheets()
            sheets[:] = [sheet for table in self.tables for sheet in table]
            for index, sheet in enumerate(sheets):
                sheet.index = index
            self.book.close()
            self.handle.seek(0)
            while chunk := self.handle.read(CHUNK):
                yield chunk
        finally:
            self.handle.close()


class _Sheets:
    """One table's sheets: rows are appended to the current one, and a new sheet with the same header rows
    is started when it is full (``EXCEL_ROWS``)."""

    def __init__(self, book: Book, title: str, headers: list[list[Any]], sheets: list[Any]) -> None:
        self.book, self.title, self.headers, self.sheets = book, title, headers, sheets
        self.number = 1
        self._start(title)

    def _start(self, title: str) -> None:
        self.sheet = self.book.add_sheet(title)
        self.sheets.append(self.sheet)
        self.rows = 0
        for header in self.headers:
            self.sheet.write_row(self.rows, 0, header)
            self.rows += 1

    def append(self, row: list[Any]) -> None:
        if self.rows >= EXCEL_ROWS:
            self.number += 1
            self._start(sheet_title(f"{self.title[:27]}~{self.number}", self.book.used))
        self.sheet.write_row(self.rows, 0, row)
        self.rows += 1


def workbook(
    engine: Engine, query: ExportQuery, sheet_names: dict[tuple[str, ...], str], options: Options,
    *, languages: tuple[str, ...], codes: bool,
) -> Iterator[bytes]:
    tables = query.schema.tables()
    flattener = Flattener(query.schema)
    book = Book()
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
        sheets.append(book.table(sheet_names[table.path], headers))
        columns.append([(c, c.column.field.path) for c in typed])
    slots = [_slots(table) for table in tables]
    language = languages[0]
    try:
        with read_snapshot(engine) as connection:
            for row, flat in iter_tables(connection, query, flattener):
                for index, rows in enumerate(flat):
                    for texts, parent_key, key in rows:
                        values = _cells(columns[index], slots[index], texts, language)
                        if index == 0:
                            sheets[0].append([_naive(row.created_at), *values, *root_meta(row)])
                        else:
                            sheets[index].append([*values, parent_key, key])
        yield from book.chunks()
    finally:
        book.handle.close()  # also when the download fails or is abandoned midway


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
