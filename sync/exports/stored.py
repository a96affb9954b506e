"""The stored copy of each submission version, written at ingestion and read back by every export.

Parsing each instance and walking it were two thirds of an export's time (docs/performance.md,
Exports). Ingestion already holds the XML and its form version, so it flattens the instance once, with
the exports' own walker (`sync.exports.flatten.Flattener`, the schema of the version's form), and stores
the rows of every table in ``submission_versions.flat`` in the same transaction (`sync.exports.copies`
writes it). An export of the form's current version reads those rows and neither parses nor walks;
anything else falls back to the XML, so an export is never incomplete: a version not flattened yet
(stored before this column, until the ``flatten`` job has filled it in), one of an earlier form version
(its tables differ), ``deletedFields`` (a merged schema), or a copy in an older `FORMAT`.

The rows are JSON (compact, decoded in C): ``[FORMAT, tables]``, a list per table in
`FormSchema.tables()` order of rows ``[parent key, key, slot values...]``. Bump `FORMAT` whenever the
walker or the schema reader changes what a row holds; old copies are then ignored.

Beside the rows, ``submission_versions.texts`` holds the texts the commonest exports write, so they copy
text instead of converting answers: ``T{TEXTS_FORMAT}``, the plain OData feed's members
(`odata.RootText`), the CSV root row's data fields, then each repeat table's CSV lines
(`csv_files.PlainCsv`), joined by `SEPARATOR`, which cannot occur in them (XML 1.0 allows no such
character in a document). A version without texts, or with texts of another format, is exported from
its rows with the same bytes; bump `TEXTS_FORMAT` whenever what a text holds changes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from sqlalchemy import Connection, select

from sync.db.models import SubmissionVersion
from sync.exports.flatten import FlatRow, Flattener
from sync.exports.source import ExportQuery, ExportRow, iter_rows, parse_xml

FORMAT = 1
TEXTS_FORMAT = 1
SEPARATOR = "\x1e"  # ASCII's record separator
TEXTS_MARK = f"T{TEXTS_FORMAT}{SEPARATOR}"


def read_copy(flat: bytes, widths: list[int]) -> list[list[FlatRow]] | None:
    """The tables of a stored copy, or None when it is of another format or shape than ``widths`` says."""
    data = json.loads(flat.decode("utf-8"))  # json.loads would first sniff the bytes' encoding
    if data[0] != FORMAT or len(data[1]) != len(widths):
        return None
    tables = [[(row[2:], row[0], row[1]) for row in rows] for rows in data[1]]
    for rows, width in zip(tables, widths, strict=True):
        if rows and len(rows[0][0]) != width:
            return None
    return tables


class Texts:
    """The stored texts of one copy (see the module's docstring), each split off only when it is read."""

    __slots__ = ("texts",)

    def __init__(self, texts: str) -> None:
        self.texts = texts

    def odata(self) -> str:
        return self.texts.split(SEPARATOR, 2)[1]

    def csv(self, tables: int) -> list[str]:
        """The CSV root row's fields and the lines of the first ``tables`` - 1 repeat tables."""
        return self.texts.split(SEPARATOR, tables + 2)[2 : tables + 2]


def iter_tables(
    connection: Connection, query: ExportQuery, flattener: Flattener
) -> Iterator[tuple[ExportRow, list[list[FlatRow]]]]:
    """Each matching submission (as `iter_rows`) with the rows of every table ``flattener`` wants.

    The stored copy gives all tables; the fallback walks only the wanted ones, the consumer reads those."""
    for row, tables, _texts in iter_copies(connection, query, flattener, texts=False):
        yield row, tables


def iter_copies(
    connection: Connection, query: ExportQuery, flattener: Flattener, *, texts: bool
) -> Iterator[tuple[ExportRow, list[list[FlatRow]] | None, Texts | None]]:
    """As `iter_tables`, and with ``texts`` each submission whose copy has its texts comes with them
    instead of its rows (None), which are then neither decoded nor walked."""
    widths = flattener.widths
    for row, root in iter_rows(connection, query, flat=True, texts=TEXTS_MARK if texts else None):
        if row.texts is not None:  # of this format: the query reads no other
            yield row, None, Texts(row.texts)
            continue
        tables = read_copy(row.flat, widths) if row.flat is not None else None
        if tables is None:
            if root is None:
                xml = row.xml if row.xml is not None else _xml(connection, row.version_id)
                root = parse_xml(xml)
            tables = flattener.rows(root, row.instance_id)
        yield row, tables, None


def _xml(connection: Connection, version_id: int) -> bytes:
    return connection.scalar(select(SubmissionVersion.xml).where(SubmissionVersion.id == version_id))


