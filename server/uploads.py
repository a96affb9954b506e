"""Read a multipart upload part by part, spooling files to disk and hashing them, within a fixed memory budget.

Collect's POST is one XML part, at most 101 attachments and ``*isIncomplete*`` (docs/architecture.md, "Limits at
the door"). Werkzeug's own form parser keeps every text field whole in memory (up to a limit per field, for as
many fields as the body holds) and every small file part in memory, so a hostile body of many parts held
hundreds of megabytes. Here the parts are read with Werkzeug's sans-IO multipart decoder and:

- file parts become :class:`HashingSpool` objects: in memory while small and while the request's memory
  budget lasts, else a named file in the data dir's tmp folder, whose descriptor is closed as soon as the
  part ends (a thousand parts must not hold a thousand open files);
- text fields may add up to ``MAX_TEXT_BYTES`` together;
- more than ``MAX_PARTS`` parts, or headers that never end, are refused with what was wrong.

The sha256 and md5 are computed as the bytes arrive, so the blob store never re-reads a file to learn its
key, and a spooled file on the same filesystem can be renamed into the local store instead of copied.

Werkzeug's decoder compiles two regular expressions for every boundary, and okhttp (Collect) writes a new
random boundary per request, so each submission paid for two compilations (7 % of a submission's CPU in
the profile, docs/performance.md "Ingestion"). :class:`_Decoder` finds the boundary with ``bytes.find`` and
checks what must come before and after it with patterns compiled once; it accepts exactly what Werkzeug's
patterns accept (tests/protocol/test_uploads.py compares the two on generated bodies).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from pathlib import Path
from typing import IO, Any

from flask import Request
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData, State

from sync.errors import NotMultipart, TooLarge

SPOOL_THRESHOLD = 256 * 1024  # one part stays in memory up to this size ...
REQUEST_MEMORY = 1024 * 1024  # ... while all the request's parts in memory stay under this
MAX_PARTS = 1000
MAX_TEXT_BYTES = 64 * 1024
MAX_HEADER_BYTES = 64 * 1024  # a part's headers, or the preamble before the first boundary
CHUNK = 64 * 1024


class MemoryBudget:
    """Bytes the spools of one request may still keep in memory."""

    def __init__(self, remaining: int = REQUEST_MEMORY) -> None:
        self.remaining = remaining


class HashingSpool(io.RawIOBase):
    def __init__(self, tmp_dir: Path, budget: MemoryBudget | None = None, threshold: int = SPOOL_THRESHOLD) -> None:
        super().__init__()
        self._tmp_dir = tmp_dir
        self._budget = budget or MemoryBudget()
        self._threshold = threshold
        self._memory: io.BytesIO | None = io.BytesIO()
        self._file: IO[bytes] | None = None
        self.path: Path | None = None
        self.sha256 = hashlib.sha256()
        self.md5 = hashlib.md5()
        self.size = 0

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        data = bytes(data)
        self.sha256.update(data)
        self.md5.update(data)
        self.size += len(data)
        if self._memory is not None:
            if self._memory.tell() + len(data) > self._threshold or len(data) > self._budget.remaining:
                self._roll_over()
            else:
                self._budget.remaining -= len(data)
        target = self._memory if self._memory is not None else self._file
        assert target is not None
        target.write(data)
        return len(data)

    def _roll_over(self) -> None:
        assert self._memory is not None
        self._tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="upload-", dir=self._tmp_dir)
        self._file = os.fdopen(fd, "w+b")
        self.path = Path(name)
        self._file.write(self._memory.getbuffer())
        self._budget.remaining += self._memory.tell()
        self._memory = None

    def seal(self) -> None:
        """The part has ended: rewind, closing a spooled file's descriptor (reading opens it again)."""
        if self._memory is not None:
            self._memory.seek(0)
        if self._file is not None:
            self._file.close()
            self._file = None

    def _reader(self) -> IO[bytes]:
        if self._memory is not None:
            return self._memory
        if self._file is None:
            assert self.path is not None
            self._file = open(self.path, "rb")  # noqa: SIM115 - closed by seal, close or discard
        return self._file

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._reader().seek(offset, whence)

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        return self._reader().read(size)

    def getvalue(self) -> bytes | None:
        """The bytes when they stayed in memory; None once spooled to disk (read ``path`` instead)."""
        return self._memory.getvalue() if self._memory is not None else None

    def close(self) -> None:
        self.seal()
        super().close()

    def discard(self) -> None:
        """Remove the spooled file if the store did not take it over."""
        self.close()
        if self.path is not None and self.path.exists():
            self.path.unlink()


# What may follow ``--boundary`` (group 1): the closing ``--``, or the end of the line; horizontal white space
# allowed before it. Werkzeug's patterns, without the boundary (werkzeug/sansio/multipart.py).
_AFTER_BOUNDARY = re.compile(rb"(--[^\S\n\r]*(?:\r\n|\n|\r)?|[^\S\n\r]*(?:\r\n|\n|\r))")


class _BoundaryMatch:
    """The parts of an ``re.Match`` the decoder reads."""

    __slots__ = ("_end", "_start", "_tail")

    def __init__(self, start: int, end: int, tail: bytes) -> None:
        self._start, self._end, self._tail = start, end, tail

    def start(self) -> int:
        return self._start

    def end(self) -> int:
        return self._end

    def group(self, _index: int) -> bytes:
        return self._tail


