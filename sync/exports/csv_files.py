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
from array import array
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import IO

from sqlalchemy import Connection, Engine, select

from media.store import BlobStore
from sync.db.engine import read_snapshot
from sync.db.models import SubmissionAttachment
from sync.exports.flatten import FlatRow, Flattener
from sync.exports.plan import FormSchema
from sync.exports.source import ExportQuery
from sync.exports.stored import iter_copies
from sync.exports.tables import Options, RowFormat, headers, root_meta, submission_date

FLUSH_BYTES = 256 * 1024
# A repeat table waits in memory up to this size while the root CSV streams, then on disk. Small on purpose:
# a spool that only large exports fill (it was 16 MiB) makes the peak memory grow with the rows.
SPOOL_BYTES = 1024 * 1024
# Level 1 deflate: CSV text still shrinks about fivefold, at a fraction of the CPU of level 6.
ZIP_LEVEL = 1


class _TableWriter:
    """CSV rows of one table into a text buffer, handed on as UTF-8 chunks of about 256 KiB."""

    def __init__(self, header: list[str] | None) -> None:
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer, lineterminator="\n")
        if header is not None:
            self.writer.writerow(header)

    def full(self) -> bool:
        return self.buffer.tell() >= FLUSH_BYTES

    def take_text(self) -> str:
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return text

    def take(self) -> bytes:
        return self.take_text().encode("utf-8")


class _VersionIds:
    """Version ids noted during the tables' pass and read back in batches by the media pass, so the
    media need no second pass over the export query (that pass was a sixth of a CSV ZIP's CPU). They
    wait in a spool of bounded memory (then disk), as the repeat tables do."""

    BATCH = 500

    def __init__(self, spool: IO[bytes]) -> None:
        self.spool = spool
        self.pending = array("q")

    def add(self, version_id: int) -> None:
        self.pending.append(version_id)
        if len(self.pending) >= self.BATCH:
            self.spool.write(self.pending.tobytes())
            del self.pending[:]

    def batches(self) -> Iterator[list[int]]:
        self.spool.seek(0)
        while chunk := self.spool.read(self.BATCH * self.pending.itemsize):
            yield array("q", chunk).tolist()
        if self.pending:
            yield self.pending.tolist()


class PlainCsv:
    """A submission's CSV text as every CSV export without ``splitSelectMultiples`` writes it
    (``groupPaths`` changes only the headers): the root row's data fields, and each repeat table's
    whole lines. Stored with the copy of each version (`sync.exports.copies`), so an export of the
    form's current version writes those texts instead of a field at a time."""

    def __init__(self, schema: FormSchema) -> None:
        self.formats = [RowFormat(table, Options()) for table in schema.tables()]

    def __call__(self, tables: list[list[FlatRow]]) -> list[str]:
        writer = _TableWriter(None)  # one per call: ingestion's threads share this object
        fields = self.formats[0].values(tables[0][0][0])
        if fields:  # with a last empty field, so a lone empty field is not written '""' as a row of one
            writer.writer.writerow([*fields, ""])
            texts = [writer.take_text()[:-2]]  # without that field's comma and the line's end
        else:
            texts = [""]
        for fmt, rows in zip(self.formats[1:], tables[1:], strict=True):
            for values, parent_key, key in rows:
                writer.writer.writerow([*fmt.values(values), parent_key, key])
            texts.append(writer.take_text())
        return texts


def _tables_csv(
    connection: Connection,
    query: ExportQuery,
    options: Options,
    spools: list[IO[bytes]] | None,
    with_media: _VersionIds | None = None,
) -> Iterator[bytes]:
    """The root table as CSV chunks, with every repeat table written to its spool in the same pass.

    Each submission's stored rows are read, or it is parsed and walked once (`Flattener`), for all
    tables; ``spools`` (one per repeat table, in `FormSchema.tables()` order) is None for the root table
    alone. ``with_media`` notes the versions that have attachments present, for the media pass.
    """
    tables = query.schema.tables()
    count = len(tables) if spools is not None else 1
    flattener = Flattener(query.schema, None if spools is not None else [()])
    formats = [RowFormat(table, options) for table in tables[:count]]
    writers = [_TableWriter(headers(table, options)) for table in tables[:count]]
    root_writer, root_format = writers[0], formats[0]
    root_columns = bool(root_format.columns)
    stored_texts = not options.split_select_multiples  # what the copies' `PlainCsv` texts are written for
    for row, flat, texts in iter_copies(connection, query, flattener, texts=stored_texts):
        if with_media is not None and row.attachments_present:
            with_media.add(row.version_id)
        if texts is not None:
            found = texts.csv(count)
            # the date never needs quoting; the metadata fields are written (and quoted) by the writer
            root_writer.buffer.write(submission_date(row) + ("," + found[0] + "," if root_columns else ","))
            root_writer.writer.writerow(root_meta(row))
            for index in range(1, count):
                writers[index].buffer.write(found[index])
        else:
            root_values = flat[0][0][0]
            root_writer.writer.writerow([submission_date(row), *root_format.values(root_values), *root_meta(row)])
            for index in range(1, count):
                writer, fmt = writers[index], formats[index]
                for values, parent_key, key in flat[index]:
                    writer.writer.writerow([*fmt.values(values), parent_key, key])
        for index in range(1, count):
            if writers[index].full():
                spools[index - 1].write(writers[index].take())
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
    with_media = None
    if store is not None:
        with_media = _VersionIds(stack.enter_context(tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)))  # noqa: SIM115
    yield file_names[()], now, 0o600, ZIP_64, _tables_csv(connection, query, options, spools, with_media)
    for table, spool in zip(tables[1:], spools, strict=True):
        yield file_names[table.path], now, 0o600, ZIP_64, _spooled(spool)
    if with_media is not None:
        for name, opener in _media(connection, with_media, store):
            yield f"media/{name}", now, 0o600, ZIP_64, opener()


def _media(
    connection: Connection, versions: _VersionIds, store: BlobStore
) -> Iterator[tuple[str, Callable[[], Iterator[bytes]]]]:
    """Present attachments of the exported submissions' versions, newest submission first, each name once
    (Central's ``media/`` folder)."""
    seen: set[str] = set()
    for batch in versions.batches():
        place = {version_id: number for number, version_id in enumerate(batch)}
        rows = connection.execute(
            select(SubmissionAttachment.submission_version_id, SubmissionAttachment.name, SubmissionAttachment.blob_key)
            .where(SubmissionAttachment.submission_version_id.in_(batch), SubmissionAttachment.present.is_(True))
            .order_by(SubmissionAttachment.id)
        ).all()
        rows.sort(key=lambda found: place[found[0]])  # the export's order; a version's own files as sent
        for _version, name, key in rows:
            if name in seen or not key:
                continue
            seen.add(name)
            yield name, (lambda key=key: _blob_chunks(store, key))


def _blob_chunks(store: BlobStore, key: str) -> Iterator[bytes]:
    handle = store.open(key)
    try:
        while chunk := handle.read(FLUSH_BYTES):
            yield chunk
    finally:
        handle.close()
