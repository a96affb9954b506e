"""Central's CSV exports, streamed: ``submissions.csv`` (the root table) and ``submissions.csv.zip``.

The ZIP holds the root CSV, one CSV per repeat and, unless ``attachments=false``, ``media/`` with every
present attachment of the exported submissions. It is written by ``stream-zip`` member by member while
the database is read (one pass per table, all in one snapshot), so neither the archive nor any table is
held in memory or on disk. A failure midway raises out of the generator: the HTTP layer then ends the
response without its final chunk, so the client sees a broken download, never a short file (docs/exports.md 4).
"""

from __future__ import annotations

import csv
import io
import zlib
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, select
from stream_zip import ZIP_64, stream_zip

from media.store import BlobStore
from sync.db.engine import read_snapshot
from sync.db.models import SubmissionAttachment
from sync.exports.plan import Table
from sync.exports.source import ExportQuery, iter_rows
from sync.exports.tables import Options, TableReader, headers, root_meta, submission_date

FLUSH_BYTES = 256 * 1024
# Level 1 deflate: CSV text still shrinks about fivefold, at a fraction of the CPU of level 6.
ZIP_LEVEL = 1


def _writer() -> tuple[io.StringIO, csv.writer]:
    buffer = io.StringIO()
    return buffer, csv.writer(buffer, lineterminator="\n")


def table_csv(connection: Connection, query: ExportQuery, table: Table, options: Options) -> Iterator[bytes]:
    """One table as CSV bytes, header first, in chunks of about 256 KiB."""
    buffer, writer = _writer()
    writer.writerow(headers(table, options))
    reader = TableReader(query.schema, table, options)
    is_root = table.parent is None
    for row, root in iter_rows(connection, query):
        for values, parent_key, key in reader.rows(row, root):
            if is_root:
                writer.writerow([submission_date(row), *values, *root_meta(row)])
            else:
                writer.writerow([*values, parent_key, key])
        if buffer.tell() >= FLUSH_BYTES:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    tail = buffer.getvalue()
    if tail:
        yield tail.encode("utf-8")


def root_csv(engine: Engine, query: ExportQuery, options: Options) -> Iterator[bytes]:
    """``submissions.csv``: the root table alone."""
    with read_snapshot(engine) as connection:
        yield from table_csv(connection, query, query.schema.tables()[0], options)


def csv_zip(
    engine: Engine,
    query: ExportQuery,
    file_names: dict[tuple[str, ...], str],
    options: Options,
    *,
    store: BlobStore | None,
) -> Iterator[bytes]:
    """``submissions.csv.zip``: every table, then the media files when ``store`` is given."""
    with read_snapshot(engine) as connection:
        yield from stream_zip(_members(connection, query, file_names, options, store), get_compressobj=_deflate)


def _deflate() -> zlib._Compress:
    return zlib.compressobj(wbits=-zlib.MAX_WBITS, level=ZIP_LEVEL)


def _members(
    connection: Connection,
    query: ExportQuery,
    file_names: dict[tuple[str, ...], str],
    options: Options,
    store: BlobStore | None,
) -> Iterator[tuple[str, datetime, int, object, Iterable[bytes]]]:
    now = datetime.now(UTC)
    for table in query.schema.tables():
        yield file_names[table.path], now, 0o600, ZIP_64, table_csv(connection, query, table, options)
    if store is not None:
        for name, opener in _media(connection, query, store):
            yield f"media/{name}", now, 0o600, ZIP_64, opener()


def _media(
    connection: Connection, query: ExportQuery, store: BlobStore
) -> Iterator[tuple[str, Callable[[], Iterator[bytes]]]]:
    """Present attachments of the exported submissions, each name once (Central's ``media/`` folder)."""
    seen: set[str] = set()
    batch: list[int] = []

    def flush() -> Iterator[tuple[str, Callable[[], Iterator[bytes]]]]:
        rows = connection.execute(
            select(SubmissionAttachment.name, SubmissionAttachment.blob_key)
            .where(SubmissionAttachment.submission_version_id.in_(batch), SubmissionAttachment.present.is_(True))
            .order_by(SubmissionAttachment.id)
        ).all()
        for name, key in rows:
            if name in seen or not key:
                continue
            seen.add(name)
            yield name, (lambda key=key: _blob_chunks(store, key))

    for row, _root in iter_rows(connection, query):
        if row.attachments_present:
            batch.append(row.version_id)
        if len(batch) >= 500:
            yield from flush()
            batch = []
    if batch:
        yield from flush()


def _blob_chunks(store: BlobStore, key: str) -> Iterator[bytes]:
    handle = store.open(key)
    try:
        while chunk := handle.read(FLUSH_BYTES):
            yield chunk
    finally:
        handle.close()