class _BoundaryPattern:
    """``re.compile(LINE_BREAK + b"--" + re.escape(boundary) + tail)``'s ``search``, with nothing compiled per
    boundary. The line break before the delimiter is optional before the first boundary (the preamble)."""

    def __init__(self, boundary: bytes, *, line_break_optional: bool) -> None:
        self._delimiter = b"--" + boundary
        self._optional = line_break_optional

    def search(self, buffer: bytes | bytearray, pos: int = 0) -> _BoundaryMatch | None:
        find_from = pos
        while (at := buffer.find(self._delimiter, find_from)) >= 0:
            find_from = at + 1
            if at - 2 >= pos and buffer[at - 2 : at] == b"\r\n":
                start = at - 2
            elif at - 1 >= pos and buffer[at - 1] in (10, 13):  # \n or \r alone
                start = at - 1
            elif self._optional:
                start = at
            else:
                continue
            tail = _AFTER_BOUNDARY.match(buffer, at + len(self._delimiter))
            if tail is not None:
                return _BoundaryMatch(start, tail.end(), tail.group(1))
        return None


class _Decoder(MultipartDecoder):
    """Werkzeug's decoder with its two per-boundary patterns replaced by :class:`_BoundaryPattern`."""

    def __init__(self, boundary: bytes, max_form_memory_size: int | None = None) -> None:
        # MultipartDecoder.__init__'s attributes, without its two re.compile calls.
        self.buffer = bytearray()
        self.complete = False
        self.max_form_memory_size = max_form_memory_size
        self.max_parts = None
        self.state = State.PREAMBLE
        self.boundary = boundary
        self.preamble_re = _BoundaryPattern(boundary, line_break_optional=True)
        self.boundary_re = _BoundaryPattern(boundary, line_break_optional=False)
        self._search_position = 0
        self._parts_decoded = 0


class _BoundedFormDataParser(FormDataParser):
    def _parse_multipart(
        self, stream: IO[bytes], mimetype: str, content_length: int | None, options: dict[str, str]
    ) -> tuple[IO[bytes], MultiDict, MultiDict]:
        boundary = options.get("boundary", "").encode("latin-1")
        if not boundary:
            raise ValueError("Missing boundary")
        fields, files = _read_parts(stream, boundary, self.stream_factory, content_length)
        return stream, self.cls(fields), self.cls(files)


def _read_parts(
    stream: IO[bytes], boundary: bytes, stream_factory: Any, content_length: int | None
) -> tuple[list[tuple[str, str]], list[tuple[str, FileStorage]]]:
    """Werkzeug's decoder, driven with this module's limits (see the module docstring)."""
    decoder = _Decoder(boundary, max_form_memory_size=CHUNK + MAX_HEADER_BYTES)
    fields: list[tuple[str, str]] = []
    files: list[tuple[str, FileStorage]] = []
    part: Field | File | None = None
    text = bytearray()
    spool: Any = None
    parts = text_bytes = 0
    while True:
        chunk = stream.read(CHUNK)
        try:
            decoder.receive_data(chunk or None)
        except RequestEntityTooLarge:
            raise NotMultipart(
                f"The multipart body is malformed: no boundary or end of part headers within {MAX_HEADER_BYTES:,} "
                "bytes. Nothing was saved."
            ) from None
        event = decoder.next_event()
        while not isinstance(event, NeedData):
            if isinstance(event, Epilogue):
                return fields, files  # whatever follows the closing boundary is ignored
            if isinstance(event, (Field, File)):
                parts += 1
                if parts > MAX_PARTS:
                    raise TooLarge(
                        f"The submission has more than {MAX_PARTS:,} multipart parts (Collect sends at most 103: "
                        "the XML, 101 files and *isIncomplete*). Nothing was saved."
                    )
                part, text = event, bytearray()
                spool = None
                if isinstance(event, File):
                    spool = stream_factory(
                        total_content_length=content_length,
                        filename=event.filename,
                        content_type=event.headers.get("content-type"),
                    )
            elif isinstance(event, Data):
                if spool is None:
                    text_bytes += len(event.data)
                    if text_bytes > MAX_TEXT_BYTES:
                        raise TooLarge(
                            f"The submission's text fields add up to more than {MAX_TEXT_BYTES:,} bytes (Collect "
                            "sends only *isIncomplete*; the XML and files are file parts). Nothing was saved."
                        )
                    text += event.data
                else:
                    spool.write(event.data)
                if not event.more_data and part is not None:
                    if spool is None:
                        fields.append((part.name, text.decode("utf-8", "replace")))
                    else:
                        spool.seal()
                        files.append((part.name, FileStorage(spool, part.filename, part.name, headers=part.headers)))
            event = decoder.next_event()
        if not chunk:
            return fields, files


class SpoolingRequest(Request):
    """Flask request whose file parts are :class:`HashingSpool` objects in the app's tmp folder."""

    form_data_parser_class = _BoundedFormDataParser

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):  # noqa: ANN001
        tmp_dir = Path(self.environ.get("qingling.tmp_dir") or tempfile.gettempdir())
        budget = self.environ.setdefault("qingling.memory_budget", MemoryBudget())
        spool = HashingSpool(tmp_dir, budget)
        self.environ.setdefault("qingling.spools", []).append(spool)
        return spool
