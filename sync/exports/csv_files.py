"""Central's CSV exports, streamed: ``submissions.csv`` (the root table) and ``submissions.csv.zip``.

The ZIP holds the root CSV, one CSV per repeat and, unless ``attachments=false``, ``media/`` with every
present attachment of the exported submissions. It is written by ``stream-zip`` member by member while
the database is read in one snapshot and one pass: each submission is walked once for every table, the
root CSV streams into the archive while the repeat CSVs wait in temporary spools of bounded memory (then
disk) until their turn, so no table and not the archive is held in memory. A failure midway raises out
of the generator: the HTTP layer then ends the response without its final chunk, so the client sees a
broken download, never a short file (docs/exports.md 4).
"""

from __future__ import annotations

import csv
import io
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import IO

from sqlalchemy import Connection, Engine, select

from media.store import BlobStore
from sync.db.engine import read_snapshot
from sync.db.models import SubmissionAttachment
from sync.exports.flatten import Flattener
from sync.exports.source import ExportQuery, iter_rows
from sync.exports.stored import iter_tables
from sync.exports.tables import Options, RowFormat, headers, root_meta, submission_date

FLUSH_BYTES = 256 * 1024
# A repeat table waits in memory up to this size while the root CSV streams, then on disk. Small on purpose:
# a spool that only large exports fill (it was 16 MiB) makes the peak memory grow with the rows.
SPOOL_BYTES = 1024 * 1024
# Level 1 deflate: CSV text still shrinks about fivefold, at a fraction of the CPU of level 6.
ZIP_LEVEL = 1


class _TableWriter:
    """CSV rows of one table into a text buffer, handed on as UTF-8 chunks of about 256 KiB."""

    def __init__(self, header: list[str]) -> None:
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer, lineterminator="\n")
        self.writer.writerow(header)

    def full(self) -> bool:
        return self.buffer.tell() >= FLUSH_BYTES

    def take(self) -> bytes:
        data = self.buffer.getvalue().encode("utf-8")
        self.buffer.seek(0)
        self.buffer.truncate()
        return data


def _tables_csv(
    connection: Connection,
    query: ExportQuery,
    options: Options,
    spools: list[IO[bytes]] | None,
) -> Iterator[bytes]:
    """The root table as CSV chunks, with every repeat table written to its spool in the same pass.

    Each submission's stored rows are read, or it is parsed and walked once (`Flattener`), for all
    tables; ``spools`` (one per repeat
    table, in `FormSchema.tables()` order) is None for the root table alone.
    """
    tables = query.schema.tables()
    count = len(tables) if spools is not None else 1
    flattener = Flattener(query.schema, None if spools is not None else [()])
    formats = [RowFormat(table, options) for table in tables[:count]]
    writers = [_TableWriter(headers(table, options)) for table in tables[:count]]
    root_writer, root_format = writers[0], formats[0]
    for row, flat in iter_tables(connection, query, flattener):
        root_values = flat[0][0][0]
        root_writer.writer.writerow([submission_date(row), *root_format.values(root_values), *root_meta(row)])
        for index in range(1, count):
            writer, fmt = writers[index], formats[index]
            for values, parent_key, key in flat[index]:
                writer.writer.writerow([*fmt.values(values), parent_key, key])
            if writer.full():
                spools[index - 1].write(writer.take())
        if root_writer.full():
            yield root_writer.take()
    for index in range(1, count):
        spools[index - 1].write(writers[index].take())
    tail = root_writer.take()
    if tail:
        yield tail


def _spooled(spool: IO[bytes]) -> Iterator[bytes]:
    spool.seek(0)
    while chunk := spool.read(FLUSH_BYTES):
        yield chunk
    spool.close()


def root_csv(engine: Engine, query: ExportQuery, options: Options) -> Iterator[bytes]:
    """``submissions.csv``: the root table alone."""
    with read_snapshot(engine) as connection:
        yield from _tables_csv(connection, query, options, None)


def csv_zip(
    engine: Engine,
    query: ExportQuery,
    file_names: dict[tuple[str, ...], str],
    options: Options,
    *,
    store: BlobStore | None,
) -> Iterator[bytes]:
    """``submissions.csv.zip``: every table, then the media files when ``store`` is given."""
    from stream_zip import stream_zip  # with asyncio and pycryptodome: 14 MiB the server needs only here

    with read_snapshot(engine) as connection, ExitStack() as spools:
        members = _members(connection, query, file_names, options, store, spools)
        yield from stream_zip(members, get_compressobj=_deflate)


def _deflate() -> zlib._Compress:
    return zlib.compressobj(wbits=-zlib.MAX_WBITS, level=ZIP_LEVEL)


def _members(
    connection: Connection,
    query: ExportQuery,
    file_names: dict[tuple[str, ...], str],
    options: Options,
    store: BlobStore | None,
    stack: ExitStack,
) -> Iterator[tuple[str, datetime, int, object, Iterable[bytes]]]:
    """The root CSV streamed while the repeat CSVs fill temporary spools (memory up to `SPOOL_BYTES`
    each, then disk, removed on close), then each repeat CSV from its spool, then the media."""
    from stream_zip import ZIP_64

    now = datetime.now(UTC)
    tables = query.schema.tables()
    spools: list[IO[bytes]] = [
        # the ExitStack closes (and so removes) every spool when the download ends or fails
        stack.enter_context(tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, mode="w+b"))  # noqa: SIM115
        for _ in tables[1:]
    ]
    yield file_names[()], now, 0o600, ZIP_64, _tables_csv(connection, query, options, spools)
    for table, spool in zip(tables[1:], spools, strict=True):
        yield file_names[table.path], now, 0o600, ZIP_64, _spooled(spool)
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

    for row, _root in iter_rows(connection, query, parse=False):
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
