"""Requests as ODK Collect makes them (docs/protocol.md §2, 7.3, 7.4), byte for byte where it matters.

Multipart bodies are written by hand the way okhttp 5 writes them: a UUID boundary, the XML part first
with ``Content-Type: text/xml``, each attachment with field name = file name, no per-part length, and
``*isIncomplete*`` (no filename, no type) on every POST of a split submission except the last.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

COLLECT_HEADERS = {
    "X-OpenRosa-Version": "1.0",
    "User-Agent": "org.odk.collect.android/v2025.3.0 Dalvik/2.1.0 (Linux; U; Android 14; Pixel 7)",
    # 12-hour clock without AM/PM, as Collect really sends it; the server must ignore it.
    "Date": "Tue, 05 Mar 2024 02:05:09 GMT",
    "Accept-Encoding": "gzip",
}
DEVICE_ID = "collect:AbCdEf0123456789"


@dataclass
class Part:
    name: str
    data: bytes
    content_type: str | None = "application/octet-stream"
    filename: str | None = None


@dataclass
class Multipart:
    parts: list[Part] = field(default_factory=list)
    boundary: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def body(self) -> bytes:
        out = bytearray()
        for part in self.parts:
            out += f"--{self.boundary}\r\n".encode()
            disposition = f'Content-Disposition: form-data; name="{_quote(part.name)}"'
            if part.filename is not None:
                disposition += f'; filename="{_quote(part.filename)}"'
            out += disposition.encode("utf-8") + b"\r\n"
            if part.content_type:
                out += f"Content-Type: {part.content_type}\r\n".encode()
            out += b"\r\n" + part.data + b"\r\n"
        out += f"--{self.boundary}--\r\n".encode()
        return bytes(out)


def _quote(value: str) -> str:
    return value.replace("\n", "%0A").replace("\r", "%0D").replace('"', "%22")


def submission_body(
    xml: bytes,
    files: dict[str, bytes] | None = None,
    *,
    incomplete: bool = False,
    instance_file: str = "form_2024-03-05_14-05-09.xml",
) -> Multipart:
    multipart = Multipart()
    multipart.parts.append(Part("xml_submission_file", xml, "text/xml", instance_file))
    for name, data in (files or {}).items():
        kind = "image/jpeg" if name.lower().endswith((".jpg", ".jpeg")) else "application/octet-stream"
        multipart.parts.append(Part(name, data, kind, name))
    if incomplete:
        multipart.parts.append(Part("*isIncomplete*", b"yes", None, None))
    return multipart


def split_posts(xml: bytes, files: dict[str, bytes], limit: int) -> list[Multipart]:
    """Collect's splitting rule (docs/protocol.md §7.4): fill each POST until the next file would pass ``limit``."""
    posts: list[Multipart] = []
    names = list(files)
    current: dict[str, bytes] = {}
    count = len(xml)
    for index, name in enumerate(names):
        current[name] = files[name]
        count += len(files[name])
        remaining = names[index + 1 :]
        if remaining and (len(current) > 100 or count + len(files[remaining[0]]) > limit):
            posts.append(submission_body(xml, current, incomplete=True))
            current, count = {}, len(xml)
    posts.append(submission_body(xml, current))
    return posts


def instance_xml(
    form_id: str,
    version: str,
    instance_id: str,
    fields: dict[str, str],
    *,
    deprecated_id: str | None = None,
    root: str = "data",
) -> bytes:
    """A submission instance as Collect writes it (root with id/version, meta/instanceID last)."""
    from xml.sax.saxutils import escape

    body = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in fields.items())
    meta = f"<orx:instanceID>{instance_id}</orx:instanceID>"
    if deprecated_id:
        meta = f"<orx:deprecatedID>{deprecated_id}</orx:deprecatedID>" + meta
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><{root} xmlns:jr="http://openrosa.org/javarosa" '
        f'xmlns:orx="http://openrosa.org/xforms" id="{form_id}" version="{version}">'
        f"{body}<orx:meta>{meta}</orx:meta></{root}>"
    ).encode()
